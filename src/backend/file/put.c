// SPDX-License-Identifier: MIT
// The producer side of the file queue: appending records to the segment
// being written (through a shared mapping, no system call per message),
// rolling over to a new segment, the repair of a put that a dead producer
// left half done, and the three durability levels (group commit).
#include <limits.h>
#include <string.h>

#include "backend/file/fileq.h"

/* ---- the put lock and its recovery ------------------------------------------ */

/* A producer died holding put_lock: publish what it wrote whole (its put
 * never returned, so delivering it keeps at-least-once), finish a
 * rollover, and wipe the bytes it left half written. */
static void recover_put(struct shoal__fileq *f)
{
  struct fq_ctl *c = f->c;
  if (!c->put_len)
    return;
  uint64_t seg = atomic_load(&c->w_seg);
  if (shoal__fq_map_seg(f, &f->w, seg) != 0)
    return; /* the segment is gone: nothing to repair in it */
  uint64_t off = c->put_start, seq = c->put_seq;
  uint64_t end = c->put_start + c->put_len;
  if (end > c->segment_size)
    end = c->segment_size;
  struct shoal__fq_view v;
  while (off < end && shoal__fq_decode(f->w.addr + off, c->segment_size - off, seq, &v) ==
                          SHOAL__FQ_DEC_OK) {
    if (v.type == SHOAL__FQ_REC_END) {
      /* It died between sealing the segment and moving on. */
      c->w_off = SHOAL__FQ_SEG_HDR;
      atomic_store(&c->next_seq, seq);
      atomic_store(&c->w_seg, seg + 1);
      c->put_len = 0;
      return;
    }
    off += v.size;
    seq++;
  }
  if (off < end)
    memset(f->w.addr + off, 0, end - off);
  c->w_off = off;
  uint64_t before = atomic_load(&c->next_seq);
  if (seq > before) {
    atomic_store(&c->puts, atomic_load(&c->puts) + (seq - before));
    atomic_store_explicit(&c->next_seq, seq, memory_order_release);
  }
  c->put_len = 0;
}

int shoal__fq_lock_put(struct shoal__fileq *f)
{
  return shoal__fq_take(f, &f->c->put_lock, recover_put);
}

static void unlock_put(struct shoal__fileq *f)
{
  shoal__lockword_release(&f->c->put_lock, 0);
}

/* ---- appending ------------------------------------------------------------------- */

static void write_rec(unsigned char *at, const void *payload, uint32_t len, uint64_t seq,
                      uint32_t type)
{
  struct shoal__fq_rec h = {0, len, seq, type, 0};
  h.crc = shoal__fq_rec_crc(&h, payload);
  if (len)
    memcpy(at + SHOAL__FQ_REC_HDR, payload, len);
  uint64_t pad = shoal__fq_rec_size(len) - SHOAL__FQ_REC_HDR - len;
  if (pad)
    memset(at + SHOAL__FQ_REC_HDR + len, 0, pad);
  memcpy(at, &h, sizeof h);
  /* Release: a record's commit word is set after all its bytes. */
  atomic_store_explicit((_Atomic uint32_t *)(void *)at, SHOAL__FQ_COMMIT, memory_order_release);
}

/* Makes records up to (off, seq) visible to consumers. */
static void publish(struct fq_ctl *c, uint64_t off, uint64_t seq)
{
  uint64_t before = atomic_load_explicit(&c->next_seq, memory_order_relaxed);
  c->w_off = off;
  atomic_store_explicit(&c->puts, atomic_load_explicit(&c->puts, memory_order_relaxed) +
                                      (seq - before),
                        memory_order_relaxed);
  /* Sequentially consistent: pairs with the getters' waiter count, and
   * releases the records. */
  atomic_exchange(&c->next_seq, seq);
  c->put_len = 0;
}

/* Records [from, to) were covered by an fsync that failed: see lost_from1
 * in fileq.h.  The range only grows. */
