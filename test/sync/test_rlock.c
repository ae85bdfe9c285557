// SPDX-License-Identifier: MIT
// RLock: reentrancy, ownership, robustness, across threads/fork/processes.
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "support.h"

static shoal_rlock *rlock;

SH_TEST(rlock_threads, reentrant_three_levels)
{
  SH_ASSERT_OK(shoal_rlock_create(&rlock));
  SH_ASSERT_RC(shoal_rlock_is_owned(rlock), 0);
  for (int i = 1; i <= 3; i++) {
    SH_ASSERT_OK(shoal_rlock_acquire(rlock, SHOAL_NOWAIT));
    SH_ASSERT_RC(shoal_rlock_count(rlock), i);
  }
  SH_ASSERT_RC(shoal_rlock_is_owned(rlock), 1);
  SH_ASSERT_OK(shoal_rlock_release(rlock));
  SH_ASSERT_OK(shoal_rlock_release(rlock));
  SH_ASSERT_RC(shoal_rlock_is_owned(rlock), 1);
  SH_ASSERT_OK(shoal_rlock_release(rlock));
  SH_ASSERT_RC(shoal_rlock_is_owned(rlock), 0);
  SH_ASSERT_ERR(shoal_rlock_release(rlock), SHOAL_EPERM);
  shoal_rlock_destroy(rlock);
}

static void *other_thread(void *arg)
{
  int *out = arg;
  out[0] = shoal_rlock_release(rlock);
  out[1] = shoal_rlock_acquire(rlock, SHOAL_NOWAIT);
  uint64_t t0 = sh_now();
  out[2] = shoal_rlock_acquire(rlock, SHOAL_MSEC(100));
  out[3] = sh_now() - t0 >= 100000000u;
  out[4] = shoal_rlock_count(rlock);
  return NULL;
}

SH_TEST(rlock_threads, other_thread_may_not_release)
{
  pthread_t t;
  int out[5];
  SH_ASSERT_OK(shoal_rlock_create(&rlock));
  SH_ASSERT_OK(shoal_rlock_acquire(rlock, SHOAL_FOREVER));
  pthread_create(&t, NULL, other_thread, out);
  pthread_join(t, NULL);
  SH_ASSERT_ERR(out[0], SHOAL_EPERM);
  SH_ASSERT_ERR(out[1], SHOAL_EAGAIN);
  SH_ASSERT_ERR(out[2], SHOAL_ETIMEDOUT);
  cr_assert(out[3], "timed out early");
  SH_ASSERT_RC(out[4], 0);
  SH_ASSERT_OK(shoal_rlock_release(rlock));
  shoal_rlock_destroy(rlock);
}

static long counter;

static void *nest_and_count(void *arg)
{
  (void)arg;
  for (int i = 0; i < 50000; i++) {
    shoal_rlock_acquire(rlock, SHOAL_FOREVER);
    shoal_rlock_acquire(rlock, SHOAL_FOREVER);
    counter++;
    shoal_rlock_release(rlock);
    shoal_rlock_release(rlock);
  }
  return NULL;
}

SH_TEST(rlock_threads, mutual_exclusion_when_nested)
{
  pthread_t t[4];
  SH_ASSERT_OK(shoal_rlock_create(&rlock));
  for (int i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, nest_and_count, NULL);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  cr_assert_eq(counter, 200000);
  shoal_rlock_destroy(rlock);
}

static void *hold_twice_and_exit(void *arg)
{
  (void)arg;
  shoal_rlock_acquire(rlock, SHOAL_FOREVER);
  shoal_rlock_acquire(rlock, SHOAL_FOREVER);
  return NULL;
}

SH_TEST(rlock_threads, holder_thread_exits)
{
  pthread_t t;
  SH_ASSERT_OK(shoal_rlock_create(&rlock));
  pthread_create(&t, NULL, hold_twice_and_exit, NULL);
  pthread_join(t, NULL);
  SH_ASSERT_ERR(shoal_rlock_acquire(rlock, SHOAL_SEC(5)), SHOAL_EOWNERDEAD);
  SH_ASSERT_RC(shoal_rlock_count(rlock), 1);
  SH_ASSERT_OK(shoal_rlock_consistent(rlock));
  SH_ASSERT_OK(shoal_rlock_release(rlock));
  SH_ASSERT_RC(shoal_rlock_is_owned(rlock), 0);
  SH_ASSERT_OK(shoal_rlock_acquire(rlock, SHOAL_NOWAIT));
  SH_ASSERT_OK(shoal_rlock_release(rlock));
  shoal_rlock_destroy(rlock);
}

