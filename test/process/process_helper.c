// SPDX-License-Identifier: MIT
// process_helper: a program with a real main() for the process tests — it
// starts children the way an application does and prints one line per fact:
//   orphans METHOD       start a daemon and a non-daemon child (both sleep),
//                        print "DAEMON_PID OTHER_PID", then sleep until killed
//   exit-cleanup METHOD  start a daemon child that sleeps and a non-daemon
//                        child that prints "worker done" after 0.2 s; print
//                        "DAEMON_PID OTHER_PID" and return from main: at exit
//                        shoal terminates the daemon and joins the other
//   spawn-unguarded      (run with HELPER_UNGUARDED=1) start a spawn child of a
//                        program whose main() lacks shoal_spawn_main(); print
//                        the child's exit code and report
// METHOD is fork or spawn.
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
  if (!strcmp(argv[1], "exit-cleanup")) {
    shoal_process *d = start(method, 1, 30000), *o = start(method, 0, 200);
    printf("%d %d\n", shoal_process_pid(d), shoal_process_pid(o));
    /* Still running: shoal keeps watching them until exit. */
    shoal_process_destroy(d);
    shoal_process_destroy(o);
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
