// SPDX-License-Identifier: MIT
// Pipe and Connection: Python's _TestConnection and _TestPoll in C terms,
// across threads-free single processes and forked children.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

static shoal_conn *a, *b;

/* Receives one message into a static buffer and checks its bytes. */
static void expect_msg(shoal_conn *c, const char *want, size_t want_len)
{
  static char buf[256];
  size_t n = 99;
  SH_ASSERT_OK(shoal_conn_recv_bytes_into(c, buf, sizeof buf, 0, &n, SHOAL_SEC(5)));
  cr_assert_eq(n, want_len, "got %zu bytes, want %zu", n, want_len);
  cr_assert(memcmp(buf, want, n) == 0, "wrong bytes: \"%.*s\"", (int)n, buf);
}

static void send_str(shoal_conn *c, const char *s)
{
  SH_ASSERT_OK(shoal_conn_send_bytes(c, s, strlen(s), SHOAL_SEC(5)));
}

/* Writes raw bytes on a connection's descriptor, bypassing the framing. */
static void raw_write(shoal_conn *c, const void *p, size_t n)
{
  cr_assert_eq(write(shoal_conn_fileno(c), p, n), (ssize_t)n);
}

SH_TEST(pipe, duplex_both_ends_send_and_receive)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  cr_assert_eq(shoal_conn_readable(a), 1);
  cr_assert_eq(shoal_conn_writable(a), 1);
  cr_assert_eq(shoal_conn_readable(b), 1);
  cr_assert_eq(shoal_conn_writable(b), 1);
  send_str(a, "hello");
  send_str(b, "world");
  expect_msg(b, "hello", 5);
  expect_msg(a, "world", 5);
  void *m;
  size_t n;
  send_str(a, "allocated");
  SH_ASSERT_OK(shoal_conn_recv_bytes(b, &m, &n, SHOAL_SEC(5)));
  cr_assert_eq(n, 9);
  cr_assert(memcmp(m, "allocated", 9) == 0);
  free(m);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

SH_TEST(pipe, simplex_reader_and_writer_only)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 0, NULL));
  cr_assert_eq(shoal_conn_readable(a), 1);
  cr_assert_eq(shoal_conn_writable(a), 0);
  cr_assert_eq(shoal_conn_readable(b), 0);
  cr_assert_eq(shoal_conn_writable(b), 1);
  send_str(b, "one way");
  expect_msg(a, "one way", 7);
  /* Python: reader.send, writer.recv and writer.poll raise OSError. */
  char buf[8];
  size_t n;
  void *m;
  SH_ASSERT_ERR(shoal_conn_send_bytes(a, "x", 1, SHOAL_NOWAIT), SHOAL_EBADF);
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(b, buf, sizeof buf, 0, &n, SHOAL_NOWAIT), SHOAL_EBADF);
  SH_ASSERT_ERR(shoal_conn_recv_bytes(b, &m, &n, SHOAL_NOWAIT), SHOAL_EBADF);
  SH_ASSERT_ERR(shoal_conn_poll(b, SHOAL_NOWAIT), SHOAL_EBADF);
  int fd = 0;
  SH_ASSERT_ERR(shoal_conn_send_fds(b, &fd, 1, SHOAL_NOWAIT), SHOAL_ENOTSUP);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

SH_TEST(pipe, empty_messages_and_boundaries_are_kept)
{
  for (int duplex = 0; duplex < 2; duplex++) {
    SH_ASSERT_OK(shoal_pipe(&a, &b, duplex, NULL));
    shoal_conn *r = a, *w = b;
    /* An empty message makes poll() true without being consumed. */
    SH_ASSERT_OK(shoal_conn_send_bytes(w, NULL, 0, SHOAL_SEC(1)));
    SH_ASSERT_OK(shoal_conn_poll(r, SHOAL_NOWAIT));
    SH_ASSERT_OK(shoal_conn_poll(r, SHOAL_NOWAIT));
    expect_msg(r, "", 0);
    SH_ASSERT_ERR(shoal_conn_poll(r, SHOAL_NOWAIT), SHOAL_EAGAIN);
    /* b'a', b'b', b'cd' are never merged; empty and non-empty in order. */
    send_str(w, "a");
    send_str(w, "b");
    send_str(w, "cd");
    SH_ASSERT_OK(shoal_conn_send_bytes(w, "", 0, SHOAL_SEC(1)));
    send_str(w, "e");
    SH_ASSERT_OK(shoal_conn_send_bytes(w, NULL, 0, SHOAL_SEC(1)));
    expect_msg(r, "a", 1);
    expect_msg(r, "b", 1);
    expect_msg(r, "cd", 2);
    expect_msg(r, "", 0);
    expect_msg(r, "e", 1);
    void *m;
    size_t n = 7;
    SH_ASSERT_OK(shoal_conn_recv_bytes(r, &m, &n, SHOAL_SEC(1)));
    cr_assert_eq(n, 0);
    cr_assert_not_null(m);
    free(m);
    shoal_conn_close(a);
    shoal_conn_close(b);
  }
}

