// SPDX-License-Identifier: MIT
// lockword.h: the robust mutual-exclusion word under Lock, RLock, the
// condition's own lock and the barrier.  It lives in shared memory.
//
// Cross-process invariants:
//  - `word` is 0 when free; otherwise its low 30 bits are the tid of the
//    thread that took it, and SHOAL__LW_WAITERS says someone may sleep on it.
//    SHOAL__LW_NOTREC (a value no tid can have) marks a lock whose owner died
//    and whose state was never made consistent.
//  - `stamp` is written by the owner right after taking the word; a prober
//    trusts it only when its tid matches the word's.
//  - SHOAL__LW_INCONSISTENT in `flags` is set by a thread that took the lock
//    over from a dead owner, and cleared by shoal__lockword_consistent.
//    Releasing while it is set turns the word into SHOAL__LW_NOTREC.
#ifndef SHOAL_SYNC_LOCKWORD_H
#define SHOAL_SYNC_LOCKWORD_H

#include <stdatomic.h>
#include <stdbool.h>

#include "core/deadline.h"
#include "platform/platform.h"

#define SHOAL__LW_TID_MASK 0x3fffffffu
#define SHOAL__LW_WAITERS 0x80000000u
#define SHOAL__LW_NOTREC SHOAL__LW_TID_MASK
#define SHOAL__LW_INCONSISTENT 1u

struct shoal__lockword {
  _Atomic uint32_t word;
  _Atomic uint32_t flags;
  _Atomic uint64_t stamp;
};

// shoal__lockword_acquire_slow is the contended path of shoal__lockword_acquire.
int shoal__lockword_acquire_slow(struct shoal__lockword *l, uint64_t stamp,
                                 const shoal__deadline *d);

// shoal__lockword_try_fast makes one attempt to take a free l; true when taken.
static inline bool shoal__lockword_try_fast(struct shoal__lockword *l, uint64_t stamp)
{
  uint32_t expected = 0;
  /* Acquire: the protected data written by the previous owner is visible
   * after this CAS.  Pairs with the release CAS in shoal__lockword_release. */
  if (!atomic_compare_exchange_strong_explicit(&l->word, &expected, shoal__plat_stamp_tid(stamp),
                                               memory_order_acquire, memory_order_relaxed))
    return false;
  atomic_store_explicit(&l->stamp, stamp, memory_order_relaxed);
  return true;
}

// shoal__lockword_acquire takes l for the calling thread (stamp from
// shoal__plat_stamp()), waiting at most timeout.  Returns 0, SHOAL_EAGAIN /
// SHOAL_ETIMEDOUT, SHOAL_EINVAL (bad timeout), SHOAL_EOWNERDEAD (taken over
// from a dead owner: held, inconsistent) or SHOAL_ENOTRECOVERABLE.
static inline int shoal__lockword_acquire(struct shoal__lockword *l, uint64_t stamp,
                                          shoal_duration timeout)
{
  /* Uncontended: no clock read, no deadline. */
  if (timeout >= SHOAL_FOREVER && shoal__lockword_try_fast(l, stamp))
    return 0;
  shoal__deadline d;
  int rc = shoal__deadline_init(&d, timeout);
  return rc ? rc : shoal__lockword_acquire_slow(l, stamp, &d);
}

// shoal__lockword_release frees l.  With owner_stamp != 0 only that thread
// may release (SHOAL_EPERM otherwise); with 0 anyone may, as for Python's
// Lock.  Returns 0, SHOAL_ENOTLOCKED or SHOAL_EPERM.
int shoal__lockword_release(struct shoal__lockword *l, uint64_t owner_stamp);

// shoal__lockword_owner returns the tid holding l (0: free).
static inline uint32_t shoal__lockword_owner(struct shoal__lockword *l)
{
  uint32_t w = atomic_load_explicit(&l->word, memory_order_relaxed) & SHOAL__LW_TID_MASK;
  return w == SHOAL__LW_NOTREC ? 0 : w;
}

// shoal__lockword_held_by tells whether the thread with `stamp` holds l.  The
// stamp, not just the tid, must match: a new thread that reuses the tid of a
// dead owner does not hold the dead owner's lock.
static inline bool shoal__lockword_held_by(struct shoal__lockword *l, uint64_t stamp)
{
  return shoal__lockword_owner(l) == shoal__plat_stamp_tid(stamp) &&
         atomic_load_explicit(&l->stamp, memory_order_relaxed) == stamp;
}

// shoal__lockword_consistent clears the owner-died state; the caller must
// hold l.  Returns 0 or SHOAL_EINVAL.
int shoal__lockword_consistent(struct shoal__lockword *l);

#endif
