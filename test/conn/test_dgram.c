// SPDX-License-Identifier: MIT
// Datagram endpoints on the loopback: boundaries, truncation, IPv4 and
// IPv6, timeouts, addresses, two processes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static shoal_dgram *x, *y;

static void expect_dgram(shoal_dgram *d, const char *want, size_t want_len, const char *from_want)
{
  char buf[256], from[SHOAL_CONN_ADDRESS_MAX];
  size_t n = 77;
  SH_ASSERT_OK(shoal_dgram_recv_from(d, buf, sizeof buf, &n, from, sizeof from, SHOAL_SEC(5)));
  cr_assert_eq(n, want_len);
  cr_assert(memcmp(buf, want, n) == 0);
  cr_assert_str_eq(from, from_want);
}

static void pair(const char *address)
{
  SH_ASSERT_OK(shoal_dgram_open(&x, address));
  SH_ASSERT_OK(shoal_dgram_open(&y, address));
}

SH_TEST(dgram, boundaries_are_kept_ipv4)
{
  pair("udp://127.0.0.1:0");
  const char *xa = shoal_dgram_address(x), *ya = shoal_dgram_address(y);
  cr_assert(strncmp(xa, "udp://127.0.0.1:", 16) == 0 && strcmp(xa, "udp://127.0.0.1:0") != 0);
  SH_ASSERT_OK(shoal_dgram_send_to(x, "a", 1, ya, SHOAL_SEC(1)));
  SH_ASSERT_OK(shoal_dgram_send_to(x, "bc", 2, ya, SHOAL_SEC(1)));
  SH_ASSERT_OK(shoal_dgram_send_to(x, NULL, 0, ya, SHOAL_SEC(1)));
  SH_ASSERT_OK(shoal_dgram_send_to(y, "back", 4, xa, SHOAL_SEC(1)));
  expect_dgram(y, "a", 1, xa);
  expect_dgram(y, "bc", 2, xa);
  expect_dgram(y, "", 0, xa);
  expect_dgram(x, "back", 4, ya);
  shoal_dgram_close(x);
  shoal_dgram_close(y);
}

SH_TEST(dgram, ipv6_loopback)
{
  int rc = shoal_dgram_open(&x, "udp://[::1]:0");
  if (rc == SHOAL_EADDRNOTAVAIL || rc == SHOAL_EAFNOSUPPORT) {
    fprintf(stderr, "no IPv6 loopback here: test not run\n");
    return;
  }
  SH_ASSERT_OK(rc);
  SH_ASSERT_OK(shoal_dgram_open(&y, "udp://[::1]:0"));
  cr_assert(strncmp(shoal_dgram_address(y), "udp://[::1]:", 12) == 0);
  SH_ASSERT_OK(shoal_dgram_send_to(x, "six", 3, shoal_dgram_address(y), SHOAL_SEC(1)));
  expect_dgram(y, "six", 3, shoal_dgram_address(x));
  /* An IPv6 endpoint cannot reach an IPv4 address. */
  SH_ASSERT_ERR(shoal_dgram_send_to(x, "4", 1, "udp://127.0.0.1:9", SHOAL_SEC(1)),
                SHOAL_EAFNOSUPPORT);
  shoal_dgram_close(x);
  shoal_dgram_close(y);
}

SH_TEST(dgram, truncation_is_reported)
{
  pair("udp://127.0.0.1:0");
  char big[100];
  for (int i = 0; i < 100; i++)
    big[i] = (char)i;
  SH_ASSERT_OK(shoal_dgram_send_to(x, big, sizeof big, shoal_dgram_address(y), SHOAL_SEC(1)));
  char buf[10];
  size_t n;
  SH_ASSERT_ERR(shoal_dgram_recv_from(y, buf, sizeof buf, &n, NULL, 0, SHOAL_SEC(5)),
                SHOAL_EMSGSIZE);
  cr_assert_eq(n, 100);
  cr_assert(memcmp(buf, big, sizeof buf) == 0);
  /* That datagram is gone; the next one arrives whole. */
  SH_ASSERT_OK(shoal_dgram_send_to(x, "next", 4, shoal_dgram_address(y), SHOAL_SEC(1)));
  SH_ASSERT_OK(shoal_dgram_recv_from(y, buf, sizeof buf, &n, NULL, 0, SHOAL_SEC(5)));
  cr_assert(n == 4 && memcmp(buf, "next", 4) == 0);
  /* Larger than any UDP datagram. */
  static char huge[70000];
  SH_ASSERT_ERR(shoal_dgram_send_to(x, huge, sizeof huge, shoal_dgram_address(y), SHOAL_SEC(1)),
                SHOAL_EMSGSIZE);
  shoal_dgram_close(x);
  shoal_dgram_close(y);
}

