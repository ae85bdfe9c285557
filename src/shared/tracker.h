// SPDX-License-Identifier: MIT
// tracker.h: which raw segments shoal processes created, and the watcher
// that unlinks a dead creator's segments.
//
// Cross-process invariants:
//  - every segment a shoal process created has a record, a small file in the
//    shm directory named ".shoal-shm.<id>.<name>", written before the segment
//    gets its name and removed after the name goes;
//  - a record holds the creator's pid, its process stamp and the segment's
//    flags; <id> names one segment instance, so a name unlinked and made
//    again never shares a record;
//  - a segment is unlinked on its creator's behalf only when the name still
//    holds the recorded id: a record never removes somebody else's segment.
#ifndef SHOAL_SHARED_TRACKER_H
#define SHOAL_SHARED_TRACKER_H

#include <stdint.h>

#include "shoal/shared.h"

// shoal__tracker_watch makes sure a watcher runs for the calling process
// (one per process; a forked child starts its own, and one that ended is
// replaced).  Returns 0 or an error from shoal__plat_watch_death.
int shoal__tracker_watch(void);

// shoal__tracker_add records that the calling process created segment `name`
// with identity `id` and SHOAL_SHM_* flags.
int shoal__tracker_add(const char *name, uint64_t id, unsigned flags);

// shoal__tracker_remove drops the record of segment `name` / `id`, if any.
void shoal__tracker_remove(const char *name, uint64_t id);

// shoal__tracker_list implements shoal_shm_list.
int shoal__tracker_list(shoal_shm_info *out, size_t max);

#endif
