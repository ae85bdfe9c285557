// SPDX-License-Identifier: MIT
// The queue object: creation and opening, the public calls that are the same
// for every kind (sizes, join, shutdown, stats), and the waiting helpers the
// engines share.
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_internal.h"

#define DEFAULT_CAPACITY ((size_t)1 << 20)

/* ---- waiting ------------------------------------------------------------- */

/* How long a getter or putter spins before sleeping.  Long enough to cover a
 * peer that is busy for a moment (a round trip between two active processes
 * never sleeps), short enough not to burn a core when the queue goes idle. */
#define SPIN_NS 20000u

void shoal__queue_signal(_Atomic uint32_t *waiters, _Atomic uint32_t *seq, int n)
{
  /* The fence orders our published change before the look at `waiters`: a
   * sleeper (whose increment and later look at the state are sequentially
   * consistent) either sees the change or is counted here. */
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(waiters, memory_order_relaxed) > 0) {
    atomic_fetch_add(seq, 1);
    shoal__plat_wake(seq, n);
  }
}

int shoal__queue_sleep(_Atomic uint32_t *waiters, _Atomic uint32_t *seq, bool (*ready)(void *),
                       void *arg, const shoal__deadline *d)
{
  if (d->nowait)
    return SHOAL_EAGAIN;
  /* Spin first: the other side is often only a few hundred ns away. */
  uint64_t spin_until = shoal__plat_now() + SPIN_NS;
  for (unsigned i = 1;; i++) {
    if (ready(arg))
      return 0;
    shoal__plat_cpu_relax();
    if ((i & 63) == 0) {
      uint64_t now = shoal__plat_now();
      if (now >= spin_until)
        break;
      if (now >= d->at)
        return SHOAL_ETIMEDOUT;
    }
  }
  atomic_fetch_add(waiters, 1);
  uint32_t seen = atomic_load(seq);
  int rc = 0;
  if (!ready(arg))
    rc = shoal__deadline_wait(seq, seen, d);
  atomic_fetch_sub(waiters, 1);
  return rc;
}

/* ---- locks and recovery -------------------------------------------------- */

static bool is_fifo(const struct queue_ctrl *c)
{
  return c->kind == SHOAL_QUEUE_FIFO;
}

void shoal__queue_add_unfinished(struct queue_ctrl *c, uint64_t n)
{
  atomic_fetch_add(&c->unfinished, n);
}

void shoal__queue_sub_unfinished(struct queue_ctrl *c, uint64_t n)
{
  uint64_t u = atomic_load(&c->unfinished);
  uint64_t want;
  do
    want = u > n ? u - n : 0;
  while (!atomic_compare_exchange_weak(&c->unfinished, &u, want));
  if (want == 0) {
    atomic_fetch_add(&c->join_seq, 1);
    if (atomic_load(&c->join_waiters) > 0)
      shoal__plat_wake(&c->join_seq, INT_MAX);
  }
}

static void recover_put_side(shoal_queue *q)
{
  struct queue_ctrl *c = q->c;
  if (c->put_progress) {
    uint64_t t = atomic_load(&c->tail);
    bool committed = qpos(t) != ((c->put_progress - 1) & QPOS_MASK);
    if (!committed) {
      atomic_fetch_add(&c->losses, c->put_pending);
      if (c->put_counted)
        shoal__queue_sub_unfinished(c, c->put_pending);
    }
    c->put_progress = 0;
    c->put_counted = 0;
  }
  c->head_cache = atomic_load(&c->head);
  if (!is_fifo(c))
    shoal__heap_recover(q); /* also settles a get that was in progress */
}

static void recover_get_side(shoal_queue *q)
{
  struct queue_ctrl *c = q->c;
  if (c->get_progress) {
    uint64_t h = atomic_load(&c->head);
    /* The dead consumer moved head: it had taken the messages. */
    if (qpos(h) != ((c->get_progress - 1) & QPOS_MASK))
      atomic_fetch_add(&c->losses, c->get_pending);
    c->get_progress = 0;
  }
  c->tail_cache = atomic_load(&c->tail);
}

