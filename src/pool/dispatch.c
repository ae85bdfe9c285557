// SPDX-License-Identifier: MIT
// Dispatch: the pool's table of unfinished jobs, the backlog of work not yet
// turned into task messages, the staging area of messages not yet put, and
// the calls that give work to a pool (submit, apply, map and their kin).
// Nothing here blocks on the task queue: messages are put with SHOAL_NOWAIT
// and what does not fit waits for the collector to put it (see pool.c).
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pool/internal.h"

/* Fork children see a new generation: pools belong to their creator. */
static _Atomic unsigned fork_gen;

static void on_fork_child(void)
{
  atomic_fetch_add(&fork_gen, 1);
}

__attribute__((constructor)) static void register_fork_handler(void)
{
  pthread_atfork(NULL, NULL, on_fork_child);
}

unsigned shoal__pool_fork_gen(void)
{
  return atomic_load_explicit(&fork_gen, memory_order_relaxed);
}

int shoal__pool_check(const shoal_pool *pool)
{
  if (!pool)
    return SHOAL_EINVAL;
  return pool->fork_gen == shoal__pool_fork_gen() ? 0 : SHOAL_EPERM;
}

/* Most messages and bytes staged in one round. */
#define STAGE_MAX_MSGS 256
#define STAGE_MAX_BYTES ((size_t)1 << 20)

/* ---- the job table ------------------------------------------------------------------ */

static size_t bucket(const shoal_pool *pool, uint64_t id)
{
  return (size_t)(id * UINT64_C(0x9e3779b97f4a7c15) >> 20) & (pool->table_size - 1);
}

static int table_grow(shoal_pool *pool)
{
  size_t size = pool->table_size ? pool->table_size * 2 : 64;
  struct shoal_future **t = calloc(size, sizeof *t);
  if (!t)
    return SHOAL_ENOMEM;
  struct shoal_future **old = pool->table;
  size_t old_size = pool->table_size;
  pool->table = t;
  pool->table_size = size;
  for (size_t i = 0; i < old_size; i++) {
    struct shoal_future *f = old[i], *next;
    for (; f; f = next) {
      next = f->hnext;
      size_t b = bucket(pool, f->id);
      f->hnext = t[b];
      t[b] = f;
    }
  }
  free(old);
  return 0;
}

static int job_insert(shoal_pool *pool, struct shoal_future *f)
{
  if (pool->njobs + 1 > pool->table_size) {
    int rc = table_grow(pool);
    if (rc)
      return rc;
  }
  f->id = ++pool->next_id;
  size_t b = bucket(pool, f->id);
  f->hnext = pool->table[b];
  pool->table[b] = f;
  pool->njobs++;
  return 0;
}

struct shoal_future *shoal__job_find(shoal_pool *pool, uint64_t id)
{
  if (!pool->table_size)
    return NULL;
  struct shoal_future *f = pool->table[bucket(pool, id)];
  while (f && f->id != id)
    f = f->hnext;
  return f;
}

void shoal__job_unlink(shoal_pool *pool, struct shoal_future *f)
{
  struct shoal_future **pp = &pool->table[bucket(pool, f->id)];
  while (*pp && *pp != f)
    pp = &(*pp)->hnext;
  if (*pp) {
    *pp = f->hnext;
    pool->njobs--;
  }
}

/* ---- functions by name (spawn) ----------------------------------------------------- */

uint64_t shoal__pool_fn_id(shoal_pool *pool, void (*fn)(void), int *rc)
{
  *rc = 0;
  if (pool->method != SHOAL_START_SPAWN)
    return (uint64_t)(uintptr_t)fn;
  const char *name = shoal__pool_entry_name(fn);
  if (!name) {
    *rc = SHOAL_ENOENT;
    return 0;
  }
  struct pool_shared *sh = pool->sh;
  uint32_t n = atomic_load_explicit(&sh->nnames, memory_order_relaxed);
  for (uint32_t i = 0; i < n; i++)
    if (!strcmp(sh->names[i], name))
      return i;
  if (n == POOL_NAMES_MAX) {
    *rc = SHOAL_ENOSPC;
    return 0;
  }
  strcpy(sh->names[n], name);
  /* Release: the name is whole before a worker can see the count. */
  atomic_store_explicit(&sh->nnames, n + 1, memory_order_release);
  return n;
}

