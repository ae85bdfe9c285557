// SPDX-License-Identifier: MIT
// Scenario 8: Process(target, args) — start, join, names, pids, exit codes,
// a daemon child, terminate; the spawn start method; and custom process
// "classes" (a Producer and a Consumer with run methods) talking through a
// pipe.
//
//   def square(n): sys.exit(n * n)
//   ps = [Process(target=square, args=(i,)) for i in range(1, 4)]
//   for p in ps: p.start()
//   for p in ps: p.join(); print(p.name, p.pid, p.exitcode)
//   d = Process(target=time.sleep, args=(60,), daemon=True); d.start()
//   d.terminate(); d.join(); print(d.exitcode)         # -15
//   class Producer(Process):
//       def run(self): ...
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <shoal.h>

static int square(void *args, size_t len)
{
  (void)len;
  int n = *(int *)args;
  printf("  %s (pid %d) squares %d\n", shoal_process_name(shoal_current_process()), (int)getpid(),
         n);
  return n * n;
}
SHOAL_ENTRY(square) /* so that the spawn method can run it too */

static int nap(void *args, size_t len)
{
  (void)args;
  (void)len;
  sleep(60);
  return 0;
}

/* Process "classes": the argument block is the object, run is its method. */
struct producer {
  int write_fd, items;
};

static int producer_run(void *self, size_t len)
{
  (void)len;
  struct producer *p = self;
  for (int i = 1; i <= p->items; i++)
    if (write(p->write_fd, &i, sizeof i) != sizeof i)
      return 1;
  close(p->write_fd);
  return 0;
}

struct consumer {
  int read_fd, write_fd;
};

static int consumer_run(void *self, size_t len)
{
  (void)len;
  struct consumer *c = self;
  int item, sum = 0;
  close(c->write_fd); /* our copy of the write end, or read() never sees EOF */
  while (read(c->read_fd, &item, sizeof item) == sizeof item)
    sum += item;
  printf("  Consumer got items summing to %d\n", sum);
  return sum == 55 ? 0 : 1;
}

static int start_join(shoal_process *p)
{
  int code = -1;
  if (shoal_process_start(p) != 0 || shoal_process_join(p, SHOAL_SEC(10)) != 0)
    return -1;
  shoal_process_exitcode(p, &code);
  return code;
}

int main(void)
{
  shoal_spawn_main(); /* first thing: a spawn child enters its target here */
  setvbuf(stdout, NULL, _IOLBF, 0);
  int ok = 1;
  shoal_process_set_reporting(0); /* the exit codes below are results, not failures */

  printf("three workers (fork):\n");
  shoal_process *ps[3];
  for (int i = 0; i < 3; i++) {
    int n = i + 1;
    shoal_process_create(&ps[i], square, &n, sizeof n, NULL);
    shoal_process_start(ps[i]);
  }
  for (int i = 0; i < 3; i++) {
    int code;
    shoal_process_join(ps[i], SHOAL_SEC(10));
    shoal_process_exitcode(ps[i], &code);
    printf("  %s pid=%d exitcode=%d\n", shoal_process_name(ps[i]), shoal_process_pid(ps[i]), code);
    ok = ok && code == (i + 1) * (i + 1);
    shoal_process_destroy(ps[i]);
  }

  printf("one worker (spawn: a fresh copy of this program):\n");
  shoal_process *s;
  int seven = 7;
  shoal_process_create(&s, square, &seven, sizeof seven,
                       &(shoal_process_opts){.name = "Spawned", .start_method = SHOAL_START_SPAWN});
  int code = start_join(s);
  printf("  Spawned exitcode=%d\n", code);
  ok = ok && code == 49;
  shoal_process_destroy(s);

  shoal_process *d;
  shoal_process_create(&d, nap, NULL, 0, &(shoal_process_opts){.name = "Sleeper"});
  shoal_process_set_daemon(d, 1);
  shoal_process_start(d);
  printf("daemon %s alive: %d\n", shoal_process_name(d), shoal_process_is_alive(d));
  shoal_process_terminate(d);
  shoal_process_join(d, SHOAL_SEC(10));
  shoal_process_exitcode(d, &code);
  printf("terminated: exitcode=%d (-SIGTERM)\n", code);
  ok = ok && code == -SIGTERM;
  shoal_process_destroy(d);

  printf("producer and consumer:\n");
  int fds[2];
  if (pipe(fds) != 0)
    return 1;
  struct producer prod = {fds[1], 10};
  struct consumer cons = {fds[0], fds[1]};
  shoal_process *pp, *pc;
  shoal_process_create(&pp, producer_run, &prod, sizeof prod,
                       &(shoal_process_opts){.name = "Producer"});
  shoal_process_create(&pc, consumer_run, &cons, sizeof cons,
                       &(shoal_process_opts){.name = "Consumer"});
  shoal_process_start(pp);
  shoal_process_start(pc);
  close(fds[0]);
  close(fds[1]);
  int cp = -1, cc = -1;
  shoal_process_join(pp, SHOAL_SEC(10));
  shoal_process_join(pc, SHOAL_SEC(10));
  shoal_process_exitcode(pp, &cp);
  shoal_process_exitcode(pc, &cc);
  ok = ok && cp == 0 && cc == 0;
  shoal_process_destroy(pp);
  shoal_process_destroy(pc);

  puts(ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
