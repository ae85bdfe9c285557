// SPDX-License-Identifier: MIT
// Lock: Python's _TestLock behaviours, across threads, fork and unrelated
// processes, plus robustness when the holder dies and bad input.
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static shoal_lock *lock;

static void *shared_alloc(size_t n)
{
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(p != MAP_FAILED);
  return p;
}

/* ---- semantics (threads) -------------------------------------------------- */

SH_TEST(lock_threads, acquire_release_locked)
{
  SH_ASSERT_OK(shoal_lock_create(&lock));
  SH_ASSERT_RC(shoal_lock_locked(lock), 0);
  SH_ASSERT_OK(shoal_lock_acquire(lock, SHOAL_FOREVER));
  SH_ASSERT_RC(shoal_lock_locked(lock), 1);
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  SH_ASSERT_OK(shoal_lock_release(lock));
  SH_ASSERT_RC(shoal_lock_locked(lock), 0);
  SH_ASSERT_ERR(shoal_lock_release(lock), SHOAL_ENOTLOCKED);
  SH_ASSERT_OK(shoal_lock_acquire(lock, SHOAL_NOWAIT));
  SH_ASSERT_OK(shoal_lock_release(lock));
  shoal_lock_destroy(lock);
}

SH_TEST(lock_threads, timeout_is_honoured)
{
  SH_ASSERT_OK(shoal_lock_create(&lock));
  SH_ASSERT_OK(shoal_lock_acquire(lock, SHOAL_FOREVER));
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_OK(shoal_lock_release(lock));
  shoal_lock_destroy(lock);
}

static void *release_other(void *arg)
{
  (void)arg;
  return (void *)(intptr_t)shoal_lock_release(lock);
}

SH_TEST(lock_threads, any_thread_may_release)
{
  pthread_t t;
  void *rc;
  SH_ASSERT_OK(shoal_lock_create(&lock));
  SH_ASSERT_OK(shoal_lock_acquire(lock, SHOAL_FOREVER));
  pthread_create(&t, NULL, release_other, NULL);
  pthread_join(t, &rc);
  SH_ASSERT_OK((int)(intptr_t)rc);
  SH_ASSERT_RC(shoal_lock_locked(lock), 0);
  shoal_lock_destroy(lock);
}

#define THREADS 4
#define ROUNDS 100000
static long counter;

static void *count_up(void *arg)
{
  (void)arg;
  for (int i = 0; i < ROUNDS; i++) {
    if (shoal_lock_acquire(lock, SHOAL_FOREVER) != 0)
      abort();
    counter++;
    shoal_lock_release(lock);
  }
  return NULL;
}

SH_TEST(lock_threads, mutual_exclusion)
{
  pthread_t t[THREADS];
  SH_ASSERT_OK(shoal_lock_create(&lock));
  for (int i = 0; i < THREADS; i++)
    pthread_create(&t[i], NULL, count_up, NULL);
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  cr_assert_eq(counter, (long)THREADS * ROUNDS);
  shoal_lock_destroy(lock);
}

static void *wake_later(void *arg)
{
  (void)arg;
  sh_sleep_ms(50);
  shoal_lock_release(lock);
  return NULL;
}

SH_TEST(lock_threads, blocked_acquire_wakes_on_release)
{
  pthread_t t;
  SH_ASSERT_OK(shoal_lock_create(&lock));
  SH_ASSERT_OK(shoal_lock_acquire(lock, SHOAL_FOREVER));
  pthread_create(&t, NULL, wake_later, NULL);
  SH_ASSERT_OK(shoal_lock_acquire(lock, SHOAL_SEC(10)));
  pthread_join(t, NULL);
  SH_ASSERT_OK(shoal_lock_release(lock));
  shoal_lock_destroy(lock);
}

static void *hold_and_exit(void *arg)
{
  (void)arg;
  shoal_lock_acquire(lock, SHOAL_FOREVER);
  return NULL; /* the thread ends holding the lock */
}

SH_TEST(lock_threads, holder_thread_exits)
{
  pthread_t t;
  SH_ASSERT_OK(shoal_lock_create(&lock));
  pthread_create(&t, NULL, hold_and_exit, NULL);
  pthread_join(t, NULL);
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_SEC(5)), SHOAL_EOWNERDEAD);
  cr_assert(sh_now() - t0 < 1000000000u, "dead owner noticed only after 1 s");
  SH_ASSERT_OK(shoal_lock_consistent(lock));
  SH_ASSERT_OK(shoal_lock_release(lock));
  SH_ASSERT_OK(shoal_lock_acquire(lock, SHOAL_NOWAIT));
  SH_ASSERT_OK(shoal_lock_release(lock));
  shoal_lock_destroy(lock);
}

