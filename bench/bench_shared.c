// SPDX-License-Identifier: MIT
// bench_shared: the shared dict and the atomic Value against their peers, in
// one run.
//
// Cases (one output row each; the figure is wall time / operations, in ns):
//   dict_set procs=1     one process, sets of 16-byte keys (10,000 distinct)
//                        with 32-byte values
//   dict_get procs=1     one process, gets of those keys
//   dict_get procs=4     four processes, gets only: readers side by side
//   dict_mixed procs=4   four processes, 90% gets and 10% sets
//   value_add procs=1    one process adding 1 to a shared 'i' Value
//   value_add procs=2    two processes adding to the same Value; the final
//                        value is checked
// Peers:
//   dict:  shoal       shoal_dict (lock-free readers, robust writer lock)
//          mutex_map   a fixed-slot open-addressing hash map in MAP_SHARED
//                      memory under one PTHREAD_PROCESS_SHARED mutex (not
//                      robust, no growth: the simplest fast C answer)
//          py_manager  Python's multiprocessing Manager().dict() (fork
//                      context), the thing the shared dict replaces;
//                      smaller counts
//   value: shoal       shoal_value_add (atomic, no lock)
//          shoal_lock  shoal_value_acquire / get / set / release
//          py_locked   Python: with v.get_lock(): v.value += 1 (smaller counts)
// Every get is checked (the key must be there with its value) and every
// final count too; a wrong answer fails the run.  Each figure is the median
// of the rounds (3 by default), peers interleaved per round.  Ratios are
// peer_time / shoal_time: above 1 means shoal is faster.
//
// Usage: bench_shared [-r rounds] [-q]   (-q: counts / 10, a smoke run)
// Exit status: 0 when every measurement ran and checked out, 1 otherwise.
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shoal.h>

#include "bench_common.h"

#define KEYS 10000
#define KLEN 16
#define VLEN 32
#define MAX_PROCS 4
#define MAX_ROUNDS 15

static long scale = 1;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("bench_shared: FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stdout);
  exit(1);
}

/* The keys, made once: the loops measure the maps, not snprintf. */
static char (*keys)[KLEN];

static void make_keys(void)
{
  keys = malloc(sizeof *keys * KEYS);
  if (!keys)
    die("malloc");
  for (long i = 0; i < KEYS; i++) {
    char tmp[KLEN + 1];
    snprintf(tmp, sizeof tmp, "key%013ld", i);
    memcpy(keys[i], tmp, KLEN);
  }
}

static void make_val(char *v, long i, long version)
{
  memset(v, 'a' + (int)(i % 26), VLEN);
  memcpy(v, &version, sizeof version);
}

static uint64_t rng(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* ------------------------------------------------ the mutex_map peer -- */

#define MAP_SLOTS 32768

struct mslot {
  uint32_t used;
  char key[KLEN];
  char val[VLEN];
};

struct mutex_map {
  pthread_mutex_t mu;
  struct mslot slots[MAP_SLOTS];
};

static struct mutex_map *mmap_peer;

static uint64_t fnv(const char *k)
{
  uint64_t h = 1469598103934665603u;
  for (int i = 0; i < KLEN; i++)
    h = (h ^ (unsigned char)k[i]) * 1099511628211u;
  return h;
}

static struct mslot *map_find(const char *k, bool insert)
{
  uint64_t i = fnv(k) & (MAP_SLOTS - 1);
  for (;;) {
    struct mslot *s = &mmap_peer->slots[i];
    if (!s->used)
      return insert ? s : NULL;
    if (!memcmp(s->key, k, KLEN))
      return s;
    i = (i + 1) & (MAP_SLOTS - 1);
  }
}

static void map_set(const char *k, const char *v)
{
  pthread_mutex_lock(&mmap_peer->mu);
  struct mslot *s = map_find(k, true);
  memcpy(s->key, k, KLEN);
  memcpy(s->val, v, VLEN);
  s->used = 1;
  pthread_mutex_unlock(&mmap_peer->mu);
}

static bool map_get(const char *k, char *v)
{
  pthread_mutex_lock(&mmap_peer->mu);
  struct mslot *s = map_find(k, false);
  if (s)
    memcpy(v, s->val, VLEN);
  pthread_mutex_unlock(&mmap_peer->mu);
  return s != NULL;
}

static void map_reset(void)
{
  pthread_mutexattr_t a;
  memset(mmap_peer->slots, 0, sizeof mmap_peer->slots);
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&mmap_peer->mu, &a);
  pthread_mutexattr_destroy(&a);
}

