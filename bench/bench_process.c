// SPDX-License-Identifier: MIT
// bench_process: start+join rates of shoal processes (fork and spawn) and
// threads against their peers, in one run.
//
// Cases (one output row each; figures are start+join per second):
//   process_fork   shoal_process_create+start+join+destroy, fork method, a
//                  target that returns 0
//                  peers: raw fork()+_exit(0)+waitpid(); Python
//                  multiprocessing Process(target=f).start()/join(), fork context
//   process_spawn  the same with the spawn method (fork+exec of this program,
//                  entering a SHOAL_ENTRY target)
//                  peers: posix_spawn() of this program, which exits at once;
//                  Python Process start/join, spawn context
//   thread         shoal_thread_create+start+join+destroy of an empty target
//                  peer: pthread_create+pthread_join
//
// Each measurement is repeated (5 rounds by default), rounds interleave the
// peers in a rotated order, and the median is printed.  Ratios are
// peer_time / shoal_time, i.e. shoal_rate / peer_rate: above 1 means shoal is
// faster.  Python (python3 on PATH, $PYTHON overrides) runs once per round
// with fewer starts; its rows say n/a when there is no python3.
//
// Usage: bench_process [-r rounds] [-q]   (-q: counts / 5, a smoke run)
// Exit status: 0 when every measurement ran and every child exited 0 (goal
// MISSes do not fail the run), 1 otherwise.
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shoal.h>

#include "bench_common.h"

#define DEFAULT_ROUNDS 5
#define MAX_ROUNDS 51
#define FORK_N 300
#define SPAWN_N 150
#define THREAD_N 5000
#define PY_FORK_N 100
#define PY_SPAWN_N 10

/* Goals from the issue. */
#define GOAL_FORK 0.9    /* shoal fork rate >= 0.9 x raw fork */
#define GOAL_SPAWN 10.0  /* shoal spawn rate >= 10 x Python spawn */
#define GOAL_THREAD 0.9  /* shoal thread rate >= 0.9 x pthread */

extern char **environ;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("bench_process: FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static int nothing(void *args, size_t len)
{
  (void)args;
  (void)len;
  return 0;
}
SHOAL_ENTRY(nothing)

static void empty_thread(void *arg)
{
  (void)arg;
}

static void *empty_pthread(void *arg)
{
  return arg;
}

/* Each returns ns per start+join. */
static double shoal_procs(int method, int n)
{
  shoal_process_opts o = {.start_method = method};
  uint64_t t0 = bench_now_ns();
  for (int i = 0; i < n; i++) {
    shoal_process *p;
    int rc, code = -1;
    if ((rc = shoal_process_create(&p, nothing, NULL, 0, &o)) != 0 ||
        (rc = shoal_process_start(p)) != 0 || (rc = shoal_process_join(p, SHOAL_FOREVER)) != 0)
      die("shoal process: %s", shoal_err_name(rc));
    if (shoal_process_exitcode(p, &code) != 1 || code != 0)
      die("shoal child exited with %d", code);
    shoal_process_destroy(p);
  }
  return (double)(bench_now_ns() - t0) / n;
}

static double raw_fork(int n)
{
  uint64_t t0 = bench_now_ns();
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0)
      die("fork: %s", strerror(errno));
    if (pid == 0)
      _exit(0);
    int st;
    while (waitpid(pid, &st, 0) < 0)
      if (errno != EINTR)
        die("waitpid: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      die("forked child failed: 0x%x", st);
  }
  return (double)(bench_now_ns() - t0) / n;
}

static double raw_posix_spawn(int n)
{
  char *argv[] = {"bench_process", "--exit", NULL};
  uint64_t t0 = bench_now_ns();
  for (int i = 0; i < n; i++) {
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ);
    if (rc != 0)
      die("posix_spawn: %s", strerror(rc));
    int st;
    while (waitpid(pid, &st, 0) < 0)
      if (errno != EINTR)
        die("waitpid: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      die("spawned child failed: 0x%x", st);
  }
  return (double)(bench_now_ns() - t0) / n;
}

