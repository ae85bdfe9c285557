// SPDX-License-Identifier: MIT
// Checking and repairing a file queue offline, and reading its dead
// letters.  Repair keeps every record whose CRC-32C holds, in order, and
// numbers them again without gaps, so that the queue opens cleanly after.
// It is idempotent: interrupted, it can simply be run again.
#include <stdlib.h>
#include <string.h>

#include "backend/file/fileq.h"

/* ---- walking the records of a damaged segment --------------------------------- */

struct walk {
  uint64_t records;
  uint64_t damaged;
  uint64_t torn;
  uint64_t bytes_lost;
  bool sealed;
};

/* Visits every intact record of buf[0..size) in file order, whatever its
 * seq, skipping damaged regions (found again by the next valid record). */
static int walk_records(const unsigned char *buf, uint64_t size,
                        int (*fn)(const struct shoal__fq_view *v, void *arg), void *arg,
                        struct walk *w)
{
  uint64_t off = SHOAL__FQ_SEG_HDR;
  while (off < size) {
    struct shoal__fq_view v;
    int d = shoal__fq_decode(buf + off, size - off, UINT64_MAX, &v);
    if (d == SHOAL__FQ_DEC_OK) {
      if (v.type == SHOAL__FQ_REC_END) {
        w->sealed = true;
        return 0;
      }
      w->records++;
      if (fn) {
        int rc = fn(&v, arg);
        if (rc)
          return rc;
      }
      off += v.size;
      continue;
    }
    uint64_t next = shoal__fq_find_record(buf, size, off + 8);
    if (!next) {
      uint64_t last = size;
      while (last > off && buf[last - 1] == 0)
        last--;
      if (last > off) {
        w->torn++;
        w->bytes_lost += last - off;
      }
      return 0;
    }
    w->damaged++;
    w->bytes_lost += next - off;
    off = next;
  }
  return 0;
}

/* Maps segment file `name` whole (read only in spirit: nothing is written
 * through the mapping). */
static int map_file(int dfd, const char *name, unsigned char **addr, uint64_t *size)
{
  int fd;
  int rc = shoal__plat_at_open(dfd, name, SHOAL__PLAT_AT_WRITE, 0, &fd, size);
  if (rc)
    return rc;
  if (*size < SHOAL__FQ_SEG_HDR) {
    shoal__plat_file_close(fd);
    *addr = NULL;
    return 0;
  }
  void *p;
  rc = shoal__plat_file_map(fd, *size, &p);
  shoal__plat_file_close(fd);
  *addr = p;
  return rc;
}

struct opened {
  int dfd;
  unsigned char *meta;
  size_t meta_len;
};

static int open_dir(const char *dir, bool exclusive, struct opened *o)
{
  if (!dir)
    return SHOAL_EINVAL;
  const char *path = strncmp(dir, "file://", 7) == 0 ? dir + 7 : dir;
  if (!*path)
    return SHOAL_EINVAL;
  int rc = shoal__plat_dir_open(path, false, 0, &o->dfd);
  if (rc)
    return rc;
  rc = exclusive ? shoal__plat_dir_lock(o->dfd, true, true) : 0;
  if (rc == SHOAL_EAGAIN)
    rc = SHOAL_EBUSY;
  if (rc == 0) {
    int fd;
    uint64_t size;
    rc = shoal__plat_at_open(o->dfd, FQ_META_NAME, SHOAL__PLAT_AT_READ, 0, &fd, &size);
    if (rc == 0) {
      o->meta = size >= sizeof(struct shoal__fq_meta) + 4 && size < (1u << 26) ? malloc(size)
                                                                                : NULL;
      rc = o->meta ? shoal__plat_file_read(fd, 0, o->meta, size) : SHOAL_ECORRUPT;
      shoal__plat_file_close(fd);
      if (rc == 0)
        rc = shoal__fq_meta_check(o->meta, size);
      o->meta_len = size;
    }
  }
  if (rc) {
    free(o->meta);
    shoal__plat_close_fd(o->dfd);
  }
  return rc;
}

