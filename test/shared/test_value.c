// SPDX-License-Identifier: MIT
// Value: Python's _TestValue behaviours (typecodes, a child's change seen by
// the parent, RawValue, get_lock, bad typecode), atomic arithmetic, locking
// across threads, fork and unrelated processes, a dead lock holder, bad input.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_spawn.h"
#include "support.h"

static shoal_value *val;

/* ---- typecodes and Python's _TestValue ----------------------------------- */

SH_TEST(value, every_typecode_starts_at_zero_and_round_trips)
{
  const char *codes = "bBhHiIlLqQc?";
  for (const char *c = codes; *c; c++) {
    int64_t x = -1;
    SH_ASSERT_OK(shoal_value_create(&val, *c, NULL));
    SH_ASSERT_RC(shoal_value_typecode(val), *c);
    SH_ASSERT_OK(shoal_value_get_int(val, &x));
    cr_assert_eq(x, 0, "typecode %c starts at %lld", *c, (long long)x);
    SH_ASSERT_OK(shoal_value_set_int(val, 1));
    SH_ASSERT_OK(shoal_value_get_int(val, &x));
    cr_assert_eq(x, 1, "typecode %c", *c);
    SH_ASSERT_ERR(shoal_value_get_double(val, &(double){0}), SHOAL_ENOTSUP);
    shoal_value_destroy(val);
  }
  for (const char *c = "fd"; *c; c++) {
    double d = -1;
    SH_ASSERT_OK(shoal_value_create(&val, *c, NULL));
    SH_ASSERT_OK(shoal_value_get_double(val, &d));
    cr_assert(d == 0.0);
    SH_ASSERT_OK(shoal_value_set_double(val, 2.5));
    SH_ASSERT_OK(shoal_value_get_double(val, &d));
    cr_assert(d == 2.5);
    SH_ASSERT_ERR(shoal_value_get_int(val, &(int64_t){0}), SHOAL_ENOTSUP);
    SH_ASSERT_ERR(shoal_value_set_int(val, 1), SHOAL_ENOTSUP);
    SH_ASSERT_ERR(shoal_value_add(val, 1, NULL), SHOAL_ENOTSUP);
    shoal_value_destroy(val);
  }
}

SH_TEST(value, bad_typecode)
{
  const char bad[] = {'x', 'u', 'z', 0, 'I' + 1, '!'};
  for (size_t i = 0; i < sizeof bad; i++) {
    val = (shoal_value *)0x1;
    SH_ASSERT_ERR(shoal_value_create(&val, bad[i], NULL), SHOAL_EINVAL);
  }
  SH_ASSERT_ERR(shoal_value_create(NULL, 'i', NULL), SHOAL_EINVAL);
}

SH_TEST(value, ranges_are_checked)
{
  struct {
    char tc;
    int64_t lo, hi;
  } r[] = {{'b', -128, 127},
           {'B', 0, 255},
           {'h', -32768, 32767},
           {'H', 0, 65535},
           {'i', INT32_MIN, INT32_MAX},
           {'I', 0, UINT32_MAX},
           {'c', 0, 255},
           {'?', 0, 1}};
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
    int64_t x;
    SH_ASSERT_OK(shoal_value_create(&val, r[i].tc, NULL));
    SH_ASSERT_OK(shoal_value_set_int(val, r[i].lo));
    SH_ASSERT_OK(shoal_value_get_int(val, &x));
    cr_assert_eq(x, r[i].lo, "%c", r[i].tc);
    SH_ASSERT_OK(shoal_value_set_int(val, r[i].hi));
    SH_ASSERT_OK(shoal_value_get_int(val, &x));
    cr_assert_eq(x, r[i].hi, "%c", r[i].tc);
    SH_ASSERT_ERR(shoal_value_set_int(val, r[i].lo - 1), SHOAL_ERANGE);
    SH_ASSERT_ERR(shoal_value_set_int(val, r[i].hi + 1), SHOAL_ERANGE);
    SH_ASSERT_OK(shoal_value_get_int(val, &x));
    cr_assert_eq(x, r[i].hi, "a refused set changed %c", r[i].tc);
    shoal_value_destroy(val);
  }
}

