// SPDX-License-Identifier: MIT
// The file queue behind the shoal_queue calls: sizes, join, shutdown and
// statistics, and the backend table that queue.c dispatches to.
#include <limits.h>
#include <string.h>

#include "backend/file/fileq.h"

int shoal__fq_take(struct shoal__fileq *f, struct shoal__lockword *l,
                   void (*recover)(struct shoal__fileq *f))
{
  int rc = shoal__lockword_acquire(l, shoal__plat_stamp(), SHOAL_FOREVER);
  if (rc == SHOAL_EOWNERDEAD) {
    recover(f);
    shoal__lockword_consistent(l);
    rc = 0;
  }
  return rc;
}

static uint64_t depth(struct fq_ctl *c)
{
  return atomic_load(&c->next_seq) - atomic_load(&c->r_seq) + atomic_load(&c->pending);
}

static long fq_qsize(shoal_queue *q)
{
  uint64_t n = depth(fq_of(q)->c);
  return n > LONG_MAX ? LONG_MAX : (long)n;
}

static int fq_full(shoal_queue *q)
{
  struct fq_ctl *c = fq_of(q)->c;
  return c->maxsize && depth(c) >= c->maxsize;
}

static uint64_t unfinished(struct fq_ctl *c)
{
  return atomic_load(&c->next_seq) - atomic_load(&c->r_seq) + atomic_load(&c->outstanding);
}

static int fq_join(shoal_queue *q, shoal_duration timeout)
{
  struct fq_ctl *c = fq_of(q)->c;
  if (!(c->flags & SHOAL_QUEUE_JOINABLE))
    return SHOAL_EINVAL;
  shoal__deadline d;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  for (;;) {
    atomic_fetch_add(&c->join_waiters, 1);
    uint32_t seen = atomic_load(&c->join_seq);
    bool done = unfinished(c) == 0;
    if (!done && !d.nowait)
      rc = shoal__deadline_wait(&c->join_seq, seen, &d);
    atomic_fetch_sub(&c->join_waiters, 1);
    if (done || unfinished(c) == 0)
      return 0;
    if (d.nowait)
      return SHOAL_EAGAIN;
    if (rc == SHOAL_ETIMEDOUT)
      return rc;
  }
}

static int fq_shutdown(shoal_queue *q, int immediate)
{
  struct shoal__fileq *f = fq_of(q);
  struct fq_ctl *c = f->c;
  /* Under put_lock: no put is half done once the state reads shut down. */
  int rc = shoal__fq_lock_put(f);
  if (rc)
    return rc;
  atomic_store(&c->state, FQ_SHUTDOWN);
  int discarded = 0;
  if (immediate) {
    rc = shoal__fq_lock_get(f);
    if (rc == 0) {
      discarded = shoal__fq_discard(f);
      shoal__lockword_release(&c->get_lock, 0);
    }
  }
  shoal__lockword_release(&c->put_lock, 0);
  if (discarded > 0)
    atomic_fetch_add(&c->discarded, (uint64_t)discarded);
  _Atomic uint32_t *words[] = {&c->data_seq, &c->space_seq, &c->join_seq, &c->ring_seq};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    atomic_fetch_add(words[i], 1);
    shoal__plat_wake(words[i], INT_MAX);
  }
  return rc ? rc : discarded;
}

static int fq_stats(shoal_queue *q, shoal_queue_info *st)
{
  struct fq_ctl *c = fq_of(q)->c;
  memset(st, 0, sizeof *st);
  st->depth = depth(c);
  uint64_t segs = atomic_load(&c->w_seg) - atomic_load(&c->first_seg) + 1;
  st->bytes = segs * c->segment_size;
  st->capacity = c->segment_size;
  st->maxsize = c->maxsize;
  st->puts = atomic_load(&c->puts);
  st->gets = atomic_load(&c->gets);
  st->losses = atomic_load(&c->losses);
  st->discarded = atomic_load(&c->discarded);
  st->put_waiters = atomic_load(&c->put_waiters);
  st->get_waiters = atomic_load(&c->get_waiters);
  return 0;
}

int shoal_fileq_stats(shoal_queue *q, shoal_fileq_info *st)
{
  if (!q || !st || q->backend != &shoal__fileq_backend)
    return SHOAL_EINVAL;
  struct fq_ctl *c = fq_of(q)->c;
  memset(st, 0, sizeof *st);
  st->first_segment = atomic_load(&c->first_seg);
  st->last_segment = atomic_load(&c->w_seg);
  st->synced = atomic_load(&c->synced_seq);
  st->inflight = atomic_load(&c->outstanding) - atomic_load(&c->pending);
  st->redelivered = atomic_load(&c->redelivered);
  st->dead_lettered = atomic_load(&c->dead_lettered);
  st->torn_records = atomic_load(&c->torn_records);
  st->torn_bytes = atomic_load(&c->torn_bytes);
  st->rebuilds = atomic_load(&c->rebuilds);
  st->syncs = atomic_load(&c->syncs);
  return 0;
}

const struct shoal__queue_backend shoal__fileq_backend = {
    .put = shoal__fq_put,
    .get = shoal__fq_get,
    .qsize = fq_qsize,
    .full = fq_full,
    .task_done = shoal__fq_task_done,
    .join = fq_join,
    .shutdown = fq_shutdown,
    .stats = fq_stats,
    .close = shoal__fileq_close,
};
