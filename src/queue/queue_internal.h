// SPDX-License-Identifier: MIT
// queue_internal.h: the queue engine's shared state and the process-local
// handle.
//
// Layout of a queue's memory: region header | struct queue_ctrl | (pad to a
// page) | ring of `capacity` bytes.  The ring is mapped twice back to back in
// every process, so a record that runs past the end continues at the start
// with no wrap-around logic.
//
// Cross-process invariants:
//  - `tail` and `head` pack a byte position (low 40 bits) and a message count
//    (high 24 bits), both counting up modulo their width.  One atomic store of
//    `tail` publishes a put (bytes and count together); one store of `head`
//    completes a get.  Bytes between head and tail are whole records.
//  - Producers change tail only with put_lock held; consumers change head only
//    with get_lock held (FIFO).  LIFO and priority queues use put_lock alone.
//  - Before changing anything else, the lock holder writes what it is doing
//    into its in-progress fields; whoever takes a lock over from a dead holder
//    (SHOAL_EOWNERDEAD) reads them to count what was lost and to undo
//    half-done bookkeeping, then marks the lock consistent.
//  - Sleepers raise a waiter count, then look at the state, then sleep on a
//    sequence word; the other side publishes its change (a release store),
//    issues a sequentially consistent fence, then reads the waiter count and,
//    if needed, bumps the sequence word and wakes.  No wake-up is lost; a waker killed in
//    between costs a sleeper one slice (shoal__deadline_wait).
#ifndef SHOAL_QUEUE_INTERNAL_H
#define SHOAL_QUEUE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "core/deadline.h"
#include "core/region.h"
#include "shoal/queue.h"
#include "sync/lockword.h"

#define QPOS_BITS 40
#define QPOS_MASK ((UINT64_C(1) << QPOS_BITS) - 1)
#define QCNT_MASK ((UINT64_C(1) << (64 - QPOS_BITS)) - 1)

static inline uint64_t qpos(uint64_t w)
{
  return w & QPOS_MASK;
}
static inline uint64_t qcnt(uint64_t w)
{
  return w >> QPOS_BITS;
}
static inline uint64_t qpack(uint64_t pos, uint64_t cnt)
{
  return (pos & QPOS_MASK) | ((cnt & QCNT_MASK) << QPOS_BITS);
}
/* Bytes and messages between head and tail. */
static inline uint64_t qbytes(uint64_t tail, uint64_t head)
{
  return (qpos(tail) - qpos(head)) & QPOS_MASK;
}
static inline uint64_t qitems(uint64_t tail, uint64_t head)
{
  return (qcnt(tail) - qcnt(head)) & QCNT_MASK;
}

enum { QSTATE_OPEN = 0, QSTATE_SHUTDOWN = 1 };

/* Record header.  FIFO records are hdr + payload, padded to 8 bytes.  LIFO
 * and priority records add prio/seq and end with an 8-byte trailer holding
 * the record's size, so the newest one can be found from the tail. */
struct rec_hdr {
  uint32_t len;
  uint32_t live; /* LIFO/priority: 1 until taken */
};
struct rec_ext {
  int64_t prio;
  uint64_t seq;
};

#define CACHELINE 64

struct queue_ctrl {
  /* Immutable after creation. */
  uint64_t capacity; /* bytes, a power of two */
  uint64_t maxsize;  /* messages; 0 = none */
  uint64_t data_offset;
  uint32_t kind;
  uint32_t flags;
  uint64_t index_offset; /* priority: offset of the heap index from the ctrl */
  uint64_t index_slots;

  _Alignas(CACHELINE) _Atomic uint32_t state;
  _Atomic uint32_t join_seq;
  _Atomic uint32_t join_waiters;
  _Atomic uint64_t unfinished;
  _Atomic uint64_t losses;
  _Atomic uint64_t discarded;

  /* Producer bookkeeping: only producers touch this line (put_lock held),
   * so it stays in the producing core's cache. */
  _Alignas(CACHELINE) struct shoal__lockword put_lock;
  uint64_t head_cache;      /* a recent head, read by producers only */
  uint64_t put_progress;    /* tail position + 1 of an unfinished put; 0 = none */
  uint32_t put_pending;     /* messages in that put */
  uint32_t put_counted;     /* 1 once `unfinished` includes them */
  _Atomic uint64_t puts;
  uint64_t next_seq;        /* priority: FIFO order among equal priorities */
  uint64_t index_len;       /* priority: entries in the heap index */

  /* Written by producers, read by consumers: a line of its own, so that a
   * consumer polling it does not steal the producers' bookkeeping line. */
  _Alignas(CACHELINE) _Atomic uint64_t tail;

  _Alignas(CACHELINE) _Atomic uint32_t put_waiters;
  _Atomic uint32_t space_seq;

  /* Consumer bookkeeping (get_lock; FIFO only). */
  _Alignas(CACHELINE) struct shoal__lockword get_lock;
  uint64_t tail_cache;      /* a recent tail, read by consumers only */
  uint64_t get_progress;    /* head position + 1 of an unfinished get; 0 = none */
  uint32_t get_pending;
  uint32_t reserved0;
  _Atomic uint64_t gets;

