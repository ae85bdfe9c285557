// SPDX-License-Identifier: MIT
// The growable shared heap under the dict and list: files that grow in place,
// a sequence lock for readers, a robust lock for writers, size-class blocks,
// and the repair a writer's death calls for.  See heap.h for the invariants.
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "platform/platform.h"
#include "shared/heap.h"

#define ARENA 512
_Static_assert(SHOAL__REGION_HEADER_SIZE + sizeof(struct shoal__heap_ctl) <= ARENA,
               "control block fits before the arena");

#define DEFAULT_INITIAL (64u * 1024)
#define DEFAULT_MAX ((uint64_t)1 << 30)
#define MIN_MAX (64u * 1024)
#define MAX_MAX ((uint64_t)1 << 46)
#define GROW_STEP (64u * 1024)

/* Readers spin this many pauses on a writer before sleeping, and sleep in
 * slices of this long, looking at the writer's liveness after each. */
#define READ_SPINS 2000
#define READ_SLICE_NS 2000000u

static uint64_t block_size(uint32_t cls)
{
  return (uint64_t)SHOAL__HEAP_MIN_BLOCK << cls;
}

static uint64_t round_up(uint64_t n, uint64_t to)
{
  return (n + to - 1) / to * to;
}

/* ---- atomic copies of shared bytes ---- */

void shoal__heap_copy_in(void *dst, const void *src, size_t n)
{
  char *d = dst;
  const char *s = src;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    shoal__st64(d + i, w);
  }
  if (i < n) {
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    shoal__st64(d + i, w);
  }
}

void shoal__heap_copy_out(void *dst, const void *src, size_t n)
{
  char *d = dst;
  const char *s = src;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w = shoal__ld64(s + i);
    memcpy(d + i, &w, 8);
  }
  if (i < n) {
    uint64_t w = shoal__ld64(s + i);
    memcpy(d + i, &w, n - i);
  }
}

bool shoal__heap_equal(const void *a, const void *b, size_t n)
{
  const char *x = a, *y = b;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w = shoal__ld64(x + i), v;
    memcpy(&v, y + i, 8);
    if (w != v)
      return false;
  }
  if (i < n) {
    uint64_t w = shoal__ld64(x + i);
    return memcmp(&w, y + i, n - i) == 0;
  }
  return true;
}

/* ---- blocks ---- */

bool shoal__heap_block_ok(const struct shoal__heap *h, uint64_t off, uint64_t need, uint64_t size)
{
  if (off < ARENA || off % SHOAL__HEAP_MIN_BLOCK || off >= size ||
      need > size - off - sizeof(struct shoal__heap_blk))
    return false;
  uint32_t cls = shoal__ld32(shoal__heap_at(h, off));
  return cls < SHOAL__HEAP_CLASSES && block_size(cls) >= need + sizeof(struct shoal__heap_blk) &&
         block_size(cls) <= size - off;
}

uint64_t shoal__heap_payload_cap(const struct shoal__heap *h, uint64_t off)
{
  return block_size(shoal__ld32(shoal__heap_at(h, off))) - sizeof(struct shoal__heap_blk);
}

/* Checks that the file still holds the `size` bytes the heap says it has,
 * once for each size this process sees (one fstat whenever the heap grew):
 * a file truncated behind shoal's back is SHOAL_ECORRUPT, not a SIGBUS at
 * the first touch of a page it lost.  Any thread, any time. */
static int size_check(struct shoal__heap *h, uint64_t size)
{
  if (size == __atomic_load_n(&h->checked, __ATOMIC_RELAXED))
    return 0;
  uint64_t fsize;
  int rc = shoal__plat_file_size(h->fd, &fsize);
  if (rc)
    return rc;
  if (size < ARENA || size > h->map_size || fsize < size)
    return SHOAL_ECORRUPT;
  __atomic_store_n(&h->checked, size, __ATOMIC_RELAXED);
  return 0;
}

