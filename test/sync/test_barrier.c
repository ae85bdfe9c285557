// SPDX-License-Identifier: MIT
// Barrier: Python's _TestBarrier (N = 5) with processes and threads, dead
// parties, named barriers and bad input.
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "support.h"

#define N 5

static shoal_barrier *bar;

struct shared {
  _Atomic int zeros;      /* parties that got index 0 */
  _Atomic int actions;    /* action runs */
  _Atomic int broken;     /* parties that got SHOAL_EBROKEN */
  _Atomic int timed_out;  /* parties that got SHOAL_ETIMEDOUT */
  _Atomic int passes;     /* successful waits */
  _Atomic int bad;        /* anything unexpected */
  _Atomic int arrived;
};
static struct shared *sh;

static void setup_shared(void)
{
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(sh != MAP_FAILED);
}

static void record(int rc)
{
  if (rc == 0)
    sh->zeros++;
  if (rc >= 0)
    sh->passes++;
  else if (rc == SHOAL_EBROKEN)
    sh->broken++;
  else if (rc == SHOAL_ETIMEDOUT)
    sh->timed_out++;
  else
    sh->bad++;
}

/* Each party: `passes` waits in lockstep; records every result. */
static int party(void *arg)
{
  int passes = (int)(intptr_t)arg;
  for (int i = 0; i < passes; i++) {
    int rc = shoal_barrier_wait(bar, SHOAL_DEFAULT_TIMEOUT);
    record(rc);
    if (rc < 0)
      return 1;
  }
  return 0;
}

static void *party_thread(void *arg)
{
  return (void *)(intptr_t)party(arg);
}

/* Runs N-1 other parties (2 processes, the rest threads) plus the caller. */
static void run_parties(int passes)
{
  pid_t p[2];
  pthread_t t[N - 3];
  for (int i = 0; i < 2; i++)
    p[i] = sh_fork(party, (void *)(intptr_t)passes);
  for (int i = 0; i < N - 3; i++)
    pthread_create(&t[i], NULL, party_thread, (void *)(intptr_t)passes);
  party((void *)(intptr_t)passes);
  for (int i = 0; i < 2; i++)
    sh_wait(p[i], 30000);
  for (int i = 0; i < N - 3; i++)
    pthread_join(t[i], NULL);
}

static int count_action(void *arg)
{
  (void)arg;
  sh->actions++;
  return 0;
}

SH_TEST(barrier_mixed, lockstep_one_and_ten_passes)
{
  setup_shared();
  shoal_barrier_opts o = {.action = count_action};
  SH_ASSERT_OK(shoal_barrier_create(&bar, N, &o));
  SH_ASSERT_RC(shoal_barrier_parties(bar), N);
  run_parties(1);
  cr_assert_eq(sh->passes, N);
  cr_assert_eq(sh->zeros, 1);
  cr_assert_eq(sh->actions, 1);
  run_parties(10);
  cr_assert_eq(sh->passes, N * 11);
  cr_assert_eq(sh->zeros, 11, "index 0 went to %d parties in 11 passes", (int)sh->zeros);
  cr_assert_eq(sh->actions, 11);
  cr_assert_eq(sh->bad + sh->broken + sh->timed_out, 0);
  SH_ASSERT_RC(shoal_barrier_n_waiting(bar), 0);
  SH_ASSERT_RC(shoal_barrier_broken(bar), 0);
  shoal_barrier_destroy(bar);
}

SH_TEST(barrier_fork, thousand_passes_five_processes)
{
  setup_shared();
  SH_ASSERT_OK(shoal_barrier_create(&bar, N, NULL));
  pid_t p[N - 1];
  for (int i = 0; i < N - 1; i++)
    p[i] = sh_fork(party, (void *)(intptr_t)1000);
  cr_assert_eq(party((void *)(intptr_t)1000), 0);
  for (int i = 0; i < N - 1; i++)
    cr_assert_eq(sh_wait(p[i], 60000), 0);
  cr_assert_eq(sh->passes, N * 1000);
  cr_assert_eq(sh->zeros, 1000);
  shoal_barrier_destroy(bar);
}

static int failing_action(void *arg)
{
  (void)arg;
  return -1;
}

