// SPDX-License-Identifier: MIT
// bench_conn: shoal's connections against their peers, in one run.
//
// Every case is two processes: the parent sends, the forked child receives
// (throughput, "tput": the parent's time from the first send until the
// child, having received every message, exited; per message) or echoes
// (round trip, "rtt": send one message, wait for its echo; per round trip).
// Messages are MSG bytes of payload (64 by default; one case with 64 KiB).
//
// Cases (one output row each) and peers:
//   pipe_tput / pipe_rtt        shoal_pipe(duplex)  vs a raw socketpair (read/write
//                               of fixed-size records, no framing), Python's
//                               multiprocessing Pipe (fork context; python3 on
//                               PATH, $PYTHON overrides), ZeroMQ PAIR over ipc://
//   simplex_tput                shoal_pipe(simplex) vs a raw pipe(2)
//   unix_tput / unix_rtt        shoal Listener/Client on an abstract Unix address
//                               vs a raw socketpair and ZeroMQ PAIR over ipc://
//   tcp_tput / tcp_rtt          shoal Listener/Client on 127.0.0.1 vs ZeroMQ PAIR
//                               over tcp:// (both with Nagle off)
//   pipe_tput msg=65536         big messages: shoal vs raw socketpair vs ZeroMQ ipc
//
// Each figure is the median of the rounds (3 by default), peers interleaved
// within a round.  Ratios are peer_time / shoal_time: above 1 means shoal is
// faster.  Compare ratios within one run, not absolute numbers across
// machines.  Python and the raw peers include no framing of their own beyond
// what they do (Python: the same 4-byte header).
//
// Usage: bench_conn [-r rounds] [-q]   (-q: counts / 10, a smoke run)
// Exit status: 0 when every measurement ran and every message arrived
// intact, 1 otherwise.
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <shoal.h>

#include "bench_common.h"

#define DEFAULT_ROUNDS 3
#define MAX_ROUNDS 21
#define BIG_MSG 65536

enum peer {
  P_SHOAL_PIPE,
  P_SHOAL_SIMPLEX,
  P_SHOAL_UNIX,
  P_SHOAL_TCP,
  P_RAW_SOCKETPAIR,
  P_RAW_PIPE,
  P_ZMQ_IPC,
  P_ZMQ_TCP,
  P_PY_PIPE,
};

static const char *const peer_label[] = {"shoal", "shoal", "shoal", "shoal", "socketpair",
                                         "pipe", "zmq_ipc", "zmq_tcp", "py_pipe"};

enum mode { TPUT, RTT };

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("bench_conn: FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stdout);
  exit(1);
}

/* ------------------------------------------------------- endpoints -- */

/* One side of a transport: a shoal connection, a raw descriptor (send and
 * receive may differ for a pipe), or a ZeroMQ socket. */
struct ep {
  shoal_conn *c;
  int rfd, wfd;
  void *zctx, *zsock;
};

static void ep_send(struct ep *e, const void *buf, size_t len)
{
  if (e->c) {
    int rc = shoal_conn_send_bytes(e->c, buf, len, SHOAL_FOREVER);
    if (rc)
      die("shoal send: %s", shoal_err_name(rc));
  } else if (e->zsock) {
    if (zmq_send(e->zsock, buf, len, 0) != (int)len)
      die("zmq_send: %s", zmq_strerror(errno));
  } else {
    for (size_t done = 0; done < len;) {
      ssize_t r = write(e->wfd, (const char *)buf + done, len - done);
      if (r <= 0)
        die("write: %s", strerror(errno));
      done += (size_t)r;
    }
  }
}

static void ep_recv(struct ep *e, void *buf, size_t len)
{
  if (e->c) {
    size_t n;
    int rc = shoal_conn_recv_bytes_into(e->c, buf, len, 0, &n, SHOAL_FOREVER);
    if (rc || n != len)
      die("shoal recv: %s (%zu bytes)", shoal_err_name(rc), n);
  } else if (e->zsock) {
    if (zmq_recv(e->zsock, buf, len, 0) != (int)len)
      die("zmq_recv: %s", zmq_strerror(errno));
  } else {
    for (size_t done = 0; done < len;) {
      ssize_t r = read(e->rfd, (char *)buf + done, len - done);
      if (r <= 0)
        die("read: %s", r ? strerror(errno) : "EOF");
      done += (size_t)r;
    }
  }
}

