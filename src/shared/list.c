// SPDX-License-Identifier: MIT
// The shared list: an array of item offsets in a shared heap (heap.h), read
// without locks, written one writer at a time.
//
// Layout (payloads of heap blocks):
//   array: cap, len, spare, then cap item offsets (the first len are items)
//   item:  len, then the bytes (padded to 8)
// The root array owns a spare: another block with room for cap items (0 only
// in a list repaired from a damaged spare).  An append publishes with one
// store of len; set with one store of the item's offset; insert and delete
// in the middle build the shifted array in the spare, whose own spare field
// then names the current array, and publish it with one store of the root:
// the old array becomes the spare.  A writer killed half-way never leaves a
// half-shifted list, and the spare is always the root's, whichever side of
// the store it died on.  Growing takes a new array and a new spare of twice
// the size, so the spare is counted against max_size from the start and
// delete and pop never need memory.
#include <stdlib.h>

#include "shared/heap.h"

struct shoal_list {
  struct shoal__heap heap;
};

#define ARRAY_MIN 8
#define ARRAY_HDR 24
#define ITEM_HDR 8
#define MAX_ITEM UINT32_MAX

#define A_CAP(a) ((a) + 0)
#define A_LEN(a) ((a) + 8)
#define A_SPARE(a) ((a) + 16)
#define A_ITEM(a, i) ((a) + ARRAY_HDR + (uint64_t)(i)*8)
#define P(off) SHOAL__HEAP_PAYLOAD(off)

enum { TORN = 1 };

static char *at(struct shoal_list *l, uint64_t off)
{
  return shoal__heap_at(&l->heap, off);
}

struct view {
  uint64_t root, arr, cap, len;
};

/* Checks and reads the root array against `size`. */
static int array_view(struct shoal_list *l, uint64_t size, struct view *v)
{
  v->root = shoal__ld64(&l->heap.ctl->root);
  if (!shoal__heap_block_ok(&l->heap, v->root, ARRAY_HDR, size))
    return TORN;
  v->arr = P(v->root);
  v->cap = shoal__ld64(at(l, A_CAP(v->arr)));
  v->len = shoal__ld64(at(l, A_LEN(v->arr)));
  if (v->cap < ARRAY_MIN || v->len > v->cap || v->cap > (size >> 3) ||
      !shoal__heap_block_ok(&l->heap, v->root, ARRAY_HDR + v->cap * 8, size))
    return TORN;
  return 0;
}

/* Copies item `item` out if buf holds it: 0, SHOAL_EMSGSIZE or TORN. */
static int item_out(struct shoal_list *l, uint64_t size, uint64_t item, void *buf, size_t *len)
{
  if (!shoal__heap_block_ok(&l->heap, item, ITEM_HDR, size))
    return TORN;
  uint64_t n = shoal__ld64(at(l, P(item)));
  if (n > MAX_ITEM || !shoal__heap_block_ok(&l->heap, item, ITEM_HDR + n, size))
    return TORN;
  size_t room = *len;
  *len = (size_t)n;
  if (n > room)
    return SHOAL_EMSGSIZE;
  if (n)
    shoal__heap_copy_out(buf, at(l, P(item) + ITEM_HDR), (size_t)n);
  return 0;
}

/* ---- the heap's callbacks ---- */

/* The capacity that fills array block `root` (blocks are powers of two). */
static uint64_t block_cap(struct shoal_list *l, uint64_t root)
{
  return (shoal__heap_payload_cap(&l->heap, root) - ARRAY_HDR) / 8;
}

/* Makes an empty array of at least cap items, unpublished, in *root. */
static int new_array(struct shoal_list *l, uint64_t cap, uint64_t *root)
{
  int rc = shoal__heap_alloc(&l->heap, ARRAY_HDR + cap * 8, root);
  if (rc) /* an array that can never fit: the list is full, whatever the item */
    return rc == SHOAL_E2BIG ? SHOAL_ENOMEM : rc;
  shoal__st64(at(l, A_CAP(P(*root))), block_cap(l, *root));
  shoal__st64(at(l, A_LEN(P(*root))), 0);
  shoal__st64(at(l, A_SPARE(P(*root))), 0);
  return 0;
}

