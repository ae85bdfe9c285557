// SPDX-License-Identifier: MIT
// Listener and Client between C processes: Unix paths, the abstract
// namespace, TCP over IPv4 and IPv6; the handshake with right, wrong and
// empty keys; hostile clients; addresses bound twice; timeouts.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

static shoal_listener *lst;

/* The client side, in a child: connect with `key` (NULL: no handshake), send
 * "ping", expect "pong".  Exit code 0 on success, else 10 + the error. */
struct client_args {
  const char *address;
  const char *key;
};

static int child_client(void *arg)
{
  const struct client_args *ca = arg;
  shoal_conn_opts o = {.authkey = ca->key, .authkey_len = ca->key ? strlen(ca->key) : 0};
  shoal_conn *c;
  int rc = shoal_client(&c, ca->address, &o, SHOAL_SEC(5));
  if (rc)
    return rc == SHOAL_EAUTH ? 3 : 4;
  char buf[8];
  size_t n;
  if (shoal_conn_send_bytes(c, "ping", 4, SHOAL_SEC(5)) ||
      shoal_conn_recv_bytes_into(c, buf, sizeof buf, 0, &n, SHOAL_SEC(5)) || n != 4 ||
      memcmp(buf, "pong", 4) != 0)
    return 5;
  shoal_conn_close(c);
  return 0;
}

/* The server side: accept one client and answer its ping. */
static void serve_one(void)
{
  shoal_conn *c;
  SH_ASSERT_OK(shoal_listener_accept(lst, &c, SHOAL_SEC(5)));
  char buf[8];
  size_t n;
  SH_ASSERT_OK(shoal_conn_recv_bytes_into(c, buf, sizeof buf, 0, &n, SHOAL_SEC(5)));
  cr_assert(n == 4 && memcmp(buf, "ping", 4) == 0);
  SH_ASSERT_OK(shoal_conn_send_bytes(c, "pong", 4, SHOAL_SEC(5)));
  shoal_conn_close(c);
}

static void round_trip(const char *address, const char *key)
{
  shoal_conn_opts o = {.authkey = key, .authkey_len = key ? strlen(key) : 0};
  SH_ASSERT_OK(shoal_listener_open(&lst, address, &o));
  struct client_args ca = {shoal_listener_address(lst), key};
  pid_t pid = sh_fork(child_client, &ca);
  serve_one();
  cr_assert_eq(sh_wait(pid, 10000), 0);
  shoal_listener_close(lst);
}

SH_TEST(listener, unix_default_address_and_cleanup)
{
  SH_ASSERT_OK(shoal_listener_open(&lst, NULL, NULL));
  const char *addr = shoal_listener_address(lst);
  cr_assert(strstr(addr, "/shoal-sock-") != NULL, "address %s", addr);
  char path[200];
  snprintf(path, sizeof path, "%s", addr);
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert(S_ISSOCK(st.st_mode));
  struct client_args ca = {path, NULL};
  pid_t pid = sh_fork(child_client, &ca);
  serve_one();
  cr_assert_eq(sh_wait(pid, 10000), 0);
  shoal_listener_close(lst);
  cr_assert_neq(stat(path, &st), 0, "socket file left behind");
}

SH_TEST(listener, unix_path_with_and_without_key)
{
  char path[128];
  snprintf(path, sizeof path, "/tmp/shoal-test-%d.sock", (int)getpid());
  round_trip(path, NULL);
  round_trip(path, "secret");
  char prefixed[140];
  snprintf(prefixed, sizeof prefixed, "unix:%s", path);
  round_trip(prefixed, "");
}

SH_TEST(listener, abstract_namespace)
{
  char addr[64];
  snprintf(addr, sizeof addr, "@shoal-test-%d", (int)getpid());
  round_trip(addr, "key");
  SH_ASSERT_OK(shoal_listener_open(&lst, addr, NULL));
  cr_assert_str_eq(shoal_listener_address(lst), addr);
  shoal_listener_close(lst);
}

