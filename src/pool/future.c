// SPDX-License-Identifier: MIT
// Futures: one job's results (a single task, or every item of a map), how
// callers wait for them (alone, many at once, as they complete, or item by
// item through an imap iterator), cancellation, callbacks and the progress
// bar.  Every completion bumps one process-wide generation number; waiters
// sleep on a condition variable until it changes, then look again.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pool/internal.h"

/* ---- waiting ------------------------------------------------------------------------- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond;
static _Atomic uint64_t g_gen;
static _Atomic int g_waiters;

static void init_cond(void)
{
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&g_cond, &a);
  pthread_condattr_destroy(&a);
}

uint64_t shoal__pool_gen(void)
{
  return atomic_load(&g_gen);
}

void shoal__pool_notify(void)
{
  /* Sequentially consistent: a waiter either sees the new generation or has
   * raised g_waiters before we read it. */
  atomic_fetch_add(&g_gen, 1);
  if (atomic_load(&g_waiters) > 0) {
    pthread_once(&once, init_cond);
    pthread_mutex_lock(&g_mu);
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_mu);
  }
}

int shoal__pool_wait_change(uint64_t seen, const shoal__deadline *d)
{
  if (d->nowait)
    return SHOAL_EAGAIN;
  pthread_once(&once, init_cond);
  int rc = 0;
  pthread_mutex_lock(&g_mu);
  atomic_fetch_add(&g_waiters, 1);
  while (atomic_load(&g_gen) == seen) {
    if (d->at == SHOAL__PLAT_NEVER) {
      pthread_cond_wait(&g_cond, &g_mu);
      continue;
    }
    if (shoal__plat_now() >= d->at) {
      rc = SHOAL_ETIMEDOUT;
      break;
    }
    struct timespec ts = {(time_t)(d->at / 1000000000u), (long)(d->at % 1000000000u)};
    pthread_cond_timedwait(&g_cond, &g_mu, &ts);
  }
  atomic_fetch_sub(&g_waiters, 1);
  pthread_mutex_unlock(&g_mu);
  return rc;
}

/* ---- life of a future -------------------------------------------------------------------- */

struct shoal_future *shoal__future_new(shoal_pool *pool, int kind)
{
  struct shoal_future *f = calloc(1, sizeof *f);
  if (!f)
    return NULL;
  atomic_init(&f->refs, 1);
  atomic_init(&f->state, FS_PENDING);
  f->lk = pool->lk;
  atomic_fetch_add(&f->lk->refs, 1);
  f->pool = pool;
  f->kind = kind;
  f->cbs_tail = &f->cbs;
  return f;
}

