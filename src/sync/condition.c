// SPDX-License-Identifier: MIT
// Condition: notify(n) wakes exactly min(n, waiters) waiters.
//
// Cross-process invariants (all changes to `sleepers` are made with the
// condition's lock held):
//  - `sleepers` counts waiters that have not been handed a permit yet;
//  - `permits` (the futex word) holds permits handed out by notify and not yet
//    taken; a waiter leaves its wait only by taking one permit (notified) or,
//    after its deadline and with the lock held again, by finding none and
//    removing itself from `sleepers` (timed out).
// So every permit is taken by exactly one waiter and notify(n) wakes exactly
// min(n, sleepers).  A later waiter may take a permit meant for an earlier
// one (no FIFO order), which Python allows too.  A waiter killed while
// waiting stays counted and may absorb one later notify.
#include <limits.h>

#include "sync/handles.h"

enum { OWN_RLOCK = 0, EXTERNAL_LOCK = 1 };

struct cond_state {
  _Atomic uint32_t permits;
  _Atomic uint32_t sleepers;
  uint32_t lock_kind; /* OWN_RLOCK or EXTERNAL_LOCK (fixed at creation) */
  uint32_t reserved;
  struct shoal__rlock_state own; /* the condition's RLock when OWN_RLOCK */
};

struct shoal_condition {
  struct shoal__region region;
  struct cond_state *st;
  struct shoal__lockword *lock;       /* external Lock, or NULL */
  struct shoal__rlock_state *rlock;   /* external RLock or the own one, or NULL */
};

static int cond_init(void *payload, size_t size, void *arg)
{
  struct cond_state *st = payload;
  (void)size;
  st->lock_kind = *(const uint32_t *)arg;
  return 0;
}

static int cond_make(shoal_condition **out, const char *name, shoal_lock *lock,
                     shoal_rlock *rlock, const shoal_open_opts *opts)
{
  struct shoal__region r;
  if (!out || (lock && rlock))
    return SHOAL_EINVAL;
  uint32_t kind = lock || rlock ? EXTERNAL_LOCK : OWN_RLOCK;
  int rc = name ? shoal__region_open(&r, name, SHOAL__TYPE_CONDITION, sizeof(struct cond_state),
                                     sizeof(struct cond_state), opts, cond_init, &kind)
                : shoal__region_create(&r, SHOAL__TYPE_CONDITION, sizeof(struct cond_state),
                                       cond_init, &kind);
  if (rc)
    return rc;
  struct cond_state *st = shoal__region_payload(&r);
  if (st->lock_kind != kind) {
    /* A named condition made with its own lock, opened with an external one
     * (or the reverse): the processes would not exclude each other. */
    shoal__region_close(&r);
    return SHOAL_EINVAL;
  }
  shoal_condition *h = shoal__region_handle_new(sizeof *h, &r);
  if (!h)
    return SHOAL_ENOMEM;
  h->st = shoal__region_payload(&h->region);
  h->lock = lock ? lock->lw : NULL;
  h->rlock = rlock ? rlock->st : lock ? NULL : &h->st->own;
  *out = h;
  return 0;
}

int shoal_condition_create(shoal_condition **out, shoal_lock *lock, shoal_rlock *rlock)
{
  return cond_make(out, NULL, lock, rlock, NULL);
}

int shoal_condition_open(shoal_condition **out, const char *name, shoal_lock *lock,
                         shoal_rlock *rlock, const shoal_open_opts *opts)
{
  return name ? cond_make(out, name, lock, rlock, opts) : SHOAL_EINVAL;
}

void shoal_condition_destroy(shoal_condition *cond)
{
  shoal__region_handle_free(cond);
}

void shoal_condition_close(shoal_condition *cond)
{
  shoal__region_handle_free(cond);
}

int shoal_condition_acquire(shoal_condition *cond, shoal_duration timeout)
{
  if (!cond)
    return SHOAL_EINVAL;
  if (cond->lock)
    return shoal__lockword_acquire(cond->lock, shoal__plat_stamp(), timeout);
  return shoal__rlock_state_acquire(cond->rlock, timeout);
}

int shoal_condition_release(shoal_condition *cond)
{
  if (!cond)
    return SHOAL_EINVAL;
  if (cond->lock)
    return shoal__lockword_release(cond->lock, 0);
  return shoal__rlock_state_release(cond->rlock);
}

