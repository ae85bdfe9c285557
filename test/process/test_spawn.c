// SPDX-License-Identifier: MIT
// The spawn start method (fork+exec of this test program, entering targets
// registered with SHOAL_ENTRY), and what a real program's main() sees:
// daemon children dying with a parent killed -9, clean-up at exit, and the
// guard against a main() that lacks shoal_spawn_main().
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

/* Criterion owns main(): enter spawn children from a constructor. */
SHOAL_SPAWN_MAIN_CONSTRUCTOR

static int parent_marker; /* set by the parent; a spawn child starts fresh */
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static int sp_sum(void *args, size_t len)
{
  int *v = args, s = 0;
  for (size_t i = 0; i < len / sizeof(int); i++)
    s += v[i];
  return s;
}
SHOAL_ENTRY(sp_sum)

static int sp_identity(void *args, size_t len)
{
  (void)len;
  shoal_process *me = shoal_current_process(), *parent = shoal_parent_process();
  if (parent_marker != 0)
    return 1; /* we share the parent's memory: not a fresh program */
  if (strcmp(shoal_process_name(me), (const char *)args) != 0)
    return 2;
  if (!parent || shoal_process_pid(parent) != getppid() ||
      strcmp(shoal_process_name(parent), "MainProcess") != 0)
    return 3;
  /* A lock another thread of the parent held is free in a spawn child. */
  if (pthread_mutex_trylock(&held) != 0)
    return 4;
  return 0;
}
SHOAL_ENTRY(sp_identity)

struct fds {
  int write_fd, other_fd;
};

static int sp_fds(void *args, size_t len)
{
  (void)len;
  struct fds *f = args;
  if (fcntl(f->other_fd, F_GETFD) != -1)
    return 1; /* a descriptor that was not passed leaked into the child */
  return write(f->write_fd, "hi", 2) == 2 ? 0 : 2;
}
SHOAL_ENTRY(sp_fds)

static int sp_crash(void *args, size_t len)
{
  (void)len;
  setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
  if (!strcmp(args, "segv")) {
    signal(SIGSEGV, SIG_DFL);
    int *volatile bad = (int *)(uintptr_t)8;
    *bad = 1;
  }
  shoal_process_fail("bad input %d", 7);
}
SHOAL_ENTRY(sp_crash)

static int not_registered(void *args, size_t len)
{
  (void)args;
  return (int)len;
}

static int run(shoal_process *p)
{
  int code = -999;
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(20)));
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 1);
  return code;
}

static shoal_process_opts spawn_opts = {.start_method = SHOAL_START_SPAWN};

SH_TEST(spawn, runs_a_registered_target_with_its_args)
{
  int args[] = {10, 20, 30};
  shoal_process *p;
  SH_ASSERT_OK(shoal_spawn_main()); /* in the program's own run: returns at once */
  shoal_process_set_reporting(0);
  SH_ASSERT_OK(shoal_process_create(&p, sp_sum, args, sizeof args, &spawn_opts));
  cr_assert_eq(run(p), 60);
  shoal_process_destroy(p);
}

static void *hold_lock(void *arg)
{
  pthread_mutex_lock(&held);
  shoal_event_wait(arg, SHOAL_SEC(20));
  pthread_mutex_unlock(&held);
  return NULL;
}

SH_TEST(spawn, is_a_fresh_program_safe_beside_threads)
{
  shoal_process *p;
  shoal_event *ev;
  pthread_t t;
  SH_ASSERT_OK(shoal_event_create(&ev));
  cr_assert_eq(pthread_create(&t, NULL, hold_lock, ev), 0);
  parent_marker = 1;
  sh_sleep_ms(20);
  const char *name = "Spawned-1";
  SH_ASSERT_OK(shoal_process_create(&p, sp_identity, name, strlen(name) + 1,
                                    &(shoal_process_opts){.name = name,
                                                          .start_method = SHOAL_START_SPAWN}));
  int code = run(p);
  cr_assert_eq(code, 0, "spawn child check failed at step %d", code);
  SH_ASSERT_OK(shoal_event_set(ev));
  pthread_join(t, NULL);
  shoal_process_destroy(p);
  shoal_event_destroy(ev);
}

SH_TEST(spawn, only_passed_fds_reach_the_child)
{
  int pfd[2], other;
  char buf[8] = {0};
  shoal_process *p;
  cr_assert(pipe(pfd) == 0); /* not close-on-exec: would leak without close_range */
  other = dup(pfd[0]);
  struct fds f = {pfd[1], other};
  SH_ASSERT_OK(shoal_process_create(&p, sp_fds, &f, sizeof f,
                                    &(shoal_process_opts){.start_method = SHOAL_START_SPAWN,
                                                          .pass_fds = &pfd[1],
                                                          .n_pass_fds = 1}));
  int code = run(p);
  cr_assert_eq(code, 0, "spawn child check failed at step %d", code);
  close(pfd[1]);
  cr_assert_eq(read(pfd[0], buf, sizeof buf), 2);
  cr_assert_str_eq(buf, "hi");
  shoal_process_destroy(p);
}

