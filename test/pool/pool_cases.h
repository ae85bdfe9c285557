// SPDX-License-Identifier: MIT
// pool_cases.h: Pool behaviours that process and thread pools share (Python's
// _TestPool in C terms, plus futures), written once and instantiated by
// test_pool.c (processes) and test_pool_thread.c (threads).
#ifndef SHOAL_TEST_POOL_CASES_H
#define SHOAL_TEST_POOL_CASES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "support.h"

/* Memory the tasks of both kinds of pool can write: shared with forked workers. */
struct shared {
  _Atomic long count;
  _Atomic long inits;
  _Atomic long running;
  _Atomic int ids[4096];
  _Atomic long nids;
};

static struct shared *sh;
static shoal_event *gate; /* tasks that block wait on it */

static void shared_setup(void)
{
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(sh != MAP_FAILED);
  memset(sh, 0, sizeof *sh);
  SH_ASSERT_OK(shoal_event_create(&gate));
}

static shoal_pool *pool_new(int kind, int n, const shoal_pool_opts *base)
{
  shoal_pool_opts o = base ? *base : (shoal_pool_opts){0};
  o.kind = kind;
  shoal_pool *p;
  SH_ASSERT_OK(shoal_pool_create(&p, n, &o));
  return p;
}

/* ---- tasks ---- */

static int t_square(const void *arg, size_t len, shoal_task_out *out)
{
  cr_assert(len == sizeof(long));
  long v = *(const long *)arg, r = v * v;
  return shoal_task_return(out, &r, sizeof r);
}

static int t_count(const void *arg, size_t len, shoal_task_out *out)
{
  (void)arg;
  (void)len;
  (void)out;
  atomic_fetch_add(&sh->count, 1);
  return 0;
}

/* Fails for odd values, with a message. */
static int t_odd_fails(const void *arg, size_t len, shoal_task_out *out)
{
  (void)len;
  long v = *(const long *)arg;
  if (v % 2)
    return shoal_task_fail(out, SHOAL_ERANGE, "odd value %ld", v);
  return shoal_task_return(out, &v, sizeof v);
}

/* Waits for the gate (at most 20 s), counting itself as running. */
static int t_block(const void *arg, size_t len, shoal_task_out *out)
{
  (void)arg;
  (void)len;
  (void)out;
  atomic_fetch_add(&sh->running, 1);
  int rc = shoal_event_wait(gate, SHOAL_SEC(20));
  atomic_fetch_sub(&sh->running, 1);
  atomic_fetch_add(&sh->count, 1);
  return rc;
}

static int t_sleep_ms(const void *arg, size_t len, shoal_task_out *out)
{
  (void)len;
  (void)out;
  sh_sleep_ms((int)*(const long *)arg);
  atomic_fetch_add(&sh->count, 1);
  return 0;
}

static int t_concat(const struct iovec *args, size_t nargs, shoal_task_out *out)
{
  size_t total = 0;
  for (size_t i = 0; i < nargs; i++)
    total += args[i].iov_len;
  char *dst = shoal_task_buffer(out, total);
  if (!dst)
    return SHOAL_ENOMEM;
  for (size_t i = 0; i < nargs; i++) {
    memcpy(dst, args[i].iov_base, args[i].iov_len);
    dst += args[i].iov_len;
  }
  return 0;
}

/* Records which worker ran it: its pid, or for threads its kernel tid. */
static int t_whoami(const void *arg, size_t len, shoal_task_out *out)
{
  (void)arg;
  (void)len;
  (void)out;
  long i = atomic_fetch_add(&sh->nids, 1);
  if (i < 4096)
    atomic_store(&sh->ids[i], (int)gettid());
  return 0;
}

static int t_big(const void *arg, size_t len, shoal_task_out *out)
{
  (void)len;
  size_t n = *(const size_t *)arg;
  unsigned char *b = shoal_task_buffer(out, n);
  if (!b)
    return SHOAL_ENOMEM;
  for (size_t i = 0; i < n; i++)
    b[i] = (unsigned char)(i * 7);
  return 0;
}

static int init_count(const void *arg, size_t len)
{
  cr_assert(len == 3 && !memcmp(arg, "abc", 3));
  atomic_fetch_add(&sh->inits, 1);
  return 0;
}

static int init_fails(const void *arg, size_t len)
{
  (void)arg;
  (void)len;
  return SHOAL_EACCES;
}

/* ---- generators ---- */

struct gen {
  long next, end, fail_at; /* fail_at < 0: never */
  long value;
};

static int gen_next(void *ctx, const void **item, size_t *len)
{
  struct gen *g = ctx;
  if (g->next == g->fail_at)
    return SHOAL_EIO;
  if (g->next >= g->end)
    return 0;
  g->value = g->next++;
  *item = &g->value;
  *len = sizeof g->value;
  return 1;
}

static long *range(long n)
{
  long *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  for (long i = 0; i < n; i++)
    v[i] = i;
  return v;
}

static long item_long(shoal_future *f, size_t i)
{
  const void *b;
  size_t l;
  SH_ASSERT_OK(shoal_future_item(f, i, &b, &l));
  cr_assert_eq(l, sizeof(long));
  return *(const long *)b;
}

/* ---- cases ---- */

