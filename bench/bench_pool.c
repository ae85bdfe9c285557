// SPDX-License-Identifier: MIT
// bench_pool: dispatch rates of shoal's process pool against Python's
// multiprocessing.Pool and ProcessPoolExecutor and a hand-written fork+pipe
// worker farm, in one run, every pool with 2 worker processes (fork).
//
// Cases (one output row each):
//   map_cs1      map of a trivial task (8 bytes in, the same 8 bytes out)
//                with chunksize 1: tasks per second, and the overhead per
//                task (1 / rate: the tasks do nothing)
//                peers: Python Pool.map(f, range(n), chunksize=1), f = lambda x: x;
//                the C farm sending one task per message
//   map_cs1000   the same with chunksize 1000
//   submit       n x submit, then result() of each, in order
//                peers: ProcessPoolExecutor.submit + result; the C farm with
//                one task per message (it has no futures)
//   cpu_speedup  40 CPU-bound tasks (~10 ms each): serial time / pool time,
//                for shoal's map, Python's Pool.map (its own serial loop is
//                the reference) and the C farm
//
// Each measurement is repeated (3 rounds by default) with the peers rotated
// and the median printed.  Ratios are shoal_rate / peer_rate: above 1 means
// shoal is faster.  Python (python3 on PATH, $PYTHON overrides) rows say n/a
// when there is no python3.
//
// Usage: bench_pool [-r rounds] [-q]   (-q: counts / 10, a smoke run)
// Exit status: 0 when every measurement ran and gave right results (goal
// MISSes do not fail the run), 1 otherwise.
#include <errno.h>
#include <poll.h>
#include <signal.h>
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

#define WORKERS 2
#define MAX_ROUNDS 21

/* Counts per round. */
static long n_cs1 = 400000, n_cs1000 = 4000000, n_submit = 200000;
static long py_cs1 = 30000, py_cs1000 = 2000000, py_submit = 10000;
#define CPU_TASKS 40
#define CPU_ITERS 4000000L /* about 10 ms of xorshift on this machine */

