// SPDX-License-Identifier: MIT
// Address strings: parsing (with name resolution) and formatting.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "conn/address.h"
#include "shoal/common.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

static int parse_unix(const char *path, struct shoal__addr_list *out)
{
  struct sockaddr_un *un = (struct sockaddr_un *)&out->a[0].ss;
  bool abstract = path[0] == '@';
  const char *name = abstract ? path + 1 : path;
  size_t n = strlen(name);
  if (n == 0)
    return SHOAL_EINVAL;
  /* A path needs its NUL; an abstract name its leading NUL. */
  if (n + 1 > SUN_PATH_MAX)
    return SHOAL_ENAMETOOLONG;
  memset(un, 0, sizeof *un);
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path + abstract, name, n);
  out->a[0].len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + abstract + n + !abstract);
  out->n = 1;
  out->unix_path = !abstract;
  return 0;
}

static int parse_inet(const char *hostport, int socktype, struct shoal__addr_list *out)
{
  char host[256];
  const char *port;
  if (hostport[0] == '[') {
    const char *end = strchr(hostport, ']');
    if (!end || end[1] != ':')
      return SHOAL_EINVAL;
    size_t hl = (size_t)(end - hostport - 1);
    if (hl == 0 || hl >= sizeof host)
      return SHOAL_EINVAL;
    memcpy(host, hostport + 1, hl);
    host[hl] = '\0';
    port = end + 2;
  } else {
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || memchr(hostport, ':', (size_t)(colon - hostport)))
      return SHOAL_EINVAL;
    size_t hl = (size_t)(colon - hostport);
    if (hl >= sizeof host)
      return SHOAL_EINVAL;
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    port = colon + 1;
  }
  char *end;
  if (!*port || strspn(port, "0123456789") != strlen(port) || strtol(port, &end, 10) > 65535)
    return SHOAL_EINVAL;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype,
                           .ai_flags = AI_NUMERICSERV}, *res;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc == EAI_MEMORY)
    return SHOAL_ENOMEM;
  if (rc != 0)
    return SHOAL_ENOENT;
  out->n = 0;
  out->unix_path = false;
  /* IPv4 first, whatever order the resolver chose: Python's ('host', port)
   * is IPv4 only, and the resolver puts ::1 before 127.0.0.1 wherever
   * /etc/hosts maps "localhost" to both (Debian, Ubuntu).  A Listener binds
   * the first candidate, so "tcp://localhost:0" must be 127.0.0.1 there for
   * Python's Client(('localhost', port)) to reach it; IPv6 addresses follow
   * for a Client, and lead only for a name without an IPv4 address. */
  static const int families[] = {AF_INET, AF_INET6};
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
    for (struct addrinfo *ai = res; ai && out->n < SHOAL__ADDR_MAX_CANDIDATES; ai = ai->ai_next) {
      if (ai->ai_family != families[f] || ai->ai_addrlen > sizeof out->a[0].ss)
        continue;
      memcpy(&out->a[out->n].ss, ai->ai_addr, ai->ai_addrlen);
      out->a[out->n].len = ai->ai_addrlen;
      out->n++;
    }
  }
  freeaddrinfo(res);
  return out->n ? 0 : SHOAL_ENOENT;
}

int shoal__addr_parse(const char *s, const char *scheme, struct shoal__addr_list *out)
{
  if (!s || !*s)
    return SHOAL_EINVAL;
  bool stream = strcmp(scheme, "tcp") == 0;
  const char *sep = strstr(s, "://");
  if (sep) {
    size_t sl = strlen(scheme);
    if ((size_t)(sep - s) != sl || strncmp(s, scheme, sl) != 0)
      return SHOAL_EINVAL;
    return parse_inet(sep + 3, stream ? SOCK_STREAM : SOCK_DGRAM, out);
  }
  if (!stream)
    return SHOAL_EINVAL;
  return parse_unix(strncmp(s, "unix:", 5) == 0 ? s + 5 : s, out);
}

void shoal__addr_format(const struct sockaddr_storage *ss, socklen_t len, const char *scheme,
                        char out[SHOAL__ADDR_STR_MAX])
{
  char ip[INET6_ADDRSTRLEN];
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    snprintf(out, SHOAL__ADDR_STR_MAX, "%s://%s:%u", scheme, ip, ntohs(in->sin_port));
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    snprintf(out, SHOAL__ADDR_STR_MAX, "%s://[%s]:%u", scheme, ip, ntohs(in6->sin6_port));
  } else {
    const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
    size_t n = len > offsetof(struct sockaddr_un, sun_path)
                   ? len - offsetof(struct sockaddr_un, sun_path)
                   : 0;
    if (n > 0 && un->sun_path[0] == '\0') /* abstract: the length is exact */
      snprintf(out, SHOAL__ADDR_STR_MAX, "@%.*s", (int)(n - 1), un->sun_path + 1);
    else /* a path; "unix:" keeps one that looks like another form a path */
      snprintf(out, SHOAL__ADDR_STR_MAX, "%s%.*s",
               un->sun_path[0] == '@' || strstr(un->sun_path, "://") ? "unix:" : "",
               (int)strnlen(un->sun_path, n), un->sun_path);
  }
}
