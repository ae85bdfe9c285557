// SPDX-License-Identifier: MIT
// bench_lock: shoal's Lock against its peers, in one run.
//
// Cases (one output row each):
//   lock_uncontended       one process, acquire+release pairs: ns per pair
//   lock_contended procs=2 two forked processes, each adding 1 to a counter in
//                          MAP_SHARED memory N times under the lock: ns per
//                          increment (wall time / total increments); the final
//                          counter must equal 2*N, or the run fails.  Each
//                          process is pinned to its own CPU (-P: not pinned),
//                          so the case measures two CPUs fighting over the
//                          lock, not the scheduler's placement.
// Peers:
//   shoal            shoal_lock_acquire(l, SHOAL_FOREVER) / shoal_lock_release
//   pthread_pshared  pthread_mutex_t, PTHREAD_PROCESS_SHARED
//   pthread_robust   pthread_mutex_t, PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST
//   sem_t            sem_init(pshared=1, value=1), sem_wait / sem_post
//   py_mp            Python's multiprocessing.Lock (fork context), when a
//                    python3 is on PATH ($PYTHON overrides); smaller counts,
//                    interpreter overhead included
//
// Each measurement is repeated (5 rounds by default) and the median printed.
// Rounds interleave the peers, in a rotated order, so that noise on a shared
// machine hits all of them alike.  Ratios are peer_time / shoal_time: above 1
// means shoal is faster.  Compare ratios within one run, not absolute numbers
// across machines.
//
// Usage: bench_lock [-r rounds] [-q] [-p peer,...] [-c uncontended|contended] [-v] [-P]
//   (-q: counts / 10, for a smoke run; -p, -c: a subset, -v: every round and
//   -P: no CPU pinning, for investigating)
// Exit status: 0 when every measurement ran and every counter was right
// (goal MISSes do not fail the run), 1 otherwise.
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
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

#define UNCONTENDED_PAIRS 10000000L /* per round and peer */
#define CONTENDED_PER_PROC 5000000L /* increments per process */
#define CONTENDED_PROCS 2
#define PY_UNCONTENDED 1000000L
#define PY_CONTENDED_PER_PROC 200000L
#define DEFAULT_ROUNDS 5
#define MAX_ROUNDS 51

/* Goals from the issue: uncontended shoal within 1.2x of the process-shared
 * pthread mutex; contended shoal no slower than it. */
#define GOAL_UNCONTENDED_MAX 1.2
#define GOAL_CONTENDED_MAX 1.0

enum peer { PEER_SHOAL, PEER_PSHARED, PEER_ROBUST, PEER_SEM, PEER_C_N, PEER_PY = PEER_C_N, PEER_N };

static const char *const peer_name[PEER_N] = {"shoal", "pthread_pshared", "pthread_robust", "sem_t",
                                              "py_mp"};

/* Everything the processes share, one cache line per item so that no peer
 * pays for another's false sharing. */
struct shared {
  _Alignas(64) pthread_mutex_t pshared;
  _Alignas(64) pthread_mutex_t robust;
  _Alignas(64) sem_t sem;
  /* The protected data: the counter and who incremented it last (to count
   * hand-overs between the processes, a fairness diagnostic). */
  _Alignas(64) volatile long counter;
  volatile int last;
  volatile long handoffs;
  _Alignas(64) _Atomic int ready;
  _Atomic int go;
  _Alignas(64) uint64_t t_start[CONTENDED_PROCS];
  uint64_t t_end[CONTENDED_PROCS];
};

static struct shared *sh;
static shoal_lock *slock;
/* The CPU each contended process is pinned to; -1: not pinned. */
static int pin_cpu[CONTENDED_PROCS];

/* Picks the first CONTENDED_PROCS CPUs this process may run on; leaves the
 * processes unpinned when there are fewer. */
