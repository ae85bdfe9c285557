// SPDX-License-Identifier: MIT
// The on-disk format: segment headers, the record decoder and the segment
// scanner that recovery, the repair command and the fuzz target share.
// Everything here works on bytes in memory and trusts none of them.
#include <stdlib.h>
#include <string.h>

#include "backend/file/format.h"
#include "shoal/common.h"

uint32_t shoal__fq_rec_crc(const struct shoal__fq_rec *h, const void *payload)
{
  /* len, seq and type are the 16 bytes from offset 4. */
  uint32_t crc = shoal__crc32c(0, (const char *)h + 4, 16);
  return h->len ? shoal__crc32c(crc, payload, h->len) : crc;
}

void shoal__fq_seg_header_init(struct shoal__fq_seg_header *h, uint64_t segment,
                               uint64_t first_seq, uint64_t size)
{
  memset(h, 0, sizeof *h);
  memcpy(h->magic, SHOAL__FQ_SEG_MAGIC, 8);
  h->version = SHOAL__FQ_VERSION;
  h->header_size = SHOAL__FQ_SEG_HDR;
  h->segment = segment;
  h->first_seq = first_seq;
  h->size = size;
  h->crc = shoal__crc32c(0, h, offsetof(struct shoal__fq_seg_header, crc));
}

int shoal__fq_seg_header_check(const struct shoal__fq_seg_header *h, uint64_t segment,
                               uint64_t file_size)
{
  /* The magic and the version come first: a newer format may change the rest. */
  if (memcmp(h->magic, SHOAL__FQ_SEG_MAGIC, 8) != 0)
    return SHOAL_ECORRUPT;
  if (h->version > SHOAL__FQ_VERSION)
    return SHOAL_EVERSION;
  if (h->crc != shoal__crc32c(0, h, offsetof(struct shoal__fq_seg_header, crc)))
    return SHOAL_ECORRUPT;
  if (h->version == 0 || h->header_size != SHOAL__FQ_SEG_HDR || h->segment != segment ||
      h->size != file_size || h->size < SHOAL__FQ_SEG_HDR + 2 * SHOAL__FQ_REC_HDR)
    return SHOAL_ECORRUPT;
  return 0;
}

static bool all_zero(const unsigned char *p, uint64_t n)
{
  for (uint64_t i = 0; i < n; i++)
    if (p[i])
      return false;
  return true;
}

int shoal__fq_decode(const unsigned char *buf, uint64_t avail, uint64_t want_seq,
                     struct shoal__fq_view *v)
{
  struct shoal__fq_rec h;
  if (avail < SHOAL__FQ_REC_HDR)
    return all_zero(buf, avail) ? SHOAL__FQ_DEC_ZERO : SHOAL__FQ_DEC_BAD;
  memcpy(&h, buf, sizeof h);
  if (h.commit != SHOAL__FQ_COMMIT)
    return all_zero(buf, SHOAL__FQ_REC_HDR) ? SHOAL__FQ_DEC_ZERO : SHOAL__FQ_DEC_BAD;
  if (h.type != SHOAL__FQ_REC_MSG && h.type != SHOAL__FQ_REC_END)
    return SHOAL__FQ_DEC_BAD;
  if (h.type == SHOAL__FQ_REC_END && h.len != 0)
    return SHOAL__FQ_DEC_BAD;
  uint64_t size = shoal__fq_rec_size(h.len);
  if (size > avail || (want_seq != UINT64_MAX && h.seq != want_seq))
    return SHOAL__FQ_DEC_BAD;
  const unsigned char *payload = buf + SHOAL__FQ_REC_HDR;
  if (!all_zero(payload + h.len, size - SHOAL__FQ_REC_HDR - h.len))
    return SHOAL__FQ_DEC_BAD;
  if (shoal__fq_rec_crc(&h, payload) != h.crc)
    return SHOAL__FQ_DEC_BAD;
  v->type = h.type;
  v->len = h.len;
  v->seq = h.seq;
  v->size = size;
  v->payload = payload;
  return SHOAL__FQ_DEC_OK;
}

uint64_t shoal__fq_find_record(const unsigned char *buf, uint64_t size, uint64_t from)
{
  struct shoal__fq_view v;
  uint64_t off = (from + 7) & ~(uint64_t)7;
  if (off < SHOAL__FQ_SEG_HDR)
    off = SHOAL__FQ_SEG_HDR;
  for (; off + SHOAL__FQ_REC_HDR <= size; off += 8) {
    uint32_t commit;
    memcpy(&commit, buf + off, 4);
    if (commit == SHOAL__FQ_COMMIT &&
        shoal__fq_decode(buf + off, size - off, UINT64_MAX, &v) == SHOAL__FQ_DEC_OK)
      return off;
  }
  return 0;
}