SH_TEST(barrier_threads, failing_action_breaks)
{
  setup_shared();
  shoal_barrier_opts o = {.action = failing_action};
  SH_ASSERT_OK(shoal_barrier_create(&bar, N, &o));
  run_parties(1);
  cr_assert_eq(sh->broken, N);
  SH_ASSERT_RC(shoal_barrier_broken(bar), 1);
  SH_ASSERT_ERR(shoal_barrier_wait(bar, SHOAL_FOREVER), SHOAL_EBROKEN);
  shoal_barrier_destroy(bar);
}

static int wait_once(void *arg)
{
  (void)arg;
  sh->arrived++;
  record(shoal_barrier_wait(bar, SHOAL_FOREVER));
  return 0;
}

static void *wait_once_thread(void *arg)
{
  return (void *)(intptr_t)wait_once(arg);
}

static void wait_arrived(int n)
{
  uint64_t until = sh_now() + 10000000000u;
  while (sh->arrived < n || shoal_barrier_n_waiting(bar) < n) {
    cr_assert(sh_now() < until, "only %d parties arrived", (int)sh->arrived);
    sh_sleep_ms(2);
  }
}

SH_TEST(barrier_mixed, abort_breaks_waiters_then_reset)
{
  pthread_t t[2];
  pid_t p[2];
  setup_shared();
  SH_ASSERT_OK(shoal_barrier_create(&bar, N, NULL));
  /* Fork before starting threads: a child forked from a threaded parent is
   * not safe under TSan. */
  for (int i = 0; i < 2; i++)
    p[i] = sh_fork(wait_once, NULL);
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, wait_once_thread, NULL);
  wait_arrived(4);
  SH_ASSERT_OK(shoal_barrier_abort(bar));
  for (int i = 0; i < 2; i++) {
    sh_wait(p[i], 10000);
    pthread_join(t[i], NULL);
  }
  cr_assert_eq(sh->broken, 4);
  SH_ASSERT_RC(shoal_barrier_broken(bar), 1);
  SH_ASSERT_ERR(shoal_barrier_wait(bar, SHOAL_FOREVER), SHOAL_EBROKEN);
  SH_ASSERT_OK(shoal_barrier_reset(bar));
  SH_ASSERT_RC(shoal_barrier_broken(bar), 0);
  memset(sh, 0, sizeof *sh);
  run_parties(3);
  cr_assert_eq(sh->passes, N * 3);
  shoal_barrier_destroy(bar);
}

SH_TEST(barrier_mixed, reset_while_waiting)
{
  pthread_t t[2];
  pid_t p[2];
  setup_shared();
  SH_ASSERT_OK(shoal_barrier_create(&bar, N, NULL));
  /* Fork before starting threads: a child forked from a threaded parent is
   * not safe under TSan. */
  for (int i = 0; i < 2; i++)
    p[i] = sh_fork(wait_once, NULL);
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, wait_once_thread, NULL);
  wait_arrived(4);
  SH_ASSERT_OK(shoal_barrier_reset(bar));
  for (int i = 0; i < 2; i++) {
    sh_wait(p[i], 10000);
    pthread_join(t[i], NULL);
  }
  cr_assert_eq(sh->broken, 4);
  SH_ASSERT_RC(shoal_barrier_broken(bar), 0);
  memset(sh, 0, sizeof *sh);
  run_parties(2);
  cr_assert_eq(sh->passes, N * 2);
  shoal_barrier_destroy(bar);
}

SH_TEST(barrier_mixed, late_party_times_out)
{
  pthread_t t;
  pid_t p[2];
  setup_shared();
  shoal_barrier_opts o = {.timeout = SHOAL_MSEC(100)};
  SH_ASSERT_OK(shoal_barrier_create(&bar, 4, &o));
  for (int i = 0; i < 2; i++)
    p[i] = sh_fork(party, (void *)(intptr_t)1);
  pthread_create(&t, NULL, party_thread, (void *)(intptr_t)1);
  /* The fourth party never comes: the default timeout (0.1 s) breaks it. */
  for (int i = 0; i < 2; i++)
    sh_wait(p[i], 10000);
  pthread_join(t, NULL);
  cr_assert_eq(sh->timed_out + sh->broken, 3);
  cr_assert(sh->timed_out >= 1);
  SH_ASSERT_RC(shoal_barrier_broken(bar), 1);
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_barrier_wait(bar, SHOAL_DEFAULT_TIMEOUT), SHOAL_EBROKEN);
  SH_ASSERT_QUICK(t0);
  SH_ASSERT_OK(shoal_barrier_reset(bar));
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_barrier_wait(bar, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  shoal_barrier_destroy(bar);
}

