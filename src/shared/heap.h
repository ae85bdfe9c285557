// SPDX-License-Identifier: MIT
// heap.h: a growable shared heap with one writer at a time and readers that
// never block each other, under the shared dict and list.
//
// Layout of the file (offsets from its start, which every process maps at
// some address of its own; shared state holds offsets only):
//   [0, 64)            a shoal region header (type DICT or LIST)
//   [64, ARENA)        struct shoal__heap_ctl
//   [ARENA, brk)       blocks, each a struct shoal__heap_blk then its payload;
//                      a block's size is 32 << cls bytes, so the blocks can be
//                      walked from ARENA to brk
//   [brk, size)        reserved, unused
//   [size, max_size)   mapped by every process, not backed yet: never touched
//
// Cross-process invariants:
//  - `lock` (a robust lock word) is held by the one writer; `seq` is odd while
//    a writer changes anything readers may see, even otherwise.  A reader
//    records an even seq, reads, and keeps what it read only if seq is still
//    the same afterwards (a sequence lock);
//  - every byte a reader may look at is read and written with atomic accesses,
//    and a reader checks every offset it follows against the size it saw, so
//    a torn read is retried, never a crash;
//  - a change becomes visible through one store (a slot, a root, a length):
//    a writer killed at any instruction leaves the old or the new state, plus
//    blocks nobody references.  The next writer (or a reader that finds the
//    writer dead) repairs: it marks every block reachable from the root and
//    rebuilds the free lists from the rest (shoal__heap_recover);
//  - `size` only grows, and the file is at least `size` bytes, allocated,
//    before `size` says so;
//  - brk <= size at every instant, so brk read before size never exceeds it.
//
// Files truncated behind shoal's back (a stray truncate, a half copy): open
// refuses a file shorter than `size` or a control block that contradicts
// itself, and a process checks the file again (one fstat) whenever it first
// sees `size` change, so a truncation before that is SHOAL_ECORRUPT.  Bytes a
// process already uses cannot be protected: touching a page a truncation took
// away is SIGBUS, as for any mapped file.
#ifndef SHOAL_SHARED_HEAP_H
#define SHOAL_SHARED_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/region.h"
#include "shoal/shared.h"
#include "sync/lockword.h"

#define SHOAL__HEAP_CLASSES 40
#define SHOAL__HEAP_MIN_BLOCK 32

struct shoal__heap_ctl {
  struct shoal__lockword lock;
  _Atomic uint32_t seq;
  _Atomic uint32_t rwait; /* readers that may sleep on seq */
  uint64_t max_size;      /* fixed */
  uint64_t arena;         /* fixed: offset of the first block */
  uint64_t size;          /* reserved bytes of the file */
  uint64_t brk;           /* end of the last block */
  uint64_t root;          /* the object's root block (0: none) */
  uint64_t count;         /* the object's item count */
  uint64_t gen;           /* bumped whenever the root block is replaced */
  uint64_t epoch;         /* mark of the last repair */
  uint64_t free_head[SHOAL__HEAP_CLASSES];
};

struct shoal__heap_blk {
  uint32_t cls;
  uint32_t mark;
};

struct shoal__heap;

/* The object's part of a repair: mark (shoal__heap_mark) every block reachable
 * from the root and return the item count; a root it cannot trust is
 * replaced by an empty one. */
typedef uint64_t (*shoal__heap_mark_fn)(struct shoal__heap *h);
/* Makes an empty object: allocates its root.  Called as a writer. */
typedef int (*shoal__heap_init_fn)(struct shoal__heap *h);

struct shoal__heap {
  char *base; /* mapping of the whole file, max_size bytes */
  struct shoal__heap_ctl *ctl;
  size_t map_size;
  int fd;
  uint64_t checked; /* the last `size` this process found the file to hold (atomic) */
  shoal__heap_mark_fn mark;
  shoal__heap_init_fn init;
};

