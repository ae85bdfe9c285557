// SPDX-License-Identifier: MIT
// Listener and Client (multiprocessing.connection): stream sockets over Unix
// paths, the abstract namespace and TCP, with Python's optional handshake.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn/address.h"
#include "conn/internal.h"

#define DEFAULT_BACKLOG 64
#define DEFAULT_HANDSHAKE SHOAL_SEC(10)

struct shoal_listener {
  int fd;
  int family;
  pid_t owner;           /* the process that made the socket file */
  bool unlink_path;      /* a socket file to remove at close (by owner) */
  struct shoal__addr bound;
  char address[SHOAL__ADDR_STR_MAX];
  shoal_conn_opts opts;  /* authkey points into key */
  uint8_t *key;
};

/* Copies what a connection needs from opts; the key is copied by callers. */
static shoal_conn_opts conn_opts(const shoal_conn_opts *opts)
{
  shoal_conn_opts o = {0};
  if (opts) {
    o.max_msg = opts->max_msg;
    o.authkey = opts->authkey;
    o.authkey_len = opts->authkey_len;
    o.handshake_timeout = opts->handshake_timeout ? opts->handshake_timeout : DEFAULT_HANDSHAKE;
    o.flags = opts->flags;
  } else {
    o.handshake_timeout = DEFAULT_HANDSHAKE;
  }
  return o;
}

/* Runs the handshake on a new connection, bounded by its own timeout; any
 * failure, the timeout included, is SHOAL_EAUTH (or ENOMEM). */
static int handshake(shoal_conn *c, const shoal_conn_opts *o, bool server)
{
  if (!o->authkey)
    return 0;
  shoal__deadline d;
  int rc = shoal__deadline_init(&d, o->handshake_timeout);
  if (rc)
    return rc;
  if (server) {
    rc = shoal__auth_deliver(c, o->authkey, o->authkey_len, o->flags, &d);
    if (!rc)
      rc = shoal__auth_answer(c, o->authkey, o->authkey_len, &d);
  } else {
    rc = shoal__auth_answer(c, o->authkey, o->authkey_len, &d);
    if (!rc)
      rc = shoal__auth_deliver(c, o->authkey, o->authkey_len, o->flags, &d);
  }
  return rc == SHOAL_ENOMEM || rc == 0 ? rc : SHOAL_EAUTH;
}

/* Makes a connection of an established stream socket and authenticates it;
 * closes fd on failure. */
static int new_stream_conn(shoal_conn **out, int fd, int family, const shoal_conn_opts *o,
                           bool server)
{
  if (family != AF_UNIX) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  unsigned flags = CONN_READABLE | CONN_WRITABLE | CONN_SOCKET | (family == AF_UNIX ? CONN_UNIX : 0);
  shoal_conn *c;
  int rc = shoal__conn_new(&c, fd, flags, o);
  if (rc) {
    close(fd);
    return rc;
  }
  if ((rc = handshake(c, o, server)) != 0) {
    shoal_conn_close(c);
    return rc;
  }
  *out = c;
  return 0;
}

