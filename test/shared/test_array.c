// SPDX-License-Identifier: MIT
// Array: Python's _TestArray behaviours (len, indexing, slicing, slice
// assignment, a child's prefix sum seen by the parent, zero fill, RawArray),
// bounds, locking, named arrays in unrelated processes, bad input.
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper_spawn.h"
#include "support.h"

static shoal_array *arr;

SH_TEST(array, len_index_and_zero_fill)
{
  /* Array('i', 10) is zero-filled, also when memory is reused (3 rounds). */
  for (int round = 0; round < 3; round++) {
    SH_ASSERT_OK(shoal_array_create(&arr, 'i', 10, NULL));
    cr_assert_eq(shoal_array_len(arr), 10);
    SH_ASSERT_RC(shoal_array_typecode(arr), 'i');
    SH_ASSERT_RC(shoal_array_itemsize(arr), 4);
    for (size_t i = 0; i < 10; i++) {
      int64_t x = -1;
      SH_ASSERT_OK(shoal_array_get_int(arr, i, &x));
      cr_assert_eq(x, 0);
      SH_ASSERT_OK(shoal_array_set_int(arr, i, (int64_t)i * 100 + round));
    }
    shoal_array_destroy(arr);
  }
}

SH_TEST(array, index_out_of_range)
{
  int64_t x;
  double d;
  SH_ASSERT_OK(shoal_array_create(&arr, 'd', 3, NULL));
  SH_ASSERT_OK(shoal_array_set_double(arr, 2, 1.5));
  SH_ASSERT_ERR(shoal_array_set_double(arr, 3, 1.5), SHOAL_ERANGE);
  SH_ASSERT_ERR(shoal_array_get_double(arr, 3, &d), SHOAL_ERANGE);
  SH_ASSERT_ERR(shoal_array_get_double(arr, SIZE_MAX, &d), SHOAL_ERANGE);
  SH_ASSERT_ERR(shoal_array_get_int(arr, 0, &x), SHOAL_ENOTSUP);
  shoal_array_destroy(arr);
}

SH_TEST(array, slices)
{
  int32_t in[10], out[10];
  for (int i = 0; i < 10; i++)
    in[i] = i * i - 3;
  SH_ASSERT_OK(shoal_array_create(&arr, 'i', 10, NULL));
  SH_ASSERT_OK(shoal_array_set_slice(arr, 0, 10, in, sizeof in));
  memset(out, 0, sizeof out);
  SH_ASSERT_OK(shoal_array_get_slice(arr, 0, 10, out, sizeof out));
  cr_assert(memcmp(in, out, sizeof in) == 0);
  /* a[2:5] = [7, 8, 9] */
  int32_t part[3] = {7, 8, 9};
  SH_ASSERT_OK(shoal_array_set_slice(arr, 2, 5, part, sizeof part));
  int32_t back[4];
  SH_ASSERT_OK(shoal_array_get_slice(arr, 1, 5, back, sizeof back));
  cr_assert(back[0] == in[1] && back[1] == 7 && back[2] == 8 && back[3] == 9);
  /* Empty slices are fine; a bigger buffer for a get is fine. */
  SH_ASSERT_OK(shoal_array_get_slice(arr, 4, 4, NULL, 0));
  SH_ASSERT_OK(shoal_array_set_slice(arr, 10, 10, NULL, 0));
  SH_ASSERT_OK(shoal_array_get_slice(arr, 9, 10, out, sizeof out));
  /* Bounds and sizes. */
  SH_ASSERT_ERR(shoal_array_get_slice(arr, 5, 11, out, sizeof out), SHOAL_ERANGE);
  SH_ASSERT_ERR(shoal_array_get_slice(arr, 6, 5, out, sizeof out), SHOAL_ERANGE);
  SH_ASSERT_ERR(shoal_array_get_slice(arr, 0, 10, out, sizeof out - 1), SHOAL_EMSGSIZE);
  SH_ASSERT_ERR(shoal_array_set_slice(arr, 0, 3, part, sizeof part - 4), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_set_slice(arr, 0, 2, part, sizeof part), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_set_slice(arr, 9, 12, part, sizeof part), SHOAL_ERANGE);
  SH_ASSERT_ERR(shoal_array_get_slice(arr, 0, 1, NULL, 4), SHOAL_EINVAL);
  /* A refused set changed nothing. */
  SH_ASSERT_OK(shoal_array_get_slice(arr, 0, 3, back, 3 * sizeof back[0]));
  cr_assert(back[0] == in[0] && back[1] == in[1] && back[2] == 7);
  shoal_array_destroy(arr);
}