/* ---- across fork ---------------------------------------------------------- */

static int child_locked(void *arg)
{
  (void)arg;
  return shoal_lock_locked(lock);
}

SH_TEST(lock_fork, locked_is_visible_in_child)
{
  SH_ASSERT_OK(shoal_lock_create(&lock));
  cr_assert_eq(sh_wait(sh_fork(child_locked, NULL), 5000), 0);
  SH_ASSERT_OK(shoal_lock_acquire(lock, SHOAL_FOREVER));
  cr_assert_eq(sh_wait(sh_fork(child_locked, NULL), 5000), 1);
  SH_ASSERT_OK(shoal_lock_release(lock));
  shoal_lock_destroy(lock);
}

static long *shared_counter;

static int child_count(void *arg)
{
  long n = (long)(intptr_t)arg;
  for (long i = 0; i < n; i++) {
    if (shoal_lock_acquire(lock, SHOAL_FOREVER) != 0)
      return 1;
    long v = *(volatile long *)shared_counter;
    *(volatile long *)shared_counter = v + 1;
    shoal_lock_release(lock);
  }
  return 0;
}

SH_TEST(lock_fork, mutual_exclusion_between_processes)
{
  SH_ASSERT_OK(shoal_lock_create(&lock));
  shared_counter = shared_alloc(sizeof *shared_counter);
  pid_t a = sh_fork(child_count, (void *)(intptr_t)200000);
  pid_t b = sh_fork(child_count, (void *)(intptr_t)200000);
  cr_assert_eq(child_count((void *)(intptr_t)200000), 0);
  cr_assert_eq(sh_wait(a, 30000), 0);
  cr_assert_eq(sh_wait(b, 30000), 0);
  cr_assert_eq(*shared_counter, 600000);
  shoal_lock_destroy(lock);
}

static int child_hold_forever(void *arg)
{
  int *ready = arg;
  if (shoal_lock_acquire(lock, SHOAL_FOREVER) != 0)
    return 1;
  __atomic_store_n(ready, 1, __ATOMIC_SEQ_CST);
  for (;;)
    pause();
}

static pid_t start_holder(void)
{
  int *ready = shared_alloc(sizeof *ready);
  pid_t pid = sh_fork(child_hold_forever, ready);
  uint64_t until = sh_now() + 5000000000u;
  while (!__atomic_load_n(ready, __ATOMIC_SEQ_CST)) {
    cr_assert(sh_now() < until, "holder never took the lock");
    sh_sleep_ms(1);
  }
  return pid;
}

SH_TEST(lock_fork, killed_holder_gives_ownerdead_then_consistent)
{
  SH_ASSERT_OK(shoal_lock_create(&lock));
  pid_t pid = start_holder();
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_NOWAIT), SHOAL_EAGAIN);
  kill(pid, SIGKILL);
  cr_assert_eq(sh_wait(pid, 5000), 128 + SIGKILL);
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_FOREVER), SHOAL_EOWNERDEAD);
  SH_ASSERT_RC(shoal_lock_locked(lock), 1);
  SH_ASSERT_OK(shoal_lock_consistent(lock));
  SH_ASSERT_ERR(shoal_lock_consistent(lock), SHOAL_EINVAL);
  SH_ASSERT_OK(shoal_lock_release(lock));
  SH_ASSERT_OK(shoal_lock_acquire(lock, SHOAL_NOWAIT));
  SH_ASSERT_OK(shoal_lock_release(lock));
  shoal_lock_destroy(lock);
}

SH_TEST(lock_fork, killed_holder_not_yet_reaped)
{
  /* The dead child is a zombie until waited for: still dead to the lock. */
  SH_ASSERT_OK(shoal_lock_create(&lock));
  pid_t pid = start_holder();
  kill(pid, SIGKILL);
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_SEC(5)), SHOAL_EOWNERDEAD);
  SH_ASSERT_OK(shoal_lock_consistent(lock));
  SH_ASSERT_OK(shoal_lock_release(lock));
  sh_wait(pid, 5000);
  shoal_lock_destroy(lock);
}

