// SPDX-License-Identifier: MIT
// Typed shared items: Python's typecodes, item access of the right width, the
// optional lock, atomic arithmetic.  Value and Array are thin faces on this.
#include <string.h>

#include "shared/typed.h"

unsigned shoal__typecode_size(char typecode)
{
  switch (typecode) {
  case 'b':
  case 'B':
  case 'c':
  case '?':
    return 1;
  case 'h':
  case 'H':
    return 2;
  case 'i':
  case 'I':
  case 'f':
    return 4;
  case 'l':
  case 'L':
  case 'q':
  case 'Q':
  case 'd':
    return 8;
  default:
    return 0;
  }
}

static bool is_float(char tc)
{
  return tc == 'f' || tc == 'd';
}

/* The typecodes with atomic arithmetic. */
static bool is_arith(char tc)
{
  return !is_float(tc) && tc != 'c' && tc != '?';
}

/* ---- item access: atomic loads and stores of the item's own width ---- */

static uint64_t load_bits(const void *p, unsigned size)
{
  switch (size) {
  case 1:
    return __atomic_load_n((const uint8_t *)p, __ATOMIC_ACQUIRE);
  case 2:
    return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
  case 4:
    return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
  default:
    return __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE);
  }
}

static void store_bits(void *p, unsigned size, uint64_t bits)
{
  switch (size) {
  case 1:
    __atomic_store_n((uint8_t *)p, (uint8_t)bits, __ATOMIC_RELEASE);
    break;
  case 2:
    __atomic_store_n((uint16_t *)p, (uint16_t)bits, __ATOMIC_RELEASE);
    break;
  case 4:
    __atomic_store_n((uint32_t *)p, (uint32_t)bits, __ATOMIC_RELEASE);
    break;
  default:
    __atomic_store_n((uint64_t *)p, bits, __ATOMIC_RELEASE);
    break;
  }
}

/* The item's bits read as an int64_t: sign-extended for signed types, the
 * same 64 bits for 'L' and 'Q'. */
static int64_t bits_to_i64(char tc, uint64_t bits)
{
  switch (tc) {
  case 'b':
    return (int8_t)bits;
  case 'h':
    return (int16_t)bits;
  case 'i':
    return (int32_t)bits;
  default:
    return (int64_t)bits;
  }
}

/* Range of values set_int accepts for an integer-like typecode. */
static void int_range(char tc, int64_t *lo, int64_t *hi)
{
  switch (tc) {
  case 'b':
    *lo = INT8_MIN;
    *hi = INT8_MAX;
    break;
  case 'B':
  case 'c':
    *lo = 0;
    *hi = UINT8_MAX;
    break;
  case '?':
    *lo = 0;
    *hi = 1;
    break;
  case 'h':
    *lo = INT16_MIN;
    *hi = INT16_MAX;
    break;
  case 'H':
    *lo = 0;
    *hi = UINT16_MAX;
    break;
  case 'i':
    *lo = INT32_MIN;
    *hi = INT32_MAX;
    break;
  case 'I':
    *lo = 0;
    *hi = UINT32_MAX;
    break;
  case 'L':
  case 'Q':
    *lo = 0;
    *hi = INT64_MAX;
    break;
  default:
    *lo = INT64_MIN;
    *hi = INT64_MAX;
    break;
  }
}

static bool fits(char tc, int64_t x)
{
  int64_t lo, hi;
  int_range(tc, &lo, &hi);
  return x >= lo && x <= hi;
}

/* Atomic arithmetic takes any int64_t for 'L' and 'Q' (its 64 bits). */
static bool fits_atomic(char tc, int64_t x)
{
  return tc == 'L' || tc == 'Q' || fits(tc, x);
}

static void *item(struct shoal__typed *t, size_t index)
{
  return t->items + index * t->itemsize;
}

/* ---- the lock ---- */

