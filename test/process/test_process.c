// SPDX-License-Identifier: MIT
// Process with the fork start method: Python's _TestProcess in C terms,
// failure reports, daemon children, sentinels, bad input.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wchar.h>

#include "support.h"

static shoal_event *ev;

/* Shared with children: flags a child sets for the parent to see. */
struct shared {
  _Atomic int flag;
  _Atomic int value;
  int pid;
  char text[128];
};

static struct shared *shared_new(void)
{
  struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(s != MAP_FAILED);
  memset(s, 0, sizeof *s);
  return s;
}

static int wait_event(void *args, size_t len)
{
  (void)args;
  (void)len;
  return shoal_event_wait(ev, SHOAL_SEC(20)) == 0 ? 0 : 9;
}

static int sum_args(void *args, size_t len)
{
  int *v = args, s = 0;
  for (size_t i = 0; i < len / sizeof(int); i++)
    s += v[i];
  return s;
}

SH_TEST(process, lifecycle_as_python)
{
  shoal_process *p, *kids[4];
  int code = 1234;
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_OK(shoal_process_create(&p, wait_event, NULL, 0, NULL));
  SH_ASSERT_RC(shoal_process_is_alive(p), 0);
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 0);
  cr_assert_eq(code, 1234, "exitcode must stay None before start");
  SH_ASSERT_RC(shoal_process_pid(p), 0);
  SH_ASSERT_RC(shoal_process_daemon(p), 0);
  SH_ASSERT_OK(shoal_process_start(p));
  cr_assert((shoal_process_pid(p)) > (0));
  SH_ASSERT_RC(shoal_process_is_alive(p), 1);
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 0);
  SH_ASSERT_RC(shoal_active_children(kids, 4), 1);
  cr_assert_eq(kids[0], p);
  shoal_process_destroy(kids[0]);
  SH_ASSERT_OK(shoal_event_set(ev));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  SH_ASSERT_RC(shoal_process_is_alive(p), 0);
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 1);
  cr_assert_eq(code, 0);
  SH_ASSERT_RC(shoal_active_children(kids, 4), 0);
  cr_assert((shoal_process_error(p)) == NULL);
  cr_assert((shoal_process_message(p)) == NULL);
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_NOWAIT)); /* joined twice is fine */
  SH_ASSERT_OK(shoal_process_close(p));
  SH_ASSERT_OK(shoal_process_close(p));
  shoal_process_destroy(p);
  shoal_event_destroy(ev);
}

SH_TEST(process, args_are_copied_and_the_return_value_is_the_exit_code)
{
  int args[] = {1, 2, 3, 4, 5}, code;
  shoal_process *p;
  shoal_process_set_reporting(0);
  SH_ASSERT_OK(shoal_process_create(&p, sum_args, args, sizeof args, NULL));
  args[0] = 100; /* after create: the child sees the copy */
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 1);
  cr_assert_eq(code, 15);
  /* A nonzero exit code is a failure the parent hears about. */
  cr_assert_not_null(shoal_process_error(p));
  cr_assert(strstr(shoal_process_error(p), "failed: exit code 15"), "%s", shoal_process_error(p));
  shoal_process_destroy(p);
}

static struct shared *sh;

static int check_identity(void *args, size_t len)
{
  (void)len;
  const char *want = args;
  shoal_process *me = shoal_current_process(), *parent = shoal_parent_process();
  if (strcmp(shoal_process_name(me), want) != 0)
    return 1;
  if (shoal_process_pid(me) != getpid() || shoal_process_is_alive(me) != 1)
    return 2;
  if (!parent || strcmp(shoal_process_name(parent), "MainProcess") != 0 ||
      shoal_process_pid(parent) != getppid() || shoal_process_is_alive(parent) != 1)
    return 3;
  /* A grandchild is named after our place in the tree. */
  shoal_process *g;
  if (shoal_process_create(&g, sum_args, NULL, 0, NULL) != 0)
    return 4;
  snprintf(sh->text, sizeof sh->text, "%s", shoal_process_name(g));
  shoal_process_destroy(g);
  return 0;
}