/* Makes an empty array of at least cap items with its spare (a block of the
 * same size), unpublished, in *root. */
static int new_array_pair(struct shoal_list *l, uint64_t cap, uint64_t *root)
{
  uint64_t spare;
  int rc = new_array(l, cap, root);
  if (rc)
    return rc;
  if ((rc = new_array(l, cap, &spare)) != 0) {
    shoal__heap_free(&l->heap, *root);
    return rc;
  }
  shoal__st64(at(l, A_SPARE(P(*root))), spare);
  return 0;
}

static int list_init(struct shoal__heap *h)
{
  uint64_t root;
  int rc = new_array_pair((struct shoal_list *)h, ARRAY_MIN, &root);
  if (rc == 0)
    shoal__st64(&h->ctl->root, root);
  return rc;
}

/* Marks the spare of an array of cap items during a repair; false when it is
 * not a sound block that size, or is already marked: the array itself or
 * one of its items (it cannot be, by construction), so mark it last. */
static bool spare_mark(struct shoal_list *l, uint64_t spare, uint64_t cap, uint64_t size)
{
  struct shoal__heap *h = &l->heap;
  if (!shoal__heap_block_ok(h, spare, ARRAY_HDR + cap * 8, size))
    return false;
  uint32_t mark = shoal__ld32(&((struct shoal__heap_blk *)at(l, spare))->mark);
  return mark != (uint32_t)h->ctl->epoch && shoal__heap_mark(h, spare);
}

/* Repair: keep the array, its first len items and its spare; the list ends
 * before the first item that is not a sound block, and a spare that is not
 * one is dropped (the next shift takes a new one). */
static uint64_t list_mark(struct shoal__heap *h)
{
  struct shoal_list *l = (struct shoal_list *)h;
  struct view v;
  uint64_t size = h->ctl->size;
  if (array_view(l, size, &v) != 0 || !shoal__heap_mark(h, v.root)) {
    shoal__heap_reset(h);
    list_init(h); /* the arena is empty: two arrays always fit */
    return 0;
  }
  uint64_t i = 0;
  for (; i < v.len; i++) {
    uint64_t item = shoal__ld64(at(l, A_ITEM(v.arr, i)));
    if (!shoal__heap_block_ok(h, item, ITEM_HDR, size) || !shoal__heap_mark(h, item))
      break;
  }
  shoal__st64(at(l, A_LEN(v.arr)), i);
  uint64_t spare = shoal__ld64(at(l, A_SPARE(v.arr)));
  if (spare && !spare_mark(l, spare, v.cap, size))
    shoal__st64(at(l, A_SPARE(v.arr)), 0);
  return i;
}

/* ---- making ---- */

static int list_make(shoal_list **out, const char *name, const shoal_container_opts *opts,
                     const shoal_open_opts *oopts)
{
  struct shoal_list tmp;
  if (!out)
    return SHOAL_EINVAL;
  int rc = shoal__heap_make(&tmp.heap, SHOAL__TYPE_LIST, name, opts, oopts, list_init, list_mark);
  if (rc)
    return rc;
  shoal_list *l = malloc(sizeof *l);
  if (!l) {
    shoal__heap_close(&tmp.heap);
    return SHOAL_ENOMEM;
  }
  *l = tmp;
  *out = l;
  return 0;
}

int shoal_list_create(shoal_list **out, const shoal_container_opts *opts)
{
  return list_make(out, NULL, opts, NULL);
}

int shoal_list_open(shoal_list **out, const char *name, const shoal_container_opts *opts,
                    const shoal_open_opts *oopts)
{
  return name ? list_make(out, name, opts, oopts) : SHOAL_EINVAL;
}

void shoal_list_destroy(shoal_list *l)
{
  if (!l)
    return;
  shoal__heap_close(&l->heap);
  free(l);
}

void shoal_list_close(shoal_list *l)
{
  shoal_list_destroy(l);
}

/* ---- readers ---- */

