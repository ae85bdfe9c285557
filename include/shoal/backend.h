// SPDX-License-Identifier: MIT
// shoal/backend.h: queues with another home than shared memory, behind the
// same shoal_queue calls (shoal/queue.h).
//
// The durable file queue keeps its messages in a directory: append-only
// segment files of checksummed records, so that they survive the death of
// any process and, at the durability levels that fsync, of the machine.
// Open one with shoal_queue_open(&q, "file:///var/spool/jobs", opts, oopts)
// (default file options) or with shoal_fileq_open (all options).  Many
// producer and consumer processes, and their threads, use it at once.  Every
// shoal_queue call works on it except the zero-copy ones (loan, commit,
// abandon, peek, release) and shoal_queue_fd, which return SHOAL_ENOTSUP;
// only SHOAL_QUEUE_FIFO queues exist on files.
//
// Delivery: on a SHOAL_QUEUE_JOINABLE file queue a get hands out a message
// that stays owned by the getting process until shoal_queue_task_done
// acknowledges it; if that process dies first, the message is delivered
// again (at least once), and a message whose consumers keep dying is parked
// after dead_letter deliveries.  Without JOINABLE a message leaves the queue
// when shoal_queue_get returns it (at most once from then on).  See
// docs/backend.md for the format and every guarantee.
#ifndef SHOAL_BACKEND_H
#define SHOAL_BACKEND_H

#include <stddef.h>

#include <shoal/common.h>
#include <shoal/queue.h>