static int lock_word_consistent(struct shoal__typed *t)
{
  return shoal__lockword_consistent(t->xlock ? t->xlock : &t->rlock->lw);
}

/* Takes the lock (if any) for one access.  A dead holder's lock is taken
 * over and declared consistent: items are never half-written. */
static int access_begin(struct shoal__typed *t)
{
  int rc;
  if (t->xlock)
    rc = shoal__lockword_acquire(t->xlock, shoal__plat_stamp(), SHOAL_FOREVER);
  else if (t->rlock)
    rc = shoal__rlock_state_acquire(t->rlock, SHOAL_FOREVER);
  else
    return 0;
  if (rc == SHOAL_EOWNERDEAD)
    rc = lock_word_consistent(t);
  return rc;
}

static void access_end(struct shoal__typed *t)
{
  if (t->xlock)
    shoal__lockword_release(t->xlock, 0);
  else if (t->rlock)
    shoal__rlock_state_release(t->rlock);
}

int shoal__typed_acquire(struct shoal__typed *t, shoal_duration timeout)
{
  if (!t)
    return SHOAL_EINVAL;
  if (t->xlock)
    return shoal__lockword_acquire(t->xlock, shoal__plat_stamp(), timeout);
  if (t->rlock)
    return shoal__rlock_state_acquire(t->rlock, timeout);
  return SHOAL_ENOENT;
}

int shoal__typed_release(struct shoal__typed *t)
{
  if (!t)
    return SHOAL_EINVAL;
  if (t->xlock)
    return shoal__lockword_release(t->xlock, 0);
  if (t->rlock)
    return shoal__rlock_state_release(t->rlock);
  return SHOAL_ENOENT;
}

int shoal__typed_get_lock(struct shoal__typed *t, shoal_lock **lock, shoal_rlock **rlock)
{
  if (!t || !lock || !rlock)
    return SHOAL_EINVAL;
  *lock = t->xlock_handle;
  *rlock = t->rlock_handle;
  return *lock || *rlock ? 0 : SHOAL_ENOENT;
}

/* ---- creation ---- */

struct make_arg {
  char typecode;
  unsigned itemsize;
  uint32_t lock_kind;
  size_t length;
};

static int typed_init(void *payload, size_t size, void *arg)
{
  struct shoal__typed_state *st = payload;
  const struct make_arg *a = arg;
  (void)size;
  st->typecode = (uint32_t)(unsigned char)a->typecode;
  st->itemsize = a->itemsize;
  st->lock_kind = a->lock_kind;
  st->length = a->length;
  return 0;
}

static int opts_check(const shoal_value_opts *o, uint32_t *kind)
{
  *kind = SHOAL__LOCK_OWN;
  if (!o)
    return 0;
  for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
    if (o->reserved[i])
      return SHOAL_EINVAL;
  if (o->flags & ~(unsigned)SHOAL_VALUE_RAW || (o->lock && o->rlock))
    return SHOAL_EINVAL;
  if (o->flags & SHOAL_VALUE_RAW) {
    if (o->lock || o->rlock)
      return SHOAL_EINVAL;
    *kind = SHOAL__LOCK_NONE;
  } else if (o->lock || o->rlock) {
    *kind = SHOAL__LOCK_EXTERNAL;
  }
  return 0;
}

/* Checks an opened object against what the caller asked for. */
static int state_check(const struct shoal__region *r, const struct make_arg *want, bool length_any)
{
  const struct shoal__typed_state *st = shoal__region_payload(r);
  size_t payload = r->hdr->payload_size;
  char tc = (char)st->typecode;
  if (st->typecode > 0x7f || shoal__typecode_size(tc) == 0 ||
      st->itemsize != shoal__typecode_size(tc) ||
      st->length > (payload - SHOAL__TYPED_STATE_SIZE) / st->itemsize ||
      st->lock_kind > SHOAL__LOCK_EXTERNAL)
    return SHOAL_ECORRUPT;
  if (tc != want->typecode)
    return SHOAL_ETYPE;
  if (st->lock_kind != want->lock_kind)
    return SHOAL_EINVAL;
  if (!length_any && st->length != want->length)
    return SHOAL_ERANGE;
  return 0;
}