SH_TEST(lock_fork, nowait_sees_dead_holder)
{
  SH_ASSERT_OK(shoal_lock_create(&lock));
  pid_t pid = start_holder();
  kill(pid, SIGKILL);
  sh_wait(pid, 5000);
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_NOWAIT), SHOAL_EOWNERDEAD);
  SH_ASSERT_OK(shoal_lock_consistent(lock));
  SH_ASSERT_OK(shoal_lock_release(lock));
  shoal_lock_destroy(lock);
}

SH_TEST(lock_fork, release_without_repair_is_not_recoverable)
{
  SH_ASSERT_OK(shoal_lock_create(&lock));
  pid_t pid = start_holder();
  kill(pid, SIGKILL);
  sh_wait(pid, 5000);
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_FOREVER), SHOAL_EOWNERDEAD);
  SH_ASSERT_OK(shoal_lock_release(lock));
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_FOREVER), SHOAL_ENOTRECOVERABLE);
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_NOWAIT), SHOAL_ENOTRECOVERABLE);
  shoal_lock_destroy(lock);
}

static int child_wait_for_lock(void *arg)
{
  (void)arg;
  int rc = shoal_lock_acquire(lock, SHOAL_SEC(10));
  return rc == SHOAL_EOWNERDEAD ? 0 : 1;
}

SH_TEST(lock_fork, waiters_blocked_when_holder_dies)
{
  /* Two processes already asleep on the lock when its holder is killed:
   * exactly one of them gets it (with EOWNERDEAD), the other then times out
   * or gets it after the first releases without repair. */
  SH_ASSERT_OK(shoal_lock_create(&lock));
  pid_t holder = start_holder();
  pid_t w = sh_fork(child_wait_for_lock, NULL);
  sh_sleep_ms(50);
  kill(holder, SIGKILL);
  cr_assert_eq(sh_wait(w, 10000), 0, "blocked waiter did not get EOWNERDEAD");
  /* The waiter exited holding the lock, inconsistent: its death is noticed too. */
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_SEC(5)), SHOAL_EOWNERDEAD);
  SH_ASSERT_OK(shoal_lock_consistent(lock));
  SH_ASSERT_OK(shoal_lock_release(lock));
  shoal_lock_destroy(lock);
}

/* ---- unrelated processes (named) ------------------------------------------ */

SH_TEST(lock_named, helper_holds_then_dies)
{
  const char *name = sh_name("lock");
  char line[64];
  int fd;
  SH_ASSERT_OK(shoal_lock_open(&lock, name, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  pid_t pid = sh_helper(&fd, "lock-hold", name, NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "held");
  SH_ASSERT_RC(shoal_lock_locked(lock), 1);
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_NOWAIT), SHOAL_EAGAIN);
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  kill(pid, SIGKILL);
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_SEC(5)), SHOAL_EOWNERDEAD);
  SH_ASSERT_OK(shoal_lock_consistent(lock));
  SH_ASSERT_OK(shoal_lock_release(lock));
  close(fd);
  shoal_lock_close(lock);
}

