// SPDX-License-Identifier: MIT
// sync_helper: an unrelated process for the sync tests.  It opens named
// objects by name and does one thing, printing each result as an error name
// (or a number) on its own line:
//   lock-hold NAME            acquire, print "held", wait to be killed
//   lock-acquire NAME MS      acquire (print rc); release if acquired
//   lock-release NAME         print the release's rc
//   lock-counter LOCK SHM N   N increments of a counter in raw shm SHM under LOCK
//   rlock-hold NAME           acquire twice, print "held", wait to be killed
//   rlock-release NAME        print the release's rc
//   sem-acquire NAME MS       print the acquire's rc
//   sem-release NAME N        print the release's rc
//   event-wait NAME MS        print "waiting", then the wait's rc
//   event-set NAME            set, print rc
//   cond-wait NAME MS         under the lock: print "waiting", wait, print rc
//   cond-notify NAME N        under the lock: notify N, print how many woke
//   barrier-wait NAME P MS    print "waiting", then the wait's result
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <shoal.h>

static void say(const char *s)
{
  printf("%s\n", s);
  fflush(stdout);
}

static void say_rc(int rc)
{
  if (rc >= 0)
    printf("%d\n", rc);
  else
    printf("%s\n", shoal_err_name(rc));
  fflush(stdout);
}

static int opened(int rc)
{
  if (rc) {
    say_rc(rc);
    exit(1);
  }
  return 0;
}

static shoal_duration ms(const char *s)
{
  long v = strtol(s, NULL, 10);
  return v < 0 ? SHOAL_FOREVER : SHOAL_MSEC(v);
}

int main(int argc, char **argv)
{
  if (argc < 3)
    return 2;
  const char *cmd = argv[1], *name = argv[2];

  if (!strcmp(cmd, "lock-hold") || !strcmp(cmd, "lock-acquire") ||
      !strcmp(cmd, "lock-release")) {
    shoal_lock *l;
    opened(shoal_lock_open(&l, name, NULL));
    if (!strcmp(cmd, "lock-release")) {
      say_rc(shoal_lock_release(l));
      return 0;
    }
    int rc = shoal_lock_acquire(l, argc > 3 ? ms(argv[3]) : SHOAL_FOREVER);
    if (!strcmp(cmd, "lock-hold")) {
      say(rc == 0 ? "held" : shoal_err_name(rc));
      for (;;)
        pause();
    }
    say_rc(rc);
    if (rc == SHOAL_EOWNERDEAD)
      shoal_lock_consistent(l);
    if (rc == 0 || rc == SHOAL_EOWNERDEAD)
      shoal_lock_release(l);
    return 0;
  }
  if (!strcmp(cmd, "lock-counter") && argc == 5) {
    shoal_lock *l;
    opened(shoal_lock_open(&l, name, NULL));
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/%s", argv[3]);
    int fd = open(path, O_RDWR);
    if (fd < 0)
      return 3;
    long *counter = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    long n = strtol(argv[4], NULL, 10);
    for (long i = 0; i < n; i++) {
      shoal_lock_acquire(l, SHOAL_FOREVER);
      long v = *(volatile long *)counter;
      *(volatile long *)counter = v + 1;
      shoal_lock_release(l);
    }
    say("done");
    return 0;
  }
  if (!strcmp(cmd, "rlock-hold") || !strcmp(cmd, "rlock-release")) {
    shoal_rlock *r;
    opened(shoal_rlock_open(&r, name, NULL));
    if (!strcmp(cmd, "rlock-release")) {
      say_rc(shoal_rlock_release(r));
      return 0;
    }
    shoal_rlock_acquire(r, SHOAL_FOREVER);
    say_rc(shoal_rlock_acquire(r, SHOAL_FOREVER) == 0 ? 0 : -1);
    say("held");
    for (;;)
      pause();
  }
  if (!strcmp(cmd, "sem-acquire") || !strcmp(cmd, "sem-release")) {
    shoal_semaphore *s;
    opened(shoal_semaphore_open(&s, name, 0, NULL));
    if (!strcmp(cmd, "sem-acquire"))
      say_rc(shoal_semaphore_acquire(s, argc > 3 ? ms(argv[3]) : SHOAL_FOREVER));
    else
      say_rc(shoal_semaphore_release(s, argc > 3 ? atoi(argv[3]) : 1));
    return 0;
  }
  if (!strcmp(cmd, "event-wait") || !strcmp(cmd, "event-set")) {
    shoal_event *e;
    opened(shoal_event_open(&e, name, NULL));
    if (!strcmp(cmd, "event-set")) {
      say_rc(shoal_event_set(e));
      return 0;
    }
    say("waiting");
    say_rc(shoal_event_wait(e, argc > 3 ? ms(argv[3]) : SHOAL_FOREVER));
    return 0;
  }
  if (!strcmp(cmd, "cond-wait") || !strcmp(cmd, "cond-notify")) {
    shoal_condition *c;
    opened(shoal_condition_open(&c, name, NULL, NULL, NULL));
    shoal_condition_acquire(c, SHOAL_FOREVER);
    if (!strcmp(cmd, "cond-wait")) {
      say("waiting");
      say_rc(shoal_condition_wait(c, argc > 3 ? ms(argv[3]) : SHOAL_FOREVER));
    } else {
      say_rc(shoal_condition_notify(c, argc > 3 ? atoi(argv[3]) : 1));
    }
    shoal_condition_release(c);
    return 0;
  }
  if (!strcmp(cmd, "barrier-wait") && argc == 5) {
    shoal_barrier *b;
    opened(shoal_barrier_open(&b, name, atoi(argv[3]), NULL, NULL));
    say("waiting");
    say_rc(shoal_barrier_wait(b, ms(argv[4])));
    return 0;
  }
  return 2;
}