#ifdef __cplusplus
extern "C" {
#endif

/* When a put returns, relative to the disk. */
enum shoal_fileq_durability {
  /* Group commit: the put returns once the batch holding its message is
   * fsynced.  A batch is what was put while the sync before it ran (a lone
   * producer: its own put); it also closes after batch_records messages or
   * batch_ms after its first one, whichever comes first, even while that
   * sync still runs.  docs/backend.md has the details. */
  SHOAL_FILEQ_BATCH = 0,
  /* No fsync: the message is in the page cache, safe from the death of any
   * process but not from a crash of the machine. */
  SHOAL_FILEQ_NONE = 1,
  /* Every put is fsynced before it returns; concurrent puts share fsyncs
   * (group commit, without batch's bounds). */
  SHOAL_FILEQ_ALWAYS = 2,
};

typedef struct shoal_fileq_opts {
  unsigned durability;    /* enum shoal_fileq_durability, for this handle's puts
                             and acknowledgements; 0 = batch */
  uint32_t batch_records; /* batch: records that close a batch; 0 = 256 */
  uint32_t batch_ms;      /* batch: ms after which a batch closes; 0 = 2 */
  uint32_t dead_letter;   /* creation: deliveries after which a message whose
                             consumers died is parked; 0 = 5 */
  uint64_t segment_size;  /* creation: bytes of a segment file, a multiple of
                             4096 from 64 KiB to 4 GiB; 0 = 64 MiB */
  uint32_t max_inflight;  /* creation: most deliveries from the oldest
                             unacknowledged one on (joinable); 0 = 16384,
                             at most 1 << 20 */
  uint32_t reserved[7];   /* must be zero */
} shoal_fileq_opts;

// shoal_fileq_open opens the file queue in directory `dir` (a plain path, or
// a "file://" URL).  With SHOAL_OPEN_CREATE in oopts it makes the directory
// (one level, oopts' mode) when missing and creates a queue there when it
// holds none, using qopts (maxsize and the JOINABLE flag; kind must be FIFO,
// capacity is ignored) and the creation fields of fopts; an existing queue
// keeps its creator's options.  The non-creation fields of fopts apply to
// this handle.  After a reboot (or when the control file is missing) the
// first opener rebuilds the queue's state from its files: a torn or corrupt
// tail is cut off and counted (shoal_fileq_stats), never delivered.
// Errors: SHOAL_EINVAL (NULL out or dir, bad options), SHOAL_ENOENT (no
// queue there and no CREATE), SHOAL_EEXIST (CREATE|EXCL and a queue exists),
// SHOAL_ENOTDIR (dir is a file), SHOAL_EACCES (not writable), SHOAL_ECORRUPT
// (the directory holds something else, a queue damaged in its middle, or
// one whose repair was interrupted: see shoal_fileq_repair), SHOAL_EVERSION (a newer format), SHOAL_ENOTSUP
// (LIFO or priority kind), SHOAL_ENOSPC, SHOAL_ENOMEM.  The handle is used as
// every shoal_queue handle: from any thread, in fork children; close it with
// shoal_queue_close.
SHOAL_API int shoal_fileq_open(shoal_queue **out, const char *dir, const shoal_queue_opts *qopts,
                               const shoal_fileq_opts *fopts, const shoal_open_opts *oopts);

typedef struct shoal_fileq_info {
  uint64_t first_segment; /* number of the oldest segment file */
  uint64_t last_segment;  /* number of the segment being written */
  uint64_t synced;        /* messages known to be on disk (a count from the start) */
  uint64_t inflight;      /* deliveries waiting for task_done */
  uint64_t redelivered;   /* deliveries repeated because their consumer died */
  uint64_t dead_lettered; /* messages parked in dead.seg */
  uint64_t torn_records;  /* damaged tails cut off when the state was rebuilt */
  uint64_t torn_bytes;    /* their bytes */
  uint64_t rebuilds;      /* times the state was rebuilt from the files */
  uint64_t syncs;         /* fdatasync calls made for puts */
  uint64_t reserved[6];
} shoal_fileq_info;

// shoal_fileq_stats fills *st for a file queue.  Returns 0, or SHOAL_EINVAL
// (NULL, or q is not a file queue).  Momentary; thread-safe.
SHOAL_API int shoal_fileq_stats(shoal_queue *q, shoal_fileq_info *st);

typedef struct shoal_fileq_report {
  uint64_t segments;   /* segment files examined */
  uint64_t records;    /* intact message records found (kept by repair) */
  uint64_t damaged;    /* damaged regions followed by intact records */
  uint64_t torn;       /* damaged tails with no intact record after them */
  uint64_t bytes_lost; /* bytes in those regions and tails */
  uint64_t reserved[3];
} shoal_fileq_report;

// shoal_fileq_check reads every segment of the queue in `dir` and fills
// *rep (when not NULL) without changing anything.  Returns 0 when the queue
// is intact (a torn tail, which opening cuts off, counts as intact),
// SHOAL_ECORRUPT when a segment is damaged in its middle, or the errors of
// shoal_fileq_open.  Thread-safe; may run while the queue is in use.
SHOAL_API int shoal_fileq_check(const char *dir, shoal_fileq_report *rep);

// shoal_fileq_repair rewrites every damaged segment of the queue in `dir`
// with exactly its intact records (each verified by its CRC-32C), cuts torn
// tails, and drops the control file so that the next open rebuilds the
// state; fills *rep when not NULL.  Messages in damaged regions are lost;
// every intact one is kept, in order.  No process may have the queue open:
// SHOAL_EBUSY otherwise.  Interrupted anywhere (killed, an error, a power
// loss), it is run again and ends as one uninterrupted run would have:
// the same records, the cursor and the unacknowledged deliveries kept;
// until then, open and check may give SHOAL_ECORRUPT.  Needs free space for
// a copy of the segments.  Returns 0 or an error of shoal_fileq_open,
// SHOAL_ENOSPC.
SHOAL_API int shoal_fileq_repair(const char *dir, shoal_fileq_report *rep);

// shoal_fileq_dead_scan calls fn(msg, len, seq, arg) for every message
// parked in the queue in `dir` (dead letters), oldest first, until fn
// returns nonzero.  Returns the number of messages visited (>= 0) or an
// error of shoal_fileq_open.  Thread-safe.
SHOAL_API long shoal_fileq_dead_scan(const char *dir,
                                     int (*fn)(const void *msg, size_t len, uint64_t seq,
                                               void *arg),
                                     void *arg);

#ifdef __cplusplus
}
#endif
#endif
