// SPDX-License-Identifier: MIT
// Datagram endpoints: a bound UDP socket (IPv4 or IPv6) with send_to and
// recv_from that keep datagram boundaries and report truncation.
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn/address.h"
#include "conn/internal.h"

struct shoal_dgram {
  int fd;
  int family;
  char address[SHOAL__ADDR_STR_MAX];
  /* The last destination, resolved: repeated sends to one peer skip the
   * resolver.  Valid only once have_last is set (a zeroed last_to is "",
   * which must not match an empty destination). */
  bool have_last;
  char last_to[SHOAL__ADDR_STR_MAX];
  struct shoal__addr last_addr;
};

int shoal_dgram_open(shoal_dgram **out, const char *address)
{
  if (!out || !address)
    return SHOAL_EINVAL;
  struct shoal__addr_list al;
  int rc = shoal__addr_parse(address, "udp", &al);
  if (rc)
    return rc;
  shoal_dgram *d = calloc(1, sizeof *d);
  if (!d)
    return SHOAL_ENOMEM;
  d->family = al.a[0].ss.ss_family;
  d->fd = shoal__plat_socket(d->family, SOCK_DGRAM, false);
  if (d->fd < 0) {
    rc = d->fd;
    free(d);
    return rc;
  }
  struct shoal__addr real = {.len = sizeof real.ss};
  if (bind(d->fd, (struct sockaddr *)&al.a[0].ss, al.a[0].len) != 0 ||
      getsockname(d->fd, (struct sockaddr *)&real.ss, &real.len) != 0) {
    rc = shoal__plat_err(errno);
    close(d->fd);
    free(d);
    return rc;
  }
  shoal__addr_format(&real.ss, real.len, "udp", d->address);
  *out = d;
  return 0;
}

void shoal_dgram_close(shoal_dgram *d)
{
  if (!d)
    return;
  close(d->fd);
  free(d);
}

const char *shoal_dgram_address(shoal_dgram *d)
{
  return d ? d->address : NULL;
}

int shoal_dgram_fileno(shoal_dgram *d)
{
  return d ? d->fd : SHOAL_EINVAL;
}

/* Resolves `to` to an address of the socket's family. */
static int destination(shoal_dgram *d, const char *to, const struct shoal__addr **out)
{
  if (d->have_last && strcmp(to, d->last_to) == 0) {
    *out = &d->last_addr;
    return 0;
  }
  if (strlen(to) >= sizeof d->last_to)
    return SHOAL_EINVAL;
  struct shoal__addr_list al;
  int rc = shoal__addr_parse(to, "udp", &al);
  if (rc)
    return rc;
  for (int i = 0; i < al.n; i++) {
    if (al.a[i].ss.ss_family == d->family) {
      d->last_addr = al.a[i];
      strcpy(d->last_to, to);
      d->have_last = true;
      *out = &d->last_addr;
      return 0;
    }
  }
  return SHOAL_EAFNOSUPPORT;
}

int shoal_dgram_send_to(shoal_dgram *d, const void *buf, size_t len, const char *to,
                        shoal_duration timeout)
{
  shoal__deadline dl;
  if (!d || !to || (!buf && len))
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&dl, timeout);
  if (rc)
    return rc;
  const struct shoal__addr *a;
  if ((rc = destination(d, to, &a)) != 0)
    return rc;
  struct iovec iov = {(void *)buf, len};
  struct msghdr m = {.msg_name = (void *)&a->ss, .msg_namelen = a->len, .msg_iov = &iov,
                     .msg_iovlen = 1};
  for (;;) {
    long r = shoal__plat_send(d->fd, &m);
    if (r >= 0)
      return 0;
    if (r != SHOAL_EAGAIN)
      return (int)r;
    if ((rc = shoal__wait_fd(d->fd, POLLOUT, &dl)) != 0)
      return rc;
  }
}

int shoal_dgram_recv_from(shoal_dgram *d, void *buf, size_t cap, size_t *len, char *from,
                          size_t from_cap, shoal_duration timeout)
{
  shoal__deadline dl;
  if (!d || !len || (!buf && cap) || (from && from_cap < SHOAL_CONN_ADDRESS_MAX))
    return SHOAL_EINVAL;
  *len = 0;
  int rc = shoal__deadline_init(&dl, timeout);
  if (rc)
    return rc;
  struct shoal__addr src;
  struct iovec iov = {buf, cap};
  struct msghdr m;
  long r;
  for (;;) {
    m = (struct msghdr){.msg_name = &src.ss, .msg_namelen = sizeof src.ss, .msg_iov = &iov,
                        .msg_iovlen = 1};
    /* MSG_TRUNC: the datagram's real length even when it did not fit. */
    r = shoal__plat_recv(d->fd, &m, MSG_TRUNC);
    if (r >= 0)
      break;
    if (r != SHOAL_EAGAIN)
      return (int)r;
    if ((rc = shoal__wait_fd(d->fd, POLLIN, &dl)) != 0)
      return rc;
  }
  *len = (size_t)r;
  if (from)
    shoal__addr_format(&src.ss, m.msg_namelen, "udp", from);
  return (size_t)r > cap ? SHOAL_EMSGSIZE : 0;
}