static void ep_close(struct ep *e)
{
  shoal_conn_close(e->c);
  if (e->zsock) {
    int zero = 0;
    zmq_setsockopt(e->zsock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(e->zsock);
    zmq_ctx_term(e->zctx);
  }
  if (e->rfd >= 0)
    close(e->rfd);
  if (e->wfd >= 0 && e->wfd != e->rfd)
    close(e->wfd);
}

static void zmq_ep(struct ep *e, const char *endpoint, bool bind)
{
  e->zctx = zmq_ctx_new();
  e->zsock = zmq_socket(e->zctx, ZMQ_PAIR);
  if (!e->zsock)
    die("zmq_socket: %s", zmq_strerror(errno));
  int rc = bind ? zmq_bind(e->zsock, endpoint) : zmq_connect(e->zsock, endpoint);
  if (rc)
    die("zmq %s %s: %s", bind ? "bind" : "connect", endpoint, zmq_strerror(errno));
}

/* ------------------------------------------------------------ runs -- */

/* Runs one measurement of `p` in `mode` with n messages of len bytes;
 * returns ns per message (tput) or per round trip (rtt). */
static double run(enum peer p, enum mode mode, size_t len, long n)
{
  struct ep parent = {.rfd = -1, .wfd = -1}, child = {.rfd = -1, .wfd = -1};
  shoal_listener *l = NULL;
  char endpoint[256] = "";
  int rc, ready[2], fds[2];
  if (pipe(ready))
    die("pipe");
  switch (p) {
  case P_SHOAL_PIPE:
  case P_SHOAL_SIMPLEX:
    /* Simplex: the child receives on a, the parent sends on b. */
    if ((rc = shoal_pipe(&child.c, &parent.c, p == P_SHOAL_PIPE, NULL)))
      die("shoal_pipe: %s", shoal_err_name(rc));
    break;
  case P_SHOAL_UNIX:
  case P_SHOAL_TCP:
    snprintf(endpoint, sizeof endpoint, "@shoal-bench-%d", (int)getpid());
    if ((rc = shoal_listener_open(&l, p == P_SHOAL_UNIX ? endpoint : "tcp://127.0.0.1:0", NULL)))
      die("shoal_listener_open: %s", shoal_err_name(rc));
    snprintf(endpoint, sizeof endpoint, "%s", shoal_listener_address(l));
    break;
  case P_RAW_SOCKETPAIR:
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds))
      die("socketpair");
    parent.rfd = parent.wfd = fds[0];
    child.rfd = child.wfd = fds[1];
    break;
  case P_RAW_PIPE:
    if (pipe(fds))
      die("pipe");
    child.rfd = fds[0];
    parent.wfd = fds[1];
    break;
  case P_ZMQ_IPC:
    snprintf(endpoint, sizeof endpoint, "ipc:///tmp/shoal-bench-%d.ipc", (int)getpid());
    break;
  case P_ZMQ_TCP:
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:*");
    break;
  case P_PY_PIPE:
    die("python is run by run_python");
  }
  char *buf = malloc(len);
  if (!buf)
    die("malloc");
  memset(buf, 'm', len);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    close(ready[0]);
    if (p == P_SHOAL_UNIX || p == P_SHOAL_TCP) {
      shoal_listener_close(l);
      if ((rc = shoal_client(&child.c, endpoint, NULL, SHOAL_SEC(10))))
        die("shoal_client: %s", shoal_err_name(rc));
    } else if (p == P_ZMQ_IPC || p == P_ZMQ_TCP) {
      zmq_ep(&child, endpoint, true);
      size_t el = sizeof endpoint;
      zmq_getsockopt(child.zsock, ZMQ_LAST_ENDPOINT, endpoint, &el);
    } else {
      if (parent.c)
        shoal_conn_close(parent.c);
      if (parent.wfd >= 0)
        close(parent.wfd);
    }
    /* Tell the parent we are ready (and, for ZeroMQ, where). */
    if (write(ready[1], endpoint, sizeof endpoint) != (ssize_t)sizeof endpoint)
      _exit(3);
    for (long i = 0; i < n; i++) {
      ep_recv(&child, buf, len);
      if (mode == RTT)
        ep_send(&child, buf, len);
    }
    if (mode == TPUT && buf[len - 1] != 'm')
      _exit(4);
    ep_close(&child);
    _exit(0);
  }
  close(ready[1]);
  if (child.c)
    shoal_conn_close(child.c);
  if (child.rfd >= 0 && child.rfd != parent.rfd)
    close(child.rfd);
  if (read(ready[0], endpoint, sizeof endpoint) != (ssize_t)sizeof endpoint)
    die("%s: the child did not start", peer_label[p]);
  close(ready[0]);
  if (p == P_SHOAL_UNIX || p == P_SHOAL_TCP) {
    if ((rc = shoal_listener_accept(l, &parent.c, SHOAL_SEC(10))))
      die("accept: %s", shoal_err_name(rc));
    shoal_listener_close(l);
  } else if (p == P_ZMQ_IPC || p == P_ZMQ_TCP) {
    zmq_ep(&parent, endpoint, false);
  }
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++) {
    ep_send(&parent, buf, len);
    if (mode == RTT)
      ep_recv(&parent, buf, len);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die("%s: child failed (status 0x%x)", peer_label[p], status);
  uint64_t t1 = bench_now_ns();
  ep_close(&parent);
  free(buf);
  return (double)(t1 - t0) / (double)n;
}

/* Python's Pipe, timed by Python itself; returns ns per message, or -1
 * when no python3 is there. */
