// SPDX-License-Identifier: MIT
// wait(): multiprocessing.connection.wait over connections and raw
// descriptors — one poll(2) for all, plus what the connections already hold.
#include <poll.h>
#include <stdlib.h>

#include "conn/internal.h"

/* Up to this many items are polled from a stack array. */
#define STACK_ITEMS 64

int shoal_conn_wait(shoal_wait_item *items, size_t n, shoal_duration timeout)
{
  shoal__deadline d;
  if ((!items && n) || (n == 0 && timeout == SHOAL_FOREVER))
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  struct pollfd stack[STACK_ITEMS], *p = stack;
  if (n > STACK_ITEMS && !(p = calloc(n, sizeof *p)))
    return SHOAL_ENOMEM;
  /* A connection holding a whole message (or an error to report) is ready
   * now: then only look at the others without waiting. */
  bool ready_now = false;
  for (size_t i = 0; i < n; i++) {
    shoal_wait_item *it = &items[i];
    it->ready = 0;
    int fd = it->fd;
    if (it->conn) {
      if (!(it->conn->flags & CONN_READABLE)) {
        rc = SHOAL_EBADF;
        goto out;
      }
      fd = it->conn->fd;
      if (shoal__conn_ready(it->conn)) {
        it->ready = 1;
        ready_now = true;
      }
    }
    if (fd < 0) {
      rc = SHOAL_EBADF;
      goto out;
    }
    p[i] = (struct pollfd){.fd = fd, .events = POLLIN};
  }
  rc = shoal__plat_poll(p, n, ready_now ? 0 : d.at);
  if (rc < 0)
    goto out;
  int count = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i].revents & POLLNVAL) {
      rc = SHOAL_EBADF;
      goto out;
    }
    if (p[i].revents)
      items[i].ready = 1;
    count += items[i].ready;
  }
  rc = count ? count : shoal__deadline_code(&d);
out:
  if (p != stack)
    free(p);
  return rc;
}
