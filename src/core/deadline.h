// SPDX-License-Identifier: MIT
// deadline.h: a shoal_duration turned, once on entry, into an absolute
// CLOCK_MONOTONIC deadline that every retry of a wait measures against.
#ifndef SHOAL_CORE_DEADLINE_H
#define SHOAL_CORE_DEADLINE_H

#include <stdbool.h>

#include "platform/platform.h"
#include "shoal/common.h"

typedef struct shoal__deadline {
  uint64_t at;  /* absolute CLOCK_MONOTONIC ns; SHOAL__PLAT_NEVER for none */
  bool nowait;  /* SHOAL_NOWAIT: never block */
} shoal__deadline;

// shoal__deadline_init validates t and fills d.  Returns 0 or SHOAL_EINVAL
// (negative other than SHOAL_FOREVER).
static inline int shoal__deadline_init(shoal__deadline *d, shoal_duration t)
{
  d->nowait = (t == SHOAL_NOWAIT);
  if (t == SHOAL_FOREVER) {
    d->at = SHOAL__PLAT_NEVER;
    return 0;
  }
  if (t < 0)
    return SHOAL_EINVAL;
  d->at = t == 0 ? 0 : shoal__plat_now() + (uint64_t)t;
  return 0;
}

// shoal__deadline_code is what a call returns when d passed without success:
// SHOAL_EAGAIN for SHOAL_NOWAIT, SHOAL_ETIMEDOUT otherwise.
static inline int shoal__deadline_code(const shoal__deadline *d)
{
  return d->nowait ? SHOAL_EAGAIN : SHOAL_ETIMEDOUT;
}

// shoal__deadline_slice returns the earlier of d and now + slice_ns: waits
// that must look around now and then (for a dead owner) sleep in slices.
static inline uint64_t shoal__deadline_slice(const shoal__deadline *d, uint64_t slice_ns)
{
  uint64_t s = shoal__plat_now() + slice_ns;
  return s < d->at ? s : d->at;
}

/* Longest single sleep of shoal__deadline_wait. */
#define SHOAL__WAIT_SLICE_NS 200000000u

// shoal__deadline_wait sleeps while *word == seen, until woken or d passes,
// but never longer than SHOAL__WAIT_SLICE_NS at a time: a process killed
// between changing a word and waking its sleepers then delays them by at most
// a slice instead of forever.  Returns 0 (look again) or SHOAL_ETIMEDOUT once
// d has passed.
static inline int shoal__deadline_wait(_Atomic uint32_t *word, uint32_t seen,
                                       const shoal__deadline *d)
{
  uint64_t until = shoal__deadline_slice(d, SHOAL__WAIT_SLICE_NS);
  int rc = shoal__plat_wait(word, seen, until);
  return rc == SHOAL_ETIMEDOUT && until == d->at ? SHOAL_ETIMEDOUT : 0;
}

#endif
