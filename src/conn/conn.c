// SPDX-License-Identifier: MIT
// Connection: Python's framing (a 4-byte big-endian signed length, or -1 and
// an 8-byte length, then the bytes) over a stream socket, a pipe or a FIFO.
//
// Reads never go past the end of the current message, as Python's do: a
// descriptor shared by several processes (each taking a lock around its
// receive, as multiprocessing.Queue does) hands each message to exactly one
// of them, and a byte carrying descriptors is never swallowed by a message.
// A message half received when a call times out stays in the handle (the
// header bytes, then the payload so far) and the next receive goes on.
//
// Sending is the mirror image: a message whose send runs out of time after
// its first byte went out cannot be taken back, and nothing else may go out
// before the rest of it.  The rest is copied into the handle and the send
// counts as done; every later send, and every receive that has to wait,
// pushes the rest out first.  So SHOAL_NOWAIT senders (event loops) see
// SHOAL_EAGAIN only when nothing of their message was sent, and the
// connection never breaks for want of room.
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn/internal.h"

/* Allocating receives start with at most this much and grow as bytes come,
 * so that a peer announcing a huge length costs only what it really sends. */
#define GROW_START ((size_t)1 << 20)

static uint32_t load_be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t load_be64(const uint8_t *p)
{
  return (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
}

static void store_be32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

int shoal__conn_opts_check(const shoal_conn_opts *opts, unsigned allowed)
{
  if (!opts)
    return 0;
  for (size_t i = 0; i < sizeof opts->reserved / sizeof opts->reserved[0]; i++)
    if (opts->reserved[i])
      return SHOAL_EINVAL;
  if (opts->max_msg > SIZE_MAX || (opts->max_msg && !(allowed & CONN_OPT_MAX_MSG)))
    return SHOAL_EINVAL;
  bool auth_used = opts->authkey || opts->authkey_len || opts->handshake_timeout || opts->flags;
  if (auth_used && !(allowed & CONN_OPT_AUTH))
    return SHOAL_EINVAL;
  if ((!opts->authkey && opts->authkey_len) || opts->handshake_timeout < 0 ||
      (opts->flags & ~(unsigned)SHOAL_CONN_AUTH_NO_MD5))
    return SHOAL_EINVAL;
  if (opts->backlog < 0 || (opts->backlog && !(allowed & CONN_OPT_BACKLOG)))
    return SHOAL_EINVAL;
  return 0;
}

int shoal__conn_new(shoal_conn **out, int fd, unsigned flags, const shoal_conn_opts *opts)
{
  shoal_conn *c = calloc(1, sizeof *c);
  if (!c)
    return SHOAL_ENOMEM;
  c->fd = fd;
  c->flags = flags;
  c->max_msg = opts && opts->max_msg ? opts->max_msg : SHOAL_CONN_MAX_MSG_DEFAULT;
  *out = c;
  return 0;
}

int shoal__conn_release(shoal_conn *c)
{
  int fd = c->fd;
  free(c->part);
  free(c->tx_rest);
  free(c);
  return fd;
}

int shoal__wait_fd(int fd, short events, const shoal__deadline *d)
{
  struct pollfd p = {.fd = fd, .events = events};
  int r = shoal__plat_poll(&p, 1, d->at);
  if (r < 0)
    return r;
  if (r == 0)
    return shoal__deadline_code(d);
  return p.revents & POLLNVAL ? SHOAL_EBADF : 0;
}

static bool tx_rest_mine(shoal_conn *c);
static int tx_push(shoal_conn *c);

/* ------------------------------------------------------------ receive -- */

/* Waits until c's descriptor has input, or hung up, or d passes: 0, the
 * deadline's code, or an error.  While this process holds the rest of a
 * sent message, the rest goes out as the descriptor takes it: a peer that
 * answers whole messages would otherwise wait for it, and we for the
 * answer, forever. */
static int wait_input(shoal_conn *c, const shoal__deadline *d)
{
  while (tx_rest_mine(c)) {
    struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLOUT};
    int r = shoal__plat_poll(&p, 1, d->at);
    if (r < 0)
      return r;
    if (r == 0)
      return shoal__deadline_code(d);
    if (p.revents & POLLNVAL)
      return SHOAL_EBADF;
    if (p.revents & (POLLIN | POLLHUP | POLLERR))
      return 0; /* the read says what it is */
    tx_push(c); /* a peer gone part-way breaks the sending side only */
  }
  return shoal__wait_fd(c->fd, POLLIN, d);
}