static void choose_cpus(bool pin)
{
  cpu_set_t set;
  int n = 0;
  for (int i = 0; i < CONTENDED_PROCS; i++)
    pin_cpu[i] = -1;
  if (!pin || sched_getaffinity(0, sizeof set, &set) != 0)
    return;
  for (int c = 0; c < CPU_SETSIZE && n < CONTENDED_PROCS; c++)
    if (CPU_ISSET(c, &set))
      pin_cpu[n++] = c;
  if (n < CONTENDED_PROCS)
    for (int i = 0; i < CONTENDED_PROCS; i++)
      pin_cpu[i] = -1;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("bench_lock: FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stdout);
  exit(1);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* ------------------------------------------------------------- peers -- */

/* One acquire/release pair per peer, inlined into each loop so that no peer
 * pays for an indirect call.  Every return code is checked: a bench that
 * silently lost its lock would measure nothing. */
#define LOCK_shoal()                                                                               \
  do {                                                                                             \
    int rc_ = shoal_lock_acquire(slock, SHOAL_FOREVER);                                            \
    if (__builtin_expect(rc_ != 0, 0))                                                             \
      die("shoal_lock_acquire: %s", shoal_err_name(rc_));                                          \
  } while (0)
#define UNLOCK_shoal()                                                                             \
  do {                                                                                             \
    int rc_ = shoal_lock_release(slock);                                                           \
    if (__builtin_expect(rc_ != 0, 0))                                                             \
      die("shoal_lock_release: %s", shoal_err_name(rc_));                                          \
  } while (0)
#define LOCK_PTHREAD(m)                                                                            \
  do {                                                                                             \
    int rc_ = pthread_mutex_lock(m);                                                               \
    if (__builtin_expect(rc_ != 0, 0))                                                             \
      die("pthread_mutex_lock: %s", strerror(rc_));                                                \
  } while (0)
#define UNLOCK_PTHREAD(m)                                                                          \
  do {                                                                                             \
    int rc_ = pthread_mutex_unlock(m);                                                             \
    if (__builtin_expect(rc_ != 0, 0))                                                             \
      die("pthread_mutex_unlock: %s", strerror(rc_));                                              \
  } while (0)
#define LOCK_pshared() LOCK_PTHREAD(&sh->pshared)
#define UNLOCK_pshared() UNLOCK_PTHREAD(&sh->pshared)
#define LOCK_robust() LOCK_PTHREAD(&sh->robust)
#define UNLOCK_robust() UNLOCK_PTHREAD(&sh->robust)
#define LOCK_sem()                                                                                 \
  do {                                                                                             \
    while (__builtin_expect(sem_wait(&sh->sem) != 0, 0))                                           \
      if (errno != EINTR)                                                                          \
        die("sem_wait: %s", strerror(errno));                                                      \
  } while (0)
#define UNLOCK_sem()                                                                               \
  do {                                                                                             \
    if (__builtin_expect(sem_post(&sh->sem) != 0, 0))                                              \
      die("sem_post: %s", strerror(errno));                                                        \
  } while (0)

/* uncontended_<p>(n): n acquire/release pairs; returns the elapsed ns.
 * contended_<p>(n, me): n increments of the shared counter under the lock. */
#define DEFINE_PEER(p)                                                                             \
  static __attribute__((noinline)) uint64_t uncontended_##p(long n)                                \
  {                                                                                                \
    uint64_t t0 = bench_now_ns();                                                                        \
    for (long i = 0; i < n; i++) {                                                                 \
      LOCK_##p();                                                                                  \
      UNLOCK_##p();                                                                                \
    }                                                                                              \
    return bench_now_ns() - t0;                                                                          \
  }                                                                                                \
  static __attribute__((noinline)) void contended_##p(long n, int me)                              \
  {                                                                                                \
    for (long i = 0; i < n; i++) {                                                                 \
      LOCK_##p();                                                                                  \
      sh->counter++;                                                                               \
      if (sh->last != me) {                                                                        \
        sh->last = me;                                                                             \
        sh->handoffs++;                                                                            \
      }                                                                                            \
      UNLOCK_##p();                                                                                \
    }                                                                                              \
  }

DEFINE_PEER(shoal)
DEFINE_PEER(pshared)
DEFINE_PEER(robust)
DEFINE_PEER(sem)

static uint64_t run_uncontended(enum peer p, long n)
{
  switch (p) {
  case PEER_SHOAL:
    return uncontended_shoal(n);
  case PEER_PSHARED:
    return uncontended_pshared(n);
  case PEER_ROBUST:
    return uncontended_robust(n);
  case PEER_SEM:
    return uncontended_sem(n);
  default:
    abort();
  }
}

static void run_contended_loop(enum peer p, long n, int me)
{
  switch (p) {
  case PEER_SHOAL:
    contended_shoal(n, me);
    break;
  case PEER_PSHARED:
    contended_pshared(n, me);
    break;
  case PEER_ROBUST:
    contended_robust(n, me);
    break;
  case PEER_SEM:
    contended_sem(n, me);
    break;
  default:
    abort();
  }
}

static void init_peers(void)
{
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED)
    die("mmap: %s", strerror(errno));
  memset(sh, 0, sizeof *sh);

  int rc = shoal_lock_create(&slock);
  if (rc != 0)
    die("shoal_lock_create: %s", shoal_err_name(rc));

  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  if ((rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) != 0 ||
      (rc = pthread_mutex_init(&sh->pshared, &a)) != 0)
    die("pthread_pshared init: %s", strerror(rc));
  if ((rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) != 0 ||
      (rc = pthread_mutex_init(&sh->robust, &a)) != 0)
    die("pthread_robust init: %s", strerror(rc));
  pthread_mutexattr_destroy(&a);

  if (sem_init(&sh->sem, 1, 1) != 0)
    die("sem_init: %s", strerror(errno));
}

/* ---------------------------------------------------------- contended -- */

struct contended_result {
  double ns_per_op;
  double handoffs_per_kop; /* lock changed process, per 1000 increments */
};

static struct contended_result run_contended(enum peer p, long per_proc)
{
  pid_t pids[CONTENDED_PROCS];

  sh->counter = 0;
  sh->last = -1;
  sh->handoffs = 0;
  atomic_store(&sh->ready, 0);
  atomic_store(&sh->go, 0);
  fflush(stdout);
  fflush(stderr);

  for (int i = 0; i < CONTENDED_PROCS; i++) {
    pids[i] = fork();
    if (pids[i] < 0)
      die("fork: %s", strerror(errno));
    if (pids[i] == 0) {
      if (pin_cpu[i] >= 0) {
        /* One process per CPU, so that the case measures two CPUs fighting
         * over the lock rather than the scheduler's choices. */
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(pin_cpu[i], &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0)
          die("sched_setaffinity(cpu %d): %s", pin_cpu[i], strerror(errno));
      }
      /* Warm up (first-use costs such as shoal's thread stamp) outside the
       * timed part: one increment each, taken out of the count below. */
      run_contended_loop(p, 1, i);
      atomic_fetch_add(&sh->ready, 1);
      while (!atomic_load_explicit(&sh->go, memory_order_acquire))
        cpu_relax();
      sh->t_start[i] = bench_now_ns();
      run_contended_loop(p, per_proc - 1, i);
      sh->t_end[i] = bench_now_ns();
      _exit(0);
    }
  }
  /* Let both children reach the gate, then open it.  None may exit before. */
  while (atomic_load(&sh->ready) < CONTENDED_PROCS) {
    int st;
    if (waitpid(-1, &st, WNOHANG) > 0)
      die("%s contended: a child exited before the start (status 0x%x)", peer_name[p], st);
    nanosleep(&(struct timespec){0, 50000}, NULL);
  }
  atomic_store_explicit(&sh->go, 1, memory_order_release);

  bool failed = false;
  for (int i = 0; i < CONTENDED_PROCS; i++) {
    int st;
    while (waitpid(pids[i], &st, 0) < 0)
      if (errno != EINTR)
        die("waitpid: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "bench_lock: %s contended child %d failed (status 0x%x)\n", peer_name[p], i,
              st);
      failed = true;
    }
  }
  long want = per_proc * CONTENDED_PROCS;
  if (failed || sh->counter != want)
    die("%s contended: counter = %ld, expected %ld: the lock let increments race", peer_name[p],
        sh->counter, want);

  uint64_t t0 = sh->t_start[0], t1 = sh->t_end[0];
  for (int i = 1; i < CONTENDED_PROCS; i++) {
    t0 = sh->t_start[i] < t0 ? sh->t_start[i] : t0;
    t1 = sh->t_end[i] > t1 ? sh->t_end[i] : t1;
  }
  long timed = (per_proc - 1) * CONTENDED_PROCS;
  return (struct contended_result){(double)(t1 - t0) / (double)timed,
                                   1000.0 * (double)sh->handoffs / (double)want};
}

