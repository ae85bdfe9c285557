// SPDX-License-Identifier: MIT
// The shared dict: an open-addressing hash table of byte-string keys in a
// shared heap (heap.h), read without locks, written one writer at a time.
//
// Layout (payloads of heap blocks; offsets from the file's start):
//   table: cap (a power of two), used (slots not empty: live + tombstones),
//          then cap slots.  A slot is 0 (empty), 1 (tombstone), or an entry's
//          offset / 8 in the low 43 bits with the top 21 bits of its hash.
//   entry: hash, klen (32 bits), vlen (32 bits), key (padded to 8), value.
// Changes become visible through one slot store, or, for a resize, one store
// of the heap's root; the entry or table they publish is complete before.
#include <stdlib.h>
#include <string.h>

#include "shared/heap.h"

struct shoal_dict {
  struct shoal__heap heap;
};

#define SLOT_EMPTY 0u
#define SLOT_TOMB 1u
#define SLOT_OFF_BITS 43
#define SLOT_OFF_MASK ((UINT64_C(1) << SLOT_OFF_BITS) - 1)
#define TABLE_MIN 8
#define TABLE_HDR 16 /* cap, used */
#define ENTRY_HDR 16 /* hash, klen, vlen */
#define MAX_ITEM UINT32_MAX

#define T_CAP(t) ((t) + 0)
#define T_USED(t) ((t) + 8)
#define T_SLOT(t, i) ((t) + TABLE_HDR + (uint64_t)(i)*8)

static uint64_t round8(uint64_t n)
{
  return (n + 7) & ~UINT64_C(7);
}

/* MurmurHash64A (Austin Appleby, public domain). */
static uint64_t hash_bytes(const void *key, size_t len)
{
  const uint64_t m = UINT64_C(0xc6a4a7935bd1e995);
  const int r = 47;
  uint64_t h = UINT64_C(0x5348414c4f414c21) ^ (len * m);
  const unsigned char *p = key;
  size_t n = len / 8;
  for (size_t i = 0; i < n; i++, p += 8) {
    uint64_t k;
    memcpy(&k, p, 8);
    k *= m;
    k ^= k >> r;
    k *= m;
    h ^= k;
    h *= m;
  }
  size_t rest = len & 7;
  if (rest) {
    uint64_t k = 0;
    memcpy(&k, p, rest);
    h ^= k;
    h *= m;
  }
  h ^= h >> r;
  h *= m;
  h ^= h >> r;
  return h;
}

static uint64_t slot_make(uint64_t hash, uint64_t entry)
{
  return (hash >> SLOT_OFF_BITS << SLOT_OFF_BITS) | (entry >> 3);
}

static bool slot_live(uint64_t slot)
{
  return slot > SLOT_TOMB;
}

static uint64_t slot_entry(uint64_t slot)
{
  return (slot & SLOT_OFF_MASK) << 3;
}

static bool slot_tag_is(uint64_t slot, uint64_t hash)
{
  return slot >> SLOT_OFF_BITS == hash >> SLOT_OFF_BITS;
}

/* Heap-relative views. */
static char *at(struct shoal_dict *d, uint64_t off)
{
  return shoal__heap_at(&d->heap, off);
}

#define P(off) SHOAL__HEAP_PAYLOAD(off)

/* ---- lookup (readers and writers) ---- */

enum { NOT_FOUND = 0, FOUND = 1, TORN = -1 };

struct probe {
  uint64_t table; /* payload offset of the table */
  uint64_t cap;
  uint64_t index;  /* slot of the key (FOUND), or of the first free slot */
  uint64_t entry;  /* the key's entry block (FOUND) */
  bool free_empty; /* the free slot is empty (not a tombstone) */
};

/* Checks and reads the root table against `size`. */
static int table_view(struct shoal_dict *d, uint64_t size, struct probe *p)
{
  uint64_t root = shoal__ld64(&d->heap.ctl->root);
  if (!shoal__heap_block_ok(&d->heap, root, TABLE_HDR, size))
    return TORN;
  p->table = P(root);
  p->cap = shoal__ld64(at(d, T_CAP(p->table)));
  if (p->cap < TABLE_MIN || (p->cap & (p->cap - 1)) || p->cap > (size >> 3) ||
      !shoal__heap_block_ok(&d->heap, root, TABLE_HDR + p->cap * 8, size))
    return TORN;
  return 0;
}