void shoal__future_unref(struct shoal_future *f)
{
  if (atomic_fetch_sub(&f->refs, 1) != 1)
    return;
  for (struct block *b = f->blocks, *next; b; b = next) {
    next = b->next;
    free(b);
  }
  for (struct cb *c = f->cbs, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(f->items);
  free(f->arg);
  free(f->order);
  shoal__pool_lock_unref(f->lk);
  free(f);
}

/* Allocates a failure record with its message, kept with f's blocks. */
static struct failure *failure_new(struct shoal_future *f, const char *msg, size_t len)
{
  struct block *b = malloc(sizeof *b + sizeof(struct failure) + len + 1);
  if (!b)
    return NULL;
  b->next = f->blocks;
  f->blocks = b;
  struct failure *fl = (struct failure *)(b + 1);
  memset(fl, 0, sizeof *fl);
  memcpy(fl->msg, msg, len);
  fl->msg[len] = '\0';
  return fl;
}

/* Out of memory for a failure record: the item still fails, without details. */
static struct failure no_details;

bool shoal__item_set(struct shoal_future *f, size_t i, const char *data, uint32_t len, int code,
                     int pid)
{
  if (i >= f->n || item_done(&f->items[i]))
    return false;
  struct item *it = &f->items[i];
  if (code == 0 && len <= sizeof it->u.bytes && !(f->flags & TM_ITER)) {
    memcpy(it->u.bytes, data, len);
    it->len = ITEM_DONE | ITEM_INLINE | len;
    it->code = 0;
    f->ndone++;
    goto order;
  }
  if (code) {
    size_t n = len < SHOAL_TASK_MSG_MAX - 1 ? len : SHOAL_TASK_MSG_MAX - 1;
    struct failure *fl = failure_new(f, data, n);
    if (fl)
      fl->pid = pid;
    else
      fl = &no_details, n = 0;
    data = (const char *)fl;
    len = (uint32_t)n;
    f->nfailed++;
  }
  it->u.data = data;
  it->len = ITEM_DONE | len;
  it->code = code;
  f->ndone++;
order:
  if (f->flags & TM_UNORDERED) {
    if (f->norder == f->order_cap) {
      size_t cap = f->order_cap ? f->order_cap * 2 : 64;
      size_t *o = realloc(f->order, cap * sizeof *o);
      if (!o)
        return true; /* out of memory: an unordered iteration ends early */
      f->order = o;
      f->order_cap = cap;
    }
    f->order[f->norder++] = i;
  }
  return true;
}

void shoal__item_fail(struct shoal_future *f, size_t i, int code, int signal, int exitcode,
                      int pid, const char *fmt, ...)
{
  if (i >= f->n || item_done(&f->items[i]))
    return;
  char msg[SHOAL_TASK_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t len = n < 0 ? 0 : (size_t)n >= sizeof msg ? sizeof msg - 1 : (size_t)n;
  shoal__item_set(f, i, msg, (uint32_t)len, code, pid);
  struct failure *fl = (struct failure *)f->items[i].u.data;
  if (fl != &no_details) {
    fl->signal = signal;
    fl->exitcode = exitcode;
  }
}

bool shoal__job_check_done(shoal_pool *pool, struct shoal_future *f)
{
  if (atomic_load_explicit(&f->state, memory_order_relaxed) != FS_PENDING || !f->n_final ||
      f->ndone < f->n)
    return false;
  /* Release: the items are complete before anyone sees the state. */
  atomic_store_explicit(&f->state, FS_DONE, memory_order_release);
  shoal__job_unlink(pool, f);
  f->pool = NULL;
  shoal__pool_idle(pool);
  return true;
}

void shoal__job_abort(shoal_pool *pool, struct shoal_future *f, int code, const char *msg)
{
  if (atomic_load_explicit(&f->state, memory_order_relaxed) != FS_PENDING)
    return;
  f->n_final = true;
  for (size_t i = 0; i < f->n; i++)
    shoal__item_fail(f, i, code, 0, 0, 0, "%s", msg);
  shoal__job_check_done(pool, f);
}

void shoal__job_mark(struct shoal_future **list, struct shoal_future *f)
{
  if (f->on_done_list)
    return;
  f->on_done_list = true;
  atomic_fetch_add(&f->refs, 1);
  f->done_next = *list;
  *list = f;
}

void shoal__pool_report(struct shoal_future *list)
{
  /* Waiters care about jobs that ended and iterators that got items. */
  bool wake = false;
  while (list) {
    struct shoal_future *f = list;
    list = f->done_next;
    pthread_mutex_lock(&f->lk->mu);
    f->on_done_list = false;
    bool done = atomic_load(&f->state) != FS_PENDING;
    bool first_report = done && !f->reported;
    wake = wake || done || (f->flags & TM_ITER);
    struct cb *cbs = NULL;
    if (first_report) {
      f->reported = true;
      cbs = f->cbs;
      f->cbs = NULL;
      f->cbs_tail = &f->cbs;
    }
    size_t ndone = f->ndone, total = f->n_final ? f->n : 0;
    bool progress = f->progress && (ndone != f->progress_seen || first_report);
    f->progress_seen = ndone;
    pthread_mutex_unlock(&f->lk->mu);
    if (progress)
      f->progress(ndone, total, f->progress_ctx);
    if (first_report) {
      bool ok = !f->nfailed && !f->source_err;
      if (ok && f->callback)
        f->callback(f, f->cb_ctx);
      if (!ok && f->error_callback)
        f->error_callback(f, f->cb_ctx);
      for (struct cb *c = cbs, *next; c; c = next) {
        next = c->next;
        c->fn(f, c->ctx);
        free(c);
      }
      shoal__future_unref(f); /* the pool's reference */
    }
    shoal__future_unref(f); /* the list's */
  }
  if (wake)
    shoal__pool_notify();
}

/* ---- the future API --------------------------------------------------------------------- */

static bool is_done(struct shoal_future *f)
{
  return atomic_load_explicit(&f->state, memory_order_acquire) != FS_PENDING;
}

int shoal_future_wait(shoal_future *f, shoal_duration timeout)
{
  shoal__deadline d;
  if (!f)
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  for (;;) {
    uint64_t seen = shoal__pool_gen();
    if (is_done(f))
      return 0;
    if ((rc = shoal__pool_wait_change(seen, &d)) != 0)
      return rc == SHOAL_ETIMEDOUT ? shoal__deadline_code(&d) : rc;
  }
}

int shoal_future_done(shoal_future *f)
{
  return f ? is_done(f) : SHOAL_EINVAL;
}

int shoal_future_item(shoal_future *f, size_t i, const void **buf, size_t *len)
{
  if (!f)
    return SHOAL_EINVAL;
  if (!is_done(f))
    return SHOAL_EAGAIN;
  if (i >= f->n)
    return SHOAL_ERANGE;
  const struct item *it = &f->items[i];
  if (buf)
    *buf = it->code ? NULL : item_ptr(it);
  if (len)
    *len = it->code ? 0 : item_len(it);
  return it->code;
}

static void fill_error(const struct shoal_future *f, size_t i, shoal_task_error *err)
{
  const struct item *it = &f->items[i];
  memset(err, 0, sizeof *err);
  err->code = it->code;
  err->index = i;
  if (it->code) {
    const struct failure *fl = (const struct failure *)it->u.data;
    err->signal = fl->signal;
    err->exitcode = fl->exitcode;
    err->pid = fl->pid;
    if (item_len(it))
      memcpy(err->message, fl->msg, item_len(it));
  }
}

int shoal_future_item_error(shoal_future *f, size_t i, shoal_task_error *err)
{
  if (!f || !err)
    return SHOAL_EINVAL;
  if (!is_done(f))
    return SHOAL_EAGAIN;
  if (i >= f->n)
    return SHOAL_ERANGE;
  fill_error(f, i, err);
  return err->code != 0;
}

/* The first failed item of a done future, or f->n. */
static size_t first_failed(const struct shoal_future *f)
{
  if (!f->nfailed)
    return f->n;
  for (size_t i = 0; i < f->n; i++)
    if (f->items[i].code)
      return i;
  return f->n;
}

int shoal_future_get(shoal_future *f, shoal_duration timeout)
{
  int rc = shoal_future_wait(f, timeout);
  if (rc)
    return rc;
  if (f->cancelled)
    return SHOAL_ECANCELED;
  size_t i = first_failed(f);
  if (i < f->n)
    return f->items[i].code;
  return f->source_err;
}

int shoal_future_result(shoal_future *f, const void **buf, size_t *len, shoal_duration timeout)
{
  int rc = shoal_future_wait(f, timeout);
  if (rc)
    return rc;
  if (f->cancelled)
    return SHOAL_ECANCELED;
  return shoal_future_item(f, 0, buf, len);
}

int shoal_future_exception(shoal_future *f, shoal_task_error *err, shoal_duration timeout)
{
  int rc = shoal_future_wait(f, timeout);
  if (rc)
    return rc;
  size_t i = first_failed(f);
  if (i < f->n) {
    if (err)
      fill_error(f, i, err);
    return 1;
  }
  if (f->cancelled || f->source_err) {
    if (err) {
      memset(err, 0, sizeof *err);
      err->code = f->cancelled ? SHOAL_ECANCELED : f->source_err;
      snprintf(err->message, sizeof err->message, "%s",
               f->cancelled ? "cancelled" : "the items' generator failed");
    }
    return 1;
  }
  return 0;
}

int shoal_future_running(shoal_future *f)
{
  if (!f)
    return SHOAL_EINVAL;
  int rc = 0;
  pthread_mutex_lock(&f->lk->mu);
  if (!is_done(f) && f->pool) {
    if (f->kind == JK_MAP)
      rc = f->started;
    else if (f->queued)
      rc = atomic_load(pool_tag(f->pool->sh, f->seq)) == (f->seq << 2 | TAG_TAKEN);
  }
  pthread_mutex_unlock(&f->lk->mu);
  return rc;
}

int shoal_future_cancel(shoal_future *f)
{
  if (!f)
    return SHOAL_EINVAL;
  struct shoal_future *done = NULL;
  int rc = 0;
  pthread_mutex_lock(&f->lk->mu);
  if (is_done(f)) {
    rc = f->cancelled;
  } else if (f->kind == JK_SINGLE && f->pool) {
    uint64_t want = f->seq << 2 | TAG_QUEUED;
    if (!f->queued ||
        atomic_compare_exchange_strong(pool_tag(f->pool->sh, f->seq), &want,
                                       f->seq << 2 | TAG_CANCELLED)) {
      f->cancelled = true;
      shoal__job_abort(f->pool, f, SHOAL_ECANCELED, "cancelled");
      shoal__job_mark(&done, f);
      rc = 1;
    }
  }
  pthread_mutex_unlock(&f->lk->mu);
  if (done)
    shoal__pool_report(done);
  return rc;
}

int shoal_future_cancelled(shoal_future *f)
{
  if (!f)
    return SHOAL_EINVAL;
  return is_done(f) && f->cancelled;
}

int shoal_future_add_done_callback(shoal_future *f, shoal_future_cb cb, void *ctx)
{
  if (!f || !cb)
    return SHOAL_EINVAL;
  pthread_mutex_lock(&f->lk->mu);
  if (f->reported) {
    pthread_mutex_unlock(&f->lk->mu);
    cb(f, ctx);
    return 0;
  }
  struct cb *c = malloc(sizeof *c);
  if (!c) {
    pthread_mutex_unlock(&f->lk->mu);
    return SHOAL_ENOMEM;
  }
  c->fn = cb;
  c->ctx = ctx;
  c->next = NULL;
  *f->cbs_tail = c;
  f->cbs_tail = &c->next;
  pthread_mutex_unlock(&f->lk->mu);
  return 0;
}

long shoal_future_len(shoal_future *f)
{
  if (!f)
    return SHOAL_EINVAL;
  pthread_mutex_lock(&f->lk->mu);
  long n = (long)f->n;
  pthread_mutex_unlock(&f->lk->mu);
  return n;
}

long shoal_future_failed(shoal_future *f)
{
  if (!f)
    return SHOAL_EINVAL;
  pthread_mutex_lock(&f->lk->mu);
  long n = (long)f->nfailed;
  pthread_mutex_unlock(&f->lk->mu);
  return n;
}

void shoal_future_destroy(shoal_future *f)
{
  if (f)
    shoal__future_unref(f);
}

/* ---- many futures ----------------------------------------------------------------------- */

static bool failed_done(struct shoal_future *f)
{
  return is_done(f) && (f->nfailed || f->cancelled || f->source_err);
}

int shoal_futures_wait(shoal_future **fs, size_t n, int return_when, shoal_duration timeout)
{
  shoal__deadline d;
  if ((!fs && n) || return_when < SHOAL_ALL_COMPLETED || return_when > SHOAL_FIRST_EXCEPTION)
    return SHOAL_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!fs[i])
      return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  for (;;) {
    uint64_t seen = shoal__pool_gen();
    size_t done = 0;
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
      done += is_done(fs[i]);
      failed = failed || failed_done(fs[i]);
    }
    bool ok = done == n || (return_when == SHOAL_FIRST_COMPLETED && done > 0) ||
              (return_when == SHOAL_FIRST_EXCEPTION && failed);
    if (ok || shoal__pool_wait_change(seen, &d) != 0)
      break;
  }
  /* Done ones first, as concurrent.futures.wait's (done, not_done). */
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (is_done(fs[i])) {
      shoal_future *t = fs[k];
      fs[k++] = fs[i];
      fs[i] = t;
    }
  }
  return (int)(k > INT32_MAX ? INT32_MAX : k);
}

