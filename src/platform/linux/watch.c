// SPDX-License-Identifier: MIT
// Watching for a process's death: a detached watcher process that polls a
// pidfd of its owner, so it notices exit and kill -9 alike, at once.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/platform.h"
#include "shoal/common.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* Resets every signal the owner handled: the watcher runs none of its code
 * from a handler, and the owner's interrupts do not stop it. */
static void watcher_signals(void)
{
  sigset_t all;
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN && sa.sa_handler != SIG_DFL) {
      sa.sa_handler = SIG_DFL;
      sa.sa_flags = 0;
      sigaction(sig, &sa, NULL);
    }
  }
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
}

/* Closes every file descriptor but stderr and `keep`, and points stdin and
 * stdout at /dev/null: the watcher must not hold the owner's pipes, sockets
 * or files open. */
static void watcher_fds(int keep)
{
  int fds[256];
  int n;
  do {
    n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
      break;
    int self = dirfd(d);
    struct dirent *e;
    while (n < (int)(sizeof fds / sizeof fds[0]) && (e = readdir(d)) != NULL) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9')
        continue;
      int fd = atoi(e->d_name);
      if (fd > STDERR_FILENO && fd != keep && fd != self)
        fds[n++] = fd;
    }
    closedir(d);
    for (int i = 0; i < n; i++)
      close(fds[i]);
  } while (n == (int)(sizeof fds / sizeof fds[0]));
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    if (null > STDERR_FILENO && null != keep)
      close(null);
  }
}

/* Unmaps every shared mapping the watcher inherited (the owner's regions and
 * segments), so that memory goes when the owner lets go of it, not when the
 * watcher ends.  Private mappings cost nothing: they are copy-on-write. */
static void watcher_unmap_shared(void)
{
  for (int pass = 0; pass < 8; pass++) {
    char buf[4096];
    size_t have = 0;
    int found = 0;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return;
    for (;;) {
      ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
      if (r <= 0)
        break;
      have += (size_t)r;
      buf[have] = '\0';
      char *line = buf, *nl;
      while ((nl = strchr(line, '\n')) != NULL) {
        *nl = '\0';
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && perms[3] == 's') {
          munmap((void *)lo, hi - lo);
          found++;
        }
        line = nl + 1;
      }
      have = (size_t)(buf + have - line);
      memmove(buf, line, have);
    }
    close(fd);
    if (!found)
      return;
  }
}

int shoal__plat_watch_death(void (*fn)(uint32_t pid, void *arg), void *arg)
{
  uint32_t owner = (uint32_t)getpid();
  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)owner, 0);
  if (pidfd < 0)
    return errno == ENOSYS ? SHOAL_ENOSYS : -errno;
  fcntl(pidfd, F_SETFD, FD_CLOEXEC);

  /* Fork twice, so the watcher is not our child: it must not show up in a
   * wait() for any child, nor die with our process group. */
  pid_t mid = fork();
  if (mid < 0) {
    int rc = -errno;
    close(pidfd);
    return rc;
  }
  if (mid == 0) {
    /* Signals first: the watcher is born ignoring interrupts, so there is no
     * moment when it is visible and still killable by one. */
    watcher_signals();
    setsid();
    pid_t w = fork();
    if (w != 0)
      _exit(w < 0);
    if (chdir("/") != 0)
      _exit(1);
    watcher_fds(pidfd);
    watcher_unmap_shared();
    struct pollfd p = {pidfd, POLLIN, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
      ;
    fn(owner, arg);
    _exit(0);
  }
  close(pidfd);
  int status = 0;
  while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : SHOAL_EAGAIN;
}