/* ---- items --------------------------------------------------------------------------- */

/* The encoded size of item i of an iov or array source (tuples are encoded). */
static size_t item_size(const shoal_items *s, size_t i)
{
  if (s->array)
    return s->size;
  if (!s->nargs)
    return s->iov[i].iov_len;
  size_t n = 8;
  for (size_t j = 0; j < s->nargs; j++)
    n += 8 + pad8(s->iov[i * s->nargs + j].iov_len);
  return n;
}

/* Writes item i's encoded bytes at dst. */
static void item_write(const shoal_items *s, size_t i, char *dst, bool star)
{
  const void *p;
  size_t len;
  if (s->array) {
    p = (const char *)s->array + i * s->size;
    len = s->size;
  } else if (!s->nargs) {
    p = s->iov[i].iov_base;
    len = s->iov[i].iov_len;
  } else {
    uint64_t n = s->nargs;
    memcpy(dst, &n, 8);
    dst += 8;
    for (size_t j = 0; j < s->nargs; j++) {
      const struct iovec *v = &s->iov[i * s->nargs + j];
      uint64_t l = v->iov_len;
      memcpy(dst, &l, 8);
      if (l)
        memcpy(dst + 8, v->iov_base, l);
      memset(dst + 8 + l, 0, pad8(l) - l);
      dst += 8 + pad8(l);
    }
    return;
  }
  if (star) {
    /* A 1-tuple. */
    uint64_t one = 1, l = len;
    memcpy(dst, &one, 8);
    memcpy(dst + 8, &l, 8);
    dst += 16;
  }
  if (len)
    memcpy(dst, p, len);
}

/* Writes a generator's item as a task: its length, (a 1-tuple's header,)
 * its bytes, padding. */
static void put_gen_item(char *dst, const void *p, size_t l, bool star)
{
  uint64_t enc = star ? 16 + l : l;
  memcpy(dst, &enc, 8);
  dst += 8;
  if (star) {
    uint64_t one = 1, ll = l;
    memcpy(dst, &one, 8);
    memcpy(dst + 8, &ll, 8);
    dst += 16;
  }
  if (l)
    memcpy(dst, p, l);
  memset(dst + l, 0, pad8(enc) - enc);
}

/* ---- staging ------------------------------------------------------------------------- */

/* Reserves room for a message of `len` bytes at the end of the stage; returns
 * its offset, or -1 without memory. */
static long stage_reserve(shoal_pool *pool, size_t len)
{
  size_t at = pool->stage_len;
  if (at + len > pool->stage_cap) {
    size_t cap = pool->stage_cap ? pool->stage_cap : 65536;
    while (cap < at + len)
      cap *= 2;
    char *s = realloc(pool->stage, cap);
    if (!s)
      return -1;
    pool->stage = s;
    pool->stage_cap = cap;
  }
  if (pool->nstaged == pool->staged_cap) {
    size_t cap = pool->staged_cap ? pool->staged_cap * 2 : 64;
    struct iovec *v = realloc(pool->staged, cap * sizeof *v);
    if (!v)
      return -1;
    pool->staged = v;
    pool->staged_cap = cap;
  }
  return (long)at;
}

/* Adds the message at offset `at` of `len` bytes to the stage, numbering it. */
static void stage_commit(shoal_pool *pool, size_t at, size_t len)
{
  struct tmsg *m = (struct tmsg *)(pool->stage + at);
  m->seq = pool->next_seq++;
  if (m->flags & TM_CANCELLABLE)
    atomic_store_explicit(pool_tag(pool->sh, m->seq), m->seq << 2 | TAG_QUEUED,
                          memory_order_relaxed);
  pool->staged[pool->nstaged].iov_base = (void *)at; /* an offset until put */
  pool->staged[pool->nstaged].iov_len = len;
  pool->nstaged++;
  pool->stage_len = at + pad8(len);
}

/* Sources hold a reference to their job: a job may end (cancelled,
 * terminated) while its source waits. */
static void source_pop(shoal_pool *pool)
{
  struct source *s = pool->backlog;
  pool->backlog = s->next;
  if (!pool->backlog)
    pool->backlog_tail = &pool->backlog;
  shoal__future_unref(s->job);
  free(s->redo);
  free(s);
}

