// SPDX-License-Identifier: MIT
// Scenario 6: a timer runs a function once after an interval, and a second
// timer is cancelled before it fires (threading.Timer).
//
//   t = threading.Timer(0.2, hello); t.start()
//   u = threading.Timer(0.2, never); u.start(); u.cancel()
//   t.join(); u.join()
#include <stdio.h>
#include <time.h>

#include <shoal.h>

static int hello_calls, never_calls;

static void hello(void *arg)
{
  (void)arg;
  hello_calls++;
  printf("hello from %s, 0.2 s later\n", shoal_thread_name(shoal_current_thread()));
}

static void never(void *arg)
{
  (void)arg;
  never_calls++;
  printf("this must not print\n");
}

int main(void)
{
  shoal_timer *t, *u;
  struct timespec a, b;
  setvbuf(stdout, NULL, _IOLBF, 0);
  clock_gettime(CLOCK_MONOTONIC, &a);
  shoal_timer_create(&t, SHOAL_MSEC(200), hello, NULL);
  shoal_timer_create(&u, SHOAL_MSEC(200), never, NULL);
  shoal_timer_start(t);
  shoal_timer_start(u);
  int cancelled = shoal_timer_cancel(u); /* 1: it had not fired yet */
  printf("cancelled the second timer: %s\n", cancelled == 1 ? "yes" : "no");
  shoal_timer_join(t, SHOAL_SEC(5));
  shoal_timer_join(u, SHOAL_SEC(5));
  clock_gettime(CLOCK_MONOTONIC, &b);
  double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  shoal_timer_destroy(t);
  shoal_timer_destroy(u);
  int ok = hello_calls == 1 && never_calls == 0 && cancelled == 1 && took >= 0.2;
  printf("%s (%.2f s)\n", ok ? "ok" : "FAILED", took);
  return ok ? 0 : 1;
}