int shoal_list_get(shoal_list *l, size_t index, void *buf, size_t *len)
{
  if (!l || !len || (!buf && *len))
    return SHOAL_EINVAL;
  size_t room = *len;
  int result;
  for (;;) {
    uint64_t size;
    uint32_t seq;
    struct view v;
    if ((result = shoal__heap_read_begin(&l->heap, &seq, &size)) != 0)
      return result;
    *len = room;
    result = array_view(l, size, &v);
    if (result == 0) {
      if (index >= v.len)
        result = SHOAL_ERANGE;
      else
        result = item_out(l, size, shoal__ld64(at(l, A_ITEM(v.arr, index))), buf, len);
    }
    if (shoal__heap_read_valid(&l->heap, seq))
      break;
  }
  if (result == SHOAL_ERANGE)
    *len = room;
  return result == TORN ? SHOAL_ECORRUPT : result;
}

size_t shoal_list_len(shoal_list *l)
{
  return l ? (size_t)shoal__ld64(&l->heap.ctl->count) : 0;
}

/* ---- writers ---- */

static bool item_ok(const void *item, size_t len)
{
  return (item || len == 0) && len <= MAX_ITEM;
}

static int new_item(struct shoal_list *l, const void *bytes, size_t len, uint64_t *item)
{
  int rc = shoal__heap_alloc(&l->heap, ITEM_HDR + len, item);
  if (rc)
    return rc;
  shoal__st64(at(l, P(*item)), len);
  shoal__heap_copy_in(at(l, P(*item) + ITEM_HDR), bytes, len);
  return 0;
}

/* Publishes array `root` (len items) in place of the current one. */
static void publish(struct shoal_list *l, uint64_t root, uint64_t len)
{
  struct shoal__heap_ctl *c = l->heap.ctl;
  shoal__st64(at(l, A_LEN(P(root))), len);
  shoal__st64(&c->root, root); /* the commit */
  shoal__st64(&c->gen, c->gen + 1);
  shoal__st64(&c->count, len);
}

/* Returns the current array's spare, ready to be written, in *spare: the
 * one it owns, or a new one when it has none (only after a repair dropped
 * a damaged spare; then this can be SHOAL_ENOMEM). */
static int take_spare(struct shoal_list *l, struct view *v, uint64_t *spare)
{
  *spare = shoal__ld64(at(l, A_SPARE(v->arr)));
  if (*spare && block_cap(l, *spare) >= v->cap) {
    shoal__st64(at(l, A_CAP(P(*spare))), block_cap(l, *spare));
    return 0;
  }
  return new_array(l, v->cap, spare);
}

/* Inserts item at index <= len, as a writer. */
static int insert_at(struct shoal_list *l, struct view *v, uint64_t index, uint64_t item)
{
  struct shoal__heap_ctl *c = l->heap.ctl;
  if (index == v->len && v->len < v->cap) {
    shoal__st64(at(l, A_ITEM(v->arr, index)), item);
    shoal__st64(at(l, A_LEN(v->arr)), v->len + 1); /* the commit */
    shoal__st64(&c->count, v->len + 1);
    return 0;
  }
  uint64_t root, old_spare = shoal__ld64(at(l, A_SPARE(v->arr)));
  bool grow = v->len == v->cap;
  int rc = grow ? new_array_pair(l, v->cap + 1, &root) : take_spare(l, v, &root);
  if (rc)
    return rc;
  uint64_t arr = P(root);
  for (uint64_t i = 0, j = 0; i <= v->len; i++) {
    if (i == index)
      shoal__st64(at(l, A_ITEM(arr, i)), item);
    else
      shoal__st64(at(l, A_ITEM(arr, i)), shoal__ld64(at(l, A_ITEM(v->arr, j++))));
  }
  if (!grow)
    shoal__st64(at(l, A_SPARE(arr)), v->root); /* the old array becomes the spare */
  publish(l, root, v->len + 1);
  if (grow) {
    shoal__heap_free(&l->heap, v->root);
    if (old_spare)
      shoal__heap_free(&l->heap, old_spare);
  }
  return 0;
}

/* Opens a change and reads the array; on failure returns an error with the
 * change closed. */
