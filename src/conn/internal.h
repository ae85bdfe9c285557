// SPDX-License-Identifier: MIT
// internal.h: the connection handle and what the conn module's files share.
// A connection is process-local (heap) state around one descriptor; nothing
// of it lives in shared memory, so a fork copies it whole.
#ifndef SHOAL_CONN_INTERNAL_H
#define SHOAL_CONN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/deadline.h"
#include "shoal/conn.h"

enum {
  CONN_READABLE = 1,
  CONN_WRITABLE = 2,
  CONN_SOCKET = 4,     /* a stream socket: sendmsg/recvmsg */
  CONN_UNIX = 8,       /* an AF_UNIX socket: may carry descriptors */
  CONN_POLL_FIRST = 16 /* a FIFO: read() says 0 before any writer came, so
                          only a poll that reports POLLHUP makes 0 an EOF */
};

/* Frame header: 4 bytes, or 4 + 8 for the long form. */
#define CONN_HDR_SHORT 4
#define CONN_HDR_LONG 12
/* Messages up to this size go out with their header in one write. */
#define CONN_SMALL_MSG 4092u

struct shoal_conn {
  int fd;
  unsigned flags;
  uint64_t max_msg;
  int rx_err; /* 0, or what every receive now returns (EEOF, EBROKEN) */
  int tx_err; /* 0, or what every send now returns (EBROKEN) */
  /* The unsent rest (header and payload bytes) of a message whose send ran
   * out of time part-way.  Frames stay whole on the wire: it goes out before
   * anything else is sent, and while a receive waits.  It belongs to the
   * process that sent it (tx_owner); a forked child's copy is never sent. */
  uint8_t *tx_rest;
  size_t tx_rest_len, tx_rest_done;
  pid_t tx_owner;
  /* The message being received, kept across calls that time out or find
   * the caller's buffer too small: header bytes so far, then (have_len) its
   * length and the payload bytes so far, in part. */
  uint8_t hdr[CONN_HDR_LONG];
  uint8_t hdr_have;
  bool have_len;
  uint64_t len;
  uint8_t *part;
  size_t part_have, part_cap;
};

// shoal__conn_opts_check validates opts (NULL is fine) for a call that uses
// the fields in `allowed` (a mask of CONN_OPT_*).  Returns 0 or SHOAL_EINVAL.
enum {
  CONN_OPT_MAX_MSG = 1,
  CONN_OPT_AUTH = 2,    /* authkey, authkey_len, handshake_timeout, flags */
  CONN_OPT_BACKLOG = 4,
};
int shoal__conn_opts_check(const shoal_conn_opts *opts, unsigned allowed);

// shoal__conn_new makes a handle around fd (not closed on failure).
int shoal__conn_new(shoal_conn **out, int fd, unsigned flags, const shoal_conn_opts *opts);

// shoal__conn_release frees the handle without closing its descriptor and
// returns the descriptor.
int shoal__conn_release(shoal_conn *c);

// shoal__conn_send / shoal__conn_recv_into are send_bytes and
// recv_bytes_into against an absolute deadline, for the handshake.
int shoal__conn_send(shoal_conn *c, const void *buf, size_t len, const shoal__deadline *d);
int shoal__conn_recv_into(shoal_conn *c, void *buf, size_t cap, size_t *len,
                          const shoal__deadline *d);

// shoal__conn_ready tells whether a receive on c would return without
// waiting for its descriptor (a complete message kept, or an error).
bool shoal__conn_ready(const shoal_conn *c);

// shoal__auth_deliver / shoal__auth_answer are the two halves of Python's
// handshake (auth.c) against an absolute deadline.
int shoal__auth_deliver(shoal_conn *c, const void *key, size_t key_len, unsigned flags,
                        const shoal__deadline *d);
int shoal__auth_answer(shoal_conn *c, const void *key, size_t key_len, const shoal__deadline *d);

// shoal__wait_fd waits until fd has `events` or d passes: 0, the deadline's
// code, or an error (SHOAL_EBADF for a descriptor that is not open).
int shoal__wait_fd(int fd, short events, const shoal__deadline *d);

#endif