/* Finds key in the table; records the first free slot on its way. */
static int lookup(struct shoal_dict *d, uint64_t size, const void *key, size_t klen, uint64_t hash,
                  struct probe *p)
{
  if (table_view(d, size, p) != 0)
    return TORN;
  bool have_free = false;
  uint64_t mask = p->cap - 1;
  uint64_t i = hash & mask;
  for (uint64_t n = 0; n < p->cap; n++, i = (i + 1) & mask) {
    uint64_t slot = shoal__ld64(at(d, T_SLOT(p->table, i)));
    if (slot == SLOT_EMPTY) {
      if (!have_free) {
        p->index = i;
        p->free_empty = true;
      }
      return NOT_FOUND;
    }
    if (slot == SLOT_TOMB) {
      if (!have_free) {
        p->index = i;
        p->free_empty = false;
        have_free = true;
      }
      continue;
    }
    if (!slot_tag_is(slot, hash))
      continue;
    uint64_t e = slot_entry(slot);
    if (!shoal__heap_block_ok(&d->heap, e, ENTRY_HDR, size))
      return TORN;
    const char *ep = at(d, P(e));
    if (shoal__ld64(ep) != hash || shoal__ld32(ep + 8) != klen)
      continue;
    if (!shoal__heap_block_ok(&d->heap, e, ENTRY_HDR + round8(klen), size))
      return TORN;
    if (shoal__heap_equal(ep + ENTRY_HDR, key, klen)) {
      p->index = i;
      p->entry = e;
      return FOUND;
    }
  }
  return have_free ? NOT_FOUND : TORN; /* a table with no free slot is torn */
}

/* Copies an entry's value out, if buf holds it; returns 0 or SHOAL_EMSGSIZE
 * (with *vlen the length), or TORN. */
static int value_out(struct shoal_dict *d, uint64_t size, uint64_t e, size_t klen, void *buf,
                     size_t *vlen)
{
  const char *ep = at(d, P(e));
  uint32_t len = shoal__ld32(ep + 12);
  if (!shoal__heap_block_ok(&d->heap, e, ENTRY_HDR + round8(klen) + len, size))
    return TORN;
  size_t room = *vlen;
  *vlen = len;
  if (len > room)
    return SHOAL_EMSGSIZE;
  if (len)
    shoal__heap_copy_out(buf, ep + ENTRY_HDR + round8(klen), len);
  return 0;
}

/* ---- the heap's callbacks ---- */

static int new_table(struct shoal_dict *d, uint64_t cap, uint64_t *root)
{
  int rc = shoal__heap_alloc(&d->heap, TABLE_HDR + cap * 8, root);
  if (rc) /* a table that can never fit: the dict is full, whatever the entry */
    return rc == SHOAL_E2BIG ? SHOAL_ENOMEM : rc;
  uint64_t t = P(*root);
  shoal__st64(at(d, T_CAP(t)), cap);
  shoal__st64(at(d, T_USED(t)), 0);
  for (uint64_t i = 0; i < cap; i++)
    shoal__st64(at(d, T_SLOT(t, i)), SLOT_EMPTY);
  return 0;
}

static int dict_init(struct shoal__heap *h)
{
  uint64_t root;
  int rc = new_table((struct shoal_dict *)h, TABLE_MIN, &root);
  if (rc == 0)
    shoal__st64(&h->ctl->root, root);
  return rc;
}

/* Repair: keep the table and the entries its slots reach; a slot that does
 * not reach a sound entry becomes a tombstone. */
