// SPDX-License-Identifier: MIT
// Scenario 7: a thread pool — submit work, collect the results, measure the
// speed-up (concurrent.futures.ThreadPoolExecutor).  C threads have no GIL,
// so CPU-bound tasks really run in parallel.
//
//   with ThreadPoolExecutor(max_workers=os.cpu_count()) as ex:
//       futures = [ex.submit(count_primes, lo, lo + STEP) for lo in range(0, N, STEP)]
//       total = sum(f.result() for f in futures)
#include <stdio.h>
#include <time.h>

#include <shoal.h>

#define N 2000000L
#define STEP 100000L

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long count_primes(long lo, long hi)
{
  long n = 0;
  for (long v = lo < 2 ? 2 : lo; v < hi; v++) {
    int prime = 1;
    for (long d = 2; d * d <= v && prime; d++)
      prime = v % d != 0;
    n += prime;
  }
  return n;
}

/* A task: its argument is the range [lo, hi), its result the count. */
static int primes_task(const void *arg, size_t len, shoal_task_out *out)
{
  (void)len;
  const long *range = arg;
  long n = count_primes(range[0], range[1]);
  return shoal_task_return(out, &n, sizeof n);
}

int main(void)
{
  double t0 = now();
  long serial = count_primes(0, N);
  double serial_s = now() - t0;

  shoal_pool *pool;
  int workers = shoal_cpu_count();
  if (shoal_pool_create(&pool, workers, &(shoal_pool_opts){.kind = SHOAL_POOL_THREAD}) != 0)
    return 1;
  t0 = now();
  shoal_future *fs[N / STEP];
  for (long i = 0; i < N / STEP; i++) {
    long range[2] = {i * STEP, (i + 1) * STEP};
    if (shoal_pool_submit(pool, primes_task, range, sizeof range, &fs[i]) != 0)
      return 1;
  }
  long total = 0;
  for (long i = 0; i < N / STEP; i++) {
    const void *res;
    if (shoal_future_result(fs[i], &res, NULL, SHOAL_FOREVER) != 0)
      return 1;
    total += *(const long *)res;
    shoal_future_destroy(fs[i]);
  }
  double pool_s = now() - t0;
  shoal_pool_shutdown(pool, 1, 0); /* with ... as ex: waits, then shuts down */
  shoal_pool_destroy(pool);

  printf("primes below %ld: %ld (serial) and %ld (%d threads)\n", N, serial, total, workers);
  printf("serial %.3f s, thread pool %.3f s: speed-up %.2fx on %d CPUs\n", serial_s, pool_s,
         serial_s / pool_s, workers);
  return total == serial && total == 148933 ? 0 : 1;
}