// shoal__heap_make creates (name NULL: anonymous) or opens a heap of region
// type `type`, calling init on a new one.
int shoal__heap_make(struct shoal__heap *h, uint32_t type, const char *name,
                     const shoal_container_opts *opts, const shoal_open_opts *oopts,
                     shoal__heap_init_fn init, shoal__heap_mark_fn mark);

// shoal__heap_close unmaps and closes this process's view.
void shoal__heap_close(struct shoal__heap *h);

/* ---- atomic access to shared bytes ---- */

static inline uint64_t shoal__ld64(const void *p)
{
  return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

static inline uint32_t shoal__ld32(const void *p)
{
  return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
}

static inline void shoal__st64(void *p, uint64_t v)
{
  __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED);
}

static inline void shoal__st32(void *p, uint32_t v)
{
  __atomic_store_n((uint32_t *)p, v, __ATOMIC_RELAXED);
}

// shoal__heap_copy_in copies n bytes from private memory into the heap at dst
// (8-byte aligned; the block must have room up to the next multiple of 8).
void shoal__heap_copy_in(void *dst, const void *src, size_t n);

// shoal__heap_copy_out copies n bytes from the heap at src (8-byte aligned)
// to private memory.
void shoal__heap_copy_out(void *dst, const void *src, size_t n);

// shoal__heap_equal compares n heap bytes at a (8-byte aligned) with b.
bool shoal__heap_equal(const void *a, const void *b, size_t n);

static inline void *shoal__heap_at(const struct shoal__heap *h, uint64_t off)
{
  return h->base + off;
}

/* ---- readers ---- */

// shoal__heap_read_begin waits until no writer is inside (repairing the heap
// if the writer died) and gives the sequence number to check in *seq, and in
// *size the reserved size to check offsets against.  Returns 0, or
// SHOAL_ECORRUPT when the heap grew and the file is shorter than it says.
int shoal__heap_read_begin(struct shoal__heap *h, uint32_t *seq, uint64_t *size);

// shoal__heap_read_valid tells whether what was read since read_begin(seq) is
// a consistent snapshot.
bool shoal__heap_read_valid(struct shoal__heap *h, uint32_t seq);

// shoal__heap_block_ok tells whether a reader may look at block `off` with
// `need` payload bytes, given the size it saw.
bool shoal__heap_block_ok(const struct shoal__heap *h, uint64_t off, uint64_t need, uint64_t size);

/* ---- writers ---- */

// shoal__heap_write_begin takes the writer lock, repairs the heap if the last
// writer died, and opens a change (readers will retry).  Returns 0,
// SHOAL_ENOTRECOVERABLE, or SHOAL_ECORRUPT (as read_begin; the lock is then
// released).
int shoal__heap_write_begin(struct shoal__heap *h);

// shoal__heap_write_end closes the change and releases the lock.
void shoal__heap_write_end(struct shoal__heap *h);

// shoal__heap_alloc takes a block with room for `payload` bytes and returns
// its offset.  Errors: SHOAL_E2BIG (the block, rounded up to its power of
// two, is larger than the arena can ever be: no amount of freeing makes room),
// SHOAL_ENOMEM (full).  Writers only.
int shoal__heap_alloc(struct shoal__heap *h, uint64_t payload, uint64_t *off);

// shoal__heap_free gives block `off` back.  Writers only.
void shoal__heap_free(struct shoal__heap *h, uint64_t off);

// shoal__heap_payload_cap returns how many payload bytes block `off` holds.
uint64_t shoal__heap_payload_cap(const struct shoal__heap *h, uint64_t off);

// shoal__heap_reset drops every block (clear), leaving an empty arena; the
// caller then allocates a new root.  Writers only.
void shoal__heap_reset(struct shoal__heap *h);

// shoal__heap_mark marks block `off` as reachable during a repair; false when
// `off` is not a block of this heap (the caller then distrusts what pointed
// to it).
bool shoal__heap_mark(struct shoal__heap *h, uint64_t off);

#define SHOAL__HEAP_PAYLOAD(off) ((off) + sizeof(struct shoal__heap_blk))

#endif