  /* Written by consumers, read by producers. */
  _Alignas(CACHELINE) _Atomic uint64_t head;

  _Alignas(CACHELINE) _Atomic uint32_t get_waiters;
  _Atomic uint32_t data_seq;
};

/* One entry of a priority queue's heap index. */
struct heap_entry {
  int64_t prio;
  uint64_t seq;
  uint64_t pos; /* record position in the ring */
};

struct queue_watch;
struct shoal__queue_backend;

struct shoal_queue {
  struct shoal__region region;
  struct queue_ctrl *c;
  char *data;                  /* the ring, mapped twice */
  struct heap_entry *index;    /* priority queues */
  struct queue_watch *watch[2]; /* readiness fds, started on demand */
  /* Another home (src/backend/): every public call goes there when set;
   * NULL is the shared-memory queue above, which pays one branch for it. */
  const struct shoal__queue_backend *backend;
  void *be; /* the backend's state */
};

/* What a consumer needs to copy messages out. */
struct get_sink {
  void *buf;        /* copy destination, or NULL for get_alloc */
  size_t buflen;
  size_t *lens;     /* out: lengths */
  size_t max;       /* messages wanted */
  void **alloc;     /* get_alloc: where to store the malloc'd copy */
  int64_t *prio;    /* out: priority of the first message, or NULL */
};

/* A queue backend: what the public calls in queue.c and ring.c hand over to
 * when shoal_queue->backend is set.  Arguments are already validated (NULL
 * handle, buffers, counts); timeouts are not.  put returns how many
 * messages were put (>= 1) or an error, get how many were taken. */
struct shoal__queue_backend {
  int (*put)(shoal_queue *q, const struct iovec *msgs, size_t n, shoal_duration timeout);
  int (*get)(shoal_queue *q, struct get_sink *sink, shoal_duration timeout);
  long (*qsize)(shoal_queue *q);
  int (*full)(shoal_queue *q);
  int (*task_done)(shoal_queue *q);
  int (*join)(shoal_queue *q, shoal_duration timeout);
  int (*shutdown)(shoal_queue *q, int immediate);
  int (*stats)(shoal_queue *q, shoal_queue_info *st);
  void (*close)(shoal_queue *q);
};

// shoal__backend_open opens the queue at a location "scheme://..." (see
// src/backend/): "file://" is the durable file queue.  Errors: those of the
// backend, SHOAL_EINVAL for an unknown scheme.
int shoal__backend_open(shoal_queue **out, const char *url, const shoal_queue_opts *opts,
                        const shoal_open_opts *oopts);

/* Where a public call hands over to the backend: one predictable branch. */
#define SHOAL__QUEUE_BACKEND(q) __builtin_expect((q)->backend != NULL, 0)

// Engine entry points (ring.c for FIFO, stack.c for LIFO and priority).
int shoal__fifo_put(shoal_queue *q, const struct iovec *msgs, size_t n, const shoal__deadline *d);
int shoal__fifo_get(shoal_queue *q, struct get_sink *sink, const shoal__deadline *d);
int shoal__fifo_discard(shoal_queue *q);
int shoal__heap_put(shoal_queue *q, const struct iovec *msgs, size_t n, int64_t prio,
                    const shoal__deadline *d);
int shoal__heap_get(shoal_queue *q, struct get_sink *sink, const shoal__deadline *d);
int shoal__heap_discard(shoal_queue *q);

// shoal__queue_create_fd is shoal_queue_create that also returns in *fd a
// descriptor of the queue's memory (close-on-exec; the caller closes it), for
// a process started by exec to map with shoal__queue_open_fd.
int shoal__queue_create_fd(shoal_queue **out, const shoal_queue_opts *opts, int *fd);

// shoal__queue_open_fd makes a handle on the anonymous queue whose memory fd
// holds; the caller keeps fd.  Errors as shoal__region_map_fd.
int shoal__queue_open_fd(shoal_queue **out, int fd);

// Shared helpers (queue.c).
int shoal__queue_lock(shoal_queue *q, struct shoal__lockword *l);
void shoal__queue_unlock(struct shoal__lockword *l);
void shoal__queue_signal(_Atomic uint32_t *waiters, _Atomic uint32_t *seq, int n);
int shoal__queue_sleep(_Atomic uint32_t *waiters, _Atomic uint32_t *seq, bool (*ready)(void *),
                       void *arg, const shoal__deadline *d);
void shoal__queue_add_unfinished(struct queue_ctrl *c, uint64_t n);
void shoal__queue_sub_unfinished(struct queue_ctrl *c, uint64_t n);
void shoal__queue_watch_rearm(shoal_queue *q, int event);
void shoal__queue_watch_stop(shoal_queue *q);
void shoal__heap_recover(shoal_queue *q);

static inline size_t fifo_rec_size(size_t len)
{
  return sizeof(struct rec_hdr) + ((len + 7) & ~(size_t)7);
}

static inline size_t heap_rec_size(size_t len)
{
  return sizeof(struct rec_hdr) + sizeof(struct rec_ext) + ((len + 7) & ~(size_t)7) + 8;
}

#endif