static int child_checks(void *arg)
{
  (void)arg;
  /* The parent holds it: the child (another thread of another process) is
   * not the owner. */
  if (shoal_rlock_is_owned(rlock) != 0)
    return 1;
  if (shoal_rlock_release(rlock) != SHOAL_EPERM)
    return 2;
  if (shoal_rlock_acquire(rlock, SHOAL_NOWAIT) != SHOAL_EAGAIN)
    return 3;
  return 0;
}

SH_TEST(rlock_fork, child_is_not_the_owner)
{
  SH_ASSERT_OK(shoal_rlock_create(&rlock));
  SH_ASSERT_OK(shoal_rlock_acquire(rlock, SHOAL_FOREVER));
  cr_assert_eq(sh_wait(sh_fork(child_checks, NULL), 5000), 0);
  SH_ASSERT_OK(shoal_rlock_release(rlock));
  shoal_rlock_destroy(rlock);
}

SH_TEST(rlock_named, killed_holder_in_other_process)
{
  const char *name = sh_name("rlock");
  char line[64];
  int fd;
  SH_ASSERT_OK(shoal_rlock_open(&rlock, name, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  pid_t pid = sh_helper(&fd, "rlock-hold", name, NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "0");
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "held");
  SH_ASSERT_ERR(shoal_rlock_release(rlock), SHOAL_EPERM);
  SH_ASSERT_ERR(shoal_rlock_acquire(rlock, SHOAL_NOWAIT), SHOAL_EAGAIN);
  kill(pid, SIGKILL);
  SH_ASSERT_ERR(shoal_rlock_acquire(rlock, SHOAL_SEC(5)), SHOAL_EOWNERDEAD);
  SH_ASSERT_OK(shoal_rlock_consistent(rlock));
  SH_ASSERT_OK(shoal_rlock_acquire(rlock, SHOAL_FOREVER));
  SH_ASSERT_RC(shoal_rlock_count(rlock), 2);
  SH_ASSERT_OK(shoal_rlock_release(rlock));
  SH_ASSERT_OK(shoal_rlock_release(rlock));
  close(fd);
  /* A helper that does not hold it may not release it. */
  sh_helper(&fd, "rlock-release", name, NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "SHOAL_EPERM");
  close(fd);
  shoal_rlock_close(rlock);
}

SH_TEST(rlock_bad, null_and_wrong_type)
{
  const char *name = sh_name("lock");
  shoal_lock *lock;
  SH_ASSERT_ERR(shoal_rlock_create(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_rlock_acquire(NULL, SHOAL_FOREVER), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_rlock_release(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_rlock_is_owned(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_rlock_count(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_rlock_consistent(NULL), SHOAL_EINVAL);
  shoal_rlock_destroy(NULL);
  shoal_rlock_close(NULL);
  SH_ASSERT_OK(shoal_lock_open(&lock, name, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  SH_ASSERT_ERR(shoal_rlock_open(&rlock, name, NULL), SHOAL_ETYPE);
  SH_ASSERT_ERR(shoal_rlock_open(&rlock, name, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}),
                SHOAL_ETYPE);
  shoal_lock_close(lock);
  SH_ASSERT_OK(shoal_rlock_create(&rlock));
  SH_ASSERT_ERR(shoal_rlock_acquire(rlock, -7), SHOAL_EINVAL);
  shoal_rlock_destroy(rlock);
}

SH_TEST(rlock_named, reused_thread_id_is_not_the_owner)
{
  /* A dead owner whose tid the kernel gave to this thread: the stamp in the
   * lock names our tid with another start time.  We must not count as the
   * owner, and must get the lock with SHOAL_EOWNERDEAD. */
  const char *name = sh_name("rlock");
  char path[256];
  SH_ASSERT_OK(shoal_rlock_open(&rlock, name, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  uint32_t tid = (uint32_t)gettid();
  struct {
    uint32_t word, flags;
    uint64_t stamp;
    uint32_t count;
  } fake = {tid, 0, ((uint64_t)tid << 34) | 12345, 1};
  snprintf(path, sizeof path, "/dev/shm/%s", name);
  int fd = open(path, O_RDWR);
  cr_assert(pwrite(fd, &fake, sizeof fake, 64) == sizeof fake);
  close(fd);
  SH_ASSERT_RC(shoal_rlock_is_owned(rlock), 0);
  SH_ASSERT_RC(shoal_rlock_count(rlock), 0);
  SH_ASSERT_ERR(shoal_rlock_release(rlock), SHOAL_EPERM);
  SH_ASSERT_ERR(shoal_rlock_acquire(rlock, SHOAL_NOWAIT), SHOAL_EOWNERDEAD);
  SH_ASSERT_RC(shoal_rlock_count(rlock), 1);
  SH_ASSERT_OK(shoal_rlock_consistent(rlock));
  SH_ASSERT_OK(shoal_rlock_release(rlock));
  SH_ASSERT_RC(shoal_rlock_is_owned(rlock), 0);
  shoal_rlock_close(rlock);
}