SH_TEST(process, names_pids_current_and_parent)
{
  shoal_process *a, *b, *me = shoal_current_process();
  int code;
  sh = shared_new();
  cr_assert_str_eq(shoal_process_name(me), "MainProcess");
  SH_ASSERT_RC(shoal_process_pid(me), getpid());
  SH_ASSERT_RC(shoal_process_is_alive(me), 1);
  SH_ASSERT_RC(shoal_process_exitcode(me, &code), 0);
  SH_ASSERT_RC(shoal_process_daemon(me), 0);
  cr_assert((shoal_parent_process()) == NULL);
  SH_ASSERT_ERR(shoal_process_join(me, SHOAL_NOWAIT), SHOAL_EDEADLK);

  SH_ASSERT_OK(shoal_process_create(&a, check_identity, "x", 2, NULL));
  const char *name = shoal_process_name(a);
  cr_assert(strncmp(name, "Process-", 8) == 0, "default name %s", name);
  char want[64];
  snprintf(want, sizeof want, "%s", name);
  shoal_process_destroy(a);
  SH_ASSERT_OK(shoal_process_create(&a, check_identity, want, 0, NULL));
  shoal_process_destroy(a);
  /* Names count up: Process-N, Process-N+1. */
  int n = atoi(want + 8);
  snprintf(want, sizeof want, "Process-%d", n + 2);
  SH_ASSERT_OK(shoal_process_create(&a, check_identity, want, strlen(want) + 1, NULL));
  cr_assert_str_eq(shoal_process_name(a), want);
  SH_ASSERT_OK(shoal_process_start(a));
  SH_ASSERT_OK(shoal_process_join(a, SHOAL_SEC(10)));
  SH_ASSERT_RC(shoal_process_exitcode(a, &code), 1);
  cr_assert_eq(code, 0, "child identity check failed at step %d", code);
  char grand[80];
  snprintf(grand, sizeof grand, "Process-%d:1", n + 2);
  cr_assert_str_eq(sh->text, grand);

  SH_ASSERT_OK(shoal_process_create(&b, check_identity, "Worker-3", 9,
                                    &(shoal_process_opts){.name = "Worker-3"}));
  SH_ASSERT_OK(shoal_process_start(b));
  SH_ASSERT_OK(shoal_process_join(b, SHOAL_SEC(10)));
  SH_ASSERT_RC(shoal_process_exitcode(b, &code), 1);
  cr_assert_eq(code, 0, "child identity check failed at step %d", code);
  SH_ASSERT_OK(shoal_process_set_name(b, "Renamed"));
  cr_assert_str_eq(shoal_process_name(b), "Renamed");
  shoal_process_destroy(a);
  shoal_process_destroy(b);
}

SH_TEST(process, join_timeouts)
{
  shoal_process *p;
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_OK(shoal_process_create(&p, wait_event, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(p));
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_process_join(p, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_process_join(p, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_ERR(shoal_process_join(p, -5), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_process_close(p), SHOAL_EBUSY);
  SH_ASSERT_OK(shoal_event_set(ev));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_FOREVER));
  shoal_process_destroy(p);
  shoal_event_destroy(ev);
}

static int sleeper(void *args, size_t len)
{
  (void)args;
  (void)len;
  sleep(30);
  return 0;
}

/* Redirects stderr into a pipe for the duration of a test step. */
static int saved_stderr = -1, err_pipe[2];

static void capture_stderr(void)
{
  cr_assert(pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK) == 0);
  saved_stderr = dup(STDERR_FILENO);
  dup2(err_pipe[1], STDERR_FILENO);
}

static void captured(char *buf, size_t len)
{
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  close(err_pipe[1]);
  ssize_t n = read(err_pipe[0], buf, len - 1);
  buf[n > 0 ? n : 0] = '\0';
  close(err_pipe[0]);
}

SH_TEST(process, terminate_kill_interrupt_give_minus_the_signal_unreported)
{
  int sigs[] = {SIGTERM, SIGKILL, SIGINT};
  char out[256];
  for (int i = 0; i < 3; i++) {
    shoal_process *p;
    int code;
    SH_ASSERT_OK(shoal_process_create(&p, sleeper, NULL, 0, NULL));
    SH_ASSERT_OK(shoal_process_start(p));
    capture_stderr();
    if (sigs[i] == SIGTERM)
      SH_ASSERT_OK(shoal_process_terminate(p));
    else if (sigs[i] == SIGKILL)
      SH_ASSERT_OK(shoal_process_kill(p));
    else
      SH_ASSERT_OK(shoal_process_interrupt(p));
    SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
    captured(out, sizeof out);
    SH_ASSERT_RC(shoal_process_exitcode(p, &code), 1);
    cr_assert_eq(code, -sigs[i]);
    cr_assert((shoal_process_error(p)) == NULL);
    cr_assert_str_eq(out, "", "unexpected report: %s", out);
    SH_ASSERT_OK(shoal_process_terminate(p)); /* ended: ignored */
    shoal_process_destroy(p);
  }
}

static int crash(void *args, size_t len)
{
  (void)len;
  const char *how = args;
  /* No core files, and the default action even under sanitizers. */
  setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
  if (!strcmp(how, "segv")) {
    signal(SIGSEGV, SIG_DFL);
    int *volatile bad = (int *)(uintptr_t)8;
    *bad = 1;
  } else if (!strcmp(how, "abort")) {
    signal(SIGABRT, SIG_DFL);
    abort();
  } else if (!strcmp(how, "fail")) {
    shoal_process_fail("disk %s after %d items", "full", 42);
  }
  return 3;
}

