// SPDX-License-Identifier: MIT
// format.h: the durable file queue's on-disk format (docs/backend.md has the
// same description for users).  All integers are little-endian, as the
// machine writes them; a big-endian port would have to swap them.
//
// A queue is a directory holding:
//   queue.meta           options and the last checkpoint of the consumers'
//                        position; replaced whole (write new, fsync, rename,
//                        fsync the directory)
//   queue.ctl            the control file every process maps: locks, futex
//                        words, positions, in-flight deliveries (rebuilt
//                        from the other files after a reboot)
//   <16 hex digits>.seg  segments, numbered upwards; each starts with a
//                        64-byte header and holds records back to back
//   dead.seg             messages parked after too many deliveries, in
//                        the same record format
//   queue.repair         only while a repair is finishing: its journal
//                        (struct shoal__fq_repair), written whole like
//                        queue.meta; see repair.c
//   <16 hex>.seg.repair  a repair's new segments, until it renames them
//
// A record is a 24-byte header, the payload, and zero padding to 8 bytes:
//   commit u32   SHOAL__FQ_COMMIT once the record is whole; 0 before
//   len    u32   payload bytes
//   seq    u64   the message's sequence number (an end record: the next one)
//   type   u32   SHOAL__FQ_REC_MSG, or SHOAL__FQ_REC_END (the segment is
//                sealed; the log continues in the next segment)
//   crc    u32   CRC-32C of len, seq and type (16 bytes), then the payload
#ifndef SHOAL_BACKEND_FILE_FORMAT_H
#define SHOAL_BACKEND_FILE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHOAL__FQ_VERSION 1
#define SHOAL__FQ_SEG_MAGIC "SHOALSEG"
#define SHOAL__FQ_META_MAGIC "SHOALFQM"
#define SHOAL__FQ_REPAIR_MAGIC "SHOALFQR"
#define SHOAL__FQ_COMMIT 0x544d4d43u /* "CMMT" */
#define SHOAL__FQ_REC_MSG 1u
#define SHOAL__FQ_REC_END 2u

#define SHOAL__FQ_SEG_HDR 64u
#define SHOAL__FQ_REC_HDR 24u

struct shoal__fq_seg_header {
  char magic[8];        /* SHOAL__FQ_SEG_MAGIC */
  uint32_t version;     /* SHOAL__FQ_VERSION */
  uint32_t header_size; /* SHOAL__FQ_SEG_HDR */
  uint64_t segment;     /* its number (the file's name) */
  uint64_t first_seq;   /* seq of its first record */
  uint64_t size;        /* the file's size */
  uint32_t reserved[5];
  uint32_t crc; /* CRC-32C of the 60 bytes before */
};
_Static_assert(sizeof(struct shoal__fq_seg_header) == SHOAL__FQ_SEG_HDR, "segment header size");

struct shoal__fq_rec {
  uint32_t commit;
  uint32_t len;
  uint64_t seq;
  uint32_t type;
  uint32_t crc;
};
_Static_assert(sizeof(struct shoal__fq_rec) == SHOAL__FQ_REC_HDR, "record header size");

/* queue.meta: this header, n_inflight entries, then a CRC-32C of all of it. */
struct shoal__fq_meta {
  char magic[8];  /* SHOAL__FQ_META_MAGIC */
  uint32_t version;
  uint32_t size;  /* bytes of the whole file */
  uint64_t segment_size;
  uint64_t maxsize;
  uint32_t flags; /* shoal_queue_opts.flags */
  uint32_t dead_letter;
  uint32_t max_inflight;
  uint32_t n_inflight;
  uint64_t cursor_seq; /* every message below it was delivered (checkpoint) */
  uint64_t generation; /* counts checkpoints */
  uint32_t mode;       /* permission bits of the queue's files */
  uint32_t reserved32;
  uint64_t reserved;
};
_Static_assert(sizeof(struct shoal__fq_meta) == 80, "meta header size");

/* A delivery not yet acknowledged when the checkpoint was taken. */
struct shoal__fq_meta_inflight {
  uint64_t seq;
  uint32_t deliveries;
  uint32_t reserved;
};

/* queue.repair, a repair's journal: this header, the image of the new
 * queue.meta (meta_size bytes, its own CRC included), then a CRC-32C of all
 * of it.  It exists from the moment a repair has written every new segment
 * (as "<16 hex digits>.seg.repair") until it has put them and the new
 * queue.meta in place; a repair that finds it finishes that from it. */
struct shoal__fq_repair {
  char magic[8]; /* SHOAL__FQ_REPAIR_MAGIC */
  uint32_t version;
  uint32_t size;          /* bytes of the whole file */
  uint64_t first_segment; /* the new segments are numbered first_segment ... */
  uint64_t segments;      /* ... onwards, this many */
  uint64_t examined;      /* the report of the run that wrote it: segment files, */
  uint64_t records;       /* intact records kept, */
  uint64_t damaged;       /* damaged regions, */
  uint64_t torn;          /* torn tails, */
  uint64_t bytes_lost;    /* and their bytes */
  uint32_t meta_size;     /* bytes of the queue.meta image that follows */
  uint32_t reserved;
};
_Static_assert(sizeof(struct shoal__fq_repair) == 80, "repair journal header size");

