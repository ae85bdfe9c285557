// SPDX-License-Identifier: MIT
// Watching for a process's death: a detached watcher process that polls a
// pidfd of its owner, so it notices exit and kill -9 alike, at once.  The
// owner keeps the read end of a pipe whose write end only the watcher holds:
// it hangs up when the watcher ends, which is how the owner tells whether
// its watcher still runs.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/* Closes every file descriptor but stderr and the two kept ones, and points
 * stdin and stdout (and stderr, if the owner had none) at /dev/null: the
 * watcher must not hold the owner's pipes, sockets or files open.  The kept
 * descriptors are above stderr (watch_death moved them there), so nothing
 * here can land on them. */
static void watcher_fds(int keep, int keep2)
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
      if (fd > STDERR_FILENO && fd != keep && fd != keep2 && fd != self)
        fds[n++] = fd;
    }
    closedir(d);
    for (int i = 0; i < n; i++)
      close(fds[i]);
  } while (n == (int)(sizeof fds / sizeof fds[0]));
  /* The lowest free descriptor: one of 0..2 if the owner had it closed. */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0)
    return;
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
    if (fd != null && (fd != STDERR_FILENO || fcntl(fd, F_GETFD) < 0))
      dup2(null, fd);
  }
  if (null > STDERR_FILENO)
    close(null);
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

/* Moves fd above stderr (close-on-exec): in a process started with stdin or
 * stdout closed, a new descriptor can be 0 or 1, which the watcher points at
 * /dev/null.  Returns the descriptor, or -1 with errno set (fd is closed). */
static int above_stderr(int fd)
{
  if (fd < 0 || fd > STDERR_FILENO)
    return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  int e = errno;
  close(fd);
  errno = e;
  return moved;
}

/* True when w->fd is still the pipe watch_death made: the program may have
 * closed it (closefrom, a daemon's cleanup) and the number been reused. */
static bool watcher_ours(const struct shoal__plat_watcher *w)
{
  struct stat st;
  return w->fd >= 0 && fstat(w->fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
         (uint64_t)st.st_dev == w->dev && (uint64_t)st.st_ino == w->ino;
}

bool shoal__plat_watcher_alive(const struct shoal__plat_watcher *w)
{
  if (!watcher_ours(w))
    return false;
  /* Nobody ever writes: anything but "nothing yet" is the hang-up. */
  struct pollfd p = {w->fd, POLLIN, 0};
  int n;
  while ((n = poll(&p, 1, 0)) < 0 && errno == EINTR)
    ;
  return n == 0;
}

void shoal__plat_watcher_forget(struct shoal__plat_watcher *w)
{
  if (watcher_ours(w))
    close(w->fd);
  w->fd = -1;
}

int shoal__plat_watch_death(void (*fn)(uint32_t pid, void *arg), void *arg,
                            struct shoal__plat_watcher *w)
{
  uint32_t owner = (uint32_t)getpid();
  int life[2] = {-1, -1}, rc = 0;
  struct stat st;
  /* pidfd_open sets close-on-exec itself. */
  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)owner, 0);
  if (pidfd < 0)
    return errno == ENOSYS ? SHOAL_ENOSYS : -errno;
  if ((pidfd = above_stderr(pidfd)) < 0 || pipe2(life, O_CLOEXEC) != 0 ||
      (life[0] = above_stderr(life[0])) < 0 || (life[1] = above_stderr(life[1])) < 0 ||
      fstat(life[0], &st) != 0) {
    rc = shoal__plat_err(errno);
    goto fail;
  }

  /* Fork twice, so the watcher is not our child: it must not show up in a
   * wait() for any child, nor die with our process group.  (A thread of ours
   * that forks before we close our copy of life[1] below gives its child
   * that copy: the hang-up then waits for that child too.) */
  pid_t mid = fork();
  if (mid < 0) {
    rc = shoal__plat_err(errno);
    goto fail;
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
    watcher_fds(pidfd, life[1]); /* closes life[0] too */
    watcher_unmap_shared();
    struct pollfd p = {pidfd, POLLIN, 0};
    int n;
    while ((n = poll(&p, 1, -1)) < 0 && errno == EINTR)
      ;
    /* Only the pidfd's own word that the owner ended: anything else (it
     * cannot happen) must not sweep a live owner's segments.  Exiting
     * instead hangs up life[1], and the owner's next create starts a new
     * watcher. */
    if (n == 1 && (p.revents & POLLIN) && !(p.revents & POLLNVAL))
      fn(owner, arg);
    _exit(0);
  }
  close(pidfd);
  close(life[1]);
  int status = 0;
  while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    close(life[0]);
    return SHOAL_EAGAIN;
  }
  w->fd = life[0];
  w->dev = (uint64_t)st.st_dev;
  w->ino = (uint64_t)st.st_ino;
  return 0;
fail:
  if (pidfd >= 0)
    close(pidfd);
  if (life[0] >= 0)
    close(life[0]);
  if (life[1] >= 0)
    close(life[1]);
  return rc;
}
