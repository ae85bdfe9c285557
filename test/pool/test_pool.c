// SPDX-License-Identifier: MIT
// Process pools (multiprocessing.Pool, ProcessPoolExecutor): the shared Pool
// and futures behaviours of pool_cases.h with forked workers, then what only
// processes do — die.  A worker killed by SIGKILL or SIGSEGV mid-task, or
// that exits, fails only that task; the pool goes on with a new worker.
#include <signal.h>

#include "pool_cases.h"

POOL_CASES(pool_proc, SHOAL_POOL_PROCESS)

/* Dies by `sig` (or exits with -sig when sig < 0) on the item equal to
 * `victim`; other items return their square. */
struct killer {
  long value;
  long victim;
  int sig;
};

static int t_killer(const void *arg, size_t len, shoal_task_out *out)
{
  (void)len;
  const struct killer *k = arg;
  if (k->value == k->victim) {
    if (k->sig > 0) {
      signal(k->sig, SIG_DFL); /* the sanitizers catch SIGSEGV */
      raise(k->sig);
    }
    _exit(-k->sig);
  }
  long r = k->value * k->value;
  return shoal_task_return(out, &r, sizeof r);
}

static void death_case(int sig, size_t chunksize)
{
  shared_setup();
  shoal_process_set_reporting(0);
  shoal_pool *p = pool_new(SHOAL_POOL_PROCESS, 2, NULL);
  int before[2];
  SH_ASSERT_RC(shoal_pool_worker_pids(p, before, 2), 2);
  enum { N = 60 };
  struct killer ks[N];
  for (long i = 0; i < N; i++)
    ks[i] = (struct killer){i, 17, sig};
  shoal_future *f;
  SH_ASSERT_ERR(shoal_pool_map(p, t_killer, SHOAL_ITEMS_ARRAY(ks, sizeof *ks, N),
                               &(shoal_map_opts){.chunksize = chunksize}, &f, SHOAL_SEC(20)),
                SHOAL_EWORKERDIED);
  SH_ASSERT_RC(shoal_future_failed(f), 1);
  for (size_t i = 0; i < N; i++) {
    if (i == 17) {
      shoal_task_error e;
      SH_ASSERT_RC(shoal_future_item_error(f, i, &e), 1);
      cr_assert_eq(e.code, SHOAL_EWORKERDIED);
      if (sig > 0) {
        cr_assert_eq(e.signal, sig);
      } else {
        cr_assert_eq(e.signal, 0);
        cr_assert_eq(e.exitcode, -sig);
      }
      cr_assert(e.pid == before[0] || e.pid == before[1], "the worker that ran it");
      cr_assert(strstr(e.message, "while running this task"), "%s", e.message);
    } else {
      cr_assert_eq(item_long(f, i), (long)(i * i), "item %zu", i);
    }
  }
  shoal_future_destroy(f);
  /* The pool goes on with a new worker in place of the dead one. */
  int after[2];
  SH_ASSERT_RC(shoal_pool_worker_pids(p, after, 2), 2);
  cr_assert(after[0] != before[0] || after[1] != before[1], "a replacement worker");
  long v = 6;
  void *res;
  size_t len;
  SH_ASSERT_OK(shoal_pool_apply(p, t_square, &v, sizeof v, &res, &len, NULL, SHOAL_SEC(10)));
  cr_assert_eq(*(long *)res, 36);
  shoal_free(res);
  SH_ASSERT_OK(shoal_pool_close(p));
  SH_ASSERT_OK(shoal_pool_join(p, SHOAL_SEC(10)));
  shoal_pool_destroy(p);
}

SH_TEST(pool_proc, sigkill_mid_task_chunk1) { death_case(SIGKILL, 1); }
SH_TEST(pool_proc, sigkill_mid_task_chunk10) { death_case(SIGKILL, 10); }
SH_TEST(pool_proc, sigsegv_mid_task) { death_case(SIGSEGV, 7); }
SH_TEST(pool_proc, exit_mid_task) { death_case(-3, 60); }