/* Closes descriptors that came with bytes of a message: a confused or
 * hostile peer must not make us leak them. */
static void close_stray_fds(struct msghdr *m)
{
  for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
      continue;
    size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(h) + i * sizeof fd, sizeof fd);
      close(fd);
    }
  }
}

union fd_control {
  struct cmsghdr align;
  char buf[CMSG_SPACE(sizeof(int) * SHOAL_CONN_MAX_FDS)];
};

/* One read of up to n bytes: > 0 bytes, 0 at EOF, or SHOAL_E* (EAGAIN when
 * nothing is there). */
static long read_once(shoal_conn *c, void *p, size_t n)
{
  if (!(c->flags & CONN_SOCKET))
    return shoal__plat_read(c->fd, p, n);
  struct iovec iov = {p, n};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  if (!(c->flags & CONN_UNIX))
    return shoal__plat_recv(c->fd, &m, 0);
  union fd_control ctl;
  m.msg_control = ctl.buf;
  m.msg_controllen = sizeof ctl.buf;
  long r = shoal__plat_recv(c->fd, &m, 0);
  if (r > 0 && m.msg_controllen > 0)
    close_stray_fds(&m);
  return r;
}

/* Reads between 1 and n bytes, waiting until d: bytes read, SHOAL_EEOF, the
 * deadline's code, or an error. */
static long read_some(shoal_conn *c, void *p, size_t n, const shoal__deadline *d)
{
  for (;;) {
    if (c->flags & CONN_POLL_FIRST) {
      int w = wait_input(c, d);
      if (w)
        return w;
    }
    long r = read_once(c, p, n);
    if (r > 0)
      return r;
    if (r == 0)
      return SHOAL_EEOF;
    if (r != SHOAL_EAGAIN)
      return r;
    if (!(c->flags & CONN_POLL_FIRST)) {
      int w = wait_input(c, d);
      if (w)
        return w;
    }
  }
}

static void rx_reset(shoal_conn *c)
{
  c->hdr_have = 0;
  c->have_len = false;
  c->len = 0;
  free(c->part);
  c->part = NULL;
  c->part_have = c->part_cap = 0;
}

/* The receiving side is done for: every later receive returns `latched`. */
static int rx_break(shoal_conn *c, int rc, int latched)
{
  rx_reset(c);
  c->rx_err = latched;
  return rc;
}

/* A failed read: the end of the stream is final, a timeout keeps the
 * message's state for the next call, other errors pass through. */
static int rx_fail(shoal_conn *c, long r)
{
  return r == SHOAL_EEOF ? rx_break(c, SHOAL_EEOF, SHOAL_EEOF) : (int)r;
}

/* Reads the current message's header, if not already done. */
static int rx_header(shoal_conn *c, const shoal__deadline *d)
{
  while (!c->have_len) {
    size_t need = CONN_HDR_SHORT;
    if (c->hdr_have >= CONN_HDR_SHORT) {
      int32_t v = (int32_t)load_be32(c->hdr);
      if (v >= 0) {
        c->len = (uint64_t)v;
        c->have_len = true;
        break;
      }
      if (v != -1)
        return rx_break(c, SHOAL_EPROTO, SHOAL_EBROKEN);
      need = CONN_HDR_LONG;
      if (c->hdr_have == CONN_HDR_LONG) {
        c->len = load_be64(c->hdr + CONN_HDR_SHORT);
        c->have_len = true;
        break;
      }
    }
    long r = read_some(c, c->hdr + c->hdr_have, need - c->hdr_have, d);
    if (r < 0)
      return rx_fail(c, r);
    c->hdr_have = (uint8_t)(c->hdr_have + r);
  }
  /* Checked before a single payload byte is read or a byte allocated. */
  if (c->len > c->max_msg)
    return rx_break(c, SHOAL_EMSGSIZE, SHOAL_EBROKEN);
  return 0;
}

/* Keeps the first `got` payload bytes, which sit in buf, for the next call. */
static int keep_part(shoal_conn *c, const void *buf, size_t got)
{
  if (got > c->part_cap) {
    uint8_t *p = realloc(c->part, got);
    if (!p)
      return rx_break(c, SHOAL_ENOMEM, SHOAL_EBROKEN);
    c->part = p;
    c->part_cap = got;
  }
  if (buf != c->part)
    memcpy(c->part, buf, got);
  c->part_have = got;
  return 0;
}

