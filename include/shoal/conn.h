// SPDX-License-Identifier: MIT
// shoal/conn.h: Python's multiprocessing.Pipe and multiprocessing.connection
// for C — connections that keep message boundaries, Listener/Client over Unix
// and TCP sockets speaking Python's exact wire protocol (so a C program can
// serve or call a Python program), named pipes, UDP datagrams and wait().
//
// A connection (shoal_conn) carries messages: byte strings of any length up
// to the connection's maximum, zero-length ones included, each arriving
// whole and in order.  On the wire every message is a 4-byte big-endian
// signed length and the bytes; a message over 2 GiB - 1 is sent as -1 and an
// 8-byte big-endian length (Python's framing, since 3.8).  A C peer meets a
// Python peer at send_bytes/recv_bytes; Python's send()/recv() add a pickle,
// which is the Python side's business.
//
// Threads: a connection is used by one thread at a time, as in Python (two
// threads that both receive on it must share a lock); wait() may watch it
// from any thread.  Fork: a child inherits the handle and the descriptor
// and may use either end; Python's rule holds — close the copies a process
// does not use, or the peer never sees EOF.  The rest of a message that a
// send kept (see shoal_conn_send_bytes) belongs to the process that sent
// it: a child forked meanwhile gets SHOAL_EBROKEN from sends on its copy
// (anything it sent would land inside its parent's message), and closing
// that copy does not send the rest.  Every descriptor shoal makes is
// close-on-exec.  Timeouts: see shoal/common.h; SHOAL_EINVAL for a bad
// handle or timeout.  Every error is a code of the table in shoal/common.h:
// a system error without an entry of its own comes back as the nearest one
// (ENFILE as SHOAL_EMFILE, ENOBUFS as SHOAL_ENOMEM, ELOOP as SHOAL_ENOENT,
// ENOTCONN as SHOAL_ECONNRESET, EPROTOTYPE as SHOAL_ECONNREFUSED, EISDIR as
// SHOAL_EINVAL), one the table lacks a near entry for as SHOAL_EIO.  Broken connections: after a framing error (a length
// over the maximum, a corrupt header, a peer gone in the middle of a
// message we send) the direction concerned returns SHOAL_EBROKEN for good;
// after the peer closed, receives return SHOAL_EEOF.
#ifndef SHOAL_CONN_H
#define SHOAL_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <shoal/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shoal_conn shoal_conn;

/* Largest message a connection accepts unless its options say otherwise. */
#define SHOAL_CONN_MAX_MSG_DEFAULT ((uint64_t)1 << 30)

/* The byte count of shoal_conn_send_bytes_at meaning "up to the end". */
#define SHOAL_CONN_REST ((size_t)-1)

enum shoal_conn_flags {
  /* Listener/Client: refuse a peer that authenticates with HMAC-MD5 (Python
   * 3.11 and older), accepting only the {digest}-prefixed replies of 3.12+. */
  SHOAL_CONN_AUTH_NO_MD5 = 1,
};

/*
 * Options shared by every call that makes connections; NULL, or a zeroed
 * struct, means all defaults.  A field a call does not use must be zero.
 */
typedef struct shoal_conn_opts {
  uint64_t max_msg;          /* largest message a receive accepts; 0 = 1 GiB.
                                Receiving allocates as bytes arrive, never
                                from the announced length alone. */
  const void *authkey;       /* Listener/Client: NULL = no handshake (Python's
                                authkey=None); else authkey_len bytes, and 0
                                bytes is a valid (empty) key */
  size_t authkey_len;
  shoal_duration handshake_timeout; /* Listener/Client: bound on the whole
                                handshake, whatever the call's timeout; 0 = 10 s */
  int backlog;               /* Listener: listen(2) backlog; 0 = 64 */
  unsigned flags;            /* SHOAL_CONN_AUTH_NO_MD5 */
  uint32_t reserved[6];      /* must be zero */
} shoal_conn_opts;

/* ---------------------------------------------------------- Connection -- */

// shoal_pipe makes a connected pair of connections (multiprocessing.Pipe).
// With duplex != 0 both ends send and receive (an AF_UNIX stream socketpair,
// which can also pass descriptors); with duplex == 0, *a only receives and *b
// only sends (a pipe(2)).  Each end is released with shoal_conn_close.  Fork
// the process after this call to give one end to a child; each process
// closes the end it does not use.  Errors: SHOAL_EINVAL (NULL out-pointer,
// bad opts), SHOAL_EMFILE, SHOAL_ENOMEM.  Thread-safe.
SHOAL_API int shoal_pipe(shoal_conn **a, shoal_conn **b, int duplex, const shoal_conn_opts *opts);