SH_TEST(value, q_holds_2_pow_33_and_Q_above_int64_max)
{
  int64_t x;
  SH_ASSERT_OK(shoal_value_create(&val, 'q', NULL));
  SH_ASSERT_OK(shoal_value_set_int(val, INT64_C(1) << 33));
  SH_ASSERT_OK(shoal_value_get_int(val, &x));
  cr_assert_eq(x, INT64_C(1) << 33);
  shoal_value_destroy(val);

  uint64_t big = UINT64_MAX - 5, back = 0;
  SH_ASSERT_OK(shoal_value_create(&val, 'Q', NULL));
  SH_ASSERT_ERR(shoal_value_set_int(val, -1), SHOAL_ERANGE);
  SH_ASSERT_OK(shoal_value_set(val, &big, sizeof big));
  SH_ASSERT_OK(shoal_value_get(val, &back, sizeof back));
  cr_assert_eq(back, big);
  SH_ASSERT_ERR(shoal_value_get_int(val, &x), SHOAL_EOVERFLOW);
  SH_ASSERT_ERR(shoal_value_get(val, &back, 4), SHOAL_EINVAL);
  shoal_value_destroy(val);
}

SH_TEST(value, raw_set_of_bool_normalises)
{
  unsigned char b = 7;
  int64_t x;
  SH_ASSERT_OK(shoal_value_create(&val, '?', NULL));
  SH_ASSERT_OK(shoal_value_set(val, &b, 1));
  SH_ASSERT_OK(shoal_value_get_int(val, &x));
  cr_assert_eq(x, 1);
  shoal_value_destroy(val);
}

SH_TEST(value, float_rounds_as_ctypes)
{
  double d;
  SH_ASSERT_OK(shoal_value_create(&val, 'f', NULL));
  SH_ASSERT_OK(shoal_value_set_double(val, 0.1));
  SH_ASSERT_OK(shoal_value_get_double(val, &d));
  cr_assert(d == (double)0.1f);
  float f;
  SH_ASSERT_OK(shoal_value_get(val, &f, sizeof f));
  cr_assert(f == 0.1f);
  shoal_value_destroy(val);
}

/* ---- a child's change is visible to the parent (test_value) -------------- */

struct change {
  char tc;
  int64_t i;
  double d;
};

static int child_sets(void *arg)
{
  struct change *c = arg;
  if (c->tc == 'd')
    return shoal_value_set_double(val, c->d) != 0;
  return shoal_value_set_int(val, c->i) != 0;
}

static void child_change_visible(const shoal_value_opts *opts)
{
  struct change cases[] = {{'i', 24234, 0},
                           {'d', 0, 1.0 / 3.0},
                           {'h', -1, 0},
                           {'q', INT64_C(1) << 33, 0},
                           {'c', 'x', 0}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    SH_ASSERT_OK(shoal_value_create(&val, cases[k].tc, opts));
    if (cases[k].tc == 'd')
      SH_ASSERT_OK(shoal_value_set_double(val, 1.25));
    else
      SH_ASSERT_OK(shoal_value_set_int(val, 43));
    cr_assert_eq(sh_wait(sh_fork(child_sets, &cases[k]), 5000), 0);
    if (cases[k].tc == 'd') {
      double d;
      SH_ASSERT_OK(shoal_value_get_double(val, &d));
      cr_assert(d == cases[k].d);
    } else {
      int64_t x;
      SH_ASSERT_OK(shoal_value_get_int(val, &x));
      cr_assert_eq(x, cases[k].i, "typecode %c: %lld", cases[k].tc, (long long)x);
    }
    shoal_value_destroy(val);
  }
}

SH_TEST(value_fork, child_change_is_seen_by_parent)
{
  child_change_visible(NULL);
}

SH_TEST(value_fork, raw_value_behaves_the_same)
{
  child_change_visible(&(shoal_value_opts){.flags = SHOAL_VALUE_RAW});
}

/* ---- get_lock (test_getobj_getlock) --------------------------------------- */

SH_TEST(value, default_lock_is_an_own_rlock)
{
  shoal_lock *l = (shoal_lock *)0x1;
  shoal_rlock *r = NULL;
  SH_ASSERT_OK(shoal_value_create(&val, 'i', NULL));
  SH_ASSERT_OK(shoal_value_get_lock(val, &l, &r));
  cr_assert((l) == NULL);
  cr_assert_not_null(r);
  /* It is an RLock: re-entrant, and get/set work while it is held. */
  SH_ASSERT_OK(shoal_rlock_acquire(r, SHOAL_FOREVER));
  SH_ASSERT_OK(shoal_value_acquire(val, SHOAL_NOWAIT));
  SH_ASSERT_RC(shoal_rlock_count(r), 2);
  SH_ASSERT_OK(shoal_value_set_int(val, 5));
  SH_ASSERT_OK(shoal_value_release(val));
  SH_ASSERT_OK(shoal_rlock_release(r));
  SH_ASSERT_RC(shoal_rlock_is_owned(r), 0);
  SH_ASSERT_ERR(shoal_value_release(val), SHOAL_EPERM);
  shoal_value_destroy(val);
}