SH_TEST(listener, tcp_ipv4_and_ipv6)
{
  round_trip("tcp://127.0.0.1:0", "key");
  round_trip("tcp://localhost:0", NULL);
  SH_ASSERT_OK(shoal_listener_open(&lst, "tcp://127.0.0.1:0", NULL));
  cr_assert(strncmp(shoal_listener_address(lst), "tcp://127.0.0.1:", 16) == 0);
  cr_assert_str_neq(shoal_listener_address(lst), "tcp://127.0.0.1:0");
  shoal_listener_close(lst);
  int rc = shoal_listener_open(&lst, "tcp://[::1]:0", NULL);
  if (rc == SHOAL_EADDRNOTAVAIL || rc == SHOAL_EAFNOSUPPORT) {
    fprintf(stderr, "no IPv6 loopback here: IPv6 part not run\n");
    return;
  }
  SH_ASSERT_OK(rc);
  cr_assert(strncmp(shoal_listener_address(lst), "tcp://[::1]:", 12) == 0);
  shoal_listener_close(lst);
  round_trip("tcp://[::1]:0", "v6 key");
}

/* /etc/hosts as Debian and Ubuntu ship it: localhost is 127.0.0.1 and ::1,
 * and the resolver lists ::1 first.  Plus a name with only an IPv6 address. */
static const char hosts_with_ipv6[] = "127.0.0.1 localhost\n"
                                      "::1 localhost ip6-localhost ip6-loopback\n"
                                      "::1 shoal-test-ipv6-only\n";

/* Gives the calling process a private mount namespace whose /etc/hosts
 * holds `content`.  Only in a forked child: unshare(CLONE_NEWNS) refuses a
 * process with threads.  False where it is not allowed (not root). */
static bool private_hosts_file(const char *content)
{
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    return false;
  char path[] = "/tmp/shoal-test-hosts-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0)
    return false;
  bool ok = write(fd, content, strlen(content)) == (ssize_t)strlen(content);
  close(fd);
  ok = ok && mount(path, "/etc/hosts", NULL, MS_BIND, NULL) == 0;
  unlink(path);
  return ok;
}

static int port_of(const char *address)
{
  return atoi(strrchr(address, ':') + 1);
}

/* Exit code 0, 77 (no private /etc/hosts here), or the step that failed. */
static int child_localhost_is_ipv4(void *arg)
{
  (void)arg;
  if (!private_hosts_file(hosts_with_ipv6))
    return 77;
  shoal_listener *l;
  shoal_conn *c, *cc;
  if (shoal_listener_open(&l, "tcp://localhost:0", NULL))
    return 1;
  if (strncmp(shoal_listener_address(l), "tcp://127.0.0.1:", 16) != 0)
    return 2;
  /* What Python's Client(('localhost', port)) does: an AF_INET socket. */
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in in = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port_of(shoal_listener_address(l))),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (s < 0 || connect(s, (struct sockaddr *)&in, sizeof in) != 0)
    return 3;
  if (shoal_listener_accept(l, &c, SHOAL_SEC(5)))
    return 4;
  shoal_conn_close(c);
  close(s);
  /* A shoal Client by name. */
  char addr[64];
  snprintf(addr, sizeof addr, "tcp://localhost:%d", port_of(shoal_listener_address(l)));
  if (shoal_client(&cc, addr, NULL, SHOAL_SEC(5)) || shoal_listener_accept(l, &c, SHOAL_SEC(5)))
    return 5;
  shoal_conn_close(c);
  shoal_conn_close(cc);
  shoal_listener_close(l);
  /* Datagram endpoints resolve the same way. */
  shoal_dgram *d;
  if (shoal_dgram_open(&d, "udp://localhost:0"))
    return 6;
  if (strncmp(shoal_dgram_address(d), "udp://127.0.0.1:", 16) != 0)
    return 7;
  shoal_dgram_close(d);
  /* A name without an IPv4 address binds its IPv6 one; a Client by a name
   * with both tries 127.0.0.1 (nobody there), then ::1. */
  int rc = shoal_listener_open(&l, "tcp://shoal-test-ipv6-only:0", NULL);
  if (rc == SHOAL_EADDRNOTAVAIL || rc == SHOAL_EAFNOSUPPORT)
    return 0; /* no IPv6 loopback here */
  if (rc)
    return 8;
  if (strncmp(shoal_listener_address(l), "tcp://[::1]:", 12) != 0)
    return 9;
  snprintf(addr, sizeof addr, "tcp://localhost:%d", port_of(shoal_listener_address(l)));
  if (shoal_client(&cc, addr, NULL, SHOAL_SEC(5)) || shoal_listener_accept(l, &c, SHOAL_SEC(5)))
    return 10;
  shoal_conn_close(c);
  shoal_conn_close(cc);
  shoal_listener_close(l);
  return 0;
}

