// SPDX-License-Identifier: MIT
// Fuzz entry point for the file queue's record decoder: whatever bytes a
// segment holds, the scanner, the decoder and the resynchronising search
// stay inside the buffer and tell the truth about what they found.
//   fuzz_fileq_segment(data, size)  data is a segment image after a valid
//                                   header (first_seq from data[0]); every
//                                   record reported is checked byte for byte
//                                   and the scan's verdict against the bytes.
// It abort()s when an invariant breaks.  `make fuzz` builds it with
// libFuzzer (clang, -DSHOAL_FUZZ_TARGET=segment); test_fileq_fuzz.c includes
// this file and replays generated seeds and their mutations in `make test`.
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/file/format.h"

#define FUZZ_SEG_MAX 65536

#include <stdio.h>

static void fuzz_check(bool ok, int line)
{
  if (!ok) {
    fprintf(stderr, "fuzz_fileq.c:%d: invariant broken\n", line);
    abort();
  }
}
#define check(ok) fuzz_check((ok), __LINE__)

struct fuzz_seen {
  const unsigned char *buf;
  uint64_t size;
  uint64_t count;
  uint64_t next_off;
  uint64_t next_seq;
};

static int fuzz_record(const struct shoal__fq_view *v, uint64_t off, void *arg)
{
  struct fuzz_seen *s = arg;
  /* In order, back to back, inside the buffer, and really valid. */
  check(off == s->next_off && v->seq == s->next_seq);
  check(v->type == SHOAL__FQ_REC_MSG && v->size == shoal__fq_rec_size(v->len));
  check(off + v->size <= s->size && v->payload == s->buf + off + SHOAL__FQ_REC_HDR);
  struct shoal__fq_rec h;
  memcpy(&h, s->buf + off, sizeof h);
  check(h.commit == SHOAL__FQ_COMMIT && h.len == v->len);
  check(shoal__crc32c(shoal__crc32c(0, (const char *)&h + 4, 16), v->payload, v->len) == h.crc);
  check(shoal__crc32c_sw(0, v->payload, v->len) == shoal__crc32c(0, v->payload, v->len));
  s->count++;
  s->next_off = off + v->size;
  s->next_seq++;
  return 0;
}

static int fuzz_fileq_segment(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint64_t first_seq = data[0];
  data++;
  size--;
  if (size > FUZZ_SEG_MAX - SHOAL__FQ_SEG_HDR)
    size = FUZZ_SEG_MAX - SHOAL__FQ_SEG_HDR;
  /* An exact-size heap copy, so that ASan sees any read past the end. */
  uint64_t total = SHOAL__FQ_SEG_HDR + size;
  unsigned char *buf = malloc(total);
  check(buf != NULL);
  struct shoal__fq_seg_header h;
  shoal__fq_seg_header_init(&h, 7, first_seq, total);
  memcpy(buf, &h, sizeof h);
  memcpy(buf + SHOAL__FQ_SEG_HDR, data, size);
  check(total < SHOAL__FQ_SEG_HDR + 2 * SHOAL__FQ_REC_HDR ||
        shoal__fq_seg_header_check((const struct shoal__fq_seg_header *)buf, 7, total) == 0);

  struct fuzz_seen seen = {buf, total, 0, SHOAL__FQ_SEG_HDR, first_seq};
  struct shoal__fq_scan sc;
  check(shoal__fq_scan_records(buf, total, first_seq, fuzz_record, &seen, &sc) == 0);
  check(sc.records == seen.count && sc.next_seq == seen.next_seq);
  check(sc.next_off <= total);
  switch (sc.end) {
  case SHOAL__FQ_END_OPEN:
    /* Only zeros after the last record. */
    for (uint64_t i = sc.next_off; i < total; i++)
      check(buf[i] == 0);
    break;
  case SHOAL__FQ_END_SEALED:
    check(sc.next_off == seen.next_off + SHOAL__FQ_REC_HDR);
    break;
  case SHOAL__FQ_END_TORN:
    check(sc.bad_off == sc.next_off && sc.bad_off + sc.bad_bytes <= total);
    check(shoal__fq_find_record(buf, total, sc.bad_off + 8) == 0);
    break;
  case SHOAL__FQ_END_DAMAGED: {
    check(sc.resume_off > sc.bad_off && sc.resume_off < total && sc.resume_off % 8 == 0);
    struct shoal__fq_view v;
    check(shoal__fq_decode(buf + sc.resume_off, total - sc.resume_off, UINT64_MAX, &v) ==
          SHOAL__FQ_DEC_OK);
    break;
  }
  default:
    check(false);
  }
  /* The decoder at every offset stays inside the buffer. */
  for (uint64_t off = SHOAL__FQ_SEG_HDR; off < total; off += 8) {
    struct shoal__fq_view v;
    if (shoal__fq_decode(buf + off, total - off, UINT64_MAX, &v) == SHOAL__FQ_DEC_OK)
      check(off + v.size <= total);
  }
  /* A queue.meta image made of the same bytes is refused or consistent. */
  int rc = shoal__fq_meta_check(data, size);
  if (rc == 0) {
    struct shoal__fq_meta m;
    memcpy(&m, data, sizeof m);
    check(m.size == size && sizeof m + 4 + (uint64_t)m.n_inflight * 16 == size);
  }
  /* So is a queue.repair image, with the queue.meta image it holds. */
  rc = shoal__fq_repair_check(data, size);
  if (rc == 0) {
    struct shoal__fq_repair j;
    memcpy(&j, data, sizeof j);
    check(j.size == size && sizeof j + (uint64_t)j.meta_size + 4 == size);
    check(shoal__fq_meta_check(data + sizeof j, j.meta_size) == 0);
  }
  free(buf);
  return 0;
}

#ifdef SHOAL_FUZZ_TARGET
#define FUZZ_CAT2(a, b) a##b
#define FUZZ_CAT(a, b) FUZZ_CAT2(a, b)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  return FUZZ_CAT(fuzz_fileq_, SHOAL_FUZZ_TARGET)(data, size);
}
#endif
