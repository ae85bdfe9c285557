// SPDX-License-Identifier: MIT
// Condition: Python's _TestCondition — exact notify counts with waiters that
// are processes and threads, timeouts, wait_for, lock levels — plus bad input.
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "support.h"

static shoal_condition *cond;

struct counts {
  _Atomic int sleeping;
  _Atomic int woken;
  _Atomic int timed_out;
  _Atomic int value; /* for wait_for */
};
static struct counts *cnt;

static void setup_counts(void)
{
  cnt = mmap(NULL, sizeof *cnt, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(cnt != MAP_FAILED);
}

/* Python's f(): count as sleeping under the lock, wait, count as woken. */
static int waiter_body(shoal_duration t)
{
  if (shoal_condition_acquire(cond, SHOAL_FOREVER) != 0)
    return 1;
  cnt->sleeping++;
  int rc = shoal_condition_wait(cond, t);
  if (rc == 0)
    cnt->woken++;
  else if (rc == SHOAL_ETIMEDOUT)
    cnt->timed_out++;
  shoal_condition_release(cond);
  return rc == 0 || rc == SHOAL_ETIMEDOUT ? 0 : 2;
}

static int waiter_proc(void *arg)
{
  return waiter_body(*(shoal_duration *)arg);
}

static void *waiter_thread(void *arg)
{
  return (void *)(intptr_t)waiter_body(*(shoal_duration *)arg);
}

static void wait_for_count(_Atomic int *c, int want)
{
  uint64_t until = sh_now() + 10000000000u;
  while (*c < want) {
    cr_assert(sh_now() < until, "count stuck at %d, expected %d", (int)*c, want);
    sh_sleep_ms(2);
  }
}

static int notify(int n)
{
  SH_ASSERT_OK(shoal_condition_acquire(cond, SHOAL_FOREVER));
  int k = shoal_condition_notify(cond, n);
  SH_ASSERT_OK(shoal_condition_release(cond));
  return k;
}

static void check_stays(_Atomic int *c, int want)
{
  sh_sleep_ms(100);
  cr_assert_eq(*c, want, "count %d, expected %d", (int)*c, want);
}

SH_TEST(condition_mixed, notify_wakes_exactly_one_process_and_thread)
{
  shoal_duration forever = SHOAL_FOREVER;
  pthread_t t;
  setup_counts();
  SH_ASSERT_OK(shoal_condition_create(&cond, NULL, NULL));
  pid_t p = sh_fork(waiter_proc, &forever);
  pthread_create(&t, NULL, waiter_thread, &forever);
  wait_for_count(&cnt->sleeping, 2);
  check_stays(&cnt->woken, 0);
  SH_ASSERT_RC(notify(1), 1);
  wait_for_count(&cnt->woken, 1);
  check_stays(&cnt->woken, 1);
  SH_ASSERT_RC(notify(1), 1);
  wait_for_count(&cnt->woken, 2);
  SH_ASSERT_RC(notify(1), 0);
  check_stays(&cnt->woken, 2);
  cr_assert_eq(sh_wait(p, 10000), 0);
  pthread_join(t, NULL);
  shoal_condition_destroy(cond);
}

static void start_six(shoal_duration *t, pid_t *procs, pthread_t *threads)
{
  for (int i = 0; i < 3; i++)
    procs[i] = sh_fork(waiter_proc, t);
  for (int i = 0; i < 3; i++)
    pthread_create(&threads[i], NULL, waiter_thread, t);
}

static void join_six(pid_t *procs, pthread_t *threads)
{
  for (int i = 0; i < 3; i++)
    cr_assert_eq(sh_wait(procs[i], 10000), 0);
  for (int i = 0; i < 3; i++)
    pthread_join(threads[i], NULL);
}

SH_TEST(condition_mixed, timeouts_then_notify_all)
{
  shoal_duration short_t = SHOAL_MSEC(100), forever = SHOAL_FOREVER;
  pid_t procs[3];
  pthread_t threads[3];
  setup_counts();
  SH_ASSERT_OK(shoal_condition_create(&cond, NULL, NULL));
  start_six(&short_t, procs, threads);
  join_six(procs, threads);
  cr_assert_eq(cnt->timed_out, 6);
  cr_assert_eq(cnt->woken, 0);
  cnt->sleeping = 0;
  start_six(&forever, procs, threads);
  wait_for_count(&cnt->sleeping, 6);
  check_stays(&cnt->woken, 0);
  SH_ASSERT_RC(shoal_condition_acquire(cond, SHOAL_FOREVER), 0);
  SH_ASSERT_RC(shoal_condition_notify_all(cond), 6);
  SH_ASSERT_OK(shoal_condition_release(cond));
  wait_for_count(&cnt->woken, 6);
  join_six(procs, threads);
  SH_ASSERT_RC(notify(1), 0);
  shoal_condition_destroy(cond);
}

SH_TEST(condition_mixed, notify_n)
{
  shoal_duration forever = SHOAL_FOREVER;
  pid_t procs[3];
  pthread_t threads[3];
  setup_counts();
  SH_ASSERT_OK(shoal_condition_create(&cond, NULL, NULL));
  start_six(&forever, procs, threads);
  wait_for_count(&cnt->sleeping, 6);
  SH_ASSERT_RC(notify(2), 2);
  wait_for_count(&cnt->woken, 2);
  check_stays(&cnt->woken, 2);
  SH_ASSERT_RC(notify(4), 4);
  wait_for_count(&cnt->woken, 6);
  check_stays(&cnt->woken, 6);
  SH_ASSERT_RC(notify(3), 0);
  join_six(procs, threads);
  shoal_condition_destroy(cond);
}

SH_TEST(condition_threads, wait_timeouts_and_levels)
{
  shoal_rlock *rl;
  SH_ASSERT_OK(shoal_rlock_create(&rl));
  SH_ASSERT_OK(shoal_condition_create(&cond, NULL, rl));
  SH_ASSERT_ERR(shoal_condition_wait(cond, SHOAL_MSEC(10)), SHOAL_EPERM);
  SH_ASSERT_ERR(shoal_condition_notify(cond, 1), SHOAL_EPERM);
  SH_ASSERT_OK(shoal_condition_acquire(cond, SHOAL_FOREVER));
  SH_ASSERT_OK(shoal_rlock_acquire(rl, SHOAL_FOREVER)); /* two levels */
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_condition_wait(cond, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_condition_wait(cond, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_RC(shoal_rlock_count(rl), 2);
  SH_ASSERT_OK(shoal_condition_release(cond));
  SH_ASSERT_OK(shoal_condition_release(cond));
  SH_ASSERT_RC(shoal_rlock_is_owned(rl), 0);
  shoal_condition_destroy(cond);
  shoal_rlock_destroy(rl);
}

static int value_is_4(void *arg)
{
  (void)arg;
  return cnt->value == 4 ? 4 : 0;
}

static int child_bumps(void *arg)
{
  (void)arg;
  for (int i = 0; i < 4; i++) {
    sh_sleep_ms(10);
    shoal_condition_acquire(cond, SHOAL_FOREVER);
    cnt->value++;
    shoal_condition_notify(cond, 1);
    shoal_condition_release(cond);
  }
  return 0;
}

SH_TEST(condition_fork, wait_for_predicate_with_external_lock)
{
  shoal_lock *l;
  setup_counts();
  SH_ASSERT_OK(shoal_lock_create(&l));
  SH_ASSERT_OK(shoal_condition_create(&cond, l, NULL));
  SH_ASSERT_OK(shoal_condition_acquire(cond, SHOAL_FOREVER));
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_condition_wait_for(cond, value_is_4, NULL, SHOAL_MSEC(100)),
                SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_RC(shoal_lock_locked(l), 1);
  pid_t p = sh_fork(child_bumps, NULL);
  SH_ASSERT_RC(shoal_condition_wait_for(cond, value_is_4, NULL, SHOAL_SEC(10)), 4);
  SH_ASSERT_RC(shoal_lock_locked(l), 1);
  SH_ASSERT_OK(shoal_condition_release(cond));
  cr_assert_eq(sh_wait(p, 10000), 0);
  shoal_condition_destroy(cond);
  shoal_lock_destroy(l);
}

SH_TEST(condition_fork, killed_waiter_does_not_block_others)
{
  shoal_duration forever = SHOAL_FOREVER;
  setup_counts();
  SH_ASSERT_OK(shoal_condition_create(&cond, NULL, NULL));
  pid_t victim = sh_fork(waiter_proc, &forever);
  wait_for_count(&cnt->sleeping, 1);
  kill(victim, SIGKILL);
  sh_wait(victim, 5000);
  pid_t live = sh_fork(waiter_proc, &forever);
  wait_for_count(&cnt->sleeping, 2);
  /* The dead waiter is still counted: notify_all wakes the live one. */
  SH_ASSERT_OK(shoal_condition_acquire(cond, SHOAL_FOREVER));
  cr_assert(shoal_condition_notify_all(cond) >= 1);
  SH_ASSERT_OK(shoal_condition_release(cond));
  cr_assert_eq(sh_wait(live, 10000), 0);
  cr_assert_eq(cnt->woken, 1);
  shoal_condition_destroy(cond);
}

SH_TEST(condition_named, helper_waits_and_notifies)
{
  const char *name = sh_name("cond");
  char line[64];
  int fd;
  SH_ASSERT_OK(
      shoal_condition_open(&cond, name, NULL, NULL, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  pid_t pid = sh_helper(&fd, "cond-wait", name, "10000", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "waiting");
  /* "waiting" is printed under the lock; once we hold it, the helper waits. */
  SH_ASSERT_OK(shoal_condition_acquire(cond, SHOAL_FOREVER));
  SH_ASSERT_RC(shoal_condition_notify(cond, 1), 1);
  SH_ASSERT_OK(shoal_condition_release(cond));
  sh_read_line(fd, line, sizeof line, 10000);
  cr_assert_str_eq(line, "0");
  sh_wait(pid, 5000);
  close(fd);
  /* And the other way round: we wait, the helper notifies. */
  SH_ASSERT_OK(shoal_condition_acquire(cond, SHOAL_FOREVER));
  sh_helper(&fd, "cond-notify", name, "1", NULL);
  SH_ASSERT_OK(shoal_condition_wait(cond, SHOAL_SEC(10)));
  SH_ASSERT_OK(shoal_condition_release(cond));
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "1");
  close(fd);
  shoal_condition_close(cond);
}

SH_TEST(condition_bad, bad_input)
{
  shoal_lock *l;
  shoal_rlock *r;
  SH_ASSERT_OK(shoal_lock_create(&l));
  SH_ASSERT_OK(shoal_rlock_create(&r));
  SH_ASSERT_ERR(shoal_condition_create(NULL, NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_condition_create(&cond, l, r), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_condition_open(&cond, NULL, NULL, NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_condition_wait(NULL, SHOAL_FOREVER), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_condition_wait_for(NULL, value_is_4, NULL, SHOAL_FOREVER), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_condition_notify(NULL, 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_condition_notify_all(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_condition_acquire(NULL, SHOAL_FOREVER), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_condition_release(NULL), SHOAL_EINVAL);
  shoal_condition_destroy(NULL);
  shoal_condition_close(NULL);
  SH_ASSERT_OK(shoal_condition_create(&cond, l, NULL));
  SH_ASSERT_ERR(shoal_condition_wait_for(cond, NULL, NULL, SHOAL_FOREVER), SHOAL_EINVAL);
  SH_ASSERT_OK(shoal_condition_acquire(cond, SHOAL_FOREVER));
  SH_ASSERT_ERR(shoal_condition_notify(cond, -1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_condition_wait(cond, -4), SHOAL_EINVAL);
  SH_ASSERT_RC(shoal_condition_notify(cond, 3), 0);
  SH_ASSERT_OK(shoal_condition_release(cond));
  SH_ASSERT_ERR(shoal_condition_release(cond), SHOAL_ENOTLOCKED);
  shoal_condition_destroy(cond);
  shoal_lock_destroy(l);
  shoal_rlock_destroy(r);
}