SH_TEST(listener, localhost_is_ipv4_where_it_also_maps_to_ipv6)
{
  int rc = sh_wait(sh_fork(child_localhost_is_ipv4, NULL), 20000);
  if (rc == 77) {
    fprintf(stderr, "cannot give a process its own /etc/hosts here: test not run\n");
    return;
  }
  cr_assert_eq(rc, 0, "failed at step %d", rc);
}

/* ------------------------------------------- sending without waiting -- */

#define NOWAIT_MSG 1000

static shoal_conn *srv, *cli;

static void fill_numbered(uint8_t *m, uint32_t i)
{
  memcpy(m, &i, sizeof i);
  for (size_t k = sizeof i; k < NOWAIT_MSG; k++)
    m[k] = (uint8_t)(k + i);
}

/* The reader: every numbered message whole and in order, then "end" and
 * the count.  Exit code 0 or the step that failed. */
static int child_read_numbered(void *arg)
{
  (void)arg;
  shoal_conn_close(cli); /* the parent's end, and its kept rest */
  uint8_t want[NOWAIT_MSG];
  for (uint32_t i = 0;; i++) {
    void *m;
    size_t n;
    if (shoal_conn_recv_bytes(srv, &m, &n, SHOAL_SEC(20)))
      return 1;
    if (n != NOWAIT_MSG) {
      unsigned count;
      int ok = n > 4 && memcmp(m, "end ", 4) == 0 && sscanf((char *)m + 4, "%u", &count) == 1 &&
               count == i;
      free(m);
      return ok ? 0 : 2;
    }
    fill_numbered(want, i);
    int same = memcmp(m, want, n) == 0;
    free(m);
    if (!same)
      return 3;
  }
}

SH_TEST(listener, nowait_sends_over_tcp_keep_frames_whole)
{
  SH_ASSERT_OK(shoal_listener_open(&lst, "tcp://127.0.0.1:0", NULL));
  SH_ASSERT_OK(shoal_client(&cli, shoal_listener_address(lst), NULL, SHOAL_SEC(5)));
  SH_ASSERT_OK(shoal_listener_accept(lst, &srv, SHOAL_SEC(5)));
  /* Send until the socket buffers are full: the message that no longer
   * fits goes out in part, its rest kept; then SHOAL_EAGAIN, nothing sent,
   * as often as asked.  The connection never breaks. */
  uint8_t m[NOWAIT_MSG];
  uint32_t sent = 0;
  int rc;
  for (;;) {
    fill_numbered(m, sent);
    if ((rc = shoal_conn_send_bytes(cli, m, sizeof m, SHOAL_NOWAIT)) != 0)
      break;
    sent++;
    cr_assert(sent < 10000000, "the buffers never filled");
  }
  SH_ASSERT_ERR(rc, SHOAL_EAGAIN);
  for (int i = 0; i < 5; i++)
    SH_ASSERT_ERR(shoal_conn_send_bytes(cli, m, sizeof m, SHOAL_NOWAIT), SHOAL_EAGAIN);
  pid_t pid = sh_fork(child_read_numbered, NULL);
  shoal_conn_close(srv);
  SH_ASSERT_OK(shoal_conn_flush(cli, SHOAL_SEC(20)));
  char end[32];
  int len = snprintf(end, sizeof end, "end %u", (unsigned)sent);
  SH_ASSERT_OK(shoal_conn_send_bytes(cli, end, (size_t)len, SHOAL_SEC(20)));
  cr_assert_eq(sh_wait(pid, 30000), 0);
  shoal_conn_close(cli);
  shoal_listener_close(lst);
}