static void source_push(shoal_pool *pool, struct source *s)
{
  atomic_fetch_add(&s->job->refs, 1);
  s->next = NULL;
  *pool->backlog_tail = s;
  pool->backlog_tail = &s->next;
}

static bool job_dead(const struct shoal_future *f)
{
  return atomic_load_explicit(&f->state, memory_order_relaxed) != FS_PENDING;
}

/* Makes room for item index i of a generator job. */
static int items_reserve(struct shoal_future *f, size_t i)
{
  if (i < f->cap)
    return 0;
  size_t cap = f->cap ? f->cap * 2 : 64;
  while (cap <= i)
    cap *= 2;
  struct item *it = realloc(f->items, cap * sizeof *it);
  if (!it)
    return SHOAL_ENOMEM;
  memset(it + f->cap, 0, (cap - f->cap) * sizeof *it);
  f->items = it;
  f->cap = cap;
  return 0;
}

/* Builds the next message of the map source s.  Returns 1 when a message was
 * staged, 0 when s is finished (pop it), or an error. */
static int build_map(shoal_pool *pool, struct source *s, struct shoal_future **done)
{
  struct shoal_future *f = s->job;
  bool star = f->flags & TM_STAR;
  size_t limit = pool->sh->inbox_size;
  long at = -1;
  size_t len = sizeof(struct tmsg);
  uint32_t k = 0;
  size_t first = s->next_item;
  if (f->src.next) {
    at = stage_reserve(pool, limit);
    if (at < 0)
      return SHOAL_ENOMEM;
    while (k < s->chunksize) {
      const void *p;
      size_t l;
      int rc = f->src.next(f->src.ctx, &p, &l);
      if (rc <= 0) {
        f->n_final = true;
        f->source_err = rc < 0 ? rc : 0;
        break;
      }
      size_t i = s->next_item;
      if (items_reserve(f, i)) {
        f->n_final = true;
        f->source_err = SHOAL_ENOMEM;
        break;
      }
      f->n = i + 1;
      s->next_item++;
      size_t enc = star ? 16 + l : l;
      if (enc > pool->max_arg) {
        shoal__item_fail(f, i, SHOAL_E2BIG, 0, 0, 0,
                         "item of %zu bytes is over the pool's max_arg (%zu)", l, pool->max_arg);
        if (k > 0)
          break; /* the items of one message are consecutive */
        first = s->next_item;
        continue;
      }
      if (len + 8 + pad8(enc) > limit) {
        /* It opens the next message: a one-item batch right behind s. */
        struct source *r = calloc(1, sizeof *r);
        size_t rlen = sizeof(struct tmsg) + 8 + pad8(enc);
        char *buf = r ? calloc(1, rlen) : NULL;
        if (!buf) {
          free(r);
          shoal__item_fail(f, i, SHOAL_ENOMEM, 0, 0, 0, "out of memory");
          break;
        }
        struct tmsg *m = (struct tmsg *)buf;
        m->job = f->id;
        m->first = i;
        m->fn = f->fn;
        m->ntasks = 1;
        m->flags = f->flags & TM_STAR;
        put_gen_item(buf + sizeof *m, p, l, star);
        atomic_fetch_add(&f->refs, 1);
        r->job = f;
        r->redo = buf;
        r->redo_len = rlen;
        r->next = s->next;
        s->next = r;
        if (pool->backlog_tail == &s->next)
          pool->backlog_tail = &r->next;
        break;
      }
      put_gen_item(pool->stage + at + len, p, l, star);
      len += 8 + pad8(enc);
      k++;
    }
    if (f->n_final && shoal__job_check_done(pool, f))
      shoal__job_mark(done, f);
  } else {
    size_t end = s->next_item + s->chunksize;
    if (end > f->n || end < s->next_item)
      end = f->n;
    if (s->next_item >= end)
      return 0;
    if (f->src.array && !star) {
      /* Fixed-size items: one tight loop. */
      size_t size = f->src.size, rec = 8 + pad8(size);
      size_t most = (limit - len) / rec;
      k = (uint32_t)(end - s->next_item < most ? end - s->next_item : most);
      at = stage_reserve(pool, len + k * rec);
      if (at < 0)
        return SHOAL_ENOMEM;
      char *dst = pool->stage + at + len;
      const char *src = (const char *)f->src.array + s->next_item * size;
      uint64_t l64 = size;
      for (uint32_t j = 0; j < k; j++, dst += rec, src += size) {
        memcpy(dst, &l64, 8);
        memcpy(dst + 8, src, size);
        if (rec - 8 != size)
          memset(dst + 8 + size, 0, rec - 8 - size);
      }
      len += k * rec;
      s->next_item += k;
      goto staged;
    }
    size_t need = len;
    for (size_t i = s->next_item; i < end; i++) {
      size_t enc = star && !f->src.nargs ? 16 + item_size(&f->src, i) : item_size(&f->src, i);
      if (k > 0 && need + 8 + pad8(enc) > limit)
        break;
      need += 8 + pad8(enc);
      k++;
    }
    at = stage_reserve(pool, need);
    if (at < 0)
      return SHOAL_ENOMEM;
    char *dst = pool->stage + at + len;
    for (uint32_t j = 0; j < k; j++) {
      size_t i = s->next_item + j;
      size_t enc = star && !f->src.nargs ? 16 + item_size(&f->src, i) : item_size(&f->src, i);
      uint64_t l64 = enc;
      memcpy(dst, &l64, 8);
      item_write(&f->src, i, dst + 8, star && !f->src.nargs);
      memset(dst + 8 + enc, 0, pad8(enc) - enc);
      dst += 8 + pad8(enc);
    }
    len = need;
    s->next_item += k;
  }
staged:
  if (k == 0)
    return f->n_final ? 0 : 1;
  struct tmsg *m = (struct tmsg *)(pool->stage + at);
  memset(m, 0, sizeof *m);
  m->job = f->id;
  m->first = first;
  m->fn = f->fn;
  m->ntasks = k;
  m->flags = f->flags & TM_STAR;
  stage_commit(pool, (size_t)at, len);
  f->started = true;
  if (f->src.next)
    return f->n_final ? 0 : 1;
  return s->next_item < f->n ? 1 : 0;
}

