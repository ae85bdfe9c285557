// SPDX-License-Identifier: MIT
// Thread pools (ThreadPool, ThreadPoolExecutor): the shared Pool and futures
// behaviours of pool_cases.h with worker threads.  Also runs under TSan.
#include "pool_cases.h"

POOL_CASES(pool_thread, SHOAL_POOL_THREAD)

SH_TEST(pool_thread, workers_are_threads)
{
  shared_setup();
  shoal_pool *p = pool_new(SHOAL_POOL_THREAD, 3, NULL);
  SH_ASSERT_RC(shoal_pool_size(p), 3);
  int pids[4];
  SH_ASSERT_RC(shoal_pool_worker_pids(p, pids, 4), 0);
  shoal_future *f;
  SH_ASSERT_OK(shoal_pool_submit(p, t_whoami, NULL, 0, &f));
  SH_ASSERT_OK(shoal_future_result(f, NULL, NULL, SHOAL_SEC(10)));
  shoal_task_error e;
  SH_ASSERT_RC(shoal_future_item_error(f, 0, &e), 0);
  cr_assert_eq(e.pid, 0);
  shoal_future_destroy(f);
  shoal_pool_destroy(p);
}
