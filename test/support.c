// SPDX-License-Identifier: MIT
// Test support: process hygiene, names, children and the helper binary.

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

extern char **environ;

#define MAX_NAMES 64
static char names[MAX_NAMES][64];
static int n_names;

void sh_setup(void)
{
  /* Orphaned grandchildren come back to us, so teardown can reap them all. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  signal(SIGPIPE, SIG_IGN);
}

/* Kills every child listed in /proc/self/task/<tid>/children; returns how many. */
static int kill_children(void)
{
  int killed = 0;
  DIR *d = opendir("/proc/self/task");
  if (!d)
    return 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%.32s/children", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f)
      continue;
    int pid;
    while (fscanf(f, "%d", &pid) == 1) {
      kill(pid, SIGKILL);
      killed++;
    }
    fclose(f);
  }
  closedir(d);
  return killed;
}

void sh_teardown(void)
{
  for (int round = 0; round < 50; round++) {
    int k = kill_children();
    while (waitpid(-1, NULL, WNOHANG) > 0)
      ;
    if (k == 0)
      break;
    usleep(10000);
  }
  /* Plain unlink: tests also leave foreign or damaged files under their names. */
  for (int i = 0; i < n_names; i++) {
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/%.100s", names[i]);
    unlink(path);
  }
  n_names = 0;
}

uint64_t sh_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sh_sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
    ;
}

const char *sh_name(const char *tag)
{
  static unsigned counter;
  cr_assert(n_names < MAX_NAMES, "too many names in one test");
  char *buf = names[n_names++];
  snprintf(buf, sizeof names[0], "shoal-test-%d-%s-%u", (int)getpid(), tag, counter++);
  shoal_unlink(buf);
  return buf;
}

pid_t sh_fork(int (*fn)(void *), void *arg)
{
  fflush(NULL);
  pid_t pid = fork();
  cr_assert(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0)
    _exit(fn(arg));
  return pid;
}

int sh_wait(pid_t pid, int timeout_ms)
{
  int status;
  uint64_t until = sh_now() + (uint64_t)timeout_ms * 1000000u;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    cr_assert(r >= 0, "waitpid(%d): %s", (int)pid, strerror(errno));
    if (r == pid)
      break;
    cr_assert(sh_now() < until, "child %d still running after %d ms", (int)pid, timeout_ms);
    usleep(2000);
  }
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

pid_t sh_spawn_argv(int *out_fd, const char *const *argv)
{
  int fds[2];
  cr_assert(pipe2(fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  cr_assert(rc == 0, "spawn %s: %s", argv[0], strerror(rc));
  close(fds[1]);
  if (out_fd)
    *out_fd = fds[0];
  else
    close(fds[0]);
  return pid;
}

static pid_t spawn_va(int *out_fd, const char *path, const char *arg, va_list ap)
{
  const char *argv[16];
  int argc = 0;
  argv[argc++] = path;
  for (const char *a = arg; a && argc < 15; a = va_arg(ap, const char *))
    argv[argc++] = a;
  argv[argc] = NULL;
  return sh_spawn_argv(out_fd, argv);
}

pid_t sh_helper(int *out_fd, const char *arg, ...)
{
  va_list ap;
  va_start(ap, arg);
  pid_t pid = spawn_va(out_fd, SHOAL_TEST_HELPER, arg, ap);
  va_end(ap);
  return pid;
}

pid_t sh_spawn(int *out_fd, const char *helper, const char *arg, ...)
{
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", SHOAL_TEST_BIN_DIR, helper);
  va_list ap;
  va_start(ap, arg);
  pid_t pid = spawn_va(out_fd, path, arg, ap);
  va_end(ap);
  return pid;
}

void sh_read_line(int fd, char *buf, size_t len, int timeout_ms)
{
  size_t n = 0;
  uint64_t until = sh_now() + (uint64_t)timeout_ms * 1000000u;
  for (;;) {
    cr_assert(n + 1 < len, "helper line too long");
    struct pollfd p = {fd, POLLIN, 0};
    uint64_t now = sh_now();
    cr_assert(now < until, "no line from helper within %d ms", timeout_ms);
    int left = (int)((until - now) / 1000000u);
    cr_assert(poll(&p, 1, left > 0 ? left : 1) >= 0);
    if (!(p.revents & (POLLIN | POLLHUP)))
      continue;
    ssize_t r = read(fd, buf + n, 1);
    cr_assert(r == 1, "helper closed its output after \"%.*s\"", (int)n, buf);
    if (buf[n] == '\n')
      break;
    n++;
  }
  buf[n] = '\0';
}
