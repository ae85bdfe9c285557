// SPDX-License-Identifier: MIT
// Every error the conn module returns is a code of the table in
// shoal/common.h: system errors without an entry of their own come back as
// the nearest entry, never as a raw errno that shoal_err_name calls
// "SHOAL_E?".
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "platform/platform.h"
#include "support.h"

static bool in_table(int rc)
{
  return rc < 0 && strcmp(shoal_err_name(rc), "SHOAL_E?") != 0;
}

#define SH_ASSERT_TABLE(expr, want)                                                                \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    cr_assert(in_table(rc_), "%s returned %d, not a code of the table", #expr, rc_);               \
    SH_ASSERT_ERR(rc_, want);                                                                      \
  } while (0)

SH_TEST(conn_errors, every_errno_becomes_a_code_of_the_table)
{
  for (int e = 0; e < 4096; e++) {
    int rc = shoal__plat_err(e);
    cr_assert(in_table(rc), "errno %d (%s) became %d", e, strerror(e), rc);
    if (e > 0 && in_table(-e))
      cr_assert_eq(rc, -e, "errno %d is in the table but became %s", e, shoal_err_name(rc));
  }
  SH_ASSERT_ERR(shoal__plat_err(0), SHOAL_EIO);
  SH_ASSERT_ERR(shoal__plat_err(ENFILE), SHOAL_EMFILE);
  SH_ASSERT_ERR(shoal__plat_err(ELOOP), SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal__plat_err(ENOTCONN), SHOAL_ECONNRESET);
  SH_ASSERT_ERR(shoal__plat_err(EPROTOTYPE), SHOAL_ECONNREFUSED);
  SH_ASSERT_ERR(shoal__plat_err(EDESTADDRREQ), SHOAL_EINVAL);
}

static char dir[64];

static void make_dir(void)
{
  snprintf(dir, sizeof dir, "/tmp/shoal-test-%d-XXXXXX", (int)getpid());
  cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

SH_TEST(conn_errors, paths_through_a_symlink_loop_name_nothing)
{
  make_dir();
  char l1[128], l2[128], p[160];
  snprintf(l1, sizeof l1, "%s/loop1", dir);
  snprintf(l2, sizeof l2, "%s/loop2", dir);
  cr_assert_eq(symlink(l2, l1), 0);
  cr_assert_eq(symlink(l1, l2), 0);
  shoal_listener *l;
  shoal_conn *c;
  snprintf(p, sizeof p, "%s/sock", l1);
  SH_ASSERT_TABLE(shoal_listener_open(&l, p, NULL), SHOAL_ENOENT);
  SH_ASSERT_TABLE(shoal_client(&c, p, NULL, SHOAL_SEC(1)), SHOAL_ENOENT);
  snprintf(p, sizeof p, "%s/fifo", l1);
  SH_ASSERT_TABLE(shoal_fifo_create(p, 0), SHOAL_ENOENT);
  SH_ASSERT_TABLE(shoal_fifo_open(&c, l1, SHOAL_FIFO_READ, NULL, SHOAL_NOWAIT), SHOAL_ENOENT);
  SH_ASSERT_TABLE(shoal_fifo_open(&c, l1, SHOAL_FIFO_WRITE, NULL, SHOAL_NOWAIT), SHOAL_ENOENT);
  remove_dir();
}

SH_TEST(conn_errors, a_client_at_a_datagram_socket_is_refused)
{
  make_dir();
  char p[96];
  snprintf(p, sizeof p, "%s/dgram.sock", dir);
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  snprintf(un.sun_path, sizeof un.sun_path, "%s", p);
  cr_assert_eq(bind(s, (struct sockaddr *)&un, sizeof un), 0);
  shoal_conn *c;
  SH_ASSERT_TABLE(shoal_client(&c, p, NULL, SHOAL_SEC(1)), SHOAL_ECONNREFUSED);
  close(s);
  remove_dir();
}

SH_TEST(conn_errors, descriptors_that_cannot_carry_messages)
{
  shoal_conn *c;
  void *m;
  size_t n;
  /* A stream socket that was never connected. */
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  SH_ASSERT_OK(shoal_conn_from_fd(&c, s, 1, 1, NULL));
  SH_ASSERT_TABLE(shoal_conn_send_bytes(c, "x", 1, SHOAL_NOWAIT), SHOAL_ECONNRESET);
  shoal_conn_close(c);
  s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  SH_ASSERT_OK(shoal_conn_from_fd(&c, s, 1, 1, NULL));
  SH_ASSERT_TABLE(shoal_conn_recv_bytes(c, &m, &n, SHOAL_NOWAIT), SHOAL_ECONNRESET);
  shoal_conn_close(c);
  /* A directory. */
  int d = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  SH_ASSERT_OK(shoal_conn_from_fd(&c, d, 1, 0, NULL));
  SH_ASSERT_TABLE(shoal_conn_recv_bytes(c, &m, &n, SHOAL_NOWAIT), SHOAL_EINVAL);
  shoal_conn_close(c);
}