int shoal__typed_make(struct shoal__typed **out, uint32_t type, const char *name, char typecode,
                      size_t length, bool length_any, const shoal_value_opts *opts,
                      const shoal_open_opts *oopts)
{
  struct make_arg a = {typecode, shoal__typecode_size(typecode), 0, length};
  struct shoal__region r;
  if (!out || a.itemsize == 0)
    return SHOAL_EINVAL;
  int rc = opts_check(opts, &a.lock_kind);
  if (rc)
    return rc;
  if (length > (SIZE_MAX / 2 - SHOAL__TYPED_STATE_SIZE) / a.itemsize)
    return SHOAL_EINVAL;
  size_t payload = SHOAL__TYPED_STATE_SIZE + length * a.itemsize;
  if (name) {
    rc =
        shoal__region_open(&r, name, type, payload, SHOAL__TYPED_STATE_SIZE, oopts, typed_init, &a);
    if (rc == 0 && (rc = state_check(&r, &a, length_any)) != 0)
      shoal__region_close(&r);
  } else {
    rc = shoal__region_create(&r, type, payload, typed_init, &a);
  }
  if (rc)
    return rc;

  struct shoal__typed *t = shoal__region_handle_new(sizeof *t, &r);
  if (!t)
    return SHOAL_ENOMEM;
  t->st = shoal__region_payload(&t->region);
  t->items = (unsigned char *)t->st + SHOAL__TYPED_STATE_SIZE;
  t->typecode = typecode;
  t->itemsize = a.itemsize;
  t->length = (size_t)t->st->length;
  if (a.lock_kind == SHOAL__LOCK_OWN) {
    t->own.st = &t->st->lock;
    t->rlock = &t->st->lock;
    t->rlock_handle = &t->own;
  } else if (a.lock_kind == SHOAL__LOCK_EXTERNAL) {
    t->xlock_handle = opts->lock;
    t->rlock_handle = opts->rlock;
    t->xlock = opts->lock ? opts->lock->lw : NULL;
    t->rlock = opts->rlock ? opts->rlock->st : NULL;
  }
  *out = t;
  return 0;
}

void shoal__typed_free(struct shoal__typed *t)
{
  shoal__region_handle_free(t);
}

/* ---- item calls ---- */

int shoal__typed_get_int(struct shoal__typed *t, size_t index, int64_t *out)
{
  if (!t || !out)
    return SHOAL_EINVAL;
  if (index >= t->length)
    return SHOAL_ERANGE;
  if (is_float(t->typecode))
    return SHOAL_ENOTSUP;
  int rc = access_begin(t);
  if (rc)
    return rc;
  uint64_t bits = load_bits(item(t, index), t->itemsize);
  access_end(t);
  if ((t->typecode == 'L' || t->typecode == 'Q') && bits > (uint64_t)INT64_MAX)
    return SHOAL_EOVERFLOW;
  *out = bits_to_i64(t->typecode, bits);
  return 0;
}

int shoal__typed_set_int(struct shoal__typed *t, size_t index, int64_t x)
{
  if (!t)
    return SHOAL_EINVAL;
  if (index >= t->length)
    return SHOAL_ERANGE;
  if (is_float(t->typecode))
    return SHOAL_ENOTSUP;
  if (!fits(t->typecode, x))
    return SHOAL_ERANGE;
  int rc = access_begin(t);
  if (rc)
    return rc;
  store_bits(item(t, index), t->itemsize, (uint64_t)x);
  access_end(t);
  return 0;
}