static void close_dir(struct opened *o)
{
  free(o->meta);
  shoal__plat_close_fd(o->dfd);
}

/* ---- check --------------------------------------------------------------------- */

int shoal_fileq_check(const char *dir, shoal_fileq_report *rep)
{
  struct opened o = {-1, NULL, 0};
  int rc = open_dir(dir, false, &o);
  if (rc)
    return rc;
  shoal_fileq_report r;
  memset(&r, 0, sizeof r);
  uint64_t min, max, count;
  bool foreign;
  rc = shoal__fq_list(o.dfd, &min, &max, &count, &foreign);
  bool bad = count && count != max - min + 1;
  for (uint64_t s = min; rc == 0 && count && s <= max; s++) {
    char name[FQ_SEG_NAME_LEN];
    fq_seg_name(name, s);
    unsigned char *addr;
    uint64_t size;
    int mrc = map_file(o.dfd, name, &addr, &size);
    if (mrc == SHOAL_ENOENT)
      continue;
    if (mrc) {
      rc = mrc;
      break;
    }
    r.segments++;
    struct shoal__fq_seg_header h;
    if (!addr) {
      bad |= s != max;
      continue;
    }
    memcpy(&h, addr, sizeof h);
    int hrc = shoal__fq_seg_header_check(&h, s, size);
    if (hrc == SHOAL_EVERSION)
      rc = hrc;
    struct walk w = {0, 0, 0, 0, false};
    walk_records(addr, size, NULL, NULL, &w);
    shoal__plat_unmap(addr, size);
    r.records += w.records;
    r.damaged += w.damaged;
    r.torn += w.torn;
    r.bytes_lost += w.bytes_lost;
    /* Damage: a bad header, a region with records after it, or a tail cut
     * in a segment that is not the last. */
    bad |= hrc != 0 || w.damaged || (s != max && (w.torn || !w.sealed));
  }
  if (rep)
    *rep = r;
  close_dir(&o);
  return rc ? rc : bad ? SHOAL_ECORRUPT : 0;
}

/* ---- repair ---------------------------------------------------------------------- */

struct renumber {
  uint64_t next;       /* seq the next kept record gets */
  uint64_t old_cursor; /* the checkpoint's cursor, in the files' numbering */
  uint64_t new_cursor; /* ... and in the new one (UINT64_MAX: not yet seen) */
  struct shoal__fq_meta_inflight *infl;
  uint32_t n_infl;
  unsigned char *out; /* segment being written, or NULL while counting */
  uint64_t out_off;
};

static int renumber_record(const struct shoal__fq_view *v, void *arg)
{
  struct renumber *rn = arg;
  uint64_t seq = rn->next++;
  if (!rn->out) {
    if (v->seq >= rn->old_cursor && rn->new_cursor == UINT64_MAX)
      rn->new_cursor = seq;
    for (uint32_t i = 0; i < rn->n_infl; i++)
      if (rn->infl[i].seq == v->seq && rn->infl[i].reserved == 0) {
        rn->infl[i].seq = seq;
        rn->infl[i].reserved = 1; /* renumbered */
        break;
      }
    return 0;
  }
  struct shoal__fq_rec h = {0, v->len, seq, SHOAL__FQ_REC_MSG, 0};
  h.crc = shoal__fq_rec_crc(&h, v->payload);
  h.commit = SHOAL__FQ_COMMIT;
  memcpy(rn->out + rn->out_off, &h, sizeof h);
  memcpy(rn->out + rn->out_off + sizeof h, v->payload, v->len);
  rn->out_off += v->size;
  return 0;
}

/* Writes segment `seg` holding the intact records of `in` (renumbered), an
 * end record unless it is the last, to a new file renamed over `seg`. */