struct shoal_as_completed {
  shoal_future **fs;
  size_t n, given;
};

int shoal_as_completed_create(shoal_as_completed **out, shoal_future *const *fs, size_t n)
{
  if (!out || (!fs && n))
    return SHOAL_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!fs[i])
      return SHOAL_EINVAL;
  shoal_as_completed *it = calloc(1, sizeof *it);
  if (!it || (n && !(it->fs = malloc(n * sizeof *it->fs)))) {
    free(it);
    return SHOAL_ENOMEM;
  }
  if (n)
    memcpy(it->fs, fs, n * sizeof *fs);
  it->n = n;
  *out = it;
  return 0;
}

int shoal_as_completed_next(shoal_as_completed *it, shoal_future **f, shoal_duration timeout)
{
  shoal__deadline d;
  if (!it || !f)
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  for (;;) {
    if (it->given == it->n)
      return SHOAL_EEOF;
    uint64_t seen = shoal__pool_gen();
    for (size_t i = it->given; i < it->n; i++) {
      if (is_done(it->fs[i])) {
        shoal_future *t = it->fs[i];
        it->fs[i] = it->fs[it->given];
        it->fs[it->given++] = t;
        *f = t;
        return 0;
      }
    }
    if ((rc = shoal__pool_wait_change(seen, &d)) != 0)
      return rc == SHOAL_ETIMEDOUT ? shoal__deadline_code(&d) : rc;
  }
}

