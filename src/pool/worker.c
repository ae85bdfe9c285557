// SPDX-License-Identifier: MIT
// The worker: takes task batches from the task queue, runs them, and puts
// their results into the result queue, keeping its slot up to date so that
// the pool can tell what it was doing if it dies (see internal.h).  The same
// loop runs in worker threads, forked worker processes and spawned ones.  Also
// the task-side API (shoal_task_*) and the registry of functions spawn
// workers find by name.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/name_table.h"
#include "pool/internal.h"

/* Results wait at most this long in a worker's scratch before they are sent. */
#define FLUSH_NS 1000000u

struct wctx {
  shoal_queue *tasks, *results;
  struct pool_shared *sh;
  struct wslot *slot;
  uint32_t slot_idx;
  uint64_t gen;
  bool spawned;
  bool thread;
  long maxtasks;
  char *inbox, *scratch;
  size_t scratch_cap; /* bytes for records after the header */
  int pid;
  size_t used;        /* bytes of records in the scratch */
  uint32_t nrec;
  uint64_t pending_since;
  uint64_t last_check;
  unsigned check_every, since_check;
  void (*fns[POOL_NAMES_MAX])(void); /* spawn: resolved names */
};

struct shoal_task_out {
  struct wctx *w;
  uint64_t index;
  char *res;     /* the result bytes: in the scratch, or in heap after its headers */
  size_t len;
  char *heap;    /* a result too large for the scratch: a whole message */
  size_t heap_cap;
  bool has_msg;
  char msg[SHOAL_TASK_MSG_MAX];
};

/* ---- the task-side API --------------------------------------------------------- */

static const size_t HEAP_HDR = sizeof(struct rmsg) + sizeof(struct rrec);

/* Sends the records in the scratch as one message. */
static int flush(struct wctx *w)
{
  if (w->used == 0 && w->nrec == 0)
    return 0;
  struct rmsg *h = (struct rmsg *)w->scratch;
  h->nrec = w->nrec;
  int rc = shoal_queue_put(w->results, w->scratch, sizeof *h + w->used, SHOAL_FOREVER);
  /* Sent (or the pool is gone): the records are no longer ours to keep. */
  atomic_store_explicit(&w->slot->valid, 0, memory_order_release);
  w->used = 0;
  w->nrec = 0;
  w->pending_since = 0;
  return rc;
}

void *shoal_task_buffer(shoal_task_out *out, size_t len)
{
  if (!out)
    return NULL;
  struct wctx *w = out->w;
  size_t need = sizeof(struct rrec) + pad8(len);
  if (need > w->scratch_cap || len > UINT32_MAX) {
    if (!out->heap || out->heap_cap < HEAP_HDR + pad8(len)) {
      char *h = realloc(out->heap, HEAP_HDR + pad8(len));
      if (!h)
        return NULL;
      out->heap = h;
      out->heap_cap = HEAP_HDR + pad8(len);
    }
    out->res = out->heap + HEAP_HDR;
  } else {
    if (w->used + need > w->scratch_cap)
      flush(w);
    out->res = w->scratch + sizeof(struct rmsg) + w->used + sizeof(struct rrec);
  }
  out->len = len;
  return out->res;
}

int shoal_task_return(shoal_task_out *out, const void *buf, size_t len)
{
  if (!out || (!buf && len))
    return SHOAL_EINVAL;
  void *dst = shoal_task_buffer(out, len);
  if (!dst)
    return SHOAL_ENOMEM;
  if (len)
    memcpy(dst, buf, len);
  return 0;
}

int shoal_task_fail(shoal_task_out *out, int code, const char *fmt, ...)
{
  if (code == 0)
    code = SHOAL_EINVAL;
  if (!out)
    return code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out->msg, sizeof out->msg, fmt ? fmt : "", ap);
  va_end(ap);
  out->has_msg = true;
  return code;
}

long shoal_task_index(const shoal_task_out *out)
{
  return out ? (long)out->index : SHOAL_EINVAL;
}

/* ---- recording results ------------------------------------------------------------ */

