// SPDX-License-Identifier: MIT
// shoal/queue.h: Queue, JoinableQueue, SimpleQueue, LifoQueue and
// PriorityQueue — Python's queue.Queue family and multiprocessing.Queue for C.
//
// A queue carries byte strings of any length from 0 up to what its byte
// capacity can hold, between threads, between a parent and the children it
// forks after shoal_queue_create, and between unrelated processes that open
// it by name.  Messages are copied in and out (zero-copy calls exist too).
// Handles are process-local, valid in fork children, and usable from any
// thread.  Blocking calls take a shoal_duration last (see shoal/common.h).
//
// Dead participants: a producer or consumer killed at any instruction never
// corrupts the queue and never blocks the others for more than about 0.1 s.
// At most the one message the dead process was handing over is lost, and the
// queue counts it (shoal_queue_stats: losses).  A consumer killed after
// shoal_queue_get returned owns its message: the queue cannot know whether it
// was processed.
#ifndef SHOAL_QUEUE_H
#define SHOAL_QUEUE_H

#include <stddef.h>
#include <sys/uio.h>

#include <shoal/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shoal_queue shoal_queue;

/* The order in which messages come out. */
enum shoal_queue_kind {
  SHOAL_QUEUE_FIFO = 0,     /* Queue, JoinableQueue, SimpleQueue */
  SHOAL_QUEUE_LIFO = 1,     /* LifoQueue: last in, first out */
  SHOAL_QUEUE_PRIORITY = 2, /* PriorityQueue: lowest priority first, FIFO among equals */
};

enum shoal_queue_flags {
  /* JoinableQueue: every put adds an unfinished task that shoal_queue_task_done
   * removes; shoal_queue_join waits until none is left. */
  SHOAL_QUEUE_JOINABLE = 1,
};

typedef struct shoal_queue_opts {
  size_t maxsize;       /* most messages held at once; 0 = bounded by capacity only */
  size_t capacity;      /* bytes of message storage (rounded up to a power of two,
                           at least one page); 0 = 1 MiB */
  unsigned kind;        /* enum shoal_queue_kind */
  unsigned flags;       /* enum shoal_queue_flags */
  uint32_t reserved[8]; /* must be zero */
} shoal_queue_opts;

#define SHOAL_QUEUE_MAX_CAPACITY ((size_t)1 << 36)
#define SHOAL_QUEUE_MAX_ITEMS ((size_t)1 << 23)

// shoal_queue_create makes an anonymous queue (NULL opts: an unbounded FIFO
// of 1 MiB).  Errors: SHOAL_EINVAL (out NULL, unknown kind or flags, nonzero
// reserved, maxsize over SHOAL_QUEUE_MAX_ITEMS, capacity over
// SHOAL_QUEUE_MAX_CAPACITY), SHOAL_ENOMEM.
SHOAL_API int shoal_queue_create(shoal_queue **out, const shoal_queue_opts *opts);

// shoal_queue_open opens the named queue `name`, creating it with opts when
// oopts asks (SHOAL_OPEN_CREATE); an existing queue keeps its creator's
// options.  Errors as shoal_lock_open in shoal/sync.h, plus those of
// shoal_queue_create for opts.
SHOAL_API int shoal_queue_open(shoal_queue **out, const char *name, const shoal_queue_opts *opts,
                               const shoal_open_opts *oopts);

// shoal_queue_destroy releases this process's handle to an anonymous queue;
// the queue lives on in processes that still hold it.  Do not call it while
// other threads use the handle.  NULL is a no-op.
SHOAL_API void shoal_queue_destroy(shoal_queue *q);

// shoal_queue_close releases this process's handle to a named queue.  NULL is
// a no-op.
SHOAL_API void shoal_queue_close(shoal_queue *q);

// shoal_queue_put copies len bytes from buf (buf may be NULL when len is 0)
// into the queue, waiting at most `timeout` for room (maxsize or capacity).
// Returns 0, SHOAL_EAGAIN (SHOAL_NOWAIT) or SHOAL_ETIMEDOUT when there was no
// room (nothing was put), SHOAL_E2BIG at once when the message can never fit,
// SHOAL_ECLOSED after shoal_queue_shutdown, SHOAL_EINVAL.  On a priority
// queue the priority is 0.
SHOAL_API int shoal_queue_put(shoal_queue *q, const void *buf, size_t len, shoal_duration timeout);