SH_TEST(pipe, poll_timeouts)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_conn_poll(a, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_conn_poll(a, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  send_str(b, "x");
  t0 = sh_now();
  SH_ASSERT_OK(shoal_conn_poll(a, SHOAL_MSEC(100)));
  SH_ASSERT_OK(shoal_conn_poll(a, SHOAL_FOREVER));
  SH_ASSERT_QUICK(t0);
  SH_ASSERT_ERR(shoal_conn_poll(a, SHOAL_MSEC(-5)), SHOAL_EINVAL);
  t0 = sh_now();
  char buf[4];
  size_t n;
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(b, buf, sizeof buf, 0, &n, SHOAL_MSEC(100)),
                SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  shoal_conn_close(a);
  shoal_conn_close(b);
}

SH_TEST(pipe, recv_bytes_into_offset_and_too_small_buffer)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  char buf[16];
  size_t n;
  memset(buf, '.', sizeof buf);
  send_str(b, "abcdef");
  SH_ASSERT_OK(shoal_conn_recv_bytes_into(a, buf, sizeof buf, 3, &n, SHOAL_SEC(1)));
  cr_assert_eq(n, 6);
  cr_assert(memcmp(buf, "...abcdef.......", 16) == 0);
  /* Too small: SHOAL_EMSGSIZE, the size in n, and the message kept. */
  send_str(b, "0123456789");
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, buf, sizeof buf, 8, &n, SHOAL_SEC(1)),
                SHOAL_EMSGSIZE);
  cr_assert_eq(n, 10);
  SH_ASSERT_OK(shoal_conn_poll(a, SHOAL_NOWAIT));
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, buf, 4, 0, &n, SHOAL_SEC(1)), SHOAL_EMSGSIZE);
  cr_assert_eq(n, 10);
  SH_ASSERT_OK(shoal_conn_recv_bytes_into(a, buf, sizeof buf, 6, &n, SHOAL_SEC(1)));
  cr_assert_eq(n, 10);
  cr_assert(memcmp(buf + 6, "0123456789", 10) == 0);
  /* An empty message fits a zero-sized buffer, even a NULL one. */
  SH_ASSERT_OK(shoal_conn_send_bytes(b, NULL, 0, SHOAL_SEC(1)));
  SH_ASSERT_OK(shoal_conn_recv_bytes_into(a, NULL, 0, 0, &n, SHOAL_SEC(1)));
  cr_assert_eq(n, 0);
  /* Offsets past the end. */
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, buf, sizeof buf, 17, &n, SHOAL_NOWAIT), SHOAL_EINVAL);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

SH_TEST(pipe, send_bytes_at_follows_python)
{
  const char *msg = "abcdefghijklmnopqrstuvwxyz"; /* 26 bytes */
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  SH_ASSERT_OK(shoal_conn_send_bytes_at(b, msg, 26, 0, SHOAL_CONN_REST, SHOAL_SEC(1)));
  expect_msg(a, msg, 26);
  SH_ASSERT_OK(shoal_conn_send_bytes_at(b, msg, 26, 5, SHOAL_CONN_REST, SHOAL_SEC(1)));
  expect_msg(a, msg + 5, 21);
  SH_ASSERT_OK(shoal_conn_send_bytes_at(b, msg, 26, 7, 8, SHOAL_SEC(1)));
  expect_msg(a, msg + 7, 8);
  SH_ASSERT_OK(shoal_conn_send_bytes_at(b, msg, 26, 26, SHOAL_CONN_REST, SHOAL_SEC(1)));
  expect_msg(a, "", 0);
  SH_ASSERT_OK(shoal_conn_send_bytes_at(b, msg, 26, 26, 0, SHOAL_SEC(1)));
  expect_msg(a, "", 0);
  SH_ASSERT_ERR(shoal_conn_send_bytes_at(b, msg, 26, 27, SHOAL_CONN_REST, SHOAL_SEC(1)),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_send_bytes_at(b, msg, 26, 22, 5, SHOAL_SEC(1)), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_send_bytes_at(b, msg, 26, 26, 1, SHOAL_SEC(1)), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_send_bytes_at(b, msg, 26, 4, (size_t)-2, SHOAL_SEC(1)), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_send_bytes_at(b, NULL, 26, 0, 1, SHOAL_SEC(1)), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_poll(a, SHOAL_NOWAIT), SHOAL_EAGAIN); /* none of those sent */
  shoal_conn_close(a);
  shoal_conn_close(b);
}

