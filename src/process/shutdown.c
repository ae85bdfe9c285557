// SPDX-License-Identifier: MIT
// Graceful shutdown: SIGINT and SIGTERM set a shoal Event instead of killing
// the process.  shoal_event_set is one atomic read-modify-write and a futex
// wake, both async-signal-safe, so the handler may call it.
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>

#include "shoal/process.h"

static shoal_event *_Atomic shutdown_event;

static void on_signal(int sig)
{
  (void)sig;
  shoal_event *ev = atomic_load(&shutdown_event);
  if (ev)
    shoal_event_set(ev);
}

int shoal_shutdown_on_signals(shoal_event *ev)
{
  struct sigaction sa = {0};
  sigemptyset(&sa.sa_mask);
  if (ev) {
    atomic_store(&shutdown_event, ev);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
  } else {
    sa.sa_handler = SIG_DFL;
  }
  if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
    return SHOAL_EINVAL;
  if (!ev)
    atomic_store(&shutdown_event, NULL);
  return 0;
}