static void mark_lost(struct fq_ctl *c, uint64_t from, uint64_t to)
{
  uint64_t cur = atomic_load(&c->lost_to);
  while (cur < to && !atomic_compare_exchange_weak(&c->lost_to, &cur, to))
    ;
  uint64_t want = from + 1;
  cur = atomic_load(&c->lost_from1);
  while ((cur == 0 || want < cur) && !atomic_compare_exchange_weak(&c->lost_from1, &cur, want))
    ;
}

/* Whether any record in [first, upto) was covered by an fsync that failed. */
static bool any_lost(struct fq_ctl *c, uint64_t first, uint64_t upto)
{
  uint64_t from1 = atomic_load(&c->lost_from1);
  return from1 && first < atomic_load(&c->lost_to) && upto > from1 - 1;
}

/* fsyncs segment seg by name; one consumed and deleted meanwhile needs
 * nothing. */
static int sync_segment(struct shoal__fileq *f, uint64_t seg)
{
  char name[FQ_SEG_NAME_LEN];
  fq_seg_name(name, seg);
  int fd;
  int rc = shoal__plat_at_open(f->dfd, name, SHOAL__PLAT_AT_WRITE, 0, &fd, NULL);
  if (rc == SHOAL_ENOENT)
    return 0;
  if (rc)
    return rc;
  rc = shoal__plat_fd_sync(fd);
  shoal__plat_file_close(fd);
  return rc;
}

/* fsyncs the sealed segments from synced_seg up to (not including) upto,
 * which `none` handles sealed without a sync, then raises synced_seg to
 * upto.  Every segment below w_seg is sealed, so a sync that begins after
 * reading w_seg covers them as they stay.  Any number of processes may run
 * this at once. */
static int sync_sealed(struct shoal__fileq *f, uint64_t upto)
{
  struct fq_ctl *c = f->c;
  /* Segments below first_seg were consumed and deleted: nothing to sync. */
  uint64_t from = atomic_load(&c->synced_seg), first = atomic_load(&c->first_seg);
  for (uint64_t s = from > first ? from : first; s < upto; s++) {
    int rc = sync_segment(f, s);
    if (rc)
      return rc;
  }
  uint64_t cur = atomic_load(&c->synced_seg);
  while (cur < upto && !atomic_compare_exchange_weak(&c->synced_seg, &cur, upto))
    ;
  return 0;
}

/* Seals the segment being written with an end record and moves to a new
 * one, whose first record will carry `seq`.  put_lock is held and
 * everything written so far is published. */
static int rollover(struct shoal__fileq *f, uint64_t seq)
{
  struct fq_ctl *c = f->c;
  uint64_t seg = atomic_load(&c->w_seg);
  /* The new file is complete (and durable) before the end record points
   * readers to it; without room for it nothing changes. */
  int rc = shoal__fq_new_segment(f, seg + 1, seq, true);
  if (rc)
    return rc;
  c->put_start = c->w_off;
  c->put_seq = seq;
  c->put_len = SHOAL__FQ_REC_HDR;
  write_rec(f->w.addr + c->w_off, NULL, 0, seq, SHOAL__FQ_REC_END);
  /* A durable handle seals the segment on disk whole, and those below it
   * that `none` handles sealed: a sync of the segment being written then
   * covers every record before it (see sync_now).  A `none` handle leaves
   * that to the next sync. */
  if (f->durability != SHOAL_FILEQ_NONE) {
    rc = sync_sealed(f, seg);
    if (rc == 0)
      rc = shoal__plat_fd_sync(f->w.fd);
    if (rc) {
      mark_lost(c, atomic_load(&c->synced_seq), seq);
      /* Not sealed after all: the end record goes, the segment stays. */
      memset(f->w.addr + c->w_off, 0, SHOAL__FQ_REC_HDR);
      c->put_len = 0;
      return rc;
    }
  }
  c->w_off = SHOAL__FQ_SEG_HDR;
  atomic_store(&c->w_seg, seg + 1);
  if (f->durability != SHOAL_FILEQ_NONE) {
    uint64_t cur = atomic_load(&c->synced_seg);
    while (cur < seg + 1 && !atomic_compare_exchange_weak(&c->synced_seg, &cur, seg + 1))
      ;
  }
  c->put_len = 0;
  return shoal__fq_map_seg(f, &f->w, seg + 1);
}

