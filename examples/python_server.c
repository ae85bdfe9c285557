// SPDX-License-Identifier: MIT
// A C server answering a Python client: a shoal Listener with an authkey,
// and an unmodified `multiprocessing.connection.Client` in python3 that
// authenticates (Python's own handshake), sends requests and reads replies.
//
//   python3 -c "from multiprocessing.connection import Client
//               c = Client(('127.0.0.1', port), authkey=b'...'); c.send_bytes(b'...')"
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shoal.h>

extern char **environ;

static const char client_py[] =
    "import sys\n"
    "from multiprocessing.connection import Client\n"
    "host, port = sys.argv[1][len('tcp://'):].rsplit(':', 1)\n"
    "with Client((host, int(port)), authkey=b'shared secret') as c:\n"
    "    for word in ['shoal', 'speaks', 'python']:\n"
    "        c.send_bytes(word.encode())\n"
    "        print('python: sent %r, got %r' % (word, c.recv_bytes().decode()), flush=True)\n"
    "    c.send_bytes(b'')\n";

int main(void)
{
  shoal_listener *l;
  shoal_conn_opts opts = {.authkey = "shared secret", .authkey_len = 13};
  int rc = shoal_listener_open(&l, "tcp://127.0.0.1:0", &opts);
  if (rc) {
    fprintf(stderr, "FAIL: listen: %s\n", shoal_strerror(rc));
    return 1;
  }
  printf("C server: listening on %s\n", shoal_listener_address(l));
  fflush(stdout);
  const char *argv[] = {"python3", "-c", client_py, shoal_listener_address(l), NULL};
  pid_t pid;
  if (posix_spawnp(&pid, "python3", NULL, NULL, (char *const *)argv, environ) != 0) {
    fprintf(stderr, "FAIL: cannot start python3\n");
    return 1;
  }
  shoal_conn *c = NULL;
  rc = shoal_listener_accept(l, &c, SHOAL_SEC(20));
  printf("C server: accepted, handshake %s\n", shoal_err_name(rc));
  int answered = 0;
  while (rc == 0) {
    char buf[64];
    size_t n;
    rc = shoal_conn_recv_bytes_into(c, buf, sizeof buf, 0, &n, SHOAL_SEC(20));
    if (rc || n == 0)
      break; /* an empty message ends the session */
    for (size_t i = 0; i < n; i++)
      buf[i] = (char)(buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i]);
    rc = shoal_conn_send_bytes(c, buf, n, SHOAL_SEC(5));
    answered += rc == 0;
  }
  int status;
  waitpid(pid, &status, 0);
  shoal_conn_close(c); /* NULL if accept failed: a no-op */
  shoal_listener_close(l);
  printf("C server: answered %d requests\n", answered);
  if (rc || answered != 3 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "FAIL: python client session\n");
    return 1;
  }
  return 0;
}
