// SPDX-License-Identifier: MIT
// The FIFO engine: a ring of variable-length records with one lock for
// producers and one for consumers, so that a producer and a consumer never
// contend (see queue_internal.h for the invariants), plus the zero-copy loan
// and peek paths.
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_internal.h"

/* ---- producer side ----------------------------------------------------------- */

/* Room in the ring and under maxsize for `need` more bytes and `items` more
 * messages, given the producer's cached head. */
static bool room_for(const struct queue_ctrl *c, uint64_t t, uint64_t h, uint64_t need,
                     uint64_t items)
{
  return qbytes(t, h) + need <= c->capacity && (!c->maxsize || qitems(t, h) + items <= c->maxsize);
}

struct room_wait {
  struct queue_ctrl *c;
  uint64_t need;
};

static bool room_ready(void *arg)
{
  struct room_wait *w = arg;
  struct queue_ctrl *c = w->c;
  return atomic_load(&c->state) != QSTATE_OPEN ||
         room_for(c, atomic_load(&c->tail), atomic_load(&c->head), w->need, 1);
}

/* Takes put_lock with room for a first record of `need` bytes, waiting as
 * d allows (without the lock).  Returns 0 with the lock held. */
static int lock_with_room(shoal_queue *q, uint64_t need, const shoal__deadline *d)
{
  struct queue_ctrl *c = q->c;
  for (;;) {
    int rc = shoal__queue_lock(q, &c->put_lock);
    if (rc)
      return rc;
    if (atomic_load_explicit(&c->state, memory_order_relaxed) != QSTATE_OPEN) {
      shoal__queue_unlock(&c->put_lock);
      return SHOAL_ECLOSED;
    }
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    if (room_for(c, t, c->head_cache, need, 1))
      return 0;
    /* Acquire: the consumer finished reading the bytes it released. */
    c->head_cache = atomic_load_explicit(&c->head, memory_order_acquire);
    if (room_for(c, t, c->head_cache, need, 1))
      return 0;
    shoal__queue_unlock(&c->put_lock);
    struct room_wait w = {c, need};
    rc = shoal__queue_sleep(&c->put_waiters, &c->space_seq, room_ready, &w, d);
    if (rc)
      return rc;
  }
}

/* Publishes records up to new_tail and wakes consumers; put_lock is held and
 * is released here. */
static void publish(shoal_queue *q, uint64_t new_tail, uint32_t n)
{
  struct queue_ctrl *c = q->c;
  /* Release: the record bytes before the new tail.  shoal__queue_signal's
   * fence orders it before the look at the getters' waiter count. */
  atomic_store_explicit(&c->tail, new_tail, memory_order_release);
  c->put_progress = 0;
  c->put_counted = 0;
  atomic_store_explicit(&c->puts, atomic_load_explicit(&c->puts, memory_order_relaxed) + n,
                        memory_order_relaxed);
  shoal__queue_unlock(&c->put_lock);
  shoal__queue_signal(&c->get_waiters, &c->data_seq, (int)n);
}

/* Marks a put of n messages at tail t as in progress (see recovery). */
static void begin_put(struct queue_ctrl *c, uint64_t t, uint32_t n)
{
  c->put_pending = n;
  c->put_progress = qpos(t) + 1;
  if (c->flags & SHOAL_QUEUE_JOINABLE) {
    /* Counted before publishing, so a fast consumer's task_done never sees
     * the count short. */
    shoal__queue_add_unfinished(c, n);
    c->put_counted = 1;
  }
}

int shoal__fifo_put(shoal_queue *q, const struct iovec *msgs, size_t n, const shoal__deadline *d)
{
  struct queue_ctrl *c = q->c;
  uint64_t need0 = fifo_rec_size(msgs[0].iov_len);
  if (msgs[0].iov_len > UINT32_MAX || need0 > c->capacity)
    return SHOAL_E2BIG;
  int rc = lock_with_room(q, need0, d);
  if (rc)
    return rc;
  uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
  uint64_t pos = qpos(t), used = 0;
  uint32_t k = 0;
  /* Take as many as fit now: one lock, one publish. */
  while (k < n) {
    size_t len = msgs[k].iov_len;
    uint64_t need = fifo_rec_size(len);
    if (len > UINT32_MAX || !room_for(c, t, c->head_cache, used + need, k + 1))
      break;
    used += need;
    k++;
  }
  begin_put(c, t, k);
  for (uint32_t i = 0; i < k; i++) {
    char *rec = q->data + (pos & (c->capacity - 1));
    struct rec_hdr h = {(uint32_t)msgs[i].iov_len, 0};
    memcpy(rec, &h, sizeof h);
    if (msgs[i].iov_len)
      memcpy(rec + sizeof h, msgs[i].iov_base, msgs[i].iov_len);
    pos += fifo_rec_size(msgs[i].iov_len);
  }
  publish(q, qpack(pos, qcnt(t) + k), k);
  return (int)k;
}