/* ------------------------------------------------------------- python -- */

/* Prints "uncontended_ns=<f> contended_ns=<f> handoffs_per_kop=<f>", or an
 * error and exits 1 when the counter came out wrong. */
static const char py_script[] =
    "import multiprocessing as mp, sys, time\n"
    "def work(lock, val, last, hand, n, barrier, times, i):\n"
    "    barrier.wait()\n"
    "    times[2*i] = time.monotonic_ns()\n"
    "    for _ in range(n):\n"
    "        with lock:\n"
    "            val.value += 1\n"
    "            if last.value != i:\n"
    "                last.value = i\n"
    "                hand.value += 1\n"
    "    times[2*i+1] = time.monotonic_ns()\n"
    "def main():\n"
    "    n_unc, n_con, procs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])\n"
    "    ctx = mp.get_context('fork')\n"
    "    lock = ctx.Lock()\n"
    "    t0 = time.monotonic_ns()\n"
    "    for _ in range(n_unc):\n"
    "        lock.acquire()\n"
    "        lock.release()\n"
    "    unc = (time.monotonic_ns() - t0) / n_unc\n"
    "    val = ctx.Value('i', 0, lock=False)\n"
    "    last = ctx.Value('i', -1, lock=False)\n"
    "    hand = ctx.Value('q', 0, lock=False)\n"
    "    times = ctx.Array('q', 2 * procs, lock=False)\n"
    "    barrier = ctx.Barrier(procs)\n"
    "    ps = [ctx.Process(target=work, args=(lock, val, last, hand, n_con, barrier, times, i))\n"
    "          for i in range(procs)]\n"
    "    for p in ps: p.start()\n"
    "    for p in ps: p.join()\n"
    "    if any(p.exitcode != 0 for p in ps):\n"
    "        sys.exit('py_mp: a worker failed')\n"
    "    if val.value != n_con * procs:\n"
    "        sys.exit('py_mp contended: counter = %d, expected %d' % (val.value, n_con * procs))\n"
    "    el = max(times[1::2]) - min(times[0::2])\n"
    "    print('uncontended_ns=%.3f contended_ns=%.3f handoffs_per_kop=%.3f' %\n"
    "          (unc, el / (n_con * procs), 1000.0 * hand.value / (n_con * procs)))\n"
    "main()\n";