/* A worker killed from outside while it runs a long task. */
SH_TEST(pool_proc, killed_from_outside)
{
  shared_setup();
  shoal_process_set_reporting(0);
  shoal_pool *p = pool_new(SHOAL_POOL_PROCESS, 2, NULL);
  shoal_future *blocked, *others[20];
  SH_ASSERT_OK(shoal_pool_submit(p, t_block, NULL, 0, &blocked));
  while (atomic_load(&sh->running) < 1)
    sh_sleep_ms(1);
  shoal_task_error e;
  int pids[2];
  SH_ASSERT_RC(shoal_pool_worker_pids(p, pids, 2), 2);
  /* Which one runs it: the one whose kill fails the future. */
  long ms = 1;
  for (int i = 0; i < 20; i++)
    SH_ASSERT_OK(shoal_pool_submit(p, t_sleep_ms, &ms, sizeof ms, &others[i]));
  for (int k = 0; k < 2 && !shoal_future_done(blocked); k++) {
    kill(pids[k], SIGKILL);
    sh_sleep_ms(300);
  }
  SH_ASSERT_ERR(shoal_future_result(blocked, NULL, NULL, SHOAL_SEC(10)), SHOAL_EWORKERDIED);
  SH_ASSERT_RC(shoal_future_exception(blocked, &e, 0), 1);
  cr_assert_eq(e.signal, SIGKILL);
  SH_ASSERT_RC(shoal_futures_wait(others, 20, SHOAL_ALL_COMPLETED, SHOAL_SEC(20)), 20);
  for (int i = 0; i < 20; i++) {
    int rc = shoal_future_result(others[i], NULL, NULL, 0);
    /* Only a task that was running in a killed worker may fail. */
    cr_assert(rc == 0 || rc == SHOAL_EWORKERDIED, "%s", shoal_err_name(rc));
    shoal_future_destroy(others[i]);
  }
  shoal_future_destroy(blocked);
  SH_ASSERT_RC(shoal_pool_worker_pids(p, pids, 2), 2);
  shoal_pool_destroy(p);
}

/* Many deaths in a row: every surviving item is right, nothing hangs. */
static int t_flaky(const void *arg, size_t len, shoal_task_out *out)
{
  (void)len;
  long v = *(const long *)arg;
  if (v % 25 == 3)
    raise(SIGKILL);
  return shoal_task_return(out, &v, sizeof v);
}

SH_TEST(pool_proc, repeated_deaths)
{
  shared_setup();
  shoal_process_set_reporting(0);
  shoal_pool *p = pool_new(SHOAL_POOL_PROCESS, 2, NULL);
  long *xs = range(500);
  shoal_pool_iter *it;
  SH_ASSERT_OK(shoal_pool_imap(p, t_flaky, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 500),
                               &(shoal_map_opts){.chunksize = 9}, &it));
  int rc;
  size_t idx, n = 0, died = 0;
  const void *b;
  while ((rc = shoal_pool_iter_next(it, &idx, &b, NULL, SHOAL_SEC(20))) != SHOAL_EEOF) {
    cr_assert_eq(idx, n, "in order");
    if (idx % 25 == 3) {
      SH_ASSERT_ERR(rc, SHOAL_EWORKERDIED);
      died++;
    } else {
      SH_ASSERT_OK(rc);
      cr_assert_eq(*(const long *)b, (long)idx);
    }
    n++;
  }
  cr_assert_eq(n, 500);
  cr_assert_eq(died, 20);
  shoal_pool_iter_destroy(it);
  free(xs);
  shoal_pool_destroy(p);
}

SH_TEST(pool_proc, many_workers)
{
  shared_setup();
  shoal_pool *p = pool_new(SHOAL_POOL_PROCESS, 64, NULL);
  int pids[64];
  SH_ASSERT_RC(shoal_pool_worker_pids(p, pids, 64), 64);
  long *xs = range(640);
  shoal_future *f;
  SH_ASSERT_OK(shoal_pool_map(p, t_square, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 640), NULL, &f,
                              SHOAL_SEC(20)));
  cr_assert_eq(item_long(f, 639), 639L * 639);
  shoal_future_destroy(f);
  free(xs);
  shoal_pool_destroy(p);
}

SH_TEST(pool_proc, default_size_is_cpu_count)
{
  shoal_pool *p;
  SH_ASSERT_OK(shoal_pool_create(&p, SHOAL_POOL_CPU_COUNT, NULL));
  SH_ASSERT_RC(shoal_pool_size(p), shoal_cpu_count());
  shoal_pool_destroy(p);
}

static int fork_child_uses_pool(void *arg)
{
  shoal_pool *p = arg;
  shoal_future *f;
  return shoal_pool_submit(p, t_count, NULL, 0, &f) == SHOAL_EPERM ? 0 : 1;
}

SH_TEST(pool_proc, belongs_to_its_process)
{
  shared_setup();
  shoal_pool *p = pool_new(SHOAL_POOL_PROCESS, 1, NULL);
  cr_assert_eq(sh_wait(sh_fork(fork_child_uses_pool, p), 10000), 0);
  shoal_pool_destroy(p);
}