static void expect_report(const char *how, const char *name, int want_code, const char *tail)
{
  shoal_process *p;
  char out[1200], want[256];
  int code;
  SH_ASSERT_OK(shoal_process_create(&p, crash, how, strlen(how) + 1,
                                    &(shoal_process_opts){.name = name}));
  capture_stderr();
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  captured(out, sizeof out);
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 1);
  cr_assert_eq(code, want_code, "%s: exit code %d", how, code);
  snprintf(want, sizeof want, "Process %s (pid %d) %s\n", name, shoal_process_pid(p), tail);
  cr_assert_str_eq(out, want);
  want[strlen(want) - 1] = '\0';
  cr_assert_str_eq(shoal_process_error(p), want);
  shoal_process_destroy(p);
}

SH_TEST(process, crashes_and_failures_are_reported)
{
  expect_report("segv", "Worker-3", -SIGSEGV, "died: SIGSEGV");
  expect_report("abort", "Worker-4", -SIGABRT, "died: SIGABRT");
  expect_report("exit", "Worker-5", 3, "failed: exit code 3");
  expect_report("fail", "Worker-6", 1, "failed: exit code 1: disk full after 42 items");
}

SH_TEST(process, fail_message_and_quiet_reporting)
{
  shoal_process *p;
  char out[256];
  int code;
  SH_ASSERT_RC(shoal_process_set_reporting(0), 1);
  SH_ASSERT_OK(shoal_process_create(&p, crash, "fail", 5, NULL));
  capture_stderr();
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  captured(out, sizeof out);
  cr_assert_str_eq(out, "");
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 1);
  cr_assert_eq(code, 1);
  cr_assert_str_eq(shoal_process_message(p), "disk full after 42 items");
  cr_assert_not_null(shoal_process_error(p));
  SH_ASSERT_RC(shoal_process_set_reporting(1), 0);
  SH_ASSERT_OK(shoal_process_close(p));
  shoal_process_destroy(p);
}

SH_TEST(process, sentinel_becomes_readable_at_the_end)
{
  shoal_process *p;
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_OK(shoal_process_create(&p, wait_event, NULL, 0, NULL));
  SH_ASSERT_ERR(shoal_process_sentinel(p), SHOAL_ENOTSTARTED);
  SH_ASSERT_OK(shoal_process_start(p));
  int fd = shoal_process_sentinel(p);
  cr_assert((fd) >= (0));
  struct pollfd pf = {fd, POLLIN, 0};
  cr_assert_eq(poll(&pf, 1, 100), 0, "sentinel ready while the child runs");
  SH_ASSERT_OK(shoal_event_set(ev));
  cr_assert_eq(poll(&pf, 1, 10000), 1);
  cr_assert(pf.revents & POLLIN);
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_NOWAIT));
  SH_ASSERT_OK(shoal_process_close(p));
  SH_ASSERT_ERR(shoal_process_sentinel(p), SHOAL_ECLOSED);
  shoal_process_destroy(p);
  shoal_event_destroy(ev);
}