static double shoal_threads(int n)
{
  uint64_t t0 = bench_now_ns();
  for (int i = 0; i < n; i++) {
    shoal_thread *t;
    int rc;
    if ((rc = shoal_thread_create(&t, empty_thread, NULL, NULL)) != 0 ||
        (rc = shoal_thread_start(t)) != 0 || (rc = shoal_thread_join(t, SHOAL_FOREVER)) != 0)
      die("shoal thread: %s", shoal_err_name(rc));
    shoal_thread_destroy(t);
  }
  return (double)(bench_now_ns() - t0) / n;
}

static double raw_pthreads(int n)
{
  uint64_t t0 = bench_now_ns();
  for (int i = 0; i < n; i++) {
    pthread_t t;
    int rc = pthread_create(&t, NULL, empty_pthread, NULL);
    if (rc != 0)
      die("pthread_create: %s", strerror(rc));
    pthread_join(t, NULL);
  }
  return (double)(bench_now_ns() - t0) / n;
}

/* ------------------------------------------------------------ python -- */

static const char py_script[] =
    "import multiprocessing as mp, sys, time\n"
    "def f():\n"
    "    pass\n"
    "if __name__ == '__main__':\n"
    "    ctx = mp.get_context(sys.argv[1])\n"
    "    n = int(sys.argv[2])\n"
    "    p = ctx.Process(target=f); p.start(); p.join()  # warm-up\n"
    "    t0 = time.monotonic_ns()\n"
    "    for _ in range(n):\n"
    "        p = ctx.Process(target=f)\n"
    "        p.start()\n"
    "        p.join()\n"
    "        if p.exitcode != 0:\n"
    "            sys.exit('child exited with %r' % p.exitcode)\n"
    "    print((time.monotonic_ns() - t0) / n)\n";

static char py_path[64];

/* Returns ns per start+join, or -1 when there is no python. */
static double python_procs(const char *method, int n)
{
  char count[16], buf[256];
  snprintf(count, sizeof count, "%d", n);
  char *argv[] = {(char *)bench_python(), (char *)py_path, (char *)method, count, NULL};
  int st = bench_run_capture(argv, buf, sizeof buf);
  if (st < 0)
    die("cannot run %s: %s", bench_python(), strerror(errno));
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
    return -1;
  double ns;
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || sscanf(buf, "%lf", &ns) != 1)
    die("python %s benchmark failed (status 0x%x): %s", method, st, buf);
  return ns;
}

/* ------------------------------------------------------------ report -- */

static void print_peer(const char *name, double peer_ns, double shoal_ns)
{
  if (peer_ns < 0) {
    printf("  %s=n/a", name);
    return;
  }
  double ratio = peer_ns / shoal_ns;
  printf(ratio < 10 ? "  %s=%.0f/s (%.2fx)" : "  %s=%.0f/s (%.1fx)", name, 1e9 / peer_ns, ratio);
}

enum { C_SHOAL_FORK, C_FORK, C_PY_FORK, C_SHOAL_SPAWN, C_POSIX_SPAWN, C_PY_SPAWN, C_SHOAL_THREAD,
       C_PTHREAD, C_N };

