// SPDX-License-Identifier: MIT
// fileq.h: the durable file queue's control file and process-local handle.
// format.h describes the files on disk; this is what processes share while
// the queue is open.
//
// queue.ctl is a shoal region (header type SHOAL__TYPE_FILEQ) in a file of
// the queue's directory, mapped MAP_SHARED by every process that has the
// queue open.  Its contents live in the page cache, so they outlive any
// process; after a reboot (boot_id differs) the first opener rebuilds them
// from queue.meta and the segments.  Every handle holds a shared flock on
// the directory; an opener that gets it exclusively knows nobody else has
// the queue open (so it may rebuild), and repair needs it exclusively.
//
// Cross-process invariants:
//  - Producers append under put_lock: the record at (w_seg, w_off) is
//    written whole (commit word last), then w_off and next_seq move (next_seq
//    with a release store: a consumer that reads it sees the record).  An end
//    record is written in the old segment only after the next segment file
//    is complete, and before w_seg moves to it.  put_len tells a lock
//    taker-over how many bytes at w_off a dead producer may have scribbled.
//  - Consumers read under get_lock from the cursor (r_seg, r_off, r_seq); a
//    record there is readable while r_seq < next_seq.  A joinable get also
//    appends a slot (seq, position, owner) at ring_tail; slots leave at
//    ring_head once done, so the ring is in seq order and the oldest
//    unacknowledged message is the first live slot.  Before changing the
//    cursor a consumer saves it in gp_* (get_active = 1); a lock taker-over
//    puts back a cursor that a dead consumer moved without a slot.
//  - A segment below both the cursor's and the oldest live slot's is
//    consumed: it is unlinked, lowest first, so the segments on disk are
//    always a contiguous run from first_seg to w_seg.
//  - Durability: every message with seq < synced_seq is on disk, and every
//    segment below synced_seg.  A handle of level batch or always fsyncs
//    the segment it seals before w_seg moves on; a `none` handle does not
//    (that fsync would stall its puts for the whole segment's writeback),
//    so a sync first fsyncs the sealed segments from synced_seg up, then the
//    segment being written: together they cover every record published
//    before it began.  Group commit: the put that leads a sync holds
//    sync_lock; a batch put whose batch closed while a sync runs syncs
//    beside it without the lock.
//  - Waiting: as in the shared-memory queue, a sleeper raises a waiter
//    count, reads the state, sleeps on a sequence word; the changer bumps the
//    word and wakes when the count is nonzero.
#ifndef SHOAL_BACKEND_FILE_FILEQ_H
#define SHOAL_BACKEND_FILE_FILEQ_H

#include <stdatomic.h>
#include <stdbool.h>

#include "backend/file/format.h"
#include "core/deadline.h"
#include "core/region.h"
#include "queue/queue_internal.h"
#include "shoal/backend.h"
#include "sync/lockword.h"

#define FQ_CTL_NAME "queue.ctl"
#define FQ_META_NAME "queue.meta"
#define FQ_META_TMP "queue.meta.tmp"
#define FQ_DEAD_NAME "dead.seg"
#define FQ_REPAIR_NAME "queue.repair"
#define FQ_REPAIR_TMP "queue.repair.tmp"
#define FQ_SEG_REPAIR_SUFFIX ".seg.repair" /* a repair's new segment, after 16 hex digits */
#define FQ_SEG_NAME_LEN 21 /* 16 hex digits, ".seg", NUL */

#define FQ_DEFAULT_SEGMENT ((uint64_t)64 << 20)
#define FQ_MIN_SEGMENT ((uint64_t)64 << 10)
#define FQ_MAX_SEGMENT ((uint64_t)4 << 30)
#define FQ_DEFAULT_INFLIGHT 16384u
#define FQ_MAX_INFLIGHT (1u << 20)
#define FQ_DEFAULT_DEAD 5u
#define FQ_DEFAULT_BATCH_RECORDS 256u
#define FQ_DEFAULT_BATCH_MS 2u