SH_TEST(value, given_lock_is_used)
{
  shoal_lock *mine, *l;
  shoal_rlock *r;
  SH_ASSERT_OK(shoal_lock_create(&mine));
  SH_ASSERT_OK(shoal_value_create(&val, 'i', &(shoal_value_opts){.lock = mine}));
  SH_ASSERT_OK(shoal_value_get_lock(val, &l, &r));
  cr_assert_eq(l, mine);
  cr_assert((r) == NULL);
  SH_ASSERT_OK(shoal_value_acquire(val, SHOAL_FOREVER));
  SH_ASSERT_RC(shoal_lock_locked(mine), 1);
  SH_ASSERT_OK(shoal_value_release(val));
  SH_ASSERT_RC(shoal_lock_locked(mine), 0);
  /* get/set take the given lock: held by us, a get would wait (not re-entrant). */
  SH_ASSERT_OK(shoal_lock_acquire(mine, SHOAL_FOREVER));
  SH_ASSERT_ERR(shoal_value_acquire(val, SHOAL_MSEC(50)), SHOAL_ETIMEDOUT);
  SH_ASSERT_OK(shoal_lock_release(mine));
  shoal_value_destroy(val);
  SH_ASSERT_RC(shoal_lock_locked(mine), 0); /* the lock outlives the value */
  shoal_lock_destroy(mine);

  shoal_rlock *rmine;
  SH_ASSERT_OK(shoal_rlock_create(&rmine));
  SH_ASSERT_OK(shoal_value_create(&val, 'd', &(shoal_value_opts){.rlock = rmine}));
  SH_ASSERT_OK(shoal_value_get_lock(val, &l, &r));
  cr_assert((l) == NULL);
  cr_assert_eq(r, rmine);
  shoal_value_destroy(val);
  shoal_rlock_destroy(rmine);
}

SH_TEST(value, raw_value_has_no_lock)
{
  shoal_lock *l = (shoal_lock *)0x1;
  shoal_rlock *r = (shoal_rlock *)0x1;
  SH_ASSERT_OK(shoal_value_create(&val, 'i', &(shoal_value_opts){.flags = SHOAL_VALUE_RAW}));
  SH_ASSERT_ERR(shoal_value_get_lock(val, &l, &r), SHOAL_ENOENT);
  cr_assert((l) == NULL);
  cr_assert((r) == NULL);
  SH_ASSERT_ERR(shoal_value_acquire(val, SHOAL_NOWAIT), SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal_value_release(val), SHOAL_ENOENT);
  SH_ASSERT_OK(shoal_value_set_int(val, 3));
  shoal_value_destroy(val);
}