SH_TEST(spawn, crashes_and_messages_cross_the_exec)
{
  shoal_process *p;
  char want[128];
  shoal_process_set_reporting(0);
  SH_ASSERT_OK(shoal_process_create(&p, sp_crash, "segv", 5, &spawn_opts));
  cr_assert_eq(run(p), -SIGSEGV);
  snprintf(want, sizeof want, "Process %s (pid %d) died: SIGSEGV", shoal_process_name(p),
           shoal_process_pid(p));
  cr_assert_str_eq(shoal_process_error(p), want);
  shoal_process_destroy(p);

  SH_ASSERT_OK(shoal_process_create(&p, sp_crash, "fail", 5, &spawn_opts));
  cr_assert_eq(run(p), 1);
  cr_assert_str_eq(shoal_process_message(p), "bad input 7");
  shoal_process_destroy(p);
}

SH_TEST(spawn, default_method_and_registry)
{
  shoal_process *p;
  static struct shoal_entry dup = {"sp_sum", sp_identity, NULL}, bad = {NULL, sp_sum, NULL};
  SH_ASSERT_RC(shoal_get_start_method(), SHOAL_START_FORK);
  SH_ASSERT_OK(shoal_set_start_method(SHOAL_START_SPAWN));
  SH_ASSERT_ERR(shoal_process_create(&p, not_registered, NULL, 0, NULL), SHOAL_ENOENT);
  int one = 1;
  shoal_process_set_reporting(0);
  SH_ASSERT_OK(shoal_process_create(&p, sp_sum, &one, sizeof one, NULL));
  cr_assert_eq(run(p), 1);
  shoal_process_destroy(p);
  SH_ASSERT_ERR(shoal_entry_register(&dup), SHOAL_EEXIST);
  SH_ASSERT_ERR(shoal_entry_register(&bad), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_entry_register(NULL), SHOAL_EINVAL);
}

/* ---- a real program (process_helper) ---- */

extern char **environ;