/* ---- durability --------------------------------------------------------------------- */

/* fsyncs the sealed segments not yet on disk and the segment being
 * written, and raises synced_seq to what was published before.  Any number
 * of processes may run this at once (the kernel folds concurrent fsyncs of
 * a file into one journal commit). */
static int sync_now(struct shoal__fileq *f)
{
  struct fq_ctl *c = f->c;
  uint64_t target = atomic_load(&c->next_seq);
  uint64_t seg = atomic_load(&c->w_seg);
  /* Records below target lie in seg and below: the sealed segments first.
   * seg itself may be sealed, consumed and deleted while they are synced
   * (only segments below the cursor go): its records need nothing then. */
  uint64_t from = atomic_load(&c->synced_seq);
  int rc = sync_sealed(f, seg);
  if (rc == 0)
    rc = sync_segment(f, seg);
  if (rc) {
    mark_lost(c, from, target);
    /* Waiting puts look again: theirs may be among the lost. */
    atomic_fetch_add(&c->sync_seq, 1);
    if (atomic_load(&c->sync_waiters) > 0)
      shoal__plat_wake(&c->sync_seq, INT_MAX);
    return rc;
  }
  atomic_fetch_add(&c->syncs, 1);
  uint64_t cur = atomic_load(&c->synced_seq);
  while (cur < target && !atomic_compare_exchange_weak(&c->synced_seq, &cur, target))
    ;
  atomic_fetch_add(&c->sync_seq, 1);
  if (atomic_load(&c->sync_waiters) > 0)
    shoal__plat_wake(&c->sync_seq, INT_MAX);
  return 0;
}

/* Returns once every message below `upto` is on disk, unless f's level is
 * none.  Group commit, for batch and always alike: a put finding no sync
 * under way leads one (sync_lock) at once, covering every record published
 * so far; puts that come while it runs wait for it and then form the next
 * batch, led by one of them.  So a lone producer pays one fsync per put
 * (nobody would join a batch it waited for: waiting would only slow it
 * down) and N producers share each fsync about N ways.  With batch, a batch
 * also closes after batch_records records or batch_ms after its first
 * record, whichever comes first, even while the sync before it still runs:
 * then one of its puts syncs beside it without the lock (the kernel folds
 * concurrent fsyncs of one file).  [first, upto) are the put's own records:
 * SHOAL_EIO if an fsync that covered any of them failed, whoever made it. */
static int wait_durable(struct shoal__fileq *f, uint64_t first, uint64_t upto)
{
  struct fq_ctl *c = f->c;
  if (f->durability == SHOAL_FILEQ_NONE)
    return 0;
  if (atomic_load(&c->synced_seq) >= upto)
    return any_lost(c, first, upto) ? SHOAL_EIO : 0;
  uint64_t zero = 0;
  atomic_compare_exchange_strong(&c->batch_start, &zero, shoal__plat_now());
  for (;;) {
    if (atomic_load(&c->synced_seq) >= upto || any_lost(c, first, upto))
      return any_lost(c, first, upto) ? SHOAL_EIO : 0;
    int rc = shoal__lockword_acquire(&c->sync_lock, shoal__plat_stamp(), SHOAL_NOWAIT);
    if (rc == 0 || rc == SHOAL_EOWNERDEAD) {
      if (rc == SHOAL_EOWNERDEAD)
        shoal__lockword_consistent(&c->sync_lock); /* the state only moves up */
      rc = 0;
      if (atomic_load(&c->synced_seq) < upto) {
        atomic_store(&c->batch_start, 0); /* later records open the next batch */
        rc = sync_now(f);
      }
      shoal__lockword_release(&c->sync_lock, 0);
      if (rc)
        return rc;
      continue;
    }
    /* A sync is under way; it may have begun before our records. */
    uint64_t start = atomic_load(&c->batch_start), now = shoal__plat_now();
    uint64_t closes = start ? start + f->batch_ns : now;
    bool full = atomic_load(&c->next_seq) - atomic_load(&c->synced_seq) >= f->batch_records;
    if (f->durability == SHOAL_FILEQ_ALWAYS) {
      full = false; /* no bound: the next sync follows the one under way */
      closes = now + f->batch_ns;
    }
    if ((full || now >= closes) && start &&
        atomic_compare_exchange_strong(&c->batch_start, &start, 0)) {
      /* Our batch closed first: one of its puts (this one) syncs it. */
      if ((rc = sync_now(f)) != 0)
        return rc;
      continue;
    }
    atomic_fetch_add(&c->sync_waiters, 1);
    uint32_t seen = atomic_load(&c->sync_seq);
    if (atomic_load(&c->synced_seq) < upto) {
      /* Until our batch closes, or for one batch time when another put
       * syncs it; never longer, so that a sync that failed (and so woke
       * nobody) only delays the next one. */
      shoal__deadline d = {start && now < closes ? closes : now + f->batch_ns, false};
      shoal__deadline_wait(&c->sync_seq, seen, &d);
    }
    atomic_fetch_sub(&c->sync_waiters, 1);
  }
}

