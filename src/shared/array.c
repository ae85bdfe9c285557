// SPDX-License-Identifier: MIT
// Array: a fixed number of shared items of a Python typecode
// (multiprocessing.Array).
#include "shared/typed.h"

struct shoal_array {
  struct shoal__typed t;
};

/* Makes the typed object and hands it out as a shoal_array. */
static int make(shoal_array **out, const char *name, char typecode, size_t length, bool length_any,
                const shoal_value_opts *opts, const shoal_open_opts *oopts)
{
  struct shoal__typed *t;
  if (!out)
    return SHOAL_EINVAL;
  int rc =
      shoal__typed_make(&t, SHOAL__TYPE_ARRAY, name, typecode, length, length_any, opts, oopts);
  if (rc == 0)
    *out = (shoal_array *)t;
  return rc;
}

#define T(a) ((a) ? &(a)->t : NULL)

int shoal_array_create(shoal_array **out, char typecode, size_t length,
                       const shoal_value_opts *opts)
{
  return make(out, NULL, typecode, length, false, opts, NULL);
}

int shoal_array_open(shoal_array **out, const char *name, char typecode, size_t length,
                     const shoal_value_opts *opts, const shoal_open_opts *oopts)
{
  if (!name)
    return SHOAL_EINVAL;
  return make(out, name, typecode, length, length == 0, opts, oopts);
}

void shoal_array_destroy(shoal_array *a)
{
  shoal__typed_free(T(a));
}

void shoal_array_close(shoal_array *a)
{
  shoal__typed_free(T(a));
}

size_t shoal_array_len(shoal_array *a)
{
  return a ? a->t.length : 0;
}

int shoal_array_typecode(shoal_array *a)
{
  return a ? a->t.typecode : SHOAL_EINVAL;
}

int shoal_array_itemsize(shoal_array *a)
{
  return a ? (int)a->t.itemsize : SHOAL_EINVAL;
}

void *shoal_array_data(shoal_array *a)
{
  return a ? a->t.items : NULL;
}

int shoal_array_get_int(shoal_array *a, size_t index, int64_t *out)
{
  return shoal__typed_get_int(T(a), index, out);
}

int shoal_array_set_int(shoal_array *a, size_t index, int64_t x)
{
  return shoal__typed_set_int(T(a), index, x);
}

int shoal_array_get_double(shoal_array *a, size_t index, double *out)
{
  return shoal__typed_get_double(T(a), index, out);
}

int shoal_array_set_double(shoal_array *a, size_t index, double x)
{
  return shoal__typed_set_double(T(a), index, x);
}

int shoal_array_get_slice(shoal_array *a, size_t start, size_t stop, void *buf, size_t buf_size)
{
  return shoal__typed_get_slice(T(a), start, stop, buf, buf_size);
}

int shoal_array_set_slice(shoal_array *a, size_t start, size_t stop, const void *buf,
                          size_t buf_size)
{
  return shoal__typed_set_slice(T(a), start, stop, buf, buf_size);
}

int shoal_array_acquire(shoal_array *a, shoal_duration timeout)
{
  return shoal__typed_acquire(T(a), timeout);
}

int shoal_array_release(shoal_array *a)
{
  return shoal__typed_release(T(a));
}

int shoal_array_get_lock(shoal_array *a, shoal_lock **lock, shoal_rlock **rlock)
{
  return shoal__typed_get_lock(T(a), lock, rlock);
}