int shoal__typed_get_double(struct shoal__typed *t, size_t index, double *out)
{
  if (!t || !out)
    return SHOAL_EINVAL;
  if (index >= t->length)
    return SHOAL_ERANGE;
  if (!is_float(t->typecode))
    return SHOAL_ENOTSUP;
  int rc = access_begin(t);
  if (rc)
    return rc;
  uint64_t bits = load_bits(item(t, index), t->itemsize);
  access_end(t);
  if (t->typecode == 'f') {
    float f;
    uint32_t b32 = (uint32_t)bits;
    memcpy(&f, &b32, sizeof f);
    *out = f;
  } else {
    memcpy(out, &bits, sizeof *out);
  }
  return 0;
}

int shoal__typed_set_double(struct shoal__typed *t, size_t index, double x)
{
  if (!t)
    return SHOAL_EINVAL;
  if (index >= t->length)
    return SHOAL_ERANGE;
  if (!is_float(t->typecode))
    return SHOAL_ENOTSUP;
  uint64_t bits;
  if (t->typecode == 'f') {
    float f = (float)x;
    uint32_t b32;
    memcpy(&b32, &f, sizeof b32);
    bits = b32;
  } else {
    memcpy(&bits, &x, sizeof bits);
  }
  int rc = access_begin(t);
  if (rc)
    return rc;
  store_bits(item(t, index), t->itemsize, bits);
  access_end(t);
  return 0;
}

int shoal__typed_get_slice(struct shoal__typed *t, size_t start, size_t stop, void *buf,
                           size_t size)
{
  if (!t || (!buf && stop > start))
    return SHOAL_EINVAL;
  if (start > stop || stop > t->length)
    return SHOAL_ERANGE;
  if (size < (stop - start) * t->itemsize)
    return SHOAL_EMSGSIZE;
  int rc = access_begin(t);
  if (rc)
    return rc;
  unsigned char *dst = buf;
  for (size_t i = start; i < stop; i++, dst += t->itemsize) {
    uint64_t bits = load_bits(item(t, i), t->itemsize);
    /* The item's bytes in memory order: copy the low `itemsize` bytes of a
     * value of that width. */
    uint8_t b8 = (uint8_t)bits;
    uint16_t b16 = (uint16_t)bits;
    uint32_t b32 = (uint32_t)bits;
    const void *src = t->itemsize == 1   ? (const void *)&b8
                      : t->itemsize == 2 ? (const void *)&b16
                      : t->itemsize == 4 ? (const void *)&b32
                                         : (const void *)&bits;
    memcpy(dst, src, t->itemsize);
  }
  access_end(t);
  return 0;
}

/* Reads one item of `size` bytes from an unaligned buffer. */
static uint64_t read_item(const unsigned char *p, unsigned size, char tc)
{
  uint8_t b8;
  uint16_t b16;
  uint32_t b32;
  uint64_t b64;
  switch (size) {
  case 1:
    memcpy(&b8, p, 1);
    return tc == '?' ? b8 != 0 : b8;
  case 2:
    memcpy(&b16, p, 2);
    return b16;
  case 4:
    memcpy(&b32, p, 4);
    return b32;
  default:
    memcpy(&b64, p, 8);
    return b64;
  }
}

int shoal__typed_set_slice(struct shoal__typed *t, size_t start, size_t stop, const void *buf,
                           size_t size)
{
  if (!t || (!buf && stop > start))
    return SHOAL_EINVAL;
  if (start > stop || stop > t->length)
    return SHOAL_ERANGE;
  if (size != (stop - start) * t->itemsize)
    return SHOAL_EINVAL;
  int rc = access_begin(t);
  if (rc)
    return rc;
  const unsigned char *src = buf;
  for (size_t i = start; i < stop; i++, src += t->itemsize)
    store_bits(item(t, i), t->itemsize, read_item(src, t->itemsize, t->typecode));
  access_end(t);
  return 0;
}

/* ---- atomic arithmetic ---- */