// shoal_conn_from_fd wraps an open descriptor — a socket, a pipe end, a FIFO
// — as a connection (Python's Connection(handle, readable, writable)); the
// connection owns fd from then on, also when it is later closed.  readable
// and writable (non-zero) say which ways it may be used.  A descriptor that
// is not a socket is switched to non-blocking mode (a flag of the open file,
// shared with any copy of it).  Errors: SHOAL_EBADF (fd < 0 or not open),
// SHOAL_EINVAL (neither readable nor writable, bad opts), SHOAL_ENOMEM; on
// an error the caller keeps fd.  Thread-safe.
SHOAL_API int shoal_conn_from_fd(shoal_conn **out, int fd, int readable, int writable,
                                 const shoal_conn_opts *opts);

// shoal_conn_close closes the descriptor and frees the handle (Python's
// close()); the handle must not be used again.  The peer sees EOF once every
// process holding a copy closed it.  A message received only in part is
// dropped.  NULL is a no-op.  Do not call it while another thread uses c.
SHOAL_API void shoal_conn_close(shoal_conn *c);

// shoal_conn_send_bytes sends len bytes from buf as one message (buf may be
// NULL when len is 0).  The timeout bounds the wait for room to write.
// When it passes (at once for SHOAL_NOWAIT) before the first byte went out,
// the call returns SHOAL_EAGAIN / SHOAL_ETIMEDOUT and nothing was sent.
// When it passes part-way, the call returns 0: the message is accepted and
// its unsent rest is copied into the handle, since frames must stay whole
// on the wire and nothing else may go out before it.  The rest goes out
// first on the next send (which returns SHOAL_EAGAIN / SHOAL_ETIMEDOUT,
// nothing of its own message sent, if the rest cannot finish in time), on
// shoal_conn_flush, while a receive, poll or recv_fds on c waits, and on
// shoal_conn_close (which waits at most one second for it); shoal_conn_wait
// does not send it.  So a sender that uses timeouts or SHOAL_NOWAIT (an
// event loop) calls shoal_conn_flush(c, SHOAL_NOWAIT) when it has nothing
// more to send: SHOAL_EAGAIN there means a rest is kept — watch the
// descriptor for writability and flush again.  A message of at most 4092
// bytes goes in one write(2), which a pipe or FIFO takes whole or not at
// all, even with several writers; processes that share a sending end under
// a lock must not leave a rest behind when they release it (flush first).
// When the peer vanishes part-way, or the rest cannot be copied (no
// memory), the message cannot be completed: the call and every later send
// return SHOAL_EBROKEN.  Errors: SHOAL_EBADF (receive-only end),
// SHOAL_EPIPE / SHOAL_ECONNRESET (the peer closed), SHOAL_EBROKEN,
// SHOAL_EINVAL.  Never raises SIGPIPE.
SHOAL_API int shoal_conn_send_bytes(shoal_conn *c, const void *buf, size_t len,
                                    shoal_duration timeout);

// shoal_conn_send_bytes_at sends bytes [offset, offset + size) of the
// buflen-byte buffer buf as one message, size SHOAL_CONN_REST meaning up to
// the end (Python's send_bytes(buf, offset, size)).  Errors: SHOAL_EINVAL
// when offset > buflen or offset + size > buflen, else as
// shoal_conn_send_bytes.
SHOAL_API int shoal_conn_send_bytes_at(shoal_conn *c, const void *buf, size_t buflen,
                                       size_t offset, size_t size, shoal_duration timeout);

// shoal_conn_flush waits at most timeout until the rest of a message that a
// send kept has gone out (see shoal_conn_send_bytes): 0 when nothing is
// kept any more, or nothing was (then at once, without a system call);
// SHOAL_EAGAIN / SHOAL_ETIMEDOUT when part of it is still kept.  Errors:
// SHOAL_EBROKEN (the peer vanished before the rest went out, or c is a
// forked child's copy of a connection whose rest its parent holds),
// SHOAL_EBADF (receive-only end), SHOAL_EINVAL.
SHOAL_API int shoal_conn_flush(shoal_conn *c, shoal_duration timeout);