static void case_apply(int kind)
{
  shoal_pool *p = pool_new(kind, 2, NULL);
  long v = 12;
  void *res;
  size_t len;
  SH_ASSERT_OK(shoal_pool_apply(p, t_square, &v, sizeof v, &res, &len, NULL, SHOAL_SEC(10)));
  cr_assert_eq(len, sizeof(long));
  cr_assert_eq(*(long *)res, 144);
  shoal_free(res);
  shoal_task_error e;
  v = 3;
  SH_ASSERT_ERR(shoal_pool_apply(p, t_odd_fails, &v, sizeof v, &res, &len, &e, SHOAL_SEC(10)),
                SHOAL_ERANGE);
  cr_assert_eq(e.code, SHOAL_ERANGE);
  cr_assert_str_eq(e.message, "odd value 3");
  shoal_pool_destroy(p);
}

static void case_map(int kind)
{
  shoal_pool *p = pool_new(kind, 3, NULL);
  long *xs = range(1000);
  size_t chunks[] = {0, 1, 7, 1000, 5000};
  for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
    shoal_future *f;
    shoal_map_opts o = {.chunksize = chunks[c]};
    SH_ASSERT_OK(shoal_pool_map(p, t_square, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 1000), &o, &f,
                                SHOAL_SEC(20)));
    SH_ASSERT_RC(shoal_future_len(f), 1000);
    SH_ASSERT_RC(shoal_future_failed(f), 0);
    for (size_t i = 0; i < 1000; i++)
      cr_assert_eq(item_long(f, i), (long)(i * i), "chunksize %zu item %zu", chunks[c], i);
    SH_ASSERT_ERR(shoal_future_item(f, 1000, NULL, NULL), SHOAL_ERANGE);
    shoal_future_destroy(f);
  }
  /* The iov form, and an empty map. */
  struct iovec v[3];
  for (int i = 0; i < 3; i++)
    v[i] = (struct iovec){&xs[i + 5], sizeof(long)};
  shoal_future *f;
  SH_ASSERT_OK(shoal_pool_map(p, t_square, SHOAL_ITEMS_IOV(v, 3), NULL, &f, SHOAL_SEC(20)));
  cr_assert_eq(item_long(f, 2), 49);
  shoal_future_destroy(f);
  SH_ASSERT_OK(shoal_pool_map(p, t_square, SHOAL_ITEMS_IOV(NULL, 0), NULL, &f, SHOAL_SEC(1)));
  SH_ASSERT_RC(shoal_future_len(f), 0);
  SH_ASSERT_RC(shoal_future_done(f), 1);
  shoal_future_destroy(f);
  uint64_t t0 = sh_now();
  SH_ASSERT_OK(shoal_pool_map_async(p, t_square, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 0),
                                    &(shoal_map_opts){.chunksize = 1}, &f));
  SH_ASSERT_OK(shoal_future_get(f, SHOAL_SEC(5)));
  SH_ASSERT_QUICK(t0);
  shoal_future_destroy(f);
  free(xs);
  shoal_pool_destroy(p);
}

static void case_starmap(int kind)
{
  shoal_pool *p = pool_new(kind, 2, NULL);
  struct iovec t[3 * 2] = {
      {"ab", 2}, {"cd", 2}, {"", 0}, {"x", 1}, {"hello ", 6}, {"world", 5},
  };
  shoal_future *f;
  SH_ASSERT_OK(shoal_pool_starmap(p, t_concat, SHOAL_ITEMS_TUPLES(t, 2, 3), NULL, &f, SHOAL_SEC(10)));
  const char *want[] = {"abcd", "x", "hello world"};
  for (size_t i = 0; i < 3; i++) {
    const void *b;
    size_t l;
    SH_ASSERT_OK(shoal_future_item(f, i, &b, &l));
    cr_assert(l == strlen(want[i]) && !memcmp(b, want[i], l), "item %zu", i);
  }
  shoal_future_destroy(f);
  /* Plain items become 1-tuples. */
  struct iovec one[2] = {{"q", 1}, {"rs", 2}};
  SH_ASSERT_OK(shoal_pool_starmap_async(p, t_concat, SHOAL_ITEMS_IOV(one, 2), NULL, &f));
  SH_ASSERT_OK(shoal_future_get(f, SHOAL_SEC(10)));
  const void *b;
  size_t l;
  SH_ASSERT_OK(shoal_future_item(f, 1, &b, &l));
  cr_assert(l == 2 && !memcmp(b, "rs", 2));
  shoal_future_destroy(f);
  /* Tuples are for starmap only. */
  SH_ASSERT_ERR(shoal_pool_map_async(p, t_square, SHOAL_ITEMS_TUPLES(t, 2, 3), NULL, &f),
                SHOAL_EINVAL);
  shoal_pool_destroy(p);
}

struct cb_count {
  _Atomic int ok, err, done;
};

static void cb_ok(shoal_future *f, void *ctx)
{
  (void)f;
  atomic_fetch_add(&((struct cb_count *)ctx)->ok, 1);
}

static void cb_err(shoal_future *f, void *ctx)
{
  (void)f;
  atomic_fetch_add(&((struct cb_count *)ctx)->err, 1);
}

static void cb_done(shoal_future *f, void *ctx)
{
  cr_assert_eq(shoal_future_done(f), 1);
  atomic_fetch_add(&((struct cb_count *)ctx)->done, 1);
}

