// SPDX-License-Identifier: MIT
// Graceful shutdown: SIGINT/SIGTERM set a shoal Event; workers finish the
// item in hand, exit 0, and the parent joins them.
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "support.h"

#define WORKERS 3

static shoal_event *stop;

struct tally {
  _Atomic int started[WORKERS], finished[WORKERS];
};
static struct tally *tally;

static int worker(void *args, size_t len)
{
  (void)len;
  int me = *(int *)args;
  while (!shoal_event_is_set(stop)) {
    atomic_fetch_add(&tally->started[me], 1);
    sh_sleep_ms(20); /* an item of work: a signal here must not cut it short */
    atomic_fetch_add(&tally->finished[me], 1);
  }
  return 0;
}

static void run_workers(int use_sigint_on_child)
{
  shoal_process *p[WORKERS];
  int ids[WORKERS];
  tally = mmap(NULL, sizeof *tally, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(tally != MAP_FAILED);
  memset(tally, 0, sizeof *tally);
  SH_ASSERT_OK(shoal_event_create(&stop));
  SH_ASSERT_OK(shoal_shutdown_on_signals(stop));
  for (int i = 0; i < WORKERS; i++) {
    ids[i] = i;
    SH_ASSERT_OK(shoal_process_create(&p[i], worker, &ids[i], sizeof ids[i], NULL));
    SH_ASSERT_OK(shoal_process_start(p[i]));
  }
  sh_sleep_ms(100);
  if (use_sigint_on_child)
    kill(shoal_process_pid(p[1]), SIGINT); /* Ctrl-C reaching one child stops them all */
  else
    kill(getpid(), SIGTERM); /* the parent asked to stop */
  SH_ASSERT_OK(shoal_event_wait(stop, SHOAL_SEC(10)));
  for (int i = 0; i < WORKERS; i++) {
    int code;
    SH_ASSERT_OK(shoal_process_join(p[i], SHOAL_SEC(10)));
    SH_ASSERT_RC(shoal_process_exitcode(p[i], &code), 1);
    cr_assert_eq(code, 0, "worker %d ended with %d", i, code);
    cr_assert(atomic_load(&tally->started[i]) >= 1);
    cr_assert_eq(atomic_load(&tally->started[i]), atomic_load(&tally->finished[i]),
                 "worker %d abandoned an item", i);
    shoal_process_destroy(p[i]);
  }
  SH_ASSERT_OK(shoal_shutdown_on_signals(NULL));
  shoal_event_destroy(stop);
  munmap(tally, sizeof *tally);
}

SH_TEST(shutdown, sigterm_to_the_parent_stops_the_workers_cleanly)
{
  run_workers(0);
}

SH_TEST(shutdown, sigint_to_a_child_stops_every_worker)
{
  run_workers(1);
}

SH_TEST(shutdown, null_restores_the_default_actions)
{
  struct sigaction sa;
  SH_ASSERT_OK(shoal_event_create(&stop));
  SH_ASSERT_OK(shoal_shutdown_on_signals(stop));
  cr_assert(sigaction(SIGINT, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL);
  raise(SIGINT);
  SH_ASSERT_RC(shoal_event_is_set(stop), 1);
  SH_ASSERT_OK(shoal_shutdown_on_signals(NULL));
  cr_assert(sigaction(SIGINT, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL);
  cr_assert(sigaction(SIGTERM, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL);
  shoal_event_destroy(stop);
}