static uint64_t dict_mark(struct shoal__heap *h)
{
  struct shoal_dict *d = (struct shoal_dict *)h;
  struct probe p;
  uint64_t size = h->ctl->size;
  if (table_view(d, size, &p) != 0 || !shoal__heap_mark(h, h->ctl->root)) {
    shoal__heap_reset(h);
    dict_init(h); /* the arena is empty: a table always fits */
    return 0;
  }
  uint64_t live = 0, used = 0;
  for (uint64_t i = 0; i < p.cap; i++) {
    uint64_t slot = shoal__ld64(at(d, T_SLOT(p.table, i)));
    if (slot == SLOT_EMPTY)
      continue;
    used++;
    if (slot == SLOT_TOMB)
      continue;
    uint64_t e = slot_entry(slot);
    if (shoal__heap_block_ok(h, e, ENTRY_HDR, size) && shoal__heap_mark(h, e)) {
      live++;
    } else {
      shoal__st64(at(d, T_SLOT(p.table, i)), SLOT_TOMB);
    }
  }
  shoal__st64(at(d, T_USED(p.table)), used);
  return live;
}

/* ---- making ---- */

static int dict_make(shoal_dict **out, const char *name, const shoal_container_opts *opts,
                     const shoal_open_opts *oopts)
{
  struct shoal_dict tmp;
  if (!out)
    return SHOAL_EINVAL;
  int rc = shoal__heap_make(&tmp.heap, SHOAL__TYPE_DICT, name, opts, oopts, dict_init, dict_mark);
  if (rc)
    return rc;
  shoal_dict *d = malloc(sizeof *d);
  if (!d) {
    shoal__heap_close(&tmp.heap);
    return SHOAL_ENOMEM;
  }
  *d = tmp;
  *out = d;
  return 0;
}

int shoal_dict_create(shoal_dict **out, const shoal_container_opts *opts)
{
  return dict_make(out, NULL, opts, NULL);
}

int shoal_dict_open(shoal_dict **out, const char *name, const shoal_container_opts *opts,
                    const shoal_open_opts *oopts)
{
  return name ? dict_make(out, name, opts, oopts) : SHOAL_EINVAL;
}

void shoal_dict_destroy(shoal_dict *d)
{
  if (!d)
    return;
  shoal__heap_close(&d->heap);
  free(d);
}

void shoal_dict_close(shoal_dict *d)
{
  shoal_dict_destroy(d);
}

/* ---- readers ---- */

/* Runs a lookup as a reader: retries until it saw a consistent snapshot;
 * returns from the caller on an error of read_begin (a truncated file). */
#define READ_LOOP(d, size, body)                                                                   \
  for (;;) {                                                                                       \
    uint64_t size;                                                                                 \
    uint32_t seq_;                                                                                 \
    int rc_ = shoal__heap_read_begin(&(d)->heap, &seq_, &size);                                    \
    if (rc_)                                                                                       \
      return rc_;                                                                                  \
    int torn_ = 0;                                                                                 \
    body;                                                                                          \
    if (!shoal__heap_read_valid(&(d)->heap, seq_))                                                 \
      continue;                                                                                    \
    if (torn_)                                                                                     \
      return SHOAL_ECORRUPT;                                                                       \
    break;                                                                                         \
  }

static bool key_ok(const void *key, size_t klen)
{
  return (key || klen == 0) && klen <= MAX_ITEM;
}

int shoal_dict_get(shoal_dict *d, const void *key, size_t klen, void *buf, size_t *vlen)
{
  if (!d || !key_ok(key, klen) || !vlen || (!buf && *vlen))
    return SHOAL_EINVAL;
  uint64_t hash = hash_bytes(key, klen);
  size_t room = *vlen;
  int result = 0;
  READ_LOOP(d, size, {
    struct probe p;
    *vlen = room;
    int f = lookup(d, size, key, klen, hash, &p);
    if (f == TORN)
      torn_ = 1;
    else if (f == NOT_FOUND)
      result = SHOAL_ENOENT;
    else if ((result = value_out(d, size, p.entry, klen, buf, vlen)) == TORN)
      torn_ = 1;
  });
  if (result == SHOAL_ENOENT)
    *vlen = room;
  return result;
}

int shoal_dict_contains(shoal_dict *d, const void *key, size_t klen)
{
  if (!d || !key_ok(key, klen))
    return SHOAL_EINVAL;
  uint64_t hash = hash_bytes(key, klen);
  int found = 0;
  READ_LOOP(d, size, {
    struct probe p;
    found = lookup(d, size, key, klen, hash, &p);
    torn_ = found == TORN;
  });
  return found;
}