/* Appends a record to the scratch; the bytes may already be in place. */
static void record(struct wctx *w, uint64_t index, int code, const char *bytes, size_t len)
{
  size_t need = sizeof(struct rrec) + pad8(len);
  if (w->used + need > w->scratch_cap)
    flush(w);
  char *at = w->scratch + sizeof(struct rmsg) + w->used;
  if (bytes && bytes != at + sizeof(struct rrec))
    memmove(at + sizeof(struct rrec), bytes, len);
  struct rrec r = {index, code, (uint32_t)len};
  memcpy(at, &r, sizeof r);
  w->used += need;
  w->nrec++;
  /* Release: the record is whole before a collector salvaging a dead
   * worker's scratch can count it. */
  atomic_store_explicit(&w->slot->valid, w->used, memory_order_release);
}

/* Stores the outcome of the task at index, as `out` left it. */
static void finish_task(struct wctx *w, shoal_task_out *out, int code)
{
  if (code != 0) {
    const char *msg = out->has_msg ? out->msg : "";
    record(w, out->index, code, msg, strlen(msg));
    return;
  }
  if (!out->res) {
    record(w, out->index, 0, NULL, 0);
    return;
  }
  if (out->res != out->heap + HEAP_HDR) {
    record(w, out->index, 0, out->res, out->len);
    return;
  }
  /* A large result travels alone, after what the scratch holds. */
  flush(w);
  struct rmsg *h = (struct rmsg *)out->heap;
  memcpy(h, w->scratch, sizeof *h);
  h->nrec = 1;
  struct rrec r = {out->index, 0, (uint32_t)out->len};
  memcpy(out->heap + sizeof *h, &r, sizeof r);
  memset(out->res + out->len, 0, pad8(out->len) - out->len);
  int rc = shoal_queue_put(w->results, out->heap, HEAP_HDR + pad8(out->len), SHOAL_FOREVER);
  if (rc == SHOAL_E2BIG) {
    char msg[160];
    int n = snprintf(msg, sizeof msg,
                     "result of %zu bytes is larger than the pool's result queue can carry",
                     out->len);
    record(w, out->index, SHOAL_E2BIG, msg, (size_t)n);
  }
}

/* After each task: send results that have waited too long.  The clock is
 * read every check_every tasks, which adapts: every task when tasks are slow,
 * up to every 256th when they take microseconds. */
static void maybe_flush(struct wctx *w)
{
  if (++w->since_check < w->check_every)
    return;
  w->since_check = 0;
  uint64_t now = shoal__plat_now();
  uint64_t elapsed = now - w->last_check;
  w->last_check = now;
  if (elapsed < FLUSH_NS / 10)
    w->check_every = w->check_every < 256 ? w->check_every * 2 : 256;
  else
    w->check_every = 1;
  if (w->used == 0)
    return;
  if (elapsed >= FLUSH_NS || (w->pending_since && now - w->pending_since >= FLUSH_NS))
    flush(w);
  else if (!w->pending_since)
    w->pending_since = now;
}

/* ---- running a batch ---------------------------------------------------------------- */

static void (*resolve(struct wctx *w, uint64_t fn))(void)
{
  if (!w->spawned)
    return (void (*)(void))(uintptr_t)fn;
  if (fn >= POOL_NAMES_MAX || fn >= atomic_load(&w->sh->nnames))
    return NULL;
  if (!w->fns[fn])
    w->fns[fn] = shoal__pool_entry_fn(w->sh->names[fn]);
  return w->fns[fn];
}

/* Splits a star task's argument into iovecs (at most `max`); returns the count
 * or -1 when malformed. */
static long star_args(const char *arg, size_t len, struct iovec *v, size_t max)
{
  if (len < 8)
    return -1;
  uint64_t n;
  memcpy(&n, arg, 8);
  if (n > max)
    return -1;
  size_t at = 8;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t l;
    if (at + 8 > len)
      return -1;
    memcpy(&l, arg + at, 8);
    at += 8;
    if (l > len - at)
      return -1;
    v[i].iov_base = (void *)(arg + at);
    v[i].iov_len = l;
    at += pad8(l);
  }
  return (long)n;
}