/* How often consumers look for dead owners of in-flight messages. */
#define FQ_REAP_NS 100000000u

enum { FQ_OPEN = 0, FQ_SHUTDOWN = 1 };

/* A delivery's slot in the in-flight ring. */
enum { SLOT_OUT = 1, SLOT_PENDING = 2, SLOT_DONE = 3 };

struct fq_slot {
  uint64_t seq;
  uint64_t seg;
  uint64_t off;
  uint64_t owner; /* the consumer process's stamp (pid and start time) */
  uint32_t tid;   /* the thread that took it */
  uint32_t len;
  uint32_t deliveries;
  uint32_t state;
};

struct fq_ctl {
  struct shoal__region_header rh;
  char boot_id[40];
  uint64_t segment_size;
  uint64_t maxsize;
  uint64_t ring_offset; /* from the start of the file */
  uint32_t flags;
  uint32_t dead_letter;
  uint32_t ring_slots; /* a power of two */
  uint32_t file_mode;  /* permission bits of new segment files */

  _Alignas(64) _Atomic uint32_t state;
  _Atomic uint32_t join_seq;
  _Atomic uint32_t join_waiters;
  _Atomic uint64_t discarded;
  _Atomic uint64_t redelivered;
  _Atomic uint64_t dead_lettered;
  _Atomic uint64_t torn_records;
  _Atomic uint64_t torn_bytes;
  _Atomic uint64_t rebuilds;
  _Atomic uint64_t syncs;
  _Atomic uint64_t losses;

  /* Producers (put_lock). */
  _Alignas(64) struct shoal__lockword put_lock;
  _Atomic uint64_t w_seg;
  uint64_t w_off;
  uint64_t put_start; /* where the put in progress began writing */
  uint64_t put_seq;   /* the seq of its first record */
  uint64_t put_len;   /* bytes it may have written from put_start; 0 = none */
  _Atomic uint64_t next_seq;
  _Atomic uint64_t puts;
  _Alignas(64) _Atomic uint32_t put_waiters;
  _Atomic uint32_t space_seq;

  /* Durability (sync_lock). */
  _Alignas(64) struct shoal__lockword sync_lock;
  _Atomic uint64_t synced_seq;
  _Atomic uint64_t synced_seg;  /* every segment below it is on disk */
  /* Records in [lost_from1 - 1, lost_to) were covered by an fsync that
   * failed: the kernel may have dropped them from the dirty pages, and no
   * later fsync can tell (a file opened after a writeback error does not
   * see it).  A durable put whose records fall there reports SHOAL_EIO.
   * lost_from1 is 0 while nothing was lost; lost_to is set first. */
  _Atomic uint64_t lost_from1, lost_to;
  _Atomic uint64_t batch_start; /* when the oldest unsynced record came; 0 = none */
  _Atomic uint32_t sync_seq;
  _Atomic uint32_t sync_waiters;

  /* Consumers (get_lock). */
  _Alignas(64) struct shoal__lockword get_lock;
  uint64_t r_seg;
  uint64_t r_off;
  _Atomic uint64_t r_seq;
  _Atomic uint64_t first_seg;
  _Atomic uint64_t ring_head;
  _Atomic uint64_t ring_tail;
  _Atomic uint64_t outstanding; /* slots not done */
  _Atomic uint64_t pending;     /* slots waiting for redelivery */
  _Atomic uint64_t gets;
  _Atomic uint64_t last_reap;
  uint32_t get_active;
  uint32_t reserved1;
  uint64_t gp_seg, gp_off, gp_seq;
  _Alignas(64) _Atomic uint32_t get_waiters;
  _Atomic uint32_t data_seq;
  _Atomic uint32_t ring_waiters;
  _Atomic uint32_t ring_seq;
};

/* A segment mapped by this process. */
struct fq_map {
  uint64_t seg;
  unsigned char *addr; /* NULL: none */
  int fd;
};

