// SPDX-License-Identifier: MIT
// Interoperation with the real python3 on the machine (3.11 here: legacy
// HMAC-MD5 handshake on Python's side), both directions, right and wrong
// keys, over TCP, Unix paths and the abstract namespace; and a Pipe end
// handed to Python as multiprocessing.connection.Connection(fd), with
// send_handle/recv_handle.  Every python3 runs under timeout(1).
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

extern char **environ;

/* Address strings as Python wants them: (host, port), a path, "\0name". */
#define PY_ADDR                                                                                    \
  "def addr(a):\n"                                                                                 \
  "    if a.startswith('tcp://'):\n"                                                               \
  "        h, p = a[6:].rsplit(':', 1)\n"                                                          \
  "        return (h, int(p))\n"                                                                   \
  "    return '\\0' + a[1:] if a.startswith('@') else a\n"                                          \
  "def key(k):\n"                                                                                  \
  "    return None if k == '-' else k.encode()\n"

/* argv: address key.  Connects, sends, prints the reply or the error. */
static const char py_client[] =
    "import sys\n"
    "from multiprocessing.connection import Client\n" PY_ADDR
    "try:\n"
    "    c = Client(addr(sys.argv[1]), authkey=key(sys.argv[2]))\n"
    "except Exception as e:\n"
    "    print(type(e).__name__, flush=True)\n"
    "    sys.exit(0)\n"
    "c.send_bytes(b'hello from python')\n"
    "c.send_bytes(b'')\n"
    "c.send_bytes(bytes(range(256)) * 4096)\n"
    "print(c.recv_bytes().decode(), flush=True)\n"
    "c.close()\n";

/* argv: address key.  Listens, prints its address, accepts one client,
 * answers its message in upper case, prints "served" or the error. */
static const char py_listener[] =
    "import sys\n"
    "from multiprocessing.connection import Listener\n" PY_ADDR
    "l = Listener(addr(sys.argv[1]), authkey=key(sys.argv[2]))\n"
    "a = l.address\n"
    "if isinstance(a, tuple):\n"
    "    a = 'tcp://%s:%d' % a\n"
    "elif isinstance(a, bytes):\n"
    "    a = '@' + a[1:].decode()\n"
    "print(a, flush=True)\n"
    "try:\n"
    "    c = l.accept()\n"
    "except Exception as e:\n"
    "    print(type(e).__name__, flush=True)\n"
    "    sys.exit(0)\n"
    "m = c.recv_bytes()\n"
    "c.send_bytes(m.upper())\n"
    "assert c.recv_bytes() == b''\n"
    "print('served', flush=True)\n"
    "c.close()\n"
    "l.close()\n";

/* Starts `timeout 20 python3 -c script args...` with stdout on a pipe (read
 * end in *out) and, when pass_fd >= 0, pass_fd as the child's fd 3. */