// shoal_queue_put_priority is shoal_queue_put with a priority: on a
// SHOAL_QUEUE_PRIORITY queue lower values come out first, FIFO among equals.
// Other kinds ignore it.
SHOAL_API int shoal_queue_put_priority(shoal_queue *q, int64_t priority, const void *buf,
                                       size_t len, shoal_duration timeout);

// shoal_queue_get takes the next message into buf, whose size the caller puts
// in *len; on success *len is the message's length.  Waits at most `timeout`
// for a message.  Returns 0; SHOAL_EAGAIN / SHOAL_ETIMEDOUT when the queue
// stayed empty; SHOAL_EMSGSIZE when buf is too small — then *len is the size
// needed and the message stays at the head of the queue; SHOAL_ECLOSED when
// the queue is shut down and empty; SHOAL_EINVAL.
SHOAL_API int shoal_queue_get(shoal_queue *q, void *buf, size_t *len, shoal_duration timeout);

// shoal_queue_get_alloc is shoal_queue_get into a buffer it allocates: on 0,
// *buf holds the message (free it with shoal_free) and *len its length; on an
// error nothing is allocated.  *priority receives the message's priority when
// priority is not NULL (0 on other kinds).
SHOAL_API int shoal_queue_get_alloc(shoal_queue *q, void **buf, size_t *len, int64_t *priority,
                                    shoal_duration timeout);

// shoal_queue_get_priority is shoal_queue_get that also returns the message's
// priority in *priority (0 for FIFO and LIFO queues).
SHOAL_API int shoal_queue_get_priority(shoal_queue *q, void *buf, size_t *len, int64_t *priority,
                                       shoal_duration timeout);

// shoal_queue_put_many puts msgs[0..n) in order with one synchronisation,
// waiting at most `timeout` until at least the first fits, then putting as
// many as fit at once.  Returns how many were put (>= 1), or an error as
// shoal_queue_put (nothing put).  A message that can never fit stops the batch
// there (SHOAL_E2BIG if it is the first).
SHOAL_API int shoal_queue_put_many(shoal_queue *q, const struct iovec *msgs, size_t n,
                                   shoal_duration timeout);

// shoal_queue_get_many takes up to max messages with one synchronisation,
// waiting at most `timeout` for the first.  They are copied back to back into
// buf (buflen bytes) and lens[i] receives the length of the i-th.  Returns how
// many were taken (>= 1); stops early at a message that does not fit in what
// is left of buf.  Errors as shoal_queue_get (SHOAL_EMSGSIZE when the first
// does not fit: then lens[0] is the size needed).
SHOAL_API int shoal_queue_get_many(shoal_queue *q, void *buf, size_t buflen, size_t *lens,
                                   size_t max, shoal_duration timeout);

// shoal_queue_loan reserves room for a message of len bytes and returns in
// *buf where to write it, in the queue's own memory (FIFO queues only:
// SHOAL_ENOTSUP otherwise).  Finish with shoal_queue_commit (the message is
// put) or shoal_queue_abandon (nothing is put).  Until then the other
// producers of this queue wait, so write promptly.  One loan per thread at a
// time.  Errors as shoal_queue_put.
SHOAL_API int shoal_queue_loan(shoal_queue *q, size_t len, void **buf, shoal_duration timeout);

// shoal_queue_commit puts the message written into the calling thread's
// current loan.  Returns 0, or SHOAL_EINVAL when this thread holds no loan.
SHOAL_API int shoal_queue_commit(shoal_queue *q);

// shoal_queue_abandon drops the calling thread's current loan; nothing is put.
SHOAL_API int shoal_queue_abandon(shoal_queue *q);

// shoal_queue_peek returns the head message in place: *buf points into the
// queue's memory and *len is its length (FIFO queues only: SHOAL_ENOTSUP
// otherwise).  The message stays in the queue until shoal_queue_release
// removes it; meanwhile the other consumers of this queue wait.  Errors as
// shoal_queue_get.
SHOAL_API int shoal_queue_peek(shoal_queue *q, const void **buf, size_t *len,
                               shoal_duration timeout);

