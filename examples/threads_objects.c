// SPDX-License-Identifier: MIT
// Scenario 4: Thread objects — a name, current_thread(), active_count(), a
// thread started from a function and one from a "subclass" (a struct holding
// its thread and a run callback), a daemon thread that does not hold up the
// program's exit, and join.
//
//   def greet(n): print(threading.current_thread().name, "says hello", n)
//   class Counter(threading.Thread):
//       def __init__(self, n): super().__init__(name="Counter"); self.n = n
//       def run(self): self.total = sum(range(1, self.n + 1))
//   t = threading.Thread(target=greet, args=(1,)); c = Counter(100)
//   d = threading.Thread(target=forever, daemon=True)
//   t.start(); c.start(); d.start(); print(threading.active_count())
//   t.join(); c.join()
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <shoal.h>

static void greet(void *arg)
{
  printf("%s says hello %d\n", shoal_thread_name(shoal_current_thread()), *(int *)arg);
}

/* The "subclass": a struct that embeds its thread and has a run method. */
struct counter {
  shoal_thread *thread;
  int n;
  long total;
};

static void counter_run(void *self)
{
  struct counter *c = self;
  for (int i = 1; i <= c->n; i++)
    c->total += i;
  printf("%s counted to %d: total %ld\n", shoal_thread_name(c->thread), c->n, c->total);
}

static void forever(void *arg)
{
  (void)arg;
  for (;;)
    pause(); /* a daemon: the program exits without waiting for it */
}

int main(void)
{
  int one = 1;
  shoal_thread *t, *d;
  struct counter c = {.n = 100};
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("main thread: %s\n", shoal_thread_name(shoal_current_thread()));

  shoal_thread_create(&t, greet, &one, NULL); /* named Thread-1 */
  shoal_thread_create(&c.thread, counter_run, &c, &(shoal_thread_opts){.name = "Counter"});
  shoal_thread_create(&d, forever, NULL, &(shoal_thread_opts){.name = "Daemon"});
  shoal_thread_set_daemon(d, 1);
  shoal_thread_start(t);
  shoal_thread_start(c.thread);
  shoal_thread_start(d);
  printf("active threads: %d\n", shoal_active_count());

  int ok = shoal_thread_join(t, SHOAL_SEC(5)) == 0 && shoal_thread_join(c.thread, SHOAL_SEC(5)) == 0;
  ok = ok && c.total == 5050 && shoal_thread_is_alive(d) == 1;
  ok = ok && strcmp(shoal_thread_name(t), "Thread-1") == 0;
  /* What Python does before exiting: wait for non-daemon threads only. */
  ok = ok && shoal_thread_join_all(SHOAL_SEC(5)) == 0;
  printf("joined; the daemon thread is still running: %s\n",
         shoal_thread_is_alive(d) ? "yes" : "no");
  shoal_thread_destroy(t);
  shoal_thread_destroy(c.thread);
  shoal_thread_destroy(d);
  puts(ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