// shoal_conn_recv_bytes receives the next message into a new buffer from
// malloc (free it with shoal_free() or free()), stored in *buf with its length in *len; an
// empty message gives a 1-byte buffer and *len 0.  Ownership passes only on
// 0.  When the timeout passes in the middle of a message, the bytes so far
// are kept and the next receive goes on from there.  Errors: SHOAL_EAGAIN /
// SHOAL_ETIMEDOUT, SHOAL_EEOF (the peer closed, before or inside a message:
// a truncated frame), SHOAL_EMSGSIZE (the announced length exceeds the
// connection's max_msg: nothing more is read and the receiving side becomes
// broken), SHOAL_EPROTO (a corrupt header: broken too), SHOAL_EBROKEN,
// SHOAL_ECONNRESET (a TCP peer reset the connection), SHOAL_EBADF
// (send-only end), SHOAL_ENOMEM (the message is kept), SHOAL_EINVAL.
SHOAL_API int shoal_conn_recv_bytes(shoal_conn *c, void **buf, size_t *len,
                                    shoal_duration timeout);

// shoal_conn_recv_bytes_into receives the next message into buf at offset
// (Python's recv_bytes_into(buf, offset)) and stores its length in *len.
// When the message does not fit in the cap - offset bytes there, it returns
// SHOAL_EMSGSIZE with the message's length in *len and keeps the message for
// the next receive (Python's BufferTooShort, minus the lost message).
// Errors: SHOAL_EINVAL (offset > cap, NULL buf with cap > 0), otherwise as
// shoal_conn_recv_bytes — where SHOAL_EMSGSIZE for a length over max_msg
// sets *len to 0 and breaks the receiving side.
SHOAL_API int shoal_conn_recv_bytes_into(shoal_conn *c, void *buf, size_t cap, size_t offset,
                                         size_t *len, shoal_duration timeout);

// shoal_conn_poll waits at most timeout until a receive would not block
// (Python's poll(timeout)): it returns 0 when a message, or part of one, is
// there to read, or when the peer closed (a receive then says SHOAL_EEOF),
// or when the receiving side is broken; SHOAL_EAGAIN (SHOAL_NOWAIT) or
// SHOAL_ETIMEDOUT when nothing came.  It consumes nothing (while it waits,
// it sends the rest of a message a send kept).  Errors:
// SHOAL_EBADF (send-only end), SHOAL_EINVAL.
SHOAL_API int shoal_conn_poll(shoal_conn *c, shoal_duration timeout);

// shoal_conn_fileno returns the connection's descriptor (for poll(2), epoll,
// an event loop), still owned by the connection, or SHOAL_EINVAL.  It is
// readable when a receive would not block.
SHOAL_API int shoal_conn_fileno(shoal_conn *c);

// shoal_conn_readable returns 1 if this end may receive, 0 if not (the write
// end of a simplex pipe), SHOAL_EINVAL for NULL.
SHOAL_API int shoal_conn_readable(shoal_conn *c);

// shoal_conn_writable returns 1 if this end may send, 0 if not (the read end
// of a simplex pipe), SHOAL_EINVAL for NULL.
SHOAL_API int shoal_conn_writable(shoal_conn *c);

/* Most descriptors one shoal_conn_send_fds call passes (the kernel's limit). */
#define SHOAL_CONN_MAX_FDS 253

// shoal_conn_send_fds passes n (1..SHOAL_CONN_MAX_FDS) open descriptors to the
// peer over an AF_UNIX socket connection (SCM_RIGHTS), as Python's
// multiprocessing.reduction.send_handle/sendfds do: one byte holding
// n % 256, outside any message, carries them, so a Python peer's
// recv_handle reads them.  The rest of a message a send kept goes out
// first (when it cannot in time: SHOAL_EAGAIN / SHOAL_ETIMEDOUT, nothing
// passed).  The caller keeps its descriptors.  Errors:
// SHOAL_ENOTSUP (not an AF_UNIX socket), SHOAL_EINVAL (bad n, NULL),
// SHOAL_EBADF (a closed descriptor, or a receive-only end), and those of
// shoal_conn_send_bytes.
SHOAL_API int shoal_conn_send_fds(shoal_conn *c, const int *fds, size_t n, shoal_duration timeout);

// shoal_conn_recv_fds receives descriptors sent by shoal_conn_send_fds or
// Python's send_handle: up to cap of them into fds, their count in *n; each
// is close-on-exec and owned by the caller.  Call it where the peer sent
// them, between messages.  Errors: SHOAL_EPROTO (a byte came without
// descriptors, or with a count that disagrees: Python's RuntimeError; the
// byte is consumed), SHOAL_EMSGSIZE (more than cap came: all are closed),
// SHOAL_EEOF, SHOAL_EAGAIN / SHOAL_ETIMEDOUT, SHOAL_ENOTSUP, SHOAL_EBADF,
// SHOAL_EINVAL.
SHOAL_API int shoal_conn_recv_fds(shoal_conn *c, int *fds, size_t cap, size_t *n,
                                  shoal_duration timeout);