// shoal_queue_release removes the message the calling thread peeked at.
// Returns 0, or SHOAL_EINVAL when this thread holds no peek.
SHOAL_API int shoal_queue_release(shoal_queue *q);

// shoal_queue_qsize returns the number of messages in the queue (momentary),
// or SHOAL_EINVAL.
SHOAL_API long shoal_queue_qsize(shoal_queue *q);

// shoal_queue_empty returns 1 if the queue holds no message, 0 if it does, or
// SHOAL_EINVAL (momentary, as in Python).
SHOAL_API int shoal_queue_empty(shoal_queue *q);

// shoal_queue_full returns 1 if the queue holds maxsize messages (0 when it has
// no maxsize), 0 if not, or SHOAL_EINVAL (momentary).
SHOAL_API int shoal_queue_full(shoal_queue *q);

// shoal_queue_task_done marks one message taken from a joinable queue as
// processed.  Returns 0; SHOAL_EOVERRELEASE when called more times than
// messages were put; SHOAL_EINVAL for a queue that is not joinable.
SHOAL_API int shoal_queue_task_done(shoal_queue *q);

// shoal_queue_join waits until every message put into a joinable queue has
// been marked done (or the queue was shut down with immediate=1).  Returns 0,
// SHOAL_EAGAIN / SHOAL_ETIMEDOUT, SHOAL_EINVAL for a queue that is not
// joinable.
SHOAL_API int shoal_queue_join(shoal_queue *q, shoal_duration timeout);

// shoal_queue_shutdown shuts the queue down for every process (Python 3.13's
// Queue.shutdown): puts fail with SHOAL_ECLOSED from now on, getters take what
// is left and then get SHOAL_ECLOSED instead of blocking, and every blocked
// putter and getter wakes.  With immediate, the messages left are discarded
// (and count as done for join).  Returns the number discarded (>= 0), or
// SHOAL_EINVAL.  Shutting down twice is fine.
SHOAL_API int shoal_queue_shutdown(shoal_queue *q, int immediate);

typedef struct shoal_queue_info {
  uint64_t depth;       /* messages in the queue */
  uint64_t bytes;       /* bytes of storage they use, headers included */
  uint64_t capacity;    /* bytes of storage */
  uint64_t maxsize;     /* 0 = none */
  uint64_t puts;        /* messages put since creation */
  uint64_t gets;        /* messages taken since creation */
  uint64_t losses;      /* messages lost with a process that died handing them over */
  uint64_t discarded;   /* messages dropped by shutdown(immediate) */
  uint32_t put_waiters; /* threads waiting for room */
  uint32_t get_waiters; /* threads waiting for a message */
  uint64_t reserved[4];
} shoal_queue_info;

// shoal_queue_stats fills *st with a momentary picture of the queue.
// Returns 0 or SHOAL_EINVAL.
SHOAL_API int shoal_queue_stats(shoal_queue *q, shoal_queue_info *st);

/* Readiness file descriptors, for epoll/poll/libuv/libevent. */
enum shoal_queue_event {
  SHOAL_QUEUE_READABLE = 1, /* a message is available */
  SHOAL_QUEUE_WRITABLE = 2, /* there is room for a message */
};

// shoal_queue_fd returns a file descriptor that polls readable when the queue
// has a message (SHOAL_QUEUE_READABLE) or room (SHOAL_QUEUE_WRITABLE) — the
// first call starts a watcher thread in this process; producers and consumers
// pay nothing until some process asks.  Readiness is a hint: after it, a
// SHOAL_NOWAIT get or put may still find nothing (another consumer was
// faster); such a SHOAL_EAGAIN re-arms the descriptor.  The descriptor
// belongs to the handle: do not close it; shoal_queue_destroy/close does.
// Returns the fd (>= 0), SHOAL_EINVAL, or SHOAL_EMFILE/SHOAL_ENOMEM.
SHOAL_API int shoal_queue_fd(shoal_queue *q, int event);

#ifdef __cplusplus
}
#endif
#endif