int shoal__queue_lock(shoal_queue *q, struct shoal__lockword *l)
{
  int rc = shoal__lockword_acquire(l, shoal__plat_stamp(), SHOAL_FOREVER);
  if (rc == SHOAL_EOWNERDEAD) {
    if (l == &q->c->put_lock)
      recover_put_side(q);
    else
      recover_get_side(q);
    shoal__lockword_consistent(l);
    rc = 0;
  }
  return rc;
}

void shoal__queue_unlock(struct shoal__lockword *l)
{
  shoal__lockword_release(l, 0);
}

/* ---- creation ------------------------------------------------------------- */

struct layout {
  uint64_t capacity, maxsize, index_slots, index_offset, data_offset;
  size_t payload; /* bytes after the region header */
};

static int plan(const shoal_queue_opts *o, struct layout *l)
{
  size_t page = shoal__plat_page_size();
  if (o) {
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
      if (o->reserved[i])
        return SHOAL_EINVAL;
    if (o->kind > SHOAL_QUEUE_PRIORITY || (o->flags & ~(unsigned)SHOAL_QUEUE_JOINABLE) ||
        o->maxsize > SHOAL_QUEUE_MAX_ITEMS || o->capacity > SHOAL_QUEUE_MAX_CAPACITY)
      return SHOAL_EINVAL;
  }
  uint64_t cap = o && o->capacity ? o->capacity : DEFAULT_CAPACITY;
  uint64_t p2 = page;
  while (p2 < cap)
    p2 <<= 1;
  l->capacity = p2;
  l->maxsize = o ? o->maxsize : 0;
  l->index_slots = 0;
  if (o && o->kind == SHOAL_QUEUE_PRIORITY) {
    uint64_t most = l->capacity / heap_rec_size(0);
    l->index_slots = l->maxsize && l->maxsize < most ? l->maxsize : most;
  }
  size_t ctrl_end = SHOAL__REGION_HEADER_SIZE + sizeof(struct queue_ctrl);
  l->index_offset = (ctrl_end + 63) & ~(size_t)63;
  size_t index_end = l->index_offset + l->index_slots * sizeof(struct heap_entry);
  l->data_offset = (index_end + page - 1) / page * page;
  l->payload = l->data_offset - SHOAL__REGION_HEADER_SIZE + l->capacity;
  return 0;
}

struct init_arg {
  const shoal_queue_opts *opts;
  const struct layout *l;
};

static int ctrl_init(void *payload, size_t size, void *arg)
{
  struct queue_ctrl *c = payload;
  const struct init_arg *a = arg;
  (void)size;
  c->capacity = a->l->capacity;
  c->maxsize = a->l->maxsize;
  c->data_offset = a->l->data_offset;
  c->index_offset = a->l->index_offset - SHOAL__REGION_HEADER_SIZE;
  c->index_slots = a->l->index_slots;
  c->kind = a->opts ? a->opts->kind : SHOAL_QUEUE_FIFO;
  c->flags = a->opts ? a->opts->flags : 0;
  return 0;
}

/* Validates a queue's immutable fields against the region that holds it. */
static int ctrl_check(const struct queue_ctrl *c, const struct shoal__region *r)
{
  uint64_t cap = c->capacity;
  size_t page = shoal__plat_page_size();
  if (cap < page || (cap & (cap - 1)) || cap > SHOAL_QUEUE_MAX_CAPACITY ||
      c->kind > SHOAL_QUEUE_PRIORITY || c->data_offset % page ||
      c->data_offset + cap != r->size || c->maxsize > SHOAL_QUEUE_MAX_ITEMS ||
      c->index_offset + SHOAL__REGION_HEADER_SIZE + c->index_slots * sizeof(struct heap_entry) >
          c->data_offset)
    return SHOAL_ECORRUPT;
  return 0;
}

static int finish_open(shoal_queue **out, struct shoal__region *r, int fd)
{
  struct queue_ctrl *c = shoal__region_payload(r);
  int rc = ctrl_check(c, r);
  void *ring = NULL;
  if (rc == 0)
    rc = shoal__plat_map_mirror(fd, c->data_offset, c->capacity, &ring);
  shoal__plat_close_fd(fd);
  if (rc) {
    shoal__region_close(r);
    return rc;
  }
  shoal_queue *q = shoal__region_handle_new(sizeof *q, r);
  if (!q) {
    shoal__plat_unmap(ring, 2 * c->capacity);
    return SHOAL_ENOMEM;
  }
  q->c = c;
  q->data = ring;
  q->index = (struct heap_entry *)((char *)c + c->index_offset);
  *out = q;
  return 0;
}