int shoal__conn_recv_into(shoal_conn *c, void *buf, size_t cap, size_t *len,
                          const shoal__deadline *d)
{
  if (c->rx_err)
    return c->rx_err;
  int rc = rx_header(c, d);
  if (rc)
    return rc;
  if (c->len > cap) {
    *len = (size_t)c->len;
    return SHOAL_EMSGSIZE;
  }
  size_t want = (size_t)c->len, got = c->part_have;
  if (got)
    memcpy(buf, c->part, got);
  while (got < want) {
    long r = read_some(c, (uint8_t *)buf + got, want - got, d);
    if (r < 0) {
      if (r == SHOAL_EEOF)
        return rx_fail(c, r);
      int k = keep_part(c, buf, got);
      return k ? k : (int)r;
    }
    got += (size_t)r;
  }
  *len = want;
  rx_reset(c);
  return 0;
}

static int recv_alloc(shoal_conn *c, void **out, size_t *outlen, const shoal__deadline *d)
{
  if (c->rx_err)
    return c->rx_err;
  int rc = rx_header(c, d);
  if (rc)
    return rc;
  size_t want = (size_t)c->len;
  while (c->part_have < want) {
    if (c->part_have == c->part_cap) {
      size_t cap = want <= GROW_START ? want : c->part_cap * 2;
      if (cap < GROW_START)
        cap = GROW_START;
      if (cap > want || cap < c->part_cap) /* the end, or overflow */
        cap = want;
      uint8_t *p = realloc(c->part, cap);
      if (!p)
        return SHOAL_ENOMEM;
      c->part = p;
      c->part_cap = cap;
    }
    long r = read_some(c, c->part + c->part_have, c->part_cap - c->part_have, d);
    if (r < 0)
      return rx_fail(c, r);
    c->part_have += (size_t)r;
  }
  void *msg = c->part;
  if (!msg && !(msg = malloc(1)))
    return SHOAL_ENOMEM;
  c->part = NULL;
  rx_reset(c);
  *out = msg;
  *outlen = want;
  return 0;
}

bool shoal__conn_ready(const shoal_conn *c)
{
  return c->rx_err || (c->have_len && c->part_have == c->len);
}

/* --------------------------------------------------------------- send -- */

/* One write of what is left of iov[0..n), skipping `done` bytes. */
static long write_once(shoal_conn *c, const struct iovec *iov, int n, size_t done)
{
  struct iovec v[2];
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (done >= iov[i].iov_len) {
      done -= iov[i].iov_len;
      continue;
    }
    v[k].iov_base = (uint8_t *)iov[i].iov_base + done;
    v[k].iov_len = iov[i].iov_len - done;
    done = 0;
    k++;
  }
  if (!(c->flags & CONN_SOCKET))
    return shoal__plat_writev(c->fd, v, k);
  struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)k};
  return shoal__plat_send(c->fd, &m);
}

/* The sending side is done for: every later send returns SHOAL_EBROKEN. */
static int tx_break(shoal_conn *c)
{
  free(c->tx_rest);
  c->tx_rest = NULL;
  c->tx_rest_len = c->tx_rest_done = 0;
  c->tx_err = SHOAL_EBROKEN;
  return SHOAL_EBROKEN;
}

/* Does this process hold the rest of a sent message?  A forked child's copy
 * of the handle holds its parent's rest: sending it too would put it on the
 * wire twice, and sending anything else would land inside the parent's
 * message, so the child's sending side breaks instead. */
static bool tx_rest_mine(shoal_conn *c)
{
  if (!c->tx_rest)
    return false;
  if (c->tx_owner == getpid())
    return true;
  tx_break(c);
  return false;
}

/* Writes as much of the rest as the descriptor takes now: 0 when all of it
 * is out, SHOAL_EAGAIN when some is left, SHOAL_EBROKEN when the peer went
 * away (the message cannot be completed). */
