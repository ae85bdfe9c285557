// SPDX-License-Identifier: MIT
// Descriptors for the conn module: sockets, pipes, poll with an absolute
// deadline, writes that never raise SIGPIPE, and random bytes.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "platform/platform.h"
#include "shoal/common.h"

int shoal__plat_err(int e)
{
  switch (e) {
#define TABLE_ERRNO(name, text)                                                                    \
  case name:                                                                                       \
    return -(name);
    SHOAL_ERRNO_MAP(TABLE_ERRNO)
#undef TABLE_ERRNO
  /* Errors without an entry of their own: the entry that tells the caller
   * the same thing. */
  case ENFILE:       /* the system's descriptor table is full */
  case ETOOMANYREFS: /* too many descriptors in flight over AF_UNIX */
    return SHOAL_EMFILE;
  case ENOBUFS:
    return SHOAL_ENOMEM;
  case EDQUOT:
  case EFBIG:
    return SHOAL_ENOSPC;
  case EROFS:
    return SHOAL_EACCES;
  case ELOOP: /* a path through a loop of symbolic links names nothing */
  case ENXIO:
  case ENODEV:
    return SHOAL_ENOENT;
  case ENOTCONN: /* a stream socket that is not (or no longer) connected */
  case ECONNABORTED:
  case ESHUTDOWN:
    return SHOAL_ECONNRESET;
  case EPROTOTYPE: /* a stream client at a datagram socket's path */
    return SHOAL_ECONNREFUSED;
  case ENETDOWN:
  case ENONET:
    return SHOAL_ENETUNREACH;
  case EHOSTDOWN:
    return SHOAL_EHOSTUNREACH;
  case EPROTONOSUPPORT:
  case ESOCKTNOSUPPORT:
  case EPFNOSUPPORT:
    return SHOAL_EAFNOSUPPORT;
  case ENOTSOCK:
    return SHOAL_EBADF;
  case ETXTBSY:
    return SHOAL_EBUSY;
  case EISDIR: /* a descriptor of a kind that cannot carry messages */
  case ESPIPE:
  case ENOTTY:
  case EFAULT:
  case EDESTADDRREQ:
  case EISCONN:
  case EALREADY:
  case EINPROGRESS:
    return SHOAL_EINVAL;
  default:
    return SHOAL_EIO;
  }
}

static int neg_errno(void)
{
  return shoal__plat_err(errno);
}

int shoal__plat_socket(int domain, int type, bool nonblock)
{
  int fd = socket(domain, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  return fd >= 0 ? fd : neg_errno();
}

int shoal__plat_socketpair(int type, int fds[2])
{
  return socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) == 0 ? 0 : neg_errno();
}

int shoal__plat_pipe(int fds[2])
{
  return pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0 ? 0 : neg_errno();
}

int shoal__plat_accept(int fd)
{
  for (;;) {
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0)
      return c;
    if (errno == EINTR)
      continue;
    /* A connection that was reset while queued is not an error of ours. */
    if (errno == ECONNABORTED || errno == EWOULDBLOCK)
      return SHOAL_EAGAIN;
    return neg_errno();
  }
}

long shoal__plat_send(int fd, const struct msghdr *msg)
{
  for (;;) {
    ssize_t n = sendmsg(fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0)
      return n;
    if (errno != EINTR)
      return errno == EWOULDBLOCK ? SHOAL_EAGAIN : neg_errno();
  }
}

long shoal__plat_recv(int fd, struct msghdr *msg, int flags)
{
  for (;;) {
    ssize_t n = recvmsg(fd, msg, flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n >= 0)
      return n;
    if (errno != EINTR)
      return errno == EWOULDBLOCK ? SHOAL_EAGAIN : neg_errno();
  }
}

long shoal__plat_writev(int fd, const struct iovec *iov, int n)
{
  /* A write to a pipe without readers raises SIGPIPE, which would kill a
   * program that never asked for pipes.  Block it in this thread around the
   * write and take back the one our write raised. */
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  bool was_blocked = sigismember(&old, SIGPIPE);
  bool was_pending = false;
  if (was_blocked) {
    sigset_t pending;
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE);
  }
  ssize_t r;
  do
    r = writev(fd, iov, n);
  while (r < 0 && errno == EINTR);
  int err = r < 0 ? errno : 0;
  if (err == EPIPE && !was_pending) {
    static const struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
      ;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r >= 0)
    return r;
  return err == EWOULDBLOCK ? SHOAL_EAGAIN : shoal__plat_err(err);
}

long shoal__plat_read(int fd, void *buf, size_t len)
{
  for (;;) {
    ssize_t n = read(fd, buf, len);
    if (n >= 0)
      return n;
    if (errno != EINTR)
      return errno == EWOULDBLOCK ? SHOAL_EAGAIN : neg_errno();
  }
}

int shoal__plat_poll(struct pollfd *fds, size_t n, uint64_t deadline)
{
  for (;;) {
    struct timespec ts, *tp = NULL;
    if (deadline != SHOAL__PLAT_NEVER) {
      uint64_t now = shoal__plat_now();
      uint64_t left = deadline > now ? deadline - now : 0;
      ts.tv_sec = (time_t)(left / 1000000000u);
      ts.tv_nsec = (long)(left % 1000000000u);
      tp = &ts;
    }
    int r = ppoll(fds, (nfds_t)n, tp, NULL);
    if (r >= 0)
      return r;
    if (errno != EINTR)
      return neg_errno();
  }
}

int shoal__plat_random(void *buf, size_t len)
{
  char *p = buf;
  while (len > 0) {
    ssize_t r = getrandom(p, len, 0);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return neg_errno();
    }
    p += r;
    len -= (size_t)r;
  }
  return 0;
}
