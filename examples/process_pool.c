// SPDX-License-Identifier: MIT
// Scenario 18: a process pool — map, apply_async, close/join; an executor with
// submit and futures; the number of workers from the CPU count.  And what
// Python's Pool cannot do: a worker killed mid-task fails only that task.
//
//   with Pool(os.cpu_count()) as pool:
//       print(pool.map(square, range(10)))
//       r = pool.apply_async(square, (7,)); print(r.get(timeout=1))
//   pool.close(); pool.join()
//   with ProcessPoolExecutor() as ex:
//       fs = [ex.submit(square, i) for i in range(5)]
//       for f in as_completed(fs): print(f.result())
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <shoal.h>

static int square(const void *arg, size_t len, shoal_task_out *out)
{
  (void)len;
  long v = *(const long *)arg, r = v * v;
  return shoal_task_return(out, &r, sizeof r);
}

/* Item 3 kills its own worker, as an OOM killer or a crash would. */
static int fragile(const void *arg, size_t len, shoal_task_out *out)
{
  (void)len;
  long v = *(const long *)arg;
  if (v == 3)
    raise(SIGKILL);
  return shoal_task_return(out, &v, sizeof v);
}

static void announce(shoal_future *f, void *ctx)
{
  const void *res;
  if (shoal_future_result(f, &res, NULL, 0) == 0)
    printf("apply_async callback: %s = %ld\n", (const char *)ctx, *(const long *)res);
}

int main(void)
{
  int workers = shoal_cpu_count();
  printf("%d CPUs: %d worker processes\n", workers, workers);
  shoal_pool *pool;
  if (shoal_pool_create(&pool, SHOAL_POOL_CPU_COUNT, NULL) != 0)
    return 1;

  /* pool.map(square, range(10)) */
  long xs[10];
  for (long i = 0; i < 10; i++)
    xs[i] = i;
  shoal_future *m;
  if (shoal_pool_map(pool, square, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 10), NULL, &m, SHOAL_SEC(10)))
    return 1;
  long sum = 0;
  printf("map:");
  for (size_t i = 0; i < 10; i++) {
    const void *res;
    shoal_future_item(m, i, &res, NULL);
    printf(" %ld", *(const long *)res);
    sum += *(const long *)res;
  }
  printf("\n");
  shoal_future_destroy(m);

  /* pool.apply_async(square, (7,), callback=...).get(timeout=1) */
  long seven = 7;
  shoal_future *a;
  shoal_pool_apply_async(pool, square, &seven, sizeof seven, announce, NULL, "square(7)", &a);
  const void *res;
  if (shoal_future_result(a, &res, NULL, SHOAL_SEC(1)) != 0 || *(const long *)res != 49)
    return 1;
  shoal_future_destroy(a);

  /* A worker dies mid-map: only its item fails, the pool carries on. */
  shoal_process_set_reporting(0);
  int rc = shoal_pool_map(pool, fragile, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 10),
                          &(shoal_map_opts){.chunksize = 10}, &m, SHOAL_SEC(10));
  shoal_task_error e;
  shoal_future_item_error(m, 3, &e);
  printf("map with a dying worker: %s, %ld of 10 failed: item %zu: %s\n", shoal_err_name(rc),
         shoal_future_failed(m), e.index, e.message);
  int ok = rc == SHOAL_EWORKERDIED && shoal_future_failed(m) == 1 && e.signal == SIGKILL;
  shoal_future_destroy(m);

  shoal_pool_close(pool);
  shoal_pool_join(pool, SHOAL_FOREVER);
  shoal_pool_destroy(pool);

  /* The executor style: submit, futures, as_completed. */
  shoal_pool *ex;
  if (shoal_pool_create(&ex, SHOAL_POOL_CPU_COUNT, NULL) != 0)
    return 1;
  shoal_future *fs[5];
  for (long i = 0; i < 5; i++)
    shoal_pool_submit(ex, square, &i, sizeof i, &fs[i]);
  shoal_as_completed *ac;
  shoal_as_completed_create(&ac, fs, 5);
  shoal_future *f;
  long total = 0;
  printf("as_completed:");
  while (shoal_as_completed_next(ac, &f, SHOAL_SEC(10)) == 0) {
    shoal_future_result(f, &res, NULL, 0);
    printf(" %ld", *(const long *)res);
    total += *(const long *)res;
  }
  printf("\n");
  shoal_as_completed_destroy(ac);
  for (int i = 0; i < 5; i++)
    shoal_future_destroy(fs[i]);
  shoal_pool_shutdown(ex, 1, 0);
  shoal_pool_destroy(ex);
  return sum == 285 && total == 30 && ok ? 0 : 1;
}
