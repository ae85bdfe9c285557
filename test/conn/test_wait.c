// SPDX-License-Identifier: MIT
// wait(): many connections and raw descriptors at once (Python's
// multiprocessing.connection.wait tests): all ready ones returned, timeouts,
// process sentinels, listeners, bad descriptors.
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "support.h"

SH_TEST(wait, returns_every_ready_connection)
{
  shoal_conn *r[4], *w[4];
  shoal_wait_item items[4];
  for (int i = 0; i < 4; i++) {
    SH_ASSERT_OK(shoal_pipe(&r[i], &w[i], i % 2, NULL));
    items[i] = (shoal_wait_item){.conn = r[i]};
  }
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_conn_wait(items, 4, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_conn_wait(items, 4, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_OK(shoal_conn_send_bytes(w[1], "x", 1, SHOAL_SEC(1)));
  SH_ASSERT_OK(shoal_conn_send_bytes(w[2], NULL, 0, SHOAL_SEC(1)));
  t0 = sh_now();
  SH_ASSERT_RC(shoal_conn_wait(items, 4, SHOAL_SEC(5)), 2);
  SH_ASSERT_QUICK(t0);
  cr_assert(!items[0].ready && items[1].ready && items[2].ready && !items[3].ready);
  /* Nothing was consumed. */
  SH_ASSERT_RC(shoal_conn_wait(items, 4, SHOAL_NOWAIT), 2);
  char buf[4];
  size_t n;
  SH_ASSERT_OK(shoal_conn_recv_bytes_into(r[1], buf, sizeof buf, 0, &n, SHOAL_SEC(1)));
  SH_ASSERT_RC(shoal_conn_wait(items, 4, SHOAL_NOWAIT), 1);
  cr_assert(items[2].ready && !items[1].ready);
  /* A closed peer makes its connection ready: the receive says EOF. */
  shoal_conn_close(w[3]);
  SH_ASSERT_RC(shoal_conn_wait(items, 4, SHOAL_NOWAIT), 2);
  cr_assert(items[3].ready);
  for (int i = 0; i < 4; i++) {
    shoal_conn_close(r[i]);
    if (i != 3)
      shoal_conn_close(w[i]);
  }
}

static shoal_conn *ca, *cb;

static int child_send_later(void *arg)
{
  (void)arg;
  sh_sleep_ms(100);
  return shoal_conn_send_bytes(cb, "late", 4, SHOAL_SEC(5)) ? 1 : 0;
}

SH_TEST(wait, wakes_when_another_process_sends)
{
  SH_ASSERT_OK(shoal_pipe(&ca, &cb, 1, NULL));
  pid_t pid = sh_fork(child_send_later, NULL);
  shoal_wait_item it = {.conn = ca};
  SH_ASSERT_RC(shoal_conn_wait(&it, 1, SHOAL_FOREVER), 1);
  cr_assert(it.ready);
  cr_assert_eq(sh_wait(pid, 10000), 0);
  shoal_conn_close(ca);
  shoal_conn_close(cb);
}

static int child_exit_later(void *arg)
{
  (void)arg;
  sh_sleep_ms(100);
  return 0;
}

SH_TEST(wait, raw_descriptors_sentinels_and_listeners)
{
  SH_ASSERT_OK(shoal_pipe(&ca, &cb, 1, NULL));
  int p[2];
  cr_assert_eq(pipe(p), 0);
  shoal_listener *l;
  SH_ASSERT_OK(shoal_listener_open(&l, "tcp://127.0.0.1:0", NULL));
  pid_t pid = sh_fork(child_exit_later, NULL);
  int sentinel = (int)syscall(SYS_pidfd_open, pid, 0); /* a process sentinel */
  cr_assert(sentinel >= 0);
  shoal_wait_item items[4] = {{.conn = ca}, {.fd = p[0]}, {.fd = sentinel},
                              {.fd = shoal_listener_fileno(l)}};
  SH_ASSERT_ERR(shoal_conn_wait(items, 4, SHOAL_NOWAIT), SHOAL_EAGAIN);
  /* The child's exit alone wakes the wait. */
  SH_ASSERT_RC(shoal_conn_wait(items, 4, SHOAL_SEC(5)), 1);
  cr_assert(items[2].ready);
  cr_assert_eq(write(p[1], "z", 1), 1);
  shoal_conn *client;
  SH_ASSERT_OK(shoal_client(&client, shoal_listener_address(l), NULL, SHOAL_SEC(5)));
  SH_ASSERT_OK(shoal_conn_send_bytes(cb, "m", 1, SHOAL_SEC(1)));
  SH_ASSERT_RC(shoal_conn_wait(items, 4, SHOAL_SEC(5)), 4);
  cr_assert_eq(sh_wait(pid, 10000), 0);
  close(sentinel);
  close(p[0]);
  close(p[1]);
  shoal_conn_close(client);
  shoal_listener_close(l);
  shoal_conn_close(ca);
  shoal_conn_close(cb);
}

SH_TEST(wait, a_connection_holding_an_error_is_ready_at_once)
{
  shoal_conn_opts o = {.max_msg = 4};
  SH_ASSERT_OK(shoal_pipe(&ca, &cb, 1, &o));
  SH_ASSERT_OK(shoal_conn_send_bytes(cb, "too long", 8, SHOAL_SEC(1)));
  char buf[16];
  size_t n;
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(ca, buf, sizeof buf, 0, &n, SHOAL_SEC(1)),
                SHOAL_EMSGSIZE);
  /* The 8 payload bytes are still in the socket; drain them so that the
   * descriptor is empty and only the broken state makes it ready. */
  cr_assert_eq(read(shoal_conn_fileno(ca), buf, 8), 8);
  shoal_wait_item it = {.conn = ca};
  SH_ASSERT_RC(shoal_conn_wait(&it, 1, SHOAL_SEC(1)), 1);
  SH_ASSERT_OK(shoal_conn_poll(ca, SHOAL_NOWAIT));
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(ca, buf, sizeof buf, 0, &n, SHOAL_NOWAIT), SHOAL_EBROKEN);
  shoal_conn_close(ca);
  shoal_conn_close(cb);
}