/* A fresh socket file name for Listener(address=None). */
static int default_address(char *buf, size_t len)
{
  const char *dir = getenv("TMPDIR");
  if (!dir || !*dir)
    dir = "/tmp";
  uint8_t r[8];
  int rc = shoal__plat_random(r, sizeof r);
  if (rc)
    return rc;
  int n = snprintf(buf, len, "%s/shoal-sock-%d-%02x%02x%02x%02x%02x%02x%02x%02x", dir,
                   (int)getpid(), r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
  return n > 0 && (size_t)n < len ? 0 : SHOAL_ENAMETOOLONG;
}

int shoal_listener_open(shoal_listener **out, const char *address, const shoal_conn_opts *opts)
{
  if (!out)
    return SHOAL_EINVAL;
  int rc = shoal__conn_opts_check(opts, CONN_OPT_MAX_MSG | CONN_OPT_AUTH | CONN_OPT_BACKLOG);
  if (rc)
    return rc;
  char tmp[SHOAL__ADDR_STR_MAX];
  if (!address) {
    if ((rc = default_address(tmp, sizeof tmp)) != 0)
      return rc;
    address = tmp;
  }
  struct shoal__addr_list al;
  if ((rc = shoal__addr_parse(address, "tcp", &al)) != 0)
    return rc;
  shoal_listener *l = calloc(1, sizeof *l);
  if (!l)
    return SHOAL_ENOMEM;
  l->opts = conn_opts(opts);
  if (l->opts.authkey) {
    l->key = malloc(l->opts.authkey_len ? l->opts.authkey_len : 1);
    if (!l->key) {
      free(l);
      return SHOAL_ENOMEM;
    }
    memcpy(l->key, l->opts.authkey, l->opts.authkey_len);
    l->opts.authkey = l->key;
  }
  l->bound = al.a[0];
  l->family = l->bound.ss.ss_family;
  l->fd = shoal__plat_socket(l->family, SOCK_STREAM, true);
  if (l->fd < 0) {
    rc = l->fd;
    goto fail;
  }
  if (l->family != AF_UNIX) {
    int one = 1; /* as Python does on POSIX: restart on a port in TIME_WAIT */
    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (bind(l->fd, (struct sockaddr *)&l->bound.ss, l->bound.len) != 0) {
    rc = shoal__plat_err(errno);
    goto fail_fd;
  }
  l->unlink_path = al.unix_path;
  l->owner = getpid();
  if (listen(l->fd, opts && opts->backlog ? opts->backlog : DEFAULT_BACKLOG) != 0) {
    rc = shoal__plat_err(errno);
    goto fail_fd;
  }
  /* The real address: the port the kernel chose for port 0. */
  struct shoal__addr real = {.len = sizeof real.ss};
  if (getsockname(l->fd, (struct sockaddr *)&real.ss, &real.len) == 0 && l->family != AF_UNIX)
    l->bound = real;
  shoal__addr_format(&l->bound.ss, l->bound.len, "tcp", l->address);
  *out = l;
  return 0;
fail_fd:
  shoal_listener_close(l);
  return rc;
fail:
  free(l->key);
  free(l);
  return rc;
}

void shoal_listener_close(shoal_listener *l)
{
  if (!l)
    return;
  if (l->fd >= 0)
    close(l->fd);
  if (l->unlink_path && l->owner == getpid())
    unlink(((struct sockaddr_un *)&l->bound.ss)->sun_path);
  free(l->key);
  free(l);
}

int shoal_listener_accept(shoal_listener *l, shoal_conn **out, shoal_duration timeout)
{
  shoal__deadline d;
  if (!l || !out)
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  for (;;) {
    int fd = shoal__plat_accept(l->fd);
    if (fd >= 0)
      return new_stream_conn(out, fd, l->family, &l->opts, true);
    if (fd != SHOAL_EAGAIN)
      return fd;
    if ((rc = shoal__wait_fd(l->fd, POLLIN, &d)) != 0)
      return rc;
  }
}

const char *shoal_listener_address(shoal_listener *l)
{
  return l ? l->address : NULL;
}

int shoal_listener_fileno(shoal_listener *l)
{
  return l ? l->fd : SHOAL_EINVAL;
}

/* --------------------------------------------------------------- Client -- */

/* Connects a non-blocking socket to a, by d.  Returns the socket (now
 * blocking: connections use per-call non-blocking I/O) or an error. */
static int connect_one(const struct shoal__addr *a, const shoal__deadline *d)
{
  int fd = shoal__plat_socket(a->ss.ss_family, SOCK_STREAM, true);
  if (fd < 0)
    return fd;
  int rc = 0;
  unsigned backoff_ms = 1;
  for (;;) {
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
      break;
    if (errno == EINTR)
      continue;
    if (errno == EINPROGRESS) {
      if ((rc = shoal__wait_fd(fd, POLLOUT, d)) != 0)
        break;
      int err = 0;
      socklen_t l = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
        err = errno;
      rc = err ? shoal__plat_err(err) : 0;
      break;
    }
    if (errno != EAGAIN) {
      rc = shoal__plat_err(errno);
      break;
    }
    /* A Unix listener whose backlog is full: try again shortly. */
    if (d->nowait || shoal__plat_now() >= d->at) {
      rc = shoal__deadline_code(d);
      break;
    }
    uint64_t until = shoal__plat_now() + (uint64_t)backoff_ms * 1000000u;
    struct pollfd none = {.fd = -1};
    shoal__plat_poll(&none, 1, until < d->at ? until : d->at);
    if (backoff_ms < 50)
      backoff_ms *= 2;
  }
  if (rc == 0) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
      rc = SHOAL_EBADF;
  }
  if (rc) {
    close(fd);
    return rc;
  }
  return fd;
}

int shoal_client(shoal_conn **out, const char *address, const shoal_conn_opts *opts,
                 shoal_duration timeout)
{
  shoal__deadline d;
  if (!out || !address)
    return SHOAL_EINVAL;
  int rc = shoal__conn_opts_check(opts, CONN_OPT_MAX_MSG | CONN_OPT_AUTH);
  if (rc || (rc = shoal__deadline_init(&d, timeout)) != 0)
    return rc;
  struct shoal__addr_list al;
  if ((rc = shoal__addr_parse(address, "tcp", &al)) != 0)
    return rc;
  shoal_conn_opts o = conn_opts(opts);
  for (int i = 0; i < al.n; i++) {
    int fd = connect_one(&al.a[i], &d);
    if (fd >= 0)
      return new_stream_conn(out, fd, al.a[i].ss.ss_family, &o, false);
    rc = fd;
    if (rc == SHOAL_ETIMEDOUT || rc == SHOAL_EAGAIN)
      break;
  }
  return rc;
}