/* Turns backlog work into staged messages, up to a round's worth. */
static void build(shoal_pool *pool, struct shoal_future **done)
{
  while (pool->backlog && pool->nstaged < STAGE_MAX_MSGS && pool->stage_len < STAGE_MAX_BYTES) {
    struct source *s = pool->backlog;
    struct shoal_future *f = s->job;
    if (job_dead(f)) {
      source_pop(pool);
      continue;
    }
    if (s->redo) {
      long at = stage_reserve(pool, s->redo_len);
      if (at < 0)
        return;
      memcpy(pool->stage + at, s->redo, s->redo_len);
      struct tmsg *m = (struct tmsg *)(pool->stage + at);
      stage_commit(pool, (size_t)at, s->redo_len);
      if (f->kind == JK_SINGLE) {
        f->seq = m->seq;
        f->queued = true;
      }
      source_pop(pool);
      continue;
    }
    if (f->kind == JK_SINGLE) {
      size_t len = sizeof(struct tmsg) + 8 + pad8(f->arg_len);
      long at = stage_reserve(pool, len);
      if (at < 0)
        return;
      struct tmsg *m = (struct tmsg *)(pool->stage + at);
      memset(m, 0, sizeof *m);
      m->job = f->id;
      m->fn = f->fn;
      m->ntasks = 1;
      m->flags = TM_CANCELLABLE;
      uint64_t l = f->arg_len;
      memcpy(m + 1, &l, 8);
      char *d = (char *)(m + 1) + 8;
      if (l)
        memcpy(d, f->arg, l);
      memset(d + l, 0, pad8(l) - l);
      stage_commit(pool, (size_t)at, len);
      f->seq = m->seq;
      f->queued = true;
      free(f->arg);
      f->arg = NULL;
      source_pop(pool);
      continue;
    }
    int rc = build_map(pool, s, done);
    if (rc < 0)
      return;
    if (rc == 0)
      source_pop(pool);
  }
}