size_t shoal_dict_len(shoal_dict *d)
{
  return d ? (size_t)shoal__ld64(&d->heap.ctl->count) : 0;
}

int shoal_dict_next(shoal_dict *d, shoal_dict_iter *it, void *key, size_t *klen, void *value,
                    size_t *vlen)
{
  /* state[0]: 1 once started; state[1]: the heap's gen then; state[2]: the
   * next slot to look at. */
  if (!d || !it || !klen || (!key && *klen) || (vlen && !value && *vlen))
    return SHOAL_EINVAL;
  size_t kroom = *klen, vroom = vlen ? *vlen : 0;
  int result = 0;
  uint64_t next = it->state[2], gen = it->state[1];
  READ_LOOP(d, size, {
    struct probe p;
    uint64_t g = shoal__ld64(&d->heap.ctl->gen);
    next = it->state[2];
    gen = it->state[0] ? it->state[1] : g;
    result = 0;
    if (g != gen) {
      result = SHOAL_ECANCELED;
    } else if (table_view(d, size, &p) != 0) {
      torn_ = 1;
    } else {
      for (; next < p.cap; next++) {
        uint64_t slot = shoal__ld64(at(d, T_SLOT(p.table, next)));
        if (!slot_live(slot))
          continue;
        uint64_t e = slot_entry(slot);
        if (!shoal__heap_block_ok(&d->heap, e, ENTRY_HDR, size)) {
          torn_ = 1;
          break;
        }
        const char *ep = at(d, P(e));
        uint32_t kl = shoal__ld32(ep + 8);
        uint32_t vl = shoal__ld32(ep + 12);
        if (!shoal__heap_block_ok(&d->heap, e, ENTRY_HDR + round8(kl) + vl, size)) {
          torn_ = 1;
          break;
        }
        *klen = kl;
        if (vlen)
          *vlen = vl;
        if (kl > kroom || (vlen && vl > vroom)) {
          result = SHOAL_EMSGSIZE;
          break;
        }
        if (kl)
          shoal__heap_copy_out(key, ep + ENTRY_HDR, kl);
        if (vlen && vl)
          shoal__heap_copy_out(value, ep + ENTRY_HDR + round8(kl), vl);
        result = 1;
        break;
      }
    }
  });
  if (result >= 0) {
    it->state[0] = 1;
    it->state[1] = gen;
    it->state[2] = result == 1 ? next + 1 : next;
  }
  return result;
}

/* ---- writers ---- */

/* Moves every live entry into a new table of cap slots and publishes it. */
static int rehash(struct shoal_dict *d, struct probe *old, uint64_t cap)
{
  uint64_t root;
  int rc = new_table(d, cap, &root);
  if (rc)
    return rc;
  uint64_t t = P(root), live = 0;
  for (uint64_t i = 0; i < old->cap; i++) {
    uint64_t slot = shoal__ld64(at(d, T_SLOT(old->table, i)));
    if (!slot_live(slot))
      continue;
    uint64_t hash = shoal__ld64(at(d, P(slot_entry(slot))));
    uint64_t j = hash & (cap - 1);
    while (shoal__ld64(at(d, T_SLOT(t, j))) != SLOT_EMPTY)
      j = (j + 1) & (cap - 1);
    shoal__st64(at(d, T_SLOT(t, j)), slot);
    live++;
  }
  shoal__st64(at(d, T_USED(t)), live);
  struct shoal__heap_ctl *c = d->heap.ctl;
  uint64_t old_root = c->root;
  shoal__st64(&c->root, root); /* the commit */
  shoal__st64(&c->gen, c->gen + 1);
  shoal__heap_free(&d->heap, old_root);
  return 0;
}

/* Makes room for one more used slot (at most 3/4 of the slots used). */
static int make_room(struct shoal_dict *d)
{
  struct probe p;
  if (table_view(d, d->heap.ctl->size, &p) != 0)
    return SHOAL_ECORRUPT;
  uint64_t used = shoal__ld64(at(d, T_USED(p.table)));
  if ((used + 1) * 4 <= p.cap * 3)
    return 0;
  uint64_t live = d->heap.ctl->count, cap = TABLE_MIN;
  while (cap * 3 < (live + 1) * 4 * 2) /* live + 1 fills at most 3/8 of the new table */
    cap *= 2;
  return rehash(d, &p, cap);
}