void shoal_as_completed_destroy(shoal_as_completed *it)
{
  if (!it)
    return;
  free(it->fs);
  free(it);
}

/* ---- imap iterators ----------------------------------------------------------------------- */

struct shoal_pool_iter {
  struct shoal_future *f;
  bool unordered;
  size_t next;      /* ordered: next index; unordered: next position in f->order */
  size_t last;      /* the item given last */
  bool has_last;
};

static int imap(shoal_pool *pool, shoal_task_fn fn, const shoal_items *items,
                const shoal_map_opts *opts, shoal_pool_iter **out, bool unordered)
{
  if (!out)
    return SHOAL_EINVAL;
  shoal_pool_iter *it = calloc(1, sizeof *it);
  if (!it)
    return SHOAL_ENOMEM;
  shoal_future *f;
  int rc = shoal__pool_map_start(pool, (void (*)(void))fn, false, items, opts,
                                 unordered ? 2 : 1, &f);
  if (rc) {
    free(it);
    return rc;
  }
  it->f = f;
  it->unordered = unordered;
  *out = it;
  return 0;
}

int shoal_pool_imap(shoal_pool *pool, shoal_task_fn fn, const shoal_items *items,
                    const shoal_map_opts *opts, shoal_pool_iter **out)
{
  return imap(pool, fn, items, opts, out, false);
}

