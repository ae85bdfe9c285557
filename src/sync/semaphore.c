// SPDX-License-Identifier: MIT
// Semaphore and BoundedSemaphore: a count of free units in one futex word.
//
// Cross-process invariants: `value` is the number of free units and is only
// changed by CAS.  `sleepers` counts threads that may be asleep on `value`; a
// sleeper increments it before its last look at `value`, and a releaser looks
// at it after changing `value` (both sequentially consistent), so no wake-up
// is lost.  A sleeper killed in its sleep leaves `sleepers` one too high,
// which costs later releases a needless wake call and nothing else.
#include <limits.h>

#include "core/deadline.h"
#include "core/region.h"
#include "shoal/sync.h"

struct sem_state {
  _Atomic uint32_t value;
  _Atomic uint32_t sleepers;
  uint32_t bounded;
  uint32_t max; /* bounded: the initial value; else SHOAL_SEMAPHORE_MAX */
};

struct shoal_semaphore {
  struct shoal__region region;
  struct sem_state *st;
};

struct sem_init_arg {
  int value;
  bool bounded;
};

static int sem_init(void *payload, size_t size, void *arg)
{
  struct sem_state *st = payload;
  struct sem_init_arg *a = arg;
  (void)size;
  atomic_init(&st->value, (uint32_t)a->value);
  st->bounded = a->bounded;
  st->max = a->bounded ? (uint32_t)a->value : SHOAL_SEMAPHORE_MAX;
  return 0;
}

static int sem_handle(shoal_semaphore **out, struct shoal__region *r)
{
  shoal_semaphore *h = shoal__region_handle_new(sizeof *h, r);
  if (!h)
    return SHOAL_ENOMEM;
  h->st = shoal__region_payload(&h->region);
  *out = h;
  return 0;
}

static int sem_make(shoal_semaphore **out, const char *name, int value, bool bounded,
                    const shoal_open_opts *opts)
{
  struct shoal__region r;
  struct sem_init_arg a = {value, bounded};
  if (!out || value < 0)
    return SHOAL_EINVAL;
  int rc = name ? shoal__region_open(&r, name, SHOAL__TYPE_SEMAPHORE, sizeof(struct sem_state),
                                     sizeof(struct sem_state), opts, sem_init, &a)
                : shoal__region_create(&r, SHOAL__TYPE_SEMAPHORE, sizeof(struct sem_state),
                                       sem_init, &a);
  return rc ? rc : sem_handle(out, &r);
}

int shoal_semaphore_create(shoal_semaphore **out, int value)
{
  return sem_make(out, NULL, value, false, NULL);
}

int shoal_bounded_semaphore_create(shoal_semaphore **out, int value)
{
  return sem_make(out, NULL, value, true, NULL);
}

int shoal_semaphore_open(shoal_semaphore **out, const char *name, int value,
                         const shoal_open_opts *opts)
{
  return name ? sem_make(out, name, value, false, opts) : SHOAL_EINVAL;
}

int shoal_bounded_semaphore_open(shoal_semaphore **out, const char *name, int value,
                                 const shoal_open_opts *opts)
{
  return name ? sem_make(out, name, value, true, opts) : SHOAL_EINVAL;
}

void shoal_semaphore_destroy(shoal_semaphore *sem)
{
  shoal__region_handle_free(sem);
}

void shoal_semaphore_close(shoal_semaphore *sem)
{
  shoal__region_handle_free(sem);
}

/* Takes one unit if there is one. */
static bool try_take(struct sem_state *st)
{
  uint32_t v = atomic_load_explicit(&st->value, memory_order_relaxed);
  while (v > 0) {
    if (atomic_compare_exchange_weak_explicit(&st->value, &v, v - 1, memory_order_acquire,
                                              memory_order_relaxed))
      return true;
  }
  return false;
}

int shoal_semaphore_acquire(shoal_semaphore *sem, shoal_duration timeout)
{
  shoal__deadline d;
  if (!sem)
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  struct sem_state *st = sem->st;
  for (;;) {
    if (try_take(st))
      return 0;
    if (d.nowait)
      return SHOAL_EAGAIN;
    atomic_fetch_add(&st->sleepers, 1);
    rc = shoal__deadline_wait(&st->value, 0, &d);
    atomic_fetch_sub(&st->sleepers, 1);
    if (rc == SHOAL_ETIMEDOUT)
      return try_take(st) ? 0 : SHOAL_ETIMEDOUT;
  }
}

int shoal_semaphore_release(shoal_semaphore *sem, int n)
{
  if (!sem || n < 1)
    return SHOAL_EINVAL;
  struct sem_state *st = sem->st;
  uint32_t v = atomic_load_explicit(&st->value, memory_order_relaxed);
  do {
    if ((uint64_t)v + (uint64_t)n > st->max)
      return st->bounded ? SHOAL_EOVERRELEASE : SHOAL_EOVERFLOW;
  } while (!atomic_compare_exchange_weak(&st->value, &v, v + (uint32_t)n));
  if (atomic_load(&st->sleepers) > 0)
    shoal__plat_wake(&st->value, n);
  return 0;
}

int shoal_semaphore_value(shoal_semaphore *sem)
{
  if (!sem)
    return SHOAL_EINVAL;
  return (int)atomic_load_explicit(&sem->st->value, memory_order_relaxed);
}
