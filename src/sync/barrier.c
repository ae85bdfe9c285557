// SPDX-License-Identifier: MIT
// Barrier: Python's threading.Barrier state machine (filling, draining,
// resetting, broken) in shared memory, with dead parties detected.
//
// Cross-process invariants (all fields but `seq` change only with `lock` held):
//  - `count` parties are inside wait(); while filling they hold slots
//    0..count-1, by arrival index; a slot holds the party's thread stamp and
//    is cleared when the party leaves.
//  - A new pass starts filling only when count is back to 0, so slots of two
//    passes never mix.
//  - Every state change bumps `seq` and wakes all sleepers on it; sleepers
//    look again with the lock held.  Sleepers wake now and then to look for
//    parties that died inside wait(): a dead party in a filling barrier
//    breaks it, a dead party elsewhere is counted out.
//  - If a process dies holding `lock`, the next holder breaks the barrier and
//    recounts `count` from the slots.
#include <limits.h>

#include "sync/handles.h"

enum { FILLING = 0, DRAINING = 1, RESETTING = -1, BROKEN = -2 };

#define PROBE_NS 100000000u /* look for dead parties every 0.1 s of waiting */

struct barrier_state {
  struct shoal__lockword lock;
  _Atomic uint32_t seq;
  uint32_t parties;
  int32_t state;
  uint32_t count;
  _Atomic uint64_t slots[]; /* parties entries */
};

struct shoal_barrier {
  struct shoal__region region;
  struct barrier_state *st;
  shoal_barrier_action action;
  void *action_arg;
  shoal_duration timeout;
};

static size_t state_size(uint32_t parties)
{
  return sizeof(struct barrier_state) + (size_t)parties * sizeof(uint64_t);
}

static int barrier_init(void *payload, size_t size, void *arg)
{
  struct barrier_state *st = payload;
  (void)size;
  st->parties = *(const uint32_t *)arg;
  return 0;
}

static void broadcast(struct barrier_state *st)
{
  atomic_fetch_add(&st->seq, 1);
  shoal__plat_wake(&st->seq, INT_MAX);
}

static void lock_state(struct barrier_state *st)
{
  int rc;
  do
    rc = shoal__lockword_acquire(&st->lock, shoal__plat_stamp(), SHOAL_FOREVER);
  while (rc != 0 && rc != SHOAL_EOWNERDEAD);
  if (rc == SHOAL_EOWNERDEAD) {
    /* A party died mid-update: trust only the slots, and break the pass. */
    uint32_t n = 0;
    for (uint32_t i = 0; i < st->parties; i++)
      n += atomic_load(&st->slots[i]) != 0;
    st->count = n;
    st->state = n ? BROKEN : FILLING;
    shoal__lockword_consistent(&st->lock);
    broadcast(st);
  }
}

static void unlock_state(struct barrier_state *st)
{
  shoal__lockword_release(&st->lock, 0);
}

/* A party leaves wait(): Python's _exit. */
static void leave(struct barrier_state *st, uint32_t index)
{
  atomic_store(&st->slots[index], 0);
  st->count--;
  if (st->count == 0 && (st->state == DRAINING || st->state == RESETTING)) {
    st->state = FILLING;
    broadcast(st);
  }
}

/* Counts out parties that died inside wait(); breaks a filling barrier. */
static void reap_dead(struct barrier_state *st)
{
  for (uint32_t i = 0; i < st->parties; i++) {
    uint64_t s = atomic_load(&st->slots[i]);
    if (s && !shoal__plat_thread_alive(shoal__plat_stamp_tid(s), s)) {
      if (st->state == FILLING) {
        st->state = BROKEN;
        broadcast(st);
      }
      leave(st, i);
    }
  }
}

/* Sleeps (lock released) until seq moves, the deadline, or a probe slice
 * ends; returns SHOAL_ETIMEDOUT only at the deadline.  Lock held on return. */
static int sleep_on(struct barrier_state *st, const shoal__deadline *d)
{
  uint32_t seen = atomic_load(&st->seq);
  unlock_state(st);
  uint64_t until = shoal__deadline_slice(d, PROBE_NS);
  int rc = shoal__plat_wait(&st->seq, seen, until);
  lock_state(st);
  if (rc == SHOAL_ETIMEDOUT) {
    if (until == d->at)
      return SHOAL_ETIMEDOUT;
    reap_dead(st);
  }
  return 0;
}

