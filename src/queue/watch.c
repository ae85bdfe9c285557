// SPDX-License-Identifier: MIT
// Readiness descriptors.  shoal_queue_fd starts, in the asking process only,
// a watcher thread that sleeps on the queue like any getter (or putter) and
// makes an eventfd readable when a message (or room) appears.  Producers and
// consumers pay nothing for it beyond the wake-up they already do for
// sleepers.  The eventfd stays readable until this process finds the queue
// empty (or full) with a SHOAL_NOWAIT call, which re-arms the watcher.
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "queue/queue_internal.h"

struct queue_watch {
  shoal_queue *q;
  int event;
  int efd;
  pthread_t thread;
  _Atomic uint32_t rearm_seq; /* bumped to make the watcher look again */
  _Atomic int stop;
  _Atomic int signalled;      /* the eventfd holds a count */
};

static bool is_ready(struct queue_watch *w)
{
  struct queue_ctrl *c = w->q->c;
  if (atomic_load(&c->state) != QSTATE_OPEN)
    return true;
  long n = shoal_queue_qsize(w->q);
  if (w->event == SHOAL_QUEUE_READABLE)
    return n > 0;
  uint64_t t = atomic_load(&c->tail), h = atomic_load(&c->head);
  return (!c->maxsize || (uint64_t)n < c->maxsize) && qbytes(t, h) < c->capacity;
}

static void *watch_main(void *arg)
{
  struct queue_watch *w = arg;
  struct queue_ctrl *c = w->q->c;
  _Atomic uint32_t *waiters = w->event == SHOAL_QUEUE_READABLE ? &c->get_waiters : &c->put_waiters;
  _Atomic uint32_t *seq = w->event == SHOAL_QUEUE_READABLE ? &c->data_seq : &c->space_seq;
  shoal__deadline forever = {SHOAL__PLAT_NEVER, false};

  while (!atomic_load(&w->stop)) {
    uint32_t rearm = atomic_load(&w->rearm_seq);
    if (is_ready(w)) {
      if (!atomic_exchange(&w->signalled, 1)) {
        uint64_t one = 1;
        ssize_t r = write(w->efd, &one, sizeof one);
        (void)r; /* a full counter is still readable */
      }
      /* Sleep until this process drains the fd and asks again. */
      shoal__deadline_wait(&w->rearm_seq, rearm, &forever);
      continue;
    }
    atomic_fetch_add(waiters, 1);
    uint32_t seen = atomic_load(seq);
    if (!is_ready(w) && !atomic_load(&w->stop))
      shoal__deadline_wait(seq, seen, &forever);
    atomic_fetch_sub(waiters, 1);
  }
  return NULL;
}

static pthread_mutex_t watch_start = PTHREAD_MUTEX_INITIALIZER;

int shoal_queue_fd(shoal_queue *q, int event)
{
  if (!q || (event != SHOAL_QUEUE_READABLE && event != SHOAL_QUEUE_WRITABLE))
    return SHOAL_EINVAL;
  if (SHOAL__QUEUE_BACKEND(q))
    return SHOAL_ENOTSUP;
  int slot = event == SHOAL_QUEUE_READABLE ? 0 : 1;
  pthread_mutex_lock(&watch_start);
  struct queue_watch *w = q->watch[slot];
  if (w) {
    pthread_mutex_unlock(&watch_start);
    return w->efd;
  }
  int rc = SHOAL_ENOMEM;
  w = calloc(1, sizeof *w);
  if (!w)
    goto out;
  w->q = q;
  w->event = event;
  w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->efd < 0) {
    rc = errno == EMFILE || errno == ENFILE ? SHOAL_EMFILE : SHOAL_ENOMEM;
    free(w);
    goto out;
  }
  if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
    close(w->efd);
    free(w);
    goto out;
  }
  q->watch[slot] = w;
  rc = w->efd;
out:
  pthread_mutex_unlock(&watch_start);
  return rc;
}

void shoal__queue_watch_rearm(shoal_queue *q, int event)
{
  struct queue_watch *w = q->watch[event == SHOAL_QUEUE_READABLE ? 0 : 1];
  if (!w || !atomic_exchange(&w->signalled, 0))
    return;
  uint64_t n;
  ssize_t r = read(w->efd, &n, sizeof n);
  (void)r; /* already empty is fine */
  atomic_fetch_add(&w->rearm_seq, 1);
  shoal__plat_wake(&w->rearm_seq, 1);
}

void shoal__queue_watch_stop(shoal_queue *q)
{
  struct queue_ctrl *c = q->c;
  for (int slot = 0; slot < 2; slot++) {
    struct queue_watch *w = q->watch[slot];
    if (!w)
      continue;
    atomic_store(&w->stop, 1);
    atomic_fetch_add(&w->rearm_seq, 1);
    shoal__plat_wake(&w->rearm_seq, 1);
    /* The watcher may sleep on the queue itself: a spurious wake-up of that
     * word costs the other sleepers one look each. */
    _Atomic uint32_t *seq = slot == 0 ? &c->data_seq : &c->space_seq;
    atomic_fetch_add(seq, 1);
    shoal__plat_wake(seq, INT_MAX);
    pthread_join(w->thread, NULL);
    close(w->efd);
    free(w);
    q->watch[slot] = NULL;
  }
}