struct py_result {
  bool ok;
  double unc_ns;
  struct contended_result con;
};

/* Runs the script once.  ok=false with a note when there is no python3;
 * dies when python ran but failed (a wrong count must fail loudly). */
static struct py_result run_python(long n_unc, long n_con_per_proc, bool *missing)
{
  struct py_result r = {0};
  char a1[32], a2[32], a3[32];
  snprintf(a1, sizeof a1, "%ld", n_unc);
  snprintf(a2, sizeof a2, "%ld", n_con_per_proc);
  snprintf(a3, sizeof a3, "%d", CONTENDED_PROCS);

  char buf[512];
  char *argv[] = {(char *)bench_python(), "-c", (char *)py_script, a1, a2, a3, NULL};
  int st = bench_run_capture(argv, buf, sizeof buf);
  if (st < 0)
    die("cannot run %s: %s", bench_python(), strerror(errno));
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
    *missing = true;
    return r;
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    die("%s multiprocessing benchmark failed (status 0x%x); output: %s", bench_python(), st, buf);
  if (sscanf(buf, "uncontended_ns=%lf contended_ns=%lf handoffs_per_kop=%lf", &r.unc_ns,
             &r.con.ns_per_op, &r.con.handoffs_per_kop) != 3)
    die("cannot parse the python output: %s", buf);
  r.ok = true;
  return r;
}

/* ------------------------------------------------------------- report -- */

static void fmt_ns(char *out, size_t len, double ns)
{
  snprintf(out, len, ns < 100 ? "%.1fns" : "%.0fns", ns);
}