SH_TEST(array, doubles_and_other_widths)
{
  double in[3] = {1.0, 2.0, 3.0}, out[3];
  SH_ASSERT_OK(shoal_array_create(&arr, 'd', 3, NULL));
  SH_ASSERT_OK(shoal_array_set_slice(arr, 0, 3, in, sizeof in));
  SH_ASSERT_OK(shoal_array_get_slice(arr, 0, 3, out, sizeof out));
  cr_assert(out[0] == 1.0 && out[1] == 2.0 && out[2] == 3.0);
  shoal_array_destroy(arr);

  int16_t h[5] = {-1, 2, -3, 4, -5}, hb[5];
  SH_ASSERT_OK(shoal_array_create(&arr, 'h', 5, &(shoal_value_opts){.flags = SHOAL_VALUE_RAW}));
  SH_ASSERT_OK(shoal_array_set_slice(arr, 0, 5, h, sizeof h));
  SH_ASSERT_OK(shoal_array_get_slice(arr, 0, 5, hb, sizeof hb));
  cr_assert(memcmp(h, hb, sizeof h) == 0);
  int64_t x;
  SH_ASSERT_OK(shoal_array_get_int(arr, 4, &x));
  cr_assert_eq(x, -5);
  cr_assert_eq(((int16_t *)shoal_array_data(arr))[2], -3);
  shoal_array_destroy(arr);

  unsigned char b[4] = {0, 1, 2, 255}, bb[4];
  SH_ASSERT_OK(shoal_array_create(&arr, '?', 4, NULL));
  SH_ASSERT_OK(shoal_array_set_slice(arr, 0, 4, b, sizeof b));
  SH_ASSERT_OK(shoal_array_get_slice(arr, 0, 4, bb, sizeof bb));
  cr_assert(bb[0] == 0 && bb[1] == 1 && bb[2] == 1 && bb[3] == 1);
  shoal_array_destroy(arr);
}

SH_TEST(array, empty_array)
{
  int64_t x;
  SH_ASSERT_OK(shoal_array_create(&arr, 'q', 0, NULL));
  cr_assert_eq(shoal_array_len(arr), 0);
  SH_ASSERT_ERR(shoal_array_get_int(arr, 0, &x), SHOAL_ERANGE);
  shoal_array_destroy(arr);
}

