// SPDX-License-Identifier: MIT
// Process pools with the spawn start method: workers are fresh runs of this
// program that find their functions by the names SHOAL_POOL_TASK registered.
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

/* Criterion owns main(): enter spawn children from a constructor. */
SHOAL_SPAWN_MAIN_CONSTRUCTOR

static int parent_marker; /* set in the parent; a spawned worker starts fresh */
static int worker_marker;

static int sp_square(const void *arg, size_t len, shoal_task_out *out)
{
  (void)len;
  long v = *(const long *)arg, r = parent_marker ? -1 : v * v + worker_marker;
  return shoal_task_return(out, &r, sizeof r);
}
SHOAL_POOL_TASK(sp_square)

static int sp_init(const void *arg, size_t len)
{
  if (len != sizeof(int))
    return SHOAL_EINVAL;
  worker_marker = *(const int *)arg;
  return 0;
}
SHOAL_POOL_TASK(sp_init)

static int sp_kill_on_3(const void *arg, size_t len, shoal_task_out *out)
{
  (void)len;
  long v = *(const long *)arg;
  if (v == 3)
    raise(SIGKILL);
  return shoal_task_return(out, &v, sizeof v);
}
SHOAL_POOL_TASK(sp_kill_on_3)

static int not_registered(const void *arg, size_t len, shoal_task_out *out)
{
  (void)arg;
  (void)len;
  (void)out;
  return 0;
}

static int unregistered_init(const void *arg, size_t len)
{
  (void)arg;
  (void)len;
  return 0;
}

SH_TEST(pool_spawn, map_in_fresh_workers)
{
  parent_marker = 1;
  int add = 1000;
  shoal_pool *p;
  shoal_pool_opts o = {.start_method = SHOAL_START_SPAWN, .initializer = sp_init,
                       .initargs = &add, .initargs_len = sizeof add};
  SH_ASSERT_OK(shoal_pool_create(&p, 2, &o));
  long xs[100];
  for (long i = 0; i < 100; i++)
    xs[i] = i;
  shoal_future *f;
  SH_ASSERT_OK(shoal_pool_map(p, sp_square, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 100),
                              &(shoal_map_opts){.chunksize = 3}, &f, SHOAL_SEC(20)));
  for (size_t i = 0; i < 100; i++) {
    const void *b;
    SH_ASSERT_OK(shoal_future_item(f, i, &b, NULL));
    cr_assert_eq(*(const long *)b, (long)(i * i) + 1000);
  }
  shoal_future_destroy(f);
  SH_ASSERT_ERR(shoal_pool_submit(p, not_registered, NULL, 0, &f), SHOAL_ENOENT);
  SH_ASSERT_OK(shoal_pool_close(p));
  SH_ASSERT_OK(shoal_pool_join(p, SHOAL_SEC(10)));
  shoal_pool_destroy(p);
}

SH_TEST(pool_spawn, worker_death)
{
  shoal_process_set_reporting(0);
  shoal_pool *p;
  SH_ASSERT_OK(shoal_pool_create(&p, 2, &(shoal_pool_opts){.start_method = SHOAL_START_SPAWN}));
  long xs[10];
  for (long i = 0; i < 10; i++)
    xs[i] = i;
  shoal_future *f;
  SH_ASSERT_ERR(shoal_pool_map(p, sp_kill_on_3, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 10),
                               &(shoal_map_opts){.chunksize = 10}, &f, SHOAL_SEC(20)),
                SHOAL_EWORKERDIED);
  SH_ASSERT_RC(shoal_future_failed(f), 1);
  const void *b;
  SH_ASSERT_OK(shoal_future_item(f, 9, &b, NULL));
  cr_assert_eq(*(const long *)b, 9);
  shoal_future_destroy(f);
  shoal_pool_destroy(p);
}

SH_TEST(pool_spawn, initializer_must_be_registered)
{
  shoal_pool *p;
  SH_ASSERT_ERR(shoal_pool_create(&p, 1, &(shoal_pool_opts){.start_method = SHOAL_START_SPAWN,
                                                            .initializer = unregistered_init}),
                SHOAL_ENOENT);
}

SH_TEST(pool_spawn, registration)
{
  static struct shoal_pool_entry e = {"sp_square", (void (*)(void))not_registered, NULL};
  SH_ASSERT_ERR(shoal_pool_register(&e), SHOAL_EEXIST);
  static struct shoal_pool_entry bad = {NULL, NULL, NULL};
  SH_ASSERT_ERR(shoal_pool_register(&bad), SHOAL_EINVAL);
}