static void case_callbacks(int kind)
{
  shoal_pool *p = pool_new(kind, 2, NULL);
  struct cb_count c = {0};
  long two = 2, three = 3;
  shoal_future *f1, *f2;
  SH_ASSERT_OK(shoal_pool_apply_async(p, t_odd_fails, &two, sizeof two, cb_ok, cb_err, &c, &f1));
  SH_ASSERT_OK(shoal_pool_apply_async(p, t_odd_fails, &three, sizeof three, cb_ok, cb_err, &c, &f2));
  SH_ASSERT_OK(shoal_future_add_done_callback(f2, cb_done, &c));
  SH_ASSERT_OK(shoal_pool_apply_async(p, t_odd_fails, &two, sizeof two, cb_ok, cb_err, &c, NULL));
  SH_ASSERT_OK(shoal_future_wait(f1, SHOAL_SEC(10)));
  SH_ASSERT_ERR(shoal_future_get(f2, SHOAL_SEC(10)), SHOAL_ERANGE);
  long *xs = range(10);
  shoal_future *m;
  shoal_map_opts mo = {.callback = cb_ok, .error_callback = cb_err, .ctx = &c};
  SH_ASSERT_OK(shoal_pool_map_async(p, t_odd_fails, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 10), &mo, &m));
  SH_ASSERT_ERR(shoal_future_get(m, SHOAL_SEC(10)), SHOAL_ERANGE);
  SH_ASSERT_RC(shoal_future_failed(m), 5);
  /* Callbacks run after done is visible: wait until all came in. */
  for (int i = 0; i < 500 && atomic_load(&c.ok) + atomic_load(&c.err) < 4; i++)
    sh_sleep_ms(10);
  SH_ASSERT_OK(shoal_pool_close(p));
  SH_ASSERT_OK(shoal_pool_join(p, SHOAL_SEC(10)));
  cr_assert_eq(atomic_load(&c.ok), 2, "each callback exactly once");
  cr_assert_eq(atomic_load(&c.err), 2);
  cr_assert_eq(atomic_load(&c.done), 1);
  /* Added after done: runs at once in the caller. */
  SH_ASSERT_OK(shoal_future_add_done_callback(f1, cb_done, &c));
  cr_assert_eq(atomic_load(&c.done), 2);
  shoal_task_error e;
  SH_ASSERT_RC(shoal_future_item_error(m, 3, &e), 1);
  cr_assert_eq(e.index, 3);
  cr_assert_str_eq(e.message, "odd value 3");
  SH_ASSERT_RC(shoal_future_item_error(m, 4, &e), 0);
  shoal_future_destroy(f1);
  shoal_future_destroy(f2);
  shoal_future_destroy(m);
  free(xs);
  shoal_pool_destroy(p);
}

static void case_get_timeout(int kind)
{
  shoal_pool *p = pool_new(kind, 1, NULL);
  shoal_future *f;
  SH_ASSERT_OK(shoal_pool_submit(p, t_block, NULL, 0, &f));
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_future_result(f, NULL, NULL, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_future_wait(f, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  SH_ASSERT_RC(shoal_future_done(f), 0);
  SH_ASSERT_OK(shoal_event_set(gate));
  SH_ASSERT_OK(shoal_future_result(f, NULL, NULL, SHOAL_SEC(10)));
  SH_ASSERT_RC(shoal_future_done(f), 1);
  SH_ASSERT_RC(shoal_future_running(f), 0);
  SH_ASSERT_ERR(shoal_future_wait(f, -5), SHOAL_EINVAL);
  shoal_future_destroy(f);
  shoal_pool_destroy(p);
}

static void case_imap(int kind)
{
  shoal_pool *p = pool_new(kind, 3, NULL);
  long *xs = range(200);
  shoal_pool_iter *it;
  SH_ASSERT_OK(shoal_pool_imap(p, t_square, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 200),
                               &(shoal_map_opts){.chunksize = 3}, &it));
  for (size_t i = 0; i < 200; i++) {
    size_t idx;
    const void *b;
    size_t l;
    SH_ASSERT_OK(shoal_pool_iter_next(it, &idx, &b, &l, SHOAL_SEC(10)));
    cr_assert_eq(idx, i, "imap is ordered");
    cr_assert_eq(*(const long *)b, (long)(i * i));
  }
  SH_ASSERT_ERR(shoal_pool_iter_next(it, NULL, NULL, NULL, SHOAL_SEC(1)), SHOAL_EEOF);
  SH_ASSERT_ERR(shoal_pool_iter_next(it, NULL, NULL, NULL, SHOAL_SEC(1)), SHOAL_EEOF);
  shoal_pool_iter_destroy(it);

  SH_ASSERT_OK(shoal_pool_imap_unordered(p, t_square, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 200), NULL,
                                         &it));
  char seen[200] = {0};
  for (size_t i = 0; i < 200; i++) {
    size_t idx;
    const void *b;
    SH_ASSERT_OK(shoal_pool_iter_next(it, &idx, &b, NULL, SHOAL_SEC(10)));
    cr_assert(idx < 200 && !seen[idx], "each item once");
    cr_assert_eq(*(const long *)b, (long)(idx * idx));
    seen[idx] = 1;
  }
  SH_ASSERT_ERR(shoal_pool_iter_next(it, NULL, NULL, NULL, SHOAL_SEC(1)), SHOAL_EEOF);
  shoal_pool_iter_destroy(it);

  /* A failed item is given with its index and error. */
  SH_ASSERT_OK(shoal_pool_imap(p, t_odd_fails, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 4), NULL, &it));
  size_t idx;
  SH_ASSERT_OK(shoal_pool_iter_next(it, &idx, NULL, NULL, SHOAL_SEC(10)));
  SH_ASSERT_ERR(shoal_pool_iter_next(it, &idx, NULL, NULL, SHOAL_SEC(10)), SHOAL_ERANGE);
  cr_assert_eq(idx, 1);
  shoal_task_error e;
  SH_ASSERT_RC(shoal_pool_iter_error(it, &e), 1);
  cr_assert_str_eq(e.message, "odd value 1");
  shoal_pool_iter_destroy(it);
  free(xs);
  shoal_pool_destroy(p);
}

