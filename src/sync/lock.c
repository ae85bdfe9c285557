// SPDX-License-Identifier: MIT
// Lock: a robust, non-reentrant mutex that any thread may release.

#include "sync/handles.h"

static int lock_from_region(shoal_lock **out, struct shoal__region *r)
{
  shoal_lock *h = shoal__region_handle_new(sizeof *h, r);
  if (!h)
    return SHOAL_ENOMEM;
  h->lw = shoal__region_payload(&h->region);
  *out = h;
  return 0;
}

int shoal_lock_create(shoal_lock **out)
{
  struct shoal__region r;
  if (!out)
    return SHOAL_EINVAL;
  int rc = shoal__region_create(&r, SHOAL__TYPE_LOCK, sizeof(struct shoal__lockword), NULL, NULL);
  return rc ? rc : lock_from_region(out, &r);
}

int shoal_lock_open(shoal_lock **out, const char *name, const shoal_open_opts *opts)
{
  struct shoal__region r;
  if (!out)
    return SHOAL_EINVAL;
  int rc = shoal__region_open(&r, name, SHOAL__TYPE_LOCK, sizeof(struct shoal__lockword),
                              sizeof(struct shoal__lockword), opts, NULL, NULL);
  return rc ? rc : lock_from_region(out, &r);
}

void shoal_lock_destroy(shoal_lock *lock)
{
  shoal__region_handle_free(lock);
}

void shoal_lock_close(shoal_lock *lock)
{
  shoal_lock_destroy(lock);
}

int shoal_lock_acquire(shoal_lock *lock, shoal_duration timeout)
{
  if (!lock)
    return SHOAL_EINVAL;
  return shoal__lockword_acquire(lock->lw, shoal__plat_stamp(), timeout);
}

int shoal_lock_release(shoal_lock *lock)
{
  if (!lock)
    return SHOAL_EINVAL;
  return shoal__lockword_release(lock->lw, 0);
}

int shoal_lock_locked(shoal_lock *lock)
{
  if (!lock)
    return SHOAL_EINVAL;
  return atomic_load_explicit(&lock->lw->word, memory_order_relaxed) != 0;
}

int shoal_lock_consistent(shoal_lock *lock)
{
  if (!lock)
    return SHOAL_EINVAL;
  return shoal__lockword_consistent(lock->lw);
}
