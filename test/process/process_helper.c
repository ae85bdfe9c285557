// SPDX-License-Identifier: MIT
// process_helper: a program with a real main() for the process tests — it
// starts children the way an application does and prints one line per fact:
//   orphans METHOD       start a daemon and a non-daemon child (both sleep),
//                        print "DAEMON_PID OTHER_PID", then sleep until killed
//   thread-orphan METHOD start a daemon child (it sleeps) from a thread that
//                        then ends; 0.3 s later print "DAEMON_PID alive" (or
//                        "dead"), then sleep until killed
//   exit-cleanup METHOD  start a daemon child that sleeps and a non-daemon
//                        child that prints "worker done" after 0.2 s; print
//                        "DAEMON_PID OTHER_PID" and return from main: at exit
//                        shoal terminates the daemon and joins the other
//   spawn-unguarded      (run with HELPER_UNGUARDED=1) start a spawn child of a
//                        program whose main() lacks shoal_spawn_main(); print
//                        the child's exit code and report
//   spawn-closed FDS     close the fds listed in FDS ("0", "12", "012"; the
//                        reports go to a copy of stdout), start a spawn
//                        child that writes "entered open=XYZ" (which of its
//                        fds 0-2 are open, '-' for closed) and returns 42;
//                        print "exitcode N"
//   hello                print "main ran" (run with a bogus SHOAL_SPAWN: a
//                        spawn child that cannot find its status block must
//                        not run main())
// METHOD is fork or spawn.
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shoal.h>

static int nap(void *args, size_t len)
{
  (void)len;
  int ms = args ? *(int *)args : 30000;
  usleep((useconds_t)ms * 1000);
  if (ms < 30000)
    printf("worker done\n");
  fflush(stdout);
  return 0;
}
SHOAL_ENTRY(nap)

static int stdio_report(void *args, size_t len)
{
  (void)len;
  int fd = *(int *)args;
  char line[32];
  snprintf(line, sizeof line, "entered open=%c%c%c\n", fcntl(0, F_GETFD) != -1 ? '0' : '-',
           fcntl(1, F_GETFD) != -1 ? '1' : '-', fcntl(2, F_GETFD) != -1 ? '2' : '-');
  return write(fd, line, strlen(line)) > 0 ? 42 : 1;
}
SHOAL_ENTRY(stdio_report)

static int spawn_closed(const char *fds)
{
  /* The report fd is inherited by the child: not close-on-exec, above 2. */
  int report = fcntl(STDOUT_FILENO, F_DUPFD, 10);
  if (report < 0)
    return 1;
  for (const char *c = fds; *c; c++)
    close(*c - '0');
  shoal_process_set_reporting(0); /* exit code 42 is what we expect */
  shoal_process *p;
  int code = -1;
  int rc = shoal_process_create(&p, stdio_report, &report, sizeof report,
                                &(shoal_process_opts){.start_method = SHOAL_START_SPAWN,
                                                      .pass_fds = &report,
                                                      .n_pass_fds = 1});
  if (!rc)
    rc = shoal_process_start(p);
  if (!rc)
    rc = shoal_process_join(p, SHOAL_SEC(20));
  if (!rc)
    shoal_process_exitcode(p, &code);
  dprintf(report, "exitcode %d (%s)\n", code, shoal_err_name(rc));
  shoal_process_destroy(p);
  return 0;
}

static shoal_process *start(int method, int daemon, int ms)
{
  shoal_process *p;
  int rc = shoal_process_create(&p, nap, &ms, sizeof ms,
                                &(shoal_process_opts){.start_method = method});
  if (!rc)
    rc = shoal_process_set_daemon(p, daemon);
  if (!rc)
    rc = shoal_process_start(p);
  if (rc) {
    printf("start: %s\n", shoal_err_name(rc));
    exit(1);
  }
  return p;
}

struct thread_start {
  int method;
  shoal_process *p;
};

static void *start_from_thread(void *arg)
{
  struct thread_start *t = arg;
  t->p = start(t->method, 1, 30000);
  usleep(200000); /* the child has armed its parent-death signal by now */
  return NULL;
}

int main(int argc, char **argv)
{
  if (!getenv("HELPER_UNGUARDED"))
    shoal_spawn_main();
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    /* Only a spawn child of an unguarded program gets here. */
    shoal_process *p = NULL;
    int rc = shoal_process_create(&p, nap, NULL, 0, NULL);
    if (!rc)
      rc = shoal_process_start(p);
    printf("child start: %s\n", shoal_err_name(rc));
    shoal_process_destroy(p);
    return 3;
  }
  int method = argc > 2 && !strcmp(argv[2], "spawn") ? SHOAL_START_SPAWN : SHOAL_START_FORK;
  if (!strcmp(argv[1], "orphans")) {
    shoal_process *d = start(method, 1, 30000), *o = start(method, 0, 30000);
    printf("%d %d\n", shoal_process_pid(d), shoal_process_pid(o));
    pause();
    return 0;
  }
  if (!strcmp(argv[1], "thread-orphan")) {
    /* Linux signals a child when the *thread* that forked it ends: a daemon
     * child must outlive that thread, and die only with this process. */
    struct thread_start t = {method, NULL};
    pthread_t th;
    if (pthread_create(&th, NULL, start_from_thread, &t) != 0 || pthread_join(th, NULL) != 0)
      return 1;
    usleep(300000);
    printf("%d %s\n", shoal_process_pid(t.p), shoal_process_is_alive(t.p) == 1 ? "alive" : "dead");
    pause();
    return 0;
  }
  if (!strcmp(argv[1], "exit-cleanup")) {
    shoal_process *d = start(method, 1, 30000), *o = start(method, 0, 200);
    printf("%d %d\n", shoal_process_pid(d), shoal_process_pid(o));
    /* Still running: shoal keeps watching them until exit. */
    shoal_process_destroy(d);
    shoal_process_destroy(o);
    return 0;
  }
  if (!strcmp(argv[1], "spawn-closed"))
    return spawn_closed(argc > 2 ? argv[2] : "");
  if (!strcmp(argv[1], "hello")) {
    printf("main ran\n");
    return 0;
  }
  if (!strcmp(argv[1], "spawn-unguarded")) {
    shoal_process *p = start(SHOAL_START_SPAWN, 0, 0);
    int code = 0;
    shoal_process_set_reporting(0);
    shoal_process_join(p, SHOAL_SEC(20));
    shoal_process_exitcode(p, &code);
    printf("exitcode %d\n%s\n", code, shoal_process_error(p) ? shoal_process_error(p) : "(none)");
    shoal_process_destroy(p);
    return 0;
  }
  return 2;
}