#define STAR_MAX 64

static void run_batch(struct wctx *w, const struct tmsg *m, size_t mlen)
{
  struct rmsg *h = (struct rmsg *)w->scratch;
  h->kind = RM_RESULTS;
  h->slot = w->slot_idx;
  h->pid = w->pid;
  h->job = m->job;
  h->gen = w->gen;
  void (*fn)(void) = resolve(w, m->fn);
  shoal_task_out out;
  out.w = w;
  out.heap = NULL;
  out.heap_cap = 0;
  const char *p = (const char *)(m + 1), *end = (const char *)m + mlen;
  for (uint32_t i = 0; i < m->ntasks; i++) {
    uint64_t len;
    memcpy(&len, p, 8);
    const char *arg = p + 8;
    p = arg + pad8(len);
    out.index = m->first + i;
    out.res = NULL;
    out.len = 0;
    out.has_msg = false;
    atomic_store_explicit(&w->slot->running, i + 1, memory_order_release);
    int code;
    if (!fn || p > end) {
      code = shoal_task_fail(&out, SHOAL_ENOENT, "no function %s in this worker",
                             w->spawned ? "registered under that name" : "given");
    } else if (m->flags & TM_STAR) {
      struct iovec v[STAR_MAX];
      long n = star_args(arg, len, v, STAR_MAX);
      code = n < 0 ? shoal_task_fail(&out, SHOAL_EINVAL, "malformed or over-long argument tuple")
                   : ((shoal_star_fn)fn)(v, (size_t)n, &out);
    } else {
      code = ((shoal_task_fn)fn)(len ? arg : NULL, len, &out);
    }
    finish_task(w, &out, code);
    atomic_store_explicit(&w->slot->running, 0, memory_order_release);
    maybe_flush(w);
  }
  free(out.heap);
  h->job = m->job;
  flush(w);
}

/* Claims the batch at the head of the task queue into the inbox.  Returns its
 * length, or an error (SHOAL_ECLOSED when the pool closes). */
static long claim(struct wctx *w)
{
  const void *buf;
  size_t len;
  atomic_store_explicit(&w->slot->claim_state, CS_NONE, memory_order_release);
  int rc = shoal_queue_peek(w->tasks, &buf, &len, SHOAL_FOREVER);
  if (rc)
    return rc;
  const struct tmsg *m = buf;
  atomic_store_explicit(&w->slot->claim, m->seq, memory_order_relaxed);
  atomic_store_explicit(&w->slot->claim_state, CS_CLAIMING, memory_order_release);
  memcpy(w->inbox, buf, len);
  shoal_queue_release(w->tasks);
  atomic_store_explicit(&w->slot->claim_state, CS_CLAIMED, memory_order_release);
  return (long)len;
}

static int worker_loop(struct wctx *w, shoal_pool_init_fn init, const void *initargs,
                       size_t initargs_len)
{
  w->slot = pool_slot(w->sh, w->slot_idx);
  w->inbox = pool_inbox(w->sh, w->slot_idx);
  w->scratch = pool_scratch(w->sh, w->slot_idx);
  w->scratch_cap = w->sh->scratch_size - sizeof(struct rmsg);
  w->check_every = 1;
  w->last_check = shoal__plat_now();
  atomic_store(&w->slot->valid, 0);
  atomic_store(&w->slot->running, 0);
  atomic_store(&w->slot->claim_state, CS_NONE);
  atomic_store(&w->slot->pid, w->pid);
  if (init) {
    int rc = init(initargs_len ? initargs : NULL, initargs_len);
    if (rc) {
      snprintf(w->slot->message, sizeof w->slot->message,
               "the initializer returned %d (%s) in worker %d", rc, shoal_err_name(rc), w->pid);
      atomic_store_explicit(&w->slot->init_failed, 1, memory_order_release);
      return 1;
    }
  }
  long done = 0;
  for (;;) {
    long len = claim(w);
    if (len < 0)
      break;
    const struct tmsg *m = (const struct tmsg *)w->inbox;
    if (m->flags & TM_CANCELLABLE) {
      _Atomic uint64_t *tag = pool_tag(w->sh, m->seq);
      uint64_t want = m->seq << 2 | TAG_QUEUED;
      if (!atomic_compare_exchange_strong(tag, &want, m->seq << 2 | TAG_TAKEN) &&
          want == (m->seq << 2 | TAG_CANCELLED)) {
        /* Cancelled: an empty message lets the collector top the queue up. */
        struct rmsg *h = (struct rmsg *)w->scratch;
        h->kind = RM_RESULTS;
        h->slot = w->slot_idx;
        h->pid = w->pid;
        h->job = m->job;
        h->nrec = 0;
        if (shoal_queue_put(w->results, h, sizeof *h, SHOAL_FOREVER) != 0)
          break;
        continue;
      }
    }
    run_batch(w, m, (size_t)len);
    atomic_store_explicit(&w->slot->claim_state, CS_NONE, memory_order_release);
    if (w->maxtasks > 0 && ++done >= w->maxtasks)
      break;
  }
  atomic_store_explicit(&w->slot->claim_state, CS_NONE, memory_order_release);
  return 0;
}