/* ------------------------------------------------------ the C cases -- */

enum dpeer { D_SHOAL, D_MAP, D_PY, D_N };
static const char *const dpeer_name[D_N] = {"shoal", "mutex_map", "py_manager"};

static shoal_dict *dict;

struct timing {
  _Atomic int ready;
  _Atomic int go;
  uint64_t start[MAX_PROCS], end[MAX_PROCS];
};
static struct timing *tm;

static void d_set(enum dpeer p, const char *k, const char *v)
{
  if (p == D_SHOAL) {
    int rc = shoal_dict_set(dict, k, KLEN, v, VLEN);
    if (rc)
      die("shoal_dict_set: %s", shoal_err_name(rc));
  } else {
    map_set(k, v);
  }
}

static void d_get(enum dpeer p, const char *k, long i)
{
  char v[VLEN];
  if (p == D_SHOAL) {
    size_t len = sizeof v;
    int rc = shoal_dict_get(dict, k, KLEN, v, &len);
    if (rc || len != VLEN)
      die("shoal_dict_get: %s", shoal_err_name(rc));
  } else if (!map_get(k, v)) {
    die("mutex_map lost a key");
  }
  if (v[VLEN - 1] != 'a' + (int)(i % 26))
    die("%s returned a wrong value", dpeer_name[p]);
}

/* One worker's loop: `set_pct` percent sets, the rest gets. */
static void dict_loop(enum dpeer p, long n, int set_pct, int me)
{
  uint64_t s = 0x9e3779b97f4a7c15u * (uint64_t)(me + 1);
  char v[VLEN];
  for (long j = 0; j < n; j++) {
    uint64_t r = rng(&s);
    long i = (long)(r % KEYS);
    const char *k = keys[i];
    if ((int)((r >> 32) % 100) < set_pct) {
      make_val(v, i, j);
      d_set(p, k, v);
    } else {
      d_get(p, k, i);
    }
  }
}

static void prefill(enum dpeer p)
{
  char v[VLEN];
  for (long i = 0; i < KEYS; i++) {
    make_val(v, i, 0);
    d_set(p, keys[i], v);
  }
}

/* Runs fn in `procs` processes that start together; returns wall ns. */
static uint64_t run_procs(int procs, void (*fn)(int me, void *arg), void *arg)
{
  pid_t pids[MAX_PROCS];
  atomic_store(&tm->ready, 0);
  atomic_store(&tm->go, 0);
  for (int i = 0; i < procs; i++) {
    fflush(stdout);
    pids[i] = fork();
    if (pids[i] < 0)
      die("fork: %s", strerror(errno));
    if (pids[i] == 0) {
      atomic_fetch_add(&tm->ready, 1);
      while (!atomic_load(&tm->go))
        ;
      tm->start[i] = bench_now_ns();
      fn(i, arg);
      tm->end[i] = bench_now_ns();
      _exit(0);
    }
  }
  while (atomic_load(&tm->ready) < procs)
    usleep(100);
  atomic_store(&tm->go, 1);
  for (int i = 0; i < procs; i++) {
    int st;
    if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
      die("a worker failed (status 0x%x)", st);
  }
  uint64_t lo = tm->start[0], hi = tm->end[0];
  for (int i = 1; i < procs; i++) {
    lo = tm->start[i] < lo ? tm->start[i] : lo;
    hi = tm->end[i] > hi ? tm->end[i] : hi;
  }
  return hi - lo;
}

struct dict_job {
  enum dpeer peer;
  long n;
  int set_pct;
};

static void dict_job_fn(int me, void *arg)
{
  struct dict_job *j = arg;
  dict_loop(j->peer, j->n, j->set_pct, me);
}

/* ns per operation of one dict case for a C peer. */
static double dict_case(enum dpeer p, int procs, long n_per_proc, int set_pct)
{
  if (p == D_SHOAL) {
    shoal_dict_destroy(dict);
    int rc = shoal_dict_create(&dict, NULL);
    if (rc)
      die("shoal_dict_create: %s", shoal_err_name(rc));
  } else {
    map_reset();
  }
  prefill(p);
  struct dict_job j = {p, n_per_proc, set_pct};
  return (double)run_procs(procs, dict_job_fn, &j) / (double)(n_per_proc * procs);
}