int shoal__fq_scan_records(const unsigned char *buf, uint64_t size, uint64_t first_seq,
                           int (*fn)(const struct shoal__fq_view *v, uint64_t off, void *arg),
                           void *arg, struct shoal__fq_scan *out)
{
  memset(out, 0, sizeof *out);
  uint64_t off = SHOAL__FQ_SEG_HDR, seq = first_seq;
  struct shoal__fq_view v;
  int d = SHOAL__FQ_DEC_ZERO;
  while (off < size) {
    d = shoal__fq_decode(buf + off, size - off, seq, &v);
    if (d != SHOAL__FQ_DEC_OK)
      break;
    if (v.type == SHOAL__FQ_REC_END) {
      out->end = SHOAL__FQ_END_SEALED;
      out->next_off = off + v.size;
      out->next_seq = seq;
      return 0;
    }
    if (fn) {
      int rc = fn(&v, off, arg);
      if (rc)
        return rc;
    }
    out->records++;
    seq++;
    off += v.size;
  }
  out->next_off = off;
  out->next_seq = seq;
  if (off >= size)
    return 0; /* full to the last byte: the writer never leaves it so */
  uint64_t resume = shoal__fq_find_record(buf, size, off + 8);
  if (resume) {
    out->end = SHOAL__FQ_END_DAMAGED;
    out->bad_off = off;
    out->bad_bytes = resume - off;
    out->resume_off = resume;
    return 0;
  }
  uint64_t last = size;
  while (last > off && buf[last - 1] == 0)
    last--;
  if (d == SHOAL__FQ_DEC_ZERO && last == off) {
    out->end = SHOAL__FQ_END_OPEN;
    return 0;
  }
  out->end = SHOAL__FQ_END_TORN;
  out->bad_off = off;
  out->bad_bytes = last > off ? last - off : 0;
  return 0;
}

/* Checks what queue.meta and queue.repair share: at least head + 4 bytes,
 * the magic, a version this build reads (SHOAL_EVERSION for a newer one),
 * the size field equal to len, and the CRC-32C of everything before the
 * last 4 bytes.  Both begin with magic[8], u32 version, u32 size. */
static int check_envelope(const void *buf, size_t len, size_t head, const char magic[8])
{
  if (len < head + 4 || memcmp(buf, magic, 8) != 0)
    return SHOAL_ECORRUPT;
  uint32_t version, size, crc;
  memcpy(&version, (const char *)buf + 8, 4);
  memcpy(&size, (const char *)buf + 12, 4);
  if (version > SHOAL__FQ_VERSION)
    return SHOAL_EVERSION;
  memcpy(&crc, (const char *)buf + len - 4, 4);
  if (crc != shoal__crc32c(0, buf, len - 4) || version == 0 || size != len)
    return SHOAL_ECORRUPT;
  return 0;
}

int shoal__fq_meta_check(const void *buf, size_t len)
{
  struct shoal__fq_meta m;
  int rc = check_envelope(buf, len, sizeof m, SHOAL__FQ_META_MAGIC);
  if (rc)
    return rc;
  memcpy(&m, buf, sizeof m);
  if ((uint64_t)m.n_inflight * sizeof(struct shoal__fq_meta_inflight) + sizeof m + 4 != len)
    return SHOAL_ECORRUPT;
  return 0;
}

unsigned char *shoal__fq_meta_encode(const struct shoal__fq_meta *head,
                                     const struct shoal__fq_meta_inflight *infl, size_t *len)
{
  size_t n = sizeof *head + head->n_inflight * sizeof *infl + 4;
  unsigned char *buf = malloc(n);
  if (!buf)
    return NULL;
  struct shoal__fq_meta m = *head;
  m.size = (uint32_t)n;
  memcpy(buf, &m, sizeof m);
  if (m.n_inflight)
    memcpy(buf + sizeof m, infl, m.n_inflight * sizeof *infl);
  uint32_t crc = shoal__crc32c(0, buf, n - 4);
  memcpy(buf + n - 4, &crc, 4);
  *len = n;
  return buf;
}

int shoal__fq_repair_check(const void *buf, size_t len)
{
  struct shoal__fq_repair j;
  int rc = check_envelope(buf, len, sizeof j, SHOAL__FQ_REPAIR_MAGIC);
  if (rc)
    return rc;
  memcpy(&j, buf, sizeof j);
  if ((uint64_t)sizeof j + j.meta_size + 4 != len)
    return SHOAL_ECORRUPT;
  return shoal__fq_meta_check((const char *)buf + sizeof j, j.meta_size);
}
