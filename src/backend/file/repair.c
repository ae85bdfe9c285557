// SPDX-License-Identifier: MIT
// Checking and repairing a file queue offline, and reading its dead
// letters.  Repair keeps every record whose CRC-32C holds, in order, and
// numbers them again without gaps, so that the queue opens cleanly after.
// Interrupted anywhere, it is run again and ends as one uninterrupted run
// would: it changes nothing before its journal is durable, and finishes
// from the journal after (see "repair" below).
#include <signal.h>
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

/* Maps segment file `name` whole, read-only: check and dead_scan only read,
 * so a user who may only read the queue can run them. */
static int map_file(int dfd, const char *name, unsigned char **addr, uint64_t *size)
{
  int fd;
  int rc = shoal__plat_at_open(dfd, name, SHOAL__PLAT_AT_READ, 0, &fd, size);
  if (rc)
    return rc;
  if (*size < SHOAL__FQ_SEG_HDR) {
    shoal__plat_file_close(fd);
    *addr = NULL;
    return 0;
  }
  void *p = NULL;
  rc = shoal__plat_file_map_read(fd, *size, &p);
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
  /* Only repair (exclusive) writes: check and dead_scan need read access. */
  int rc = shoal__plat_dir_open(path, false, 0, exclusive, &o->dfd);
  if (rc)
    return rc;
  rc = exclusive ? shoal__plat_dir_lock(o->dfd, true, true) : 0;
  if (rc == SHOAL_EAGAIN)
    rc = SHOAL_EBUSY;
  if (rc == 0)
    rc = shoal__fq_read_meta(o->dfd, &o->meta, &o->meta_len);
  if (rc)
    shoal__plat_close_fd(o->dfd);
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
  /* Filled whatever the result: SHOAL_ECORRUPT from a damaged queue.meta
   * reports nothing examined (shoal-fileq prints the report either way). */
  if (rep)
    memset(rep, 0, sizeof *rep);
  struct opened o = {-1, NULL, 0};
  int rc = open_dir(dir, false, &o);
  if (rc)
    return rc;
  shoal_fileq_report r;
  memset(&r, 0, sizeof r);
  uint64_t min = 0, max = 0, count = 0;
  bool foreign;
  /* A repair that did not finish may leave two numberings: damage. */
  rc = shoal__fq_repair_pending(o.dfd);
  bool bad = rc == SHOAL_ECORRUPT;
  if (bad)
    rc = 0;
  if (rc == 0)
    rc = shoal__fq_list(o.dfd, &min, &max, &count, &foreign);
  bad |= count && count != max - min + 1;
  /* As open reads it: a blank last file is one a producer died creating,
   * and the segment before it may then be unsealed. */
  bool blank_top = rc == 0 && count && shoal__fq_segment_blank(o.dfd, max);
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
    /* Damage: a bad header (but for a blank last file), a region with
     * records after it, or a tail cut in a segment that is not the last
     * holding records. */
    bool last = s == max || (blank_top && s + 1 == max);
    bad |= (hrc != 0 && !(s == max && blank_top)) || w.damaged || (!last && (w.torn || !w.sealed));
  }
  if (rep)
    *rep = r;
  close_dir(&o);
  return rc ? rc : bad ? SHOAL_ECORRUPT : 0;
}

/* ---- repair ---------------------------------------------------------------------- */

/*
 * A repair works in two phases, so that one killed anywhere can be run
 * again (crash safety across processes and across a power loss):
 *
 *  1. Plan.  The originals are only read.  Each segment of the right size
 *     is written again, its intact records renumbered without gaps, to a new
 *     file "<16 hex digits>.seg.repair" (fsynced) numbered from the lowest
 *     original up; the checkpoint of queue.meta is mapped to the new numbers
 *     on the way.  Then the journal queue.repair (the new queue.meta, which
 *     segments are new, the report) is written new, fsynced and renamed into
 *     place, and the directory fsynced: the commit point.
 *  2. Switch, redone from the journal as often as it takes: queue.ctl goes,
 *     every "<hex>.seg" outside the new numbers goes, every "<hex>.seg.repair"
 *     still there is renamed over its "<hex>.seg", queue.meta is replaced by
 *     the journal's, the directory fsynced, and the journal removed.
 *
 * Cross-process invariant: without queue.repair the originals and
 * queue.meta are whole and in one numbering ("*.seg.repair" files are
 * leftovers of a plan that died: a repair removes them and plans again from
 * the originals).  With it, they may be in two numberings: open and check
 * refuse the queue (shoal__fq_repair_pending) and only a repair, which holds
 * the directory's lock exclusively, touches it.  A plan is never made from
 * files a switch has begun to change, so the checkpoint is mapped once,
 * from the numbers it was taken in.
 */

