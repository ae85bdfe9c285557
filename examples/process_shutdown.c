// SPDX-License-Identifier: MIT
// Scenario 21: graceful shutdown.  SIGINT/SIGTERM set a shoal Event that the
// workers watch; each finishes the item in hand and exits 0; the parent
// joins them.  Here a Timer plays the user pressing Ctrl-C after 0.3 s.
//
//   stop = multiprocessing.Event()
//   signal.signal(signal.SIGINT, lambda *a: stop.set())
//   def worker(stop):
//       while not stop.is_set(): do_one_item()
//   ... p.join() for each worker
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <shoal.h>

#define WORKERS 3

static shoal_event *stop;
static int *done; /* items finished per worker, in shared memory */

static int worker(void *args, size_t len)
{
  (void)len;
  int me = *(int *)args;
  while (!shoal_event_is_set(stop)) {
    nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL); /* one item: 50 ms */
    done[me]++;
  }
  printf("  %s: stop requested, finished %d items, exiting 0\n",
         shoal_process_name(shoal_current_process()), done[me]);
  return 0;
}

static void press_ctrl_c(void *arg)
{
  (void)arg;
  printf("parent: SIGINT\n");
  kill(getpid(), SIGINT);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  done = mmap(NULL, sizeof(int) * WORKERS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
              0);
  if (done == MAP_FAILED || shoal_event_create(&stop) != 0)
    return 1;
  shoal_shutdown_on_signals(stop); /* children inherit it: Ctrl-C reaches them too */
  shoal_process *w[WORKERS];
  int ids[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    ids[i] = i;
    shoal_process_create(&w[i], worker, &ids[i], sizeof ids[i], NULL);
    shoal_process_start(w[i]);
  }
  shoal_timer *t;
  shoal_timer_create(&t, SHOAL_MSEC(300), press_ctrl_c, NULL);
  shoal_timer_start(t);
  shoal_event_wait(stop, SHOAL_SEC(10));
  int ok = 1;
  for (int i = 0; i < WORKERS; i++) {
    int code = -1;
    ok = ok && shoal_process_join(w[i], SHOAL_SEC(10)) == 0;
    shoal_process_exitcode(w[i], &code);
    ok = ok && code == 0 && done[i] >= 1;
    shoal_process_destroy(w[i]);
  }
  shoal_timer_destroy(t);
  shoal_shutdown_on_signals(NULL);
  shoal_event_destroy(stop);
  printf("parent: all workers joined\n%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