SH_TEST(pipe, bad_arguments)
{
  size_t n;
  void *m;
  char buf[4];
  SH_ASSERT_ERR(shoal_pipe(NULL, &b, 1, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_pipe(&a, NULL, 1, NULL), SHOAL_EINVAL);
  shoal_conn_opts bad = {.reserved = {1}};
  SH_ASSERT_ERR(shoal_pipe(&a, &b, 1, &bad), SHOAL_EINVAL);
  shoal_conn_opts auth = {.authkey = "k", .authkey_len = 1};
  SH_ASSERT_ERR(shoal_pipe(&a, &b, 1, &auth), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_from_fd(&a, -1, 1, 1, NULL), SHOAL_EBADF);
  SH_ASSERT_ERR(shoal_conn_from_fd(&a, 1000, 1, 1, NULL), SHOAL_EBADF);
  SH_ASSERT_ERR(shoal_conn_from_fd(&a, 0, 0, 0, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_from_fd(NULL, 0, 1, 0, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_send_bytes(NULL, "x", 1, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_recv_bytes(NULL, &m, &n, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(NULL, buf, 4, 0, &n, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_poll(NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_fileno(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_readable(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_writable(NULL), SHOAL_EINVAL);
  shoal_conn_close(NULL);
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  SH_ASSERT_ERR(shoal_conn_send_bytes(a, NULL, 3, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_send_bytes(a, "x", 1, SHOAL_MSEC(-3)), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_recv_bytes(a, NULL, &n, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_recv_bytes(a, &m, NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, NULL, 4, 0, &n, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, buf, 4, 0, NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_recv_bytes(a, &m, &n, SHOAL_NOWAIT), SHOAL_EAGAIN);
  int fds[2] = {0, 1};
  SH_ASSERT_ERR(shoal_conn_send_fds(a, NULL, 1, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_send_fds(a, fds, 0, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_send_fds(a, fds, SHOAL_CONN_MAX_FDS + 1, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_recv_fds(a, NULL, 1, &n, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_recv_fds(a, fds, 1, NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

SH_TEST(pipe, eof_after_the_peer_closes)
{
  for (int duplex = 0; duplex < 2; duplex++) {
    SH_ASSERT_OK(shoal_pipe(&a, &b, duplex, NULL));
    send_str(b, "last");
    shoal_conn_close(b);
    /* Data sent before the close still arrives; then EOF, every time. */
    SH_ASSERT_OK(shoal_conn_poll(a, SHOAL_NOWAIT));
    expect_msg(a, "last", 4);
    SH_ASSERT_OK(shoal_conn_poll(a, SHOAL_NOWAIT)); /* a receive would not block */
    char buf[8];
    size_t n;
    void *m;
    SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, buf, sizeof buf, 0, &n, SHOAL_SEC(1)), SHOAL_EEOF);
    SH_ASSERT_ERR(shoal_conn_recv_bytes(a, &m, &n, SHOAL_SEC(1)), SHOAL_EEOF);
    shoal_conn_close(a);
  }
}

SH_TEST(pipe, send_to_a_closed_peer_is_epipe_without_sigpipe)
{
  signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test */
  for (int duplex = 0; duplex < 2; duplex++) {
    SH_ASSERT_OK(shoal_pipe(&a, &b, duplex, NULL));
    shoal_conn_close(a);
    int rc = shoal_conn_send_bytes(b, "x", 1, SHOAL_SEC(1));
    cr_assert(rc == SHOAL_EPIPE || rc == SHOAL_ECONNRESET, "got %s", shoal_err_name(rc));
    shoal_conn_close(b);
  }
}

static int child_echo(void *arg)
{
  (void)arg;
  /* The child closes the parent's end, then echoes until EOF. */
  shoal_conn_close(a);
  for (;;) {
    void *m;
    size_t n;
    int rc = shoal_conn_recv_bytes(b, &m, &n, SHOAL_SEC(10));
    if (rc == SHOAL_EEOF)
      return 0;
    if (rc)
      return 1;
    rc = shoal_conn_send_bytes(b, m, n, SHOAL_SEC(10));
    free(m);
    if (rc)
      return 2;
  }
}

SH_TEST(pipe_fork, child_echoes_16_mib_and_sees_eof)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  pid_t pid = sh_fork(child_echo, NULL);
  shoal_conn_close(b);
  size_t big = (size_t)16 << 20;
  uint8_t *msg = malloc(big);
  cr_assert_not_null(msg);
  for (size_t i = 0; i < big; i++)
    msg[i] = (uint8_t)(i * 7 + (i >> 12));
  send_str(a, "small first");
  expect_msg(a, "small first", 11);
  /* The child echoes as it receives, and the socket buffers hold far less
   * than 16 MiB: sending and receiving must overlap, so a second forked
   * process sends while this one receives. */
  pid_t sender = fork();
  cr_assert(sender >= 0);
  if (sender == 0)
    _exit(shoal_conn_send_bytes(a, msg, big, SHOAL_SEC(20)) == 0 ? 0 : 1);
  void *back;
  size_t n;
  SH_ASSERT_OK(shoal_conn_recv_bytes(a, &back, &n, SHOAL_SEC(20)));
  cr_assert_eq(n, big);
  cr_assert(memcmp(back, msg, big) == 0);
  free(back);
  free(msg);
  cr_assert_eq(sh_wait(sender, 10000), 0);
  shoal_conn_close(a); /* the last copy of this end: the child sees EOF */
  cr_assert_eq(sh_wait(pid, 10000), 0);
}

static int child_simplex_writer(void *arg)
{
  (void)arg;
  shoal_conn_close(a); /* the reader end is the parent's */
  for (int i = 0; i < 100; i++) {
    char s[16];
    int len = snprintf(s, sizeof s, "msg %d", i);
    if (shoal_conn_send_bytes(b, s, (size_t)len, SHOAL_SEC(10)))
      return 1;
  }
  return 0;
}

SH_TEST(pipe_fork, simplex_pipe_to_the_parent)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 0, NULL));
  pid_t pid = sh_fork(child_simplex_writer, NULL);
  shoal_conn_close(b);
  for (int i = 0; i < 100; i++) {
    char s[16];
    int len = snprintf(s, sizeof s, "msg %d", i);
    expect_msg(a, s, (size_t)len);
  }
  char buf[4];
  size_t n;
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, buf, sizeof buf, 0, &n, SHOAL_SEC(5)), SHOAL_EEOF);
  cr_assert_eq(sh_wait(pid, 10000), 0);
  shoal_conn_close(a);
}

/* Several processes receiving from one shared end under a lock (how
 * multiprocessing.Queue uses a pipe): every message goes to exactly one. */
static shoal_lock *rlock;
static int *seen; /* MAP_SHARED: how many times each message was received */

static int child_take(void *arg)
{
  (void)arg;
  for (;;) {
    char buf[16];
    size_t n;
    if (shoal_lock_acquire(rlock, SHOAL_SEC(10)))
      return 1;
    int rc = shoal_conn_recv_bytes_into(a, buf, sizeof buf - 1, 0, &n, SHOAL_SEC(10));
    shoal_lock_release(rlock);
    if (rc)
      return 2;
    buf[n] = '\0';
    int v = atoi(buf);
    if (v < 0)
      return 0;
    __atomic_add_fetch(&seen[v], 1, __ATOMIC_SEQ_CST);
  }
}

SH_TEST(pipe_fork, shared_reader_end_hands_each_message_to_one_process)
{
  enum { N = 300, KIDS = 3 };
  seen = mmap(NULL, N * sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(seen != MAP_FAILED);
  SH_ASSERT_OK(shoal_lock_create(&rlock));
  SH_ASSERT_OK(shoal_pipe(&a, &b, 0, NULL));
  pid_t kids[KIDS];
  for (int i = 0; i < KIDS; i++)
    kids[i] = sh_fork(child_take, NULL);
  for (int i = 0; i < N; i++) {
    char s[16];
    int len = snprintf(s, sizeof s, "%d", i);
    SH_ASSERT_OK(shoal_conn_send_bytes(b, s, (size_t)len, SHOAL_SEC(5)));
  }
  for (int i = 0; i < KIDS; i++)
    send_str(b, "-1");
  for (int i = 0; i < KIDS; i++)
    cr_assert_eq(sh_wait(kids[i], 10000), 0);
  for (int i = 0; i < N; i++)
    cr_assert_eq(seen[i], 1, "message %d received %d times", i, seen[i]);
  shoal_conn_close(a);
  shoal_conn_close(b);
  shoal_lock_destroy(rlock);
}

/* ------------------------------------------------------- bad input -- */

SH_TEST(pipe_frames, length_over_the_maximum_breaks_the_connection)
{
  shoal_conn_opts o = {.max_msg = 1000};
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, &o));
  uint8_t hdr[4] = {0x7f, 0xff, 0xff, 0xff}; /* 2 GiB - 1 announced, nothing sent */
  raw_write(b, hdr, 4);
  void *m;
  size_t n = 5;
  SH_ASSERT_ERR(shoal_conn_recv_bytes(a, &m, &n, SHOAL_SEC(1)), SHOAL_EMSGSIZE);
  SH_ASSERT_ERR(shoal_conn_recv_bytes(a, &m, &n, SHOAL_SEC(1)), SHOAL_EBROKEN);
  char buf[8];
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, buf, 8, 0, &n, SHOAL_SEC(1)), SHOAL_EBROKEN);
  SH_ASSERT_OK(shoal_conn_poll(a, SHOAL_NOWAIT)); /* would not block */
  /* The sending side still works. */
  send_str(a, "still sending");
  expect_msg(b, "still sending", 13);
  shoal_conn_close(a);
  shoal_conn_close(b);

  /* The same through recv_bytes_into: *len is 0, not the announced size. */
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, &o));
  uint8_t hdr2[4] = {0, 0, 0x03, 0xe9}; /* 1001 */
  raw_write(b, hdr2, 4);
  char big[2000];
  n = 5;
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, big, sizeof big, 0, &n, SHOAL_SEC(1)),
                SHOAL_EMSGSIZE);
  cr_assert_eq(n, 0);
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, big, sizeof big, 0, &n, SHOAL_SEC(1)),
                SHOAL_EBROKEN);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

SH_TEST(pipe_frames, huge_long_form_length_is_refused_without_allocating)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL)); /* default maximum: 1 GiB */
  uint8_t hdr[12] = {0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0};
  raw_write(b, hdr, sizeof hdr);
  void *m;
  size_t n;
  SH_ASSERT_ERR(shoal_conn_recv_bytes(a, &m, &n, SHOAL_SEC(1)), SHOAL_EMSGSIZE);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

SH_TEST(pipe_frames, long_form_header_is_understood)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  uint8_t f[17] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
  raw_write(b, f, sizeof f);
  expect_msg(a, "hello", 5);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

SH_TEST(pipe_frames, negative_length_is_a_protocol_error)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  uint8_t hdr[4] = {0xff, 0xff, 0xff, 0xfe}; /* -2 */
  raw_write(b, hdr, 4);
  void *m;
  size_t n;
  SH_ASSERT_ERR(shoal_conn_recv_bytes(a, &m, &n, SHOAL_SEC(1)), SHOAL_EPROTO);
  SH_ASSERT_ERR(shoal_conn_recv_bytes(a, &m, &n, SHOAL_SEC(1)), SHOAL_EBROKEN);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

SH_TEST(pipe_frames, truncated_frames_and_close_mid_message_are_eof)
{
  /* A header cut short. */
  SH_ASSERT_OK(shoal_pipe(&a, &b, 0, NULL));
  uint8_t part[2] = {0, 0};
  raw_write(b, part, 2);
  shoal_conn_close(b);
  void *m;
  size_t n;
  SH_ASSERT_ERR(shoal_conn_recv_bytes(a, &m, &n, SHOAL_SEC(1)), SHOAL_EEOF);
  shoal_conn_close(a);
  /* A payload cut short, into a caller's buffer and into an allocated one. */
  for (int alloc = 0; alloc < 2; alloc++) {
    SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
    uint8_t f[7] = {0, 0, 0, 10, 'a', 'b', 'c'};
    raw_write(b, f, sizeof f);
    shoal_conn_close(b);
    char buf[16];
    if (alloc)
      SH_ASSERT_ERR(shoal_conn_recv_bytes(a, &m, &n, SHOAL_SEC(1)), SHOAL_EEOF);
    else
      SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, buf, sizeof buf, 0, &n, SHOAL_SEC(1)),
                    SHOAL_EEOF);
    SH_ASSERT_ERR(shoal_conn_recv_bytes(a, &m, &n, SHOAL_SEC(1)), SHOAL_EEOF);
    shoal_conn_close(a);
  }
}

