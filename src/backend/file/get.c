// SPDX-License-Identifier: MIT
// The consumer side of the file queue: delivery from the cursor, the
// in-flight ring of a joinable queue (acknowledged by task_done, delivered
// again when its consumer process dies, parked as a dead letter after too
// many deliveries), and the deletion of consumed segments.
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "backend/file/fileq.h"

/* ---- who is consuming ---------------------------------------------------------- */

/* The calling process's stamp, cached per thread: the thread stamp cache is
 * cleared in fork children, so a new thread stamp means a new lookup. */
static _Thread_local uint64_t tl_thread_stamp, tl_process_stamp;

static uint64_t process_stamp(void)
{
  uint64_t t = shoal__plat_stamp();
  if (t != tl_thread_stamp) {
    tl_process_stamp = shoal__plat_process_stamp();
    tl_thread_stamp = t;
  }
  return tl_process_stamp;
}

static bool joinable(const struct fq_ctl *c)
{
  return c->flags & SHOAL_QUEUE_JOINABLE;
}

static struct fq_slot *slot_at(struct shoal__fileq *f, uint64_t i)
{
  return &f->ring[i & (f->c->ring_slots - 1)];
}

/* ---- the get lock and its recovery ------------------------------------------------ */

/* Counts the ring again and drops done slots from its head. */
static void ring_settle(struct shoal__fileq *f)
{
  struct fq_ctl *c = f->c;
  uint64_t out = 0, pend = 0;
  while (c->ring_head != c->ring_tail && slot_at(f, c->ring_head)->state == SLOT_DONE)
    c->ring_head++;
  for (uint64_t i = c->ring_head; i != c->ring_tail; i++) {
    uint32_t st = slot_at(f, i)->state;
    out += st != SLOT_DONE;
    pend += st == SLOT_PENDING;
  }
  atomic_store(&c->outstanding, out);
  atomic_store(&c->pending, pend);
}

/* A consumer died holding get_lock.  If it had recorded the delivery in the
 * ring, the cursor goes past it (the ring redelivers it); otherwise the
 * cursor goes back to where it was: its get never returned, so the message
 * is delivered again rather than lost. */
static void recover_get(struct shoal__fileq *f)
{
  struct fq_ctl *c = f->c;
  if (c->get_active) {
    struct fq_slot *last = c->ring_tail != c->ring_head ? slot_at(f, c->ring_tail - 1) : NULL;
    if (last && last->seq >= c->gp_seq && last->state != SLOT_DONE) {
      c->r_seg = last->seg;
      c->r_off = last->off + shoal__fq_rec_size(last->len);
      atomic_store(&c->r_seq, last->seq + 1);
    } else {
      c->r_seg = c->gp_seg;
      c->r_off = c->gp_off;
      atomic_store(&c->r_seq, c->gp_seq);
    }
    c->get_active = 0;
  }
  ring_settle(f);
}

int shoal__fq_lock_get(struct shoal__fileq *f)
{
  return shoal__fq_take(f, &f->c->get_lock, recover_get);
}

static void unlock_get(struct shoal__fileq *f)
{
  shoal__lockword_release(&f->c->get_lock, 0);
}

/* ---- consumed segments ---------------------------------------------------------------- */

/* Deletes the segments below both the cursor and the oldest unacknowledged
 * delivery, lowest first, then leaves a checkpoint.  get_lock is held. */
static void collect(struct shoal__fileq *f)
{
  struct fq_ctl *c = f->c;
  uint64_t floor = c->r_seg;
  while (c->ring_head != c->ring_tail && slot_at(f, c->ring_head)->state == SLOT_DONE)
    c->ring_head++;
  if (c->ring_head != c->ring_tail && slot_at(f, c->ring_head)->seg < floor)
    floor = slot_at(f, c->ring_head)->seg;
  uint64_t first = atomic_load(&c->first_seg);
  if (first >= floor)
    return;
  for (; first < floor; first++) {
    char name[FQ_SEG_NAME_LEN];
    fq_seg_name(name, first);
    int rc = shoal__plat_at_unlink(f->dfd, name);
    if (rc && rc != SHOAL_ENOENT)
      break;
    atomic_store(&c->first_seg, first + 1);
  }
  /* Best effort: a stale checkpoint only means more redeliveries after a
   * reboot; segments below it that are gone were consumed. */
  (void)shoal__fq_checkpoint(f, f->durability != SHOAL_FILEQ_NONE);
}

/* ---- reading records ------------------------------------------------------------------- */

/* Reads a whole record at (seg, off) of a segment this process may not have
 * mapped (a redelivery) into a malloc'd copy. */