/* ---- consumer side ------------------------------------------------------------ */

struct data_wait {
  struct queue_ctrl *c;
};

static bool data_ready(void *arg)
{
  struct queue_ctrl *c = ((struct data_wait *)arg)->c;
  return atomic_load(&c->state) != QSTATE_OPEN ||
         qitems(atomic_load(&c->tail), atomic_load(&c->head)) > 0;
}

/* Takes get_lock with at least one message in the ring, waiting as d allows.
 * Returns 0 with the lock held and the current head in *h. */
static int lock_with_data(shoal_queue *q, uint64_t *h, const shoal__deadline *d)
{
  struct queue_ctrl *c = q->c;
  for (;;) {
    int rc = shoal__queue_lock(q, &c->get_lock);
    if (rc)
      return rc;
    *h = atomic_load_explicit(&c->head, memory_order_relaxed);
    if (qitems(c->tail_cache, *h) > 0)
      return 0;
    /* Acquire: the producer's record bytes are visible. */
    c->tail_cache = atomic_load_explicit(&c->tail, memory_order_acquire);
    if (qitems(c->tail_cache, *h) > 0)
      return 0;
    shoal__queue_unlock(&c->get_lock);
    if (atomic_load(&c->state) != QSTATE_OPEN)
      return SHOAL_ECLOSED;
    struct data_wait w = {c};
    rc = shoal__queue_sleep(&c->get_waiters, &c->data_seq, data_ready, &w, d);
    if (rc)
      return rc;
  }
}

/* Completes a get of n messages ending at new_head; releases get_lock. */
static void consume(shoal_queue *q, uint64_t new_head, uint32_t n)
{
  struct queue_ctrl *c = q->c;
  /* Release: we are done reading the bytes we give back. */
  atomic_store_explicit(&c->head, new_head, memory_order_release);
  c->get_progress = 0;
  atomic_store_explicit(&c->gets, atomic_load_explicit(&c->gets, memory_order_relaxed) + n,
                        memory_order_relaxed);
  shoal__queue_unlock(&c->get_lock);
  shoal__queue_signal(&c->put_waiters, &c->space_seq, INT_MAX);
}

static const struct rec_hdr *rec_at(shoal_queue *q, uint64_t pos)
{
  return (const struct rec_hdr *)(q->data + (pos & (q->c->capacity - 1)));
}

int shoal__fifo_get(shoal_queue *q, struct get_sink *sink, const shoal__deadline *d)
{
  struct queue_ctrl *c = q->c;
  uint64_t h;
  int rc = lock_with_data(q, &h, d);
  if (rc)
    return rc;
  uint64_t pos = qpos(h), avail = qitems(c->tail_cache, h);
  const struct rec_hdr *r = rec_at(q, pos);
  size_t len = r->len;
  if (sink->alloc) {
    void *copy = malloc(len ? len : 1);
    if (!copy) {
      shoal__queue_unlock(&c->get_lock);
      return SHOAL_ENOMEM;
    }
    c->get_pending = 1;
    c->get_progress = pos + 1;
    memcpy(copy, r + 1, len);
    *sink->alloc = copy;
    sink->lens[0] = len;
    if (sink->prio)
      *sink->prio = 0;
    consume(q, qpack(pos + fifo_rec_size(len), qcnt(h) + 1), 1);
    return 1;
  }
  if (len > sink->buflen) {
    sink->lens[0] = len;
    shoal__queue_unlock(&c->get_lock);
    return SHOAL_EMSGSIZE;
  }
  /* Copy out as many as fit; one head store for all of them. */
  size_t used = 0;
  uint32_t k = 0;
  c->get_progress = pos + 1;
  c->get_pending = 0;
  while (k < sink->max && k < avail) {
    r = rec_at(q, pos);
    len = r->len;
    if (used + len > sink->buflen)
      break;
    c->get_pending = k + 1;
    if (len)
      memcpy((char *)sink->buf + used, r + 1, len);
    sink->lens[k] = len;
    used += len;
    pos += fifo_rec_size(len);
    k++;
  }
  if (sink->prio)
    *sink->prio = 0;
  consume(q, qpack(pos, qcnt(h) + k), k);
  return (int)k;
}