static void case_generator(int kind)
{
  shoal_pool *p = pool_new(kind, 2, NULL);
  /* A generator that ends: every item, in order. */
  struct gen g = {0, 50, -1, 0};
  shoal_future *f;
  SH_ASSERT_OK(shoal_pool_map(p, t_square, SHOAL_ITEMS_GEN(gen_next, &g),
                              &(shoal_map_opts){.chunksize = 4}, &f, SHOAL_SEC(10)));
  SH_ASSERT_RC(shoal_future_len(f), 50);
  cr_assert_eq(item_long(f, 49), 49 * 49);
  shoal_future_destroy(f);
  /* Failing at the start and mid-way: map reports the generator's error. */
  long fails[] = {0, 7};
  for (int k = 0; k < 2; k++) {
    g = (struct gen){0, 50, fails[k], 0};
    SH_ASSERT_ERR(shoal_pool_map(p, t_square, SHOAL_ITEMS_GEN(gen_next, &g), NULL, &f, SHOAL_SEC(10)),
                  SHOAL_EIO);
    SH_ASSERT_RC(shoal_future_len(f), fails[k]);
    shoal_future_destroy(f);
  }
  /* imap yields the results made before the failure first. */
  g = (struct gen){0, 50, 5, 0};
  shoal_pool_iter *it;
  SH_ASSERT_OK(shoal_pool_imap(p, t_square, SHOAL_ITEMS_GEN(gen_next, &g), NULL, &it));
  for (long i = 0; i < 5; i++) {
    const void *b;
    SH_ASSERT_OK(shoal_pool_iter_next(it, NULL, &b, NULL, SHOAL_SEC(10)));
    cr_assert_eq(*(const long *)b, i * i);
  }
  SH_ASSERT_ERR(shoal_pool_iter_next(it, NULL, NULL, NULL, SHOAL_SEC(10)), SHOAL_EIO);
  shoal_pool_iter_destroy(it);
  g = (struct gen){0, 50, 9, 0};
  SH_ASSERT_OK(shoal_pool_imap_unordered(p, t_square, SHOAL_ITEMS_GEN(gen_next, &g), NULL, &it));
  int n = 0;
  while (shoal_pool_iter_next(it, NULL, NULL, NULL, SHOAL_SEC(10)) == 0)
    n++;
  cr_assert_eq(n, 9);
  shoal_pool_iter_destroy(it);
  /* Still usable. */
  long v = 9;
  void *res;
  size_t len;
  SH_ASSERT_OK(shoal_pool_apply(p, t_square, &v, sizeof v, &res, &len, NULL, SHOAL_SEC(10)));
  cr_assert_eq(*(long *)res, 81);
  shoal_free(res);
  shoal_pool_destroy(p);
}