static pid_t python(int *out, int pass_fd, const char *script, ...)
{
  const char *argv[16] = {"timeout", "-k", "2", "20", "python3", "-c", script};
  int argc = 7;
  va_list ap;
  va_start(ap, script);
  for (const char *s; (s = va_arg(ap, const char *)) && argc < 15;)
    argv[argc++] = s;
  va_end(ap);
  argv[argc] = NULL;
  int fds[2];
  cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  if (pass_fd >= 0) {
    cr_assert_neq(pass_fd, 3);
    posix_spawn_file_actions_adddup2(&fa, pass_fd, 3);
  }
  pid_t pid;
  int rc = posix_spawnp(&pid, "timeout", &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  cr_assert_eq(rc, 0, "spawn python3: %s", strerror(rc));
  close(fds[1]);
  *out = fds[0];
  return pid;
}

static void expect_line(int fd, const char *want)
{
  char line[256];
  sh_read_line(fd, line, sizeof line, 20000);
  cr_assert_str_eq(line, want);
}

/* A C Listener at `address` serves one Python client. */
static void c_serves_python(const char *address, const char *ckey, const char *pykey,
                            unsigned flags, bool ok)
{
  shoal_listener *l;
  shoal_conn_opts o = {.authkey = ckey, .authkey_len = ckey ? strlen(ckey) : 0, .flags = flags};
  SH_ASSERT_OK(shoal_listener_open(&l, address, &o));
  int out;
  pid_t pid = python(&out, -1, py_client, shoal_listener_address(l), pykey, NULL);
  shoal_conn *c;
  if (!ok) {
    SH_ASSERT_ERR(shoal_listener_accept(l, &c, SHOAL_SEC(20)), SHOAL_EAUTH);
    expect_line(out, "AuthenticationError");
  } else {
    SH_ASSERT_OK(shoal_listener_accept(l, &c, SHOAL_SEC(20)));
    void *m;
    size_t n;
    SH_ASSERT_OK(shoal_conn_recv_bytes(c, &m, &n, SHOAL_SEC(20)));
    cr_assert(n == 17 && memcmp(m, "hello from python", 17) == 0);
    free(m);
    SH_ASSERT_OK(shoal_conn_recv_bytes(c, &m, &n, SHOAL_SEC(20)));
    cr_assert_eq(n, 0);
    free(m);
    SH_ASSERT_OK(shoal_conn_recv_bytes(c, &m, &n, SHOAL_SEC(20)));
    cr_assert_eq(n, (size_t)1 << 20);
    for (size_t i = 0; i < n; i++)
      cr_assert_eq(((uint8_t *)m)[i], (uint8_t)i, "byte %zu", i);
    free(m);
    SH_ASSERT_OK(shoal_conn_send_bytes(c, "hello from C", 12, SHOAL_SEC(5)));
    expect_line(out, "hello from C");
    shoal_conn_close(c);
  }
  cr_assert_eq(sh_wait(pid, 20000), 0);
  close(out);
  shoal_listener_close(l);
}

SH_TEST(python, c_listener_python_client_tcp)
{
  c_serves_python("tcp://127.0.0.1:0", "secret", "secret", 0, true);
}

SH_TEST(python, c_listener_python_client_wrong_key)
{
  c_serves_python("tcp://127.0.0.1:0", "secret", "guess", 0, false);
}

SH_TEST(python, c_listener_python_client_unix_and_abstract)
{
  char path[128];
  snprintf(path, sizeof path, "/tmp/shoal-test-%d-py.sock", (int)getpid());
  c_serves_python(path, "", "", 0, true); /* the empty key is a key */
  snprintf(path, sizeof path, "@shoal-test-%d-py", (int)getpid());
  c_serves_python(path, "k", "k", 0, true);
  c_serves_python(path, NULL, "-", 0, true); /* no handshake at all */
}

SH_TEST(python, strict_listener_refuses_python_311_md5)
{
  c_serves_python("tcp://127.0.0.1:0", "secret", "secret", SHOAL_CONN_AUTH_NO_MD5, false);
}

/* A C Client talks to a Python Listener at `address`. */
static void python_serves_c(const char *address, const char *pykey, const char *ckey, bool ok)
{
  int out;
  pid_t pid = python(&out, -1, py_listener, address, pykey, NULL);
  char bound[256];
  sh_read_line(out, bound, sizeof bound, 20000);
  shoal_conn_opts o = {.authkey = ckey, .authkey_len = ckey ? strlen(ckey) : 0};
  shoal_conn *c;
  if (!ok) {
    SH_ASSERT_ERR(shoal_client(&c, bound, &o, SHOAL_SEC(20)), SHOAL_EAUTH);
    expect_line(out, "AuthenticationError");
  } else {
    SH_ASSERT_OK(shoal_client(&c, bound, &o, SHOAL_SEC(20)));
    SH_ASSERT_OK(shoal_conn_send_bytes(c, "shout this", 10, SHOAL_SEC(5)));
    char buf[32];
    size_t n;
    SH_ASSERT_OK(shoal_conn_recv_bytes_into(c, buf, sizeof buf, 0, &n, SHOAL_SEC(20)));
    cr_assert(n == 10 && memcmp(buf, "SHOUT THIS", 10) == 0);
    SH_ASSERT_OK(shoal_conn_send_bytes(c, NULL, 0, SHOAL_SEC(5)));
    expect_line(out, "served");
    SH_ASSERT_ERR(shoal_conn_recv_bytes_into(c, buf, sizeof buf, 0, &n, SHOAL_SEC(20)), SHOAL_EEOF);
    shoal_conn_close(c);
  }
  cr_assert_eq(sh_wait(pid, 20000), 0);
  close(out);
}

SH_TEST(python, python_listener_c_client_tcp)
{
  python_serves_c("tcp://127.0.0.1:0", "secret", "secret", true);
}

SH_TEST(python, python_listener_c_client_wrong_key)
{
  python_serves_c("tcp://127.0.0.1:0", "secret", "guess", false);
}

SH_TEST(python, python_listener_c_client_unix_and_abstract)
{
  char path[128];
  /* (Not the empty key: Python 3.11's Listener skips the handshake for
   * authkey=b'' while its Client does not, a CPython bug fixed in 3.12.) */
  snprintf(path, sizeof path, "/tmp/shoal-test-%d-pyl.sock", (int)getpid());
  python_serves_c(path, "unix key", "unix key", true);
  snprintf(path, sizeof path, "@shoal-test-%d-pyl", (int)getpid());
  python_serves_c(path, "k", "k", true);
  python_serves_c(path, "-", NULL, true);
}

/* fd 3 is one end of a shoal Pipe: echo one message, take a descriptor
 * with recv_handle and write "via fd" to it, pass stdin back with
 * send_handle, then echo until EOF and print "eof". */
static const char py_pipe[] =
    "import os, sys\n"
    "from multiprocessing.connection import Connection\n"
    "from multiprocessing.reduction import recv_handle, send_handle\n"
    "c = Connection(3)\n"
    "c.send_bytes(c.recv_bytes())\n"
    "fd = recv_handle(c)\n"
    "os.write(fd, b'via fd')\n"
    "os.close(fd)\n"
    "send_handle(c, 0, os.getppid())\n"
    "try:\n"
    "    while True:\n"
    "        c.send_bytes(c.recv_bytes())\n"
    "except EOFError:\n"
    "    print('eof', flush=True)\n";

SH_TEST(python, pipe_end_shared_with_python)
{
  shoal_conn *mine, *theirs;
  SH_ASSERT_OK(shoal_pipe(&mine, &theirs, 1, NULL));
  int hi = fcntl(shoal_conn_fileno(theirs), F_DUPFD_CLOEXEC, 10);
  int out;
  pid_t pid = python(&out, hi, py_pipe, NULL);
  close(hi);
  shoal_conn_close(theirs);
  SH_ASSERT_OK(shoal_conn_send_bytes(mine, "echo me", 7, SHOAL_SEC(5)));
  char buf[64];
  size_t n;
  SH_ASSERT_OK(shoal_conn_recv_bytes_into(mine, buf, sizeof buf, 0, &n, SHOAL_SEC(20)));
  cr_assert(n == 7 && memcmp(buf, "echo me", 7) == 0);
  int p[2];
  cr_assert_eq(pipe(p), 0);
  SH_ASSERT_OK(shoal_conn_send_fds(mine, &p[1], 1, SHOAL_SEC(5)));
  close(p[1]);
  cr_assert_eq(read(p[0], buf, sizeof buf), 6);
  cr_assert(memcmp(buf, "via fd", 6) == 0);
  close(p[0]);
  int fd;
  SH_ASSERT_OK(shoal_conn_recv_fds(mine, &fd, 1, &n, SHOAL_SEC(20)));
  cr_assert_eq(n, 1);
  cr_assert(fd >= 0);
  close(fd);
  /* Big and empty messages both ways. */
  size_t big = (size_t)3 << 20;
  uint8_t *m = malloc(big);
  for (size_t i = 0; i < big; i++)
    m[i] = (uint8_t)(i % 251);
  pid_t sender = fork();
  if (sender == 0)
    _exit(shoal_conn_send_bytes(mine, m, big, SHOAL_SEC(20)) ? 1 : 0);
  void *back;
  SH_ASSERT_OK(shoal_conn_recv_bytes(mine, &back, &n, SHOAL_SEC(20)));
  cr_assert(n == big && memcmp(back, m, big) == 0);
  free(back);
  free(m);
  cr_assert_eq(sh_wait(sender, 20000), 0);
  SH_ASSERT_OK(shoal_conn_send_bytes(mine, NULL, 0, SHOAL_SEC(5)));
  SH_ASSERT_OK(shoal_conn_recv_bytes(mine, &back, &n, SHOAL_SEC(20)));
  cr_assert_eq(n, 0);
  free(back);
  shoal_conn_close(mine);
  expect_line(out, "eof");
  cr_assert_eq(sh_wait(pid, 20000), 0);
  close(out);
}
