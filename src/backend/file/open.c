// SPDX-License-Identifier: MIT
// Opening and closing a file queue: options, creation, the control file, and
// the rebuild of the control file from queue.meta and the segments after a
// reboot (recovery: torn tails are cut off and counted, damage in the middle
// is refused).
#include <stdlib.h>
#include <string.h>

#include "backend/file/fileq.h"

/* ---- options -------------------------------------------------------------- */

struct fq_config {
  uint64_t segment_size;
  uint64_t maxsize;
  uint32_t flags;
  uint32_t dead_letter;
  uint32_t ring_slots;
  unsigned durability;
  uint32_t batch_records;
  uint32_t batch_ms;
  unsigned mode;
  bool create, excl;
};

static int check_options(const shoal_queue_opts *q, const shoal_fileq_opts *f,
                         const shoal_open_opts *o, struct fq_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  if (q) {
    for (size_t i = 0; i < sizeof q->reserved / sizeof q->reserved[0]; i++)
      if (q->reserved[i])
        return SHOAL_EINVAL;
    if (q->kind > SHOAL_QUEUE_PRIORITY || (q->flags & ~(unsigned)SHOAL_QUEUE_JOINABLE) ||
        q->maxsize > SHOAL_QUEUE_MAX_ITEMS || q->capacity > SHOAL_QUEUE_MAX_CAPACITY)
      return SHOAL_EINVAL;
    if (q->kind != SHOAL_QUEUE_FIFO)
      return SHOAL_ENOTSUP;
    cfg->maxsize = q->maxsize;
    cfg->flags = q->flags;
  }
  cfg->segment_size = FQ_DEFAULT_SEGMENT;
  cfg->dead_letter = FQ_DEFAULT_DEAD;
  cfg->ring_slots = FQ_DEFAULT_INFLIGHT;
  cfg->batch_records = FQ_DEFAULT_BATCH_RECORDS;
  cfg->batch_ms = FQ_DEFAULT_BATCH_MS;
  if (f) {
    for (size_t i = 0; i < sizeof f->reserved / sizeof f->reserved[0]; i++)
      if (f->reserved[i])
        return SHOAL_EINVAL;
    if (f->durability > SHOAL_FILEQ_ALWAYS || f->max_inflight > FQ_MAX_INFLIGHT)
      return SHOAL_EINVAL;
    if (f->segment_size && (f->segment_size % 4096 || f->segment_size < FQ_MIN_SEGMENT ||
                            f->segment_size > FQ_MAX_SEGMENT))
      return SHOAL_EINVAL;
    cfg->durability = f->durability;
    if (f->segment_size)
      cfg->segment_size = f->segment_size;
    if (f->dead_letter)
      cfg->dead_letter = f->dead_letter;
    if (f->max_inflight) {
      uint32_t s = 1;
      while (s < f->max_inflight)
        s <<= 1;
      cfg->ring_slots = s;
    }
    if (f->batch_records)
      cfg->batch_records = f->batch_records;
    if (f->batch_ms)
      cfg->batch_ms = f->batch_ms;
  }
  cfg->mode = 0600;
  if (o) {
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
      if (o->reserved[i])
        return SHOAL_EINVAL;
    if (o->flags & ~(unsigned)(SHOAL_OPEN_CREATE | SHOAL_OPEN_EXCL) || o->mode > 07777)
      return SHOAL_EINVAL;
    cfg->create = o->flags & SHOAL_OPEN_CREATE;
    cfg->excl = (o->flags & SHOAL_OPEN_EXCL) && cfg->create;
    if (o->mode)
      cfg->mode = o->mode;
  }
  return 0;
}

/* ---- segments --------------------------------------------------------------- */