static int read_record(struct shoal__fileq *f, uint64_t seg, uint64_t off, uint32_t len,
                       uint64_t seq, unsigned char **out)
{
  char name[FQ_SEG_NAME_LEN];
  fq_seg_name(name, seg);
  int fd;
  int rc = shoal__plat_at_open(f->dfd, name, SHOAL__PLAT_AT_READ, 0, &fd, NULL);
  if (rc)
    return rc == SHOAL_ENOENT ? SHOAL_ECORRUPT : rc;
  uint64_t size = shoal__fq_rec_size(len);
  unsigned char *buf = malloc(size);
  if (!buf) {
    shoal__plat_file_close(fd);
    return SHOAL_ENOMEM;
  }
  rc = shoal__plat_file_read(fd, off, buf, size);
  shoal__plat_file_close(fd);
  struct shoal__fq_view v;
  if (rc == 0 && (shoal__fq_decode(buf, size, seq, &v) != SHOAL__FQ_DEC_OK ||
                  v.type != SHOAL__FQ_REC_MSG))
    rc = SHOAL_ECORRUPT;
  if (rc) {
    free(buf);
    return rc;
  }
  *out = buf;
  return 0;
}

/* ---- dead owners and dead letters ----------------------------------------------------- */

static int park(struct shoal__fileq *f, const struct fq_slot *s)
{
  unsigned char *rec;
  int rc = read_record(f, s->seg, s->off, s->len, s->seq, &rec);
  if (rc)
    return rc;
  int fd;
  uint64_t size;
  rc = shoal__plat_at_open(f->dfd, FQ_DEAD_NAME, SHOAL__PLAT_AT_CREATE, f->c->file_mode, &fd,
                           &size);
  if (rc == 0) {
    if (size < SHOAL__FQ_SEG_HDR) {
      struct shoal__fq_seg_header h;
      shoal__fq_seg_header_init(&h, UINT64_MAX, 0, 0);
      rc = shoal__plat_fd_write(fd, &h, sizeof h, 0);
      size = SHOAL__FQ_SEG_HDR;
    }
    if (rc == 0)
      rc = shoal__plat_fd_write(fd, rec, shoal__fq_rec_size(s->len), size);
    if (rc == 0 && f->durability != SHOAL_FILEQ_NONE)
      rc = shoal__plat_fd_sync(fd);
    shoal__plat_file_close(fd);
  }
  free(rec);
  return rc;
}

/* Every FQ_REAP_NS, looks for deliveries whose consumer process has died:
 * they wait for redelivery, or are parked once delivered dead_letter times.
 * get_lock is held. */
static void reap(struct shoal__fileq *f)
{
  struct fq_ctl *c = f->c;
  uint64_t now = shoal__plat_now();
  if (now - c->last_reap < FQ_REAP_NS)
    return;
  c->last_reap = now;
  if (atomic_load(&c->outstanding) == atomic_load(&c->pending))
    return;
  struct {
    uint64_t owner;
    bool alive;
  } seen[16];
  int n_seen = 0;
  uint64_t me = process_stamp();
  bool freed = false, woke = false;
  for (uint64_t i = c->ring_head; i != c->ring_tail; i++) {
    struct fq_slot *s = slot_at(f, i);
    if (s->state != SLOT_OUT || s->owner == me)
      continue;
    int k = 0;
    while (k < n_seen && seen[k].owner != s->owner)
      k++;
    bool alive;
    if (k < n_seen) {
      alive = seen[k].alive;
    } else {
      alive = shoal__plat_thread_alive(shoal__plat_stamp_tid(s->owner), s->owner);
      if (n_seen < 16)
        seen[n_seen++] = (typeof(seen[0])){s->owner, alive};
    }
    if (alive)
      continue;
    if (s->deliveries >= c->dead_letter && park(f, s) == 0) {
      s->state = SLOT_DONE;
      atomic_fetch_sub(&c->outstanding, 1);
      atomic_fetch_add(&c->dead_lettered, 1);
      freed = true;
      continue;
    }
    s->owner = 0;
    s->state = SLOT_PENDING;
    atomic_fetch_add(&c->pending, 1);
    woke = true;
  }
  if (freed) {
    collect(f);
    atomic_fetch_add(&c->ring_seq, 1);
    shoal__plat_wake(&c->ring_seq, INT_MAX);
    atomic_fetch_add(&c->join_seq, 1);
    shoal__plat_wake(&c->join_seq, INT_MAX);
  }
  if (woke)
    shoal__queue_signal(&c->get_waiters, &c->data_seq, INT_MAX);
}

/* ---- get ------------------------------------------------------------------------------- */

struct data_wait {
  struct fq_ctl *c;
};