void shoal__pool_pump(shoal_pool *pool, struct shoal_future **done)
{
  while (!pool->tasks_shut) {
    if (pool->nstaged == 0) {
      pool->stage_len = 0;
      build(pool, done);
      if (pool->nstaged == 0)
        break;
    }
    struct iovec *v = pool->staged;
    for (size_t i = 0; i < pool->nstaged; i++)
      v[i].iov_base = pool->stage + (size_t)v[i].iov_base;
    int rc = shoal_queue_put_many(pool->tasks, v, pool->nstaged, SHOAL_NOWAIT);
    for (size_t i = 0; i < pool->nstaged; i++)
      v[i].iov_base = (void *)((char *)v[i].iov_base - pool->stage);
    if (rc <= 0)
      break;
    size_t k = (size_t)rc;
    if (k == pool->nstaged) {
      pool->nstaged = 0;
      continue;
    }
    /* A partial put: keep the rest staged, in order. */
    memmove(pool->staged, pool->staged + k, (pool->nstaged - k) * sizeof *v);
    pool->nstaged -= k;
    break;
  }
}

/* ---- putting work back (a worker died) ------------------------------------------------ */

int shoal__pool_redo(shoal_pool *pool, const struct tmsg *m, const size_t *pos, size_t n)
{
  struct shoal_future *f = shoal__job_find(pool, m->job);
  if (!f || n == 0)
    return 0;
  /* Offsets of each task in m. */
  size_t *off = malloc(m->ntasks * sizeof *off);
  if (!off)
    return SHOAL_ENOMEM;
  const char *base = (const char *)(m + 1);
  size_t at = 0;
  for (uint32_t i = 0; i < m->ntasks; i++) {
    off[i] = at;
    uint64_t len;
    memcpy(&len, base + at, 8);
    at += 8 + pad8(len);
  }
  int rc = 0;
  /* One message per run of consecutive positions. */
  for (size_t a = 0; a < n;) {
    size_t b = a + 1;
    while (b < n && pos[b] == pos[b - 1] + 1)
      b++;
    size_t from = off[pos[a]];
    size_t to = pos[b - 1] + 1 < m->ntasks ? off[pos[b - 1] + 1] : at;
    struct source *s = calloc(1, sizeof *s);
    char *buf = s ? malloc(sizeof *m + (to - from)) : NULL;
    if (!buf) {
      free(s);
      rc = SHOAL_ENOMEM;
      for (size_t i = a; i < b; i++)
        shoal__item_fail(f, m->first + pos[i], SHOAL_ENOMEM, 0, 0, 0,
                         "out of memory while giving the task to another worker");
      a = b;
      continue;
    }
    struct tmsg *r = (struct tmsg *)buf;
    *r = *m;
    r->first = m->first + pos[a];
    r->ntasks = (uint32_t)(b - a);
    memcpy(r + 1, base + from, to - from);
    atomic_fetch_add(&f->refs, 1);
    s->job = f;
    s->redo = buf;
    s->redo_len = sizeof *m + (to - from);
    /* First in line: these tasks have waited already. */
    s->next = pool->backlog;
    pool->backlog = s;
    if (pool->backlog_tail == &pool->backlog)
      pool->backlog_tail = &s->next;
    a = b;
  }
  free(off);
  return rc;
}

/* ---- giving work ----------------------------------------------------------------------- */

/* With the lock held: whether the pool takes new work. */
static int accepting(const shoal_pool *pool)
{
  switch (pool->state) {
  case PS_RUN:
    return 0;
  case PS_BROKEN:
    return SHOAL_EBROKEN;
  default:
    return SHOAL_ECLOSED;
  }
}

static int submit(shoal_pool *pool, shoal_task_fn fn, const void *arg, size_t len,
                  shoal_future_cb callback, shoal_future_cb error_callback, void *ctx,
                  shoal_future **out, bool want)
{
  int rc = shoal__pool_check(pool);
  if (rc)
    return rc;
  if (!fn || (!arg && len) || (want && !out))
    return SHOAL_EINVAL;
  if (len > pool->max_arg)
    return SHOAL_E2BIG;
  struct shoal_future *f = shoal__future_new(pool, JK_SINGLE);
  if (!f)
    return SHOAL_ENOMEM;
  struct source *s = calloc(1, sizeof *s);
  f->arg = malloc(len ? len : 1);
  f->items = calloc(1, sizeof *f->items);
  if (!s || !f->arg || !f->items) {
    free(s);
    shoal__future_unref(f);
    return SHOAL_ENOMEM;
  }
  if (len)
    memcpy(f->arg, arg, len);
  f->arg_len = len;
  f->n = f->cap = 1;
  f->n_final = true;
  f->callback = callback;
  f->error_callback = error_callback;
  f->cb_ctx = ctx;
  s->job = f;
  pthread_mutex_lock(&pool->lk->mu);
  if ((rc = accepting(pool)) == 0)
    f->fn = shoal__pool_fn_id(pool, (void (*)(void))fn, &rc);
  if (rc == 0)
    rc = job_insert(pool, f);
  if (rc) {
    pthread_mutex_unlock(&pool->lk->mu);
    free(s);
    shoal__future_unref(f);
    return rc;
  }
  atomic_fetch_add(&f->refs, 1); /* the pool's, until done */
  source_push(pool, s);
  struct shoal_future *done = NULL;
  shoal__pool_pump(pool, &done);
  pthread_mutex_unlock(&pool->lk->mu);
  shoal__pool_report(done);
  if (out)
    *out = f;
  else
    shoal__future_unref(f);
  return 0;
}

