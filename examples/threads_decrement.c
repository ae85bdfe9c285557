// SPDX-License-Identifier: MIT
// Scenario 2: 100 threads each decrement a shared n = 100 under a mutex after
// a short sleep; n ends at 0.
//
//   def task():
//       global n
//       time.sleep(0.001)
//       with lock:
//           n -= 1
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include <shoal.h>

#define THREADS 100

static shoal_lock *lock;
static int n = THREADS;

static void *task(void *arg)
{
  (void)arg;
  nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL); /* 1 ms */
  shoal_lock_acquire(lock, SHOAL_FOREVER);
  int seen = n; /* read-modify-write in two steps: only the lock keeps it whole */
  n = seen - 1;
  shoal_lock_release(lock);
  return NULL;
}

int main(void)
{
  pthread_t t[THREADS];
  int rc = shoal_lock_create(&lock);
  if (rc != 0) {
    fprintf(stderr, "shoal_lock_create: %s\n", shoal_strerror(rc));
    return 1;
  }
  for (int i = 0; i < THREADS; i++)
    pthread_create(&t[i], NULL, task, NULL);
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  shoal_lock_destroy(lock);

  printf("%d threads decremented n from %d to %d\n", THREADS, THREADS, n);
  return n == 0 ? 0 : 1;
}