SH_TEST(array, bad_input)
{
  int64_t x;
  SH_ASSERT_ERR(shoal_array_create(&arr, 'x', 3, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_create(NULL, 'i', 3, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_create(&arr, 'd', SIZE_MAX / 4, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_create(&arr, 'i', 3, &(shoal_value_opts){.flags = 2}), SHOAL_EINVAL);
  cr_assert_eq(shoal_array_len(NULL), 0);
  cr_assert((shoal_array_data(NULL)) == NULL);
  SH_ASSERT_ERR(shoal_array_typecode(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_itemsize(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_get_int(NULL, 0, &x), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_set_int(NULL, 0, 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_get_double(NULL, 0, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_set_double(NULL, 0, 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_get_slice(NULL, 0, 0, NULL, 0), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_set_slice(NULL, 0, 0, NULL, 0), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_acquire(NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_release(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_array_open(&arr, NULL, 'i', 1, NULL, NULL), SHOAL_EINVAL);
  shoal_array_destroy(NULL);
  shoal_array_close(NULL);
}

SH_TEST(array, lock_kinds)
{
  shoal_lock *l;
  shoal_rlock *r;
  SH_ASSERT_OK(shoal_array_create(&arr, 'i', 4, NULL));
  SH_ASSERT_OK(shoal_array_get_lock(arr, &l, &r));
  cr_assert_not_null(r);
  SH_ASSERT_OK(shoal_array_acquire(arr, SHOAL_FOREVER));
  SH_ASSERT_OK(shoal_array_set_int(arr, 0, 1)); /* re-enters the own RLock */
  SH_ASSERT_OK(shoal_array_release(arr));
  shoal_array_destroy(arr);
  SH_ASSERT_OK(shoal_array_create(&arr, 'i', 4, &(shoal_value_opts){.flags = SHOAL_VALUE_RAW}));
  SH_ASSERT_ERR(shoal_array_get_lock(arr, &l, &r), SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal_array_acquire(arr, SHOAL_NOWAIT), SHOAL_ENOENT);
  shoal_array_destroy(arr);
}

/* ---- a child's prefix sum is visible in the parent (test_array) ---------- */

static int child_prefix_sum(void *arg)
{
  (void)arg;
  if (shoal_array_acquire(arr, SHOAL_FOREVER) != 0)
    return 1;
  int64_t sum = 0;
  for (size_t i = 0; i < shoal_array_len(arr); i++) {
    int64_t x;
    if (shoal_array_get_int(arr, i, &x) != 0 || shoal_array_set_int(arr, i, sum += x) != 0)
      return 1;
  }
  return shoal_array_release(arr) != 0;
}

static void prefix_sum_case(const shoal_value_opts *opts)
{
  int32_t seq[10], out[10];
  for (int i = 0; i < 10; i++)
    seq[i] = i; /* Array('i', range(10)) */
  SH_ASSERT_OK(shoal_array_create(&arr, 'i', 10, opts));
  SH_ASSERT_OK(shoal_array_set_slice(arr, 0, 10, seq, sizeof seq));
  if (opts) /* RawArray: the child takes no lock */
    cr_assert_eq(sh_wait(sh_fork(child_prefix_sum, NULL), 5000), 1);
  else
    cr_assert_eq(sh_wait(sh_fork(child_prefix_sum, NULL), 5000), 0);
  SH_ASSERT_OK(shoal_array_get_slice(arr, 0, 10, out, sizeof out));
  int32_t sum = 0;
  for (int i = 0; i < 10; i++) {
    sum += (opts ? 0 : i);
    cr_assert_eq(out[i], opts ? i : sum, "item %d: %d", i, out[i]);
  }
  shoal_array_destroy(arr);
}

SH_TEST(array_fork, child_prefix_sum_is_seen_by_parent)
{
  prefix_sum_case(NULL);
}

static int child_raw_prefix_sum(void *arg)
{
  (void)arg;
  int32_t *p = shoal_array_data(arr);
  for (size_t i = 1; i < shoal_array_len(arr); i++)
    p[i] += p[i - 1];
  return 0;
}

SH_TEST(array_fork, raw_array_behaves_the_same)
{
  /* A RawArray has no lock for the child to take ... */
  prefix_sum_case(&(shoal_value_opts){.flags = SHOAL_VALUE_RAW});
  /* ... and its items are plain memory the child changes for the parent. */
  int32_t seq[10], out[10];
  for (int i = 0; i < 10; i++)
    seq[i] = i;
  SH_ASSERT_OK(shoal_array_create(&arr, 'i', 10, &(shoal_value_opts){.flags = SHOAL_VALUE_RAW}));
  SH_ASSERT_OK(shoal_array_set_slice(arr, 0, 10, seq, sizeof seq));
  cr_assert_eq(sh_wait(sh_fork(child_raw_prefix_sum, NULL), 5000), 0);
  SH_ASSERT_OK(shoal_array_get_slice(arr, 0, 10, out, sizeof out));
  for (int i = 0, sum = 0; i < 10; i++)
    cr_assert_eq(out[i], sum += i);
  shoal_array_destroy(arr);
}

/* ---- threads: a whole-slice write is never seen half done ----------------- */

#define N 64
static volatile int stop_readers;

static void *slice_writer(void *arg)
{
  (void)arg;
  int64_t buf[N];
  for (int64_t round = 1; round <= 3000; round++) {
    for (int i = 0; i < N; i++)
      buf[i] = round;
    if (shoal_array_set_slice(arr, 0, N, buf, sizeof buf) != 0)
      abort();
  }
  __atomic_store_n(&stop_readers, 1, __ATOMIC_RELEASE);
  return NULL;
}

static void *slice_reader(void *arg)
{
  long *torn = arg;
  int64_t buf[N];
  while (!__atomic_load_n(&stop_readers, __ATOMIC_ACQUIRE)) {
    if (shoal_array_get_slice(arr, 0, N, buf, sizeof buf) != 0)
      abort();
    for (int i = 1; i < N; i++)
      if (buf[i] != buf[0])
        (*torn)++;
  }
  return NULL;
}

SH_TEST(array_threads, slices_are_atomic_under_the_lock)
{
  pthread_t w, r[2];
  long torn[2] = {0, 0};
  SH_ASSERT_OK(shoal_array_create(&arr, 'q', N, NULL));
  pthread_create(&w, NULL, slice_writer, NULL);
  for (int i = 0; i < 2; i++)
    pthread_create(&r[i], NULL, slice_reader, &torn[i]);
  pthread_join(w, NULL);
  for (int i = 0; i < 2; i++)
    pthread_join(r[i], NULL);
  cr_assert_eq(torn[0] + torn[1], 0, "%ld torn slices", torn[0] + torn[1]);
  shoal_array_destroy(arr);
}

/* ---- named ------------------------------------------------------------------ */

SH_TEST(array_named, unrelated_process_computes_prefix_sum)
{
  const char *name = sh_name("arr");
  int32_t seq[10], out[10];
  char line[32];
  int fd;
  for (int i = 0; i < 10; i++)
    seq[i] = i;
  SH_ASSERT_OK(
      shoal_array_open(&arr, name, 'i', 10, NULL, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  SH_ASSERT_OK(shoal_array_set_slice(arr, 0, 10, seq, sizeof seq));
  pid_t p = shared_helper(&fd, "array-prefix", name);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "done");
  cr_assert_eq(sh_wait(p, 5000), 0);
  SH_ASSERT_OK(shoal_array_get_slice(arr, 0, 10, out, sizeof out));
  for (int i = 0, sum = 0; i < 10; i++)
    cr_assert_eq(out[i], sum += i);
  shoal_array_close(arr);
}

SH_TEST(array_named, open_checks_length_and_typecode)
{
  const char *name = sh_name("arr-check");
  shoal_array *b;
  SH_ASSERT_OK(
      shoal_array_open(&arr, name, 'd', 5, NULL, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  SH_ASSERT_OK(shoal_array_open(&b, name, 'd', 0, NULL, NULL));
  cr_assert_eq(shoal_array_len(b), 5);
  shoal_array_close(b);
  SH_ASSERT_OK(shoal_array_open(&b, name, 'd', 5, NULL, NULL));
  shoal_array_close(b);
  SH_ASSERT_ERR(shoal_array_open(&b, name, 'd', 6, NULL, NULL), SHOAL_ERANGE);
  SH_ASSERT_ERR(shoal_array_open(&b, name, 'f', 5, NULL, NULL), SHOAL_ETYPE);
  shoal_value *v;
  SH_ASSERT_ERR(shoal_value_open(&v, name, 'd', NULL, NULL), SHOAL_ETYPE);
  shoal_array_close(arr);
}