// shoal_conn_deliver_challenge and shoal_conn_answer_challenge run one half
// of Python's authentication handshake on an open connection (Python's
// multiprocessing.connection.deliver_challenge / answer_challenge); Listener
// and Client call them for you.  deliver sends a 3.12-style challenge
// ("#CHALLENGE#{sha256}" + 40 random bytes), checks the reply — a
// {digest}-prefixed HMAC from md5, sha256, sha384, sha3_256 or sha3_384, or
// a raw 16-byte HMAC-MD5 from a Python <= 3.11 peer unless flags holds
// SHOAL_CONN_AUTH_NO_MD5 — and sends #WELCOME# or #FAILURE#.  answer
// replies to either a legacy 20-byte challenge (raw HMAC-MD5) or a
// {digest}-prefixed one (the same digest over the whole message) and expects
// #WELCOME#.  Every read is at most 256 bytes and the whole exchange ends by
// the timeout.  key may be NULL only when key_len is 0.  Errors: SHOAL_EAUTH
// (wrong key, garbage, a message too long, the peer closed or went quiet),
// SHOAL_ETIMEDOUT / SHOAL_EAGAIN, SHOAL_EINVAL; the connection stays open
// (Listener and Client close it).  HMAC is OpenSSL's.
SHOAL_API int shoal_conn_deliver_challenge(shoal_conn *c, const void *key, size_t key_len,
                                           unsigned flags, shoal_duration timeout);

// shoal_conn_answer_challenge is the answering half described above: the
// side that proves it knows the key (Python's answer_challenge).
SHOAL_API int shoal_conn_answer_challenge(shoal_conn *c, const void *key, size_t key_len,
                                          shoal_duration timeout);

/* ----------------------------------------------------- Listener, Client -- */

/* Room for any address string shoal returns, NUL included. */
#define SHOAL_CONN_ADDRESS_MAX 160

/*
 * Addresses are strings:
 *   "tcp://HOST:PORT", "tcp://[V6ADDR]:PORT"  TCP over IPv4 or IPv6; HOST is
 *                                            a name or a numeric address;
 *                                            port 0 lets the system choose
 *   "/path/to/socket", "unix:relative/path"  an AF_UNIX socket file
 *   "@name", "unix:@name"                    Linux's abstract namespace
 *                                            (Python's "\0name")
 * A string without "://" is a Unix address.  Python's ('127.0.0.1', 6000)
 * is "tcp://127.0.0.1:6000"; its '/tmp/s' is "/tmp/s".  A HOST name is
 * resolved IPv4 first, as Python's ('host', port) (which is IPv4 only):
 * a Listener binds the name's first IPv4 address — "tcp://localhost:0" is
 * 127.0.0.1 even where /etc/hosts also maps localhost to ::1 — and its
 * first IPv6 address only when it has no IPv4 one; a Client tries the IPv4
 * addresses, then the IPv6 ones.  "[::1]" and other bracketed addresses are
 * IPv6 as written.
 */

typedef struct shoal_listener shoal_listener;

// shoal_listener_open binds a listening socket at address (Python's
// Listener(address, authkey=...)); NULL picks a fresh socket file in $TMPDIR
// (or /tmp), as Python does.  With opts->authkey set, every accepted
// connection must pass Python's handshake (the key is copied).  A socket
// file the listener made is removed by shoal_listener_close in the process
// that opened it; a stale file left by a crashed program makes the address
// busy (SHOAL_EADDRINUSE) until removed.  TCP listeners set SO_REUSEADDR, as
// Python does.  Errors: SHOAL_EINVAL (malformed address, bad opts),
// SHOAL_ENAMETOOLONG (a path over 107 bytes), SHOAL_ENOENT (unknown host or
// missing directory), SHOAL_EADDRINUSE (bound twice), SHOAL_EADDRNOTAVAIL,
// SHOAL_EACCES, SHOAL_EMFILE, SHOAL_ENOMEM.  Thread-safe.  After fork both
// processes may accept on it.
SHOAL_API int shoal_listener_open(shoal_listener **out, const char *address,
                                  const shoal_conn_opts *opts);