static void case_bad_input(int kind)
{
  shoal_pool *p;
  shoal_pool_opts o = {.kind = kind};
  SH_ASSERT_ERR(shoal_pool_create(&p, 0, &o), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_pool_create(&p, -1, &o), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_pool_create(&p, SHOAL_POOL_MAX_WORKERS + 1, &o), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_pool_create(NULL, 1, &o), SHOAL_EINVAL);
  o.maxtasksperchild = -1;
  SH_ASSERT_ERR(shoal_pool_create(&p, 1, &o), SHOAL_EINVAL);
  o.maxtasksperchild = 0;
  o.reserved[2] = 1;
  SH_ASSERT_ERR(shoal_pool_create(&p, 1, &o), SHOAL_EINVAL);
  o.reserved[2] = 0;
  o.initargs_len = 3;
  SH_ASSERT_ERR(shoal_pool_create(&p, 1, &o), SHOAL_EINVAL);
  o.initargs_len = 0;
  o.kind = 7;
  SH_ASSERT_ERR(shoal_pool_create(&p, 1, &o), SHOAL_EINVAL);

  p = pool_new(kind, 1, &(shoal_pool_opts){.max_arg = 64});
  shoal_future *f;
  char big[65] = {0};
  SH_ASSERT_ERR(shoal_pool_submit(p, t_count, big, 65, &f), SHOAL_E2BIG);
  SH_ASSERT_ERR(shoal_pool_submit(p, NULL, NULL, 0, &f), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_pool_submit(p, t_count, NULL, 1, &f), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_pool_submit(p, t_count, NULL, 0, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_pool_map_async(p, t_count, NULL, NULL, &f), SHOAL_EINVAL);
  struct iovec v = {big, 65};
  SH_ASSERT_ERR(shoal_pool_map_async(p, t_count, SHOAL_ITEMS_IOV(&v, 1), NULL, &f), SHOAL_E2BIG);
  shoal_items both = {.iov = &v, .array = big, .n = 1};
  SH_ASSERT_ERR(shoal_pool_map_async(p, t_count, &both, NULL, &f), SHOAL_EINVAL);
  shoal_map_opts bad = {.reserved = {1}};
  SH_ASSERT_ERR(shoal_pool_map_async(p, t_count, SHOAL_ITEMS_IOV(NULL, 0), &bad, &f), SHOAL_EINVAL);
  shoal_pool_iter *it;
  SH_ASSERT_ERR(shoal_pool_imap(p, t_count, SHOAL_ITEMS_IOV(NULL, 0),
                                &(shoal_map_opts){.callback = cb_ok}, &it),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_pool_join(p, SHOAL_SEC(1)), SHOAL_EBUSY);
  SH_ASSERT_OK(shoal_pool_close(p));
  SH_ASSERT_OK(shoal_pool_close(p));
  SH_ASSERT_ERR(shoal_pool_submit(p, t_count, NULL, 0, &f), SHOAL_ECLOSED);
  SH_ASSERT_ERR(shoal_pool_map_async(p, t_count, SHOAL_ITEMS_IOV(NULL, 0), NULL, &f), SHOAL_ECLOSED);
  SH_ASSERT_OK(shoal_pool_join(p, SHOAL_SEC(10)));
  SH_ASSERT_ERR(shoal_pool_submit(p, t_count, NULL, 0, &f), SHOAL_ECLOSED);
  shoal_pool_destroy(p);
  shoal_pool_destroy(NULL);
  SH_ASSERT_ERR(shoal_pool_close(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_future_result(NULL, NULL, NULL, 0), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_futures_wait(NULL, 1, SHOAL_ALL_COMPLETED, 0), SHOAL_EINVAL);
}

static void open_gate(void *arg)
{
  (void)arg;
  shoal_event_set(gate);
}

static void case_terminate_many(int kind)
{
  shoal_pool *p = pool_new(kind, 2, NULL);
  enum { N = 10000 };
  shoal_future **fs = malloc(N * sizeof *fs);
  for (int i = 0; i < N; i++)
    SH_ASSERT_OK(shoal_pool_submit(p, t_block, NULL, 0, &fs[i]));
  while (atomic_load(&sh->running) < 2)
    sh_sleep_ms(1);
  uint64_t t0 = sh_now();
  shoal_timer *t = NULL;
  if (kind == SHOAL_POOL_THREAD) {
    /* Threads cannot be killed: the two running tasks end 50 ms from now. */
    SH_ASSERT_OK(shoal_timer_create(&t, SHOAL_MSEC(50), open_gate, NULL));
    SH_ASSERT_OK(shoal_timer_start(t));
  }
  SH_ASSERT_OK(shoal_pool_terminate(p));
  shoal_timer_destroy(t);
  cr_assert(sh_now() - t0 < 2000000000u, "terminate took %.3f s", (sh_now() - t0) / 1e9);
  int cancelled = 0;
  for (int i = 0; i < N; i++) {
    SH_ASSERT_RC(shoal_future_done(fs[i]), 1);
    cancelled += shoal_future_result(fs[i], NULL, NULL, 0) == SHOAL_ECANCELED;
    shoal_future_destroy(fs[i]);
  }
  cr_assert(cancelled >= N - 2, "%d cancelled", cancelled);
  SH_ASSERT_OK(shoal_pool_join(p, SHOAL_SEC(5)));
  free(fs);
  shoal_pool_destroy(p);
}

static void case_join_waits(int kind)
{
  shoal_pool *p = pool_new(kind, 2, NULL);
  long ms = 20;
  for (int i = 0; i < 20; i++)
    SH_ASSERT_OK(shoal_pool_apply_async(p, t_sleep_ms, &ms, sizeof ms, NULL, NULL, NULL, NULL));
  SH_ASSERT_OK(shoal_pool_close(p));
  SH_ASSERT_OK(shoal_pool_join(p, SHOAL_SEC(20)));
  cr_assert_eq(atomic_load(&sh->count), 20, "join waits for every task");
  shoal_pool_destroy(p);
}

static void case_task_error(int kind)
{
  shoal_pool *p = pool_new(kind, 2, NULL);
  long *xs = range(100);
  shoal_future *f;
  SH_ASSERT_ERR(shoal_pool_map(p, t_odd_fails, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 100),
                               &(shoal_map_opts){.chunksize = 8}, &f, SHOAL_SEC(10)),
                SHOAL_ERANGE);
  SH_ASSERT_RC(shoal_future_failed(f), 50);
  for (size_t i = 0; i < 100; i++) {
    shoal_task_error e;
    SH_ASSERT_RC(shoal_future_item_error(f, i, &e), (int)(i % 2));
    if (i % 2) {
      char want[32];
      snprintf(want, sizeof want, "odd value %zu", i);
      cr_assert_str_eq(e.message, want);
      SH_ASSERT_ERR(shoal_future_item(f, i, NULL, NULL), SHOAL_ERANGE);
    } else {
      cr_assert_eq(item_long(f, i), (long)i);
    }
  }
  shoal_task_error e;
  SH_ASSERT_RC(shoal_future_exception(f, &e, 0), 1);
  cr_assert_eq(e.index, 1);
  shoal_future_destroy(f);
  free(xs);
  shoal_pool_destroy(p);
}

static void case_futures(int kind)
{
  shoal_pool *p = pool_new(kind, 1, NULL);
  shoal_future *blocker, *queued, *ok, *bad;
  SH_ASSERT_OK(shoal_pool_submit(p, t_block, NULL, 0, &blocker));
  SH_ASSERT_OK(shoal_pool_submit(p, t_count, NULL, 0, &queued));
  long two = 2, three = 3;
  SH_ASSERT_OK(shoal_pool_submit(p, t_odd_fails, &two, sizeof two, &ok));
  SH_ASSERT_OK(shoal_pool_submit(p, t_odd_fails, &three, sizeof three, &bad));
  while (atomic_load(&sh->running) < 1)
    sh_sleep_ms(1);
  SH_ASSERT_RC(shoal_future_running(blocker), 1);
  SH_ASSERT_RC(shoal_future_running(queued), 0);
  SH_ASSERT_RC(shoal_future_cancel(blocker), 0);
  SH_ASSERT_RC(shoal_future_cancel(queued), 1);
  SH_ASSERT_RC(shoal_future_cancel(queued), 1);
  SH_ASSERT_RC(shoal_future_cancelled(queued), 1);
  SH_ASSERT_RC(shoal_future_done(queued), 1);
  SH_ASSERT_ERR(shoal_future_result(queued, NULL, NULL, 0), SHOAL_ECANCELED);
  shoal_task_error e;
  SH_ASSERT_RC(shoal_future_exception(queued, &e, 0), 1);
  cr_assert_eq(e.code, SHOAL_ECANCELED);
  shoal_future *fs[4] = {blocker, ok, bad, queued};
  /* FIRST_COMPLETED: the cancelled one is done already. */
  SH_ASSERT_RC(shoal_futures_wait(fs, 4, SHOAL_FIRST_COMPLETED, SHOAL_SEC(5)), 1);
  cr_assert_eq(fs[0], queued);
  uint64_t t0 = sh_now();
  SH_ASSERT_RC(shoal_futures_wait(fs, 4, SHOAL_ALL_COMPLETED, SHOAL_MSEC(100)), 1);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_OK(shoal_event_set(gate));
  /* FIRST_EXCEPTION holds at once: the cancellation counts. */
  shoal_future *gs[3] = {blocker, ok, bad};
  SH_ASSERT_RC(shoal_futures_wait(gs, 3, SHOAL_FIRST_EXCEPTION, SHOAL_SEC(10)) >= 1, 1);
  SH_ASSERT_RC(shoal_futures_wait(fs, 4, SHOAL_ALL_COMPLETED, SHOAL_SEC(10)), 4);
  SH_ASSERT_RC(shoal_future_exception(ok, &e, 0), 0);
  SH_ASSERT_RC(shoal_future_exception(bad, &e, 0), 1);
  cr_assert_eq(e.code, SHOAL_ERANGE);
  SH_ASSERT_RC(atomic_load(&sh->count), 1); /* the cancelled task never ran */
  /* as_completed gives each once. */
  shoal_as_completed *ac;
  SH_ASSERT_OK(shoal_as_completed_create(&ac, fs, 4));
  int n = 0;
  shoal_future *x;
  while (shoal_as_completed_next(ac, &x, SHOAL_SEC(5)) == 0)
    n++;
  cr_assert_eq(n, 4);
  SH_ASSERT_ERR(shoal_as_completed_next(ac, &x, SHOAL_SEC(5)), SHOAL_EEOF);
  shoal_as_completed_destroy(ac);
  for (int i = 0; i < 4; i++)
    shoal_future_destroy(fs[i]);
  shoal_pool_destroy(p);
}

static void case_as_completed_order(int kind)
{
  shoal_pool *p = pool_new(kind, 2, NULL);
  long slow = 300, fast = 1;
  shoal_future *fs[2];
  SH_ASSERT_OK(shoal_pool_submit(p, t_sleep_ms, &slow, sizeof slow, &fs[0]));
  SH_ASSERT_OK(shoal_pool_submit(p, t_sleep_ms, &fast, sizeof fast, &fs[1]));
  shoal_as_completed *ac;
  SH_ASSERT_OK(shoal_as_completed_create(&ac, fs, 2));
  shoal_future *x;
  SH_ASSERT_OK(shoal_as_completed_next(ac, &x, SHOAL_SEC(10)));
  cr_assert_eq(x, fs[1], "the fast one first");
  SH_ASSERT_OK(shoal_as_completed_next(ac, &x, SHOAL_SEC(10)));
  cr_assert_eq(x, fs[0]);
  shoal_as_completed_destroy(ac);
  shoal_future_destroy(fs[0]);
  shoal_future_destroy(fs[1]);
  shoal_pool_destroy(p);
}

static void case_initializer(int kind)
{
  shoal_pool *p = pool_new(kind, 3, &(shoal_pool_opts){.initializer = init_count,
                                                       .initargs = "abc", .initargs_len = 3});
  long v = 4;
  void *res;
  size_t len;
  SH_ASSERT_OK(shoal_pool_apply(p, t_square, &v, sizeof v, &res, &len, NULL, SHOAL_SEC(10)));
  shoal_free(res);
  SH_ASSERT_OK(shoal_pool_close(p));
  SH_ASSERT_OK(shoal_pool_join(p, SHOAL_SEC(10)));
  cr_assert_eq(atomic_load(&sh->inits), 3, "once per worker");
  shoal_pool_destroy(p);

  /* A failing initializer breaks the pool instead of hanging it. */
  p = pool_new(kind, 2, &(shoal_pool_opts){.initializer = init_fails});
  shoal_future *f;
  int rc = shoal_pool_submit(p, t_count, NULL, 0, &f);
  if (rc == 0) {
    SH_ASSERT_ERR(shoal_future_result(f, NULL, NULL, SHOAL_SEC(10)), SHOAL_EBROKEN);
    shoal_task_error e;
    SH_ASSERT_RC(shoal_future_exception(f, &e, 0), 1);
    cr_assert(strstr(e.message, "initializer returned"), "%s", e.message);
    shoal_future_destroy(f);
  } else {
    SH_ASSERT_ERR(rc, SHOAL_EBROKEN);
  }
  for (int i = 0; i < 500 && shoal_pool_submit(p, t_count, NULL, 0, &f) == 0; i++) {
    shoal_future_destroy(f);
    sh_sleep_ms(10);
  }
  SH_ASSERT_ERR(shoal_pool_submit(p, t_count, NULL, 0, &f), SHOAL_EBROKEN);
  SH_ASSERT_OK(shoal_pool_join(p, SHOAL_SEC(10)));
  shoal_pool_destroy(p);
}

static int distinct_ids(void)
{
  long n = atomic_load(&sh->nids);
  int distinct = 0;
  for (long i = 0; i < n; i++) {
    bool dup = false;
    for (long j = 0; j < i && !dup; j++)
      dup = atomic_load(&sh->ids[j]) == atomic_load(&sh->ids[i]);
    distinct += !dup;
  }
  return distinct;
}

static void case_maxtasks(int kind)
{
  shoal_pool *p = pool_new(kind, 2, &(shoal_pool_opts){.maxtasksperchild = 10});
  shoal_future *fs[100];
  for (int i = 0; i < 100; i++)
    SH_ASSERT_OK(shoal_pool_submit(p, t_whoami, NULL, 0, &fs[i]));
  SH_ASSERT_RC(shoal_futures_wait(fs, 100, SHOAL_ALL_COMPLETED, SHOAL_SEC(30)), 100);
  for (int i = 0; i < 100; i++) {
    SH_ASSERT_OK(shoal_future_result(fs[i], NULL, NULL, 0));
    shoal_future_destroy(fs[i]);
  }
  cr_assert(distinct_ids() >= 10, "%d workers ran 100 tasks at 10 each", distinct_ids());
  /* Early close with maxtasksperchild=1 still finishes everything. */
  shoal_pool_destroy(p);
  atomic_store(&sh->count, 0);
  p = pool_new(kind, 2, &(shoal_pool_opts){.maxtasksperchild = 1});
  for (int i = 0; i < 12; i++)
    SH_ASSERT_OK(shoal_pool_apply_async(p, t_count, NULL, 0, NULL, NULL, NULL, NULL));
  SH_ASSERT_OK(shoal_pool_close(p));
  SH_ASSERT_OK(shoal_pool_join(p, SHOAL_SEC(30)));
  cr_assert_eq(atomic_load(&sh->count), 12);
  shoal_pool_destroy(p);
}

static void case_shutdown(int kind)
{
  shoal_pool *p = pool_new(kind, 1, NULL);
  shoal_future *fs[5];
  for (int i = 0; i < 5; i++)
    SH_ASSERT_OK(shoal_pool_submit(p, t_block, NULL, 0, &fs[i]));
  while (atomic_load(&sh->running) < 1)
    sh_sleep_ms(1);
  SH_ASSERT_OK(shoal_pool_shutdown(p, 0, 1));
  SH_ASSERT_ERR(shoal_pool_submit(p, t_count, NULL, 0, &fs[0]), SHOAL_ECLOSED);
  for (int i = 1; i < 5; i++)
    SH_ASSERT_RC(shoal_future_cancelled(fs[i]), 1);
  SH_ASSERT_OK(shoal_event_set(gate));
  SH_ASSERT_OK(shoal_pool_shutdown(p, 1, 0));
  SH_ASSERT_OK(shoal_future_result(fs[0], NULL, NULL, 0));
  cr_assert_eq(atomic_load(&sh->count), 1);
  for (int i = 0; i < 5; i++)
    shoal_future_destroy(fs[i]);
  shoal_pool_destroy(p);
}

struct progress {
  _Atomic size_t calls, last_done, last_total;
};

static void on_progress(size_t done, size_t total, void *ctx)
{
  struct progress *pr = ctx;
  cr_assert(done >= atomic_load(&pr->last_done), "progress never goes back");
  atomic_store(&pr->last_done, done);
  atomic_store(&pr->last_total, total);
  atomic_fetch_add(&pr->calls, 1);
}

static void case_progress(int kind)
{
  shoal_pool *p = pool_new(kind, 2, NULL);
  long *xs = range(500);
  struct progress pr = {0};
  shoal_future *f;
  shoal_map_opts o = {.chunksize = 10, .progress = on_progress, .progress_ctx = &pr};
  SH_ASSERT_OK(shoal_pool_map(p, t_square, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 500), &o, &f, SHOAL_SEC(10)));
  for (int i = 0; i < 500 && atomic_load(&pr.last_done) < 500; i++)
    sh_sleep_ms(10);
  cr_assert_eq(atomic_load(&pr.last_done), 500);
  cr_assert_eq(atomic_load(&pr.last_total), 500);
  cr_assert(atomic_load(&pr.calls) >= 1);
  shoal_future_destroy(f);
  /* The ready-made bar is a progress function too (stderr is no terminal here). */
  o.progress = shoal_progress_bar;
  SH_ASSERT_OK(shoal_pool_map(p, t_square, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, 500), &o, &f, SHOAL_SEC(10)));
  shoal_future_destroy(f);
  free(xs);
  shoal_pool_destroy(p);
}