int shoal__fifo_discard(shoal_queue *q)
{
  struct queue_ctrl *c = q->c;
  shoal__queue_lock(q, &c->get_lock);
  uint64_t h = atomic_load(&c->head), t = atomic_load_explicit(&c->tail, memory_order_acquire);
  uint64_t n = qitems(t, h);
  c->tail_cache = t;
  if (n == 0) {
    shoal__queue_unlock(&c->get_lock);
    return 0;
  }
  c->get_progress = 0; /* discarded, not lost */
  atomic_exchange(&c->head, t);
  shoal__queue_unlock(&c->get_lock);
  shoal__queue_signal(&c->put_waiters, &c->space_seq, INT_MAX);
  return n > INT_MAX ? INT_MAX : (int)n;
}

/* ---- zero copy ------------------------------------------------------------------ */

/* A thread's loan or peek in progress: at most one of each per thread. */
static _Thread_local struct {
  shoal_queue *q;
  uint64_t tail;
  size_t len;
} loan;

static _Thread_local struct {
  shoal_queue *q;
  uint64_t head;
  size_t len;
} peeked;

int shoal_queue_loan(shoal_queue *q, size_t len, void **buf, shoal_duration timeout)
{
  shoal__deadline d;
  if (!q || !buf || loan.q)
    return SHOAL_EINVAL;
  if (SHOAL__QUEUE_BACKEND(q) || q->c->kind != SHOAL_QUEUE_FIFO)
    return SHOAL_ENOTSUP;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  struct queue_ctrl *c = q->c;
  if (len > UINT32_MAX || fifo_rec_size(len) > c->capacity)
    return SHOAL_E2BIG;
  rc = lock_with_room(q, fifo_rec_size(len), &d);
  if (rc) {
    if (rc == SHOAL_EAGAIN)
      shoal__queue_watch_rearm(q, SHOAL_QUEUE_WRITABLE);
    return rc;
  }
  uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
  begin_put(c, t, 1);
  char *rec = q->data + (qpos(t) & (c->capacity - 1));
  struct rec_hdr h = {(uint32_t)len, 0};
  memcpy(rec, &h, sizeof h);
  loan.q = q;
  loan.tail = t;
  loan.len = len;
  *buf = rec + sizeof h;
  return 0;
}

int shoal_queue_commit(shoal_queue *q)
{
  if (!q || loan.q != q)
    return SHOAL_EINVAL;
  loan.q = NULL;
  publish(q, qpack(qpos(loan.tail) + fifo_rec_size(loan.len), qcnt(loan.tail) + 1), 1);
  return 0;
}

int shoal_queue_abandon(shoal_queue *q)
{
  if (!q || loan.q != q)
    return SHOAL_EINVAL;
  struct queue_ctrl *c = q->c;
  loan.q = NULL;
  if (c->put_counted)
    shoal__queue_sub_unfinished(c, 1);
  c->put_progress = 0;
  c->put_counted = 0;
  shoal__queue_unlock(&c->put_lock);
  return 0;
}

int shoal_queue_peek(shoal_queue *q, const void **buf, size_t *len, shoal_duration timeout)
{
  shoal__deadline d;
  if (!q || !buf || !len || peeked.q)
    return SHOAL_EINVAL;
  if (SHOAL__QUEUE_BACKEND(q) || q->c->kind != SHOAL_QUEUE_FIFO)
    return SHOAL_ENOTSUP;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  uint64_t h;
  rc = lock_with_data(q, &h, &d);
  if (rc) {
    if (rc == SHOAL_EAGAIN)
      shoal__queue_watch_rearm(q, SHOAL_QUEUE_READABLE);
    return rc;
  }
  const struct rec_hdr *r = rec_at(q, qpos(h));
  q->c->get_progress = qpos(h) + 1;
  q->c->get_pending = 1;
  peeked.q = q;
  peeked.head = h;
  peeked.len = r->len;
  *buf = r + 1;
  *len = r->len;
  return 0;
}

int shoal_queue_release(shoal_queue *q)
{
  if (!q || peeked.q != q)
    return SHOAL_EINVAL;
  peeked.q = NULL;
  consume(q, qpack(qpos(peeked.head) + fifo_rec_size(peeked.len), qcnt(peeked.head) + 1), 1);
  return 0;
}