static pid_t helper(int *out_fd, char **env, ...)
{
  const char *argv[8];
  int argc = 0;
  argv[argc++] = SHOAL_TEST_BIN_DIR "/process_helper";
  va_list ap;
  va_start(ap, env);
  for (const char *a = va_arg(ap, const char *); a && argc < 7; a = va_arg(ap, const char *))
    argv[argc++] = a;
  va_end(ap);
  argv[argc] = NULL;
  int fds[2];
  cr_assert(pipe2(fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, env ? env : environ);
  posix_spawn_file_actions_destroy(&fa);
  cr_assert(rc == 0, "spawn %s: %s", argv[0], strerror(rc));
  close(fds[1]);
  *out_fd = fds[0];
  return pid;
}

static void daemon_dies_with_parent(const char *method)
{
  int fd, dpid, opid;
  char line[128];
  pid_t h = helper(&fd, NULL, "orphans", method, NULL);
  sh_read_line(fd, line, sizeof line, 10000);
  cr_assert_eq(sscanf(line, "%d %d", &dpid, &opid), 2, "helper said: %s", line);
  kill(h, SIGKILL);
  cr_assert_eq(sh_wait(h, 5000), 128 + SIGKILL);
  /* Orphans come to us (the test is a subreaper).  The daemon must die. */
  cr_assert_eq(sh_wait(dpid, 5000), 128 + SIGKILL, "the daemon child survived its parent");
  cr_assert_eq(kill(opid, 0), 0, "the non-daemon child should outlive its parent");
  kill(opid, SIGKILL);
  sh_wait(opid, 5000);
  close(fd);
}

static void daemon_outlives_the_thread_that_started_it(const char *method)
{
  int fd, dpid;
  char line[128], state[16];
  pid_t h = helper(&fd, NULL, "thread-orphan", method, NULL);
  sh_read_line(fd, line, sizeof line, 10000);
  cr_assert_eq(sscanf(line, "%d %15s", &dpid, state), 2, "helper said: %s", line);
  cr_assert_str_eq(state, "alive", "%s: the daemon child died with the thread that started it",
                   method);
  kill(h, SIGKILL);
  cr_assert_eq(sh_wait(h, 5000), 128 + SIGKILL);
  cr_assert_eq(sh_wait(dpid, 5000), 128 + SIGKILL, "the daemon child survived its parent");
  close(fd);
}

SH_TEST(spawn, daemon_children_outlive_their_starting_thread_not_their_parent)
{
  daemon_outlives_the_thread_that_started_it("fork");
  daemon_outlives_the_thread_that_started_it("spawn");
}

SH_TEST(spawn, daemon_children_die_with_a_parent_killed_9)
{
  daemon_dies_with_parent("fork");
  daemon_dies_with_parent("spawn");
}

static void exit_cleans_up(const char *method)
{
  int fd, dpid, opid;
  char line[128];
  pid_t h = helper(&fd, NULL, "exit-cleanup", method, NULL);
  sh_read_line(fd, line, sizeof line, 10000);
  cr_assert_eq(sscanf(line, "%d %d", &dpid, &opid), 2, "helper said: %s", line);
  /* main() returned: the non-daemon child is joined (its output comes before
   * the helper's end), the daemon terminated. */
  sh_read_line(fd, line, sizeof line, 10000);
  cr_assert_str_eq(line, "worker done");
  cr_assert_eq(sh_wait(h, 10000), 0);
  cr_assert(kill(dpid, 0) == -1 && kill(opid, 0) == -1, "a child outlived the helper's exit");
  close(fd);
}

SH_TEST(spawn, at_exit_daemons_are_terminated_and_others_joined)
{
  exit_cleans_up("fork");
  exit_cleans_up("spawn");
}

SH_TEST(spawn, a_main_without_shoal_spawn_main_cannot_start_processes)
{
  int fd, n = 0;
  char line[256];
  char *env[64];
  for (char **e = environ; *e && n < 62; e++)
    env[n++] = *e;
  env[n++] = "HELPER_UNGUARDED=1";
  env[n] = NULL;
  pid_t h = helper(&fd, env, "spawn-unguarded", NULL);
  sh_read_line(fd, line, sizeof line, 10000);
  cr_assert_str_eq(line, "child start: SHOAL_EPERM");
  sh_read_line(fd, line, sizeof line, 10000);
  cr_assert_str_eq(line, "exitcode 3");
  sh_read_line(fd, line, sizeof line, 10000);
  cr_assert(strstr(line, "failed: exit code 3 (it never entered its target: does main() call "
                         "shoal_spawn_main() first?)"),
            "%s", line);
  cr_assert_eq(sh_wait(h, 10000), 0);
  close(fd);
}

/* A program started with stdin, stdout or stderr closed (a daemon, `prog
 * <&-`): the status block must not land on fd 0-2, the child must run its
 * target (not main() again: that would spawn without end), and it keeps the
 * parent's 0-2 as they are. */
static void spawn_with_closed(const char *fds, const char *want_open)
{
  int fd;
  char line[128], want[64];
  pid_t h = helper(&fd, NULL, "spawn-closed", fds, NULL);
  sh_read_line(fd, line, sizeof line, 20000);
  snprintf(want, sizeof want, "entered open=%s", want_open);
  cr_assert_str_eq(line, want, "parent closed fd(s) %s", fds);
  sh_read_line(fd, line, sizeof line, 20000);
  cr_assert_str_eq(line, "exitcode 42 (SHOAL_OK)", "parent closed fd(s) %s", fds);
  cr_assert_eq(sh_wait(h, 10000), 0);
  close(fd);
}

SH_TEST(spawn, a_parent_with_stdio_closed_still_enters_the_target)
{
  spawn_with_closed("0", "-12");
  spawn_with_closed("1", "0-2");
  spawn_with_closed("2", "01-");
  spawn_with_closed("012", "---");
}

/* A SHOAL_SPAWN that names no status block of ours: the program is a spawn
 * child that lost its way, and must end (127) rather than run main(). */
static void bogus_spawn_var(const char *value)
{
  int fd, n = 0;
  char *env[64], var[64], buf[64];
  for (char **e = environ; *e && n < 62; e++)
    if (strncmp(*e, "SHOAL_SPAWN=", 12) != 0)
      env[n++] = *e;
  snprintf(var, sizeof var, "SHOAL_SPAWN=%s", value);
  env[n++] = var;
  env[n] = NULL;
  pid_t h = helper(&fd, env, "hello", NULL);
  cr_assert_eq(sh_wait(h, 10000), 127, "SHOAL_SPAWN=%s", value);
  ssize_t r = read(fd, buf, sizeof buf - 1);
  buf[r > 0 ? r : 0] = '\0';
  cr_assert_eq(r, 0, "main() ran with SHOAL_SPAWN=%s: \"%s\"", value, buf);
  close(fd);
}

SH_TEST(spawn, a_bad_shoal_spawn_variable_never_runs_main)
{
  char v[32];
  bogus_spawn_var("garbage");
  snprintf(v, sizeof v, "0:%d", (int)getpid()); /* the old fd-0 status block */
  bogus_spawn_var(v);
  bogus_spawn_var("77:1");
}

static void wait_on(void *arg)
{
  shoal_event_wait(arg, SHOAL_SEC(20));
}

static int return_zero(void *args, size_t len)
{
  (void)args;
  (void)len;
  return 0;
}

/* Entered from SHOAL_SPAWN_MAIN_CONSTRUCTOR, before the program's other
 * constructors: shoal's own set-up must have run all the same. */
static int sp_init_order(void *args, size_t len)
{
  (void)args;
  (void)len;
  int step = 0, code = -1;
  shoal_event *e = NULL;
  shoal_thread *t = NULL;
  shoal_process *g = NULL;
  if (shoal_thread_native_id(shoal_main_thread()) != getpid())
    return 1; /* the main thread was never captured */
  if (shoal_event_create(&e) || shoal_thread_create(&t, wait_on, e, NULL) ||
      shoal_thread_set_daemon(t, 0) || shoal_thread_start(t))
    return 2;
  /* A fork child of ours has only the forking thread: it must not wait for
   * t at its end (the fork handlers must be in place). */
  if (shoal_process_create(&g, return_zero, NULL, 0,
                           &(shoal_process_opts){.start_method = SHOAL_START_FORK}) ||
      shoal_process_start(g))
    step = 3;
  else if (shoal_process_join(g, SHOAL_SEC(5)) != 0)
    step = 4;
  else if (shoal_process_exitcode(g, &code) != 1 || code != 0)
    step = 5;
  if (g && step == 4) {
    shoal_process_kill(g);
    shoal_process_join(g, SHOAL_FOREVER);
  }
  shoal_process_destroy(g);
  shoal_event_set(e);
  shoal_thread_join(t, SHOAL_SEC(20));
  shoal_thread_destroy(t);
  shoal_event_destroy(e);
  return step;
}
SHOAL_ENTRY(sp_init_order)

SH_TEST(spawn, a_child_entered_from_the_constructor_finds_shoal_set_up)
{
  shoal_process *p;
  SH_ASSERT_OK(shoal_process_create(&p, sp_init_order, NULL, 0, &spawn_opts));
  int code = run(p);
  cr_assert_eq(code, 0, "spawn child check failed at step %d", code);
  shoal_process_destroy(p);
}

static int sp_quick(void *args, size_t len)
{
  (void)args;
  (void)len;
  return 0;
}
SHOAL_ENTRY(sp_quick)

static int open_fds(void)
{
  int n = 0;
  for (int fd = 0; fd < 1024; fd++)
    n += fcntl(fd, F_GETFD) != -1;
  return n;
}

/* Whether a child of ours has ended and not been reaped (a zombie). */
static bool a_zombie(void)
{
  siginfo_t si = {0};
  cr_assert(waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 || errno == ECHILD);
  return si.si_pid != 0;
}

SH_TEST(spawn, children_never_joined_are_reaped)
{
  /* Start and destroy without a join: the next start collects the children
   * that have ended, with their pidfds and status mappings. */
  struct rlimit rl;
  cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  rl.rlim_cur = 32;
  cr_assert(setrlimit(RLIMIT_NOFILE, &rl) == 0);
  int fds = open_fds();
  shoal_process *p;
  pid_t prev = 0;
  for (int i = 0; i < 40; i++) {
    SH_ASSERT_OK(shoal_process_create(&p, sp_quick, NULL, 0, &spawn_opts));
    int rc = shoal_process_start(p);
    cr_assert(rc == 0, "child %d: start returned %s", i, shoal_err_name(rc));
    siginfo_t si = {0};
    cr_assert(prev == 0 || (waitid(P_PID, (id_t)prev, &si, WEXITED | WNOHANG | WNOWAIT) == -1 &&
                            errno == ECHILD),
              "child %d: this start left the one before, which had ended, unreaped", i);
    prev = shoal_process_pid(p);
    shoal_process_destroy(p);
    /* Until it has ended, without reaping it: the next start must (unless
     * it had ended already and destroy collected it). */
    cr_assert(waitid(P_PID, (id_t)prev, &si, WEXITED | WNOWAIT) == 0 || errno == ECHILD);
  }
  SH_ASSERT_OK(shoal_process_create(&p, sp_quick, NULL, 0, &spawn_opts));
  cr_assert_eq(run(p), 0);
  shoal_process_destroy(p);
  cr_assert(!a_zombie());
  SH_ASSERT_RC(open_fds(), fds);
  SH_ASSERT_RC(shoal_active_children(NULL, 0), 0);
}