/* ---- entry points ------------------------------------------------------------------- */

int shoal__pool_worker_main(void *args, size_t len)
{
  const struct worker_args *a = args;
  if (len != sizeof *a)
    return 2;
  shoal_pool *pool = a->pool;
  struct wctx *w = calloc(1, sizeof *w);
  if (!w)
    return 2;
  w->tasks = pool->tasks;
  w->results = pool->results;
  w->sh = pool->sh;
  w->slot_idx = a->slot;
  w->maxtasks = pool->maxtasks;
  w->pid = (int)getpid();
  return worker_loop(w, pool->init, pool->initargs, pool->initargs_len);
}

int shoal__pool_worker_spawned(shoal_queue *tasks, shoal_queue *results, struct pool_shared *sh,
                               uint32_t slot, uint64_t gen, long maxtasks, shoal_pool_init_fn init,
                               const void *initargs, size_t initargs_len)
{
  struct wctx *w = calloc(1, sizeof *w);
  if (!w || slot >= sh->nslots)
    return 2;
  w->tasks = tasks;
  w->results = results;
  w->sh = sh;
  w->slot_idx = slot;
  w->gen = gen;
  w->maxtasks = maxtasks;
  w->spawned = true;
  w->pid = (int)getpid();
  return worker_loop(w, init, initargs, initargs_len);
}

void shoal__pool_worker_thread(void *arg)
{
  struct worker_args *a = arg;
  shoal_pool *pool = a->pool;
  struct wctx *w = calloc(1, sizeof *w);
  int status = 2;
  uint64_t gen = 0;
  if (w) {
    w->tasks = pool->tasks;
    w->results = pool->results;
    w->sh = pool->sh;
    w->slot_idx = a->slot;
    w->maxtasks = pool->maxtasks;
    w->thread = true;
    pthread_mutex_lock(&pool->lk->mu);
    gen = pool->w[a->slot].gen;
    pthread_mutex_unlock(&pool->lk->mu);
    w->gen = gen;
    status = worker_loop(w, pool->init, pool->initargs, pool->initargs_len);
    free(w);
  }
  /* A thread tells the collector itself that it ends. */
  struct rmsg note = {.kind = RM_EXIT, .slot = a->slot, .gen = gen, .status = status};
  shoal_queue_put(pool->results, &note, sizeof note, SHOAL_FOREVER);
  free(a);
}

/* ---- the registry of functions spawn workers find by name ----------------------------- */

SHOAL__NAME_TABLE(tasks, struct shoal_pool_entry, POOL_NAME_LEN)

int shoal_pool_register(struct shoal_pool_entry *e)
{
  return tasks_add(e);
}

void (*shoal__pool_entry_fn(const char *name))(void)
{
  struct shoal_pool_entry *x = tasks_find(name);
  return x ? x->fn : NULL;
}

const char *shoal__pool_entry_name(void (*fn)(void))
{
  struct shoal_pool_entry *x = tasks_of(fn);
  return x ? x->name : NULL;
}