/* Makes the file `need` bytes or more (doubling, up to max_size). */
static int grow(struct shoal__heap *h, uint64_t need)
{
  struct shoal__heap_ctl *c = h->ctl;
  uint64_t size = c->size, fsize;
  if (need > c->max_size)
    return SHOAL_ENOMEM;
  uint64_t want = round_up(need, GROW_STEP);
  if (want < size * 2)
    want = size * 2;
  if (want > c->max_size)
    want = c->max_size;
  /* A file cut short behind our back would be extended with zeros where
   * blocks were: refuse instead. */
  int rc = shoal__plat_file_size(h->fd, &fsize);
  if (rc)
    return rc;
  if (fsize < size)
    return SHOAL_ECORRUPT;
  if ((rc = shoal__plat_file_reserve(h->fd, want)) != 0)
    return rc;
  struct shoal__region_header *hdr = (struct shoal__region_header *)h->base;
  __atomic_store_n(&hdr->size, want, __ATOMIC_RELAXED);
  __atomic_store_n(&hdr->payload_size, want - SHOAL__REGION_HEADER_SIZE, __ATOMIC_RELAXED);
  /* Release: a reader that sees the new size may touch the new bytes. */
  __atomic_store_n(&c->size, want, __ATOMIC_RELEASE);
  __atomic_store_n(&h->checked, want, __ATOMIC_RELAXED);
  return 0;
}

int shoal__heap_alloc(struct shoal__heap *h, uint64_t payload, uint64_t *off)
{
  struct shoal__heap_ctl *c = h->ctl;
  uint64_t total = round_up(payload, 8) + sizeof(struct shoal__heap_blk);
  if (payload > c->max_size || total > c->max_size - c->arena)
    return SHOAL_E2BIG;
  uint32_t cls = 0;
  while (cls < SHOAL__HEAP_CLASSES && block_size(cls) < total)
    cls++;
  /* Blocks are powers of two laid end to end from the arena: one larger than
   * the whole arena can never be placed, however much is freed.  That is the
   * caller's entry being too big, not the heap being full. */
  if (cls == SHOAL__HEAP_CLASSES || block_size(cls) > c->max_size - c->arena)
    return SHOAL_E2BIG;
  uint64_t head = c->free_head[cls];
  if (head) {
    shoal__st64(&c->free_head[cls], shoal__ld64(shoal__heap_at(h, SHOAL__HEAP_PAYLOAD(head))));
    *off = head;
    return 0;
  }
  uint64_t at = c->brk, bs = block_size(cls);
  if (bs > c->max_size - at)
    return SHOAL_ENOMEM;
  if (at + bs > c->size) {
    int rc = grow(h, at + bs);
    if (rc)
      return rc;
  }
  struct shoal__heap_blk *b = shoal__heap_at(h, at);
  shoal__st32(&b->cls, cls);
  shoal__st32(&b->mark, 0);
  /* Release: the block's header is written before brk covers it, so a
   * repair walking the blocks never meets an unwritten one. */
  __atomic_store_n(&c->brk, at + bs, __ATOMIC_RELEASE);
  *off = at;
  return 0;
}

void shoal__heap_free(struct shoal__heap *h, uint64_t off)
{
  struct shoal__heap_ctl *c = h->ctl;
  uint32_t cls = shoal__ld32(shoal__heap_at(h, off));
  shoal__st64(shoal__heap_at(h, SHOAL__HEAP_PAYLOAD(off)), c->free_head[cls]);
  shoal__st64(&c->free_head[cls], off);
}

void shoal__heap_reset(struct shoal__heap *h)
{
  struct shoal__heap_ctl *c = h->ctl;
  for (int i = 0; i < SHOAL__HEAP_CLASSES; i++)
    shoal__st64(&c->free_head[i], 0);
  __atomic_store_n(&c->brk, c->arena, __ATOMIC_RELEASE);
  shoal__st64(&c->root, 0);
  shoal__st64(&c->count, 0);
  shoal__st64(&c->gen, c->gen + 1);
}

bool shoal__heap_mark(struct shoal__heap *h, uint64_t off)
{
  struct shoal__heap_ctl *c = h->ctl;
  if (!shoal__heap_block_ok(h, off, 0, c->size) || off >= c->brk)
    return false;
  shoal__st32(&((struct shoal__heap_blk *)shoal__heap_at(h, off))->mark, (uint32_t)c->epoch);
  return true;
}

/* ---- repair after a writer died ---- */

/* Rebuilds everything but the object: the object's mark function keeps what
 * its root reaches, every other block goes back to the free lists.  Runs
 * with the lock held; readers wait (seq is odd) until it is done. */
