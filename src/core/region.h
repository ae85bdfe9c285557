// SPDX-License-Identifier: MIT
// region.h: the memory every shareable object lives in.  A region is a
// header followed by the object's state, in an anonymous MAP_SHARED mapping
// (inherited across fork) or in a named shm object (opened by name).
//
// Cross-process invariants:
//  - the header is written once, before any other process can see the region
//    (anonymous: before fork; named: before the name is published), and is
//    read-only afterwards;
//  - shared state holds offsets, never pointers;
//  - the region's size never changes once published (growable objects, the
//    shared dict and list, keep `size` equal to their file's as it grows).
#ifndef SHOAL_CORE_REGION_H
#define SHOAL_CORE_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shoal/common.h"

#define SHOAL__REGION_MAGIC UINT64_C(0x4e4f494745524c53) /* "SLREGION" little-endian */
/* Raised whenever the layout of any region changes, so that a process of
 * another build never reads one with the wrong offsets (2: the file queue's
 * control file gained synced_seg). */
#define SHOAL__LAYOUT_VERSION 2

/* Object types.  Values are part of the layout: never renumber. */
enum shoal__type {
  SHOAL__TYPE_LOCK = 1,
  SHOAL__TYPE_RLOCK = 2,
  SHOAL__TYPE_SEMAPHORE = 3,
  SHOAL__TYPE_EVENT = 4,
  SHOAL__TYPE_CONDITION = 5,
  SHOAL__TYPE_BARRIER = 6,
  SHOAL__TYPE_QUEUE = 16,
  /* shared module: a block of its own, so parallel modules never collide */
  SHOAL__TYPE_VALUE = 0x601,
  SHOAL__TYPE_ARRAY = 0x602,
  SHOAL__TYPE_DICT = 0x603,
  SHOAL__TYPE_LIST = 0x604,
  /* pool module */
  SHOAL__TYPE_POOL = 0x701,
  /* backend module: the file queue's control file */
  SHOAL__TYPE_FILEQ = 0x801,
};

struct shoal__region_header {
  uint64_t magic;        /* SHOAL__REGION_MAGIC */
  uint32_t version;      /* SHOAL__LAYOUT_VERSION */
  uint32_t type;         /* enum shoal__type */
  uint64_t size;         /* bytes of the whole region, header included */
  uint64_t payload_size; /* bytes of the object's state after the header */
  uint32_t creator_pid;
  uint32_t reserved[7];
};

#define SHOAL__REGION_HEADER_SIZE 64
_Static_assert(sizeof(struct shoal__region_header) == SHOAL__REGION_HEADER_SIZE,
               "region header is 64 bytes");

/* A process-local view of a region. */
struct shoal__region {
  struct shoal__region_header *hdr;
  size_t size; /* mapped bytes */
  bool named;
};

/* Fills a new object's state; runs before any other process can see it. */
typedef int (*shoal__region_init_fn)(void *payload, size_t payload_size, void *arg);

// shoal__region_payload returns the object's state.
static inline void *shoal__region_payload(const struct shoal__region *r)
{
  return (char *)r->hdr + SHOAL__REGION_HEADER_SIZE;
}

// shoal__region_create maps a new anonymous region for an object of `type`
// with payload_size bytes of state, zeroed, then init(payload).
int shoal__region_create(struct shoal__region *r, uint32_t type, size_t payload_size,
                         shoal__region_init_fn init, void *arg);

// shoal__region_open opens the named region `name` of `type`, creating it (with
// payload_size bytes and init) when opts asks.  An existing region must hold
// at least min_payload bytes of state.  Errors: see shoal_lock_open.
int shoal__region_open(struct shoal__region *r, const char *name, uint32_t type,
                       size_t payload_size, size_t min_payload, const shoal_open_opts *opts,
                       shoal__region_init_fn init, void *arg);

// shoal__region_create_fd and shoal__region_open_fd are the same, and also
// return an open descriptor of the region's memory in *fd (a memfd for an
// anonymous region), for objects that map parts of it again.  The caller
// closes *fd.  The region's size is a multiple of the page size.
int shoal__region_create_fd(struct shoal__region *r, uint32_t type, size_t payload_size,
                            shoal__region_init_fn init, void *arg, int *fd);
int shoal__region_open_fd(struct shoal__region *r, const char *name, uint32_t type,
                          size_t payload_size, size_t min_payload, const shoal_open_opts *opts,
                          shoal__region_init_fn init, void *arg, int *fd);

// shoal__region_map_fd maps the region whose memory fd holds (from
// shoal__region_create_fd, passed to another process) and checks that it is
// a complete object of `type` with at least min_payload bytes of state.  The
// caller keeps fd.  Errors: SHOAL_EBADF, SHOAL_ENOMEM, SHOAL_ECORRUPT,
// SHOAL_EVERSION, SHOAL_ETYPE.
int shoal__region_map_fd(struct shoal__region *r, int fd, uint32_t type, size_t min_payload);

// shoal__region_close unmaps this process's view.  The region itself goes
// when the last process unmaps it (and, if named, its name is unlinked).
void shoal__region_close(struct shoal__region *r);

// shoal__region_handle_new allocates a process-local handle of handle_size
// bytes whose first member is a struct shoal__region, and moves r into it.
// On failure it closes r and returns NULL.
void *shoal__region_handle_new(size_t handle_size, struct shoal__region *r);

// shoal__region_handle_free closes the region of a handle made by
// shoal__region_handle_new and frees the handle.  NULL is a no-op.
void shoal__region_handle_free(void *handle);

// shoal__name_check validates a user-supplied name and returns in *out the
// name without its optional leading '/'.  Errors: SHOAL_EINVAL (NULL, empty,
// '/' inside, "." or ".."), SHOAL_ENAMETOOLONG.
int shoal__name_check(const char *name, const char **out);

#endif