SH_TEST(lock_named, helper_acquires_after_release_and_may_release)
{
  const char *name = sh_name("lock");
  char line[64];
  int fd;
  SH_ASSERT_OK(shoal_lock_open(&lock, name, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  SH_ASSERT_OK(shoal_lock_acquire(lock, SHOAL_FOREVER));
  sh_helper(&fd, "lock-acquire", name, "100", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "SHOAL_ETIMEDOUT");
  close(fd);
  /* Python's Lock may be released by another process. */
  sh_helper(&fd, "lock-release", name, NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "0");
  close(fd);
  SH_ASSERT_RC(shoal_lock_locked(lock), 0);
  sh_helper(&fd, "lock-release", name, NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "SHOAL_ENOTLOCKED");
  close(fd);
  shoal_lock_close(lock);
}

SH_TEST(lock_named, counter_across_unrelated_processes)
{
  const char *name = sh_name("lock");
  const char *shm = sh_name("counter");
  char path[256], line[64];
  int fd[2];
  SH_ASSERT_OK(shoal_lock_open(&lock, name, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  snprintf(path, sizeof path, "/dev/shm/%s", shm);
  FILE *f = fopen(path, "w");
  cr_assert(f);
  long zero = 0;
  fwrite(&zero, sizeof zero, 1, f);
  fclose(f);
  pid_t p0 = sh_helper(&fd[0], "lock-counter", name, shm, "100000", NULL);
  pid_t p1 = sh_helper(&fd[1], "lock-counter", name, shm, "100000", NULL);
  for (int i = 0; i < 2; i++) {
    sh_read_line(fd[i], line, sizeof line, 60000);
    cr_assert_str_eq(line, "done");
  }
  sh_wait(p0, 5000);
  sh_wait(p1, 5000);
  f = fopen(path, "r");
  long v = 0;
  cr_assert(fread(&v, sizeof v, 1, f) == 1);
  fclose(f);
  unlink(path);
  cr_assert_eq(v, 200000);
  shoal_lock_close(lock);
}

/* ---- bad input ------------------------------------------------------------ */

SH_TEST(lock_bad, null_and_bad_arguments)
{
  SH_ASSERT_ERR(shoal_lock_create(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_acquire(NULL, SHOAL_FOREVER), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_release(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_locked(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_consistent(NULL), SHOAL_EINVAL);
  shoal_lock_destroy(NULL);
  shoal_lock_close(NULL);
  SH_ASSERT_OK(shoal_lock_create(&lock));
  SH_ASSERT_ERR(shoal_lock_acquire(lock, -5), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_DEFAULT_TIMEOUT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_consistent(lock), SHOAL_EINVAL);
  SH_ASSERT_RC(shoal_lock_locked(lock), 0);
  shoal_lock_destroy(lock);
}

SH_TEST(lock_bad, bad_names)
{
  char longname[SHOAL_NAME_MAX + 2];
  shoal_open_opts create = {.flags = SHOAL_OPEN_CREATE};
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  SH_ASSERT_ERR(shoal_lock_open(&lock, NULL, &create), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_open(&lock, "", &create), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_open(&lock, "/", &create), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_open(&lock, "a/b", &create), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_open(&lock, "..", &create), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_open(&lock, longname, &create), SHOAL_ENAMETOOLONG);
  SH_ASSERT_ERR(shoal_lock_open(NULL, "x", &create), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_open(&lock, sh_name("missing"), NULL), SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal_lock_open(&lock, "x", &(shoal_open_opts){.flags = 0x80}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_open(&lock, "x", &(shoal_open_opts){.reserved[2] = 1}), SHOAL_EINVAL);
}

SH_TEST(lock_bad, create_exclusive_and_leading_slash)
{
  const char *name = sh_name("lock");
  char slashed[128];
  shoal_lock *other;
  shoal_open_opts excl = {.flags = SHOAL_OPEN_CREATE | SHOAL_OPEN_EXCL};
  SH_ASSERT_OK(shoal_lock_open(&lock, name, &excl));
  SH_ASSERT_ERR(shoal_lock_open(&other, name, &excl), SHOAL_EEXIST);
  snprintf(slashed, sizeof slashed, "/%s", name);
  SH_ASSERT_OK(shoal_lock_open(&other, slashed, NULL));
  SH_ASSERT_OK(shoal_lock_acquire(lock, SHOAL_FOREVER));
  SH_ASSERT_RC(shoal_lock_locked(other), 1);
  SH_ASSERT_OK(shoal_lock_release(other));
  shoal_lock_close(other);
  shoal_lock_close(lock);
  SH_ASSERT_OK(shoal_unlink(slashed));
  SH_ASSERT_ERR(shoal_unlink(name), SHOAL_ENOENT);
}

SH_TEST(lock_named, reused_thread_id_holding_is_dead)
{
  /* The lock names our own tid but another start time: a dead thread whose
   * tid we inherited.  We get the lock with SHOAL_EOWNERDEAD. */
  const char *name = sh_name("lock");
  char path[256];
  SH_ASSERT_OK(shoal_lock_open(&lock, name, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  uint32_t tid = (uint32_t)gettid();
  struct {
    uint32_t word, flags;
    uint64_t stamp;
  } fake = {tid, 0, ((uint64_t)tid << 34) | 12345};
  snprintf(path, sizeof path, "/dev/shm/%s", name);
  int fd = open(path, O_RDWR);
  cr_assert(pwrite(fd, &fake, sizeof fake, 64) == sizeof fake);
  close(fd);
  SH_ASSERT_ERR(shoal_lock_consistent(lock), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_lock_acquire(lock, SHOAL_SEC(5)), SHOAL_EOWNERDEAD);
  SH_ASSERT_OK(shoal_lock_consistent(lock));
  SH_ASSERT_OK(shoal_lock_release(lock));
  shoal_lock_close(lock);
}
