// SPDX-License-Identifier: MIT
// Scenario 1: two threads each add 1 to a shared counter 1,000,000 times under
// a Lock; the result is exactly 2,000,000.
//
//   lock = threading.Lock()
//   def work():
//       global counter
//       for _ in range(1_000_000):
//           with lock:
//               counter += 1
#include <pthread.h>
#include <stdio.h>

#include <shoal.h>

#define ROUNDS 1000000

static shoal_lock *lock;
static long counter;

static void *work(void *arg)
{
  (void)arg;
  for (int i = 0; i < ROUNDS; i++) {
    shoal_lock_acquire(lock, SHOAL_FOREVER);
    counter++;
    shoal_lock_release(lock);
  }
  return NULL;
}

int main(void)
{
  pthread_t t[2];
  int rc = shoal_lock_create(&lock);
  if (rc != 0) {
    fprintf(stderr, "shoal_lock_create: %s\n", shoal_strerror(rc));
    return 1;
  }
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, work, NULL);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  shoal_lock_destroy(lock);

  printf("counter = %ld (expected %d)\n", counter, 2 * ROUNDS);
  return counter == 2 * ROUNDS ? 0 : 1;
}