static int rewrite_segment(int dfd, const unsigned char *in, uint64_t size, uint64_t seg,
                           bool last, unsigned mode, struct renumber *rn)
{
  unsigned char *out = calloc(1, size);
  if (!out)
    return SHOAL_ENOMEM;
  struct shoal__fq_seg_header h;
  shoal__fq_seg_header_init(&h, seg, rn->next, size);
  memcpy(out, &h, sizeof h);
  rn->out = out;
  rn->out_off = SHOAL__FQ_SEG_HDR;
  struct walk w = {0, 0, 0, 0, false};
  walk_records(in, size, renumber_record, rn, &w);
  if (!last) {
    struct shoal__fq_rec e = {0, 0, rn->next, SHOAL__FQ_REC_END, 0};
    e.crc = shoal__fq_rec_crc(&e, NULL);
    e.commit = SHOAL__FQ_COMMIT;
    memcpy(out + rn->out_off, &e, sizeof e);
  }
  rn->out = NULL;
  char name[FQ_SEG_NAME_LEN], tmp[FQ_SEG_NAME_LEN + 4];
  fq_seg_name(name, seg);
  memcpy(tmp, name, FQ_SEG_NAME_LEN);
  strcat(tmp, ".new");
  (void)shoal__plat_at_unlink(dfd, tmp);
  int fd;
  int rc = shoal__plat_at_open(dfd, tmp, SHOAL__PLAT_AT_EXCL, mode, &fd, NULL);
  if (rc == 0) {
    rc = shoal__plat_fd_write(fd, out, size, 0);
    if (rc == 0)
      rc = shoal__plat_fd_sync(fd);
    shoal__plat_file_close(fd);
    if (rc == 0)
      rc = shoal__plat_at_rename(dfd, tmp, name);
    if (rc)
      (void)shoal__plat_at_unlink(dfd, tmp);
  }
  free(out);
  return rc;
}

