// SPDX-License-Identifier: MIT
// Event: one word holding the flag (bit 0) and a count of set() calls that
// found it unset (the bits above); waiters sleep on the word.
//
// Cross-process invariants: a waiter that saw the word unset returns success
// as soon as the count moved on, even if clear() came right after the set()
// (as Python's Event, whose waiters are notified by set()).  `sleepers` is
// raised before a waiter's last look at the word and read by set() after it
// changes the word, both sequentially consistent, so no set() misses a
// sleeper.
#include <limits.h>

#include "core/deadline.h"
#include "core/region.h"
#include "shoal/sync.h"

struct event_state {
  _Atomic uint32_t word;
  _Atomic uint32_t sleepers;
};

struct shoal_event {
  struct shoal__region region;
  struct event_state *st;
};

static int event_handle(shoal_event **out, struct shoal__region *r)
{
  shoal_event *h = shoal__region_handle_new(sizeof *h, r);
  if (!h)
    return SHOAL_ENOMEM;
  h->st = shoal__region_payload(&h->region);
  *out = h;
  return 0;
}

int shoal_event_create(shoal_event **out)
{
  struct shoal__region r;
  if (!out)
    return SHOAL_EINVAL;
  int rc = shoal__region_create(&r, SHOAL__TYPE_EVENT, sizeof(struct event_state), NULL, NULL);
  return rc ? rc : event_handle(out, &r);
}

int shoal_event_open(shoal_event **out, const char *name, const shoal_open_opts *opts)
{
  struct shoal__region r;
  if (!out)
    return SHOAL_EINVAL;
  int rc = shoal__region_open(&r, name, SHOAL__TYPE_EVENT, sizeof(struct event_state),
                              sizeof(struct event_state), opts, NULL, NULL);
  return rc ? rc : event_handle(out, &r);
}

void shoal_event_destroy(shoal_event *ev)
{
  shoal__region_handle_free(ev);
}

void shoal_event_close(shoal_event *ev)
{
  shoal__region_handle_free(ev);
}

int shoal_event_set(shoal_event *ev)
{
  if (!ev)
    return SHOAL_EINVAL;
  struct event_state *st = ev->st;
  uint32_t w = atomic_load(&st->word);
  do {
    if (w & 1)
      return 0;
  } while (!atomic_compare_exchange_weak(&st->word, &w, (w + 2) | 1));
  if (atomic_load(&st->sleepers) > 0)
    shoal__plat_wake(&st->word, INT_MAX);
  return 0;
}

int shoal_event_clear(shoal_event *ev)
{
  if (!ev)
    return SHOAL_EINVAL;
  atomic_fetch_and(&ev->st->word, ~1u);
  return 0;
}

int shoal_event_is_set(shoal_event *ev)
{
  if (!ev)
    return SHOAL_EINVAL;
  return atomic_load_explicit(&ev->st->word, memory_order_acquire) & 1;
}

int shoal_event_wait(shoal_event *ev, shoal_duration timeout)
{
  shoal__deadline d;
  if (!ev)
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  struct event_state *st = ev->st;
  uint32_t seen = atomic_load_explicit(&st->word, memory_order_acquire);
  if (seen & 1)
    return 0;
  if (d.nowait)
    return SHOAL_EAGAIN;
  atomic_fetch_add(&st->sleepers, 1);
  /* Any change of the word after we saw it unset is a set(). */
  while (atomic_load(&st->word) == seen) {
    if (shoal__deadline_wait(&st->word, seen, &d) == SHOAL_ETIMEDOUT) {
      rc = atomic_load(&st->word) != seen ? 0 : SHOAL_ETIMEDOUT;
      break;
    }
  }
  atomic_fetch_sub(&st->sleepers, 1);
  return rc;
}