SH_TEST(pipe_frames, a_receive_that_times_out_mid_message_goes_on_later)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  uint8_t f1[3] = {0, 0, 0};
  uint8_t f2[5] = {8, 'a', 'b', 'c', 'd'};
  raw_write(b, f1, sizeof f1);
  char buf[16];
  size_t n;
  void *m;
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, buf, sizeof buf, 0, &n, SHOAL_MSEC(100)),
                SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  raw_write(b, f2, sizeof f2);
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, buf, sizeof buf, 0, &n, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_ERR(shoal_conn_recv_bytes(a, &m, &n, SHOAL_MSEC(50)), SHOAL_ETIMEDOUT);
  raw_write(b, "efgh", 4);
  expect_msg(a, "abcdefgh", 8);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

/* A message whose bytes tell where they are: byte i of message `tag`. */
static uint8_t *patterned(size_t len, unsigned tag)
{
  uint8_t *m = malloc(len);
  cr_assert_not_null(m);
  for (size_t i = 0; i < len; i++)
    m[i] = (uint8_t)(i * 31 + (i >> 10) + tag);
  return m;
}

SH_TEST(pipe_frames, a_send_that_times_out_part_way_keeps_the_rest)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 0, NULL));
  SH_ASSERT_OK(shoal_conn_flush(b, SHOAL_NOWAIT)); /* nothing kept */
  /* Fill the pipe, then a small message cannot start at all: nothing sent. */
  char chunk[4000];
  memset(chunk, 'x', sizeof chunk);
  int sent = 0, smalls = 0;
  while (shoal_conn_send_bytes(b, chunk, sizeof chunk, SHOAL_NOWAIT) == 0)
    sent++;
  cr_assert(sent > 0);
  while (shoal_conn_send_bytes(b, "f", 1, SHOAL_NOWAIT) == 0)
    smalls++;
  SH_ASSERT_ERR(shoal_conn_send_bytes(b, "f", 1, SHOAL_NOWAIT), SHOAL_EAGAIN);
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_conn_send_bytes(b, "y", 1, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  /* Make room for part of a big message only: the send is accepted and
   * the rest kept; it blocks every later message until it is out. */
  char buf[4096];
  size_t n;
  int drained = sent / 2 + 1;
  for (int i = 0; i < drained; i++)
    SH_ASSERT_OK(shoal_conn_recv_bytes_into(a, buf, sizeof buf, 0, &n, SHOAL_SEC(1)));
  size_t big_len = (size_t)1 << 20;
  uint8_t *big = patterned(big_len, 1);
  SH_ASSERT_OK(shoal_conn_send_bytes(b, big, big_len, SHOAL_MSEC(100)));
  memset(big, 0, big_len); /* the rest was copied */
  SH_ASSERT_ERR(shoal_conn_flush(b, SHOAL_NOWAIT), SHOAL_EAGAIN);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_conn_flush(b, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_ERR(shoal_conn_send_bytes(b, "z", 1, SHOAL_NOWAIT), SHOAL_EAGAIN);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_conn_send_bytes(b, "z", 1, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  /* Everything arrives whole and in order, nothing twice. */
  for (int i = drained; i < sent; i++) {
    SH_ASSERT_OK(shoal_conn_recv_bytes_into(a, buf, sizeof buf, 0, &n, SHOAL_SEC(1)));
    cr_assert_eq(n, sizeof chunk);
  }
  for (int i = 0; i < smalls; i++)
    expect_msg(a, "f", 1);
  void *m = NULL;
  int rc, rounds = 0;
  while ((rc = shoal_conn_recv_bytes(a, &m, &n, SHOAL_MSEC(5))) == SHOAL_ETIMEDOUT) {
    cr_assert(++rounds < 10000, "the rest never arrived");
    rc = shoal_conn_flush(b, SHOAL_NOWAIT);
    cr_assert(rc == 0 || rc == SHOAL_EAGAIN, "flush: %s", shoal_err_name(rc));
  }
  SH_ASSERT_OK(rc);
  free(big);
  big = patterned(big_len, 1);
  cr_assert_eq(n, big_len);
  cr_assert(memcmp(m, big, big_len) == 0);
  free(m);
  free(big);
  SH_ASSERT_OK(shoal_conn_flush(b, SHOAL_NOWAIT));
  SH_ASSERT_ERR(shoal_conn_poll(a, SHOAL_NOWAIT), SHOAL_EAGAIN); /* "z" never went */
  send_str(b, "z");
  expect_msg(a, "z", 1);
  SH_ASSERT_ERR(shoal_conn_poll(a, SHOAL_NOWAIT), SHOAL_EAGAIN);
  /* Flush's arguments. */
  SH_ASSERT_ERR(shoal_conn_flush(NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_flush(b, SHOAL_MSEC(-2)), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_flush(a, SHOAL_NOWAIT), SHOAL_EBADF);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

/* The child of a_kept_rest_goes_out_while_the_sender_waits_for_the_reply:
 * its copy of a holds the parent's rest; it reads the big message on b and
 * answers.  Exit code 0, or the step that failed. */
static int child_take_big_and_answer(void *arg)
{
  size_t big_len = *(size_t *)arg;
  if (shoal_conn_send_bytes(a, "x", 1, SHOAL_NOWAIT) != SHOAL_EBROKEN)
    return 1; /* it would land inside the parent's message */
  if (shoal_conn_flush(a, SHOAL_NOWAIT) != SHOAL_EBROKEN)
    return 2;
  shoal_conn_close(a); /* must not send the parent's rest */
  void *m;
  size_t n;
  if (shoal_conn_recv_bytes(b, &m, &n, SHOAL_SEC(20)))
    return 3;
  uint8_t *want = patterned(big_len, 2);
  int bad = n != big_len || memcmp(m, want, n) != 0;
  free(want);
  free(m);
  if (bad)
    return 4;
  if (shoal_conn_send_bytes(b, "got it", 6, SHOAL_SEC(5)))
    return 5;
  /* Nothing more: the rest went out once. */
  return shoal_conn_recv_bytes(b, &m, &n, SHOAL_SEC(5)) == SHOAL_EEOF ? 0 : 6;
}

SH_TEST(pipe_fork, a_kept_rest_goes_out_while_the_sender_waits_for_the_reply)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  /* Far more than the socket buffers hold: most of it is kept. */
  size_t big_len = (size_t)16 << 20;
  uint8_t *big = patterned(big_len, 2);
  SH_ASSERT_OK(shoal_conn_send_bytes(a, big, big_len, SHOAL_NOWAIT));
  free(big);
  SH_ASSERT_ERR(shoal_conn_flush(a, SHOAL_NOWAIT), SHOAL_EAGAIN);
  pid_t pid = sh_fork(child_take_big_and_answer, &big_len);
  shoal_conn_close(b);
  /* The peer answers only once it has the whole message: the receive
   * must send the rest while it waits. */
  expect_msg(a, "got it", 6);
  SH_ASSERT_OK(shoal_conn_flush(a, SHOAL_NOWAIT));
  shoal_conn_close(a);
  cr_assert_eq(sh_wait(pid, 30000), 0);
}

static int child_read_big(void *arg)
{
  size_t big_len = *(size_t *)arg;
  shoal_conn_close(b); /* the parent's rest: not sent from here */
  void *m;
  size_t n;
  if (shoal_conn_recv_bytes(a, &m, &n, SHOAL_SEC(20)))
    return 1;
  uint8_t *want = patterned(big_len, 3);
  int bad = n != big_len || memcmp(m, want, n) != 0;
  free(want);
  free(m);
  if (bad)
    return 2;
  return shoal_conn_recv_bytes(a, &m, &n, SHOAL_SEC(5)) == SHOAL_EEOF ? 0 : 3;
}

SH_TEST(pipe_fork, close_sends_the_kept_rest)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 0, NULL));
  size_t big_len = (size_t)1 << 20;
  uint8_t *big = patterned(big_len, 3);
  SH_ASSERT_OK(shoal_conn_send_bytes(b, big, big_len, SHOAL_NOWAIT));
  free(big);
  SH_ASSERT_ERR(shoal_conn_flush(b, SHOAL_NOWAIT), SHOAL_EAGAIN);
  pid_t pid = sh_fork(child_read_big, &big_len);
  shoal_conn_close(a);
  shoal_conn_close(b); /* waits for the reader to take the rest */
  cr_assert_eq(sh_wait(pid, 30000), 0);
}