enum vpeer { V_SHOAL, V_LOCKED, V_PY, V_N };
static const char *const vpeer_name[V_N] = {"shoal", "shoal_lock", "py_locked"};

static shoal_value *val;

static void value_job_fn(int me, void *arg)
{
  long n = *(long *)arg;
  (void)me;
  for (long i = 0; i < n; i++)
    if (shoal_value_add(val, 1, NULL) != 0)
      die("shoal_value_add");
}

static void value_locked_fn(int me, void *arg)
{
  long n = *(long *)arg;
  (void)me;
  for (long i = 0; i < n; i++) {
    int64_t x;
    if (shoal_value_acquire(val, SHOAL_FOREVER) != 0 || shoal_value_get_int(val, &x) != 0 ||
        shoal_value_set_int(val, (int32_t)(x + 1)) != 0 || shoal_value_release(val) != 0)
      die("locked add");
  }
}

static double value_case(enum vpeer p, int procs, long n)
{
  int64_t x;
  shoal_value_destroy(val);
  if (shoal_value_create(&val, 'i', NULL) != 0)
    die("shoal_value_create");
  uint64_t t = run_procs(procs, p == V_SHOAL ? value_job_fn : value_locked_fn, &n);
  if (shoal_value_get_int(val, &x) != 0 || x != (int64_t)(procs * n % (INT64_C(1) << 32)))
    die("%s: value %lld, want %ld", vpeer_name[p], (long long)x, procs * n);
  return (double)t / (double)(procs * n);
}

/* ----------------------------------------------------------- python -- */

static const char py_script[] =
    "import sys, time\n"
    "from multiprocessing import get_context\n"
    "ctx = get_context('fork')\n"
    "mode, n, procs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
    "KEYS = 10000\n"
    "def key(i): return b'key%013d' % i\n"
    "def work(obj, me, go, out, set_pct):\n"
    "    s = 0x9e3779b97f4a7c15 * (me + 1) & 0xffffffffffffffff\n"
    "    go.wait()\n"
    "    t0 = time.monotonic_ns()\n"
    "    if mode == 'value':\n"
    "        for _ in range(n):\n"
    "            with obj.get_lock():\n"
    "                obj.value += 1\n"
    "    else:\n"
    "        for j in range(n):\n"
    "            s ^= (s << 13) & 0xffffffffffffffff; s ^= s >> 7; s ^= (s << 17) & "
    "0xffffffffffffffff\n"
    "            i = s % KEYS\n"
    "            if (s >> 32) % 100 < set_pct:\n"
    "                obj[key(i)] = bytes([97 + i % 26]) * 32\n"
    "            elif obj[key(i)][-1] != 97 + i % 26:\n"
    "                raise SystemExit('wrong value')\n"
    "    out.put((t0, time.monotonic_ns()))\n"
    "if __name__ == '__main__':\n"
    "    go, out = ctx.Event(), ctx.Queue()\n"
    "    if mode == 'value':\n"
    "        obj, set_pct = ctx.Value('i', 0), 0\n"
    "    else:\n"
    "        m = ctx.Manager()\n"
    "        obj = m.dict()\n"
    "        obj.update({key(i): bytes([97 + i % 26]) * 32 for i in range(KEYS)})\n"
    "        set_pct = {'set': 100, 'get': 0, 'mixed': 10}[mode]\n"
    "    ps = [ctx.Process(target=work, args=(obj, me, go, out, set_pct)) for me in range(procs)]\n"
    "    for p in ps: p.start()\n"
    "    time.sleep(0.2)\n"
    "    go.set()\n"
    "    times = [out.get() for _ in ps]\n"
    "    for p in ps: p.join()\n"
    "    if any(p.exitcode for p in ps): raise SystemExit('worker failed')\n"
    "    if mode == 'value' and obj.value != n * procs: raise SystemExit('bad count')\n"
    "    wall = max(t[1] for t in times) - min(t[0] for t in times)\n"
    "    print(wall / (n * procs))\n";

static const char *python(void)
{
  const char *py = getenv("PYTHON");
  return py && *py ? py : "python3";
}

/* ns per operation from the Python peer; < 0 when there is no python3. */
static double py_case(const char *mode, long n, int procs)
{
  char cmd[16384], out[128];
  snprintf(cmd, sizeof cmd, "%s - %s %ld %d 2>&1 <<'PYEOF'\n%s\nPYEOF\n", python(), mode, n, procs,
           py_script);
  FILE *f = popen(cmd, "r");
  if (!f)
    return -1;
  size_t got = fread(out, 1, sizeof out - 1, f);
  out[got] = '\0';
  int st = pclose(f);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
    return -1;
  double ns;
  if (st != 0 || sscanf(out, "%lf", &ns) != 1)
    die("python %s failed: %s", mode, out);
  return ns;
}