/* Prints one row: shoal first, then every peer with its ratio. */
static void print_row(const char *label, const struct bench_stat *st, const bool *have)
{
  char b[32];
  fmt_ns(b, sizeof b, st[PEER_SHOAL].med);
  printf("%-24s shoal=%s", label, b);
  for (int p = 1; p < PEER_N; p++) {
    if (!have[p]) {
      printf("  %s=n/a", peer_name[p]);
      continue;
    }
    fmt_ns(b, sizeof b, st[p].med);
    double ratio = st[p].med / st[PEER_SHOAL].med;
    printf(ratio < 10 ? "  %s=%s (%.2fx)" : "  %s=%s (%.1fx)", peer_name[p], b, ratio);
  }
  printf("\n");
}

static void print_spread(const struct bench_stat *st, const bool *have, const char *extra_label,
                         const double *extra)
{
  printf("  # min..max:");
  for (int p = 0; p < PEER_N; p++)
    if (have[p])
      printf("  %s=%.1f..%.1f", peer_name[p], st[p].min, st[p].max);
  printf("\n");
  if (extra) {
    printf("  # %s:", extra_label);
    for (int p = 0; p < PEER_N; p++)
      if (have[p])
        printf("  %s=%.1f", peer_name[p], extra[p]);
    printf("\n");
  }
}

static void usage(const char *argv0)
{
  fprintf(stderr,
          "usage: %s [-r rounds (1..%d)] [-q] [-p peer,...] [-c uncontended|contended] [-v] [-P]\n"
          "  -v  print every round's figures\n"
          "  -q  counts / 10 (smoke run)\n"
          "  -p  peers besides shoal: pthread_pshared,pthread_robust,sem_t,py_mp (default all)\n"
          "  -c  run one case only\n"
          "  -P  do not pin the contended processes to CPUs\n",
          argv0, MAX_ROUNDS);
  exit(2);
}