SH_TEST(listener, wrong_key_fails_on_both_sides)
{
  shoal_conn_opts o = {.authkey = "right", .authkey_len = 5};
  SH_ASSERT_OK(shoal_listener_open(&lst, "tcp://127.0.0.1:0", &o));
  struct client_args ca = {shoal_listener_address(lst), "wrong"};
  pid_t pid = sh_fork(child_client, &ca);
  shoal_conn *c;
  SH_ASSERT_ERR(shoal_listener_accept(lst, &c, SHOAL_SEC(5)), SHOAL_EAUTH);
  cr_assert_eq(sh_wait(pid, 10000), 3);
  /* The listener goes on serving the next client. */
  ca.key = "right";
  pid = sh_fork(child_client, &ca);
  serve_one();
  cr_assert_eq(sh_wait(pid, 10000), 0);
  /* An empty key is a key: it does not match a missing one or "right". */
  ca.key = "";
  pid = sh_fork(child_client, &ca);
  SH_ASSERT_ERR(shoal_listener_accept(lst, &c, SHOAL_SEC(5)), SHOAL_EAUTH);
  cr_assert_eq(sh_wait(pid, 10000), 3);
  shoal_listener_close(lst);
}

static int child_keyless_silent(void *arg)
{
  /* Connects without a key and waits for a message that never comes: the
   * server's challenge arrives as a "message", then the server gives up. */
  shoal_conn *c;
  if (shoal_client(&c, arg, NULL, SHOAL_SEC(5)))
    return 1;
  sh_sleep_ms(1500);
  shoal_conn_close(c);
  return 0;
}

SH_TEST(listener, client_that_never_answers_is_dropped_in_bounded_time)
{
  shoal_conn_opts o = {.authkey = "k", .authkey_len = 1, .handshake_timeout = SHOAL_MSEC(300)};
  SH_ASSERT_OK(shoal_listener_open(&lst, "tcp://127.0.0.1:0", &o));
  pid_t pid = sh_fork(child_keyless_silent, (void *)shoal_listener_address(lst));
  shoal_conn *c;
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_listener_accept(lst, &c, SHOAL_FOREVER), SHOAL_EAUTH);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(300));
  cr_assert_eq(sh_wait(pid, 10000), 0);
  shoal_listener_close(lst);
}

/* A raw TCP client that sends `len` bytes of junk and lingers. */
struct junk {
  const char *address;
  const void *bytes;
  size_t len;
};

static int child_junk(void *arg)
{
  const struct junk *j = arg;
  int port = atoi(strrchr(j->address, ':') + 1);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(fd, (struct sockaddr *)&sin, sizeof sin))
    return 1;
  if (j->len && write(fd, j->bytes, j->len) != (ssize_t)j->len)
    return 2;
  sh_sleep_ms(500);
  close(fd);
  return 0;
}

SH_TEST(listener, garbage_handshakes_are_refused_quickly)
{
  static const uint8_t huge[4] = {0x7f, 0xff, 0xff, 0xff};          /* a 2 GiB reply */
  static const uint8_t over[8] = {0, 0, 1, 1, 'x', 'x', 'x', 'x'};   /* 257 bytes */
  static const uint8_t bogus[8] = {0, 0, 0, 4, '{', 'x', 'x', '}'};  /* not a digest */
  static const uint8_t neg[4] = {0xff, 0xff, 0xff, 0xf0};            /* negative */
  static const uint8_t legacy[20] = {0, 0, 0, 16, 1, 2, 3};          /* wrong MD5 */
  struct junk cases[] = {
      {NULL, huge, sizeof huge}, {NULL, over, sizeof over}, {NULL, bogus, sizeof bogus},
      {NULL, neg, sizeof neg},   {NULL, legacy, sizeof legacy}, {NULL, NULL, 0},
  };
  shoal_conn_opts o = {.authkey = "k", .authkey_len = 1, .handshake_timeout = SHOAL_MSEC(400)};
  SH_ASSERT_OK(shoal_listener_open(&lst, "tcp://127.0.0.1:0", &o));
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cases[i].address = shoal_listener_address(lst);
    pid_t pid = sh_fork(child_junk, &cases[i]);
    shoal_conn *c;
    uint64_t t0 = sh_now();
    SH_ASSERT_ERR(shoal_listener_accept(lst, &c, SHOAL_SEC(5)), SHOAL_EAUTH);
    cr_assert(sh_now() - t0 < SHOAL_SEC(2), "case %zu took too long", i);
    cr_assert_eq(sh_wait(pid, 10000), 0);
  }
  shoal_listener_close(lst);
}