/* ----------------------------------------------------- descriptors -- */

SH_TEST(pipe_fds, pass_descriptors_including_ones_above_256)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  int p[2];
  cr_assert_eq(pipe(p), 0);
  cr_assert_eq(dup2(p[1], 300), 300);
  close(p[1]);
  int fds[2] = {300, p[0]};
  send_str(a, "before");
  SH_ASSERT_OK(shoal_conn_send_fds(a, fds, 2, SHOAL_SEC(1)));
  send_str(a, "after");
  expect_msg(b, "before", 6);
  int got[4] = {-1, -1, -1, -1};
  size_t n;
  SH_ASSERT_OK(shoal_conn_recv_fds(b, got, 4, &n, SHOAL_SEC(1)));
  cr_assert_eq(n, 2);
  expect_msg(b, "after", 5);
  close(300);
  close(p[0]);
  /* The received write end feeds the received read end. */
  cr_assert_eq(write(got[0], "ok", 2), 2);
  char buf[2];
  cr_assert_eq(read(got[1], buf, 2), 2);
  cr_assert(memcmp(buf, "ok", 2) == 0);
  cr_assert(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
  close(got[0]);
  close(got[1]);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

SH_TEST(pipe_fds, data_without_descriptors_is_a_protocol_error)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  raw_write(a, "\x01", 1);
  int fd;
  size_t n;
  SH_ASSERT_ERR(shoal_conn_recv_fds(b, &fd, 1, &n, SHOAL_SEC(1)), SHOAL_EPROTO);
  cr_assert_eq(n, 0);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

SH_TEST(pipe_fds, too_many_descriptors_for_the_buffer)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  int fds[3] = {0, 1, 2};
  SH_ASSERT_OK(shoal_conn_send_fds(a, fds, 3, SHOAL_SEC(1)));
  int got[2];
  size_t n;
  SH_ASSERT_ERR(shoal_conn_recv_fds(b, got, 2, &n, SHOAL_SEC(1)), SHOAL_EMSGSIZE);
  /* The connection goes on. */
  send_str(a, "next");
  expect_msg(b, "next", 4);
  SH_ASSERT_ERR(shoal_conn_recv_fds(b, got, 2, &n, SHOAL_MSEC(50)), SHOAL_ETIMEDOUT);
  shoal_conn_close(a);
  SH_ASSERT_ERR(shoal_conn_recv_fds(b, got, 2, &n, SHOAL_SEC(1)), SHOAL_EEOF);
  shoal_conn_close(b);
}