/* Test hook: with SHOAL_FILEQ_REPAIR_STOP_AFTER=n in the environment, a
 * repair SIGKILLs itself right after its n-th file operation (each unlink,
 * create, write, fsync, rename, directory fsync), so that a test can stop it
 * at each one in turn (test/backend/test_fileq_repair.c).  Unset or 0: never. */
#define REPAIR_STOP_ENV "SHOAL_FILEQ_REPAIR_STOP_AFTER"

struct repair {
  int dfd;
  unsigned mode;   /* permission bits of the new segments */
  long stop_after; /* the test hook's n; 0: none */
  long ops;        /* file operations made so far */
};

/* Counts a file operation that just returned rc, and returns rc; stops the
 * process here when the test hook says so. */
static int op_done(struct repair *rp, int rc)
{
  if (rp->stop_after && ++rp->ops == rp->stop_after)
    raise(SIGKILL);
  return rc;
}

/* Creates file `name` (which must not exist) holding buf[0..len), fsynced.
 * Removes it again on failure. */
static int create_file(struct repair *rp, const char *name, const void *buf, size_t len,
                       unsigned mode)
{
  int fd;
  int rc = op_done(rp, shoal__plat_at_open(rp->dfd, name, SHOAL__PLAT_AT_EXCL, mode, &fd, NULL));
  if (rc)
    return rc;
  rc = op_done(rp, shoal__plat_fd_write(fd, buf, len, 0));
  if (rc == 0)
    rc = op_done(rp, shoal__plat_fd_sync(fd));
  shoal__plat_file_close(fd);
  if (rc)
    (void)shoal__plat_at_unlink(rp->dfd, name);
  return rc;
}

/* Replaces file `name` whole and durably, as queue.meta always is: written
 * as `tmp`, fsynced, renamed over it, the directory fsynced. */
static int replace_file(struct repair *rp, const char *tmp, const char *name, const void *buf,
                        size_t len)
{
  (void)op_done(rp, shoal__plat_at_unlink(rp->dfd, tmp));
  int rc = create_file(rp, tmp, buf, len, rp->mode);
  if (rc == 0)
    rc = op_done(rp, shoal__plat_at_rename(rp->dfd, tmp, name));
  if (rc == 0)
    rc = op_done(rp, shoal__plat_dir_sync(rp->dfd));
  return rc;
}

/* dir_scan visitor: removes a "<hex>.seg.repair" left by a plan that died. */
static int remove_new_segment(const char *name, void *arg)
{
  struct repair *rp = arg;
  uint64_t seg;
  if (!shoal__fq_seg_number(name, FQ_SEG_REPAIR_SUFFIX, &seg))
    return 0;
  int rc = op_done(rp, shoal__plat_at_unlink(rp->dfd, name));
  return rc == SHOAL_ENOENT ? 0 : rc;
}

/* Whether the journal of a repair may be in place (its commit point
 * passed): only a definite "no such file" says it is not. */
static bool journal_in_place(int dfd)
{
  int fd;
  int rc = shoal__plat_at_open(dfd, FQ_REPAIR_NAME, SHOAL__PLAT_AT_READ, 0, &fd, NULL);
  if (rc == 0)
    shoal__plat_file_close(fd);
  return rc != SHOAL_ENOENT;
}

struct renumber {
  uint64_t next;       /* seq the next kept record gets */
  uint64_t old_cursor; /* the checkpoint's cursor, in the originals' numbering */
  uint64_t new_cursor; /* ... and in the new one (UINT64_MAX: not yet seen) */
  const struct shoal__fq_meta_inflight *infl; /* the checkpoint's deliveries, in seq order */
  uint64_t *infl_new; /* each one's new seq (UINT64_MAX: its record is not found yet) */
  uint32_t n_infl;
  unsigned char *out; /* the new segment's image */
  uint64_t out_off;
};