SH_TEST(listener, strict_mode_refuses_md5)
{
  /* The C client answers {sha256} and gets in under SHOAL_CONN_AUTH_NO_MD5;
   * a Python 3.11 client, which answers in raw MD5, does not (test_python). */
  shoal_conn_opts o = {.authkey = "k", .authkey_len = 1, .flags = SHOAL_CONN_AUTH_NO_MD5};
  SH_ASSERT_OK(shoal_listener_open(&lst, "tcp://127.0.0.1:0", &o));
  struct client_args ca = {shoal_listener_address(lst), "k"};
  pid_t pid = sh_fork(child_client, &ca);
  serve_one();
  cr_assert_eq(sh_wait(pid, 10000), 0);
  shoal_listener_close(lst);
}

SH_TEST(listener, binding_an_address_twice)
{
  shoal_listener *second;
  SH_ASSERT_OK(shoal_listener_open(&lst, "tcp://127.0.0.1:0", NULL));
  SH_ASSERT_ERR(shoal_listener_open(&second, shoal_listener_address(lst), NULL),
                SHOAL_EADDRINUSE);
  shoal_listener_close(lst);
  char path[128];
  snprintf(path, sizeof path, "/tmp/shoal-test-%d-twice.sock", (int)getpid());
  SH_ASSERT_OK(shoal_listener_open(&lst, path, NULL));
  SH_ASSERT_ERR(shoal_listener_open(&second, path, NULL), SHOAL_EADDRINUSE);
  shoal_listener_close(lst);
  /* Closed: the path is free again. */
  SH_ASSERT_OK(shoal_listener_open(&lst, path, NULL));
  shoal_listener_close(lst);
  char abs[64];
  snprintf(abs, sizeof abs, "@shoal-test-%d-twice", (int)getpid());
  SH_ASSERT_OK(shoal_listener_open(&lst, abs, NULL));
  SH_ASSERT_ERR(shoal_listener_open(&second, abs, NULL), SHOAL_EADDRINUSE);
  shoal_listener_close(lst);
}