int shoal_pool_submit(shoal_pool *pool, shoal_task_fn fn, const void *arg, size_t len,
                      shoal_future **out)
{
  return submit(pool, fn, arg, len, NULL, NULL, NULL, out, true);
}

int shoal_pool_apply_async(shoal_pool *pool, shoal_task_fn fn, const void *arg, size_t len,
                           shoal_future_cb callback, shoal_future_cb error_callback, void *ctx,
                           shoal_future **out)
{
  return submit(pool, fn, arg, len, callback, error_callback, ctx, out, false);
}

int shoal_pool_apply(shoal_pool *pool, shoal_task_fn fn, const void *arg, size_t len,
                     void **result, size_t *result_len, shoal_task_error *err,
                     shoal_duration timeout)
{
  shoal__deadline d;
  if (!result || !result_len)
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  shoal_future *f;
  if ((rc = shoal_pool_submit(pool, fn, arg, len, &f)) != 0)
    return rc;
  rc = shoal_future_wait(f, timeout);
  if (rc == 0) {
    const void *buf;
    size_t n;
    rc = shoal_future_item(f, 0, &buf, &n);
    if (rc == 0) {
      *result = NULL;
      *result_len = n;
      if (n && !(*result = malloc(n)))
        rc = SHOAL_ENOMEM;
      else if (n)
        memcpy(*result, buf, n);
    } else if (err) {
      shoal_future_item_error(f, 0, err);
    }
  }
  shoal_future_destroy(f);
  return rc;
}

/* Checks a shoal_items; star says tuples are allowed. */
static int items_check(const shoal_items *s, bool star)
{
  if (!s)
    return SHOAL_EINVAL;
  for (size_t i = 0; i < sizeof s->reserved / sizeof s->reserved[0]; i++)
    if (s->reserved[i])
      return SHOAL_EINVAL;
  int forms = (s->iov != NULL) + (s->array != NULL) + (s->next != NULL);
  if (forms > 1 || (s->nargs && !star) || (s->nargs && !s->iov))
    return SHOAL_EINVAL;
  if (forms == 0 && s->n)
    return SHOAL_EINVAL;
  if (s->next && s->n)
    return SHOAL_EINVAL;
  if (s->nargs && s->n > SIZE_MAX / s->nargs)
    return SHOAL_EINVAL;
  if (s->size && s->n > SIZE_MAX / s->size)
    return SHOAL_EINVAL;
  return 0;
}

static int opts_check(const shoal_map_opts *o, bool iter)
{
  if (!o)
    return 0;
  for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
    if (o->reserved[i])
      return SHOAL_EINVAL;
  if (iter && (o->callback || o->error_callback))
    return SHOAL_EINVAL;
  return 0;
}