int shoal_dict_set(shoal_dict *d, const void *key, size_t klen, const void *value, size_t vlen)
{
  if (!d || !key_ok(key, klen) || (!value && vlen) || vlen > MAX_ITEM)
    return SHOAL_EINVAL;
  uint64_t hash = hash_bytes(key, klen);
  int rc = shoal__heap_write_begin(&d->heap);
  if (rc)
    return rc;
  struct probe p;
  uint64_t e;
  if ((rc = make_room(d)) == 0 &&
      (rc = shoal__heap_alloc(&d->heap, ENTRY_HDR + round8(klen) + vlen, &e)) == 0) {
    char *ep = at(d, P(e));
    shoal__st64(ep, hash);
    shoal__st32(ep + 8, (uint32_t)klen);
    shoal__st32(ep + 12, (uint32_t)vlen);
    shoal__heap_copy_in(ep + ENTRY_HDR, key, klen);
    shoal__heap_copy_in(ep + ENTRY_HDR + round8(klen), value, vlen);
    int f = lookup(d, d->heap.ctl->size, key, klen, hash, &p);
    uint64_t *slot = (uint64_t *)at(d, T_SLOT(p.table, p.index));
    if (f == FOUND) {
      shoal__st64(slot, slot_make(hash, e)); /* the commit */
      shoal__heap_free(&d->heap, p.entry);
    } else if (f == NOT_FOUND) {
      if (p.free_empty)
        shoal__st64(at(d, T_USED(p.table)), shoal__ld64(at(d, T_USED(p.table))) + 1);
      shoal__st64(slot, slot_make(hash, e)); /* the commit */
      shoal__st64(&d->heap.ctl->count, d->heap.ctl->count + 1);
    } else {
      rc = SHOAL_ECORRUPT;
    }
  }
  shoal__heap_write_end(&d->heap);
  return rc;
}

/* Removes key as a writer; with buf, copies the value out first. */
static int remove_key(shoal_dict *d, const void *key, size_t klen, void *buf, size_t *vlen)
{
  uint64_t hash = hash_bytes(key, klen);
  int rc = shoal__heap_write_begin(&d->heap);
  if (rc)
    return rc;
  struct probe p;
  uint64_t size = d->heap.ctl->size;
  int f = lookup(d, size, key, klen, hash, &p);
  if (f == NOT_FOUND)
    rc = SHOAL_ENOENT;
  else if (f == TORN)
    rc = SHOAL_ECORRUPT;
  else if (vlen)
    rc = value_out(d, size, p.entry, klen, buf, vlen);
  if (rc == 0) {
    shoal__st64(at(d, T_SLOT(p.table, p.index)), SLOT_TOMB); /* the commit */
    shoal__st64(&d->heap.ctl->count, d->heap.ctl->count - 1);
    shoal__heap_free(&d->heap, p.entry);
  }
  shoal__heap_write_end(&d->heap);
  return rc == TORN ? SHOAL_ECORRUPT : rc;
}

int shoal_dict_delete(shoal_dict *d, const void *key, size_t klen)
{
  if (!d || !key_ok(key, klen))
    return SHOAL_EINVAL;
  return remove_key(d, key, klen, NULL, NULL);
}

int shoal_dict_pop(shoal_dict *d, const void *key, size_t klen, void *buf, size_t *vlen)
{
  if (!d || !key_ok(key, klen) || !vlen || (!buf && *vlen))
    return SHOAL_EINVAL;
  return remove_key(d, key, klen, buf, vlen);
}

int shoal_dict_clear(shoal_dict *d)
{
  if (!d)
    return SHOAL_EINVAL;
  int rc = shoal__heap_write_begin(&d->heap);
  if (rc)
    return rc;
  shoal__heap_reset(&d->heap);
  rc = dict_init(&d->heap); /* the arena is empty: a table always fits */
  shoal__heap_write_end(&d->heap);
  return rc;
}