int shoal__fq_map_seg(struct shoal__fileq *f, struct fq_map *m, uint64_t seg)
{
  if (m->addr && m->seg == seg)
    return 0;
  shoal__fq_unmap(f, m);
  char name[FQ_SEG_NAME_LEN];
  fq_seg_name(name, seg);
  int fd;
  uint64_t size;
  int rc = shoal__plat_at_open(f->dfd, name, SHOAL__PLAT_AT_WRITE, 0, &fd, &size);
  if (rc)
    return rc == SHOAL_ENOENT ? SHOAL_ECORRUPT : rc;
  void *addr;
  if (size != f->c->segment_size) {
    shoal__plat_file_close(fd);
    return SHOAL_ECORRUPT;
  }
  rc = shoal__plat_file_map(fd, size, &addr);
  if (rc) {
    shoal__plat_file_close(fd);
    return rc;
  }
  m->seg = seg;
  m->addr = addr;
  m->fd = fd;
  return 0;
}

void shoal__fq_unmap(struct shoal__fileq *f, struct fq_map *m)
{
  if (!m->addr)
    return;
  shoal__plat_unmap(m->addr, f->c->segment_size);
  shoal__plat_file_close(m->fd);
  m->addr = NULL;
  m->fd = -1;
}

static int new_segment(int dfd, uint64_t seg, uint64_t first_seq, uint64_t size, unsigned mode,
                       bool sync)
{
  char name[FQ_SEG_NAME_LEN];
  fq_seg_name(name, seg);
  /* A file left by a producer that died creating it is made again. */
  (void)shoal__plat_at_unlink(dfd, name);
  int fd;
  int rc = shoal__plat_at_open(dfd, name, SHOAL__PLAT_AT_EXCL, mode, &fd, NULL);
  if (rc)
    return rc;
  struct shoal__fq_seg_header h;
  shoal__fq_seg_header_init(&h, seg, first_seq, size);
  rc = shoal__plat_fd_allocate(fd, size);
  if (rc == 0)
    rc = shoal__plat_fd_write(fd, &h, sizeof h, 0);
  if (rc == 0 && sync)
    rc = shoal__plat_fd_sync(fd);
  shoal__plat_file_close(fd);
  if (rc == 0 && sync)
    rc = shoal__plat_dir_sync(dfd);
  if (rc)
    (void)shoal__plat_at_unlink(dfd, name);
  return rc;
}

int shoal__fq_new_segment(struct shoal__fileq *f, uint64_t seg, uint64_t first_seq, bool sync)
{
  return new_segment(f->dfd, seg, first_seq, f->c->segment_size, f->c->file_mode, sync);
}

/* ---- queue.meta ---------------------------------------------------------------- */

/* Writes queue.meta whole: a new file, fsynced, renamed over the old one,
 * and the directory fsynced (with sync). */
static int write_meta(int dfd, const struct shoal__fq_meta *head,
                      const struct shoal__fq_meta_inflight *infl, bool sync)
{
  size_t len;
  unsigned char *buf = shoal__fq_meta_encode(head, infl, &len);
  if (!buf)
    return SHOAL_ENOMEM;
  (void)shoal__plat_at_unlink(dfd, FQ_META_TMP);
  int fd;
  /* The queue's mode, as every file it makes (0600 for a meta without one). */
  unsigned mode = head->mode ? head->mode : 0600;
  int rc = shoal__plat_at_open(dfd, FQ_META_TMP, SHOAL__PLAT_AT_EXCL, mode, &fd, NULL);
  if (rc == 0) {
    rc = shoal__plat_fd_write(fd, buf, len, 0);
    if (rc == 0 && sync)
      rc = shoal__plat_fd_sync(fd);
    shoal__plat_file_close(fd);
    if (rc == 0)
      rc = shoal__plat_at_rename(dfd, FQ_META_TMP, FQ_META_NAME);
    if (rc == 0 && sync)
      rc = shoal__plat_dir_sync(dfd);
    if (rc)
      (void)shoal__plat_at_unlink(dfd, FQ_META_TMP);
  }
  free(buf);
  return rc;
}

