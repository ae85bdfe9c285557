// SPDX-License-Identifier: MIT
// Semaphore and BoundedSemaphore: Python's _TestSemaphore, across threads,
// fork and unrelated processes, plus dead holders and bad input.
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "support.h"

static shoal_semaphore *sem;

static void check_sequence(shoal_semaphore *s)
{
  SH_ASSERT_RC(shoal_semaphore_value(s), 2);
  SH_ASSERT_OK(shoal_semaphore_acquire(s, SHOAL_FOREVER));
  SH_ASSERT_RC(shoal_semaphore_value(s), 1);
  SH_ASSERT_OK(shoal_semaphore_acquire(s, SHOAL_NOWAIT));
  SH_ASSERT_RC(shoal_semaphore_value(s), 0);
  SH_ASSERT_ERR(shoal_semaphore_acquire(s, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_RC(shoal_semaphore_value(s), 0);
  SH_ASSERT_OK(shoal_semaphore_release(s, 1));
  SH_ASSERT_RC(shoal_semaphore_value(s), 1);
  SH_ASSERT_OK(shoal_semaphore_release(s, 1));
  SH_ASSERT_RC(shoal_semaphore_value(s), 2);
}

SH_TEST(semaphore_threads, python_sequence_unbounded)
{
  SH_ASSERT_OK(shoal_semaphore_create(&sem, 2));
  check_sequence(sem);
  SH_ASSERT_OK(shoal_semaphore_release(sem, 1));
  SH_ASSERT_RC(shoal_semaphore_value(sem), 3);
  SH_ASSERT_OK(shoal_semaphore_release(sem, 1));
  SH_ASSERT_RC(shoal_semaphore_value(sem), 4);
  SH_ASSERT_OK(shoal_semaphore_release(sem, 3));
  SH_ASSERT_RC(shoal_semaphore_value(sem), 7);
  shoal_semaphore_destroy(sem);
}

SH_TEST(semaphore_threads, bounded_over_release_fails)
{
  SH_ASSERT_OK(shoal_bounded_semaphore_create(&sem, 2));
  check_sequence(sem);
  SH_ASSERT_ERR(shoal_semaphore_release(sem, 1), SHOAL_EOVERRELEASE);
  SH_ASSERT_RC(shoal_semaphore_value(sem), 2);
  SH_ASSERT_OK(shoal_semaphore_acquire(sem, SHOAL_NOWAIT));
  SH_ASSERT_ERR(shoal_semaphore_release(sem, 2), SHOAL_EOVERRELEASE);
  SH_ASSERT_RC(shoal_semaphore_value(sem), 1);
  SH_ASSERT_OK(shoal_semaphore_release(sem, 1));
  shoal_semaphore_destroy(sem);
}

SH_TEST(semaphore_threads, zero_timeouts)
{
  SH_ASSERT_OK(shoal_semaphore_create(&sem, 0));
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_semaphore_acquire(sem, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_semaphore_acquire(sem, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  shoal_semaphore_destroy(sem);
}

static _Atomic int inside, max_inside;

static void *limited(void *arg)
{
  (void)arg;
  for (int i = 0; i < 200; i++) {
    shoal_semaphore_acquire(sem, SHOAL_FOREVER);
    int now = ++inside;
    int m = max_inside;
    while (now > m && !__atomic_compare_exchange_n(&max_inside, &m, now, 0, __ATOMIC_SEQ_CST,
                                                   __ATOMIC_SEQ_CST))
      ;
    usleep(50);
    --inside;
    shoal_semaphore_release(sem, 1);
  }
  return NULL;
}

SH_TEST(semaphore_threads, limits_concurrency)
{
  pthread_t t[6];
  SH_ASSERT_OK(shoal_bounded_semaphore_create(&sem, 2));
  for (int i = 0; i < 6; i++)
    pthread_create(&t[i], NULL, limited, NULL);
  for (int i = 0; i < 6; i++)
    pthread_join(t[i], NULL);
  cr_assert(max_inside >= 1 && max_inside <= 2, "max inside was %d", (int)max_inside);
  SH_ASSERT_RC(shoal_semaphore_value(sem), 2);
  shoal_semaphore_destroy(sem);
}

static void *release_two_later(void *arg)
{
  (void)arg;
  sh_sleep_ms(30);
  shoal_semaphore_release(sem, 2);
  return NULL;
}

static void *take_one(void *arg)
{
  (void)arg;
  return (void *)(intptr_t)shoal_semaphore_acquire(sem, SHOAL_SEC(10));
}

SH_TEST(semaphore_threads, release_n_wakes_n)
{
  pthread_t w[2], r;
  void *rc;
  SH_ASSERT_OK(shoal_semaphore_create(&sem, 0));
  for (int i = 0; i < 2; i++)
    pthread_create(&w[i], NULL, take_one, NULL);
  pthread_create(&r, NULL, release_two_later, NULL);
  for (int i = 0; i < 2; i++) {
    pthread_join(w[i], &rc);
    SH_ASSERT_OK((int)(intptr_t)rc);
  }
  pthread_join(r, NULL);
  SH_ASSERT_RC(shoal_semaphore_value(sem), 0);
  shoal_semaphore_destroy(sem);
}

static int child_take(void *arg)
{
  (void)arg;
  return shoal_semaphore_acquire(sem, SHOAL_SEC(10)) == 0 ? 0 : 1;
}

SH_TEST(semaphore_fork, release_wakes_child)
{
  SH_ASSERT_OK(shoal_semaphore_create(&sem, 0));
  pid_t pid = sh_fork(child_take, NULL);
  sh_sleep_ms(30);
  SH_ASSERT_OK(shoal_semaphore_release(sem, 1));
  cr_assert_eq(sh_wait(pid, 10000), 0);
  SH_ASSERT_RC(shoal_semaphore_value(sem), 0);
  shoal_semaphore_destroy(sem);
}

static int child_take_and_die(void *arg)
{
  (void)arg;
  shoal_semaphore_acquire(sem, SHOAL_FOREVER);
  raise(SIGKILL);
  return 0;
}

static int child_sleep_forever(void *arg)
{
  (void)arg;
  shoal_semaphore_acquire(sem, SHOAL_FOREVER);
  return 0;
}

SH_TEST(semaphore_fork, dead_participants)
{
  /* A unit taken by a process that dies is gone; a waiter killed in its
   * sleep costs nothing: the others still see an exact count. */
  SH_ASSERT_OK(shoal_semaphore_create(&sem, 2));
  cr_assert_eq(sh_wait(sh_fork(child_take_and_die, NULL), 5000), 128 + SIGKILL);
  SH_ASSERT_RC(shoal_semaphore_value(sem), 1);
  SH_ASSERT_OK(shoal_semaphore_acquire(sem, SHOAL_NOWAIT));
  pid_t sleeper = sh_fork(child_sleep_forever, NULL);
  sh_sleep_ms(30);
  kill(sleeper, SIGKILL);
  sh_wait(sleeper, 5000);
  SH_ASSERT_OK(shoal_semaphore_release(sem, 1));
  SH_ASSERT_RC(shoal_semaphore_value(sem), 1);
  SH_ASSERT_OK(shoal_semaphore_acquire(sem, SHOAL_NOWAIT));
  shoal_semaphore_destroy(sem);
}

SH_TEST(semaphore_named, helper_acquire_and_release)
{
  const char *name = sh_name("sem");
  char line[64];
  int fd;
  SH_ASSERT_OK(
      shoal_bounded_semaphore_open(&sem, name, 1, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  SH_ASSERT_OK(shoal_semaphore_acquire(sem, SHOAL_NOWAIT));
  sh_helper(&fd, "sem-acquire", name, "100", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "SHOAL_ETIMEDOUT");
  close(fd);
  pid_t pid = sh_helper(&fd, "sem-acquire", name, "10000", NULL);
  sh_sleep_ms(30);
  SH_ASSERT_OK(shoal_semaphore_release(sem, 1));
  sh_read_line(fd, line, sizeof line, 10000);
  cr_assert_str_eq(line, "0");
  sh_wait(pid, 5000);
  close(fd);
  sh_helper(&fd, "sem-release", name, "1", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "0");
  close(fd);
  /* Bounded is stored in the object: the helper opened it with
   * shoal_semaphore_open and still cannot over-release. */
  sh_helper(&fd, "sem-release", name, "1", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "SHOAL_EOVERRELEASE");
  close(fd);
  SH_ASSERT_RC(shoal_semaphore_value(sem), 1);
  shoal_semaphore_close(sem);
}

SH_TEST(semaphore_bad, bad_input)
{
  SH_ASSERT_ERR(shoal_semaphore_create(NULL, 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_semaphore_create(&sem, -1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_bounded_semaphore_create(&sem, -3), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_semaphore_open(&sem, NULL, 1, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_semaphore_acquire(NULL, SHOAL_FOREVER), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_semaphore_release(NULL, 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_semaphore_value(NULL), SHOAL_EINVAL);
  shoal_semaphore_destroy(NULL);
  shoal_semaphore_close(NULL);
  SH_ASSERT_OK(shoal_semaphore_create(&sem, SHOAL_SEMAPHORE_MAX));
  SH_ASSERT_ERR(shoal_semaphore_release(sem, 1), SHOAL_EOVERFLOW);
  SH_ASSERT_ERR(shoal_semaphore_release(sem, 0), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_semaphore_release(sem, -2), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_semaphore_acquire(sem, -9), SHOAL_EINVAL);
  SH_ASSERT_RC(shoal_semaphore_value(sem), SHOAL_SEMAPHORE_MAX);
  shoal_semaphore_destroy(sem);
}

SH_TEST(semaphore_named, releaser_killed_before_waking)
{
  /* Simulates a releaser killed between adding its unit and the wake call:
   * the unit appears in the shared word with no wake-up.  The sleeping
   * helper must still take it, within a slice. */
  const char *name = sh_name("sem");
  char line[64], path[256];
  int fd;
  SH_ASSERT_OK(shoal_semaphore_open(&sem, name, 0, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  pid_t pid = sh_helper(&fd, "sem-acquire", name, "10000", NULL);
  sh_sleep_ms(50);
  snprintf(path, sizeof path, "/dev/shm/%s", name);
  int shm = open(path, O_RDWR);
  uint32_t one = 1;
  cr_assert(pwrite(shm, &one, sizeof one, 64) == sizeof one); /* the value word */
  close(shm);
  uint64_t t0 = sh_now();
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "0");
  cr_assert(sh_now() - t0 < 1000000000u);
  sh_wait(pid, 5000);
  close(fd);
  shoal_semaphore_close(sem);
}
