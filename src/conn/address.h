// SPDX-License-Identifier: MIT
// address.h: the address strings of Listener, Client and datagram endpoints.
//   tcp://HOST:PORT, tcp://[V6]:PORT    TCP (HOST a name or a numeric address)
//   udp://HOST:PORT, udp://[V6]:PORT    UDP (datagram endpoints)
//   unix:PATH, or a PATH without "://"   an AF_UNIX socket file
//   unix:@NAME, or @NAME                 Linux's abstract namespace ("\0NAME")
#ifndef SHOAL_CONN_ADDRESS_H
#define SHOAL_CONN_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "shoal/conn.h"

/* Longest formatted address, NUL included. */
#define SHOAL__ADDR_STR_MAX SHOAL_CONN_ADDRESS_MAX
/* Most resolved candidates kept for one host name. */
#define SHOAL__ADDR_MAX_CANDIDATES 4

struct shoal__addr {
  struct sockaddr_storage ss;
  socklen_t len;
};

struct shoal__addr_list {
  struct shoal__addr a[SHOAL__ADDR_MAX_CANDIDATES];
  int n;
  bool unix_path; /* a socket file (not abstract): the Listener unlinks it */
};

// shoal__addr_parse resolves s.  scheme is "tcp" (stream) or "udp"
// (datagram); for "tcp" the unix forms are accepted too.  A host name's
// IPv4 addresses come first, then its IPv6 ones (as Python's ('host', port),
// which is IPv4 only), whatever the resolver's order.  Returns 0 with at
// least one candidate, or SHOAL_EINVAL (malformed, unknown scheme, bad
// port), SHOAL_ENAMETOOLONG (a path over 107 bytes), SHOAL_ENOENT (a host
// name that does not resolve).
int shoal__addr_parse(const char *s, const char *scheme, struct shoal__addr_list *out);

// shoal__addr_format writes the address of sa in the form parse reads.
void shoal__addr_format(const struct sockaddr_storage *ss, socklen_t len, const char *scheme,
                        char out[SHOAL__ADDR_STR_MAX]);

#endif