static int tx_push(shoal_conn *c)
{
  while (c->tx_rest_done < c->tx_rest_len) {
    struct iovec v = {c->tx_rest + c->tx_rest_done, c->tx_rest_len - c->tx_rest_done};
    long r = write_once(c, &v, 1, 0);
    if (r > 0)
      c->tx_rest_done += (size_t)r;
    else if (r == 0 || r == SHOAL_EAGAIN)
      return SHOAL_EAGAIN;
    else
      return tx_break(c);
  }
  free(c->tx_rest);
  c->tx_rest = NULL;
  c->tx_rest_len = c->tx_rest_done = 0;
  return 0;
}

/* Sends the rest this process holds, if any, waiting until d: 0 (nothing
 * left, or nothing was), the deadline's code (some is left), or an error. */
static int tx_flush(shoal_conn *c, const shoal__deadline *d)
{
  if (!tx_rest_mine(c))
    return c->tx_err;
  for (;;) {
    int rc = tx_push(c);
    if (rc != SHOAL_EAGAIN)
      return rc;
    if ((rc = shoal__wait_fd(c->fd, POLLOUT, d)) != 0)
      return rc;
  }
}

/* Keeps bytes [done, total) of iov[0..n) as the rest of the message. */
static int tx_keep(shoal_conn *c, const struct iovec *iov, int n, size_t done, size_t total)
{
  uint8_t *p = malloc(total - done);
  if (!p)
    return tx_break(c);
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    if (done >= iov[i].iov_len) {
      done -= iov[i].iov_len;
      continue;
    }
    memcpy(p + k, (const uint8_t *)iov[i].iov_base + done, iov[i].iov_len - done);
    k += iov[i].iov_len - done;
    done = 0;
  }
  c->tx_rest = p;
  c->tx_rest_len = k;
  c->tx_rest_done = 0;
  c->tx_owner = getpid();
  return 0;
}

/* Writes iov[0..n) as one frame by d.  When d passes before the first byte
 * went out, nothing was sent: the deadline's code.  When it passes part-way,
 * the rest is kept in the handle and the frame counts as sent (0).  An error
 * part-way (the peer went away) breaks the sending side. */
static int write_all(shoal_conn *c, const struct iovec *iov, int n, const shoal__deadline *d)
{
  size_t total = 0, done = 0;
  for (int i = 0; i < n; i++)
    total += iov[i].iov_len;
  while (done < total) {
    long r = write_once(c, iov, n, done);
    if (r > 0) {
      done += (size_t)r;
      continue;
    }
    if (r == 0 || r == SHOAL_EAGAIN)
      r = shoal__wait_fd(c->fd, POLLOUT, d);
    if (r == 0)
      continue;
    if (done == 0)
      return (int)r;
    if (r == shoal__deadline_code(d))
      return tx_keep(c, iov, n, done, total);
    return tx_break(c);
  }
  return 0;
}

int shoal__conn_send(shoal_conn *c, const void *buf, size_t len, const shoal__deadline *d)
{
  if (c->tx_err)
    return c->tx_err;
  int rc = tx_flush(c, d);
  if (rc)
    return rc;
  uint8_t hdr[CONN_HDR_LONG];
  size_t hl = CONN_HDR_SHORT;
  if (len > 0x7fffffff) {
    store_be32(hdr, 0xffffffffu);
    store_be32(hdr + 4, (uint32_t)((uint64_t)len >> 32));
    store_be32(hdr + 8, (uint32_t)len);
    hl = CONN_HDR_LONG;
  } else {
    store_be32(hdr, (uint32_t)len);
  }
  struct iovec iov[2] = {{hdr, hl}, {(void *)buf, len}};
  return write_all(c, iov, len ? 2 : 1, d);
}

/* ------------------------------------------------------------- public -- */

int shoal_pipe(shoal_conn **a, shoal_conn **b, int duplex, const shoal_conn_opts *opts)
{
  int fds[2];
  if (!a || !b)
    return SHOAL_EINVAL;
  int rc = shoal__conn_opts_check(opts, CONN_OPT_MAX_MSG);
  if (rc)
    return rc;
  unsigned fa = CONN_READABLE, fb = CONN_WRITABLE;
  if (duplex) {
    rc = shoal__plat_socketpair(SOCK_STREAM, fds);
    fa = fb = CONN_READABLE | CONN_WRITABLE | CONN_SOCKET | CONN_UNIX;
  } else {
    rc = shoal__plat_pipe(fds);
  }
  if (rc)
    return rc;
  if ((rc = shoal__conn_new(a, fds[0], fa, opts)) == 0 &&
      (rc = shoal__conn_new(b, fds[1], fb, opts)) != 0)
    shoal__conn_release(*a);
  if (rc) {
    close(fds[0]);
    close(fds[1]);
  }
  return rc;
}