int shoal_queue_create(shoal_queue **out, const shoal_queue_opts *opts)
{
  struct layout l;
  struct shoal__region r;
  int fd;
  if (!out)
    return SHOAL_EINVAL;
  int rc = plan(opts, &l);
  if (rc)
    return rc;
  struct init_arg a = {opts, &l};
  rc = shoal__region_create_fd(&r, SHOAL__TYPE_QUEUE, l.payload, ctrl_init, &a, &fd);
  return rc ? rc : finish_open(out, &r, fd);
}

int shoal__queue_create_fd(shoal_queue **out, const shoal_queue_opts *opts, int *fd)
{
  struct layout l;
  struct shoal__region r;
  int rfd;
  if (!out || !fd)
    return SHOAL_EINVAL;
  int rc = plan(opts, &l);
  if (rc)
    return rc;
  struct init_arg a = {opts, &l};
  rc = shoal__region_create_fd(&r, SHOAL__TYPE_QUEUE, l.payload, ctrl_init, &a, &rfd);
  if (rc)
    return rc;
  int keep = shoal__plat_dup_fd(rfd);
  if (keep < 0) {
    shoal__plat_close_fd(rfd);
    shoal__region_close(&r);
    return keep;
  }
  rc = finish_open(out, &r, rfd);
  if (rc)
    shoal__plat_close_fd(keep);
  else
    *fd = keep;
  return rc;
}

int shoal__queue_open_fd(shoal_queue **out, int fd)
{
  struct shoal__region r;
  if (!out)
    return SHOAL_EINVAL;
  int rc = shoal__region_map_fd(&r, fd, SHOAL__TYPE_QUEUE, sizeof(struct queue_ctrl));
  if (rc)
    return rc;
  int mine = shoal__plat_dup_fd(fd);
  if (mine < 0) {
    shoal__region_close(&r);
    return mine;
  }
  return finish_open(out, &r, mine);
}

int shoal_queue_open(shoal_queue **out, const char *name, const shoal_queue_opts *opts,
                     const shoal_open_opts *oopts)
{
  struct layout l;
  struct shoal__region r;
  int fd;
  if (!out)
    return SHOAL_EINVAL;
  if (name && strstr(name, "://"))
    return shoal__backend_open(out, name, opts, oopts);
  int rc = plan(opts, &l);
  if (rc)
    return rc;
  struct init_arg a = {opts, &l};
  rc = shoal__region_open_fd(&r, name, SHOAL__TYPE_QUEUE, l.payload, sizeof(struct queue_ctrl),
                             oopts, ctrl_init, &a, &fd);
  return rc ? rc : finish_open(out, &r, fd);
}

void shoal_queue_destroy(shoal_queue *q)
{
  if (!q)
    return;
  if (SHOAL__QUEUE_BACKEND(q)) {
    q->backend->close(q);
    return;
  }
  shoal__queue_watch_stop(q);
  shoal__plat_unmap(q->data, 2 * q->c->capacity);
  shoal__region_handle_free(q);
}

void shoal_queue_close(shoal_queue *q)
{
  shoal_queue_destroy(q);
}

/* ---- put and get ------------------------------------------------------------ */

static int put_dispatch(shoal_queue *q, const struct iovec *msgs, size_t n, int64_t prio,
                        shoal_duration timeout)
{
  shoal__deadline d;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  if (is_fifo(q->c))
    return shoal__fifo_put(q, msgs, n, &d);
  return shoal__heap_put(q, msgs, n, prio, &d);
}

static int get_dispatch(shoal_queue *q, struct get_sink *sink, shoal_duration timeout)
{
  if (SHOAL__QUEUE_BACKEND(q))
    return q->backend->get(q, sink, timeout);
  shoal__deadline d;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  rc = is_fifo(q->c) ? shoal__fifo_get(q, sink, &d) : shoal__heap_get(q, sink, &d);
  if (rc == SHOAL_EAGAIN)
    shoal__queue_watch_rearm(q, SHOAL_QUEUE_READABLE);
  return rc;
}

