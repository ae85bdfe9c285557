// SPDX-License-Identifier: MIT
// The LIFO and priority engine.  Records live in the same ring as FIFO
// records, in arrival order, each with its priority, a sequence number and a
// trailer giving its size; all changes happen under put_lock.  LIFO takes the
// newest record (just before tail) and moves tail back.  Priority keeps a
// binary heap of (priority, seq, position) beside the ring, takes its root,
// marks the record dead, and reclaims dead records at either end of the ring
// — so storage comes back in arrival order (an old low-priority message holds
// the bytes after it until it is taken).
//
// Crash safety: the records between head and tail are the truth; the heap
// index is derived from them and rebuilt by whoever takes put_lock over from a
// dead holder (shoal__heap_recover).
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_internal.h"

static char *rec_ptr(shoal_queue *q, uint64_t pos)
{
  return q->data + (pos & (q->c->capacity - 1));
}

static struct rec_hdr *hdr_at(shoal_queue *q, uint64_t pos)
{
  return (struct rec_hdr *)rec_ptr(q, pos);
}

static struct rec_ext *ext_at(shoal_queue *q, uint64_t pos)
{
  return (struct rec_ext *)(rec_ptr(q, pos) + sizeof(struct rec_hdr));
}

/* Size of the record that ends at `end` (read from its trailer). */
static uint64_t size_before(shoal_queue *q, uint64_t end)
{
  uint64_t size;
  memcpy(&size, rec_ptr(q, end - 8), sizeof size);
  return size;
}

static uint64_t items(const struct queue_ctrl *c, uint64_t t, uint64_t h)
{
  return c->kind == SHOAL_QUEUE_PRIORITY ? c->index_len : qitems(t, h);
}

/* ---- the heap index ------------------------------------------------------------ */

static bool before(const struct heap_entry *a, const struct heap_entry *b)
{
  return a->prio < b->prio || (a->prio == b->prio && a->seq < b->seq);
}

static void sift_up(struct heap_entry *e, uint64_t i)
{
  while (i > 0) {
    uint64_t parent = (i - 1) / 2;
    if (!before(&e[i], &e[parent]))
      break;
    struct heap_entry tmp = e[i];
    e[i] = e[parent];
    e[parent] = tmp;
    i = parent;
  }
}

static void sift_down(struct heap_entry *e, uint64_t n, uint64_t i)
{
  for (;;) {
    uint64_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && before(&e[l], &e[m]))
      m = l;
    if (r < n && before(&e[r], &e[m]))
      m = r;
    if (m == i)
      return;
    struct heap_entry tmp = e[i];
    e[i] = e[m];
    e[m] = tmp;
    i = m;
  }
}

/* ---- recovery ------------------------------------------------------------------ */

/* Moves head past dead records at the front and tail before dead records at
 * the back (priority queues; LIFO records never die in the middle). */
static void trim(shoal_queue *q)
{
  struct queue_ctrl *c = q->c;
  uint64_t h = atomic_load(&c->head), t = atomic_load(&c->tail);
  while (qbytes(t, h) > 0 && !hdr_at(q, qpos(h))->live)
    h = qpack(qpos(h) + heap_rec_size(hdr_at(q, qpos(h))->len), qcnt(h) + 1);
  while (qbytes(t, h) > 0) {
    uint64_t size = size_before(q, qpos(t));
    if (hdr_at(q, qpos(t) - size)->live)
      break;
    t = qpack(qpos(t) - size, qcnt(t) - 1);
  }
  atomic_store(&c->head, h);
  atomic_exchange(&c->tail, t);
}

void shoal__heap_recover(shoal_queue *q)
{
  struct queue_ctrl *c = q->c;
  uint64_t h = atomic_load(&c->head), t = atomic_load(&c->tail);
  if (c->get_progress) {
    uint64_t pos = (c->get_progress - 1) & QPOS_MASK;
    bool inside = ((pos - qpos(h)) & QPOS_MASK) < qbytes(t, h);
    if (!inside || !hdr_at(q, pos)->live)
      atomic_fetch_add(&c->losses, 1); /* the dead consumer had taken it */
    c->get_progress = 0;
  }
  if (c->kind == SHOAL_QUEUE_LIFO) {
    /* A LIFO get marks the newest record dead before moving tail back. */
    while (qbytes(t, h) > 0) {
      uint64_t size = size_before(q, qpos(t));
      if (hdr_at(q, qpos(t) - size)->live)
        break;
      t = qpack(qpos(t) - size, qcnt(t) - 1);
    }
    atomic_exchange(&c->tail, t);
    return;
  }
  trim(q);
  h = atomic_load(&c->head);
  t = atomic_load(&c->tail);
  uint64_t n = 0;
  for (uint64_t pos = qpos(h); ((pos - qpos(h)) & QPOS_MASK) < qbytes(t, h);
       pos += heap_rec_size(hdr_at(q, pos)->len)) {
    if (hdr_at(q, pos)->live && n < c->index_slots)
      q->index[n++] = (struct heap_entry){ext_at(q, pos)->prio, ext_at(q, pos)->seq, pos};
  }
  for (uint64_t i = n / 2; i-- > 0;)
    sift_down(q->index, n, i);
  c->index_len = n;
}