// shoal__crc32c extends crc (0 to start) over len bytes of buf.  Thread-safe.
uint32_t shoal__crc32c(uint32_t crc, const void *buf, size_t len);
// shoal__crc32c_sw is the table version, for tests and CPUs without SSE4.2.
uint32_t shoal__crc32c_sw(uint32_t crc, const void *buf, size_t len);

// shoal__fq_rec_size is the bytes a record with len payload bytes takes.
static inline uint64_t shoal__fq_rec_size(uint64_t len)
{
  return SHOAL__FQ_REC_HDR + ((len + 7) & ~(uint64_t)7);
}

// shoal__fq_rec_crc computes a record's CRC from its header and payload.
uint32_t shoal__fq_rec_crc(const struct shoal__fq_rec *h, const void *payload);

// shoal__fq_seg_header_init fills a segment header.
void shoal__fq_seg_header_init(struct shoal__fq_seg_header *h, uint64_t segment,
                               uint64_t first_seq, uint64_t size);

// shoal__fq_seg_header_check validates a header read from segment `segment`
// of a file of file_size bytes.  Returns 0, SHOAL_EVERSION (a newer format)
// or SHOAL_ECORRUPT.
int shoal__fq_seg_header_check(const struct shoal__fq_seg_header *h, uint64_t segment,
                               uint64_t file_size);

/* What shoal__fq_decode found at an offset. */
enum shoal__fq_dec {
  SHOAL__FQ_DEC_OK = 0,   /* a whole, valid record */
  SHOAL__FQ_DEC_ZERO = 1, /* zeros: nothing was ever written here */
  SHOAL__FQ_DEC_BAD = 2,  /* anything else: torn, corrupt or foreign */
};

struct shoal__fq_view {
  uint32_t type;
  uint32_t len;
  uint64_t seq;
  uint64_t size; /* whole record, padding included */
  const unsigned char *payload;
};

// shoal__fq_decode decodes the record at buf, of which avail bytes may be
// read.  With want_seq != UINT64_MAX the record must carry that sequence
// number.  Never reads past avail; fills *v only for SHOAL__FQ_DEC_OK.
int shoal__fq_decode(const unsigned char *buf, uint64_t avail, uint64_t want_seq,
                     struct shoal__fq_view *v);

/* What a scan of a segment's records found. */
enum shoal__fq_end {
  SHOAL__FQ_END_OPEN = 0,    /* records, then zeros: the segment being written */
  SHOAL__FQ_END_SEALED = 1,  /* an end record: the log goes on in the next segment */
  SHOAL__FQ_END_TORN = 2,    /* records, then a damaged tail with no record after it */
  SHOAL__FQ_END_DAMAGED = 3, /* damage followed by valid records */
};

struct shoal__fq_scan {
  int end;            /* enum shoal__fq_end */
  uint64_t next_off;  /* offset after the last valid record (of the end record if sealed) */
  uint64_t next_seq;  /* seq the next record must carry */
  uint64_t records;   /* valid message records */
  uint64_t bad_off;   /* TORN/DAMAGED: where the damage starts */
  uint64_t bad_bytes; /* TORN: nonzero bytes cut off; DAMAGED: bytes to the next valid record */
  uint64_t resume_off; /* DAMAGED: the next valid record */
};

// shoal__fq_scan_records walks the records of a segment image buf[0..size)
// (header included) from offset SHOAL__FQ_SEG_HDR, expecting first_seq
// first.  For each valid message record it calls fn(view, off, arg) when fn
// is not NULL (a nonzero return stops the scan and is returned).  Returns 0
// with *out filled.  Reads nothing outside buf.
int shoal__fq_scan_records(const unsigned char *buf, uint64_t size, uint64_t first_seq,
                           int (*fn)(const struct shoal__fq_view *v, uint64_t off, void *arg),
                           void *arg, struct shoal__fq_scan *out);

// shoal__fq_find_record looks for the next valid record (any seq) at an
// 8-byte aligned offset in [from, size); returns its offset or 0.
uint64_t shoal__fq_find_record(const unsigned char *buf, uint64_t size, uint64_t from);

// shoal__fq_meta_check validates a queue.meta image of len bytes.  Returns
// 0, SHOAL_EVERSION or SHOAL_ECORRUPT.
int shoal__fq_meta_check(const void *buf, size_t len);

// shoal__fq_meta_encode returns a malloc'd queue.meta image of head (its
// size field set here) and its head->n_inflight entries, CRC appended, with
// its length in *len; NULL when out of memory.
unsigned char *shoal__fq_meta_encode(const struct shoal__fq_meta *head,
                                     const struct shoal__fq_meta_inflight *infl, size_t *len);

// shoal__fq_repair_check validates a queue.repair image of len bytes, the
// queue.meta image it holds included.  Returns 0, SHOAL_EVERSION or
// SHOAL_ECORRUPT.
int shoal__fq_repair_check(const void *buf, size_t len);

#endif