#define ATOMIC_ON(width, p, op, x, before, after)                                                  \
  do {                                                                                             \
    width *p_ = (width *)(p);                                                                      \
    width x_ = (width)(x);                                                                         \
    if ((op) == SHOAL__OP_EXCHANGE) {                                                              \
      (before) = __atomic_exchange_n(p_, x_, __ATOMIC_SEQ_CST);                                    \
      (after) = x_;                                                                                \
    } else {                                                                                       \
      (before) = __atomic_fetch_add(p_, x_, __ATOMIC_SEQ_CST);                                     \
      (after) = (width)((before) + x_);                                                            \
    }                                                                                              \
  } while (0)

int shoal__typed_atomic(struct shoal__typed *t, size_t index, enum shoal__atomic_op op, int64_t x,
                        int64_t *result)
{
  if (!t)
    return SHOAL_EINVAL;
  if (index >= t->length)
    return SHOAL_ERANGE;
  if (!is_arith(t->typecode))
    return SHOAL_ENOTSUP;
  if (op == SHOAL__OP_EXCHANGE && !fits_atomic(t->typecode, x))
    return SHOAL_ERANGE;
  void *p = item(t, index);
  uint64_t before, after;
  switch (t->itemsize) {
  case 1: {
    uint8_t b, a;
    ATOMIC_ON(uint8_t, p, op, (uint64_t)x, b, a);
    before = b, after = a;
    break;
  }
  case 2: {
    uint16_t b, a;
    ATOMIC_ON(uint16_t, p, op, (uint64_t)x, b, a);
    before = b, after = a;
    break;
  }
  case 4: {
    uint32_t b, a;
    ATOMIC_ON(uint32_t, p, op, (uint64_t)x, b, a);
    before = b, after = a;
    break;
  }
  default:
    ATOMIC_ON(uint64_t, p, op, (uint64_t)x, before, after);
    break;
  }
  if (result)
    *result = bits_to_i64(t->typecode, op == SHOAL__OP_ADD ? after : before);
  return 0;
}

#define CAS_ON(width, p, exp_bits, des_bits, ok, cur)                                              \
  do {                                                                                             \
    width e_ = (width)(exp_bits);                                                                  \
    (ok) = __atomic_compare_exchange_n((width *)(p), &e_, (width)(des_bits), false,                \
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                        \
    (cur) = e_;                                                                                    \
  } while (0)

int shoal__typed_cas(struct shoal__typed *t, size_t index, int64_t *expected, int64_t desired)
{
  if (!t || !expected)
    return SHOAL_EINVAL;
  if (index >= t->length)
    return SHOAL_ERANGE;
  if (!is_arith(t->typecode))
    return SHOAL_ENOTSUP;
  if (!fits_atomic(t->typecode, desired))
    return SHOAL_ERANGE;
  void *p = item(t, index);
  if (!fits_atomic(t->typecode, *expected)) {
    /* No item can hold it, so it cannot be equal: report the current value. */
    *expected = bits_to_i64(t->typecode, load_bits(p, t->itemsize));
    return 0;
  }
  bool ok;
  uint64_t cur;
  switch (t->itemsize) {
  case 1: {
    uint8_t c;
    CAS_ON(uint8_t, p, (uint64_t)*expected, (uint64_t)desired, ok, c);
    cur = c;
    break;
  }
  case 2: {
    uint16_t c;
    CAS_ON(uint16_t, p, (uint64_t)*expected, (uint64_t)desired, ok, c);
    cur = c;
    break;
  }
  case 4: {
    uint32_t c;
    CAS_ON(uint32_t, p, (uint64_t)*expected, (uint64_t)desired, ok, c);
    cur = c;
    break;
  }
  default:
    CAS_ON(uint64_t, p, (uint64_t)*expected, (uint64_t)desired, ok, cur);
    break;
  }
  if (ok)
    return 1;
  *expected = bits_to_i64(t->typecode, cur);
  return 0;
}