static double run_python(enum mode mode, size_t len, long n)
{
  static const char script[] =
      "import sys, time, multiprocessing as mp\n"
      "def tput(c, n, m):\n"
      "    for _ in range(n): c.recv_bytes()\n"
      "def rtt(c, n, m):\n"
      "    for _ in range(n): c.send_bytes(c.recv_bytes())\n"
      "mode, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
      "ctx = mp.get_context('fork')\n"
      "a, b = ctx.Pipe()\n"
      "msg = b'm' * size\n"
      "p = ctx.Process(target=tput if mode == 'tput' else rtt, args=(b, n, msg))\n"
      "p.start()\n"
      "b.close()\n"
      "t = time.perf_counter()\n"
      "if mode == 'tput':\n"
      "    for _ in range(n): a.send_bytes(msg)\n"
      "else:\n"
      "    for _ in range(n):\n"
      "        a.send_bytes(msg)\n"
      "        assert len(a.recv_bytes()) == size\n"
      "p.join()\n"
      "assert p.exitcode == 0\n"
      "print(int((time.perf_counter() - t) * 1e9 / n))\n";
  const char *py = getenv("PYTHON") ? getenv("PYTHON") : "python3";
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s -c \"%s\" %s %ld %zu 2>/dev/null", py, script,
           mode == TPUT ? "tput" : "rtt", n, len);
  FILE *f = popen(cmd, "r");
  if (!f)
    return -1;
  double ns = -1;
  if (fscanf(f, "%lf", &ns) != 1)
    ns = -1;
  return pclose(f) == 0 ? ns : -1;
}

static void fmt_ns(char *out, size_t cap, double ns)
{
  if (ns >= 10000)
    snprintf(out, cap, "%.1f us", ns / 1000);
  else
    snprintf(out, cap, "%.0f ns", ns);
}

/* One output row: the case, shoal first, then each peer with its ratio. */
static void row(const char *name, size_t len, enum mode mode, long n, int rounds,
                const enum peer *peers, int np, bool python, long py_n)
{
  double t[8][MAX_ROUNDS], py[MAX_ROUNDS];
  int py_ok = python;
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < np; k++) {
      int i = (k + r) % np; /* rotate the order between rounds */
      t[i][r] = run(peers[i], mode, len, n);
    }
    if (py_ok && (py[r] = run_python(mode, len, py_n)) < 0)
      py_ok = 0;
  }
  double med[8];
  for (int i = 0; i < np; i++)
    med[i] = bench_median(t[i], rounds);
  char s[32];
  fmt_ns(s, sizeof s, med[0]);
  printf("%-14s msg=%-6zu %-4s shoal=%s", name, len, mode == TPUT ? "/msg" : "/rt", s);
  for (int i = 1; i < np; i++) {
    fmt_ns(s, sizeof s, med[i]);
    printf("  %s=%s (%.2fx)", peer_label[peers[i]], s, med[i] / med[0]);
  }
  if (python) {
    if (py_ok) {
      double pm = bench_median(py, rounds);
      fmt_ns(s, sizeof s, pm);
      printf("  py_pipe=%s (%.2fx)", s, pm / med[0]);
    } else {
      printf("  py_pipe=n/a");
    }
  }
  printf("\n");
  fflush(stdout);
}

int main(int argc, char **argv)
{
  int rounds = DEFAULT_ROUNDS;
  long scale = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
      rounds = atoi(argv[++i]);
    else if (strcmp(argv[i], "-q") == 0)
      scale = 10;
    else
      die("usage: bench_conn [-r rounds] [-q]");
  }
  if (rounds < 1 || rounds > MAX_ROUNDS)
    die("rounds must be 1..%d", MAX_ROUNDS);
  signal(SIGPIPE, SIG_IGN);
  long tput_n = 200000 / scale, rtt_n = 40000 / scale, big_n = 20000 / scale;
  long py_tput = 50000 / scale, py_rtt = 10000 / scale;
  printf("# bench_conn: %d rounds, median; ratio = peer / shoal (> 1: shoal faster)\n", rounds);

  const enum peer pipe_peers[] = {P_SHOAL_PIPE, P_RAW_SOCKETPAIR, P_ZMQ_IPC};
  row("pipe_tput", 64, TPUT, tput_n, rounds, pipe_peers, 3, true, py_tput);
  row("pipe_rtt", 64, RTT, rtt_n, rounds, pipe_peers, 3, true, py_rtt);
  const enum peer simplex_peers[] = {P_SHOAL_SIMPLEX, P_RAW_PIPE};
  row("simplex_tput", 64, TPUT, tput_n, rounds, simplex_peers, 2, false, 0);
  const enum peer unix_peers[] = {P_SHOAL_UNIX, P_RAW_SOCKETPAIR, P_ZMQ_IPC};
  row("unix_tput", 64, TPUT, tput_n, rounds, unix_peers, 3, false, 0);
  row("unix_rtt", 64, RTT, rtt_n, rounds, unix_peers, 3, false, 0);
  const enum peer tcp_peers[] = {P_SHOAL_TCP, P_ZMQ_TCP};
  row("tcp_tput", 64, TPUT, tput_n, rounds, tcp_peers, 2, false, 0);
  row("tcp_rtt", 64, RTT, rtt_n, rounds, tcp_peers, 2, false, 0);
  row("pipe_tput", BIG_MSG, TPUT, big_n, rounds, pipe_peers, 3, true, big_n / 4);
  return 0;
}
