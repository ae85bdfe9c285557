// SPDX-License-Identifier: MIT
// Waiting and waking on a 32-bit word with futex(2).  Words may live in memory
// shared between processes, so the shared (non-PRIVATE) operations are used.
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "platform/platform.h"
#include "shoal/common.h"

uint64_t shoal__plat_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int shoal__plat_wait(_Atomic uint32_t *word, uint32_t seen, uint64_t deadline)
{
  struct timespec ts, *tsp = NULL;

  if (deadline != SHOAL__PLAT_NEVER) {
    if (shoal__plat_now() >= deadline)
      return SHOAL_ETIMEDOUT;
    ts.tv_sec = (time_t)(deadline / 1000000000u);
    ts.tv_nsec = (long)(deadline % 1000000000u);
    tsp = &ts;
  }
  /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so an EINTR
   * retry by the caller never stretches the wait. */
  long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET, seen, tsp, NULL,
                    FUTEX_BITSET_MATCH_ANY);
  if (rc == -1 && errno == ETIMEDOUT)
    return SHOAL_ETIMEDOUT;
  return 0; /* woken, EAGAIN (word changed) or EINTR: the caller re-checks */
}

int shoal__plat_wake(_Atomic uint32_t *word, int n)
{
  long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n, NULL, NULL, 0);
  return rc < 0 ? 0 : (int)rc;
}