SH_TEST(wait, many_items)
{
  enum { N = 100 };
  shoal_conn *r[N], *w[N];
  shoal_wait_item items[N];
  for (int i = 0; i < N; i++) {
    SH_ASSERT_OK(shoal_pipe(&r[i], &w[i], 0, NULL));
    items[i] = (shoal_wait_item){.conn = r[i]};
  }
  for (int i = 0; i < N; i += 7)
    SH_ASSERT_OK(shoal_conn_send_bytes(w[i], "x", 1, SHOAL_SEC(1)));
  SH_ASSERT_RC(shoal_conn_wait(items, N, SHOAL_SEC(1)), (N + 6) / 7);
  for (int i = 0; i < N; i++) {
    cr_assert_eq(items[i].ready, i % 7 == 0, "item %d", i);
    shoal_conn_close(r[i]);
    shoal_conn_close(w[i]);
  }
}

SH_TEST(wait, bad_items)
{
  SH_ASSERT_OK(shoal_pipe(&ca, &cb, 0, NULL));
  shoal_wait_item it = {.conn = cb}; /* send-only */
  SH_ASSERT_ERR(shoal_conn_wait(&it, 1, SHOAL_NOWAIT), SHOAL_EBADF);
  it = (shoal_wait_item){.fd = -1};
  SH_ASSERT_ERR(shoal_conn_wait(&it, 1, SHOAL_NOWAIT), SHOAL_EBADF);
  it = (shoal_wait_item){.fd = 999}; /* not open */
  SH_ASSERT_ERR(shoal_conn_wait(&it, 1, SHOAL_NOWAIT), SHOAL_EBADF);
  SH_ASSERT_ERR(shoal_conn_wait(NULL, 1, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_wait(NULL, 0, SHOAL_FOREVER), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_conn_wait(&it, 1, SHOAL_MSEC(-2)), SHOAL_EINVAL);
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_conn_wait(NULL, 0, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  shoal_conn_close(ca);
  shoal_conn_close(cb);
}