int shoal_conn_from_fd(shoal_conn **out, int fd, int readable, int writable,
                       const shoal_conn_opts *opts)
{
  struct stat st;
  if (!out || (!readable && !writable))
    return SHOAL_EINVAL;
  int rc = shoal__conn_opts_check(opts, CONN_OPT_MAX_MSG);
  if (rc)
    return rc;
  if (fd < 0 || fstat(fd, &st) != 0)
    return SHOAL_EBADF;
  unsigned flags = (readable ? CONN_READABLE : 0) | (writable ? CONN_WRITABLE : 0);
  if (S_ISSOCK(st.st_mode)) {
    int type = 0, domain = 0;
    socklen_t l = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) != 0 || type != SOCK_STREAM)
      return SHOAL_EINVAL;
    l = sizeof domain;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) != 0)
      return SHOAL_EINVAL;
    flags |= CONN_SOCKET | (domain == AF_UNIX ? CONN_UNIX : 0);
  } else {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
      return SHOAL_EBADF;
    if (S_ISFIFO(st.st_mode))
      flags |= CONN_POLL_FIRST;
  }
  return shoal__conn_new(out, fd, flags, opts);
}

/* How long shoal_conn_close waits for the peer to take a kept rest. */
#define CLOSE_LINGER SHOAL_SEC(1)

void shoal_conn_close(shoal_conn *c)
{
  if (!c)
    return;
  if (tx_rest_mine(c)) {
    shoal__deadline d;
    shoal__deadline_init(&d, CLOSE_LINGER);
    tx_flush(c, &d);
  }
  close(shoal__conn_release(c));
}

/* The prelude of every blocking call: turn the timeout into a deadline and
 * check that this end may go the way the call goes (`way`: CONN_READABLE or
 * CONN_WRITABLE).  Returns 0, SHOAL_EINVAL or SHOAL_EBADF. */
static int call_begin(const shoal_conn *c, unsigned way, shoal_duration timeout,
                      shoal__deadline *d)
{
  int rc = shoal__deadline_init(d, timeout);
  if (rc)
    return rc;
  return c->flags & way ? 0 : SHOAL_EBADF;
}

int shoal_conn_send_bytes(shoal_conn *c, const void *buf, size_t len, shoal_duration timeout)
{
  shoal__deadline d;
  if (!c || (!buf && len))
    return SHOAL_EINVAL;
  int rc = call_begin(c, CONN_WRITABLE, timeout, &d);
  if (rc)
    return rc;
  return shoal__conn_send(c, buf, len, &d);
}

int shoal_conn_flush(shoal_conn *c, shoal_duration timeout)
{
  shoal__deadline d;
  if (!c)
    return SHOAL_EINVAL;
  int rc = call_begin(c, CONN_WRITABLE, timeout, &d);
  if (rc)
    return rc;
  return tx_flush(c, &d);
}

int shoal_conn_send_bytes_at(shoal_conn *c, const void *buf, size_t buflen, size_t offset,
                             size_t size, shoal_duration timeout)
{
  if (!buf && buflen)
    return SHOAL_EINVAL;
  if (offset > buflen)
    return SHOAL_EINVAL;
  if (size == SHOAL_CONN_REST)
    size = buflen - offset;
  else if (size > buflen - offset)
    return SHOAL_EINVAL;
  return shoal_conn_send_bytes(c, buf ? (const uint8_t *)buf + offset : NULL, size, timeout);
}

int shoal_conn_recv_bytes(shoal_conn *c, void **buf, size_t *len, shoal_duration timeout)
{
  shoal__deadline d;
  if (!c || !buf || !len)
    return SHOAL_EINVAL;
  int rc = call_begin(c, CONN_READABLE, timeout, &d);
  if (rc)
    return rc;
  return recv_alloc(c, buf, len, &d);
}

int shoal_conn_recv_bytes_into(shoal_conn *c, void *buf, size_t cap, size_t offset, size_t *len,
                               shoal_duration timeout)
{
  shoal__deadline d;
  if (!c || !len || (!buf && cap) || offset > cap)
    return SHOAL_EINVAL;
  *len = 0;
  int rc = call_begin(c, CONN_READABLE, timeout, &d);
  if (rc)
    return rc;
  return shoal__conn_recv_into(c, buf ? (uint8_t *)buf + offset : NULL, cap - offset, len, &d);
}