/* walk_records visitor: gives the record the next seq, maps the checkpoint's
 * cursor and deliveries that name it, and appends it to the new segment. */
static int renumber_record(const struct shoal__fq_view *v, void *arg)
{
  struct renumber *rn = arg;
  uint64_t seq = rn->next++;
  if (v->seq >= rn->old_cursor && rn->new_cursor == UINT64_MAX)
    rn->new_cursor = seq;
  size_t lo = 0, hi = rn->n_infl;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (rn->infl[mid].seq < v->seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < rn->n_infl && rn->infl[lo].seq == v->seq && rn->infl_new[lo] == UINT64_MAX)
    rn->infl_new[lo] = seq;
  struct shoal__fq_rec h = {0, v->len, seq, SHOAL__FQ_REC_MSG, 0};
  h.crc = shoal__fq_rec_crc(&h, v->payload);
  h.commit = SHOAL__FQ_COMMIT;
  memcpy(rn->out + rn->out_off, &h, sizeof h);
  memcpy(rn->out + rn->out_off + sizeof h, v->payload, v->len);
  rn->out_off += v->size;
  return 0;
}

/* Writes "<seg>.seg.repair": the intact records of the original image
 * in[0..size), renumbered, then an end record unless it is the last. */
static int write_new_segment(struct repair *rp, const unsigned char *in, uint64_t size,
                             uint64_t seg, bool last, struct renumber *rn, struct walk *w)
{
  unsigned char *out = calloc(1, size);
  if (!out)
    return SHOAL_ENOMEM;
  struct shoal__fq_seg_header h;
  shoal__fq_seg_header_init(&h, seg, rn->next, size);
  memcpy(out, &h, sizeof h);
  rn->out = out;
  rn->out_off = SHOAL__FQ_SEG_HDR;
  walk_records(in, size, renumber_record, rn, w);
  /* A writer always leaves room for the end record; only a forged file
   * fills a segment to its last byte (and stays unsealed: open refuses it). */
  if (!last && rn->out_off + SHOAL__FQ_REC_HDR <= size) {
    struct shoal__fq_rec e = {0, 0, rn->next, SHOAL__FQ_REC_END, 0};
    e.crc = shoal__fq_rec_crc(&e, NULL);
    e.commit = SHOAL__FQ_COMMIT;
    memcpy(out + rn->out_off, &e, sizeof e);
  }
  rn->out = NULL;
  char name[FQ_SEG_NAME_LEN + sizeof FQ_SEG_REPAIR_SUFFIX];
  fq_seg_name(name, seg);
  memcpy(name + 16, FQ_SEG_REPAIR_SUFFIX, sizeof FQ_SEG_REPAIR_SUFFIX);
  int rc = create_file(rp, name, out, size, rp->mode);
  free(out);
  return rc;
}

/* Phase 1: writes the new segments beside the originals, then the journal
 * (the commit point).  Returns its image in *journal (malloc'd). */