SH_TEST(value, bad_options)
{
  shoal_lock *l;
  shoal_rlock *r;
  SH_ASSERT_OK(shoal_lock_create(&l));
  SH_ASSERT_OK(shoal_rlock_create(&r));
  SH_ASSERT_ERR(shoal_value_create(&val, 'i', &(shoal_value_opts){.lock = l, .rlock = r}),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(
      shoal_value_create(&val, 'i', &(shoal_value_opts){.flags = SHOAL_VALUE_RAW, .lock = l}),
      SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_create(&val, 'i', &(shoal_value_opts){.flags = 8}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_create(&val, 'i', &(shoal_value_opts){.reserved[5] = 1}), SHOAL_EINVAL);
  shoal_lock_destroy(l);
  shoal_rlock_destroy(r);
}

SH_TEST(value, null_handles)
{
  int64_t x;
  double d;
  shoal_lock *l;
  shoal_rlock *r;
  SH_ASSERT_ERR(shoal_value_typecode(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_get_int(NULL, &x), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_set_int(NULL, 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_get_double(NULL, &d), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_set_double(NULL, 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_get(NULL, &x, 4), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_set(NULL, &x, 4), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_add(NULL, 1, &x), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_fetch_add(NULL, 1, &x), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_exchange(NULL, 1, &x), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_compare_exchange(NULL, &x, 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_acquire(NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_release(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_get_lock(NULL, &l, &r), SHOAL_EINVAL);
  SH_ASSERT_OK(shoal_value_create(&val, 'i', NULL));
  SH_ASSERT_ERR(shoal_value_get_int(val, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_get_lock(val, NULL, &r), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_compare_exchange(val, NULL, 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_acquire(val, -5), SHOAL_EINVAL);
  shoal_value_destroy(val);
  shoal_value_destroy(NULL);
  shoal_value_close(NULL);
}

/* ---- atomic arithmetic ------------------------------------------------------ */

SH_TEST(value, add_fetch_add_exchange_compare_exchange)
{
  int64_t r;
  SH_ASSERT_OK(shoal_value_create(&val, 'i', NULL));
  SH_ASSERT_OK(shoal_value_add(val, 5, &r));
  cr_assert_eq(r, 5);
  SH_ASSERT_OK(shoal_value_fetch_add(val, -7, &r));
  cr_assert_eq(r, 5);
  SH_ASSERT_OK(shoal_value_get_int(val, &r));
  cr_assert_eq(r, -2);
  SH_ASSERT_OK(shoal_value_exchange(val, 100, &r));
  cr_assert_eq(r, -2);
  int64_t expected = 99;
  SH_ASSERT_RC(shoal_value_compare_exchange(val, &expected, 1), 0);
  cr_assert_eq(expected, 100);
  SH_ASSERT_RC(shoal_value_compare_exchange(val, &expected, 1), 1);
  SH_ASSERT_OK(shoal_value_get_int(val, &r));
  cr_assert_eq(r, 1);
  /* An expected value no 'i' can hold never matches. */
  expected = INT64_C(1) << 40;
  SH_ASSERT_RC(shoal_value_compare_exchange(val, &expected, 2), 0);
  cr_assert_eq(expected, 1);
  SH_ASSERT_ERR(shoal_value_compare_exchange(val, &expected, INT64_C(1) << 40), SHOAL_ERANGE);
  SH_ASSERT_ERR(shoal_value_exchange(val, INT64_C(1) << 40, NULL), SHOAL_ERANGE);
  SH_ASSERT_OK(shoal_value_add(val, 1, NULL));
  shoal_value_destroy(val);
}

SH_TEST(value, add_wraps_as_ctypes)
{
  int64_t r;
  SH_ASSERT_OK(shoal_value_create(&val, 'b', NULL));
  SH_ASSERT_OK(shoal_value_set_int(val, 127));
  SH_ASSERT_OK(shoal_value_add(val, 1, &r));
  cr_assert_eq(r, -128);
  shoal_value_destroy(val);
  SH_ASSERT_OK(shoal_value_create(&val, 'H', NULL));
  SH_ASSERT_OK(shoal_value_add(val, -1, &r));
  cr_assert_eq(r, 65535);
  shoal_value_destroy(val);
  SH_ASSERT_OK(shoal_value_create(&val, 'Q', NULL));
  SH_ASSERT_OK(shoal_value_add(val, -1, &r));
  cr_assert_eq(r, -1); /* the 64 bits of UINT64_MAX */
  uint64_t u;
  SH_ASSERT_OK(shoal_value_get(val, &u, sizeof u));
  cr_assert_eq(u, UINT64_MAX);
  shoal_value_destroy(val);
}

SH_TEST(value, no_arithmetic_on_char_and_bool)
{
  for (const char *c = "c?"; *c; c++) {
    int64_t e = 0;
    SH_ASSERT_OK(shoal_value_create(&val, *c, NULL));
    SH_ASSERT_ERR(shoal_value_add(val, 1, NULL), SHOAL_ENOTSUP);
    SH_ASSERT_ERR(shoal_value_fetch_add(val, 1, NULL), SHOAL_ENOTSUP);
    SH_ASSERT_ERR(shoal_value_exchange(val, 1, NULL), SHOAL_ENOTSUP);
    SH_ASSERT_ERR(shoal_value_compare_exchange(val, &e, 1), SHOAL_ENOTSUP);
    shoal_value_destroy(val);
  }
}

/* ---- threads ---------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 50000

static void *atomic_adder(void *arg)
{
  (void)arg;
  for (int i = 0; i < ROUNDS; i++)
    if (shoal_value_add(val, 1, NULL) != 0)
      abort();
  return NULL;
}

static void *locked_adder(void *arg)
{
  (void)arg;
  for (int i = 0; i < ROUNDS / 5; i++) {
    int64_t x;
    if (shoal_value_acquire(val, SHOAL_FOREVER) != 0 || shoal_value_get_int(val, &x) != 0 ||
        shoal_value_set_int(val, x + 1) != 0 || shoal_value_release(val) != 0)
      abort();
  }
  return NULL;
}

static void run_threads(void *(*fn)(void *))
{
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    pthread_create(&t[i], NULL, fn, NULL);
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
}

SH_TEST(value_threads, atomic_add_is_exact)
{
  for (const char *c = "hiIq"; *c; c++) {
    int64_t x;
    SH_ASSERT_OK(shoal_value_create(&val, *c, &(shoal_value_opts){.flags = SHOAL_VALUE_RAW}));
    run_threads(atomic_adder);
    SH_ASSERT_OK(shoal_value_get_int(val, &x));
    int64_t want = *c == 'h' ? (int16_t)(THREADS * ROUNDS) : THREADS * ROUNDS;
    cr_assert_eq(x, want, "typecode %c: %lld", *c, (long long)x);
    shoal_value_destroy(val);
  }
}

SH_TEST(value_threads, read_modify_write_under_the_lock_is_exact)
{
  int64_t x;
  SH_ASSERT_OK(shoal_value_create(&val, 'i', NULL));
  run_threads(locked_adder);
  SH_ASSERT_OK(shoal_value_get_int(val, &x));
  cr_assert_eq(x, THREADS * (ROUNDS / 5));
  shoal_value_destroy(val);
}

/* ---- processes ------------------------------------------------------------- */

#define PROCS 4
#define PROC_ROUNDS 100000

static int child_atomic(void *arg)
{
  (void)arg;
  for (int i = 0; i < PROC_ROUNDS; i++)
    if (shoal_value_fetch_add(val, 1, NULL) != 0)
      return 1;
  return 0;
}

static int child_locked(void *arg)
{
  (void)arg;
  for (int i = 0; i < PROC_ROUNDS / 10; i++) {
    int64_t x;
    if (shoal_value_acquire(val, SHOAL_FOREVER) != 0 || shoal_value_get_int(val, &x) != 0 ||
        shoal_value_set_int(val, x + 1) != 0 || shoal_value_release(val) != 0)
      return 1;
  }
  return 0;
}

SH_TEST(value_fork, atomic_add_across_processes_is_exact)
{
  pid_t p[PROCS];
  int64_t x;
  SH_ASSERT_OK(shoal_value_create(&val, 'l', NULL));
  for (int i = 0; i < PROCS; i++)
    p[i] = sh_fork(child_atomic, NULL);
  for (int i = 0; i < PROCS; i++)
    cr_assert_eq(sh_wait(p[i], 30000), 0);
  SH_ASSERT_OK(shoal_value_get_int(val, &x));
  cr_assert_eq(x, PROCS * PROC_ROUNDS);
  shoal_value_destroy(val);
}

SH_TEST(value_fork, lock_protects_read_modify_write_across_processes)
{
  pid_t p[PROCS];
  int64_t x;
  SH_ASSERT_OK(shoal_value_create(&val, 'i', NULL));
  for (int i = 0; i < PROCS; i++)
    p[i] = sh_fork(child_locked, NULL);
  for (int i = 0; i < PROCS; i++)
    cr_assert_eq(sh_wait(p[i], 30000), 0);
  SH_ASSERT_OK(shoal_value_get_int(val, &x));
  cr_assert_eq(x, PROCS * (PROC_ROUNDS / 10));
  shoal_value_destroy(val);
}

static int child_holds_and_dies(void *arg)
{
  (void)arg;
  if (shoal_value_acquire(val, SHOAL_FOREVER) != 0)
    return 1;
  kill(getpid(), SIGKILL);
  return 2;
}

SH_TEST(value_fork, dead_lock_holder_does_not_block_get_and_set)
{
  int64_t x;
  SH_ASSERT_OK(shoal_value_create(&val, 'i', NULL));
  SH_ASSERT_OK(shoal_value_set_int(val, 7));
  cr_assert_eq(sh_wait(sh_fork(child_holds_and_dies, NULL), 5000), 128 + SIGKILL);
  uint64_t t0 = sh_now();
  SH_ASSERT_OK(shoal_value_get_int(val, &x));
  cr_assert_eq(x, 7);
  cr_assert(sh_now() - t0 < 2000000000u);
  SH_ASSERT_OK(shoal_value_set_int(val, 8));
  /* The lock works normally afterwards. */
  SH_ASSERT_OK(shoal_value_acquire(val, SHOAL_NOWAIT));
  SH_ASSERT_OK(shoal_value_release(val));
  shoal_value_destroy(val);
}

/* ---- named: unrelated processes ------------------------------------------- */

SH_TEST(value_named, unrelated_processes_add_atomically_and_under_the_lock)
{
  const char *name = sh_name("val");
  int64_t x;
  char line[64];
  SH_ASSERT_OK(
      shoal_value_open(&val, name, 'q', NULL, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  int fa, fb;
  pid_t a = shared_helper(&fa, "value-add", name, "q", "20000");
  pid_t b = shared_helper(&fb, "value-add", name, "q", "20000");
  sh_read_line(fa, line, sizeof line, 20000);
  cr_assert_str_eq(line, "done");
  sh_read_line(fb, line, sizeof line, 20000);
  cr_assert_str_eq(line, "done");
  cr_assert_eq(sh_wait(a, 5000), 0);
  cr_assert_eq(sh_wait(b, 5000), 0);
  SH_ASSERT_OK(shoal_value_get_int(val, &x));
  cr_assert_eq(x, 40000);
  shoal_value_close(val);
  close(fa);
  close(fb);

  name = sh_name("val-locked");
  SH_ASSERT_OK(
      shoal_value_open(&val, name, 'i', NULL, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  a = shared_helper(&fa, "value-locked-add", name, "5000");
  b = shared_helper(&fb, "value-locked-add", name, "5000");
  sh_read_line(fa, line, sizeof line, 20000);
  sh_read_line(fb, line, sizeof line, 20000);
  cr_assert_eq(sh_wait(a, 5000), 0);
  cr_assert_eq(sh_wait(b, 5000), 0);
  SH_ASSERT_OK(shoal_value_get_int(val, &x));
  cr_assert_eq(x, 10000);
  shoal_value_close(val);
}

SH_TEST(value_named, open_checks_typecode_lock_kind_and_type)
{
  const char *name = sh_name("val-check");
  shoal_value *v2;
  shoal_open_opts create = {.flags = SHOAL_OPEN_CREATE};
  SH_ASSERT_ERR(shoal_value_open(&val, name, 'i', NULL, NULL), SHOAL_ENOENT);
  SH_ASSERT_OK(shoal_value_open(&val, name, 'i', NULL, &create));
  SH_ASSERT_OK(shoal_value_set_int(val, 41));
  SH_ASSERT_ERR(shoal_value_open(&v2, name, 'd', NULL, NULL), SHOAL_ETYPE);
  SH_ASSERT_ERR(
      shoal_value_open(&v2, name, 'i', &(shoal_value_opts){.flags = SHOAL_VALUE_RAW}, NULL),
      SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_open(&v2, name, 'i', NULL,
                                 &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE | SHOAL_OPEN_EXCL}),
                SHOAL_EEXIST);
  SH_ASSERT_OK(shoal_value_open(&v2, name, 'i', NULL, &create)); /* opens the existing one */
  int64_t x;
  SH_ASSERT_OK(shoal_value_get_int(v2, &x));
  cr_assert_eq(x, 41);
  shoal_value_close(v2);
  /* Another kind of shoal object under the name. */
  shoal_lock *l;
  SH_ASSERT_ERR(shoal_lock_open(&l, name, NULL), SHOAL_ETYPE);
  shoal_array *a;
  SH_ASSERT_ERR(shoal_array_open(&a, name, 'i', 0, NULL, NULL), SHOAL_ETYPE);
  SH_ASSERT_ERR(shoal_value_open(&v2, NULL, 'i', NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_open(&v2, "a/b", 'i', NULL, &create), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_value_open(&v2, name, 'x', NULL, NULL), SHOAL_EINVAL);
  shoal_value_close(val);
  SH_ASSERT_OK(shoal_unlink(name));
}

SH_TEST(value_named, killed_holder_in_another_process)
{
  const char *name = sh_name("val-dead");
  char line[64];
  int fd;
  int64_t x;
  SH_ASSERT_OK(
      shoal_value_open(&val, name, 'i', NULL, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  pid_t p = shared_helper(&fd, "value-hold", name);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "held");
  SH_ASSERT_ERR(shoal_value_acquire(val, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  kill(p, SIGKILL);
  cr_assert_eq(sh_wait(p, 5000), 128 + SIGKILL);
  SH_ASSERT_OK(shoal_value_set_int(val, 3));
  SH_ASSERT_OK(shoal_value_get_int(val, &x));
  cr_assert_eq(x, 3);
  shoal_value_close(val);
}