static void meta_from_ctl(const struct fq_ctl *c, struct shoal__fq_meta *m)
{
  memset(m, 0, sizeof *m);
  memcpy(m->magic, SHOAL__FQ_META_MAGIC, 8);
  m->version = SHOAL__FQ_VERSION;
  m->segment_size = c->segment_size;
  m->maxsize = c->maxsize;
  m->flags = c->flags;
  m->dead_letter = c->dead_letter;
  m->max_inflight = c->ring_slots;
  m->mode = c->file_mode;
}

int shoal__fq_checkpoint(struct shoal__fileq *f, bool sync)
{
  /* get_lock is held: the cursor and the ring stand still. */
  struct fq_ctl *c = f->c;
  struct shoal__fq_meta m;
  meta_from_ctl(c, &m);
  m.cursor_seq = atomic_load(&c->r_seq);
  uint64_t n = 0, cap = c->ring_tail - c->ring_head;
  struct shoal__fq_meta_inflight *infl = calloc(cap ? cap : 1, sizeof *infl);
  if (!infl)
    return SHOAL_ENOMEM;
  for (uint64_t i = c->ring_head; i != c->ring_tail; i++) {
    const struct fq_slot *s = &f->ring[i & (c->ring_slots - 1)];
    if (s->state == SLOT_DONE)
      continue;
    infl[n].seq = s->seq;
    infl[n].deliveries = s->deliveries;
    n++;
  }
  m.n_inflight = (uint32_t)n;
  int rc = write_meta(f->dfd, &m, infl, sync);
  free(infl);
  return rc;
}

int shoal__fq_read_checked(int dfd, const char *name, uint64_t min, uint64_t max,
                           int (*check)(const void *buf, size_t len), unsigned char **out,
                           size_t *len)
{
  int fd;
  uint64_t size;
  int rc = shoal__plat_at_open(dfd, name, SHOAL__PLAT_AT_READ, 0, &fd, &size);
  if (rc)
    return rc;
  unsigned char *buf = NULL;
  if (size < min || size > max)
    rc = SHOAL_ECORRUPT;
  else if (!(buf = malloc(size)))
    rc = SHOAL_ENOMEM;
  else
    rc = shoal__plat_file_read(fd, 0, buf, size);
  shoal__plat_file_close(fd);
  if (rc == 0)
    rc = check(buf, size);
  if (rc) {
    free(buf);
    return rc;
  }
  *out = buf;
  *len = size;
  return 0;
}

int shoal__fq_read_meta(int dfd, unsigned char **out, size_t *len)
{
  uint64_t head = sizeof(struct shoal__fq_meta) + 4;
  return shoal__fq_read_checked(dfd, FQ_META_NAME, head, head + (uint64_t)FQ_MAX_INFLIGHT * 16,
                                shoal__fq_meta_check, out, len);
}

/* ---- the directory's contents ------------------------------------------------- */

struct dir_list {
  uint64_t min, max, count;
  bool foreign;
};

bool shoal__fq_seg_number(const char *name, const char *suffix, uint64_t *seg)
{
  uint64_t v = 0;
  for (int i = 0; i < 16; i++) {
    char ch = name[i];
    int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
    if (d < 0)
      return false;
    v = v << 4 | (uint64_t)d;
  }
  if (strcmp(name + 16, suffix) != 0)
    return false;
  *seg = v;
  return true;
}

static int list_one(const char *name, void *arg)
{
  struct dir_list *l = arg;
  uint64_t seg;
  if (shoal__fq_seg_number(name, ".seg", &seg)) {
    if (l->count == 0 || seg < l->min)
      l->min = seg;
    if (l->count == 0 || seg > l->max)
      l->max = seg;
    l->count++;
  } else if (strcmp(name, FQ_META_NAME) && strcmp(name, FQ_META_TMP) && strcmp(name, FQ_CTL_NAME) &&
             strcmp(name, FQ_DEAD_NAME) && strcmp(name, "queue.ctl.new")) {
    l->foreign = true;
  }
  return 0;
}

