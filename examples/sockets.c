// SPDX-License-Identifier: MIT
// Scenario 16: sockets between processes on localhost — a TCP stream
// (bind/listen/accept/recv on one side, connect/send on the other) and UDP
// datagrams (sendto/recvfrom).  shoal's stream keeps message boundaries.
//
//   server = socket(AF_INET, SOCK_STREAM); server.bind(('localhost', 0))
//   server.listen(); conn, addr = server.accept(); conn.recv(1024)
//   udp = socket(AF_INET, SOCK_DGRAM); udp.sendto(b'hi', addr); udp.recvfrom(1024)
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shoal.h>

static int child_ok(pid_t pid)
{
  int status;
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int tcp_part(void)
{
  shoal_listener *server;
  if (shoal_listener_open(&server, "tcp://127.0.0.1:0", NULL))
    return 1;
  char address[SHOAL_CONN_ADDRESS_MAX];
  snprintf(address, sizeof address, "%s", shoal_listener_address(server));
  printf("tcp: listening on %s\n", address);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) { /* the client process */
    shoal_conn *c;
    if (shoal_client(&c, address, NULL, SHOAL_SEC(5)))
      _exit(1);
    const char *msgs[] = {"hello, server", "a second message"};
    for (int i = 0; i < 2; i++)
      shoal_conn_send_bytes(c, msgs[i], strlen(msgs[i]), SHOAL_SEC(5));
    char reply[64];
    size_t n;
    int rc = shoal_conn_recv_bytes_into(c, reply, sizeof reply, 0, &n, SHOAL_SEC(5));
    printf("tcp: client got \"%.*s\"\n", rc ? 0 : (int)n, reply);
    shoal_conn_close(c);
    fflush(stdout);
    _exit(rc ? 1 : 0);
  }
  shoal_conn *conn;
  int rc = shoal_listener_accept(server, &conn, SHOAL_SEC(5));
  int got = 0;
  while (rc == 0) {
    char buf[64];
    size_t n;
    rc = shoal_conn_recv_bytes_into(conn, buf, sizeof buf, 0, &n, SHOAL_SEC(5));
    if (rc == 0) {
      printf("tcp: server got \"%.*s\"\n", (int)n, buf);
      if (++got == 2)
        rc = shoal_conn_send_bytes(conn, "thanks, client", 14, SHOAL_SEC(5));
    }
  }
  printf("tcp: then %s: the client closed\n", shoal_err_name(rc));
  shoal_conn_close(conn);
  shoal_listener_close(server);
  return child_ok(pid) && got == 2 && rc == SHOAL_EEOF ? 0 : 1;
}

static int udp_part(void)
{
  shoal_dgram *a, *b;
  if (shoal_dgram_open(&a, "udp://127.0.0.1:0") || shoal_dgram_open(&b, "udp://127.0.0.1:0"))
    return 1;
  printf("udp: endpoints %s and %s\n", shoal_dgram_address(a), shoal_dgram_address(b));
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) { /* echoes two datagrams back to their sender */
    for (int i = 0; i < 2; i++) {
      char buf[64], from[SHOAL_CONN_ADDRESS_MAX];
      size_t n;
      if (shoal_dgram_recv_from(b, buf, sizeof buf, &n, from, sizeof from, SHOAL_SEC(5)) ||
          shoal_dgram_send_to(b, buf, n, from, SHOAL_SEC(5)))
        _exit(1);
    }
    fflush(stdout);
    _exit(0);
  }
  int ok = 1;
  const char *msgs[] = {"datagram one", "two"};
  for (int i = 0; i < 2; i++) {
    shoal_dgram_send_to(a, msgs[i], strlen(msgs[i]), shoal_dgram_address(b), SHOAL_SEC(5));
    char buf[64], from[SHOAL_CONN_ADDRESS_MAX];
    size_t n;
    int rc = shoal_dgram_recv_from(a, buf, sizeof buf, &n, from, sizeof from, SHOAL_SEC(5));
    printf("udp: echo \"%.*s\" from %s\n", rc ? 0 : (int)n, buf, rc ? "?" : from);
    ok &= rc == 0 && n == strlen(msgs[i]) && memcmp(buf, msgs[i], n) == 0;
  }
  ok &= child_ok(pid);
  shoal_dgram_close(a);
  shoal_dgram_close(b);
  return ok ? 0 : 1;
}

int main(void)
{
  if (tcp_part() || udp_part()) {
    fprintf(stderr, "FAIL: sockets\n");
    return 1;
  }
  printf("sockets: ok\n");
  return 0;
}
