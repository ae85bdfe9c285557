// SPDX-License-Identifier: MIT
// Named pipes: mkfifo, and a FIFO end opened as a framed connection.
//
// A FIFO's read end opened without blocking reads 0 ("EOF") until a writer
// comes, so the reading connection polls before each read: poll reports
// POLLHUP only once a writer has come and gone, which makes 0 a real EOF.
// The write end can only be opened once a reader has the FIFO open; opening
// it waits for one, up to the timeout.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn/internal.h"

int shoal_fifo_create(const char *path, unsigned mode)
{
  if (!path || !*path || (mode & ~0777u))
    return SHOAL_EINVAL;
  if (mkfifo(path, 0) != 0)
    return shoal__plat_err(errno);
  /* Applied as given: the umask does not apply (as for named objects). */
  if (chmod(path, mode ? mode : 0600) != 0) {
    int rc = shoal__plat_err(errno);
    unlink(path);
    return rc;
  }
  return 0;
}

/* Opens the write end, waiting for a reader until d. */
static int open_writer(const char *path, const shoal__deadline *d)
{
  unsigned backoff_ms = 1;
  for (;;) {
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0)
      return fd;
    if (errno == EINTR)
      continue;
    if (errno != ENXIO)
      return shoal__plat_err(errno);
    uint64_t now = shoal__plat_now();
    if (d->nowait || now >= d->at)
      return shoal__deadline_code(d);
    uint64_t until = now + (uint64_t)backoff_ms * 1000000u;
    struct pollfd none = {.fd = -1};
    shoal__plat_poll(&none, 1, until < d->at ? until : d->at);
    if (backoff_ms < 20)
      backoff_ms *= 2;
  }
}

int shoal_fifo_open(shoal_conn **out, const char *path, unsigned flags,
                    const shoal_conn_opts *opts, shoal_duration timeout)
{
  shoal__deadline d;
  if (!out || !path || !*path || (flags != SHOAL_FIFO_READ && flags != SHOAL_FIFO_WRITE))
    return SHOAL_EINVAL;
  int rc = shoal__conn_opts_check(opts, CONN_OPT_MAX_MSG);
  if (rc || (rc = shoal__deadline_init(&d, timeout)) != 0)
    return rc;
  int fd;
  unsigned cflags;
  if (flags == SHOAL_FIFO_READ) {
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
      return shoal__plat_err(errno);
    cflags = CONN_READABLE | CONN_POLL_FIRST;
  } else {
    /* Refuse a file that is not a FIFO before opening it for writing. */
    struct stat st;
    if (stat(path, &st) != 0)
      return shoal__plat_err(errno);
    if (!S_ISFIFO(st.st_mode))
      return SHOAL_ETYPE;
    if ((fd = open_writer(path, &d)) < 0)
      return fd;
    cflags = CONN_WRITABLE;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
    close(fd);
    return SHOAL_ETYPE;
  }
  if ((rc = shoal__conn_new(out, fd, cflags, opts)) != 0)
    close(fd);
  return rc;
}