SH_TEST(dgram, timeouts_and_bad_arguments)
{
  pair("udp://127.0.0.1:0");
  char buf[8], from[SHOAL_CONN_ADDRESS_MAX];
  size_t n;
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_dgram_recv_from(x, buf, sizeof buf, &n, NULL, 0, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_dgram_recv_from(x, buf, sizeof buf, &n, NULL, 0, SHOAL_MSEC(100)),
                SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_ERR(shoal_dgram_recv_from(x, buf, sizeof buf, &n, from, 10, SHOAL_NOWAIT),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_recv_from(x, NULL, 8, &n, NULL, 0, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_recv_from(x, buf, 8, NULL, NULL, 0, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_recv_from(NULL, buf, 8, &n, NULL, 0, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_recv_from(x, buf, 8, &n, NULL, 0, SHOAL_MSEC(-4)), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_send_to(x, "a", 1, "tcp://127.0.0.1:1", SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_send_to(x, "a", 1, "/tmp/sock", SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_send_to(x, NULL, 1, shoal_dgram_address(y), SHOAL_NOWAIT),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_send_to(x, "a", 1, NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_send_to(NULL, "a", 1, "udp://127.0.0.1:1", SHOAL_NOWAIT),
                SHOAL_EINVAL);
  /* Binding twice, and bad addresses. */
  shoal_dgram *z;
  SH_ASSERT_ERR(shoal_dgram_open(&z, shoal_dgram_address(x)), SHOAL_EADDRINUSE);
  SH_ASSERT_ERR(shoal_dgram_open(&z, "tcp://127.0.0.1:0"), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_open(&z, "@abstract"), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_open(&z, "udp://127.0.0.1"), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_open(&z, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_open(NULL, "udp://127.0.0.1:0"), SHOAL_EINVAL);
  cr_assert(shoal_dgram_address(NULL) == NULL);
  SH_ASSERT_ERR(shoal_dgram_fileno(NULL), SHOAL_EINVAL);
  cr_assert(shoal_dgram_fileno(x) >= 0);
  shoal_dgram_close(NULL);
  shoal_dgram_close(x);
  shoal_dgram_close(y);
}

SH_TEST(dgram, an_empty_or_malformed_destination_is_einval)
{
  pair("udp://127.0.0.1:0");
  /* First on a fresh endpoint: nothing cached yet must match "". */
  SH_ASSERT_ERR(shoal_dgram_send_to(x, "a", 1, "", SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_send_to(x, "a", 1, "udp://", SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dgram_send_to(x, "a", 1, "udp://127.0.0.1", SHOAL_NOWAIT), SHOAL_EINVAL);
  /* With a destination cached, the bad ones stay bad and the good one good. */
  SH_ASSERT_OK(shoal_dgram_send_to(x, "a", 1, shoal_dgram_address(y), SHOAL_SEC(1)));
  SH_ASSERT_ERR(shoal_dgram_send_to(x, "b", 1, "", SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_OK(shoal_dgram_send_to(x, "c", 1, shoal_dgram_address(y), SHOAL_SEC(1)));
  expect_dgram(y, "a", 1, shoal_dgram_address(x));
  expect_dgram(y, "c", 1, shoal_dgram_address(x));
  shoal_dgram_close(x);
  shoal_dgram_close(y);
}

static int child_echo(void *arg)
{
  (void)arg;
  for (int i = 0; i < 20; i++) {
    char buf[64], from[SHOAL_CONN_ADDRESS_MAX];
    size_t n;
    if (shoal_dgram_recv_from(y, buf, sizeof buf, &n, from, sizeof from, SHOAL_SEC(5)) ||
        shoal_dgram_send_to(y, buf, n, from, SHOAL_SEC(5)))
      return 1;
  }
  return 0;
}

SH_TEST(dgram, echo_between_processes)
{
  pair("udp://127.0.0.1:0");
  pid_t pid = sh_fork(child_echo, NULL);
  for (int i = 0; i < 20; i++) {
    char msg[32];
    int len = snprintf(msg, sizeof msg, "datagram %d", i);
    SH_ASSERT_OK(shoal_dgram_send_to(x, msg, (size_t)len, shoal_dgram_address(y), SHOAL_SEC(1)));
    expect_dgram(x, msg, (size_t)len, shoal_dgram_address(y));
  }
  cr_assert_eq(sh_wait(pid, 10000), 0);
  shoal_dgram_close(x);
  shoal_dgram_close(y);
}