static bool data_ready(void *arg)
{
  struct fq_ctl *c = ((struct data_wait *)arg)->c;
  if (atomic_load(&c->state) != FQ_OPEN || atomic_load(&c->pending) > 0 ||
      atomic_load(&c->next_seq) > atomic_load(&c->r_seq))
    return true;
  /* Deliveries are out: come back now and then to look for dead owners. */
  return atomic_load(&c->outstanding) > 0 && shoal__plat_now() - c->last_reap >= FQ_REAP_NS;
}

static bool ring_ready(void *arg)
{
  struct fq_ctl *c = ((struct data_wait *)arg)->c;
  return atomic_load(&c->state) != FQ_OPEN || c->ring_tail - c->ring_head < c->ring_slots ||
         shoal__plat_now() - c->last_reap >= FQ_REAP_NS;
}

/* Hands out one message a dead consumer had taken.  get_lock is held. */
static int redeliver(struct shoal__fileq *f, struct get_sink *sink)
{
  struct fq_ctl *c = f->c;
  struct fq_slot *s = NULL;
  for (uint64_t i = c->ring_head; i != c->ring_tail; i++)
    if (slot_at(f, i)->state == SLOT_PENDING) {
      s = slot_at(f, i);
      break;
    }
  if (!s) {
    atomic_store(&c->pending, 0);
    return 0;
  }
  if (!sink->alloc && s->len > sink->buflen) {
    sink->lens[0] = s->len;
    return SHOAL_EMSGSIZE;
  }
  unsigned char *rec;
  int rc = read_record(f, s->seg, s->off, s->len, s->seq, &rec);
  if (rc)
    return rc;
  if (sink->alloc) {
    /* The record's buffer becomes the caller's: move the payload down. */
    memmove(rec, rec + SHOAL__FQ_REC_HDR, s->len);
    *sink->alloc = rec;
  } else {
    memcpy(sink->buf, rec + SHOAL__FQ_REC_HDR, s->len);
    free(rec);
  }
  sink->lens[0] = s->len;
  if (sink->prio)
    *sink->prio = 0;
  s->owner = process_stamp();
  s->tid = shoal__plat_tid();
  s->deliveries++;
  s->state = SLOT_OUT;
  atomic_fetch_sub(&c->pending, 1);
  atomic_fetch_add(&c->redelivered, 1);
  atomic_fetch_add(&c->gets, 1);
  return 1;
}

/* Hands out messages from the cursor.  get_lock is held; returns how many
 * (0 when the ring is full first), or an error. */
static int deliver(struct shoal__fileq *f, struct get_sink *sink)
{
  struct fq_ctl *c = f->c;
  bool join = joinable(c);
  uint64_t me = join ? process_stamp() : 0;
  uint32_t tid = join ? shoal__plat_tid() : 0;
  uint64_t avail = atomic_load_explicit(&c->next_seq, memory_order_acquire);
  c->gp_seg = c->r_seg;
  c->gp_off = c->r_off;
  c->gp_seq = atomic_load(&c->r_seq);
  c->get_active = 1;
  size_t k = 0, used = 0;
  int rc = 0;
  uint64_t seq = c->gp_seq;
  while (k < sink->max && seq < avail) {
    if (join && c->ring_tail - c->ring_head >= c->ring_slots)
      break;
    rc = shoal__fq_map_seg(f, &f->r, c->r_seg);
    if (rc)
      break;
    struct shoal__fq_view v;
    if (shoal__fq_decode(f->r.addr + c->r_off, c->segment_size - c->r_off, seq, &v) !=
        SHOAL__FQ_DEC_OK) {
      rc = SHOAL_ECORRUPT;
      break;
    }
    if (v.type == SHOAL__FQ_REC_END) {
      c->r_seg++;
      c->r_off = SHOAL__FQ_SEG_HDR;
      continue;
    }
    if (sink->alloc) {
      void *copy = malloc(v.len ? v.len : 1);
      if (!copy) {
        rc = SHOAL_ENOMEM;
        break;
      }
      memcpy(copy, v.payload, v.len);
      *sink->alloc = copy;
    } else {
      if (used + v.len > sink->buflen) {
        if (k == 0) {
          sink->lens[0] = v.len;
          rc = SHOAL_EMSGSIZE;
        }
        break;
      }
      if (v.len)
        memcpy((char *)sink->buf + used, v.payload, v.len);
      used += v.len;
    }
    sink->lens[k] = v.len;
    if (join) {
      struct fq_slot *s = slot_at(f, c->ring_tail);
      s->seq = seq;
      s->seg = c->r_seg;
      s->off = c->r_off;
      s->len = v.len;
      s->owner = me;
      s->tid = tid;
      s->deliveries = 1;
      s->state = SLOT_OUT;
      c->ring_tail++;
      atomic_fetch_add(&c->outstanding, 1);
    }
    c->r_off += v.size;
    atomic_store(&c->r_seq, ++seq);
    k++;
    if (sink->alloc)
      break;
  }
  c->get_active = 0;
  if (k && sink->prio)
    *sink->prio = 0;
  atomic_fetch_add(&c->gets, k);
  if (c->r_seg > atomic_load(&c->first_seg))
    collect(f);
  return k ? (int)k : rc;
}