static void repair(struct shoal__heap *h)
{
  struct shoal__heap_ctl *c = h->ctl;
  uint32_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);
  if (!(s & 1)) {
    atomic_store_explicit(&c->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
  }
  uint64_t brk = c->brk;
  if (brk < c->arena || brk > c->size || (brk - c->arena) % SHOAL__HEAP_MIN_BLOCK)
    brk = c->arena; /* cannot happen by construction; start over if it did */
  shoal__st64(&c->brk, brk);
  shoal__st64(&c->epoch, c->epoch + 1);
  if ((uint32_t)c->epoch == 0)
    shoal__st64(&c->epoch, c->epoch + 1); /* 0 is the mark of a new block */
  shoal__st64(&c->count, h->mark(h));
  for (int i = 0; i < SHOAL__HEAP_CLASSES; i++)
    shoal__st64(&c->free_head[i], 0);
  for (uint64_t off = c->arena; off < c->brk;) {
    struct shoal__heap_blk *b = shoal__heap_at(h, off);
    uint32_t cls = shoal__ld32(&b->cls);
    if (cls >= SHOAL__HEAP_CLASSES || block_size(cls) > c->brk - off) {
      shoal__st64(&c->brk, off); /* a torn tail: drop it */
      break;
    }
    if (shoal__ld32(&b->mark) != (uint32_t)c->epoch)
      shoal__heap_free(h, off);
    off += block_size(cls);
  }
  s = atomic_load_explicit(&c->seq, memory_order_relaxed);
  atomic_store_explicit(&c->seq, s + 1, memory_order_release);
}

/* ---- writers ---- */

int shoal__heap_write_begin(struct shoal__heap *h)
{
  struct shoal__heap_ctl *c = h->ctl;
  int rc = shoal__lockword_acquire(&c->lock, shoal__plat_stamp(), SHOAL_FOREVER);
  if (rc != 0 && rc != SHOAL_EOWNERDEAD)
    return rc;
  /* The file first: a repair walks every block.  An odd seq under a lock we
   * hold is a change a dead writer left open (also one whose repair an
   * earlier caller could not make), whoever the lock says died. */
  int crc = size_check(h, __atomic_load_n(&c->size, __ATOMIC_ACQUIRE));
  if (crc == 0 &&
      (rc == SHOAL_EOWNERDEAD || (atomic_load_explicit(&c->seq, memory_order_relaxed) & 1)))
    repair(h);
  if (rc == SHOAL_EOWNERDEAD)
    rc = shoal__lockword_consistent(&c->lock);
  if (crc || rc) {
    shoal__lockword_release(&c->lock, 0);
    return crc ? crc : rc;
  }
  uint32_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);
  /* Odd: readers now retry.  The fence orders this store before every store
   * of the change (pairs with the acquire fence in read_valid). */
  atomic_store_explicit(&c->seq, s + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  return 0;
}

void shoal__heap_write_end(struct shoal__heap *h)
{
  struct shoal__heap_ctl *c = h->ctl;
  uint32_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);
  /* Sequentially consistent store, then load of rwait: a reader that counted
   * itself in before its last look at seq is woken (it does the mirror). */
  atomic_store_explicit(&c->seq, s + 1, memory_order_seq_cst);
  if (atomic_load_explicit(&c->rwait, memory_order_seq_cst))
    shoal__plat_wake(&c->seq, INT_MAX);
  shoal__lockword_release(&c->lock, 0);
}

/* ---- readers ---- */

/* A writer has been inside for a while: sleep a slice, and if it is still
 * inside, see whether it died (then repair on its behalf).  Returns 0 (look
 * again) or SHOAL_ECORRUPT (the file cannot hold the heap: no repair). */
static int wait_for_writer(struct shoal__heap *h, uint32_t s)
{
  struct shoal__heap_ctl *c = h->ctl;
  atomic_fetch_add_explicit(&c->rwait, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&c->seq, memory_order_seq_cst) == s)
    shoal__plat_wait(&c->seq, s, shoal__plat_now() + READ_SLICE_NS);
  atomic_fetch_sub_explicit(&c->rwait, 1, memory_order_relaxed);
  if (atomic_load_explicit(&c->seq, memory_order_relaxed) != s)
    return 0;
  int rc = shoal__lockword_acquire(&c->lock, shoal__plat_stamp(), SHOAL_NOWAIT);
  if (rc != 0 && rc != SHOAL_EOWNERDEAD)
    return 0; /* a live writer holds it: keep waiting */
  int crc = 0;
  if (rc == SHOAL_EOWNERDEAD || (atomic_load_explicit(&c->seq, memory_order_relaxed) & 1)) {
    crc = size_check(h, __atomic_load_n(&c->size, __ATOMIC_ACQUIRE));
    if (crc == 0)
      repair(h);
  }
  if (rc == SHOAL_EOWNERDEAD)
    shoal__lockword_consistent(&c->lock);
  shoal__lockword_release(&c->lock, 0);
  return crc;
}