SH_TEST(barrier_threads, single_party_and_nowait)
{
  SH_ASSERT_OK(shoal_barrier_create(&bar, 1, NULL));
  SH_ASSERT_RC(shoal_barrier_wait(bar, SHOAL_FOREVER), 0);
  SH_ASSERT_RC(shoal_barrier_wait(bar, SHOAL_NOWAIT), 0);
  shoal_barrier_destroy(bar);
  SH_ASSERT_OK(shoal_barrier_create(&bar, 2, NULL));
  SH_ASSERT_ERR(shoal_barrier_wait(bar, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_RC(shoal_barrier_n_waiting(bar), 0);
  SH_ASSERT_RC(shoal_barrier_broken(bar), 0);
  shoal_barrier_destroy(bar);
}

SH_TEST(barrier_fork, killed_party_breaks_the_barrier)
{
  pid_t p[2];
  setup_shared();
  SH_ASSERT_OK(shoal_barrier_create(&bar, 4, NULL));
  for (int i = 0; i < 2; i++)
    p[i] = sh_fork(wait_once, NULL);
  wait_arrived(2);
  kill(p[0], SIGKILL);
  sh_wait(p[0], 5000);
  /* The survivor is told within about 0.1 s, and so is the next arrival. */
  cr_assert_eq(sh_wait(p[1], 5000), 0);
  cr_assert_eq(sh->broken, 1);
  SH_ASSERT_ERR(shoal_barrier_wait(bar, SHOAL_SEC(5)), SHOAL_EBROKEN);
  SH_ASSERT_OK(shoal_barrier_reset(bar));
  SH_ASSERT_RC(shoal_barrier_n_waiting(bar), 0);
  shoal_barrier_destroy(bar);
}

SH_TEST(barrier_named, three_unrelated_processes)
{
  const char *name = sh_name("barrier");
  char line[64];
  int fd[2];
  pid_t p[2];
  SH_ASSERT_OK(shoal_barrier_open(&bar, name, 3, NULL,
                                  &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  for (int i = 0; i < 2; i++) {
    p[i] = sh_helper(&fd[i], "barrier-wait", name, "3", "10000", NULL);
    sh_read_line(fd[i], line, sizeof line, 5000);
    cr_assert_str_eq(line, "waiting");
  }
  int mine = shoal_barrier_wait(bar, SHOAL_SEC(10));
  cr_assert(mine >= 0 && mine < 3, "wait returned %s", shoal_err_name(mine));
  int sum = mine;
  for (int i = 0; i < 2; i++) {
    sh_read_line(fd[i], line, sizeof line, 10000);
    sum += atoi(line);
    sh_wait(p[i], 5000);
    close(fd[i]);
  }
  cr_assert_eq(sum, 0 + 1 + 2, "indices were not 0, 1, 2");
  shoal_barrier_close(bar);
}

SH_TEST(barrier_bad, bad_input)
{
  SH_ASSERT_ERR(shoal_barrier_create(&bar, 0, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_barrier_create(&bar, -1, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_barrier_create(&bar, SHOAL_BARRIER_MAX_PARTIES + 1, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_barrier_create(NULL, 2, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_barrier_create(&bar, 2, &(shoal_barrier_opts){.timeout = -5}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_barrier_open(&bar, NULL, 2, NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_barrier_wait(NULL, SHOAL_FOREVER), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_barrier_reset(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_barrier_abort(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_barrier_broken(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_barrier_n_waiting(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_barrier_parties(NULL), SHOAL_EINVAL);
  shoal_barrier_destroy(NULL);
  shoal_barrier_close(NULL);
  SH_ASSERT_OK(shoal_barrier_create(&bar, 2, NULL));
  SH_ASSERT_ERR(shoal_barrier_wait(bar, -7), SHOAL_EINVAL);
  shoal_barrier_destroy(bar);
}