struct shoal__fileq {
  int dfd; /* the directory, flocked shared */
  struct fq_ctl *c;
  size_t ctl_size;
  struct fq_slot *ring;
  unsigned durability;
  uint32_t batch_records;
  uint64_t batch_ns;
  struct fq_map w;   /* the segment being written (put_lock) */
  struct fq_map r;   /* the segment being read (get_lock) */
};

static inline struct shoal__fileq *fq_of(shoal_queue *q)
{
  return (struct shoal__fileq *)q->be;
}

static inline void fq_seg_name(char buf[FQ_SEG_NAME_LEN], uint64_t seg)
{
  static const char hex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; i--, seg >>= 4)
    buf[i] = hex[seg & 15];
  __builtin_memcpy(buf + 16, ".seg", 5);
}

extern const struct shoal__queue_backend shoal__fileq_backend;

// open.c
int shoal__fq_map_seg(struct shoal__fileq *f, struct fq_map *m, uint64_t seg);
void shoal__fq_unmap(struct shoal__fileq *f, struct fq_map *m);
int shoal__fq_new_segment(struct shoal__fileq *f, uint64_t seg, uint64_t first_seq, bool sync);

// shoal__fq_read_checked reads the file `name` of the queue directory dfd
// whole into a malloc'd *out (*len bytes) when its size lies in [min, max],
// and checks it with `check` (shoal__fq_meta_check, shoal__fq_repair_check).
// Errors: SHOAL_ENOENT (no such file), SHOAL_ECORRUPT (size out of range, or
// check's), SHOAL_EVERSION, SHOAL_ENOMEM, I/O errors.
int shoal__fq_read_checked(int dfd, const char *name, uint64_t min, uint64_t max,
                           int (*check)(const void *buf, size_t len), unsigned char **out,
                           size_t *len);

// shoal__fq_read_meta reads and checks queue.meta (shoal__fq_read_checked).
int shoal__fq_read_meta(int dfd, unsigned char **out, size_t *len);
int shoal__fq_checkpoint(struct shoal__fileq *f, bool sync);
int shoal__fq_list(int dfd, uint64_t *min, uint64_t *max, uint64_t *count, bool *foreign);
// shoal__fq_seg_number parses a file name of 16 hex digits then `suffix`
// (".seg": a segment) into *seg; false when it is not one.
bool shoal__fq_seg_number(const char *name, const char *suffix, uint64_t *seg);
// shoal__fq_repair_pending returns SHOAL_ECORRUPT when the directory holds
// the journal of a repair that has not finished (the files may be in two
// numberings: only shoal_fileq_repair may touch them), 0 when it does not.
int shoal__fq_repair_pending(int dfd);
// shoal__fq_segment_blank tells whether segment file seg holds nothing past
// its header: all zeros, or shorter than a header.  Such a last file is one
// a producer was creating when it died (rollover creates the next segment
// before it seals the one being written); a last file holding anything else
// is damage.
bool shoal__fq_segment_blank(int dfd, uint64_t seg);
void shoal__fileq_close(shoal_queue *q);

// ops.c
// shoal__fq_take takes robust lock l of the control file (put_lock or
// get_lock) without a deadline; when its holder died holding it, recover
// repairs what the holder left half done before the lock is marked
// consistent.  Returns 0, or the lockword's error (SHOAL_ENOTRECOVERABLE).
int shoal__fq_take(struct shoal__fileq *f, struct shoal__lockword *l,
                   void (*recover)(struct shoal__fileq *f));

// put.c
int shoal__fq_put(shoal_queue *q, const struct iovec *msgs, size_t n, shoal_duration timeout);
int shoal__fq_lock_put(struct shoal__fileq *f);

// get.c
int shoal__fq_get(shoal_queue *q, struct get_sink *sink, shoal_duration timeout);
int shoal__fq_task_done(shoal_queue *q);
int shoal__fq_lock_get(struct shoal__fileq *f);
int shoal__fq_discard(struct shoal__fileq *f);


#endif