int shoal__heap_read_begin(struct shoal__heap *h, uint32_t *seq, uint64_t *size)
{
  struct shoal__heap_ctl *c = h->ctl;
  for (int spins = 0;; spins++) {
    uint32_t s = atomic_load_explicit(&c->seq, memory_order_acquire);
    if (!(s & 1)) {
      *seq = s;
      *size = __atomic_load_n(&c->size, __ATOMIC_ACQUIRE);
      return size_check(h, *size);
    }
    if (spins < READ_SPINS) {
      shoal__plat_cpu_relax();
    } else {
      int rc = wait_for_writer(h, s);
      if (rc)
        return rc;
    }
  }
}

bool shoal__heap_read_valid(struct shoal__heap *h, uint32_t seq)
{
  /* Acquire fence: every load of the snapshot happens before the second
   * look at seq (pairs with the release fence in write_begin). */
  atomic_thread_fence(memory_order_acquire);
  return atomic_load_explicit(&h->ctl->seq, memory_order_relaxed) == seq;
}

/* ---- making and opening ---- */

static int opts_check(const shoal_container_opts *o, uint64_t *initial, uint64_t *max)
{
  uint64_t page = shoal__plat_page_size();
  *initial = DEFAULT_INITIAL;
  *max = DEFAULT_MAX;
  if (o) {
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
      if (o->reserved[i])
        return SHOAL_EINVAL;
    if (o->max_size)
      *max = o->max_size;
    if (o->initial_size)
      *initial = o->initial_size;
  }
  if (*max < MIN_MAX || *max > MAX_MAX)
    return SHOAL_EINVAL;
  *max = round_up(*max, page);
  if (*initial > *max)
    return SHOAL_EINVAL;
  *initial = round_up(*initial < ARENA + page ? ARENA + page : *initial, page);
  if (*initial > *max)
    *initial = *max;
  return 0;
}

static int create_new(struct shoal__heap *h, uint32_t type, const char *name, unsigned mode,
                      uint64_t initial, uint64_t max)
{
  int fd, rc = shoal__plat_file_new(mode, &fd);
  if (rc)
    return rc;
  void *base;
  if ((rc = shoal__plat_file_reserve(fd, initial)) != 0 ||
      (rc = shoal__plat_file_map(fd, (size_t)max, &base)) != 0) {
    shoal__plat_file_close(fd);
    return rc;
  }
  h->base = base;
  h->map_size = (size_t)max;
  h->fd = fd;
  h->ctl = (struct shoal__heap_ctl *)(h->base + SHOAL__REGION_HEADER_SIZE);
  struct shoal__heap_ctl *c = h->ctl;
  c->max_size = max;
  c->arena = ARENA;
  c->size = initial;
  c->brk = ARENA;
  h->checked = initial;
  /* Nobody else can see the heap yet: init runs without the lock. */
  if ((rc = h->init(h)) != 0)
    goto fail;
  struct shoal__region_header *hdr = (struct shoal__region_header *)h->base;
  hdr->version = SHOAL__LAYOUT_VERSION;
  hdr->type = type;
  hdr->size = initial;
  hdr->payload_size = initial - SHOAL__REGION_HEADER_SIZE;
  hdr->creator_pid = (uint32_t)getpid();
  __atomic_store_n(&hdr->magic, SHOAL__REGION_MAGIC, __ATOMIC_RELEASE);
  if (name && (rc = shoal__plat_file_link(fd, name)) != 0)
    goto fail;
  return 0;
fail:
  shoal__heap_close(h);
  return rc;
}