int shoal_queue_put(shoal_queue *q, const void *buf, size_t len, shoal_duration timeout)
{
  return shoal_queue_put_priority(q, 0, buf, len, timeout);
}

int shoal_queue_put_priority(shoal_queue *q, int64_t priority, const void *buf, size_t len,
                             shoal_duration timeout)
{
  if (!q || (!buf && len))
    return SHOAL_EINVAL;
  struct iovec v = {(void *)buf, len};
  if (SHOAL__QUEUE_BACKEND(q)) {
    int brc = q->backend->put(q, &v, 1, timeout);
    return brc > 0 ? 0 : brc;
  }
  int rc = put_dispatch(q, &v, 1, priority, timeout);
  if (rc == SHOAL_EAGAIN)
    shoal__queue_watch_rearm(q, SHOAL_QUEUE_WRITABLE);
  return rc > 0 ? 0 : rc;
}

int shoal_queue_put_many(shoal_queue *q, const struct iovec *msgs, size_t n,
                         shoal_duration timeout)
{
  if (!q || !msgs || n == 0 || n > INT_MAX)
    return SHOAL_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!msgs[i].iov_base && msgs[i].iov_len)
      return SHOAL_EINVAL;
  if (SHOAL__QUEUE_BACKEND(q))
    return q->backend->put(q, msgs, n, timeout);
  int rc = put_dispatch(q, msgs, n, 0, timeout);
  if (rc == SHOAL_EAGAIN)
    shoal__queue_watch_rearm(q, SHOAL_QUEUE_WRITABLE);
  return rc;
}

int shoal_queue_get(shoal_queue *q, void *buf, size_t *len, shoal_duration timeout)
{
  return shoal_queue_get_priority(q, buf, len, NULL, timeout);
}

int shoal_queue_get_priority(shoal_queue *q, void *buf, size_t *len, int64_t *priority,
                             shoal_duration timeout)
{
  if (!q || !len || (!buf && *len))
    return SHOAL_EINVAL;
  struct get_sink sink = {buf, *len, len, 1, NULL, priority};
  int rc = get_dispatch(q, &sink, timeout);
  return rc > 0 ? 0 : rc;
}

int shoal_queue_get_alloc(shoal_queue *q, void **buf, size_t *len, int64_t *priority,
                          shoal_duration timeout)
{
  if (!q || !buf || !len)
    return SHOAL_EINVAL;
  struct get_sink sink = {NULL, 0, len, 1, buf, priority};
  int rc = get_dispatch(q, &sink, timeout);
  return rc > 0 ? 0 : rc;
}

int shoal_queue_get_many(shoal_queue *q, void *buf, size_t buflen, size_t *lens, size_t max,
                         shoal_duration timeout)
{
  if (!q || !lens || max == 0 || (!buf && buflen))
    return SHOAL_EINVAL;
  struct get_sink sink = {buf, buflen, lens, max > INT_MAX ? INT_MAX : max, NULL, NULL};
  return get_dispatch(q, &sink, timeout);
}

/* ---- sizes ------------------------------------------------------------------ */

static uint64_t depth(const struct queue_ctrl *c)
{
  if (c->kind == SHOAL_QUEUE_PRIORITY)
    return __atomic_load_n(&c->index_len, __ATOMIC_RELAXED);
  return qitems(atomic_load(&((struct queue_ctrl *)c)->tail),
                atomic_load(&((struct queue_ctrl *)c)->head));
}

long shoal_queue_qsize(shoal_queue *q)
{
  if (!q)
    return SHOAL_EINVAL;
  if (SHOAL__QUEUE_BACKEND(q))
    return q->backend->qsize(q);
  return (long)depth(q->c);
}

int shoal_queue_empty(shoal_queue *q)
{
  if (!q)
    return SHOAL_EINVAL;
  if (SHOAL__QUEUE_BACKEND(q)) {
    long n = q->backend->qsize(q);
    return n < 0 ? (int)n : n == 0;
  }
  return depth(q->c) == 0;
}

int shoal_queue_full(shoal_queue *q)
{
  if (!q)
    return SHOAL_EINVAL;
  if (SHOAL__QUEUE_BACKEND(q))
    return q->backend->full(q);
  return q->c->maxsize && depth(q->c) >= q->c->maxsize;
}