int shoal_pool_imap_unordered(shoal_pool *pool, shoal_task_fn fn, const shoal_items *items,
                              const shoal_map_opts *opts, shoal_pool_iter **out)
{
  return imap(pool, fn, items, opts, out, true);
}

int shoal_pool_iter_next(shoal_pool_iter *it, size_t *index, const void **buf, size_t *len,
                         shoal_duration timeout)
{
  shoal__deadline d;
  if (!it)
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  struct shoal_future *f = it->f;
  for (;;) {
    uint64_t seen = shoal__pool_gen();
    pthread_mutex_lock(&f->lk->mu);
    bool found = false;
    size_t i = 0;
    if (it->unordered) {
      if (it->next < f->norder) {
        i = f->order[it->next++];
        found = true;
      }
    } else if (it->next < f->n && item_done(&f->items[it->next])) {
      i = it->next++;
      found = true;
    }
    struct item copy;
    bool end = false;
    if (found)
      copy = f->items[i];
    else
      end = f->n_final && (it->unordered ? f->ndone == f->n : it->next >= f->n);
    pthread_mutex_unlock(&f->lk->mu);
    if (found) {
      it->last = i;
      it->has_last = true;
      if (index)
        *index = i;
      /* Iterator jobs keep no result inline: the pointer is stable. */
      if (buf)
        *buf = copy.code ? NULL : item_ptr(&copy);
      if (len)
        *len = copy.code ? 0 : item_len(&copy);
      return copy.code;
    }
    if (end)
      return f->source_err ? f->source_err : SHOAL_EEOF;
    if ((rc = shoal__pool_wait_change(seen, &d)) != 0)
      return rc == SHOAL_ETIMEDOUT ? shoal__deadline_code(&d) : rc;
  }
}

int shoal_pool_iter_error(shoal_pool_iter *it, shoal_task_error *err)
{
  if (!it || !err || !it->has_last)
    return SHOAL_EINVAL;
  pthread_mutex_lock(&it->f->lk->mu);
  fill_error(it->f, it->last, err);
  pthread_mutex_unlock(&it->f->lk->mu);
  return err->code != 0;
}

shoal_future *shoal_pool_iter_future(shoal_pool_iter *it)
{
  return it ? it->f : NULL;
}

void shoal_pool_iter_destroy(shoal_pool_iter *it)
{
  if (!it)
    return;
  shoal__future_unref(it->f);
  free(it);
}

/* ---- the progress bar --------------------------------------------------------------------- */

void shoal_progress_bar(size_t done, size_t total, void *ctx)
{
  static _Atomic uint64_t last;
  (void)ctx;
  if (!isatty(STDERR_FILENO))
    return;
  bool final = total > 0 && done >= total;
  uint64_t now = shoal__plat_now(), prev = atomic_load(&last);
  if (!final && now - prev < 100000000u)
    return;
  atomic_store(&last, now);
  char line[128];
  int n;
  if (total) {
    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    size_t fill = done * WIDTH / total;
    for (size_t i = 0; i < WIDTH; i++)
      bar[i] = i < fill ? '#' : '-';
    bar[WIDTH] = '\0';
    n = snprintf(line, sizeof line, "\r[%s] %zu/%zu %3zu%%%s", bar, done, total,
                 done * 100 / total, final ? "\n" : "");
  } else {
    n = snprintf(line, sizeof line, "\r%zu done", done);
  }
  if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
    return;
}
