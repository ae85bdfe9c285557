// SPDX-License-Identifier: MIT
// Timer: a Thread that sleeps on a state word until the interval passes or
// cancel() changes the word, then calls the function if nobody cancelled.
//
// Invariant: `state` leaves T_PENDING exactly once, by one CAS: to
// T_CANCELLED (cancel won) or T_FIRED (the timer thread won), so the
// function runs at most once and never after a successful cancel.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/deadline.h"
#include "process/internal.h"

enum { T_PENDING, T_CANCELLED, T_FIRED };

struct shoal_timer {
  shoal_thread *thread;
  _Atomic uint32_t state;
  shoal_duration interval;
  shoal_thread_target fn;
  void *arg;
};

static _Atomic unsigned timer_counter;

static void timer_main(void *arg)
{
  shoal_timer *t = arg;
  uint64_t deadline = shoal__plat_now() + (uint64_t)t->interval;
  while (atomic_load(&t->state) == T_PENDING)
    if (shoal__plat_wait(&t->state, T_PENDING, deadline) == SHOAL_ETIMEDOUT)
      break;
  uint32_t expected = T_PENDING;
  if (atomic_compare_exchange_strong(&t->state, &expected, T_FIRED))
    t->fn(t->arg);
}

int shoal_timer_create(shoal_timer **out, shoal_duration interval, shoal_thread_target fn,
                       void *arg)
{
  if (!out || !fn || interval < 0)
    return SHOAL_EINVAL;
  shoal_timer *t = calloc(1, sizeof *t);
  if (!t)
    return SHOAL_ENOMEM;
  char name[32];
  snprintf(name, sizeof name, "Timer-%u", atomic_fetch_add(&timer_counter, 1) + 1);
  int rc = shoal_thread_create(&t->thread, timer_main, t, &(shoal_thread_opts){.name = name});
  if (rc) {
    free(t);
    return rc;
  }
  atomic_init(&t->state, T_PENDING);
  t->interval = interval;
  t->fn = fn;
  t->arg = arg;
  *out = t;
  return 0;
}

int shoal_timer_start(shoal_timer *t)
{
  return t ? shoal_thread_start(t->thread) : SHOAL_EINVAL;
}

int shoal_timer_cancel(shoal_timer *t)
{
  if (!t)
    return SHOAL_EINVAL;
  uint32_t expected = T_PENDING;
  if (!atomic_compare_exchange_strong(&t->state, &expected, T_CANCELLED))
    return 0;
  shoal__plat_wake(&t->state, INT_MAX);
  return 1;
}

int shoal_timer_join(shoal_timer *t, shoal_duration timeout)
{
  return t ? shoal_thread_join(t->thread, timeout) : SHOAL_EINVAL;
}

int shoal_timer_is_alive(shoal_timer *t)
{
  return t ? shoal_thread_is_alive(t->thread) : SHOAL_EINVAL;
}

shoal_thread *shoal_timer_thread(shoal_timer *t)
{
  return t ? t->thread : NULL;
}

void shoal_timer_destroy(shoal_timer *t)
{
  if (!t)
    return;
  shoal_timer_cancel(t);
  /* A timer never started has no thread: the join returns at once. */
  shoal_thread_join(t->thread, SHOAL_FOREVER);
  shoal_thread_destroy(t->thread);
  free(t);
}