int shoal_conn_poll(shoal_conn *c, shoal_duration timeout)
{
  shoal__deadline d;
  if (!c)
    return SHOAL_EINVAL;
  int rc = call_begin(c, CONN_READABLE, timeout, &d);
  if (rc)
    return rc;
  if (shoal__conn_ready(c))
    return 0;
  return wait_input(c, &d);
}

int shoal_conn_fileno(shoal_conn *c)
{
  return c ? c->fd : SHOAL_EINVAL;
}

int shoal_conn_readable(shoal_conn *c)
{
  return c ? !!(c->flags & CONN_READABLE) : SHOAL_EINVAL;
}

int shoal_conn_writable(shoal_conn *c)
{
  return c ? !!(c->flags & CONN_WRITABLE) : SHOAL_EINVAL;
}

/* ------------------------------------------------------- descriptors -- */

int shoal_conn_send_fds(shoal_conn *c, const int *fds, size_t n, shoal_duration timeout)
{
  shoal__deadline d;
  if (!c || !fds || n == 0 || n > SHOAL_CONN_MAX_FDS)
    return SHOAL_EINVAL;
  int rc = call_begin(c, CONN_WRITABLE, timeout, &d);
  if (rc)
    return rc;
  if (!(c->flags & CONN_UNIX))
    return SHOAL_ENOTSUP;
  if ((rc = tx_flush(c, &d)) != 0) /* the byte must not land inside a message */
    return rc;
  uint8_t count = (uint8_t)(n % 256);
  struct iovec iov = {&count, 1};
  union fd_control ctl;
  memset(&ctl, 0, sizeof ctl);
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                     .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
  struct cmsghdr *h = CMSG_FIRSTHDR(&m);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int) * n);
  memcpy(CMSG_DATA(h), fds, sizeof(int) * n);
  for (;;) {
    long r = shoal__plat_send(c->fd, &m);
    if (r == 1)
      return 0;
    if (r != SHOAL_EAGAIN)
      return r == 0 ? SHOAL_EIO : (int)r;
    if ((rc = shoal__wait_fd(c->fd, POLLOUT, &d)) != 0)
      return rc;
  }
}

int shoal_conn_recv_fds(shoal_conn *c, int *fds, size_t cap, size_t *n, shoal_duration timeout)
{
  shoal__deadline d;
  if (!c || !n || (!fds && cap))
    return SHOAL_EINVAL;
  *n = 0;
  int rc = call_begin(c, CONN_READABLE, timeout, &d);
  if (rc)
    return rc;
  if (!(c->flags & CONN_UNIX))
    return SHOAL_ENOTSUP;
  if (c->rx_err)
    return c->rx_err;
  if (c->hdr_have || c->have_len)
    return SHOAL_EINVAL; /* inside a message */
  uint8_t count;
  struct iovec iov = {&count, 1};
  union fd_control ctl;
  struct msghdr m;
  long r;
  for (;;) {
    m = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof ctl.buf};
    r = shoal__plat_recv(c->fd, &m, 0);
    if (r != SHOAL_EAGAIN)
      break;
    if ((rc = wait_input(c, &d)) != 0)
      return rc;
  }
  if (r == 0)
    return rx_break(c, SHOAL_EEOF, SHOAL_EEOF);
  if (r < 0)
    return (int)r;
  size_t got = 0;
  int tmp[SHOAL_CONN_MAX_FDS];
  for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
      continue;
    size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k && got < SHOAL_CONN_MAX_FDS; i++)
      memcpy(&tmp[got++], CMSG_DATA(h) + i * sizeof(int), sizeof(int));
  }
  if (got == 0 || got % 256 != count) {
    for (size_t i = 0; i < got; i++)
      close(tmp[i]);
    return rx_break(c, SHOAL_EPROTO, SHOAL_EBROKEN);
  }
  if (got > cap) {
    for (size_t i = 0; i < got; i++)
      close(tmp[i]);
    return SHOAL_EMSGSIZE;
  }
  memcpy(fds, tmp, got * sizeof(int));
  *n = got;
  return 0;
}