int shoal__fq_list(int dfd, uint64_t *min, uint64_t *max, uint64_t *count, bool *foreign)
{
  struct dir_list l = {0, 0, 0, false};
  int rc = shoal__plat_dir_scan(dfd, list_one, &l);
  *min = l.min;
  *max = l.max;
  *count = l.count;
  *foreign = l.foreign;
  return rc;
}

int shoal__fq_repair_pending(int dfd)
{
  int fd;
  int rc = shoal__plat_at_open(dfd, FQ_REPAIR_NAME, SHOAL__PLAT_AT_READ, 0, &fd, NULL);
  if (rc == SHOAL_ENOENT)
    return 0;
  if (rc == 0)
    shoal__plat_file_close(fd);
  return rc ? rc : SHOAL_ECORRUPT;
}

/* ---- the control file ----------------------------------------------------------- */

static size_t ctl_size(uint32_t slots, size_t *ring_offset)
{
  size_t page = shoal__plat_page_size();
  size_t off = (sizeof(struct fq_ctl) + 63) & ~(size_t)63;
  *ring_offset = off;
  return (off + (size_t)slots * sizeof(struct fq_slot) + page - 1) / page * page;
}

/* Maps queue.ctl and checks it against the options in meta and this boot.
 * Returns 0, or SHOAL_ECORRUPT when it must be rebuilt. */
static int map_ctl(int dfd, const struct shoal__fq_meta *meta, const char *boot,
                   struct fq_ctl **out, size_t *out_size)
{
  int fd;
  uint64_t size;
  int rc = shoal__plat_at_open(dfd, FQ_CTL_NAME, SHOAL__PLAT_AT_WRITE, 0, &fd, &size);
  if (rc)
    return rc == SHOAL_ENOENT ? SHOAL_ECORRUPT : rc;
  size_t ring_off;
  size_t want = ctl_size(meta->max_inflight, &ring_off);
  if (size != want) {
    shoal__plat_file_close(fd);
    return SHOAL_ECORRUPT;
  }
  void *addr;
  rc = shoal__plat_file_map(fd, want, &addr);
  shoal__plat_file_close(fd);
  if (rc)
    return rc;
  struct fq_ctl *c = addr;
  if (c->rh.magic != SHOAL__REGION_MAGIC || c->rh.version != SHOAL__LAYOUT_VERSION ||
      c->rh.type != SHOAL__TYPE_FILEQ || c->rh.size != want ||
      strncmp(c->boot_id, boot, sizeof c->boot_id) != 0 ||
      c->segment_size != meta->segment_size || c->ring_slots != meta->max_inflight ||
      c->ring_offset != ring_off || c->flags != meta->flags || c->maxsize != meta->maxsize ||
      c->dead_letter != meta->dead_letter) {
    shoal__plat_unmap(addr, want);
    return SHOAL_ECORRUPT;
  }
  *out = c;
  *out_size = want;
  return 0;
}

/* What the rebuild learns from the segments. */
struct rebuild {
  int dfd;
  const struct shoal__fq_meta *meta;
  const struct shoal__fq_meta_inflight *infl;
  struct fq_ctl *c;
  struct fq_slot *ring;
  uint64_t seg;       /* segment being scanned */
  bool cursor_found;
};