static int barrier_make(shoal_barrier **out, const char *name, int parties,
                        const shoal_barrier_opts *opts, const shoal_open_opts *oopts)
{
  struct shoal__region r;
  if (!out || parties < 1 || parties > SHOAL_BARRIER_MAX_PARTIES)
    return SHOAL_EINVAL;
  if (opts) {
    if (opts->timeout < SHOAL_FOREVER)
      return SHOAL_EINVAL;
    for (size_t i = 0; i < sizeof opts->reserved / sizeof opts->reserved[0]; i++)
      if (opts->reserved[i])
        return SHOAL_EINVAL;
  }
  uint32_t p = (uint32_t)parties;
  int rc = name ? shoal__region_open(&r, name, SHOAL__TYPE_BARRIER, state_size(p),
                                     state_size(1), oopts, barrier_init, &p)
                : shoal__region_create(&r, SHOAL__TYPE_BARRIER, state_size(p), barrier_init, &p);
  if (rc)
    return rc;
  struct barrier_state *st = shoal__region_payload(&r);
  if (st->parties < 1 || state_size(st->parties) > r.hdr->payload_size) {
    shoal__region_close(&r);
    return SHOAL_ECORRUPT;
  }
  shoal_barrier *h = shoal__region_handle_new(sizeof *h, &r);
  if (!h)
    return SHOAL_ENOMEM;
  h->st = shoal__region_payload(&h->region);
  if (opts) {
    h->action = opts->action;
    h->action_arg = opts->action_arg;
    h->timeout = opts->timeout;
  }
  if (h->timeout == 0)
    h->timeout = SHOAL_FOREVER;
  *out = h;
  return 0;
}

int shoal_barrier_create(shoal_barrier **out, int parties, const shoal_barrier_opts *opts)
{
  return barrier_make(out, NULL, parties, opts, NULL);
}

int shoal_barrier_open(shoal_barrier **out, const char *name, int parties,
                       const shoal_barrier_opts *opts, const shoal_open_opts *oopts)
{
  return name ? barrier_make(out, name, parties, opts, oopts) : SHOAL_EINVAL;
}

void shoal_barrier_destroy(shoal_barrier *b)
{
  shoal__region_handle_free(b);
}

void shoal_barrier_close(shoal_barrier *b)
{
  shoal__region_handle_free(b);
}

static void break_barrier(struct barrier_state *st)
{
  st->state = BROKEN;
  broadcast(st);
}

int shoal_barrier_wait(shoal_barrier *b, shoal_duration timeout)
{
  shoal__deadline d, forever = {SHOAL__PLAT_NEVER, false};
  if (!b)
    return SHOAL_EINVAL;
  if (timeout == SHOAL_DEFAULT_TIMEOUT)
    timeout = b->timeout;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  struct barrier_state *st = b->st;
  lock_state(st);
  /* Python's _enter: wait while the previous pass drains or resets. */
  while (st->state == DRAINING || st->state == RESETTING) {
    if (sleep_on(st, &forever) != 0)
      break;
  }
  if (st->state == BROKEN) {
    unlock_state(st);
    return SHOAL_EBROKEN;
  }
  uint32_t index = st->count++;
  atomic_store(&st->slots[index], shoal__plat_stamp());
  if (index + 1 == st->parties) {
    /* Last to arrive: run the action, then release everyone. */
    if (b->action && b->action(b->action_arg) != 0) {
      break_barrier(st);
      rc = SHOAL_EBROKEN;
    } else {
      st->state = DRAINING;
      broadcast(st);
    }
  } else if (d.nowait) {
    /* Not the last and may not wait: undo the arrival, break nothing. */
    atomic_store(&st->slots[index], 0);
    st->count--;
    unlock_state(st);
    return SHOAL_EAGAIN;
  } else {
    while (st->state == FILLING) {
      if (sleep_on(st, &d) == SHOAL_ETIMEDOUT) {
        if (st->state == FILLING) {
          break_barrier(st);
          rc = SHOAL_ETIMEDOUT;
        }
        break;
      }
    }
    if (rc == 0 && st->state != DRAINING)
      rc = SHOAL_EBROKEN;
  }
  /* reap_dead may have counted us out if our own stamp looked dead (never
   * for a live thread); leave only if our slot is still ours. */
  if (atomic_load(&st->slots[index]) != 0)
    leave(st, index);
  unlock_state(st);
  return rc ? rc : (int)index;
}

int shoal_barrier_reset(shoal_barrier *b)
{
  if (!b)
    return SHOAL_EINVAL;
  struct barrier_state *st = b->st;
  lock_state(st);
  if (st->count > 0) {
    if (st->state == FILLING || st->state == BROKEN)
      st->state = RESETTING;
  } else {
    st->state = FILLING;
  }
  broadcast(st);
  unlock_state(st);
  return 0;
}

int shoal_barrier_abort(shoal_barrier *b)
{
  if (!b)
    return SHOAL_EINVAL;
  lock_state(b->st);
  break_barrier(b->st);
  unlock_state(b->st);
  return 0;
}

int shoal_barrier_broken(shoal_barrier *b)
{
  if (!b)
    return SHOAL_EINVAL;
  lock_state(b->st);
  int broken = b->st->state == BROKEN;
  unlock_state(b->st);
  return broken;
}

int shoal_barrier_n_waiting(shoal_barrier *b)
{
  if (!b)
    return SHOAL_EINVAL;
  struct barrier_state *st = b->st;
  lock_state(st);
  int n = st->state == FILLING ? (int)st->count : 0;
  unlock_state(st);
  return n;
}

int shoal_barrier_parties(shoal_barrier *b)
{
  return b ? (int)b->st->parties : SHOAL_EINVAL;
}