static void case_big_results(int kind)
{
  shoal_pool *p = pool_new(kind, 2, NULL);
  size_t sizes[] = {0, 1, 1000, 300000, 3000000, 100};
  shoal_future *f;
  SH_ASSERT_OK(shoal_pool_map(p, t_big, SHOAL_ITEMS_ARRAY(sizes, sizeof *sizes, 6),
                              &(shoal_map_opts){.chunksize = 6}, &f, SHOAL_SEC(20)));
  for (size_t i = 0; i < 6; i++) {
    const void *b;
    size_t l;
    SH_ASSERT_OK(shoal_future_item(f, i, &b, &l));
    cr_assert_eq(l, sizes[i]);
    for (size_t j = 0; j < l; j += 997)
      cr_assert_eq(((const unsigned char *)b)[j], (unsigned char)(j * 7));
  }
  shoal_future_destroy(f);
  /* Larger than the result queue: that item fails, the worker lives on. */
  size_t huge = (size_t)64 << 20;
  SH_ASSERT_OK(shoal_pool_submit(p, t_big, &huge, sizeof huge, &f));
  SH_ASSERT_ERR(shoal_future_result(f, NULL, NULL, SHOAL_SEC(20)), SHOAL_E2BIG);
  shoal_future_destroy(f);
  long v = 5;
  void *res;
  size_t len;
  SH_ASSERT_OK(shoal_pool_apply(p, t_square, &v, sizeof v, &res, &len, NULL, SHOAL_SEC(10)));
  shoal_free(res);
  shoal_pool_destroy(p);
}