/* ---- put ------------------------------------------------------------------------------ */

struct space_wait {
  struct fq_ctl *c;
};

static uint64_t depth(struct fq_ctl *c)
{
  return atomic_load(&c->next_seq) - atomic_load(&c->r_seq) + atomic_load(&c->pending);
}

static bool space_ready(void *arg)
{
  struct fq_ctl *c = ((struct space_wait *)arg)->c;
  return atomic_load(&c->state) != FQ_OPEN || depth(c) < c->maxsize;
}

/* The largest payload a segment takes: its header, the record and the end
 * record that seals it. */
static uint64_t max_payload(const struct fq_ctl *c)
{
  return c->segment_size - SHOAL__FQ_SEG_HDR - 2 * SHOAL__FQ_REC_HDR;
}

int shoal__fq_put(shoal_queue *q, const struct iovec *msgs, size_t n, shoal_duration timeout)
{
  struct shoal__fileq *f = fq_of(q);
  struct fq_ctl *c = f->c;
  shoal__deadline d;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  if (msgs[0].iov_len > UINT32_MAX || msgs[0].iov_len > max_payload(c))
    return SHOAL_E2BIG;
  for (;;) {
    rc = shoal__fq_lock_put(f);
    if (rc)
      return rc;
    if (atomic_load(&c->state) != FQ_OPEN) {
      unlock_put(f);
      return SHOAL_ECLOSED;
    }
    if (!c->maxsize || depth(c) < c->maxsize)
      break;
    unlock_put(f);
    struct space_wait w = {c};
    rc = shoal__queue_sleep(&c->put_waiters, &c->space_seq, space_ready, &w, &d);
    if (rc)
      return rc;
  }
  /* Redeliveries may have raised the depth since the check: at least one. */
  uint64_t now_depth = depth(c);
  uint64_t room = !c->maxsize ? n : now_depth < c->maxsize ? c->maxsize - now_depth : 1;
  uint64_t first = atomic_load(&c->next_seq), seq = first, off = c->w_off;
  size_t k = 0;
  rc = shoal__fq_map_seg(f, &f->w, atomic_load(&c->w_seg));
  while (rc == 0 && k < n && k < room) {
    size_t len = msgs[k].iov_len;
    if (len > max_payload(c))
      break;
    uint64_t size = shoal__fq_rec_size(len);
    if (off + size + SHOAL__FQ_REC_HDR > c->segment_size) {
      publish(c, off, seq);
      rc = rollover(f, seq);
      if (rc)
        break;
      off = c->w_off;
    }
    if (off == c->w_off) {
      c->put_start = off;
      c->put_seq = seq;
    }
    c->put_len = off + size - c->put_start;
    write_rec(f->w.addr + off, msgs[k].iov_base, (uint32_t)len, seq, SHOAL__FQ_REC_MSG);
    off += size;
    seq++;
    k++;
  }
  publish(c, off, seq);
  unlock_put(f);
  if (k > 0)
    shoal__queue_signal(&c->get_waiters, &c->data_seq, (int)(k < INT_MAX ? k : INT_MAX));
  if (k == 0)
    return rc ? rc : SHOAL_E2BIG;
  rc = wait_durable(f, first, seq);
  return rc ? rc : (int)k;
}
