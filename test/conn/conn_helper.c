// SPDX-License-Identifier: MIT
// conn_helper: an unrelated process for the conn tests.  Prints each result
// as an error name on its own line.
//   fifo-write PATH N        open PATH for writing, send "message 0".."message N-1"
//   fifo-write-big PATH D    send 200 messages of 4000 bytes of digit D
//   fifo-read PATH N         receive N messages, print each
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shoal.h>

static int say_rc(int rc)
{
  printf("%s\n", shoal_err_name(rc));
  fflush(stdout);
  return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
  if (argc < 4)
    return 2;
  const char *cmd = argv[1], *path = argv[2];
  int n = atoi(argv[3]);
  shoal_conn *c;
  int rc;
  if (strcmp(cmd, "fifo-write") == 0 || strcmp(cmd, "fifo-write-big") == 0) {
    if ((rc = shoal_fifo_open(&c, path, SHOAL_FIFO_WRITE, NULL, SHOAL_SEC(10))) != 0)
      return say_rc(rc);
    static char msg[4000];
    bool big = strcmp(cmd, "fifo-write-big") == 0;
    memset(msg, '0' + n, sizeof msg);
    for (int i = 0; i < (big ? 200 : n) && !rc; i++) {
      if (big) {
        rc = shoal_conn_send_bytes(c, msg, sizeof msg, SHOAL_SEC(10));
      } else {
        int len = snprintf(msg, sizeof msg, "message %d", i);
        rc = shoal_conn_send_bytes(c, msg, (size_t)len, SHOAL_SEC(10));
      }
    }
    shoal_conn_close(c);
    return say_rc(rc);
  }
  if (strcmp(cmd, "fifo-read") == 0) {
    if ((rc = shoal_fifo_open(&c, path, SHOAL_FIFO_READ, NULL, SHOAL_SEC(10))) != 0)
      return say_rc(rc);
    for (int i = 0; i < n; i++) {
      char buf[256];
      size_t len;
      if ((rc = shoal_conn_recv_bytes_into(c, buf, sizeof buf - 1, 0, &len, SHOAL_SEC(10))) != 0)
        return say_rc(rc);
      buf[len] = '\0';
      printf("%s\n", buf);
      fflush(stdout);
    }
    shoal_conn_close(c);
    return 0;
  }
  return 2;
}