static int plan(struct repair *rp, const unsigned char *meta_image, unsigned char **journal,
                size_t *journal_len)
{
  struct shoal__fq_meta meta;
  memcpy(&meta, meta_image, sizeof meta);
  int rc = shoal__plat_dir_scan(rp->dfd, remove_new_segment, rp);
  uint64_t min = 0, max = 0, count = 0;
  bool foreign;
  if (rc == 0)
    rc = shoal__fq_list(rp->dfd, &min, &max, &count, &foreign);
  struct shoal__fq_repair j;
  memset(&j, 0, sizeof j);
  struct renumber rn = {
      .old_cursor = meta.cursor_seq,
      .new_cursor = UINT64_MAX,
      .infl = (const struct shoal__fq_meta_inflight *)(meta_image + sizeof meta),
      .n_infl = meta.n_inflight,
  };
  rn.infl_new = malloc((meta.n_inflight ? meta.n_inflight : 1) * sizeof *rn.infl_new);
  if (rc == 0 && !rn.infl_new)
    rc = SHOAL_ENOMEM;
  for (uint32_t i = 0; rc == 0 && i < meta.n_inflight; i++)
    rn.infl_new[i] = UINT64_MAX;
  /* Where numbering starts: the first segment's header, when it holds. */
  for (uint64_t s = min; rc == 0 && count && s <= max; s++) {
    char name[FQ_SEG_NAME_LEN];
    fq_seg_name(name, s);
    unsigned char *addr;
    uint64_t size;
    if (map_file(rp->dfd, name, &addr, &size) != 0 || !addr)
      continue;
    struct shoal__fq_seg_header h;
    memcpy(&h, addr, sizeof h);
    bool valid = shoal__fq_seg_header_check(&h, s, size) == 0;
    shoal__plat_unmap(addr, size);
    if (valid) {
      rn.next = h.first_seq;
      break;
    }
  }
  /* Every original of the right size becomes one new segment, numbered
   * from min up without gaps; the others (missing, cut short, resized)
   * are dropped with their records. */
  j.first_segment = min;
  for (uint64_t s = min; rc == 0 && count && s <= max; s++) {
    char name[FQ_SEG_NAME_LEN];
    fq_seg_name(name, s);
    unsigned char *addr;
    uint64_t size;
    rc = map_file(rp->dfd, name, &addr, &size);
    if (rc == SHOAL_ENOENT) {
      rc = 0;
      continue;
    }
    if (rc)
      break;
    if (!addr || size != meta.segment_size) {
      if (addr)
        shoal__plat_unmap(addr, size);
      continue;
    }
    struct walk w = {0, 0, 0, 0, false};
    rc = write_new_segment(rp, addr, size, min + j.segments, s == max, &rn, &w);
    shoal__plat_unmap(addr, size);
    j.segments++;
    j.examined++;
    j.records += w.records;
    j.damaged += w.damaged;
    j.torn += w.torn;
    j.bytes_lost += w.bytes_lost;
  }
  /* The checkpoint in the new numbers: deliveries whose record is lost are
   * dropped with it. */
  struct shoal__fq_meta_inflight *infl = NULL;
  if (rc == 0) {
    infl = malloc((meta.n_inflight ? meta.n_inflight : 1) * sizeof *infl);
    if (!infl)
      rc = SHOAL_ENOMEM;
  }
  unsigned char *meta_new = NULL;
  if (rc == 0) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < rn.n_infl; i++)
      if (rn.infl_new[i] != UINT64_MAX)
        infl[n++] = (struct shoal__fq_meta_inflight){rn.infl_new[i], rn.infl[i].deliveries, 0};
    meta.n_inflight = n;
    meta.cursor_seq = rn.new_cursor == UINT64_MAX ? rn.next : rn.new_cursor;
    meta.generation++;
    size_t meta_len;
    meta_new = shoal__fq_meta_encode(&meta, infl, &meta_len);
    *journal_len = sizeof j + meta_len + 4;
    *journal = meta_new ? malloc(*journal_len) : NULL;
    if (!*journal) {
      rc = SHOAL_ENOMEM;
    } else {
      memcpy(j.magic, SHOAL__FQ_REPAIR_MAGIC, 8);
      j.version = SHOAL__FQ_VERSION;
      j.size = (uint32_t)*journal_len;
      j.meta_size = (uint32_t)meta_len;
      memcpy(*journal, &j, sizeof j);
      memcpy(*journal + sizeof j, meta_new, meta_len);
      uint32_t crc = shoal__crc32c(0, *journal, *journal_len - 4);
      memcpy(*journal + *journal_len - 4, &crc, 4);
      rc = replace_file(rp, FQ_REPAIR_TMP, FQ_REPAIR_NAME, *journal, *journal_len);
      if (rc) {
        free(*journal);
        *journal = NULL;
      }
    }
  }
  /* A plan that failed before its commit point takes its new segments
   * away; after it (the journal renamed into place, its directory fsync
   * failed) they are the journal's and the next run installs them. */
  if (rc && !journal_in_place(rp->dfd))
    (void)shoal__plat_dir_scan(rp->dfd, remove_new_segment, rp);
  free(meta_new);
  free(infl);
  free(rn.infl_new);
  return rc;
}

/* Reads and checks the journal of a repair that reached its commit point.
 * SHOAL_ENOENT when there is none. */
