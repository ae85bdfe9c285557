// SPDX-License-Identifier: MIT
// typed.h: the machinery under Value and Array — a region holding `length`
// items of one Python typecode, with an optional lock.  A Value is a typed
// object of length 1.
//
// Cross-process invariants:
//  - typecode, itemsize, lock_kind and length are written before the region
//    is published and never change;
//  - items are read and written with atomic loads and stores of their own
//    width, so a reader never sees half an item, lock or no lock;
//  - `lock` is the object's own RLock, used only when lock_kind is OWN.
#ifndef SHOAL_SHARED_TYPED_H
#define SHOAL_SHARED_TYPED_H

#include "core/region.h"
#include "shoal/shared.h"
#include "sync/handles.h"

enum shoal__lock_kind {
  SHOAL__LOCK_OWN = 0,      /* the object's own RLock (Python's default) */
  SHOAL__LOCK_NONE = 1,     /* RawValue / RawArray */
  SHOAL__LOCK_EXTERNAL = 2, /* a Lock or RLock the caller gave */
};

struct shoal__typed_state {
  uint32_t typecode;
  uint32_t itemsize;
  uint32_t lock_kind;
  uint32_t reserved0;
  uint64_t length;
  struct shoal__rlock_state lock;
  uint64_t reserved[2];
};

#define SHOAL__TYPED_STATE_SIZE 64
_Static_assert(sizeof(struct shoal__typed_state) == SHOAL__TYPED_STATE_SIZE,
               "typed state is 64 bytes: the items that follow are 8-byte aligned");

/* The process-local handle; struct shoal_value and struct shoal_array are
 * this under two names. */
struct shoal__typed {
  struct shoal__region region;
  struct shoal__typed_state *st;
  unsigned char *items;
  char typecode;
  unsigned itemsize;
  size_t length;
  struct shoal__lockword *xlock;    /* external Lock's word, or NULL */
  struct shoal__rlock_state *rlock; /* own or external RLock state, or NULL */
  shoal_lock *xlock_handle;         /* what get_lock returns */
  shoal_rlock *rlock_handle;
  struct shoal_rlock own; /* a borrowed handle to st->lock: region not owned */
};

// shoal__typecode_size returns the item size of a typecode, 0 if it is none.
unsigned shoal__typecode_size(char typecode);

// shoal__typed_make creates (name NULL) or opens the typed object of region
// type `type`.  length_any: an existing named object may have any length.
int shoal__typed_make(struct shoal__typed **out, uint32_t type, const char *name, char typecode,
                      size_t length, bool length_any, const shoal_value_opts *opts,
                      const shoal_open_opts *oopts);

// shoal__typed_free releases a handle (NULL: no-op).
void shoal__typed_free(struct shoal__typed *t);

int shoal__typed_get_int(struct shoal__typed *t, size_t index, int64_t *out);
int shoal__typed_set_int(struct shoal__typed *t, size_t index, int64_t x);
int shoal__typed_get_double(struct shoal__typed *t, size_t index, double *out);
int shoal__typed_set_double(struct shoal__typed *t, size_t index, double x);
// Slices: copy items start..stop-1 to or from buf (exactly `size` bytes for a
// set, at least for a get).
int shoal__typed_get_slice(struct shoal__typed *t, size_t start, size_t stop, void *buf,
                           size_t size);
int shoal__typed_set_slice(struct shoal__typed *t, size_t start, size_t stop, const void *buf,
                           size_t size);

/* Atomic arithmetic on item `index` (a Value's only item). */
enum shoal__atomic_op { SHOAL__OP_ADD, SHOAL__OP_FETCH_ADD, SHOAL__OP_EXCHANGE };
int shoal__typed_atomic(struct shoal__typed *t, size_t index, enum shoal__atomic_op op, int64_t x,
                        int64_t *result);
int shoal__typed_cas(struct shoal__typed *t, size_t index, int64_t *expected, int64_t desired);

int shoal__typed_acquire(struct shoal__typed *t, shoal_duration timeout);
int shoal__typed_release(struct shoal__typed *t);
int shoal__typed_get_lock(struct shoal__typed *t, shoal_lock **lock, shoal_rlock **rlock);

#endif