/* ---- put ---------------------------------------------------------------------- */

static bool room_for(const struct queue_ctrl *c, uint64_t t, uint64_t h, uint64_t need,
                     uint64_t more)
{
  uint64_t n = items(c, t, h);
  return qbytes(t, h) + need <= c->capacity && (!c->maxsize || n + more <= c->maxsize) &&
         (c->kind != SHOAL_QUEUE_PRIORITY || n + more <= c->index_slots);
}

struct wait_arg {
  struct queue_ctrl *c;
  uint64_t need;
};

static bool room_ready(void *arg)
{
  struct wait_arg *w = arg;
  return atomic_load(&w->c->state) != QSTATE_OPEN ||
         room_for(w->c, atomic_load(&w->c->tail), atomic_load(&w->c->head), w->need, 1);
}

static bool data_ready(void *arg)
{
  struct queue_ctrl *c = ((struct wait_arg *)arg)->c;
  return atomic_load(&c->state) != QSTATE_OPEN ||
         items(c, atomic_load(&c->tail), atomic_load(&c->head)) > 0;
}

int shoal__heap_put(shoal_queue *q, const struct iovec *msgs, size_t n, int64_t prio,
                    const shoal__deadline *d)
{
  struct queue_ctrl *c = q->c;
  uint64_t need0 = heap_rec_size(msgs[0].iov_len);
  if (msgs[0].iov_len > UINT32_MAX || need0 > c->capacity)
    return SHOAL_E2BIG;
  uint64_t t, h;
  for (;;) {
    int rc = shoal__queue_lock(q, &c->put_lock);
    if (rc)
      return rc;
    if (atomic_load(&c->state) != QSTATE_OPEN) {
      shoal__queue_unlock(&c->put_lock);
      return SHOAL_ECLOSED;
    }
    t = atomic_load(&c->tail);
    h = atomic_load(&c->head);
    if (room_for(c, t, h, need0, 1))
      break;
    shoal__queue_unlock(&c->put_lock);
    struct wait_arg w = {c, need0};
    rc = shoal__queue_sleep(&c->put_waiters, &c->space_seq, room_ready, &w, d);
    if (rc)
      return rc;
  }
  uint64_t used = 0;
  uint32_t k = 0;
  while (k < n && msgs[k].iov_len <= UINT32_MAX &&
         room_for(c, t, h, used + heap_rec_size(msgs[k].iov_len), k + 1))
    used += heap_rec_size(msgs[k++].iov_len);
  c->put_pending = k;
  c->put_progress = qpos(t) + 1;
  if (c->flags & SHOAL_QUEUE_JOINABLE) {
    shoal__queue_add_unfinished(c, k);
    c->put_counted = 1;
  }
  uint64_t pos = qpos(t);
  for (uint32_t i = 0; i < k; i++) {
    size_t len = msgs[i].iov_len;
    uint64_t size = heap_rec_size(len);
    char *rec = rec_ptr(q, pos);
    struct rec_hdr hd = {(uint32_t)len, 1};
    struct rec_ext ex = {prio, c->next_seq++};
    memcpy(rec, &hd, sizeof hd);
    memcpy(rec + sizeof hd, &ex, sizeof ex);
    if (len)
      memcpy(rec + sizeof hd + sizeof ex, msgs[i].iov_base, len);
    memcpy(rec + size - 8, &size, sizeof size);
    pos += size;
  }
  atomic_exchange(&c->tail, qpack(pos, qcnt(t) + k));
  if (c->kind == SHOAL_QUEUE_PRIORITY) {
    /* The index follows the records; a crash here is repaired from them. */
    uint64_t p = qpos(t);
    for (uint32_t i = 0; i < k; i++) {
      q->index[c->index_len] = (struct heap_entry){prio, ext_at(q, p)->seq, p};
      sift_up(q->index, c->index_len);
      __atomic_store_n(&c->index_len, c->index_len + 1, __ATOMIC_RELAXED);
      p += heap_rec_size(hdr_at(q, p)->len);
    }
  }
  c->put_progress = 0;
  c->put_counted = 0;
  atomic_fetch_add_explicit(&c->puts, k, memory_order_relaxed);
  shoal__queue_unlock(&c->put_lock);
  shoal__queue_signal(&c->get_waiters, &c->data_seq, (int)k);
  return (int)k;
}