int shoal__fq_get(shoal_queue *q, struct get_sink *sink, shoal_duration timeout)
{
  struct shoal__fileq *f = fq_of(q);
  struct fq_ctl *c = f->c;
  shoal__deadline d;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  struct data_wait w = {c};
  for (;;) {
    rc = shoal__fq_lock_get(f);
    if (rc)
      return rc;
    if (joinable(c))
      reap(f);
    rc = 0;
    if (atomic_load(&c->pending) > 0)
      rc = redeliver(f, sink);
    bool ring_full = joinable(c) && c->ring_tail - c->ring_head >= c->ring_slots;
    if (rc == 0 && !ring_full)
      rc = deliver(f, sink);
    unlock_get(f);
    if (rc > 0) {
      if (c->maxsize)
        shoal__queue_signal(&c->put_waiters, &c->space_seq, INT_MAX);
      return rc;
    }
    if (rc < 0)
      return rc;
    if (ring_full) {
      rc = shoal__queue_sleep(&c->ring_waiters, &c->ring_seq, ring_ready, &w, &d);
    } else {
      if (atomic_load(&c->state) != FQ_OPEN)
        return SHOAL_ECLOSED;
      rc = shoal__queue_sleep(&c->get_waiters, &c->data_seq, data_ready, &w, &d);
    }
    if (rc)
      return rc;
  }
}

/* ---- acknowledgement ----------------------------------------------------------------------- */

static void wake_join_if_done(struct fq_ctl *c)
{
  if (atomic_load(&c->next_seq) == atomic_load(&c->r_seq) && atomic_load(&c->outstanding) == 0) {
    atomic_fetch_add(&c->join_seq, 1);
    if (atomic_load(&c->join_waiters) > 0)
      shoal__plat_wake(&c->join_seq, INT_MAX);
  }
}

int shoal__fq_task_done(shoal_queue *q)
{
  struct shoal__fileq *f = fq_of(q);
  struct fq_ctl *c = f->c;
  if (!joinable(c))
    return SHOAL_EINVAL;
  uint64_t me = process_stamp();
  uint32_t tid = shoal__plat_tid();
  int rc = shoal__fq_lock_get(f);
  if (rc)
    return rc;
  /* The oldest message this thread took, else the oldest this process took. */
  struct fq_slot *mine = NULL;
  for (uint64_t i = c->ring_head; i != c->ring_tail; i++) {
    struct fq_slot *s = slot_at(f, i);
    if (s->state != SLOT_OUT || s->owner != me)
      continue;
    if (s->tid == tid) {
      mine = s;
      break;
    }
    if (!mine)
      mine = s;
  }
  if (!mine) {
    unlock_get(f);
    return SHOAL_EOVERRELEASE;
  }
  bool was_head = mine == slot_at(f, c->ring_head);
  mine->state = SLOT_DONE;
  atomic_fetch_sub(&c->outstanding, 1);
  if (was_head)
    collect(f);
  unlock_get(f);
  if (was_head) {
    atomic_fetch_add(&c->ring_seq, 1);
    if (atomic_load(&c->ring_waiters) > 0)
      shoal__plat_wake(&c->ring_seq, INT_MAX);
  }
  wake_join_if_done(c);
  return 0;
}

/* Drops every message not yet handed out (shutdown with immediate).  Both
 * locks are held; returns how many were dropped. */
int shoal__fq_discard(struct shoal__fileq *f)
{
  struct fq_ctl *c = f->c;
  uint64_t next = atomic_load(&c->next_seq);
  uint64_t n = next - atomic_load(&c->r_seq);
  c->r_seg = atomic_load(&c->w_seg);
  c->r_off = c->w_off;
  atomic_store(&c->r_seq, next);
  for (uint64_t i = c->ring_head; i != c->ring_tail; i++) {
    struct fq_slot *s = slot_at(f, i);
    if (s->state == SLOT_PENDING) {
      s->state = SLOT_DONE;
      atomic_fetch_sub(&c->outstanding, 1);
      n++;
    }
  }
  atomic_store(&c->pending, 0);
  collect(f);
  wake_join_if_done(c);
  return n > INT_MAX ? INT_MAX : (int)n;
}