// shoal_listener_accept waits at most timeout for a client and returns its
// connection in *out (Python's accept()).  With an authkey, the handshake
// follows — deliver, then answer, as Python's Listener — bounded by the
// listener's handshake_timeout whatever `timeout` is, so a silent or hostile
// client cannot hang the server: its connection is closed and the call
// returns SHOAL_EAUTH (call accept again for the next client).  A client
// that connected, wrote and closed before accept still has its data
// delivered.  Errors: SHOAL_EAGAIN / SHOAL_ETIMEDOUT, SHOAL_EAUTH,
// SHOAL_EMFILE, SHOAL_ENOMEM, SHOAL_EINVAL.  Safe from several threads and
// processes at once: each client goes to one caller.
SHOAL_API int shoal_listener_accept(shoal_listener *l, shoal_conn **out, shoal_duration timeout);

// shoal_listener_address returns the bound address in the form
// shoal_client takes, with the real port when 0 was asked (Python's
// .address); the string lives as long as l.  NULL for NULL.
SHOAL_API const char *shoal_listener_address(shoal_listener *l);

// shoal_listener_fileno returns the listening socket, readable when a client
// waits to be accepted (for shoal_conn_wait or an event loop), or
// SHOAL_EINVAL.
SHOAL_API int shoal_listener_fileno(shoal_listener *l);

// shoal_listener_close closes the listening socket and frees l (Python's
// close()); connections already accepted stay open.  NULL is a no-op.
SHOAL_API void shoal_listener_close(shoal_listener *l);

// shoal_client connects to address (Python's Client(address, authkey=...))
// and returns the connection in *out.  `timeout` bounds the connecting (a
// TCP connect, or a Unix listener whose backlog is full); with an authkey
// the handshake follows — answer, then deliver — bounded by
// opts->handshake_timeout.  A host name that resolves to several addresses
// is tried in order, IPv4 ones first.  Errors: SHOAL_ECONNREFUSED, SHOAL_ENOENT (no such
// socket file or host), SHOAL_EAGAIN / SHOAL_ETIMEDOUT, SHOAL_EAUTH (the key
// is wrong on either side, or the peer is not a shoal/Python listener),
// SHOAL_ENETUNREACH, SHOAL_EHOSTUNREACH, SHOAL_EINVAL, SHOAL_ENAMETOOLONG,
// SHOAL_EMFILE, SHOAL_ENOMEM.  Thread-safe.
SHOAL_API int shoal_client(shoal_conn **out, const char *address, const shoal_conn_opts *opts,
                           shoal_duration timeout);

/* ---------------------------------------------------------------- wait -- */

/* One thing shoal_conn_wait watches: a connection, or a raw descriptor. */
typedef struct shoal_wait_item {
  shoal_conn *conn; /* a connection (readable end), or NULL to watch fd */
  int fd;           /* with conn NULL: any descriptor — a process sentinel, a
                       queue's descriptor, a socket, shoal_listener_fileno() */
  int ready;        /* out: 1 when ready, 0 when not */
} shoal_wait_item;

// shoal_conn_wait waits at most timeout until at least one of the n items is
// ready, then marks every ready one (multiprocessing.connection.wait):
// a connection when a receive would not block (a message or part of one is
// there, or EOF, or the connection holds a message or error already), a
// raw descriptor when poll(2) says it is readable or hung up (a listener
// has a client waiting, a process ended, a queue has items).  Returns how
// many are ready (> 0), or SHOAL_EAGAIN (SHOAL_NOWAIT) / SHOAL_ETIMEDOUT
// when none became ready (Python's []).  It only watches: the rest of a
// message a send kept stays kept (call shoal_conn_flush first).  n may be 0 only with a timeout,
// which then just sleeps.  Errors: SHOAL_EBADF (a send-only connection, a
// negative or closed descriptor), SHOAL_EINVAL, SHOAL_ENOMEM.  Consumes
// nothing.  Thread-safe as long as no other thread closes the items.
SHOAL_API int shoal_conn_wait(shoal_wait_item *items, size_t n, shoal_duration timeout);

/* ---------------------------------------------------------- Named pipes -- */

enum shoal_fifo_flags {
  SHOAL_FIFO_READ = 1,  /* open the FIFO's read end */
  SHOAL_FIFO_WRITE = 2, /* open the FIFO's write end */
};