static const struct shoal__fq_meta_inflight *find_inflight(const struct rebuild *rb, uint64_t seq)
{
  /* The checkpoint lists them in seq order. */
  size_t lo = 0, hi = rb->meta->n_inflight;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (rb->infl[mid].seq < seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < rb->meta->n_inflight && rb->infl[lo].seq == seq ? &rb->infl[lo] : NULL;
}

static int rebuild_record(const struct shoal__fq_view *v, uint64_t off, void *arg)
{
  struct rebuild *rb = arg;
  struct fq_ctl *c = rb->c;
  if (v->seq >= rb->meta->cursor_seq) {
    if (!rb->cursor_found) {
      rb->cursor_found = true;
      c->r_seg = rb->seg;
      c->r_off = off;
      atomic_store(&c->r_seq, v->seq);
    }
    return 0;
  }
  const struct shoal__fq_meta_inflight *in = find_inflight(rb, v->seq);
  if (!in || c->ring_tail - c->ring_head >= c->ring_slots)
    return 0;
  /* Delivered before the crash and never acknowledged: deliver again. */
  struct fq_slot *s = &rb->ring[c->ring_tail & (c->ring_slots - 1)];
  s->seq = v->seq;
  s->seg = rb->seg;
  s->off = off;
  s->len = v->len;
  s->deliveries = in->deliveries;
  s->state = SLOT_PENDING;
  s->owner = 0;
  s->tid = 0;
  c->ring_tail++;
  atomic_fetch_add(&c->outstanding, 1);
  atomic_fetch_add(&c->pending, 1);
  return 0;
}

bool shoal__fq_segment_blank(int dfd, uint64_t seg)
{
  char name[FQ_SEG_NAME_LEN];
  fq_seg_name(name, seg);
  int fd;
  uint64_t size;
  if (shoal__plat_at_open(dfd, name, SHOAL__PLAT_AT_READ, 0, &fd, &size) != 0)
    return false;
  void *addr = NULL;
  bool blank = size <= SHOAL__FQ_SEG_HDR;
  if (!blank && shoal__plat_file_map_read(fd, size, &addr) == 0) {
    const unsigned char *p = addr;
    uint64_t off = SHOAL__FQ_SEG_HDR;
    while (off < size && p[off] == 0)
      off++;
    blank = off == size;
    shoal__plat_unmap(addr, size);
  }
  shoal__plat_file_close(fd);
  return blank;
}

/* Scans segment seg (expected to start with seq *next_seq, or any when
 * first) and moves rb's state past it.  *sealed tells whether it ends with
 * an end record.  `last`: the last segment holding records (a torn tail is
 * cut); SHOAL_EEOF when it is a blank file with a bad header. */
static int rebuild_segment(struct rebuild *rb, uint64_t seg, bool first, bool last,
                           uint64_t *next_seq, uint64_t *tail_off, bool *sealed)
{
  struct fq_ctl *c = rb->c;
  char name[FQ_SEG_NAME_LEN];
  fq_seg_name(name, seg);
  int fd;
  uint64_t size;
  int rc = shoal__plat_at_open(rb->dfd, name, SHOAL__PLAT_AT_WRITE, 0, &fd, &size);
  if (rc)
    return rc == SHOAL_ENOENT ? SHOAL_ECORRUPT : rc;
  struct shoal__fq_seg_header h;
  if (size < sizeof h || shoal__plat_file_read(fd, 0, &h, sizeof h) != 0) {
    shoal__plat_file_close(fd);
    return last && shoal__fq_segment_blank(rb->dfd, seg) ? SHOAL_EEOF : SHOAL_ECORRUPT;
  }
  rc = shoal__fq_seg_header_check(&h, seg, size);
  if (rc == 0 && size != rb->meta->segment_size)
    rc = SHOAL_ECORRUPT;
  if (rc == 0 && !first && h.first_seq != *next_seq)
    rc = SHOAL_ECORRUPT;
  if (rc) {
    shoal__plat_file_close(fd);
    /* A last segment whose header never reached the disk is one a producer
     * was creating: made again below.  One holding records is damage
     * (repair salvages them). */
    return rc == SHOAL_ECORRUPT && last && shoal__fq_segment_blank(rb->dfd, seg) ? SHOAL_EEOF : rc;
  }
  void *addr;
  rc = shoal__plat_file_map(fd, size, &addr);
  if (rc) {
    shoal__plat_file_close(fd);
    return rc;
  }
  rb->seg = seg;
  struct shoal__fq_scan sc;
  shoal__fq_scan_records(addr, size, h.first_seq, rebuild_record, rb, &sc);
  *sealed = sc.end == SHOAL__FQ_END_SEALED;
  if (sc.end == SHOAL__FQ_END_DAMAGED || (!last && !*sealed)) {
    rc = SHOAL_ECORRUPT;
  } else if (sc.end == SHOAL__FQ_END_TORN) {
    /* Cut the torn tail: zeros from the last good record on. */
    memset((char *)addr + sc.bad_off, 0, size - sc.bad_off);
    rc = shoal__plat_fd_sync(fd);
    atomic_fetch_add(&c->torn_records, 1);
    atomic_fetch_add(&c->torn_bytes, sc.bad_bytes);
  }
  shoal__plat_unmap(addr, size);
  shoal__plat_file_close(fd);
  *next_seq = sc.next_seq;
  *tail_off = sc.next_off;
  return rc;
}

static int rebuild_ctl(int dfd, const struct shoal__fq_meta *meta,
                       const struct shoal__fq_meta_inflight *infl, const char *boot,
                       struct fq_ctl **out, size_t *out_size)
{
  unsigned mode = meta->mode ? meta->mode : 0600;
  size_t ring_off;
  size_t size = ctl_size(meta->max_inflight, &ring_off);
  (void)shoal__plat_at_unlink(dfd, FQ_CTL_NAME);
  int fd;
  int rc = shoal__plat_at_open(dfd, FQ_CTL_NAME, SHOAL__PLAT_AT_EXCL, mode, &fd, NULL);
  if (rc)
    return rc;
  rc = shoal__plat_fd_allocate(fd, size);
  void *addr = NULL;
  if (rc == 0)
    rc = shoal__plat_file_map(fd, size, &addr);
  shoal__plat_file_close(fd);
  if (rc)
    return rc;
  struct fq_ctl *c = addr;
  c->segment_size = meta->segment_size;
  c->maxsize = meta->maxsize;
  c->ring_offset = ring_off;
  c->flags = meta->flags;
  c->dead_letter = meta->dead_letter;
  c->ring_slots = meta->max_inflight;
  c->file_mode = mode;
  memcpy(c->boot_id, boot, sizeof c->boot_id);
  atomic_store(&c->rebuilds, 1);

  uint64_t min, max, count;
  bool foreign;
  rc = shoal__fq_list(dfd, &min, &max, &count, &foreign);
  if (rc == 0 && count && count != max - min + 1)
    rc = SHOAL_ECORRUPT; /* a segment is missing in the middle */
  struct rebuild rb = {dfd, meta, infl, c, (struct fq_slot *)((char *)c + ring_off), 0, false};
  uint64_t next_seq = meta->cursor_seq, tail = SHOAL__FQ_SEG_HDR, seg = min;
  bool sealed = false, have = false;
  /* A blank last file may be one a producer died creating in a rollover,
   * before the end record of the segment before it reached the disk: that
   * segment is then the last that holds records, sealed or not. */
  bool blank_top = rc == 0 && count > 1 && shoal__fq_segment_blank(dfd, max);
  for (uint64_t s = min; rc == 0 && count && s <= max; s++) {
    uint64_t nseq = next_seq, ntail;
    bool nsealed;
    rc = rebuild_segment(&rb, s, s == min, s == max || (blank_top && s + 1 == max), &nseq, &ntail,
                         &nsealed);
    if (rc == 0 && blank_top && s + 1 == max && !nsealed) {
      /* Not sealed: writing goes on in s; the blank file after it goes
       * (the next rollover creates it again). */
      char name[FQ_SEG_NAME_LEN];
      fq_seg_name(name, max);
      rc = shoal__plat_at_unlink(dfd, name);
      max = s;
    }
    if (rc == SHOAL_EEOF) {
      /* The last file is a blank segment a producer died creating (the
       * one before it is sealed, or it would have been read as the
       * last): made again. */
      rc = 0;
      break;
    }
    if (rc)
      break;
    have = true;
    seg = s;
    next_seq = nseq;
    tail = ntail;
    sealed = nsealed;
  }
  if (rc == 0 && (!have || sealed)) {
    /* No segment, or the last one sealed: start the next one. */
    uint64_t ns = have ? seg + 1 : count ? min : 0;
    rc = new_segment(dfd, ns, next_seq, meta->segment_size, mode, true);
    if (rc == 0 && !have)
      min = ns;
    seg = ns;
    tail = SHOAL__FQ_SEG_HDR;
  }
  if (rc) {
    shoal__plat_unmap(addr, size);
    (void)shoal__plat_at_unlink(dfd, FQ_CTL_NAME);
    return rc;
  }
  atomic_store(&c->w_seg, seg);
  c->w_off = tail;
  atomic_store(&c->next_seq, next_seq);
  atomic_store(&c->synced_seq, next_seq);
  atomic_store(&c->first_seg, count ? min : seg);
  /* Whether the segments found reached the disk is not known (the control
   * file may be gone without a reboot): the first sync fsyncs them all. */
  atomic_store(&c->synced_seg, atomic_load(&c->first_seg));
  if (!rb.cursor_found) {
    c->r_seg = seg;
    c->r_off = tail;
    atomic_store(&c->r_seq, next_seq);
  }
  /* Published last: a control file without it is rebuilt again. */
  c->rh.version = SHOAL__LAYOUT_VERSION;
  c->rh.type = SHOAL__TYPE_FILEQ;
  c->rh.size = size;
  c->rh.payload_size = size - SHOAL__REGION_HEADER_SIZE;
  atomic_store((_Atomic uint64_t *)&c->rh.magic, SHOAL__REGION_MAGIC);
  *out = c;
  *out_size = size;
  return 0;
}

/* ---- open and close -------------------------------------------------------------- */

static int create_queue(int dfd, const struct fq_config *cfg)
{
  uint64_t min, max, count;
  bool foreign;
  int rc = shoal__fq_list(dfd, &min, &max, &count, &foreign);
  if (rc)
    return rc;
  /* Only an empty directory (or the leftovers of a creation that died
   * before writing queue.meta) becomes a queue. */
  if (foreign)
    return SHOAL_ECORRUPT;
  for (uint64_t s = min; count && s <= max; s++) {
    char name[FQ_SEG_NAME_LEN];
    fq_seg_name(name, s);
    (void)shoal__plat_at_unlink(dfd, name);
  }
  (void)shoal__plat_at_unlink(dfd, FQ_CTL_NAME);
  (void)shoal__plat_at_unlink(dfd, FQ_DEAD_NAME);
  rc = new_segment(dfd, 0, 0, cfg->segment_size, cfg->mode, true);
  if (rc)
    return rc;
  struct shoal__fq_meta m;
  memset(&m, 0, sizeof m);
  memcpy(m.magic, SHOAL__FQ_META_MAGIC, 8);
  m.version = SHOAL__FQ_VERSION;
  m.segment_size = cfg->segment_size;
  m.maxsize = cfg->maxsize;
  m.flags = cfg->flags;
  m.dead_letter = cfg->dead_letter;
  m.max_inflight = cfg->ring_slots;
  m.mode = cfg->mode;
  return write_meta(dfd, &m, NULL, true);
}

static const char *strip_url(const char *dir)
{
  return strncmp(dir, "file://", 7) == 0 ? dir + 7 : dir;
}

int shoal_fileq_open(shoal_queue **out, const char *dir, const shoal_queue_opts *qopts,
                     const shoal_fileq_opts *fopts, const shoal_open_opts *oopts)
{
  struct fq_config cfg;
  if (!out || !dir)
    return SHOAL_EINVAL;
  int rc = check_options(qopts, fopts, oopts, &cfg);
  if (rc)
    return rc;
  const char *path = strip_url(dir);
  if (!*path)
    return SHOAL_EINVAL;
  char boot[40] = {0};
  rc = shoal__plat_boot_id(boot);
  if (rc)
    return rc;
  unsigned dir_mode = cfg.mode | ((cfg.mode & 0444) >> 2);
  int dfd;
  rc = shoal__plat_dir_open(path, cfg.create, dir_mode, true, &dfd);
  if (rc)
    return rc;
  /* Alone (exclusive) we may create or rebuild; otherwise the others made
   * the control file and we wait (shared) for whoever is doing that now. */
  rc = shoal__plat_dir_lock(dfd, true, true);
  bool alone = rc == 0;
  if (rc == SHOAL_EAGAIN)
    rc = shoal__plat_dir_lock(dfd, false, false);
  unsigned char *meta_buf = NULL;
  size_t meta_len = 0;
  struct fq_ctl *c = NULL;
  size_t csize = 0;
  /* Under the lock: a repair running now holds it exclusively. */
  if (rc == 0)
    rc = shoal__fq_repair_pending(dfd);
  if (rc)
    goto fail;
  rc = shoal__fq_read_meta(dfd, &meta_buf, &meta_len);
  if (rc == SHOAL_ENOENT && cfg.create && alone) {
    rc = create_queue(dfd, &cfg);
    if (rc == 0)
      rc = shoal__fq_read_meta(dfd, &meta_buf, &meta_len);
  } else if (rc == 0 && cfg.excl) {
    rc = SHOAL_EEXIST;
  } else if (rc == SHOAL_ENOENT && !alone) {
    rc = SHOAL_ECORRUPT;
  }
  if (rc)
    goto fail;
  const struct shoal__fq_meta *meta = (const struct shoal__fq_meta *)meta_buf;
  rc = map_ctl(dfd, meta, boot, &c, &csize);
  if (rc == SHOAL_ECORRUPT && alone)
    rc = rebuild_ctl(dfd, meta, (const struct shoal__fq_meta_inflight *)(meta + 1), boot, &c,
                     &csize);
  if (rc)
    goto fail;
  if (alone) {
    /* Nobody has the queue open: a shutdown ends with its last user, and
     * no thread can be waiting. */
    atomic_store(&c->state, FQ_OPEN);
    atomic_store(&c->put_waiters, 0);
    atomic_store(&c->get_waiters, 0);
    atomic_store(&c->sync_waiters, 0);
    atomic_store(&c->join_waiters, 0);
    atomic_store(&c->ring_waiters, 0);
    rc = shoal__plat_dir_lock(dfd, false, false);
    if (rc)
      goto fail;
  }
  free(meta_buf);
  meta_buf = NULL;
  shoal_queue *q = calloc(1, sizeof *q);
  struct shoal__fileq *f = calloc(1, sizeof *f);
  if (!q || !f) {
    free(q);
    free(f);
    rc = SHOAL_ENOMEM;
    goto fail;
  }
  f->dfd = dfd;
  f->c = c;
  f->ctl_size = csize;
  f->ring = (struct fq_slot *)((char *)c + c->ring_offset);
  f->durability = cfg.durability;
  f->batch_records = cfg.batch_records;
  f->batch_ns = (uint64_t)cfg.batch_ms * 1000000u;
  f->w.fd = f->r.fd = -1;
  q->backend = &shoal__fileq_backend;
  q->be = f;
  *out = q;
  return 0;
fail:
  free(meta_buf);
  if (c)
    shoal__plat_unmap(c, csize);
  shoal__plat_close_fd(dfd);
  return rc;
}

void shoal__fileq_close(shoal_queue *q)
{
  struct shoal__fileq *f = fq_of(q);
  /* Leave a fresh checkpoint: after a reboot, consumers go on from here. */
  if (shoal__fq_lock_get(f) == 0) {
    (void)shoal__fq_checkpoint(f, f->durability != SHOAL_FILEQ_NONE);
    shoal__lockword_release(&f->c->get_lock, 0);
  }
  shoal__fq_unmap(f, &f->w);
  shoal__fq_unmap(f, &f->r);
  shoal__plat_unmap(f->c, f->ctl_size);
  shoal__plat_close_fd(f->dfd);
  free(f);
  free(q);
}
