// SPDX-License-Identifier: MIT
// The contended and recovery paths of the robust lock word (see lockword.h).
#include <limits.h>

#include "sync/lockword.h"

/* Spinning before sleeping: a holder on another core usually lets go within
 * this many pauses, and a futex round trip costs far more.  Reads back off
 * exponentially (1, 2, 4 … SPIN_MAX_GAP pauses apart) so the waiter does not
 * pull the lock's cache line away from a holder that is about to re-take it. */
#define SPIN_PAUSES 256
#define SPIN_MAX_GAP 64
/* A sleeper looks at the owner's liveness after this long without progress,
 * doubling up to the cap: a dead owner is noticed within about 0.1 s. */
#define PROBE_FIRST_NS 1000000u
#define PROBE_MAX_NS 100000000u

/* Takes over l from its dead owner, if the word still reads w. */
static int take_over(struct shoal__lockword *l, uint32_t w, uint64_t stamp)
{
  uint32_t want = shoal__plat_stamp_tid(stamp) | (w & SHOAL__LW_WAITERS);
  if (!atomic_compare_exchange_strong_explicit(&l->word, &w, want, memory_order_acquire,
                                               memory_order_relaxed))
    return 0;
  atomic_store_explicit(&l->stamp, stamp, memory_order_relaxed);
  atomic_fetch_or_explicit(&l->flags, SHOAL__LW_INCONSISTENT, memory_order_relaxed);
  return SHOAL_EOWNERDEAD;
}

/* Returns true when the thread holding word w is gone. */
static bool owner_dead(struct shoal__lockword *l, uint32_t w)
{
  uint32_t tid = w & SHOAL__LW_TID_MASK;
  return !shoal__plat_thread_alive(tid, atomic_load_explicit(&l->stamp, memory_order_relaxed));
}

/* A failed SHOAL_NOWAIT attempt looks at the owner's liveness (a /proc read)
 * at most once per this interval per thread, so try-lock loops stay cheap. */
#define NOWAIT_PROBE_NS 1000000u

static bool nowait_probe_due(void)
{
  static _Thread_local uint64_t last;
  uint64_t now = shoal__plat_now();
  if (last && now - last < NOWAIT_PROBE_NS)
    return false;
  last = now;
  return true;
}

int shoal__lockword_acquire_slow(struct shoal__lockword *l, uint64_t stamp,
                                 const shoal__deadline *d)
{
  uint32_t me = shoal__plat_stamp_tid(stamp);
  uint32_t w;

  for (int spent = 0, gap = 1; spent < SPIN_PAUSES && !d->nowait; spent += gap) {
    w = atomic_load_explicit(&l->word, memory_order_relaxed);
    if (w == 0) {
      if (atomic_compare_exchange_weak_explicit(&l->word, &w, me, memory_order_acquire,
                                                memory_order_relaxed))
        goto acquired;
    } else if (w == SHOAL__LW_NOTREC) {
      return SHOAL_ENOTRECOVERABLE;
    }
    for (int i = 0; i < gap; i++)
      shoal__plat_cpu_relax();
    if (gap < SPIN_MAX_GAP)
      gap *= 2;
  }

  uint64_t slice = PROBE_FIRST_NS;
  for (;;) {
    w = atomic_load_explicit(&l->word, memory_order_relaxed);
    if ((w & SHOAL__LW_TID_MASK) == 0) {
      /* Someone may still sleep: keep the waiters bit so our release wakes them. */
      if (atomic_compare_exchange_weak_explicit(&l->word, &w, me | SHOAL__LW_WAITERS,
                                                memory_order_acquire, memory_order_relaxed))
        goto acquired;
      continue;
    }
    if ((w & SHOAL__LW_TID_MASK) == SHOAL__LW_NOTREC)
      return SHOAL_ENOTRECOVERABLE;
    if (d->nowait) {
      int rc;
      if (nowait_probe_due() && owner_dead(l, w) && (rc = take_over(l, w, stamp)) != 0)
        return rc;
      if (atomic_load_explicit(&l->word, memory_order_relaxed) != w)
        continue;
      return SHOAL_EAGAIN;
    }
    if (!(w & SHOAL__LW_WAITERS)) {
      if (!atomic_compare_exchange_weak_explicit(&l->word, &w, w | SHOAL__LW_WAITERS,
                                                 memory_order_relaxed, memory_order_relaxed))
        continue;
      w |= SHOAL__LW_WAITERS;
    }
    uint64_t until = shoal__deadline_slice(d, slice);
    if (shoal__plat_wait(&l->word, w, until) == SHOAL_ETIMEDOUT &&
        atomic_load_explicit(&l->word, memory_order_relaxed) == w) {
      /* No progress for a whole slice: is the owner still there? */
      int rc;
      if (owner_dead(l, w) && (rc = take_over(l, w, stamp)) != 0)
        return rc;
      if (until == d->at)
        return SHOAL_ETIMEDOUT;
      slice = slice * 2 > PROBE_MAX_NS ? PROBE_MAX_NS : slice * 2;
    } else if (d->at != SHOAL__PLAT_NEVER && shoal__plat_now() >= d->at) {
      w = 0;
      if (atomic_compare_exchange_strong_explicit(&l->word, &w, me | SHOAL__LW_WAITERS,
                                                  memory_order_acquire, memory_order_relaxed))
        goto acquired;
      return SHOAL_ETIMEDOUT;
    }
  }
acquired:
  atomic_store_explicit(&l->stamp, stamp, memory_order_relaxed);
  return 0;
}

int shoal__lockword_release(struct shoal__lockword *l, uint64_t owner_stamp)
{
  if (owner_stamp && !shoal__lockword_held_by(l, owner_stamp))
    return SHOAL_EPERM;
  uint32_t w = atomic_load_explicit(&l->word, memory_order_relaxed);
  for (;;) {
    uint32_t holder = w & SHOAL__LW_TID_MASK;
    if (holder == 0 || holder == SHOAL__LW_NOTREC)
      return owner_stamp ? SHOAL_EPERM : SHOAL_ENOTLOCKED;
    if (atomic_load_explicit(&l->flags, memory_order_relaxed) & SHOAL__LW_INCONSISTENT) {
      /* Released without repair after an owner died: nobody may trust the
       * protected state again (as pthread's robust mutexes). */
      if (!atomic_compare_exchange_weak_explicit(&l->word, &w, SHOAL__LW_NOTREC,
                                                 memory_order_release, memory_order_relaxed))
        continue;
      shoal__plat_wake(&l->word, INT_MAX);
      return 0;
    }
    /* Release: our writes to the protected data happen before the next
     * owner's acquire CAS. */
    if (atomic_compare_exchange_weak_explicit(&l->word, &w, 0, memory_order_release,
                                              memory_order_relaxed))
      break;
  }
  if (w & SHOAL__LW_WAITERS)
    shoal__plat_wake(&l->word, 1);
  return 0;
}

int shoal__lockword_consistent(struct shoal__lockword *l)
{
  if (!shoal__lockword_held_by(l, shoal__plat_stamp()) ||
      !(atomic_load_explicit(&l->flags, memory_order_relaxed) & SHOAL__LW_INCONSISTENT))
    return SHOAL_EINVAL;
  atomic_fetch_and_explicit(&l->flags, ~SHOAL__LW_INCONSISTENT, memory_order_relaxed);
  return 0;
}