/* Goals from the issue. */
#define GOAL_CS1 50.0
#define GOAL_CS1000 5.0
#define GOAL_SUBMIT 50.0

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("bench_pool: FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* ---- tasks ---- */

static int echo(const void *arg, size_t len, shoal_task_out *out)
{
  return shoal_task_return(out, arg, len);
}

static uint64_t cpu_work(uint64_t seed, long iters)
{
  uint64_t x = seed | 1;
  for (long i = 0; i < iters; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

static int cpu_task(const void *arg, size_t len, shoal_task_out *out)
{
  (void)len;
  uint64_t r = cpu_work(*(const uint64_t *)arg, CPU_ITERS);
  return shoal_task_return(out, &r, sizeof r);
}

/* ---- shoal ---- */

static shoal_pool *pool;

static double shoal_map(long n, size_t chunksize)
{
  long *xs = malloc((size_t)n * sizeof *xs);
  for (long i = 0; i < n; i++)
    xs[i] = i;
  shoal_future *f;
  double t0 = bench_now_s();
  int rc = shoal_pool_map(pool, echo, SHOAL_ITEMS_ARRAY(xs, sizeof *xs, (size_t)n),
                          &(shoal_map_opts){.chunksize = chunksize}, &f, SHOAL_FOREVER);
  double dt = bench_now_s() - t0;
  if (rc)
    die("shoal map: %s", shoal_err_name(rc));
  for (long i = 0; i < n; i += 997) {
    const void *b;
    if (shoal_future_item(f, (size_t)i, &b, NULL) || *(const long *)b != i)
      die("shoal map: wrong result at %ld", i);
  }
  shoal_future_destroy(f);
  free(xs);
  return n / dt;
}

static double shoal_submit(long n)
{
  shoal_future **fs = malloc((size_t)n * sizeof *fs);
  double t0 = bench_now_s();
  for (long i = 0; i < n; i++)
    if (shoal_pool_submit(pool, echo, &i, sizeof i, &fs[i]))
      die("shoal submit");
  for (long i = 0; i < n; i++) {
    const void *b;
    if (shoal_future_result(fs[i], &b, NULL, SHOAL_FOREVER) || *(const long *)b != i)
      die("shoal submit: wrong result at %ld", i);
  }
  double dt = bench_now_s() - t0;
  for (long i = 0; i < n; i++)
    shoal_future_destroy(fs[i]);
  free(fs);
  return n / dt;
}

static double serial_cpu(void)
{
  double t0 = bench_now_s();
  volatile uint64_t sink = 0;
  for (uint64_t i = 0; i < CPU_TASKS; i++)
    sink += cpu_work(i, CPU_ITERS);
  (void)sink;
  return bench_now_s() - t0;
}

static double shoal_cpu(void)
{
  uint64_t seeds[CPU_TASKS];
  for (uint64_t i = 0; i < CPU_TASKS; i++)
    seeds[i] = i;
  shoal_future *f;
  double t0 = bench_now_s();
  int rc = shoal_pool_map(pool, cpu_task, SHOAL_ITEMS_ARRAY(seeds, sizeof *seeds, CPU_TASKS),
                          &(shoal_map_opts){.chunksize = 1}, &f, SHOAL_FOREVER);
  double dt = bench_now_s() - t0;
  if (rc)
    die("shoal cpu map: %s", shoal_err_name(rc));
  shoal_future_destroy(f);
  return dt;
}

/* ---- the hand-written fork+pipe farm ---- */

static bool read_full(int fd, void *buf, size_t len)
{
  char *p = buf;
  while (len) {
    ssize_t r = read(fd, p, len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    p += r;
    len -= (size_t)r;
  }
  return true;
}

static bool write_full(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len) {
    ssize_t r = write(fd, p, len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    p += r;
    len -= (size_t)r;
  }
  return true;
}

/* A worker: reads [count][count x 8 bytes], answers [count][count x 8 bytes]
 * (echo, or the CPU work), until count 0. */
static void farm_worker(int in, int out, bool cpu)
{
  static long buf[1 + 4096];
  for (;;) {
    long count;
    if (!read_full(in, &count, sizeof count) || count <= 0)
      _exit(0);
    if (!read_full(in, buf + 1, (size_t)count * sizeof(long)))
      _exit(1);
    if (cpu)
      for (long i = 0; i < count; i++)
        buf[1 + i] = (long)cpu_work((uint64_t)buf[1 + i], CPU_ITERS);
    buf[0] = count;
    if (!write_full(out, buf, (size_t)(count + 1) * sizeof(long)))
      _exit(1);
  }
}

/* Runs n items through WORKERS forked workers in chunks, at most 2 chunks in
 * flight per worker; returns the seconds taken (workers started outside it). */
static double farm(long n, long chunk, bool cpu)
{
  int to[WORKERS][2], from[WORKERS][2];
  pid_t pids[WORKERS];
  for (int w = 0; w < WORKERS; w++) {
    if (pipe(to[w]) || pipe(from[w]))
      die("pipe");
    if ((pids[w] = fork()) == 0) {
      for (int k = 0; k <= w; k++) {
        close(to[k][1]);
        close(from[k][0]);
      }
      farm_worker(to[w][0], from[w][1], cpu);
    }
    close(to[w][0]);
    close(from[w][1]);
  }
  long *buf = malloc((size_t)(chunk + 1) * sizeof *buf);
  long next = 0, got = 0, inflight[WORKERS] = {0};
  double t0 = bench_now_s();
  while (got < n) {
    for (int w = 0; w < WORKERS; w++) {
      while (inflight[w] < 2 && next < n) {
        long count = n - next < chunk ? n - next : chunk;
        buf[0] = count;
        for (long i = 0; i < count; i++)
          buf[1 + i] = next + i;
        if (!write_full(to[w][1], buf, (size_t)(count + 1) * sizeof(long)))
          die("farm write");
        next += count;
        inflight[w]++;
      }
    }
    struct pollfd pf[WORKERS];
    for (int w = 0; w < WORKERS; w++)
      pf[w] = (struct pollfd){.fd = from[w][0], .events = POLLIN};
    if (poll(pf, WORKERS, -1) < 0)
      die("poll");
    for (int w = 0; w < WORKERS; w++) {
      if (!pf[w].revents)
        continue;
      long count;
      if (!read_full(from[w][0], &count, sizeof count) ||
          !read_full(from[w][0], buf + 1, (size_t)count * sizeof(long)))
        die("farm read");
      got += count;
      inflight[w]--;
    }
  }
  double dt = bench_now_s() - t0;
  for (int w = 0; w < WORKERS; w++) {
    long zero = 0;
    write_full(to[w][1], &zero, sizeof zero);
    close(to[w][1]);
    close(from[w][0]);
    waitpid(pids[w], NULL, 0);
  }
  free(buf);
  return dt;
}

/* ---- python ---- */

static char py_path[64];

static const char py_script[] =
    "import sys, time, multiprocessing as mp\n"
    "from concurrent.futures import ProcessPoolExecutor\n"
    "def f(x):\n"
    "    return x\n"
    "def cpu(seed):\n"
    "    x = seed | 1\n"
    "    for _ in range(ITERS):\n"
    "        x ^= (x << 13) & 0xffffffffffffffff\n"
    "        x ^= x >> 7\n"
    "        x ^= (x << 17) & 0xffffffffffffffff\n"
    "    return x\n"
    "if __name__ == '__main__':\n"
    "    mode, n = sys.argv[1], int(sys.argv[2])\n"
    "    ctx = mp.get_context('fork')\n"
    "    if mode in ('map1', 'map1000'):\n"
    "        with ctx.Pool(2) as p:\n"
    "            p.map(f, range(100))\n"
    "            t = time.perf_counter()\n"
    "            r = p.map(f, range(n), chunksize=1 if mode == 'map1' else 1000)\n"
    "            dt = time.perf_counter() - t\n"
    "        assert r[-1] == n - 1\n"
    "        print(n / dt)\n"
    "    elif mode == 'submit':\n"
    "        with ProcessPoolExecutor(2, mp_context=ctx) as ex:\n"
    "            list(ex.map(f, range(10)))\n"
    "            t = time.perf_counter()\n"
    "            fs = [ex.submit(f, i) for i in range(n)]\n"
    "            r = [x.result() for x in fs]\n"
    "            dt = time.perf_counter() - t\n"
    "        assert r[-1] == n - 1\n"
    "        print(n / dt)\n"
    "    else:\n"
    "        t = time.perf_counter()\n"
    "        for i in range(n):\n"
    "            cpu(i)\n"
    "        serial = time.perf_counter() - t\n"
    "        with ctx.Pool(2) as p:\n"
    "            t = time.perf_counter()\n"
    "            p.map(cpu, range(n), chunksize=1)\n"
    "            par = time.perf_counter() - t\n"
    "        print(serial / par)\n";

static bool have_python(void)
{
  char cmd[256];
  snprintf(cmd, sizeof cmd, "%s -c 'import multiprocessing' >/dev/null 2>&1", bench_python());
  return system(cmd) == 0;
}

/* Runs the script in `mode` with n; returns what it printed. */
static double python(const char *mode, long n)
{
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s %s %s %ld", bench_python(), py_path, mode, n);
  FILE *p = popen(cmd, "r");
  if (!p)
    die("popen %s", cmd);
  double v = -1;
  if (fscanf(p, "%lf", &v) != 1)
    v = -1;
  int st = pclose(p);
  if (st != 0 || v <= 0)
    die("python %s failed (status 0x%x)", mode, st);
  return v;
}

/* ---- the run ---- */

enum { C_CS1, C_CS1000, C_SUBMIT, C_CPU, NCASES };
enum { P_SHOAL, P_PY, P_FARM, NPEERS };

static void peer(const char *name, double shoal, double v)
{
  if (v <= 0) {
    printf("  %s=n/a", name);
    return;
  }
  double ratio = shoal / v;
  printf(ratio < 10 ? "  %s=%.0f/s (%.2fx)" : "  %s=%.0f/s (%.1fx)", name, v, ratio);
}

int main(int argc, char **argv)
{
  int rounds = 3, opt;
  bool quick = false;
  while ((opt = getopt(argc, argv, "r:q")) != -1) {
    if (opt == 'r')
      rounds = atoi(optarg);
    else if (opt == 'q')
      quick = true;
    else
      rounds = 0;
  }
  if (rounds < 1 || rounds > MAX_ROUNDS) {
    fprintf(stderr, "usage: %s [-r rounds (1..%d)] [-q]\n", argv[0], MAX_ROUNDS);
    return 2;
  }
  if (quick) {
    n_cs1 /= 10, n_cs1000 /= 10, n_submit /= 10;
    py_cs1 /= 10, py_cs1000 /= 10, py_submit /= 10;
  }
  snprintf(py_path, sizeof py_path, "/tmp/shoal-bench-pool-%d.py", (int)getpid());
  FILE *fp = fopen(py_path, "w");
  if (!fp)
    die("cannot write %s", py_path);
  char iters[32];
  snprintf(iters, sizeof iters, "%ld", CPU_ITERS / 20); /* Python's loop is ~20x slower */
  for (const char *s = py_script; *s; s++) {
    if (!strncmp(s, "ITERS", 5)) {
      fputs(iters, fp);
      s += 4;
    } else {
      fputc(*s, fp);
    }
  }
  fclose(fp);
  bool py = have_python();
  shoal_process_set_reporting(0);
  if (shoal_pool_create(&pool, WORKERS, NULL))
    die("shoal_pool_create");

  printf("# bench_pool: %d worker processes (fork) in every pool; %d CPUs usable\n", WORKERS,
         shoal_cpu_count());
  printf("# tasks per round: map_cs1 %ld (python %ld), map_cs1000 %ld (python %ld), submit %ld "
         "(python %ld); cpu %d tasks\n",
         n_cs1, py_cs1, n_cs1000, py_cs1000, n_submit, py_submit, CPU_TASKS);
  printf("# each figure: median of %d rounds; ratio = shoal_rate / peer_rate (above 1: shoal "
         "faster)\n",
         rounds);
  double v[NCASES][NPEERS][MAX_ROUNDS];
  double serial[MAX_ROUNDS];
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < NPEERS; k++) {
      int p = (k + r) % NPEERS;
      switch (p) {
      case P_SHOAL:
        v[C_CS1][p][r] = shoal_map(n_cs1, 1);
        v[C_CS1000][p][r] = shoal_map(n_cs1000, 1000);
        v[C_SUBMIT][p][r] = shoal_submit(n_submit);
        serial[r] = serial_cpu();
        v[C_CPU][p][r] = serial[r] / shoal_cpu();
        break;
      case P_PY:
        v[C_CS1][p][r] = py ? python("map1", py_cs1) : -1;
        v[C_CS1000][p][r] = py ? python("map1000", py_cs1000) : -1;
        v[C_SUBMIT][p][r] = py ? python("submit", py_submit) : -1;
        v[C_CPU][p][r] = py ? python("cpu", CPU_TASKS) : -1;
        break;
      case P_FARM:
        v[C_CS1][p][r] = n_cs1 / farm(n_cs1, 1, false);
        v[C_CS1000][p][r] = n_cs1000 / farm(n_cs1000, 1000, false);
        v[C_SUBMIT][p][r] = n_submit / farm(n_submit, 1, false);
        break;
      }
    }
    /* The farm's speed-up against this round's serial time. */
    v[C_CPU][P_FARM][r] = serial[r] / farm(CPU_TASKS, 1, true);
  }
  double m[NCASES][NPEERS];
  for (int c = 0; c < NCASES; c++)
    for (int p = 0; p < NPEERS; p++)
      m[c][p] = bench_median(v[c][p], rounds);
  const char *names[] = {"map_cs1", "map_cs1000", "submit"};
  const char *pynames[] = {"py_pool", "py_pool", "py_executor"};
  for (int c = 0; c < C_CPU; c++) {
    printf("%-12s shoal=%.0f/s (%.0f ns/task)", names[c], m[c][P_SHOAL], 1e9 / m[c][P_SHOAL]);
    peer(pynames[c], m[c][P_SHOAL], m[c][P_PY]);
    peer("c_farm", m[c][P_SHOAL], m[c][P_FARM]);
    printf("\n");
  }
  printf("%-12s shoal=%.2fx", "cpu_speedup", m[C_CPU][P_SHOAL]);
  if (m[C_CPU][P_PY] > 0)
    printf("  py_pool=%.2fx", m[C_CPU][P_PY]);
  else
    printf("  py_pool=n/a");
  printf("  c_farm=%.2fx  (serial time / pool time, %d workers)\n", m[C_CPU][P_FARM], WORKERS);
  if (py) {
    double g1 = m[C_CS1][P_SHOAL] / m[C_CS1][P_PY], g2 = m[C_CS1000][P_SHOAL] / m[C_CS1000][P_PY],
           g3 = m[C_SUBMIT][P_SHOAL] / m[C_SUBMIT][P_PY];
    printf("goal map_cs1:    shoal >= %.0f x py_pool:     %.1f  %s\n", GOAL_CS1, g1,
           g1 >= GOAL_CS1 ? "PASS" : "MISS");
    printf("goal map_cs1000: shoal >= %.0f x py_pool:      %.1f  %s\n", GOAL_CS1000, g2,
           g2 >= GOAL_CS1000 ? "PASS" : "MISS");
    printf("goal submit:     shoal >= %.0f x py_executor: %.1f  %s\n", GOAL_SUBMIT, g3,
           g3 >= GOAL_SUBMIT ? "PASS" : "MISS");
  }
  shoal_pool_destroy(pool);
  unlink(py_path);
  return 0;
}