static int read_journal(int dfd, unsigned char **out, size_t *len)
{
  return shoal__fq_read_checked(dfd, FQ_REPAIR_NAME, sizeof(struct shoal__fq_repair) + 4,
                                (1u << 26) - 1, shoal__fq_repair_check, out, len);
}

struct new_range {
  struct repair *rp;
  uint64_t first, count; /* the new segments' numbers */
};

/* dir_scan visitor: removes a "<hex>.seg" outside the new numbers (one no
 * new segment replaces). */
static int remove_old_segment(const char *name, void *arg)
{
  struct new_range *nr = arg;
  uint64_t seg;
  if (!shoal__fq_seg_number(name, ".seg", &seg) ||
      (seg >= nr->first && seg - nr->first < nr->count))
    return 0;
  int rc = op_done(nr->rp, shoal__plat_at_unlink(nr->rp->dfd, name));
  return rc == SHOAL_ENOENT ? 0 : rc;
}

/* Phase 2: puts the new segments and queue.meta of the journal in place and
 * removes the journal.  Every step may already have been done by a run that
 * died: each is done again or skipped. */
static int switch_over(struct repair *rp, const unsigned char *journal)
{
  struct shoal__fq_repair j;
  memcpy(&j, journal, sizeof j);
  /* Its positions are in the old numbering: the next open rebuilds it. */
  int rc = op_done(rp, shoal__plat_at_unlink(rp->dfd, FQ_CTL_NAME));
  if (rc == SHOAL_ENOENT)
    rc = 0;
  struct new_range nr = {rp, j.first_segment, j.segments};
  if (rc == 0)
    rc = shoal__plat_dir_scan(rp->dfd, remove_old_segment, &nr);
  for (uint64_t i = 0; rc == 0 && i < j.segments; i++) {
    char name[FQ_SEG_NAME_LEN], tmp[FQ_SEG_NAME_LEN + sizeof FQ_SEG_REPAIR_SUFFIX];
    fq_seg_name(name, j.first_segment + i);
    memcpy(tmp, name, 16);
    memcpy(tmp + 16, FQ_SEG_REPAIR_SUFFIX, sizeof FQ_SEG_REPAIR_SUFFIX);
    rc = op_done(rp, shoal__plat_at_rename(rp->dfd, tmp, name));
    if (rc == SHOAL_ENOENT)
      rc = 0; /* renamed by an earlier run */
  }
  /* replace_file fsyncs the directory: the renames above are durable
   * before the journal goes. */
  if (rc == 0)
    rc = replace_file(rp, FQ_META_TMP, FQ_META_NAME, journal + sizeof j, j.meta_size);
  if (rc == 0)
    rc = op_done(rp, shoal__plat_at_unlink(rp->dfd, FQ_REPAIR_NAME));
  if (rc == 0)
    rc = op_done(rp, shoal__plat_dir_sync(rp->dfd));
  return rc;
}

int shoal_fileq_repair(const char *dir, shoal_fileq_report *rep)
{
  if (rep)
    memset(rep, 0, sizeof *rep); /* as check: filled whatever the result */
  struct opened o = {-1, NULL, 0};
  int rc = open_dir(dir, true, &o);
  if (rc)
    return rc;
  struct shoal__fq_meta meta;
  memcpy(&meta, o.meta, sizeof meta);
  const char *stop = getenv(REPAIR_STOP_ENV);
  struct repair rp = {o.dfd, meta.mode ? meta.mode : 0600, stop ? strtol(stop, NULL, 10) : 0, 0};
  unsigned char *journal = NULL;
  size_t journal_len = 0;
  rc = read_journal(o.dfd, &journal, &journal_len);
  if (rc == SHOAL_ENOENT)
    rc = plan(&rp, o.meta, &journal, &journal_len);
  if (rc == 0)
    rc = switch_over(&rp, journal);
  if (rc == 0 && rep) {
    struct shoal__fq_repair j;
    memcpy(&j, journal, sizeof j);
    rep->segments = j.examined;
    rep->records = j.records;
    rep->damaged = j.damaged;
    rep->torn = j.torn;
    rep->bytes_lost = j.bytes_lost;
  }
  free(journal);
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