SH_TEST(pipe_fds, descriptors_that_ride_inside_a_message_are_closed)
{
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  /* A confused peer attaches a descriptor to a message's header byte. */
  int p[2];
  cr_assert_eq(pipe(p), 0);
  uint8_t hdr[5] = {0, 0, 0, 1, 'q'};
  struct iovec iov = {hdr, sizeof hdr};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                      .msg_controllen = sizeof ctl.buf};
  struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(h), &p[1], sizeof(int));
  cr_assert_eq(sendmsg(shoal_conn_fileno(a), &mh, 0), (ssize_t)sizeof hdr);
  close(p[1]);
  expect_msg(b, "q", 1);
  /* Our copy was closed, so the pipe has no writer left: EOF. */
  char c;
  cr_assert_eq(read(p[0], &c, 1), 0);
  close(p[0]);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

/* -------------------------------------------------------- from_fd -- */

SH_TEST(pipe, from_fd_wraps_sockets_and_pipes)
{
  int sv[2], p[2];
  cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  SH_ASSERT_OK(shoal_conn_from_fd(&a, sv[0], 1, 1, NULL));
  SH_ASSERT_OK(shoal_conn_from_fd(&b, sv[1], 1, 1, NULL));
  send_str(a, "sock");
  expect_msg(b, "sock", 4);
  int fd = 1;
  SH_ASSERT_OK(shoal_conn_send_fds(b, &fd, 1, SHOAL_SEC(1)));
  size_t n;
  SH_ASSERT_OK(shoal_conn_recv_fds(a, &fd, 1, &n, SHOAL_SEC(1)));
  close(fd);
  shoal_conn_close(a);
  shoal_conn_close(b);
  cr_assert_eq(pipe(p), 0);
  SH_ASSERT_OK(shoal_conn_from_fd(&a, p[0], 1, 0, NULL));
  SH_ASSERT_OK(shoal_conn_from_fd(&b, p[1], 0, 1, NULL));
  send_str(b, "pipe");
  expect_msg(a, "pipe", 4);
  shoal_conn_close(b);
  char buf[4];
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(a, buf, sizeof buf, 0, &n, SHOAL_SEC(1)), SHOAL_EEOF);
  shoal_conn_close(a);
  /* A datagram socket has no stream to frame. */
  cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
  SH_ASSERT_ERR(shoal_conn_from_fd(&a, sv[0], 1, 1, NULL), SHOAL_EINVAL);
  close(sv[0]);
  close(sv[1]);
}