/* ---------------------------------------------------------- reporting -- */

static void row(const char *name, const char *const *peers, int npeers, double *ns)
{
  printf("%-20s %s=%.1f ns (%.2f Mops/s)", name, peers[0], ns[0], 1e3 / ns[0]);
  for (int p = 1; p < npeers; p++) {
    if (ns[p] < 0)
      printf("  %s=skipped", peers[p]);
    else
      printf("  %s=%.1f ns (%.2fx)", peers[p], ns[p], ns[p] / ns[0]);
  }
  printf("\n");
  fflush(stdout);
}

int main(int argc, char **argv)
{
  int rounds = 3;
  int opt;
  while ((opt = getopt(argc, argv, "r:q")) != -1) {
    if (opt == 'r')
      rounds = atoi(optarg);
    else if (opt == 'q')
      scale = 10;
    else
      die("usage: bench_shared [-r rounds] [-q]");
  }
  if (rounds < 1 || rounds > MAX_ROUNDS)
    die("rounds must be 1..%d", MAX_ROUNDS);
  tm = mmap(NULL, sizeof *tm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  mmap_peer =
      mmap(NULL, sizeof *mmap_peer, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (tm == MAP_FAILED || mmap_peer == MAP_FAILED)
    die("mmap");
  make_keys();

  struct {
    const char *name, *py_mode;
    int procs, set_pct;
    long n, py_n; /* per process */
  } dcases[] = {
      {"dict_set procs=1", "set", 1, 100, 1000000, 20000},
      {"dict_get procs=1", "get", 1, 0, 2000000, 20000},
      {"dict_get procs=4", "get", 4, 0, 500000, 5000},
      {"dict_mixed procs=4", "mixed", 4, 10, 500000, 5000},
  };
  printf("# bench_shared: %d rounds, median; ratio = peer / shoal (above 1: shoal faster)\n",
         rounds);
  for (size_t c = 0; c < sizeof dcases / sizeof dcases[0]; c++) {
    double v[D_N][MAX_ROUNDS], med[D_N];
    bool py_missing = false;
    for (int r = 0; r < rounds; r++) {
      for (int k = 0; k < D_N; k++) {
        enum dpeer p = (enum dpeer)((k + r) % D_N);
        if (p == D_PY)
          v[p][r] =
              py_missing ? -1 : py_case(dcases[c].py_mode, dcases[c].py_n / scale, dcases[c].procs);
        else
          v[p][r] = dict_case(p, dcases[c].procs, dcases[c].n / scale, dcases[c].set_pct);
        py_missing |= p == D_PY && v[p][r] < 0;
      }
    }
    for (int p = 0; p < D_N; p++)
      med[p] = p == D_PY && py_missing ? -1 : bench_median(v[p], rounds);
    row(dcases[c].name, dpeer_name, D_N, med);
  }
  shoal_dict_destroy(dict);

  struct {
    const char *name;
    int procs;
    long n, py_n;
  } vcases[] = {
      {"value_add procs=1", 1, 10000000, 200000},
      {"value_add procs=2", 2, 5000000, 100000},
  };
  for (size_t c = 0; c < sizeof vcases / sizeof vcases[0]; c++) {
    double v[V_N][MAX_ROUNDS], med[V_N];
    bool py_missing = false;
    for (int r = 0; r < rounds; r++) {
      for (int k = 0; k < V_N; k++) {
        enum vpeer p = (enum vpeer)((k + r) % V_N);
        if (p == V_PY)
          v[p][r] = py_missing ? -1 : py_case("value", vcases[c].py_n / scale, vcases[c].procs);
        else
          v[p][r] = value_case(p, vcases[c].procs,
                               (p == V_LOCKED ? vcases[c].n / 5 : vcases[c].n) / scale);
        py_missing |= p == V_PY && v[p][r] < 0;
      }
    }
    for (int p = 0; p < V_N; p++)
      med[p] = p == V_PY && py_missing ? -1 : bench_median(v[p], rounds);
    row(vcases[c].name, vpeer_name, V_N, med);
  }
  shoal_value_destroy(val);
  free(keys);
  return 0;
}