SH_TEST(listener, accept_timeouts)
{
  SH_ASSERT_OK(shoal_listener_open(&lst, "tcp://127.0.0.1:0", NULL));
  shoal_conn *c;
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_listener_accept(lst, &c, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_listener_accept(lst, &c, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_ERR(shoal_listener_accept(lst, &c, SHOAL_MSEC(-7)), SHOAL_EINVAL);
  shoal_listener_close(lst);
}

SH_TEST(listener, connect_failures)
{
  shoal_conn *c;
  SH_ASSERT_OK(shoal_listener_open(&lst, "tcp://127.0.0.1:0", NULL));
  char addr[64];
  snprintf(addr, sizeof addr, "%s", shoal_listener_address(lst));
  shoal_listener_close(lst); /* nobody listens there now */
  SH_ASSERT_ERR(shoal_client(&c, addr, NULL, SHOAL_SEC(2)), SHOAL_ECONNREFUSED);
  SH_ASSERT_ERR(shoal_client(&c, "/nonexistent/dir/sock", NULL, SHOAL_SEC(2)), SHOAL_ENOENT);
  char abs[64];
  snprintf(abs, sizeof abs, "@shoal-test-%d-nobody", (int)getpid());
  SH_ASSERT_ERR(shoal_client(&c, abs, NULL, SHOAL_SEC(2)), SHOAL_ECONNREFUSED);
}

SH_TEST(listener, bad_addresses_and_arguments)
{
  shoal_conn *c;
  const char *bad[] = {"", "tcp://", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://127.0.0.1:x",
                       "tcp://127.0.0.1:65536", "tcp://[::1:80", "tcp://[]:80", "udp://127.0.0.1:0",
                       "ftp://host:1", "unix:", "@", "tcp://a:b:1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    SH_ASSERT_ERR(shoal_listener_open(&lst, bad[i], NULL), SHOAL_EINVAL);
    SH_ASSERT_ERR(shoal_client(&c, bad[i], NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  }
  char longpath[200];
  memset(longpath, 'p', sizeof longpath - 1);
  longpath[0] = '/';
  longpath[sizeof longpath - 1] = '\0';
  SH_ASSERT_ERR(shoal_listener_open(&lst, longpath, NULL), SHOAL_ENAMETOOLONG);
  SH_ASSERT_ERR(shoal_client(&c, "tcp://no-such-host.invalid:80", NULL, SHOAL_SEC(5)),
                SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal_listener_open(NULL, NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_client(NULL, "/x", NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_client(&c, NULL, NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  shoal_conn_opts o = {.authkey_len = 3}; /* a length without a key */
  SH_ASSERT_ERR(shoal_listener_open(&lst, NULL, &o), SHOAL_EINVAL);
  shoal_conn_opts b = {.backlog = 5};     /* a client has no backlog */
  SH_ASSERT_ERR(shoal_client(&c, "/x", &b, SHOAL_NOWAIT), SHOAL_EINVAL);
  shoal_conn_opts h = {.handshake_timeout = -1};
  SH_ASSERT_ERR(shoal_client(&c, "/x", &h, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_listener_accept(NULL, &c, SHOAL_NOWAIT), SHOAL_EINVAL);
  cr_assert(shoal_listener_address(NULL) == NULL);
  SH_ASSERT_ERR(shoal_listener_fileno(NULL), SHOAL_EINVAL);
  shoal_listener_close(NULL);
}

static int child_write_and_close(void *arg)
{
  shoal_conn *c;
  if (shoal_client(&c, arg, NULL, SHOAL_SEC(5)))
    return 1;
  int rc = shoal_conn_send_bytes(c, "early bird", 10, SHOAL_SEC(5));
  shoal_conn_close(c);
  return rc ? 2 : 0;
}

SH_TEST(listener, data_sent_before_accept_is_delivered)
{
  SH_ASSERT_OK(shoal_listener_open(&lst, NULL, NULL));
  pid_t pid = sh_fork(child_write_and_close, (void *)shoal_listener_address(lst));
  cr_assert_eq(sh_wait(pid, 10000), 0); /* gone before we accept */
  shoal_conn *c;
  SH_ASSERT_OK(shoal_listener_accept(lst, &c, SHOAL_SEC(5)));
  SH_ASSERT_OK(shoal_conn_poll(c, SHOAL_SEC(1)));
  char buf[16];
  size_t n;
  SH_ASSERT_OK(shoal_conn_recv_bytes_into(c, buf, sizeof buf, 0, &n, SHOAL_SEC(1)));
  cr_assert(n == 10 && memcmp(buf, "early bird", 10) == 0);
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(c, buf, sizeof buf, 0, &n, SHOAL_SEC(1)), SHOAL_EEOF);
  shoal_conn_close(c);
  shoal_listener_close(lst);
}

static int child_accept_one(void *arg)
{
  (void)arg;
  shoal_conn *c;
  if (shoal_listener_accept(lst, &c, SHOAL_SEC(5)))
    return 1;
  int rc = shoal_conn_send_bytes(c, "child", 5, SHOAL_SEC(5));
  shoal_conn_close(c);
  return rc ? 2 : 0;
}

SH_TEST(listener, forked_processes_share_a_listener)
{
  shoal_conn_opts o = {.authkey = "shared", .authkey_len = 6};
  SH_ASSERT_OK(shoal_listener_open(&lst, NULL, &o));
  char path[200];
  snprintf(path, sizeof path, "%s", shoal_listener_address(lst));
  pid_t pid = sh_fork(child_accept_one, NULL);
  shoal_conn *c;
  SH_ASSERT_OK(shoal_client(&c, path, &o, SHOAL_SEC(5)));
  char buf[8];
  size_t n;
  SH_ASSERT_OK(shoal_conn_recv_bytes_into(c, buf, sizeof buf, 0, &n, SHOAL_SEC(5)));
  cr_assert(n == 5 && memcmp(buf, "child", 5) == 0);
  shoal_conn_close(c);
  cr_assert_eq(sh_wait(pid, 10000), 0);
  /* The child's copy did not remove the parent's socket file. */
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  shoal_listener_close(lst);
  cr_assert_neq(stat(path, &st), 0);
}

/* The two halves of the handshake used directly, over a Pipe. */
static shoal_conn *pa, *pb;

static int child_answer(void *arg)
{
  return shoal_conn_answer_challenge(pb, arg, strlen(arg), SHOAL_SEC(5)) == 0 ? 0 : 1;
}

SH_TEST(handshake, deliver_and_answer_over_a_pipe)
{
  SH_ASSERT_OK(shoal_pipe(&pa, &pb, 1, NULL));
  pid_t pid = sh_fork(child_answer, "same");
  SH_ASSERT_OK(shoal_conn_deliver_challenge(pa, "same", 4, 0, SHOAL_SEC(5)));
  cr_assert_eq(sh_wait(pid, 10000), 0);
  pid = sh_fork(child_answer, "other");
  SH_ASSERT_ERR(shoal_conn_deliver_challenge(pa, "same", 4, 0, SHOAL_SEC(5)), SHOAL_EAUTH);
  cr_assert_eq(sh_wait(pid, 10000), 1);
  /* Nobody answering: the timeout, not a hang. */
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_conn_deliver_challenge(pa, "same", 4, 0, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_ERR(shoal_conn_deliver_challenge(pa, NULL, 4, 0, SHOAL_SEC(1)), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_deliver_challenge(pa, "k", 1, 8, SHOAL_SEC(1)), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_answer_challenge(NULL, "k", 1, SHOAL_SEC(1)), SHOAL_EINVAL);
  shoal_conn_close(pa);
  shoal_conn_close(pb);
  /* A simplex end cannot run a two-way exchange. */
  SH_ASSERT_OK(shoal_pipe(&pa, &pb, 0, NULL));
  SH_ASSERT_ERR(shoal_conn_answer_challenge(pa, "k", 1, SHOAL_SEC(1)), SHOAL_EBADF);
  shoal_conn_close(pa);
  shoal_conn_close(pb);
}

SH_TEST(handshake, answers_to_bad_challenges)
{
  /* Each raw "challenge" below must be refused by answer_challenge. */
  static const char *const bad[] = {"#CHALLENGE#short", "#NOTCHALLENGE#0123456789012345678901",
                                    "#CHALLENGE#{nope}0123456789012345678901234",
                                    "#CHALLENGE#0123456789012345678901"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    SH_ASSERT_OK(shoal_pipe(&pa, &pb, 1, NULL));
    SH_ASSERT_OK(shoal_conn_send_bytes(pa, bad[i], strlen(bad[i]), SHOAL_SEC(1)));
    SH_ASSERT_ERR(shoal_conn_answer_challenge(pb, "k", 1, SHOAL_SEC(1)), SHOAL_EAUTH);
    shoal_conn_close(pa);
    shoal_conn_close(pb);
  }
  /* A right answer followed by something other than #WELCOME#. */
  SH_ASSERT_OK(shoal_pipe(&pa, &pb, 1, NULL));
  const char *legacy = "#CHALLENGE#01234567890123456789"; /* 20 bytes: legacy MD5 */
  SH_ASSERT_OK(shoal_conn_send_bytes(pa, legacy, strlen(legacy), SHOAL_SEC(1)));
  SH_ASSERT_OK(shoal_conn_send_bytes(pa, "#WELCOME!", 9, SHOAL_SEC(1)));
  SH_ASSERT_ERR(shoal_conn_answer_challenge(pb, "k", 1, SHOAL_SEC(1)), SHOAL_EAUTH);
  char reply[64];
  size_t n;
  SH_ASSERT_OK(shoal_conn_recv_bytes_into(pa, reply, sizeof reply, 0, &n, SHOAL_SEC(1)));
  cr_assert_eq(n, 16, "a legacy challenge gets a raw 16-byte HMAC-MD5, got %zu bytes", n);
  shoal_conn_close(pa);
  shoal_conn_close(pb);
}