/* ---- get ----------------------------------------------------------------------- */

/* Position of the record to take next. */
static uint64_t next_pos(shoal_queue *q)
{
  if (q->c->kind == SHOAL_QUEUE_PRIORITY)
    return q->index[0].pos;
  uint64_t t = qpos(atomic_load(&q->c->tail));
  return t - size_before(q, t);
}

/* Removes the record at pos, which next_pos returned. */
static void take(shoal_queue *q, uint64_t pos)
{
  struct queue_ctrl *c = q->c;
  hdr_at(q, pos)->live = 0;
  if (c->kind == SHOAL_QUEUE_PRIORITY) {
    uint64_t n = c->index_len - 1;
    q->index[0] = q->index[n];
    __atomic_store_n(&c->index_len, n, __ATOMIC_RELAXED);
    sift_down(q->index, n, 0);
    trim(q);
  } else {
    uint64_t t = atomic_load(&c->tail);
    atomic_exchange(&c->tail, qpack(pos, qcnt(t) - 1));
  }
}

int shoal__heap_get(shoal_queue *q, struct get_sink *sink, const shoal__deadline *d)
{
  struct queue_ctrl *c = q->c;
  for (;;) {
    int rc = shoal__queue_lock(q, &c->put_lock);
    if (rc)
      return rc;
    if (items(c, atomic_load(&c->tail), atomic_load(&c->head)) > 0)
      break;
    shoal__queue_unlock(&c->put_lock);
    if (atomic_load(&c->state) != QSTATE_OPEN)
      return SHOAL_ECLOSED;
    struct wait_arg w = {c, 0};
    rc = shoal__queue_sleep(&c->get_waiters, &c->data_seq, data_ready, &w, d);
    if (rc)
      return rc;
  }
  size_t used = 0;
  uint32_t k = 0;
  int rc = 0;
  while (k < sink->max && items(c, atomic_load(&c->tail), atomic_load(&c->head)) > 0) {
    uint64_t pos = next_pos(q);
    struct rec_hdr *hd = hdr_at(q, pos);
    const char *payload = rec_ptr(q, pos) + sizeof(struct rec_hdr) + sizeof(struct rec_ext);
    size_t len = hd->len;
    void *dst;
    if (sink->alloc) {
      dst = malloc(len ? len : 1);
      if (!dst) {
        rc = SHOAL_ENOMEM;
        break;
      }
      *sink->alloc = dst;
    } else {
      if (used + len > sink->buflen) {
        if (k == 0) {
          sink->lens[0] = len;
          rc = SHOAL_EMSGSIZE;
        }
        break;
      }
      dst = (char *)sink->buf + used;
    }
    c->get_progress = pos + 1;
    if (len)
      memcpy(dst, payload, len);
    if (k == 0 && sink->prio)
      *sink->prio = ext_at(q, pos)->prio;
    sink->lens[k++] = len;
    used += len;
    take(q, pos);
    c->get_progress = 0;
    if (sink->alloc)
      break;
  }
  atomic_fetch_add_explicit(&c->gets, k, memory_order_relaxed);
  shoal__queue_unlock(&c->put_lock);
  if (k)
    shoal__queue_signal(&c->put_waiters, &c->space_seq, INT_MAX);
  return k ? (int)k : rc;
}

int shoal__heap_discard(shoal_queue *q)
{
  struct queue_ctrl *c = q->c;
  shoal__queue_lock(q, &c->put_lock);
  uint64_t t = atomic_load(&c->tail), h = atomic_load(&c->head);
  uint64_t n = items(c, t, h);
  atomic_store(&c->head, t);
  __atomic_store_n(&c->index_len, 0, __ATOMIC_RELAXED);
  shoal__queue_unlock(&c->put_lock);
  shoal__queue_signal(&c->put_waiters, &c->space_seq, INT_MAX);
  return n > INT_MAX ? INT_MAX : (int)n;
}
