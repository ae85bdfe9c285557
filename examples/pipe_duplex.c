// SPDX-License-Identifier: MIT
// Scenario 12: Pipe(duplex=True) — both ends send and receive, in the parent
// and in the child; a simplex pipe; every process closes the ends it does
// not use, so that EOF arrives.
//
//   parent_conn, child_conn = Pipe()
//   p = Process(target=child, args=(child_conn,)); p.start()
//   parent_conn.send_bytes(b'ping');  print(parent_conn.recv_bytes())
//   reader, writer = Pipe(duplex=False)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shoal.h>

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "FAIL: " __VA_ARGS__);                                                       \
      fputc('\n', stderr);                                                                         \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

static void recv_str(shoal_conn *c, char *buf, size_t cap)
{
  size_t n;
  int rc = shoal_conn_recv_bytes_into(c, buf, cap - 1, 0, &n, SHOAL_SEC(5));
  CHECK(rc == 0, "recv: %s", shoal_err_name(rc));
  buf[n] = '\0';
}

static int wait_child(pid_t pid)
{
  int status;
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(void)
{
  char buf[64];
  shoal_conn *parent_conn, *child_conn;

  /* Duplex: both ends talk both ways. */
  CHECK(shoal_pipe(&parent_conn, &child_conn, 1, NULL) == 0, "shoal_pipe");
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    shoal_conn_close(parent_conn); /* the parent's end is not ours */
    recv_str(child_conn, buf, sizeof buf);
    printf("child:  got \"%s\"\n", buf);
    shoal_conn_send_bytes(child_conn, "pong", 4, SHOAL_SEC(5));
    shoal_conn_send_bytes(child_conn, "and a message of my own", 23, SHOAL_SEC(5));
    shoal_conn_close(child_conn);
    fflush(stdout);
    _exit(0);
  }
  shoal_conn_close(child_conn); /* the child's end is not ours */
  shoal_conn_send_bytes(parent_conn, "ping", 4, SHOAL_SEC(5));
  recv_str(parent_conn, buf, sizeof buf);
  printf("parent: got \"%s\"\n", buf);
  CHECK(strcmp(buf, "pong") == 0, "expected pong");
  recv_str(parent_conn, buf, sizeof buf);
  printf("parent: got \"%s\"\n", buf);
  /* Every copy of the child's end is closed: the parent sees EOF. */
  size_t n;
  int rc = shoal_conn_recv_bytes_into(parent_conn, buf, sizeof buf, 0, &n, SHOAL_SEC(5));
  printf("parent: then %s (Python: EOFError)\n", shoal_err_name(rc));
  CHECK(rc == SHOAL_EEOF, "expected EOF");
  CHECK(wait_child(pid) == 0, "child failed");
  shoal_conn_close(parent_conn);

  /* Simplex: the child writes, the parent reads; the wrong way is refused. */
  shoal_conn *reader, *writer;
  CHECK(shoal_pipe(&reader, &writer, 0, NULL) == 0, "shoal_pipe simplex");
  fflush(stdout);
  pid = fork();
  if (pid == 0) {
    shoal_conn_close(reader);
    for (int i = 1; i <= 3; i++) {
      int len = snprintf(buf, sizeof buf, "item %d", i);
      shoal_conn_send_bytes(writer, buf, (size_t)len, SHOAL_SEC(5));
    }
    shoal_conn_close(writer);
    fflush(stdout);
    _exit(0);
  }
  shoal_conn_close(writer);
  for (int i = 1; i <= 3; i++) {
    recv_str(reader, buf, sizeof buf);
    printf("reader: got \"%s\"\n", buf);
  }
  rc = shoal_conn_send_bytes(reader, "x", 1, SHOAL_NOWAIT);
  printf("reader: send -> %s (Python: OSError, the reader is read-only)\n", shoal_err_name(rc));
  CHECK(rc == SHOAL_EBADF, "reader could send");
  CHECK(shoal_conn_recv_bytes_into(reader, buf, sizeof buf, 0, &n, SHOAL_SEC(5)) == SHOAL_EEOF,
        "expected EOF on the simplex pipe");
  CHECK(wait_child(pid) == 0, "child failed");
  shoal_conn_close(reader);
  printf("pipes: ok\n");
  return 0;
}