/* --------------------------------------------------------- signals -- */

static void on_usr1(int sig)
{
  (void)sig;
}

static int child_signal_then_send(void *arg)
{
  pid_t parent = *(pid_t *)arg;
  shoal_conn_close(a);
  sh_sleep_ms(100);
  kill(parent, SIGUSR1);
  sh_sleep_ms(100);
  return shoal_conn_send_bytes(b, "after signal", 12, SHOAL_SEC(5)) ? 1 : 0;
}

SH_TEST(pipe_fork, a_signal_does_not_interrupt_a_receive)
{
  struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART */
  sigaction(SIGUSR1, &sa, NULL);
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, NULL));
  pid_t me = getpid();
  pid_t pid = sh_fork(child_signal_then_send, &me);
  expect_msg(a, "after signal", 12);
  cr_assert_eq(sh_wait(pid, 10000), 0);
  shoal_conn_close(a);
  shoal_conn_close(b);
}

/* A message over 2 GiB - 1 goes out as -1 and an 8-byte length.  The
 * payload comes from untouched anonymous memory (the shared zero page, so it
 * costs no RAM) and the reader counts bytes without keeping them. */
static int child_count_long_frame(void *arg)
{
  size_t want = *(size_t *)arg;
  shoal_conn_close(a);
  int fd = shoal_conn_fileno(b);
  uint8_t hdr[12];
  size_t got = 0;
  while (got < sizeof hdr) {
    ssize_t r = read(fd, hdr + got, sizeof hdr - got);
    if (r <= 0)
      return 1;
    got += (size_t)r;
  }
  static const uint8_t minus_one[4] = {0xff, 0xff, 0xff, 0xff};
  if (memcmp(hdr, minus_one, 4) != 0)
    return 2;
  uint64_t len = 0;
  for (int i = 4; i < 12; i++)
    len = len << 8 | hdr[i];
  if (len != want)
    return 3;
  static uint8_t sink[1 << 20];
  for (got = 0; got < want;) {
    ssize_t r = read(fd, sink, sizeof sink);
    if (r <= 0)
      return 4;
    got += (size_t)r;
  }
  return 0;
}

SH_TEST(pipe_frames, messages_over_2_gib_use_the_long_header)
{
  size_t big = ((size_t)1 << 31) + 5;
  void *zeros = mmap(NULL, big, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  cr_assert(zeros != MAP_FAILED);
  shoal_conn_opts o = {.max_msg = (uint64_t)1 << 32};
  SH_ASSERT_OK(shoal_pipe(&a, &b, 1, &o));
  pid_t pid = sh_fork(child_count_long_frame, &big);
  SH_ASSERT_OK(shoal_conn_send_bytes(a, zeros, big, SHOAL_SEC(40)));
  cr_assert_eq(sh_wait(pid, 40000), 0);
  munmap(zeros, big);
  shoal_conn_close(a);
  shoal_conn_close(b);
}