static bool held_by_me(shoal_condition *cond)
{
  struct shoal__lockword *lw = cond->lock ? cond->lock : &cond->rlock->lw;
  return shoal__lockword_held_by(lw, shoal__plat_stamp());
}

/* Releases the lock entirely; returns the RLock level to restore. */
static uint32_t release_all(shoal_condition *cond)
{
  if (cond->lock) {
    shoal__lockword_release(cond->lock, 0);
    return 1;
  }
  uint32_t level = cond->rlock->count;
  cond->rlock->count = 1;
  shoal__lockword_release(&cond->rlock->lw, shoal__plat_stamp());
  return level;
}

/* Takes the lock back at `level`; returns 0 or SHOAL_EOWNERDEAD (held). */
static int reacquire(shoal_condition *cond, uint32_t level)
{
  uint64_t stamp = shoal__plat_stamp();
  struct shoal__lockword *lw = cond->lock ? cond->lock : &cond->rlock->lw;
  int rc;
  do
    rc = shoal__lockword_acquire(lw, stamp, SHOAL_FOREVER);
  while (rc != 0 && rc != SHOAL_EOWNERDEAD && rc != SHOAL_ENOTRECOVERABLE);
  if (!cond->lock && rc != SHOAL_ENOTRECOVERABLE)
    cond->rlock->count = level;
  return rc;
}

static bool take_permit(struct cond_state *st)
{
  uint32_t p = atomic_load_explicit(&st->permits, memory_order_relaxed);
  while (p > 0) {
    if (atomic_compare_exchange_weak_explicit(&st->permits, &p, p - 1, memory_order_acquire,
                                              memory_order_relaxed))
      return true;
  }
  return false;
}

/* The wait proper, with d already computed (wait_for reuses one deadline). */
static int wait_until(shoal_condition *cond, const shoal__deadline *d)
{
  struct cond_state *st = cond->st;
  if (!held_by_me(cond))
    return SHOAL_EPERM;
  if (d->nowait)
    return SHOAL_EAGAIN;
  atomic_fetch_add(&st->sleepers, 1);
  uint32_t level = release_all(cond);
  bool notified = false;
  for (;;) {
    if ((notified = take_permit(st)))
      break;
    if (shoal__deadline_wait(&st->permits, 0, d) == SHOAL_ETIMEDOUT)
      break;
  }
  int rc = reacquire(cond, level);
  if (!notified) {
    /* A notify may have counted us after our deadline: honour it. */
    notified = take_permit(st);
    if (!notified)
      atomic_fetch_sub(&st->sleepers, 1);
  }
  if (rc)
    return rc;
  return notified ? 0 : SHOAL_ETIMEDOUT;
}

int shoal_condition_wait(shoal_condition *cond, shoal_duration timeout)
{
  shoal__deadline d;
  if (!cond)
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  return rc ? rc : wait_until(cond, &d);
}

int shoal_condition_wait_for(shoal_condition *cond, shoal_condition_predicate pred, void *arg,
                             shoal_duration timeout)
{
  shoal__deadline d;
  if (!cond || !pred)
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  if (!held_by_me(cond))
    return SHOAL_EPERM;
  for (;;) {
    int v = pred(arg);
    if (v)
      return v > 0 ? v : 1;
    rc = wait_until(cond, &d);
    if (rc == SHOAL_ETIMEDOUT || rc == SHOAL_EAGAIN) {
      v = pred(arg);
      return v ? (v > 0 ? v : 1) : rc;
    }
    if (rc != 0)
      return rc;
  }
}

int shoal_condition_notify(shoal_condition *cond, int n)
{
  if (!cond || n < 0)
    return SHOAL_EINVAL;
  if (!held_by_me(cond))
    return SHOAL_EPERM;
  struct cond_state *st = cond->st;
  uint32_t waiting = atomic_load(&st->sleepers);
  uint32_t k = (uint32_t)n < waiting ? (uint32_t)n : waiting;
  if (k == 0)
    return 0;
  atomic_fetch_sub(&st->sleepers, k);
  atomic_fetch_add(&st->permits, k);
  shoal__plat_wake(&st->permits, (int)k);
  return (int)k;
}

int shoal_condition_notify_all(shoal_condition *cond)
{
  return shoal_condition_notify(cond, INT_MAX);
}