/* ---- join ------------------------------------------------------------------- */

int shoal_queue_task_done(shoal_queue *q)
{
  if (!q)
    return SHOAL_EINVAL;
  if (SHOAL__QUEUE_BACKEND(q))
    return q->backend->task_done(q);
  if (!(q->c->flags & SHOAL_QUEUE_JOINABLE))
    return SHOAL_EINVAL;
  struct queue_ctrl *c = q->c;
  uint64_t u = atomic_load(&c->unfinished);
  do {
    if (u == 0)
      return SHOAL_EOVERRELEASE;
  } while (!atomic_compare_exchange_weak(&c->unfinished, &u, u - 1));
  if (u == 1) {
    atomic_fetch_add(&c->join_seq, 1);
    if (atomic_load(&c->join_waiters) > 0)
      shoal__plat_wake(&c->join_seq, INT_MAX);
  }
  return 0;
}

int shoal_queue_join(shoal_queue *q, shoal_duration timeout)
{
  shoal__deadline d;
  if (!q)
    return SHOAL_EINVAL;
  if (SHOAL__QUEUE_BACKEND(q))
    return q->backend->join(q, timeout);
  if (!(q->c->flags & SHOAL_QUEUE_JOINABLE))
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  struct queue_ctrl *c = q->c;
  for (;;) {
    atomic_fetch_add(&c->join_waiters, 1);
    uint32_t seen = atomic_load(&c->join_seq);
    bool done = atomic_load(&c->unfinished) == 0;
    if (!done && !d.nowait)
      rc = shoal__deadline_wait(&c->join_seq, seen, &d);
    atomic_fetch_sub(&c->join_waiters, 1);
    if (done || atomic_load(&c->unfinished) == 0)
      return 0;
    if (d.nowait)
      return SHOAL_EAGAIN;
    if (rc == SHOAL_ETIMEDOUT)
      return rc;
  }
}

/* ---- shutdown and stats ----------------------------------------------------- */

int shoal_queue_shutdown(shoal_queue *q, int immediate)
{
  if (!q)
    return SHOAL_EINVAL;
  if (SHOAL__QUEUE_BACKEND(q))
    return q->backend->shutdown(q, immediate);
  struct queue_ctrl *c = q->c;
  /* Under put_lock: no put is half-done once the state reads shut down. */
  shoal__queue_lock(q, &c->put_lock);
  atomic_store(&c->state, QSTATE_SHUTDOWN);
  shoal__queue_unlock(&c->put_lock);
  int discarded = 0;
  if (immediate)
    discarded = is_fifo(c) ? shoal__fifo_discard(q) : shoal__heap_discard(q);
  if (discarded > 0) {
    atomic_fetch_add(&c->discarded, (uint64_t)discarded);
    if (c->flags & SHOAL_QUEUE_JOINABLE)
      shoal__queue_sub_unfinished(c, (uint64_t)discarded);
  }
  /* Wake everyone: blocked putters fail, getters drain then fail. */
  atomic_fetch_add(&c->data_seq, 1);
  atomic_fetch_add(&c->space_seq, 1);
  atomic_fetch_add(&c->join_seq, 1);
  shoal__plat_wake(&c->data_seq, INT_MAX);
  shoal__plat_wake(&c->space_seq, INT_MAX);
  shoal__plat_wake(&c->join_seq, INT_MAX);
  return discarded;
}

int shoal_queue_stats(shoal_queue *q, shoal_queue_info *st)
{
  if (!q || !st)
    return SHOAL_EINVAL;
  if (SHOAL__QUEUE_BACKEND(q))
    return q->backend->stats(q, st);
  struct queue_ctrl *c = q->c;
  memset(st, 0, sizeof *st);
  uint64_t t = atomic_load(&c->tail), h = atomic_load(&c->head);
  st->depth = depth(c);
  st->bytes = qbytes(t, h);
  st->capacity = c->capacity;
  st->maxsize = c->maxsize;
  st->puts = atomic_load(&c->puts);
  st->gets = atomic_load(&c->gets);
  st->losses = atomic_load(&c->losses);
  st->discarded = atomic_load(&c->discarded);
  st->put_waiters = atomic_load(&c->put_waiters);
  st->get_waiters = atomic_load(&c->get_waiters);
  return 0;
}