int shoal__pool_map_start(shoal_pool *pool, void (*fn)(void), bool star, const shoal_items *items,
                          const shoal_map_opts *opts, int iter, shoal_future **out)
{
  int rc = shoal__pool_check(pool);
  if (rc)
    return rc;
  if (!fn || !out)
    return SHOAL_EINVAL;
  if ((rc = items_check(items, star)) || (rc = opts_check(opts, iter)))
    return rc;
  if (!items->next) {
    for (size_t i = 0; i < items->n; i++) {
      if (!items->array && !items->nargs && !items->iov[i].iov_base && items->iov[i].iov_len)
        return SHOAL_EINVAL;
      size_t enc = item_size(items, i) + (star && !items->nargs ? 16 : 0);
      if (enc > pool->max_arg)
        return SHOAL_E2BIG;
      if (!items->array)
        for (size_t j = 0; j < items->nargs; j++)
          if (!items->iov[i * items->nargs + j].iov_base && items->iov[i * items->nargs + j].iov_len)
            return SHOAL_EINVAL;
      if (items->array)
        break; /* all the same size */
    }
    if (items->nargs > 64)
      return SHOAL_EINVAL;
  }
  struct shoal_future *f = shoal__future_new(pool, JK_MAP);
  if (!f)
    return SHOAL_ENOMEM;
  struct source *s = calloc(1, sizeof *s);
  f->src = *items;
  f->flags = (star ? TM_STAR : 0) | (iter ? TM_ITER : 0) | (iter == 2 ? TM_UNORDERED : 0);
  if (!items->next) {
    f->n = items->n;
    f->n_final = true;
    if (f->n && !(f->items = calloc(f->n, sizeof *f->items)))
      f->n = 0, free(s), s = NULL;
    f->cap = f->n;
  }
  if (!s) {
    shoal__future_unref(f);
    return SHOAL_ENOMEM;
  }
  if (opts) {
    f->progress = opts->progress;
    f->progress_ctx = opts->progress_ctx;
    f->callback = opts->callback;
    f->error_callback = opts->error_callback;
    f->cb_ctx = opts->ctx;
  }
  size_t chunk = opts && opts->chunksize ? opts->chunksize : 0;
  if (!chunk) {
    if (iter || items->next) {
      chunk = 1;
    } else {
      size_t w4 = (size_t)pool->nworkers * 4;
      chunk = items->n / w4 + (items->n % w4 ? 1 : 0);
      if (!chunk)
        chunk = 1;
    }
  }
  s->job = f;
  s->chunksize = chunk;
  struct shoal_future *done = NULL;
  pthread_mutex_lock(&pool->lk->mu);
  if ((rc = accepting(pool)) == 0)
    f->fn = shoal__pool_fn_id(pool, fn, &rc);
  if (rc == 0)
    rc = job_insert(pool, f);
  if (rc) {
    pthread_mutex_unlock(&pool->lk->mu);
    free(s);
    shoal__future_unref(f);
    return rc;
  }
  atomic_fetch_add(&f->refs, 1); /* the pool's, until done */
  if (f->n_final && f->n == 0) {
    free(s);
    if (shoal__job_check_done(pool, f))
      shoal__job_mark(&done, f);
  } else {
    source_push(pool, s);
    shoal__pool_pump(pool, &done);
  }
  pthread_mutex_unlock(&pool->lk->mu);
  shoal__pool_report(done);
  *out = f;
  return 0;
}

int shoal_pool_map_async(shoal_pool *pool, shoal_task_fn fn, const shoal_items *items,
                         const shoal_map_opts *opts, shoal_future **out)
{
  return shoal__pool_map_start(pool, (void (*)(void))fn, false, items, opts, false, out);
}

int shoal_pool_starmap_async(shoal_pool *pool, shoal_star_fn fn, const shoal_items *items,
                             const shoal_map_opts *opts, shoal_future **out)
{
  return shoal__pool_map_start(pool, (void (*)(void))fn, true, items, opts, false, out);
}

static int map_wait(int rc, shoal_future **out, shoal_duration timeout)
{
  if (rc)
    return rc;
  return shoal_future_get(*out, timeout);
}

int shoal_pool_map(shoal_pool *pool, shoal_task_fn fn, const shoal_items *items,
                   const shoal_map_opts *opts, shoal_future **out, shoal_duration timeout)
{
  if (timeout < 0 && timeout != SHOAL_FOREVER)
    return SHOAL_EINVAL;
  return map_wait(shoal_pool_map_async(pool, fn, items, opts, out), out, timeout);
}

int shoal_pool_starmap(shoal_pool *pool, shoal_star_fn fn, const shoal_items *items,
                       const shoal_map_opts *opts, shoal_future **out, shoal_duration timeout)
{
  if (timeout < 0 && timeout != SHOAL_FOREVER)
    return SHOAL_EINVAL;
  return map_wait(shoal_pool_starmap_async(pool, fn, items, opts, out), out, timeout);
}
