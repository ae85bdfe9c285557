// SPDX-License-Identifier: MIT
// Value: one shared item of a Python typecode (multiprocessing.Value).
#include "shared/typed.h"

struct shoal_value {
  struct shoal__typed t;
};

/* Makes the typed object and hands it out as a shoal_value. */
static int make(shoal_value **out, const char *name, char typecode, size_t length, bool length_any,
                const shoal_value_opts *opts, const shoal_open_opts *oopts)
{
  struct shoal__typed *t;
  if (!out)
    return SHOAL_EINVAL;
  int rc =
      shoal__typed_make(&t, SHOAL__TYPE_VALUE, name, typecode, length, length_any, opts, oopts);
  if (rc == 0)
    *out = (shoal_value *)t;
  return rc;
}

#define T(v) ((v) ? &(v)->t : NULL)

int shoal_value_create(shoal_value **out, char typecode, const shoal_value_opts *opts)
{
  return make(out, NULL, typecode, 1, false, opts, NULL);
}

int shoal_value_open(shoal_value **out, const char *name, char typecode,
                     const shoal_value_opts *opts, const shoal_open_opts *oopts)
{
  if (!name)
    return SHOAL_EINVAL;
  return make(out, name, typecode, 1, false, opts, oopts);
}

void shoal_value_destroy(shoal_value *v)
{
  shoal__typed_free(T(v));
}

void shoal_value_close(shoal_value *v)
{
  shoal__typed_free(T(v));
}

int shoal_value_typecode(shoal_value *v)
{
  return v ? v->t.typecode : SHOAL_EINVAL;
}

int shoal_value_get_int(shoal_value *v, int64_t *out)
{
  return shoal__typed_get_int(T(v), 0, out);
}

int shoal_value_set_int(shoal_value *v, int64_t x)
{
  return shoal__typed_set_int(T(v), 0, x);
}

int shoal_value_get_double(shoal_value *v, double *out)
{
  return shoal__typed_get_double(T(v), 0, out);
}

int shoal_value_set_double(shoal_value *v, double x)
{
  return shoal__typed_set_double(T(v), 0, x);
}

int shoal_value_get(shoal_value *v, void *out, size_t size)
{
  if (!v || !out || size != v->t.itemsize)
    return SHOAL_EINVAL;
  return shoal__typed_get_slice(&v->t, 0, 1, out, size);
}

int shoal_value_set(shoal_value *v, const void *in, size_t size)
{
  if (!v || !in || size != v->t.itemsize)
    return SHOAL_EINVAL;
  return shoal__typed_set_slice(&v->t, 0, 1, in, size);
}

int shoal_value_add(shoal_value *v, int64_t delta, int64_t *result)
{
  return shoal__typed_atomic(T(v), 0, SHOAL__OP_ADD, delta, result);
}

int shoal_value_fetch_add(shoal_value *v, int64_t delta, int64_t *old)
{
  return shoal__typed_atomic(T(v), 0, SHOAL__OP_FETCH_ADD, delta, old);
}

int shoal_value_exchange(shoal_value *v, int64_t x, int64_t *old)
{
  return shoal__typed_atomic(T(v), 0, SHOAL__OP_EXCHANGE, x, old);
}

int shoal_value_compare_exchange(shoal_value *v, int64_t *expected, int64_t desired)
{
  return shoal__typed_cas(T(v), 0, expected, desired);
}

int shoal_value_acquire(shoal_value *v, shoal_duration timeout)
{
  return shoal__typed_acquire(T(v), timeout);
}

int shoal_value_release(shoal_value *v)
{
  return shoal__typed_release(T(v));
}

int shoal_value_get_lock(shoal_value *v, shoal_lock **lock, shoal_rlock **rlock)
{
  return shoal__typed_get_lock(T(v), lock, rlock);
}