static int begin(struct shoal_list *l, struct view *v)
{
  int rc = shoal__heap_write_begin(&l->heap);
  if (rc)
    return rc;
  if (array_view(l, l->heap.ctl->size, v) != 0) {
    shoal__heap_write_end(&l->heap);
    return SHOAL_ECORRUPT;
  }
  return 0;
}

int shoal_list_insert(shoal_list *l, size_t index, const void *item, size_t len)
{
  struct view v;
  uint64_t it;
  if (!l || !item_ok(item, len))
    return SHOAL_EINVAL;
  int rc = begin(l, &v);
  if (rc)
    return rc;
  if ((rc = new_item(l, item, len, &it)) == 0 &&
      (rc = insert_at(l, &v, index < v.len ? index : v.len, it)) != 0)
    shoal__heap_free(&l->heap, it);
  shoal__heap_write_end(&l->heap);
  return rc;
}

int shoal_list_append(shoal_list *l, const void *item, size_t len)
{
  return shoal_list_insert(l, SIZE_MAX, item, len);
}

int shoal_list_set(shoal_list *l, size_t index, const void *item, size_t len)
{
  struct view v;
  uint64_t it;
  if (!l || !item_ok(item, len))
    return SHOAL_EINVAL;
  int rc = begin(l, &v);
  if (rc)
    return rc;
  if (index >= v.len) {
    rc = SHOAL_ERANGE;
  } else if ((rc = new_item(l, item, len, &it)) == 0) {
    uint64_t old = shoal__ld64(at(l, A_ITEM(v.arr, index)));
    shoal__st64(at(l, A_ITEM(v.arr, index)), it); /* the commit */
    shoal__heap_free(&l->heap, old);
  }
  shoal__heap_write_end(&l->heap);
  return rc;
}

/* Removes item index < len, as a writer. */
static int remove_at(struct shoal_list *l, struct view *v, uint64_t index)
{
  struct shoal__heap_ctl *c = l->heap.ctl;
  uint64_t item = shoal__ld64(at(l, A_ITEM(v->arr, index)));
  if (index == v->len - 1) {
    shoal__st64(at(l, A_LEN(v->arr)), v->len - 1); /* the commit */
    shoal__st64(&c->count, v->len - 1);
  } else {
    uint64_t root;
    int rc = take_spare(l, v, &root);
    if (rc)
      return rc;
    for (uint64_t i = 0, j = 0; i < v->len; i++)
      if (i != index)
        shoal__st64(at(l, A_ITEM(P(root), j++)), shoal__ld64(at(l, A_ITEM(v->arr, i))));
    shoal__st64(at(l, A_SPARE(P(root))), v->root); /* the old array becomes the spare */
    publish(l, root, v->len - 1);
  }
  shoal__heap_free(&l->heap, item);
  return 0;
}

int shoal_list_delete(shoal_list *l, size_t index)
{
  struct view v;
  if (!l)
    return SHOAL_EINVAL;
  int rc = begin(l, &v);
  if (rc)
    return rc;
  rc = index < v.len ? remove_at(l, &v, index) : SHOAL_ERANGE;
  shoal__heap_write_end(&l->heap);
  return rc;
}

int shoal_list_pop(shoal_list *l, void *buf, size_t *len)
{
  struct view v;
  if (!l || !len || (!buf && *len))
    return SHOAL_EINVAL;
  int rc = begin(l, &v);
  if (rc)
    return rc;
  if (v.len == 0) {
    rc = SHOAL_ERANGE;
  } else {
    rc = item_out(l, l->heap.ctl->size, shoal__ld64(at(l, A_ITEM(v.arr, v.len - 1))), buf, len);
    if (rc == 0)
      rc = remove_at(l, &v, v.len - 1);
  }
  shoal__heap_write_end(&l->heap);
  return rc == TORN ? SHOAL_ECORRUPT : rc;
}

int shoal_list_clear(shoal_list *l)
{
  if (!l)
    return SHOAL_EINVAL;
  int rc = shoal__heap_write_begin(&l->heap);
  if (rc)
    return rc;
  shoal__heap_reset(&l->heap);
  rc = list_init(&l->heap); /* the arena is empty: two arrays always fit */
  shoal__heap_write_end(&l->heap);
  return rc;
}