int shoal_fileq_repair(const char *dir, shoal_fileq_report *rep)
{
  struct opened o = {-1, NULL, 0};
  int rc = open_dir(dir, true, &o);
  if (rc)
    return rc;
  struct shoal__fq_meta meta;
  memcpy(&meta, o.meta, sizeof meta);
  shoal_fileq_report r;
  memset(&r, 0, sizeof r);
  uint64_t min, max, count;
  bool foreign;
  rc = shoal__fq_list(o.dfd, &min, &max, &count, &foreign);
  struct renumber rn = {0, meta.cursor_seq, UINT64_MAX, NULL, meta.n_inflight, NULL, 0};
  if (rc == 0 && meta.n_inflight) {
    rn.infl = malloc(meta.n_inflight * sizeof *rn.infl);
    if (!rn.infl)
      rc = SHOAL_ENOMEM;
    else
      memcpy(rn.infl, o.meta + sizeof meta, meta.n_inflight * sizeof *rn.infl);
  }
  /* Where numbering starts: the first segment's header, when it holds. */
  bool have_base = false;
  for (uint64_t s = min; rc == 0 && count && s <= max && !have_base; s++) {
    char name[FQ_SEG_NAME_LEN];
    fq_seg_name(name, s);
    unsigned char *addr;
    uint64_t size;
    if (map_file(o.dfd, name, &addr, &size) != 0 || !addr)
      continue;
    struct shoal__fq_seg_header h;
    memcpy(&h, addr, sizeof h);
    if (shoal__fq_seg_header_check(&h, s, size) == 0) {
      rn.next = h.first_seq;
      have_base = true;
    }
    shoal__plat_unmap(addr, size);
  }
  uint64_t base = rn.next;
  /* Pass 1 counts and maps the checkpoint to the new numbers; pass 2
   * writes.  The same records come out in the same order both times. */
  for (int pass = 0; rc == 0 && pass < 2; pass++) {
    rn.next = base;
    uint64_t out_seg = min;
    for (uint64_t s = min; rc == 0 && count && s <= max; s++) {
      char name[FQ_SEG_NAME_LEN];
      fq_seg_name(name, s);
      unsigned char *addr;
      uint64_t size;
      rc = map_file(o.dfd, name, &addr, &size);
      if (rc == SHOAL_ENOENT) {
        rc = 0;
        continue;
      }
      if (rc)
        break;
      if (!addr || size != meta.segment_size) {
        if (addr)
          shoal__plat_unmap(addr, size);
        if (pass == 1)
          (void)shoal__plat_at_unlink(o.dfd, name);
        continue;
      }
      if (pass == 0) {
        struct walk w = {0, 0, 0, 0, false};
        walk_records(addr, size, renumber_record, &rn, &w);
        r.segments++;
        r.records += w.records;
        r.damaged += w.damaged;
        r.torn += w.torn;
        r.bytes_lost += w.bytes_lost;
      } else {
        /* out_seg <= s: the file it replaces was read already. */
        rc = rewrite_segment(o.dfd, addr, size, out_seg, s == max, meta.mode ? meta.mode : 0600,
                             &rn);
        if (rc == 0 && out_seg != s)
          (void)shoal__plat_at_unlink(o.dfd, name);
        out_seg++;
      }
      shoal__plat_unmap(addr, size);
    }
    if (rc == 0 && pass == 0) {
      /* The new checkpoint goes first: run again, repair finds the same. */
      uint32_t n = 0;
      for (uint32_t i = 0; i < rn.n_infl; i++)
        if (rn.infl[i].reserved)
          rn.infl[n++] = (struct shoal__fq_meta_inflight){rn.infl[i].seq, rn.infl[i].deliveries, 0};
      meta.n_inflight = n;
      meta.cursor_seq = rn.new_cursor == UINT64_MAX ? rn.next : rn.new_cursor;
      meta.generation++;
      size_t len = sizeof meta + n * sizeof *rn.infl + 4;
      unsigned char *buf = malloc(len);
      if (!buf) {
        rc = SHOAL_ENOMEM;
        break;
      }
      meta.size = (uint32_t)len;
      memcpy(buf, &meta, sizeof meta);
      if (n)
        memcpy(buf + sizeof meta, rn.infl, n * sizeof *rn.infl);
      uint32_t crc = shoal__crc32c(0, buf, len - 4);
      memcpy(buf + len - 4, &crc, 4);
      (void)shoal__plat_at_unlink(o.dfd, FQ_META_TMP);
      int fd;
      rc = shoal__plat_at_open(o.dfd, FQ_META_TMP, SHOAL__PLAT_AT_EXCL, 0600, &fd, NULL);
      if (rc == 0) {
        rc = shoal__plat_fd_write(fd, buf, len, 0);
        if (rc == 0)
          rc = shoal__plat_fd_sync(fd);
        shoal__plat_file_close(fd);
        if (rc == 0)
          rc = shoal__plat_at_rename(o.dfd, FQ_META_TMP, FQ_META_NAME);
      }
      free(buf);
    }
  }
  if (rc == 0) {
    (void)shoal__plat_at_unlink(o.dfd, FQ_CTL_NAME);
    rc = shoal__plat_dir_sync(o.dfd);
  }
  free(rn.infl);
  if (rep)
    *rep = r;
  close_dir(&o);
  return rc;
}

/* ---- dead letters ------------------------------------------------------------------- */

struct dead_visit {
  int (*fn)(const void *msg, size_t len, uint64_t seq, void *arg);
  void *arg;
  long n;
};

static int dead_one(const struct shoal__fq_view *v, void *arg)
{
  struct dead_visit *dv = arg;
  dv->n++;
  return dv->fn ? dv->fn(v->payload, v->len, v->seq, dv->arg) : 0;
}

long shoal_fileq_dead_scan(const char *dir,
                           int (*fn)(const void *msg, size_t len, uint64_t seq, void *arg),
                           void *arg)
{
  struct opened o = {-1, NULL, 0};
  int rc = open_dir(dir, false, &o);
  if (rc)
    return rc;
  unsigned char *addr = NULL;
  uint64_t size = 0;
  rc = map_file(o.dfd, FQ_DEAD_NAME, &addr, &size);
  struct dead_visit dv = {fn, arg, 0};
  if (rc == 0 && addr) {
    struct walk w = {0, 0, 0, 0, false};
    walk_records(addr, size, dead_one, &dv, &w);
    shoal__plat_unmap(addr, size);
  }
  close_dir(&o);
  if (rc == SHOAL_ENOENT)
    return 0;
  return rc ? rc : dv.n;
}