static void case_many_submits(int kind)
{
  shoal_pool *p = pool_new(kind, 2, NULL);
  enum { N = 20000 };
  shoal_future **fs = malloc(N * sizeof *fs);
  for (long i = 0; i < N; i++)
    SH_ASSERT_OK(shoal_pool_submit(p, t_square, &i, sizeof i, &fs[i]));
  for (long i = 0; i < N; i++) {
    const void *b;
    SH_ASSERT_OK(shoal_future_result(fs[i], &b, NULL, SHOAL_SEC(20)));
    cr_assert_eq(*(const long *)b, i * i);
    shoal_future_destroy(fs[i]);
  }
  free(fs);
  shoal_pool_destroy(p);
}

#define POOL_CASES(suite, kind)                                                                    \
  SH_TEST(suite, apply) { shared_setup(); case_apply(kind); }                                \
  SH_TEST(suite, map_chunksizes) { shared_setup(); case_map(kind); }                         \
  SH_TEST(suite, starmap) { shared_setup(); case_starmap(kind); }                            \
  SH_TEST(suite, callbacks_once) { shared_setup(); case_callbacks(kind); }                   \
  SH_TEST(suite, get_timeout) { shared_setup(); case_get_timeout(kind); }                    \
  SH_TEST(suite, imap_ordered_and_unordered) { shared_setup(); case_imap(kind); }            \
  SH_TEST(suite, generator_errors) { shared_setup(); case_generator(kind); }                 \
  SH_TEST(suite, bad_input) { shared_setup(); case_bad_input(kind); }                        \
  SH_TEST(suite, terminate_10000_pending) { shared_setup(); case_terminate_many(kind); }     \
  SH_TEST(suite, join_waits_for_tasks) { shared_setup(); case_join_waits(kind); }            \
  SH_TEST(suite, task_errors_keep_code_and_message) { shared_setup(); case_task_error(kind); } \
  SH_TEST(suite, futures) { shared_setup(); case_futures(kind); }                            \
  SH_TEST(suite, as_completed_order) { shared_setup(); case_as_completed_order(kind); }       \
  SH_TEST(suite, initializer) { shared_setup(); case_initializer(kind); }                    \
  SH_TEST(suite, maxtasksperchild) { shared_setup(); case_maxtasks(kind); }                  \
  SH_TEST(suite, shutdown_cancel_futures) { shared_setup(); case_shutdown(kind); }           \
  SH_TEST(suite, progress) { shared_setup(); case_progress(kind); }                          \
  SH_TEST(suite, big_results) { shared_setup(); case_big_results(kind); }                    \
  SH_TEST(suite, many_submits) { shared_setup(); case_many_submits(kind); }

#endif