SH_TEST(process, bad_input_gives_clear_codes)
{
  shoal_process *p;
  int code, fds[] = {1};
  char longname[SHOAL_PROCESS_NAME_MAX + 2];
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  SH_ASSERT_ERR(shoal_process_create(NULL, sum_args, NULL, 0, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_process_create(&p, NULL, NULL, 0, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_process_create(&p, sum_args, NULL, 4, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_process_create(&p, sum_args, NULL, 0, &(shoal_process_opts){.reserved[2] = 1}),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_process_create(&p, sum_args, NULL, 0, &(shoal_process_opts){.start_method = 7}),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_process_create(&p, sum_args, NULL, 0, &(shoal_process_opts){.name = ""}),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_process_create(&p, sum_args, NULL, 0, &(shoal_process_opts){.name = longname}),
                SHOAL_ENAMETOOLONG);
  SH_ASSERT_ERR(shoal_process_create(&p, sum_args, NULL, 0,
                                     &(shoal_process_opts){.pass_fds = fds, .n_pass_fds = 1}),
                SHOAL_EINVAL);
  /* spawn needs a target registered with SHOAL_ENTRY */
  SH_ASSERT_ERR(shoal_process_create(&p, sum_args, NULL, 0,
                                     &(shoal_process_opts){.start_method = SHOAL_START_SPAWN}),
                SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal_set_start_method(0), SHOAL_EINVAL);

  SH_ASSERT_OK(shoal_process_create(&p, sum_args, NULL, 0, NULL));
  SH_ASSERT_ERR(shoal_process_join(p, SHOAL_SEC(1)), SHOAL_ENOTSTARTED);
  SH_ASSERT_ERR(shoal_process_terminate(p), SHOAL_ENOTSTARTED);
  SH_ASSERT_ERR(shoal_process_kill(p), SHOAL_ENOTSTARTED);
  SH_ASSERT_ERR(shoal_process_exitcode(p, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_process_set_name(p, longname), SHOAL_ENAMETOOLONG);
  SH_ASSERT_OK(shoal_process_set_daemon(p, 1));
  SH_ASSERT_RC(shoal_process_daemon(p), 1);
  SH_ASSERT_OK(shoal_process_set_daemon(p, 0));
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_ERR(shoal_process_start(p), SHOAL_EBUSY);
  SH_ASSERT_ERR(shoal_process_set_daemon(p, 1), SHOAL_EBUSY);
  SH_ASSERT_ERR(shoal_process_join(p, -2), SHOAL_EINVAL);
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  SH_ASSERT_OK(shoal_process_close(p));
  SH_ASSERT_ERR(shoal_process_join(p, SHOAL_NOWAIT), SHOAL_ECLOSED);
  SH_ASSERT_ERR(shoal_process_is_alive(p), SHOAL_ECLOSED);
  SH_ASSERT_ERR(shoal_process_terminate(p), SHOAL_ECLOSED);
  SH_ASSERT_ERR(shoal_process_exitcode(p, &code), SHOAL_ECLOSED);
  SH_ASSERT_ERR(shoal_process_start(p), SHOAL_ECLOSED);
  SH_ASSERT_OK(shoal_process_close(p));
  shoal_process_destroy(p);

  /* A process never started can be closed. */
  SH_ASSERT_OK(shoal_process_create(&p, sum_args, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_close(p));
  shoal_process_destroy(p);

  SH_ASSERT_ERR(shoal_process_join(NULL, 0), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_process_is_alive(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_process_start(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_process_close(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_active_children(NULL, 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_active_children(NULL, -1), SHOAL_EINVAL);
  cr_assert((shoal_process_name(NULL)) == NULL);
  shoal_process_destroy(NULL);
  shoal_process_destroy(shoal_current_process()); /* a no-op */
  cr_assert_str_eq(shoal_process_name(shoal_current_process()), "MainProcess");
}

static shoal_process *sibling;

static int use_sibling(void *args, size_t len)
{
  (void)args;
  (void)len;
  /* Only the process that started a child may wait for it or signal it. */
  if (shoal_process_join(sibling, SHOAL_NOWAIT) != SHOAL_EPERM)
    return 1;
  if (shoal_process_terminate(sibling) != SHOAL_EPERM)
    return 2;
  if (shoal_process_is_alive(sibling) != SHOAL_EPERM)
    return 3;
  return shoal_active_children(NULL, 0) == 0 ? 0 : 4;
}

SH_TEST(process, other_processes_cannot_join_a_child)
{
  shoal_process *p;
  int code;
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_OK(shoal_process_create(&sibling, wait_event, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(sibling));
  SH_ASSERT_OK(shoal_process_create(&p, use_sibling, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 1);
  cr_assert_eq(code, 0, "step %d", code);
  SH_ASSERT_OK(shoal_event_set(ev));
  SH_ASSERT_OK(shoal_process_join(sibling, SHOAL_SEC(10)));
  shoal_process_destroy(p);
  shoal_process_destroy(sibling);
  shoal_event_destroy(ev);
}

static void set_flag_later(void *arg)
{
  (void)arg;
  sh_sleep_ms(200);
  atomic_store(&sh->flag, 1);
}

static int late_grandchild(void *args, size_t len)
{
  (void)args;
  (void)len;
  sh_sleep_ms(200);
  atomic_store(&sh->value, 7);
  return 0;
}

static int leave_work_behind(void *args, size_t len)
{
  (void)args;
  (void)len;
  shoal_thread *t;
  shoal_process *g;
  if (shoal_thread_create(&t, set_flag_later, NULL, NULL) || shoal_thread_start(t))
    return 1;
  shoal_thread_destroy(t);
  if (shoal_process_create(&g, late_grandchild, NULL, 0, NULL) || shoal_process_start(g))
    return 2;
  shoal_process_destroy(g); /* still running: joined when we end */
  return 0;
}

SH_TEST(process, a_child_waits_for_its_threads_and_children)
{
  shoal_process *p;
  int code;
  sh = shared_new();
  SH_ASSERT_OK(shoal_process_create(&p, leave_work_behind, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 1);
  cr_assert_eq(code, 0, "step %d", code);
  cr_assert_eq(atomic_load(&sh->flag), 1, "the child did not wait for its thread");
  cr_assert_eq(atomic_load(&sh->value), 7, "the child did not join its own child");
  shoal_process_destroy(p);
}

static int watch_parent(void *args, size_t len)
{
  (void)args;
  (void)len;
  shoal_process *parent = shoal_parent_process();
  int fd = shoal_process_sentinel(parent);
  sh->pid = getpid();
  atomic_store(&sh->flag, 1); /* release: the pid is visible first */
  if (fd < 0 || shoal_process_join(parent, SHOAL_SEC(20)) != 0)
    return 1;
  atomic_store(&sh->value, shoal_process_is_alive(parent) == 0 ? 2 : 3);
  return 0;
}

static int start_watcher(void *args, size_t len)
{
  (void)args;
  (void)len;
  shoal_process *g;
  if (shoal_process_create(&g, watch_parent, NULL, 0, NULL) || shoal_process_start(g))
    return 1;
  sleep(30); /* killed by the test */
  return 0;
}

SH_TEST(process, a_grandchild_sees_its_parent_die)
{
  shoal_process *p;
  sh = shared_new();
  SH_ASSERT_OK(shoal_process_create(&p, start_watcher, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(p));
  uint64_t until = sh_now() + 10000000000u;
  while (!atomic_load(&sh->flag) && sh_now() < until)
    sh_sleep_ms(5);
  cr_assert_eq(atomic_load(&sh->flag), 1);
  SH_ASSERT_OK(shoal_process_kill(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  /* The grandchild was re-parented to us (a subreaper): reap it. */
  cr_assert_eq(sh_wait(sh->pid, 10000), 0);
  cr_assert_eq(atomic_load(&sh->value), 2);
  shoal_process_destroy(p);
}

static int exit_seven(void *args, size_t len)
{
  (void)args;
  (void)len;
  return 7;
}

SH_TEST(process, exit_code_survives_a_program_that_ignores_sigchld)
{
  shoal_process *p;
  int code;
  signal(SIGCHLD, SIG_IGN); /* the kernel reaps children itself */
  SH_ASSERT_OK(shoal_process_create(&p, exit_seven, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_set_daemon(p, 0));
  capture_stderr();
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  char out[256];
  captured(out, sizeof out);
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 1);
  cr_assert_eq(code, 7);
  shoal_process_destroy(p);
  signal(SIGCHLD, SIG_DFL);
}

static int report_cpus(void *args, size_t len)
{
  (void)args;
  (void)len;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0)
    return 2;
  return shoal_cpu_count();
}

SH_TEST(process, cpu_count_follows_the_affinity_mask)
{
  cpu_set_t set;
  shoal_process *p;
  int code;
  cr_assert(sched_getaffinity(0, sizeof set, &set) == 0);
  SH_ASSERT_RC(shoal_cpu_count(), CPU_COUNT(&set));
  shoal_process_set_reporting(0); /* the child's exit code is its CPU count */
  SH_ASSERT_OK(shoal_process_create(&p, report_cpus, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 1);
  cr_assert_eq(code, 1);
  shoal_process_destroy(p);
}

static _Atomic int joined_ok;

static void join_sibling(void *arg)
{
  (void)arg;
  int code = -1;
  if (shoal_process_join(sibling, SHOAL_SEC(20)) == 0 && shoal_process_exitcode(sibling, &code) == 1 &&
      code == 0)
    atomic_fetch_add(&joined_ok, 1);
}

SH_TEST(process, many_threads_join_one_child)
{
  /* Joined from the main thread and three threads at once: one collects the
   * status, all see it. */
  shoal_thread *t[3];
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_OK(shoal_process_create(&sibling, wait_event, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(sibling));
  for (int i = 0; i < 3; i++) {
    SH_ASSERT_OK(shoal_thread_create(&t[i], join_sibling, NULL, NULL));
    SH_ASSERT_OK(shoal_thread_start(t[i]));
  }
  sh_sleep_ms(50);
  SH_ASSERT_OK(shoal_event_set(ev));
  SH_ASSERT_OK(shoal_process_join(sibling, SHOAL_SEC(10)));
  for (int i = 0; i < 3; i++) {
    SH_ASSERT_OK(shoal_thread_join(t[i], SHOAL_SEC(10)));
    shoal_thread_destroy(t[i]);
  }
  cr_assert_eq(atomic_load(&joined_ok), 3);
  shoal_process_destroy(sibling);
  shoal_event_destroy(ev);
}

static int brief(void *args, size_t len)
{
  (void)args;
  (void)len;
  sh_sleep_ms(2);
  return 0;
}

static _Atomic int join_rc;

static void *join_forever(void *arg)
{
  atomic_store(&join_rc, shoal_process_join(arg, SHOAL_FOREVER));
  return NULL;
}

SH_TEST(process, a_join_in_progress_returns_when_another_thread_closes)
{
  /* Thread A joins; thread B sees the child end and closes the handle.  A
   * join under way when close succeeds returns 0 (close succeeds only once
   * the child has ended); it must not spin on the closed (or reused) fd. */
  shoal_process *w;
  pthread_t tw;
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_OK(shoal_process_create(&w, wait_event, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(w));
  atomic_store(&join_rc, 1);
  cr_assert_eq(pthread_create(&tw, NULL, join_forever, w), 0);
  sh_sleep_ms(50); /* the joiner waits on the handle now */
  SH_ASSERT_OK(shoal_event_set(ev));
  while (shoal_process_is_alive(w) == 1)
    sh_sleep_ms(1);
  SH_ASSERT_OK(shoal_process_close(w));
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  cr_assert_eq(pthread_timedjoin_np(tw, NULL, &until), 0,
               "the joiner is still inside shoal_process_join 5 s after close");
  SH_ASSERT_OK(atomic_load(&join_rc));
  shoal_process_destroy(w);
  shoal_event_destroy(ev);

  /* The same race, many times, with the close right behind the end.  The
   * joiner may begin after close (SHOAL_ECLOSED) or before (0). */
  for (int round = 0; round < 100; round++) {
    shoal_process *p;
    pthread_t t;
    SH_ASSERT_OK(shoal_process_create(&p, brief, NULL, 0, NULL));
    SH_ASSERT_OK(shoal_process_start(p));
    atomic_store(&join_rc, 1);
    cr_assert_eq(pthread_create(&t, NULL, join_forever, p), 0);
    while (shoal_process_is_alive(p) == 1)
      ;
    SH_ASSERT_OK(shoal_process_close(p));
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    int jr = pthread_timedjoin_np(t, NULL, &until);
    cr_assert_eq(jr, 0, "round %d: the joiner is still inside shoal_process_join 5 s after close",
                 round);
    int rc = atomic_load(&join_rc);
    cr_assert(rc == 0 || rc == SHOAL_ECLOSED, "round %d: join returned %s", round,
              shoal_err_name(rc));
    /* A join that starts after close is told so. */
    SH_ASSERT_ERR(shoal_process_join(p, SHOAL_FOREVER), SHOAL_ECLOSED);
    shoal_process_destroy(p);
  }
}

static int return_zero(void *args, size_t len)
{
  (void)args;
  (void)len;
  return 0;
}

static int count_fds(void)
{
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  cr_assert_not_null(d);
  while (readdir(d))
    n++;
  closedir(d);
  return n - 3; /* ".", ".." and the directory's own fd */
}

/* Whether a child of ours has ended and not been reaped (a zombie). */
static bool a_zombie(void)
{
  siginfo_t si = {0};
  cr_assert(waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 || errno == ECHILD);
  return si.si_pid != 0;
}

static int count_maps(void)
{
  int n = 0;
  FILE *f = fopen("/proc/self/maps", "r");
  cr_assert_not_null(f);
  for (int c; (c = fgetc(f)) != EOF;)
    n += c == '\n';
  fclose(f);
  return n;
}

SH_TEST(process, children_never_joined_are_reaped)
{
  /* Fire and forget: create, start, destroy, as a server that hands each
   * request to a child.  Start collects the children that have ended (as
   * Python's Process.start does), so neither zombies nor pidfds nor status
   * pages pile up until EMFILE. */
  struct rlimit rl;
  cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  rl.rlim_cur = 48;
  cr_assert(setrlimit(RLIMIT_NOFILE, &rl) == 0);
  shoal_process *p;
  SH_ASSERT_OK(shoal_process_create(&p, return_zero, NULL, 0, NULL)); /* warm up */
  shoal_process_destroy(p);
  int fds = count_fds(), maps = count_maps();
  pid_t prev = 0;
  for (int i = 0; i < 100; i++) {
    SH_ASSERT_OK(shoal_process_create(&p, return_zero, NULL, 0, NULL));
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
  /* The next start collects the last; this one is joined. */
  SH_ASSERT_OK(shoal_process_create(&p, return_zero, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  shoal_process_destroy(p);
  cr_assert(!a_zombie());
  SH_ASSERT_RC(count_fds(), fds);
  cr_assert(count_maps() <= maps + 20, "%d mappings after 100 children, %d before", count_maps(),
            maps);

  /* A handle destroyed after its child ended releases everything at once. */
  SH_ASSERT_OK(shoal_process_create(&p, return_zero, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(p));
  int fd = shoal_process_sentinel(p);
  struct pollfd pf = {fd, POLLIN, 0};
  cr_assert_eq(poll(&pf, 1, 10000), 1);
  shoal_process_destroy(p);
  cr_assert(!a_zombie());
  SH_ASSERT_RC(count_fds(), fds);
  SH_ASSERT_RC(shoal_active_children(NULL, 0), 0);
}

static void reap_everything(int sig)
{
  (void)sig;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0)
    ;
  errno = saved;
}

static int exit_seven_after_event(void *args, size_t len)
{
  (void)args;
  (void)len;
  shoal_event_wait(ev, SHOAL_SEC(10));
  return 7;
}

/* A program whose SIGCHLD handler reaps every child (a common C server
 * idiom) takes the exit status before shoal can: join must still end, the
 * code come from the child's own record, and a signal sent afterwards reach
 * nobody (the pid may belong to a stranger by then). */
SH_TEST(process, exit_code_survives_a_sigchld_handler_that_reaps)
{
  shoal_process *p;
  int code;
  struct sigaction sa = {.sa_handler = reap_everything}, old;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  cr_assert(sigaction(SIGCHLD, &sa, &old) == 0);
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_OK(shoal_process_create(&p, exit_seven_after_event, NULL, 0, NULL));
  capture_stderr();
  SH_ASSERT_OK(shoal_process_start(p));
  int fd = shoal_process_sentinel(p);
  cr_assert(fd >= 0);
  SH_ASSERT_OK(shoal_event_set(ev));
  struct pollfd pf = {fd, POLLIN, 0};
  cr_assert_eq(poll(&pf, 1, 10000), 1, "the sentinel did not become readable");
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_FOREVER));
  char out[256];
  captured(out, sizeof out);
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 1);
  cr_assert_eq(code, 7);
  SH_ASSERT_OK(shoal_process_terminate(p)); /* ended: nothing is sent */
  shoal_process_destroy(p);
  shoal_event_destroy(ev);
  cr_assert(sigaction(SIGCHLD, &old, NULL) == 0);
}

/* The sentinel of a child that was joined before anyone asked for it. */
SH_TEST(process, sentinel_of_a_joined_child_is_readable)
{
  shoal_process *p;
  SH_ASSERT_OK(shoal_process_create(&p, exit_seven, NULL, 0, NULL));
  SH_ASSERT_RC(shoal_process_set_reporting(0), 1);
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_FOREVER));
  SH_ASSERT_RC(shoal_process_set_reporting(1), 0);
  int fd = shoal_process_sentinel(p);
  cr_assert(fd >= 0);
  struct pollfd pf = {fd, POLLIN, 0};
  cr_assert_eq(poll(&pf, 1, 0), 1);
  cr_assert_eq(shoal_process_sentinel(p), fd, "the sentinel changed");
  SH_ASSERT_OK(shoal_process_close(p));
  shoal_process_destroy(p);
}

static int print_without_newline(void *args, size_t len)
{
  (void)args;
  (void)len;
  printf("child");
  return 0;
}

/* Sends stdout, fully buffered, into a pipe; returns what to give
 * stdout_back. */
struct captured_stdout {
  int pipe[2];
  int saved;
};

static struct captured_stdout stdout_to_pipe(void)
{
  static char buf[BUFSIZ];
  struct captured_stdout c;
  cr_assert(pipe(c.pipe) == 0);
  fflush(stdout);
  c.saved = dup(STDOUT_FILENO);
  dup2(c.pipe[1], STDOUT_FILENO);
  setvbuf(stdout, buf, _IOFBF, sizeof buf);
  return c;
}

/* Gives stdout back and reads what went into the pipe into out. */
static void stdout_back(struct captured_stdout c, char *out, size_t cap)
{
  fflush(stdout);
  dup2(c.saved, STDOUT_FILENO);
  close(c.saved);
  setvbuf(stdout, NULL, _IOLBF, 0);
  close(c.pipe[1]);
  size_t got = 0;
  ssize_t n;
  while (got < cap - 1 && (n = read(c.pipe[0], out + got, cap - 1 - got)) > 0)
    got += (size_t)n;
  out[got] = '\0';
  close(c.pipe[0]);
}

/* Output buffered before start is written once, by the parent, and before
 * the child's; what the child leaves in stdout's buffer is flushed when its
 * target returns. */
SH_TEST(process, stdout_is_written_once_and_in_order)
{
  struct captured_stdout c = stdout_to_pipe();
  printf("parent-");
  shoal_process *p;
  SH_ASSERT_OK(shoal_process_create(&p, print_without_newline, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  printf("-end");
  char out[64];
  stdout_back(c, out, sizeof out);
  cr_assert_str_eq(out, "parent-child-end");
  shoal_process_destroy(p);
}

static int print_wide(void *args, size_t len)
{
  (void)args;
  (void)len;
  wprintf(L"wide-child");
  return 0;
}

/* A wide-oriented stdout holds its output in its wide buffer, not in the
 * byte buffer: the child flushes that too when its target returns. */
SH_TEST(process, wide_stdout_of_a_child_is_flushed)
{
  struct captured_stdout c = stdout_to_pipe();
  shoal_process *p;
  SH_ASSERT_OK(shoal_process_create(&p, print_wide, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  char out[64];
  stdout_back(c, out, sizeof out);
  cr_assert_str_eq(out, "wide-child");
  shoal_process_destroy(p);
}

/* Makes the next pid of this pid namespace `pid`, then forks a process that
 * is not our child (a grandchild, whose parent *mid stays alive so that it
 * is not handed to us, a subreaper) and returns its pid: 0 when the kernel
 * gave another pid (something else forked meanwhile) or ns_last_pid cannot
 * be written here. */
static pid_t stranger_with_pid(pid_t pid, pid_t *mid)
{
  int fds[2];
  cr_assert(pipe(fds) == 0);
  *mid = fork();
  if (*mid == 0) {
    FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
    pid_t got = 0;
    if (f && fprintf(f, "%d", (int)pid - 1) > 0 && fclose(f) == 0) {
      got = fork();
      if (got == 0) {
        sleep(20);
        _exit(0);
      }
    }
    if (write(fds[1], &got, sizeof got) != (ssize_t)sizeof got)
      _exit(1);
    sleep(20);
    _exit(0);
  }
  pid_t got = 0;
  cr_assert(read(fds[0], &got, sizeof got) == (ssize_t)sizeof got);
  close(fds[0]);
  close(fds[1]);
  if (got != pid) {
    kill(*mid, SIGKILL); /* its child, if any, goes with it at once below */
    sh_wait(*mid, 5000);
    if (got > 0)
      kill(got, SIGKILL);
    got = 0;
  }
  return got;
}

/* Whether pid runs (not a zombie). */
static bool running(pid_t pid)
{
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *paren = strrchr(buf, ')');
  return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* The program reaps a shoal child itself (waitpid on its pid) and its pid is
 * reused by a process that is none of ours: the handle's first signal must
 * not reach that process. */
SH_TEST(process, a_reused_pid_is_not_signalled)
{
  shoal_process *p;
  int code;
  SH_ASSERT_OK(shoal_process_create(&p, exit_seven, NULL, 0, NULL));
  SH_ASSERT_RC(shoal_process_set_reporting(0), 1);
  SH_ASSERT_OK(shoal_process_start(p));
  pid_t pid = shoal_process_pid(p);
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid); /* taken from shoal */
  pid_t stranger = 0, mid = 0;
  for (int i = 0; i < 20 && !stranger; i++)
    stranger = stranger_with_pid(pid, &mid);
  if (!stranger) {
    shoal_process_destroy(p);
    cr_skip_test("cannot choose the next pid here");
  }
  SH_ASSERT_OK(shoal_process_terminate(p));
  usleep(100000);
  cr_assert(running(stranger), "the stranger that took the pid was signalled");
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(5)));
  SH_ASSERT_RC(shoal_process_exitcode(p, &code), 1);
  cr_assert_eq(code, 7, "the exit code comes from the child's own record (got %d)", code);
  kill(stranger, SIGKILL);
  kill(mid, SIGKILL);
  sh_wait(mid, 5000);
  SH_ASSERT_RC(shoal_process_set_reporting(1), 0);
  shoal_process_destroy(p);
}

/* What a child sees of the thread that started it. */
struct inherited {
  char name[64];
  int ident_ok; /* its current Thread's ident is its pthread_self() */
  int cpus;     /* CPUs in its affinity mask */
};

static int report_inherited(void *args, size_t len)
{
  (void)len;
  struct inherited *out = *(struct inherited **)args;
  shoal_thread *me = shoal_current_thread();
  snprintf(out->name, sizeof out->name, "%s", shoal_thread_name(me));
  out->ident_ok = shoal_thread_ident(me) == (uint64_t)pthread_self();
  cpu_set_t set;
  out->cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
  return 0;
}

struct starter {
  struct inherited *seen; /* [0]: non-daemon child, [1]: daemon child */
};

static void start_both_kinds(void *arg)
{
  struct starter *s = arg;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  for (int daemon = 0; daemon < 2; daemon++) {
    shoal_process *p;
    struct inherited *out = &s->seen[daemon];
    if (shoal_process_create(&p, report_inherited, &out, sizeof out, NULL) ||
        shoal_process_set_daemon(p, daemon) || shoal_process_start(p) ||
        shoal_process_join(p, SHOAL_SEC(10)))
      s->seen[daemon].cpus = -2;
    shoal_process_destroy(p);
  }
}

/* A daemon child started from a thread is forked by the forker thread, but
 * sees what a non-daemon child started there sees: the starting thread as
 * its current (and main) Thread, with a correct ident, and that thread's
 * CPU affinity. */
SH_TEST(process, a_daemon_child_inherits_from_the_thread_that_starts_it)
{
  struct inherited *seen = mmap(NULL, 2 * sizeof *seen, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(seen != MAP_FAILED);
  memset(seen, 0, 2 * sizeof *seen);
  struct starter s = {seen};
  shoal_thread *t;
  SH_ASSERT_OK(shoal_thread_create(&t, start_both_kinds, &s,
                                   &(shoal_thread_opts){.name = "starter"}));
  SH_ASSERT_OK(shoal_thread_start(t));
  SH_ASSERT_OK(shoal_thread_join(t, SHOAL_SEC(20)));
  shoal_thread_destroy(t);
  for (int daemon = 0; daemon < 2; daemon++) {
    cr_assert_str_eq(seen[daemon].name, "starter", "daemon=%d: current thread %s", daemon,
                     seen[daemon].name);
    cr_assert(seen[daemon].ident_ok, "daemon=%d: wrong ident", daemon);
    cr_assert_eq(seen[daemon].cpus, 1, "daemon=%d: %d CPUs", daemon, seen[daemon].cpus);
  }
  munmap(seen, 2 * sizeof *seen);
}