int main(int argc, char **argv)
{
  shoal_spawn_main();
  if (argc == 2 && !strcmp(argv[1], "--exit"))
    return 0; /* the posix_spawn peer's child */
  int rounds = DEFAULT_ROUNDS, scale = 1, opt;
  while ((opt = getopt(argc, argv, "r:q")) != -1) {
    if (opt == 'r' && (rounds = atoi(optarg)) >= 1 && rounds <= MAX_ROUNDS)
      continue;
    if (opt == 'q') {
      scale = 5;
      continue;
    }
    fprintf(stderr, "usage: %s [-r rounds (1..%d)] [-q]\n", argv[0], MAX_ROUNDS);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  snprintf(py_path, sizeof py_path, "/tmp/shoal-bench-process-%d.py", (int)getpid());
  FILE *f = fopen(py_path, "w");
  if (!f || fputs(py_script, f) < 0 || fclose(f) != 0)
    die("cannot write %s", py_path);

  int n[C_N] = {FORK_N / scale, FORK_N / scale, PY_FORK_N / scale, SPAWN_N / scale,
                SPAWN_N / scale, PY_SPAWN_N / scale + 1, THREAD_N / scale, THREAD_N / scale};
  printf("# bench_process: start+join per second, %d CPUs usable (shoal_cpu_count)\n",
         shoal_cpu_count());
  printf("# counts per round: fork %d, spawn %d, threads %d; python fork %d, spawn %d\n",
         n[C_FORK], n[C_POSIX_SPAWN], n[C_PTHREAD], n[C_PY_FORK], n[C_PY_SPAWN]);
  printf("# each figure: median of %d interleaved rounds; ratio = peer_time / shoal_time "
         "(>1 means shoal is faster)\n",
         rounds);

  /* Warm-up, not recorded. */
  shoal_procs(SHOAL_START_FORK, 10);
  shoal_procs(SHOAL_START_SPAWN, 5);
  shoal_threads(100);
  raw_pthreads(100);

  double v[C_N][MAX_ROUNDS];
  bool have_py = true;
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < C_N; k++) {
      int c = (k + r) % C_N;
      switch (c) {
      case C_SHOAL_FORK:
        v[c][r] = shoal_procs(SHOAL_START_FORK, n[c]);
        break;
      case C_FORK:
        v[c][r] = raw_fork(n[c]);
        break;
      case C_SHOAL_SPAWN:
        v[c][r] = shoal_procs(SHOAL_START_SPAWN, n[c]);
        break;
      case C_POSIX_SPAWN:
        v[c][r] = raw_posix_spawn(n[c]);
        break;
      case C_SHOAL_THREAD:
        v[c][r] = shoal_threads(n[c]);
        break;
      case C_PTHREAD:
        v[c][r] = raw_pthreads(n[c]);
        break;
      case C_PY_FORK:
      case C_PY_SPAWN:
        v[c][r] = have_py ? python_procs(c == C_PY_FORK ? "fork" : "spawn", n[c]) : -1;
        if (v[c][r] < 0)
          have_py = false;
        break;
      }
    }
  }
  unlink(py_path);

  double m[C_N];
  for (int c = 0; c < C_N; c++)
    m[c] = have_py || (c != C_PY_FORK && c != C_PY_SPAWN) ? bench_median(v[c], rounds) : -1;
  if (!have_py)
    printf("# python: %s not found, skipped\n", bench_python());

  printf("%-14s shoal=%.0f/s", "process_fork", 1e9 / m[C_SHOAL_FORK]);
  print_peer("raw_fork", m[C_FORK], m[C_SHOAL_FORK]);
  print_peer("py_fork", m[C_PY_FORK], m[C_SHOAL_FORK]);
  printf("\n%-14s shoal=%.0f/s", "process_spawn", 1e9 / m[C_SHOAL_SPAWN]);
  print_peer("posix_spawn", m[C_POSIX_SPAWN], m[C_SHOAL_SPAWN]);
  print_peer("py_spawn", m[C_PY_SPAWN], m[C_SHOAL_SPAWN]);
  printf("\n%-14s shoal=%.0f/s", "thread", 1e9 / m[C_SHOAL_THREAD]);
  print_peer("pthread", m[C_PTHREAD], m[C_SHOAL_THREAD]);
  printf("\n");

  double g = m[C_FORK] / m[C_SHOAL_FORK];
  printf("goal process_fork:  shoal >= %.1f x raw_fork:  shoal/raw_fork = %.2f  %s\n", GOAL_FORK,
         g, g >= GOAL_FORK ? "PASS" : "MISS");
  if (have_py) {
    g = m[C_PY_SPAWN] / m[C_SHOAL_SPAWN];
    printf("goal process_spawn: shoal >= %.0f x py_spawn: shoal/py_spawn = %.1f  %s\n", GOAL_SPAWN,
           g, g >= GOAL_SPAWN ? "PASS" : "MISS");
  }
  g = m[C_PTHREAD] / m[C_SHOAL_THREAD];
  printf("goal thread:        shoal >= %.1f x pthread:   shoal/pthread = %.2f  %s\n", GOAL_THREAD,
         g, g >= GOAL_THREAD ? "PASS" : "MISS");
  return 0;
}
