// SPDX-License-Identifier: MIT
// handles.h: the process-local handles of the sync module and the shared
// state each points to.  Shared in this module so that a Condition can work
// its Lock or RLock.
#ifndef SHOAL_SYNC_HANDLES_H
#define SHOAL_SYNC_HANDLES_H

#include "core/region.h"
#include "shoal/sync.h"
#include "sync/lockword.h"

/* RLock state: the lock word plus the recursion level, which only the owning
 * thread reads or writes (it is published to the next owner by the word's
 * release/acquire). */
struct shoal__rlock_state {
  struct shoal__lockword lw;
  uint32_t count;
  uint32_t reserved;
};

struct shoal_lock {
  struct shoal__region region;
  struct shoal__lockword *lw;
};

struct shoal_rlock {
  struct shoal__region region;
  struct shoal__rlock_state *st;
};

// shoal__rlock_state_acquire / _release work an RLock state wherever it lives
// (an RLock region, or inside a Condition's region).
int shoal__rlock_state_acquire(struct shoal__rlock_state *st, shoal_duration timeout);
int shoal__rlock_state_release(struct shoal__rlock_state *st);

// shoal__sync_check_handle_region is true when h's region is mapped.
static inline bool shoal__region_ok(const struct shoal__region *r)
{
  return r->hdr != NULL;
}

#endif