int main(int argc, char **argv)
{
  int rounds = DEFAULT_ROUNDS, scale = 1, opt;
  bool have[PEER_N], do_unc = true, do_con = true, verbose = false, pin = true;
  for (int p = 0; p < PEER_N; p++)
    have[p] = true;
  while ((opt = getopt(argc, argv, "r:qp:c:vP")) != -1) {
    switch (opt) {
    case 'p':
      for (int p = 1; p < PEER_N; p++)
        have[p] = false;
      for (char *save = NULL, *tok = strtok_r(optarg, ",", &save); tok;
           tok = strtok_r(NULL, ",", &save)) {
        int p = 0;
        while (p < PEER_N && strcmp(tok, peer_name[p]) != 0)
          p++;
        if (p == PEER_N)
          usage(argv[0]);
        have[p] = true;
      }
      break;
    case 'c':
      do_unc = strcmp(optarg, "uncontended") == 0;
      do_con = strcmp(optarg, "contended") == 0;
      if (!do_unc && !do_con)
        usage(argv[0]);
      break;
    case 'r':
      rounds = atoi(optarg);
      if (rounds < 1 || rounds > MAX_ROUNDS)
        usage(argv[0]);
      break;
    case 'q':
      scale = 10;
      break;
    case 'v':
      verbose = true;
      break;
    case 'P':
      pin = false;
      break;
    default:
      usage(argv[0]);
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);

  long unc_n = UNCONTENDED_PAIRS / scale, con_n = CONTENDED_PER_PROC / scale;
  long py_unc = PY_UNCONTENDED / scale, py_con = PY_CONTENDED_PER_PROC / scale;

  init_peers();
  choose_cpus(pin);
  char pinned[64] = "not pinned";
  if (pin_cpu[0] >= 0)
    snprintf(pinned, sizeof pinned, "pinned to CPUs %d and %d", pin_cpu[0], pin_cpu[1]);

  printf("# bench_lock: shoal Lock (linked statically) vs process-shared peers, %ld CPUs online\n",
         sysconf(_SC_NPROCESSORS_ONLN));
  printf("# lock_uncontended: ns per acquire+release pair, one process, %ld pairs (py_mp: %ld)\n",
         unc_n, py_unc);
  printf("# lock_contended: ns per increment, %d forked processes x %ld increments of a\n"
         "#   MAP_SHARED counter under the lock (py_mp: x %ld, mp.Value under mp.Lock); C peers'\n"
         "#   processes %s\n",
         CONTENDED_PROCS, con_n, py_con, pinned);
  printf("# each figure: median of %d interleaved rounds; ratio = peer_time / shoal_time "
         "(>1 means shoal is faster)\n",
         rounds);

  double unc[PEER_N][MAX_ROUNDS] = {{0}}, con[PEER_N][MAX_ROUNDS] = {{0}},
         hand[PEER_N][MAX_ROUNDS] = {{0}};

  /* Warm-up, not recorded: page faults, first-use costs, CPU frequency. */
  for (int p = 0; p < PEER_C_N; p++)
    if (have[p])
      run_uncontended((enum peer)p, unc_n / 10);

  bool py_missing = false;
  for (int r = 0; r < rounds; r++) {
    /* Rotate the order so no peer always runs first (or last). */
    for (int k = 0; k < PEER_N; k++) {
      enum peer p = (enum peer)((k + r) % PEER_N);
      if (!have[p])
        continue;
      if (p == PEER_PY) {
        struct py_result pr = run_python(py_unc, py_con, &py_missing);
        if (!pr.ok) {
          have[PEER_PY] = false;
          continue;
        }
        unc[PEER_PY][r] = pr.unc_ns;
        con[PEER_PY][r] = pr.con.ns_per_op;
        hand[PEER_PY][r] = pr.con.handoffs_per_kop;
        if (verbose)
          printf("  # round %d %-16s uncontended=%.1fns contended=%.1fns handoffs/kop=%.1f\n", r,
                 peer_name[p], unc[p][r], con[p][r], hand[p][r]);
        continue;
      }
      if (do_unc)
        unc[p][r] = (double)run_uncontended(p, unc_n) / (double)unc_n;
      if (do_con) {
        struct contended_result cr = run_contended(p, con_n);
        con[p][r] = cr.ns_per_op;
        hand[p][r] = cr.handoffs_per_kop;
      }
      if (verbose)
        printf("  # round %d %-16s uncontended=%.1fns contended=%.1fns handoffs/kop=%.1f\n", r,
               peer_name[p], unc[p][r], con[p][r], hand[p][r]);
    }
  }
  if (py_missing)
    printf("# py_mp: %s not found, skipped\n", bench_python());

  struct bench_stat su[PEER_N], sc[PEER_N];
  double hmed[PEER_N];
  for (int p = 0; p < PEER_N; p++) {
    if (!have[p])
      continue;
    su[p] = bench_summarize(unc[p], rounds);
    sc[p] = bench_summarize(con[p], rounds);
    hmed[p] = bench_summarize(hand[p], rounds).med;
  }

  char label[64];
  if (do_unc) {
    print_row("lock_uncontended", su, have);
    print_spread(su, have, NULL, NULL);
  }
  if (do_con) {
    snprintf(label, sizeof label, "lock_contended procs=%d", CONTENDED_PROCS);
    print_row(label, sc, have);
    print_spread(sc, have, "lock changed process, per 1000 increments (median)", hmed);
    printf("# contended counters verified: %ld per peer (py_mp: %ld)\n", con_n * CONTENDED_PROCS,
           py_con * CONTENDED_PROCS);
  }

  if (!have[PEER_PSHARED])
    return 0;
  if (do_unc) {
    double ru = su[PEER_SHOAL].med / su[PEER_PSHARED].med;
    printf("goal lock_uncontended: shoal <= %.1f x pthread_pshared (robust: yes): "
           "shoal/pthread_pshared = %.2f  %s\n",
           GOAL_UNCONTENDED_MAX, ru, ru <= GOAL_UNCONTENDED_MAX ? "PASS" : "MISS");
  }
  if (do_con) {
    double rc = sc[PEER_SHOAL].med / sc[PEER_PSHARED].med;
    printf("goal lock_contended:   shoal <= %.1f x pthread_pshared:               "
           "shoal/pthread_pshared = %.2f  %s\n",
           GOAL_CONTENDED_MAX, rc, rc <= GOAL_CONTENDED_MAX ? "PASS" : "MISS");
  }
  return 0;
}
