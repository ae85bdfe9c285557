// SPDX-License-Identifier: MIT
// RLock: a robust reentrant mutex owned by one thread at a time.

#include "sync/handles.h"

int shoal__rlock_state_acquire(struct shoal__rlock_state *st, shoal_duration timeout)
{
  uint64_t stamp = shoal__plat_stamp();
  if (shoal__lockword_held_by(&st->lw, stamp)) {
    if (st->count >= (uint32_t)INT32_MAX)
      return SHOAL_EOVERFLOW;
    st->count++;
    return 0;
  }
  int rc = shoal__lockword_acquire(&st->lw, stamp, timeout);
  if (rc == 0 || rc == SHOAL_EOWNERDEAD)
    st->count = 1;
  return rc;
}

int shoal__rlock_state_release(struct shoal__rlock_state *st)
{
  uint64_t me = shoal__plat_stamp();
  if (!shoal__lockword_held_by(&st->lw, me))
    return SHOAL_EPERM;
  if (--st->count > 0)
    return 0;
  return shoal__lockword_release(&st->lw, me);
}

static int rlock_from_region(shoal_rlock **out, struct shoal__region *r)
{
  shoal_rlock *h = shoal__region_handle_new(sizeof *h, r);
  if (!h)
    return SHOAL_ENOMEM;
  h->st = shoal__region_payload(&h->region);
  *out = h;
  return 0;
}

int shoal_rlock_create(shoal_rlock **out)
{
  struct shoal__region r;
  if (!out)
    return SHOAL_EINVAL;
  int rc =
      shoal__region_create(&r, SHOAL__TYPE_RLOCK, sizeof(struct shoal__rlock_state), NULL, NULL);
  return rc ? rc : rlock_from_region(out, &r);
}

int shoal_rlock_open(shoal_rlock **out, const char *name, const shoal_open_opts *opts)
{
  struct shoal__region r;
  if (!out)
    return SHOAL_EINVAL;
  int rc = shoal__region_open(&r, name, SHOAL__TYPE_RLOCK, sizeof(struct shoal__rlock_state),
                              sizeof(struct shoal__rlock_state), opts, NULL, NULL);
  return rc ? rc : rlock_from_region(out, &r);
}

void shoal_rlock_destroy(shoal_rlock *rlock)
{
  shoal__region_handle_free(rlock);
}

void shoal_rlock_close(shoal_rlock *rlock)
{
  shoal_rlock_destroy(rlock);
}

int shoal_rlock_acquire(shoal_rlock *rlock, shoal_duration timeout)
{
  return rlock ? shoal__rlock_state_acquire(rlock->st, timeout) : SHOAL_EINVAL;
}

int shoal_rlock_release(shoal_rlock *rlock)
{
  return rlock ? shoal__rlock_state_release(rlock->st) : SHOAL_EINVAL;
}

int shoal_rlock_is_owned(shoal_rlock *rlock)
{
  if (!rlock)
    return SHOAL_EINVAL;
  return shoal__lockword_held_by(&rlock->st->lw, shoal__plat_stamp());
}

int shoal_rlock_count(shoal_rlock *rlock)
{
  if (!rlock)
    return SHOAL_EINVAL;
  if (!shoal__lockword_held_by(&rlock->st->lw, shoal__plat_stamp()))
    return 0;
  return (int)rlock->st->count;
}

int shoal_rlock_consistent(shoal_rlock *rlock)
{
  return rlock ? shoal__lockword_consistent(&rlock->st->lw) : SHOAL_EINVAL;
}