// shoal_fifo_create makes a named pipe at path (os.mkfifo) with permission
// bits mode applied as given (0 = 0600; the umask does not apply).  Errors:
// SHOAL_EEXIST, SHOAL_ENOENT (no such directory), SHOAL_EACCES,
// SHOAL_ENAMETOOLONG, SHOAL_EINVAL (NULL or empty path, mode over 0777).
// Remove it with unlink(2).  Thread-safe.
SHOAL_API int shoal_fifo_create(const char *path, unsigned mode);

// shoal_fifo_open opens one end of the FIFO at path as a connection that
// carries framed messages between unrelated processes: SHOAL_FIFO_READ
// gives a receive-only connection at once (its receives wait for a writer
// and its messages); SHOAL_FIFO_WRITE a send-only one, waiting at most
// timeout for a reader to open the FIFO.  Messages of at most 4092 bytes
// stay whole even when several writers share the FIFO.  A receive returns
// SHOAL_EEOF once a writer came and every writer closed.  Release with
// shoal_conn_close.  Errors: SHOAL_ENOENT, SHOAL_EACCES, SHOAL_ETYPE (path
// is not a FIFO), SHOAL_EAGAIN / SHOAL_ETIMEDOUT (no reader), SHOAL_EINVAL
// (flags not exactly one of READ or WRITE, bad opts), SHOAL_EMFILE,
// SHOAL_ENOMEM.  Thread-safe.
SHOAL_API int shoal_fifo_open(shoal_conn **out, const char *path, unsigned flags,
                              const shoal_conn_opts *opts, shoal_duration timeout);

/* ------------------------------------------------------------ Datagrams -- */

typedef struct shoal_dgram shoal_dgram;

// shoal_dgram_open binds a UDP endpoint at address, "udp://HOST:PORT" or
// "udp://[V6ADDR]:PORT" (port 0: the system picks one) — Python's
// socket(AF_INET, SOCK_DGRAM) + bind; a HOST name binds its first IPv4
// address, as for a Listener.  Errors: SHOAL_EINVAL (malformed
// address), SHOAL_ENOENT (unknown host), SHOAL_EADDRINUSE,
// SHOAL_EADDRNOTAVAIL, SHOAL_EACCES, SHOAL_EMFILE, SHOAL_ENOMEM.
// Thread-safe.  After fork both processes may use it.
SHOAL_API int shoal_dgram_open(shoal_dgram **out, const char *address);

// shoal_dgram_address returns the bound address with its real port, in the
// form shoal_dgram_send_to takes; the string lives as long as d.
SHOAL_API const char *shoal_dgram_address(shoal_dgram *d);

// shoal_dgram_fileno returns the socket (for shoal_conn_wait or an event
// loop), or SHOAL_EINVAL.
SHOAL_API int shoal_dgram_fileno(shoal_dgram *d);

// shoal_dgram_close closes the socket and frees d.  NULL is a no-op.
SHOAL_API void shoal_dgram_close(shoal_dgram *d);

// shoal_dgram_send_to sends len bytes (0 is fine) as one datagram to the
// "udp://..." address `to`, of the endpoint's own family (sendto).  The
// timeout bounds waiting for room in the send buffer.  Errors:
// SHOAL_EMSGSIZE (larger than a datagram can be), SHOAL_EAFNOSUPPORT (to is
// of the other IP family), SHOAL_EINVAL (to empty or malformed), SHOAL_ENOENT
// (unknown host),
// SHOAL_EAGAIN / SHOAL_ETIMEDOUT, SHOAL_ECONNREFUSED (an earlier datagram
// was refused by the peer's host).  Not thread-safe on one d (it caches
// the last destination).
SHOAL_API int shoal_dgram_send_to(shoal_dgram *d, const void *buf, size_t len, const char *to,
                                  shoal_duration timeout);

// shoal_dgram_recv_from waits at most timeout for one datagram, copies it
// to buf and stores its length in *len and, when from is not NULL, the
// sender's address (from_cap >= SHOAL_CONN_ADDRESS_MAX) in from (recvfrom).
// A datagram longer than cap is truncated to cap bytes: the call returns
// SHOAL_EMSGSIZE with the full length in *len, and the rest is lost (UDP
// hands a datagram over in one read).  Errors: SHOAL_EAGAIN /
// SHOAL_ETIMEDOUT, SHOAL_EMSGSIZE, SHOAL_ECONNREFUSED (see send_to),
// SHOAL_EINVAL.
SHOAL_API int shoal_dgram_recv_from(shoal_dgram *d, void *buf, size_t cap, size_t *len,
                                    char *from, size_t from_cap, shoal_duration timeout);

#ifdef __cplusplus
}
#endif
#endif