static int open_existing(struct shoal__heap *h, uint32_t type, const char *name)
{
  int fd;
  uint64_t fsize;
  struct {
    struct shoal__region_header hdr;
    struct shoal__heap_ctl ctl;
  } head;
  int rc = shoal__plat_file_open(name, &fd, &fsize);
  if (rc)
    return rc;
  if (fsize < ARENA || shoal__plat_file_read(fd, 0, &head, sizeof head) != 0) {
    rc = SHOAL_ECORRUPT;
  } else if (head.hdr.magic != SHOAL__REGION_MAGIC) {
    rc = SHOAL_ECORRUPT;
  } else if (head.hdr.version != SHOAL__LAYOUT_VERSION) {
    rc = SHOAL_EVERSION;
  } else if (head.hdr.type != type) {
    rc = SHOAL_ETYPE;
  } else if (head.ctl.arena != ARENA || head.ctl.max_size < fsize || head.ctl.max_size > MAX_MAX ||
             head.ctl.max_size % shoal__plat_page_size()) {
    rc = SHOAL_ECORRUPT;
  }
  void *base;
  if (rc == 0)
    rc = shoal__plat_file_map(fd, (size_t)head.ctl.max_size, &base);
  if (rc) {
    shoal__plat_file_close(fd);
    return rc;
  }
  h->base = base;
  h->map_size = (size_t)head.ctl.max_size;
  h->fd = fd;
  h->ctl = (struct shoal__heap_ctl *)(h->base + SHOAL__REGION_HEADER_SIZE);
  /* The growing part of the control block, from the mapping and in this
   * order: brk <= size always, size only grows, and the file is reserved
   * before size says so; so brk, then size, then the file's size, never
   * contradict each other in a sound heap, however it grows meanwhile. */
  struct shoal__heap_ctl *c = h->ctl;
  uint64_t brk = __atomic_load_n(&c->brk, __ATOMIC_ACQUIRE);
  uint64_t size = __atomic_load_n(&c->size, __ATOMIC_ACQUIRE);
  rc = shoal__plat_file_size(fd, &fsize);
  if (rc == 0 && (size < ARENA || size > head.ctl.max_size || brk < ARENA || brk > size ||
                  (brk - ARENA) % SHOAL__HEAP_MIN_BLOCK || fsize < size))
    rc = SHOAL_ECORRUPT; /* truncated (or damaged): its blocks are not all there */
  if (rc) {
    shoal__heap_close(h);
    return rc;
  }
  h->checked = size;
  return 0;
}

int shoal__heap_make(struct shoal__heap *h, uint32_t type, const char *name,
                     const shoal_container_opts *opts, const shoal_open_opts *oopts,
                     shoal__heap_init_fn init, shoal__heap_mark_fn mark)
{
  uint64_t initial, max;
  memset(h, 0, sizeof *h);
  h->fd = -1;
  h->init = init;
  h->mark = mark;
  int rc = opts_check(opts, &initial, &max);
  if (rc)
    return rc;
  if (!name)
    return create_new(h, type, NULL, 0600, initial, max);

  const char *n;
  if ((rc = shoal__name_check(name, &n)) != 0)
    return rc;
  unsigned flags = oopts ? oopts->flags : 0;
  unsigned mode = oopts && oopts->mode ? oopts->mode : 0600;
  if (flags & ~(unsigned)(SHOAL_OPEN_CREATE | SHOAL_OPEN_EXCL) || mode & ~07777u)
    return SHOAL_EINVAL;
  if (oopts) {
    for (size_t i = 0; i < sizeof oopts->reserved / sizeof oopts->reserved[0]; i++)
      if (oopts->reserved[i])
        return SHOAL_EINVAL;
  }
  if (!(flags & SHOAL_OPEN_CREATE))
    return open_existing(h, type, n);
  /* Create, or open what another process created first; loop because that
   * object may be unlinked between our two attempts. */
  for (int attempt = 0; attempt < 100; attempt++) {
    if (!(flags & SHOAL_OPEN_EXCL)) {
      rc = open_existing(h, type, n);
      if (rc != SHOAL_ENOENT)
        return rc;
    }
    rc = create_new(h, type, n, mode, initial, max);
    if (rc != SHOAL_EEXIST || (flags & SHOAL_OPEN_EXCL))
      return rc;
  }
  return SHOAL_EBUSY;
}

void shoal__heap_close(struct shoal__heap *h)
{
  if (h->base)
    shoal__plat_unmap(h->base, h->map_size);
  shoal__plat_file_close(h->fd);
  h->base = NULL;
  h->fd = -1;
}
