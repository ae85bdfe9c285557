// SPDX-License-Identifier: MIT
// bench_queue: shoal's FIFO queue against its peers, in one run.
//
// Cases (one output row each; every message is checked, see "Verification"):
//   queue_put_get procs=1+1 msg=64   one producer process -> one consumer
//                                    process, one message per call: msg/s
//   queue_batch   procs=1+1 msg=64   the same with batches of 64 messages
//                                    (shoal_queue_put_many / get_many): msg/s
//   queue_put_get procs=2+2 msg=64   two producers -> two consumers sharing one
//                                    queue (4 processes, not pinned): msg/s
//   queue_roundtrip procs=2 msg=64   ping-pong through two queues: the median
//                                    and the 99th percentile of the round trip
//   queue_bandwidth procs=1+1 msg=64KiB / msg=1MiB
//                                    payload GB/s (1e9 bytes/s) from one
//                                    process to another
// Peers (n/a where a peer cannot do a case, with the reason printed):
//   shoal           shoal_queue_put / get (SHOAL_FOREVER: spin ~20 us, then
//                   sleep), put_many / get_many when batched
//   shoal_zc        bandwidth only: shoal_queue_loan + commit, the producer
//                   writing the payload in place; shoal_queue_peek + release,
//                   the consumer reading every byte of it in place
//   memcpy          bandwidth only: memcpy of the same size in one process
//   ceiling_spsc    THE CEILING: a busy-polling single-producer single-consumer
//                   ring of fixed 64-byte slots in shared memory, cached
//                   indices, no system calls (1+1 cases only)
//   mutex_cond      a ring of 64-byte slots in shared memory under one
//                   process-shared pthread mutex with two condition variables
//   boost_ipc       boost::interprocess::message_queue (queue_peer_boost, a
//                   C++ program built next to this one)
//   zmq_ipc         ZeroMQ PUSH/PULL over ipc://
//   posix_mq        mq_send / mq_receive
//   pipe            pipe(2), frames of a 4-byte length + payload
//   unix_stream     socketpair(AF_UNIX, SOCK_STREAM), framed like pipe
//   unix_seqpacket  socketpair(AF_UNIX, SOCK_SEQPACKET), one message a packet
//   py_mp_queue     Python's multiprocessing.Queue      (queue_peers/py_queue.py)
//   py_mp_pipe      Python's multiprocessing.Pipe(duplex=False)
// How each peer batches, frames and is sized is printed in the header of the
// run (the `note` of each entry in peers[] below).  The machine's other load
// during the run (CPU time of other processes, steal) is printed at the end.
//
// Method.  Message counts are calibrated once per peer and case (that run is
// also the warm-up) so that one measurement takes about 0.15 s; then every
// case is measured in `rounds` rounds (7 by default) and the median printed.
// Rounds interleave the peers in a rotated order so that noise on a shared
// machine hits all of them alike.  In the 1+1 cases and the round trip the
// two processes are pinned to two CPUs (-P: not pinned); the 2+2 case is left
// to the scheduler.  A throughput is total messages / (last consumer's end -
// first producer's start), both read from CLOCK_MONOTONIC in the processes
// themselves, after a start barrier.  Ratios say how many times better shoal
// is: peer_time_per_msg / shoal_time_per_msg (rate and bandwidth rows) or
// peer_rtt / shoal_rtt (round trip), so above 1 means shoal is faster.
//
// Verification.  Each 64-byte message carries its producer, a sequence
// number, words derived from it and a check word; consumers check all of them,
// check that each producer's messages arrive in order (exactly 0, 1, 2 ... in
// the 1+1 cases), count them, and the parent checks the totals and the sum of
// the sequence numbers.  Bandwidth messages carry the sequence number in
// their first and last word and in one word of every 4 KiB; shoal_zc's
// consumer also sums every word of the payload against the expected sum.  A
// wrong message fails the run.
//
// Usage: bench_queue [-r rounds] [-q] [-p peer,...] [-c case,...] [-v] [-P]
//   -q  a quick smoke run (about 0.015 s a measurement)
//   -p  peers besides shoal (shoal_zc and memcpy come with shoal)
//   -c  cases: put_get, batch, mpmc, roundtrip, bw64k, bw1m
//   -v  print every round
//   -P  do not pin the 1+1 processes
// Exit status: 0 when every measurement ran and verified (goal MISSes do not
// fail the run), 1 otherwise.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef SHOAL_BENCH_HAVE_ZMQ
#include <zmq.h>
#endif

#include <shoal.h>

#include "bench_common.h"

#define MSG 64                       /* bytes in a small message */
#define BATCH 64                     /* messages in a batch */
#define MAXP 2                       /* producers (and consumers) at most */
#define RING_SLOTS 4096              /* 64-byte messages of room in the ring peers */
#define SHOAL_SMALL_CAP (256u << 10) /* shoal's capacity for 64-byte cases: 3640 messages */
#define STREAM_BUF (64u << 10)       /* a stream consumer's read buffer */
#define BW_INFLIGHT_BYTES (4u << 20) /* about this much payload may be in flight */
#define TARGET_NS 150000000.0        /* one measurement */
#define DEFAULT_ROUNDS 7
#define MAX_ROUNDS 31
#define RTT_MAX 50000 /* round trips recorded per measurement */
#define RTT_WARM 200  /* round trips before recording */
#define WATCHDOG_S 60 /* a measurement that takes longer has hung */
#define STOP_SEQ UINT64_MAX

/* Goals from the issue. */
#define GOAL_PUT_GET_X 3.0  /* 1+1: shoal >= 3x the best peer (ceiling excluded) */
#define GOAL_BATCH_FRAC 0.8 /* batched: shoal >= 80% of the ceiling */
#define GOAL_MPMC_X 3.0     /* 2+2: shoal >= 3x the best peer */
#define GOAL_RTT_NS 2000.0  /* round trip median <= 2 us ... */
#define GOAL_RTT_X 20.0     /* ... and >= 20x better than any peer */
#define GOAL_ZC_FRAC 0.9    /* 1 MiB zero copy >= 90% of memcpy */
#define GOAL_COPY_X 5.0     /* 1 MiB copying >= 5x unix_stream (socketpair) */

/* ------------------------------------------------------------ cases -- */

enum mode { M_TPUT, M_RTT, M_BW };

enum case_id { C_PUT_GET, C_BATCH, C_MPMC, C_RTT, C_BW64K, C_BW1M, C_N };

struct case_def {
  const char *key;   /* for -c */
  const char *label; /* the row's name */
  enum mode mode;
  int nprod, ncons, batch;
  size_t size;
};

static const struct case_def cases[C_N] = {
    [C_PUT_GET] = {"put_get", "queue_put_get procs=1+1 msg=64", M_TPUT, 1, 1, 1, MSG},
    [C_BATCH] = {"batch", "queue_batch procs=1+1 msg=64 batch=64", M_TPUT, 1, 1, BATCH, MSG},
    [C_MPMC] = {"mpmc", "queue_put_get procs=2+2 msg=64", M_TPUT, 2, 2, 1, MSG},
    [C_RTT] = {"roundtrip", "queue_roundtrip procs=2 msg=64", M_RTT, 1, 1, 1, MSG},
    [C_BW64K] = {"bw64k", "queue_bandwidth procs=1+1 msg=64KiB", M_BW, 1, 1, 1, 64u << 10},
    [C_BW1M] = {"bw1m", "queue_bandwidth procs=1+1 msg=1MiB", M_BW, 1, 1, 1, 1u << 20},
};

/* What one measurement runs with. */
struct runcfg {
  enum case_id cid;
  enum mode mode;
  int nprod, ncons, batch;
  size_t size;
  long n;             /* messages per producer, round trips, or bandwidth messages */
  bool pin;           /* pin role 0 to cpu[0] and role 1 to cpu[1] */
  bool end_by_parent; /* consumers cannot be stopped by a message (zmq 2+2) */
};

/* ------------------------------------------------------------ basics -- */

static bool in_child;
static pid_t kids[2 * MAXP + 1];
static int nkids;
static int cpu[2] = {-1, -1};

static void kill_kids(void)
{
  for (int i = 0; i < nkids; i++)
    if (kids[i] > 0)
      kill(kids[i], SIGKILL);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
  va_list ap;
  char line[512];
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "bench_queue: FAIL%s: %s\n", in_child ? " (child)" : "", line);
  if (in_child)
    _exit(1);
  kill_kids();
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

static void *map_shared(size_t len)
{
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    die("mmap(%zu): %s", len, strerror(errno));
  return p;
}

static void futex_wait_set(_Atomic uint32_t *w)
{
  while (atomic_load(w) == 0)
    syscall(SYS_futex, w, FUTEX_WAIT, 0, NULL, NULL, 0);
}

static void futex_set_wake(_Atomic uint32_t *w)
{
  atomic_store(w, 1);
  syscall(SYS_futex, w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Writes every byte the iovecs name (which it may modify), in as few calls
 * as the kernel allows. */
static void writev_all(int fd, struct iovec *v, int cnt)
{
  while (cnt > 0) {
    ssize_t k = writev(fd, v, cnt > IOV_MAX ? IOV_MAX : cnt);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      die("writev: %s", strerror(errno));
    }
    while (cnt > 0 && (size_t)k >= v->iov_len) {
      k -= (ssize_t)v->iov_len;
      v++;
      cnt--;
    }
    if (cnt > 0) {
      v->iov_base = (char *)v->iov_base + k;
      v->iov_len -= (size_t)k;
    }
  }
}

static void read_all(int fd, void *buf, size_t len)
{
  char *p = buf;
  while (len) {
    ssize_t k = read(fd, p, len);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      die("read: %s", k ? strerror(errno) : "end of file");
    p += k;
    len -= (size_t)k;
  }
}

/* ------------------------------------------------- message contents -- */

/* A 64-byte message.  The consumer checks every field. */
struct msg64 {
  uint64_t seq;
  uint32_t from;
  uint32_t len;
  uint64_t body[5]; /* seq + i */
  uint64_t check;   /* mix(seq, from) */
};
_Static_assert(sizeof(struct msg64) == MSG, "a message is 64 bytes");

static inline uint64_t mix(uint64_t seq, uint32_t from)
{
  return (seq * UINT64_C(0x9E3779B97F4A7C15)) ^ ((uint64_t)from << 56) ^
         UINT64_C(0x5bd1e9955bd1e995);
}

static inline void msg_make(struct msg64 *m, uint64_t seq, uint32_t from)
{
  m->seq = seq;
  m->from = from;
  m->len = MSG;
  for (int i = 0; i < 5; i++)
    m->body[i] = seq + (uint64_t)i;
  m->check = mix(seq, from);
}

/* A consumer's view of what it received. */
struct vstate {
  int nprod;
  bool exact;          /* 1+1: every producer's sequence must be 0, 1, 2 ... */
  uint64_t next[MAXP]; /* the least sequence number still acceptable */
  uint64_t count, sum; /* data messages, sum of their sequence numbers */
};

/* Checks one received message; returns 1 for data, 0 for a stop message. */
static inline int verify_msg(struct vstate *v, const void *buf, size_t len)
{
  struct msg64 m;
  if (__builtin_expect(len != MSG, 0))
    die("received a message of %zu bytes, expected %d", len, MSG);
  memcpy(&m, buf, sizeof m);
  if (__builtin_expect(
          m.from >= (uint32_t)v->nprod || m.len != MSG || m.check != mix(m.seq, m.from), 0))
    die("received a corrupt message (from %u, seq %llu)", m.from, (unsigned long long)m.seq);
  if (m.seq == STOP_SEQ)
    return 0;
  if (__builtin_expect(m.body[0] != m.seq || m.body[4] != m.seq + 4 ||
                           (v->exact ? m.seq != v->next[m.from] : m.seq < v->next[m.from]),
                       0))
    die("message from %u out of order or corrupt: seq %llu, expected %s%llu", m.from,
        (unsigned long long)m.seq, v->exact ? "" : ">= ", (unsigned long long)v->next[m.from]);
  v->next[m.from] = m.seq + 1;
  v->count++;
  v->sum += m.seq;
  return 1;
}

/* Bandwidth payloads: a prefilled buffer whose first and last word and one
 * word per 4 KiB carry the sequence number. */
#define BW_STAMP_STRIDE 4096u

static char *bw_src;         /* the producer's payload (prefilled before fork) */
static char *bw_dst;         /* the consumer's buffer */
static uint64_t bw_base_sum; /* sum of bw_src's words outside the stamps */

static inline uint64_t stamp_word(uint64_t seq, size_t off)
{
  return seq * UINT64_C(0x100000001B3) + off;
}

static void bw_stamp(char *p, size_t size, uint64_t seq)
{
  for (size_t off = 0; off < size; off += BW_STAMP_STRIDE) {
    uint64_t w = stamp_word(seq, off);
    memcpy(p + off, &w, 8);
  }
  uint64_t w = stamp_word(seq, size - 8);
  memcpy(p + size - 8, &w, 8);
}

static uint64_t bw_stamp_sum(size_t size, uint64_t seq)
{
  uint64_t s = 0;
  for (size_t off = 0; off < size; off += BW_STAMP_STRIDE)
    s += stamp_word(seq, off);
  return s + stamp_word(seq, size - 8);
}

static void bw_check(const char *p, size_t len, size_t size, uint64_t seq)
{
  if (len != size)
    die("bandwidth message %llu: %zu bytes, expected %zu", (unsigned long long)seq, len, size);
  for (size_t off = 0; off < size; off += BW_STAMP_STRIDE) {
    uint64_t w;
    memcpy(&w, p + off, 8);
    if (w != stamp_word(seq, off))
      die("bandwidth message %llu: wrong word at offset %zu", (unsigned long long)seq, off);
  }
  uint64_t w;
  memcpy(&w, p + size - 8, 8);
  if (w != stamp_word(seq, size - 8))
    die("bandwidth message %llu: wrong last word", (unsigned long long)seq);
}

/* Sum of the 64-bit words of p (n a multiple of 64): reads every byte, at
 * memory speed (unaligned 16-byte loads, four accumulators). */
typedef uint64_t v2u64 __attribute__((vector_size(16), aligned(8)));

static uint64_t sum_words(const void *p, size_t n)
{
  const v2u64 *v = p;
  v2u64 a0 = {0, 0}, a1 = {0, 0}, a2 = {0, 0}, a3 = {0, 0};
  for (size_t i = 0; i + 4 <= n / 16; i += 4) {
    a0 += v[i];
    a1 += v[i + 1];
    a2 += v[i + 2];
    a3 += v[i + 3];
  }
  a0 += a1 + a2 + a3;
  return a0[0] + a0[1];
}

static void bw_prepare(size_t size)
{
  free(bw_src);
  free(bw_dst);
  if (posix_memalign((void **)&bw_src, 4096, size) || posix_memalign((void **)&bw_dst, 4096, size))
    die("out of memory");
  for (size_t i = 0; i < size / 8; i++) {
    uint64_t w = i * UINT64_C(0x2545F4914F6CDD1D);
    memcpy(bw_src + 8 * i, &w, 8);
  }
  memset(bw_dst, 0, size);
  /* The words the stamps overwrite are zeroed, so the sum of a message is
   * bw_base_sum + bw_stamp_sum(seq). */
  bw_stamp(bw_src, size, 0);
  bw_base_sum = sum_words(bw_src, size) - bw_stamp_sum(size, 0);
}

/* --------------------------------------------------- shared control -- */

struct ctl {
  _Atomic uint32_t ready, phase, ready2, go, done;
  _Atomic uint32_t cons_done; /* consumers that finished */
  uint64_t t_start[MAXP], t_end[MAXP];
  uint64_t count[MAXP], sum[MAXP];
  _Alignas(64) _Atomic uint64_t progress[MAXP][8]; /* consumers' counts, a line each */
};

static struct ctl *ctl;
static uint32_t *rtt_samples; /* RTT_MAX entries, shared */

/* ------------------------------------------------------------ peers -- */

/* Channels: 0 carries the data (ping in a round trip), 1 the pongs. */
enum { CH_DATA = 0, CH_PING = 0, CH_PONG = 1 };

enum role { ROLE_PROD, ROLE_CONS };

struct peer {
  const char *name;
  unsigned cases;   /* bit per case_id */
  bool external;    /* a program of its own (boost_ipc, py_*) */
  const char *note; /* how it is set up, for the header */
  /* Parent, before forking: make the channels.  Returns 0, or -1 with why
   * filled when the peer cannot do this case (then it shows n/a). */
  int (*setup)(struct runcfg *rc, char *why, size_t whylen);
  void (*teardown)(const struct runcfg *rc);
  /* Child, before the start: phase 0 binds, phase 1 connects (zmq). */
  void (*attach)(const struct runcfg *rc, enum role role, int id, int phase);
  void (*tput_prod)(const struct runcfg *rc, int id);
  void (*tput_cons)(const struct runcfg *rc, int id, struct vstate *v);
  void (*ping)(const struct runcfg *rc);
  void (*pong)(const struct runcfg *rc);
  void (*bw_prod)(const struct runcfg *rc);
  void (*bw_cons)(const struct runcfg *rc);
};

#define INLINE static inline __attribute__((always_inline))

typedef void (*send_fn)(int ch, const void *buf, size_t len);
typedef size_t (*recv_fn)(int ch, void *buf, size_t cap);
typedef void (*sendv_fn)(int ch, const struct iovec *v, int n);
typedef int (*recvv_fn)(int ch, void *buf, size_t cap, size_t *lens, int max);

/* The drivers: each peer instantiates them with its own send/recv, which the
 * compiler inlines, so no peer pays for an indirect call per message. */

/* Stop messages: each consumer stops at the first one it takes, so the
 * producers send ncons of them between them. */
static int stops_for(const struct runcfg *rc, int id)
{
  return rc->ncons / rc->nprod + (id < rc->ncons % rc->nprod);
}

INLINE void drive_tput_prod(send_fn send, sendv_fn sendv, const struct runcfg *rc, int id)
{
  struct msg64 m;
  if (rc->batch <= 1 || !sendv) {
    for (long i = 0; i < rc->n; i++) {
      msg_make(&m, (uint64_t)i, (uint32_t)id);
      send(CH_DATA, &m, MSG);
    }
  } else {
    struct msg64 ms[BATCH];
    struct iovec v[BATCH];
    for (int j = 0; j < BATCH; j++)
      v[j] = (struct iovec){&ms[j], MSG};
    for (long i = 0; i < rc->n; i += rc->batch) {
      int k = rc->n - i < rc->batch ? (int)(rc->n - i) : rc->batch;
      for (int j = 0; j < k; j++)
        msg_make(&ms[j], (uint64_t)(i + j), (uint32_t)id);
      sendv(CH_DATA, v, k);
    }
  }
  if (rc->end_by_parent)
    return;
  msg_make(&m, STOP_SEQ, (uint32_t)id);
  for (int s = stops_for(rc, id); s > 0; s--)
    send(CH_DATA, &m, MSG);
}

INLINE void drive_tput_cons(recv_fn recv, recvv_fn recvv, const struct runcfg *rc, int id,
                            struct vstate *v)
{
  if (rc->batch <= 1 || !recvv) {
    struct msg64 m;
    for (;;) {
      size_t len = recv(CH_DATA, &m, sizeof m);
      if (!verify_msg(v, &m, len))
        return;
      if (rc->end_by_parent)
        atomic_store_explicit(&ctl->progress[id][0], v->count, memory_order_relaxed);
    }
  }
  _Alignas(64) char buf[BATCH * MSG];
  size_t lens[BATCH];
  for (;;) {
    int k = recvv(CH_DATA, buf, sizeof buf, lens, BATCH);
    size_t off = 0;
    for (int j = 0; j < k; j++) {
      if (!verify_msg(v, buf + off, lens[j])) {
        if (j != k - 1)
          die("messages after a stop message");
        return;
      }
      off += lens[j];
    }
  }
}

INLINE void drive_ping(send_fn send, recv_fn recv, const struct runcfg *rc)
{
  struct msg64 m, r;
  for (long i = -RTT_WARM; i < rc->n; i++) {
    msg_make(&m, (uint64_t)(i + RTT_WARM), 0);
    uint64_t t0 = bench_now_ns();
    send(CH_PING, &m, MSG);
    size_t len = recv(CH_PONG, &r, sizeof r);
    uint64_t t1 = bench_now_ns();
    if (len != MSG || memcmp(&m, &r, MSG) != 0)
      die("round trip %ld: the pong differs from the ping", i);
    if (i >= 0)
      rtt_samples[i] = t1 - t0 > UINT32_MAX ? UINT32_MAX : (uint32_t)(t1 - t0);
  }
  msg_make(&m, STOP_SEQ, 0);
  send(CH_PING, &m, MSG);
}

INLINE void drive_pong(send_fn send, recv_fn recv, const struct runcfg *rc)
{
  struct vstate v = {.nprod = 1, .exact = true};
  struct msg64 m;
  (void)rc;
  for (;;) {
    size_t len = recv(CH_PING, &m, sizeof m);
    if (!verify_msg(&v, &m, len))
      return;
    send(CH_PONG, &m, len);
  }
}

INLINE void drive_bw_prod(send_fn send, const struct runcfg *rc)
{
  for (long i = 0; i < rc->n; i++) {
    bw_stamp(bw_src, rc->size, (uint64_t)i);
    send(CH_DATA, bw_src, rc->size);
  }
}

INLINE void drive_bw_cons(recv_fn recv, const struct runcfg *rc)
{
  for (long i = 0; i < rc->n; i++) {
    size_t len = recv(CH_DATA, bw_dst, rc->size);
    bw_check(bw_dst, len, rc->size, (uint64_t)i);
  }
  ctl->count[0] = (uint64_t)rc->n;
}

#define DEFINE_DRIVERS(X, SENDV, RECVV)                                                            \
  static void X##_tput_prod(const struct runcfg *rc, int id)                                       \
  {                                                                                                \
    drive_tput_prod(X##_send, SENDV, rc, id);                                                      \
  }                                                                                                \
  static void X##_tput_cons(const struct runcfg *rc, int id, struct vstate *v)                     \
  {                                                                                                \
    drive_tput_cons(X##_recv, RECVV, rc, id, v);                                                   \
  }                                                                                                \
  static void X##_ping(const struct runcfg *rc)                                                    \
  {                                                                                                \
    drive_ping(X##_send, X##_recv, rc);                                                            \
  }                                                                                                \
  static void X##_pong(const struct runcfg *rc)                                                    \
  {                                                                                                \
    drive_pong(X##_send, X##_recv, rc);                                                            \
  }                                                                                                \
  static void X##_bw_prod(const struct runcfg *rc)                                                 \
  {                                                                                                \
    drive_bw_prod(X##_send, rc);                                                                   \
  }                                                                                                \
  static void X##_bw_cons(const struct runcfg *rc)                                                 \
  {                                                                                                \
    drive_bw_cons(X##_recv, rc);                                                                   \
  }

static int nchannels(const struct runcfg *rc)
{
  return rc->mode == M_RTT ? 2 : 1;
}

/* ---- shoal ---------------------------------------------------------------- */

static shoal_queue *sq[2];

static size_t shoal_capacity(const struct runcfg *rc)
{
  /* Bandwidth: 4 x the message size, room for three messages in flight. */
  return rc->mode == M_BW ? 4 * rc->size : SHOAL_SMALL_CAP;
}

static int sh_setup(struct runcfg *rc, char *why, size_t whylen)
{
  (void)why;
  (void)whylen;
  for (int c = 0; c < nchannels(rc); c++) {
    int r = shoal_queue_create(&sq[c], &(shoal_queue_opts){.capacity = shoal_capacity(rc)});
    if (r)
      die("shoal_queue_create: %s", shoal_err_name(r));
  }
  return 0;
}

static void sh_teardown(const struct runcfg *rc)
{
  for (int c = 0; c < nchannels(rc); c++) {
    shoal_queue_info st;
    if (shoal_queue_stats(sq[c], &st) == 0 && (st.depth || st.losses))
      die("shoal queue left with %llu messages, %llu lost", (unsigned long long)st.depth,
          (unsigned long long)st.losses);
    shoal_queue_destroy(sq[c]);
    sq[c] = NULL;
  }
}

static inline void sh_send(int ch, const void *buf, size_t len)
{
  int r = shoal_queue_put(sq[ch], buf, len, SHOAL_FOREVER);
  if (__builtin_expect(r != 0, 0))
    die("shoal_queue_put: %s", shoal_err_name(r));
}

static inline size_t sh_recv(int ch, void *buf, size_t cap)
{
  size_t len = cap;
  int r = shoal_queue_get(sq[ch], buf, &len, SHOAL_FOREVER);
  if (__builtin_expect(r != 0, 0))
    die("shoal_queue_get: %s", shoal_err_name(r));
  return len;
}

static inline void sh_sendv(int ch, const struct iovec *v, int n)
{
  while (n > 0) {
    int r = shoal_queue_put_many(sq[ch], v, (size_t)n, SHOAL_FOREVER);
    if (__builtin_expect(r <= 0, 0))
      die("shoal_queue_put_many: %s", shoal_err_name(r));
    v += r;
    n -= r;
  }
}

static inline int sh_recvv(int ch, void *buf, size_t cap, size_t *lens, int max)
{
  int r = shoal_queue_get_many(sq[ch], buf, cap, lens, (size_t)max, SHOAL_FOREVER);
  if (__builtin_expect(r <= 0, 0))
    die("shoal_queue_get_many: %s", shoal_err_name(r));
  return r;
}

DEFINE_DRIVERS(sh, sh_sendv, sh_recvv)

/* Zero copy: the producer writes the payload straight into the queue (the
 * same bytes a put would copy there), the consumer reads every word of it in
 * place and checks the sum. */
static void shzc_bw_prod(const struct runcfg *rc)
{
  for (long i = 0; i < rc->n; i++) {
    void *p;
    int r = shoal_queue_loan(sq[CH_DATA], rc->size, &p, SHOAL_FOREVER);
    if (r)
      die("shoal_queue_loan: %s", shoal_err_name(r));
    bw_stamp(bw_src, rc->size, (uint64_t)i);
    memcpy(p, bw_src, rc->size);
    if ((r = shoal_queue_commit(sq[CH_DATA])) != 0)
      die("shoal_queue_commit: %s", shoal_err_name(r));
  }
}

static void shzc_bw_cons(const struct runcfg *rc)
{
  for (long i = 0; i < rc->n; i++) {
    const void *p;
    size_t len;
    int r = shoal_queue_peek(sq[CH_DATA], &p, &len, SHOAL_FOREVER);
    if (r)
      die("shoal_queue_peek: %s", shoal_err_name(r));
    bw_check(p, len, rc->size, (uint64_t)i);
    if (sum_words(p, len) != bw_base_sum + bw_stamp_sum(rc->size, (uint64_t)i))
      die("zero-copy message %ld: the payload's sum is wrong", i);
    if ((r = shoal_queue_release(sq[CH_DATA])) != 0)
      die("shoal_queue_release: %s", shoal_err_name(r));
  }
  ctl->count[0] = (uint64_t)rc->n;
}

/* ---- memcpy (one process) -------------------------------------------------- */

static int mc_setup(struct runcfg *rc, char *why, size_t whylen)
{
  (void)rc;
  (void)why;
  (void)whylen;
  return 0;
}

static void mc_teardown(const struct runcfg *rc)
{
  (void)rc;
}

static void mc_bw_prod(const struct runcfg *rc)
{
  for (long i = 0; i < rc->n; i++) {
    memcpy(bw_dst, bw_src, rc->size);
    __asm__ __volatile__("" ::"r"(bw_dst) : "memory");
  }
  bw_check(bw_dst, rc->size, rc->size, 0);
  ctl->count[0] = (uint64_t)rc->n;
}

/* ---- the ceiling: busy-polling SPSC ring -------------------------------------- */

struct spsc {
  _Alignas(64) _Atomic uint64_t tail; /* written by the producer */
  uint64_t head_cache;                /* the producer's copy of head */
  _Alignas(64) _Atomic uint64_t head; /* written by the consumer */
  uint64_t tail_cache;                /* the consumer's copy of tail */
  _Alignas(64) unsigned char slot[RING_SLOTS][MSG];
};

static struct spsc *spsc[2];

static int sp_setup(struct runcfg *rc, char *why, size_t whylen)
{
  if (rc->nprod != 1 || rc->ncons != 1 || rc->mode == M_BW) {
    snprintf(why, whylen, "single producer, single consumer, 64-byte slots");
    return -1;
  }
  for (int c = 0; c < nchannels(rc); c++)
    spsc[c] = map_shared(sizeof(struct spsc));
  return 0;
}

static void sp_teardown(const struct runcfg *rc)
{
  for (int c = 0; c < nchannels(rc); c++)
    munmap(spsc[c], sizeof(struct spsc));
}

static inline void sp_send(int ch, const void *buf, size_t len)
{
  struct spsc *r = spsc[ch];
  uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
  (void)len;
  if (t - r->head_cache == RING_SLOTS)
    /* Acquire: the consumer is done reading the slot we are about to reuse. */
    while (t - (r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire)) == RING_SLOTS)
      cpu_relax();
  memcpy(r->slot[t % RING_SLOTS], buf, MSG);
  atomic_store_explicit(&r->tail, t + 1, memory_order_release);
}

static inline size_t sp_recv(int ch, void *buf, size_t cap)
{
  struct spsc *r = spsc[ch];
  uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  (void)cap;
  if (h == r->tail_cache)
    while ((r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire)) == h)
      cpu_relax();
  memcpy(buf, r->slot[h % RING_SLOTS], MSG);
  atomic_store_explicit(&r->head, h + 1, memory_order_release);
  return MSG;
}

static inline void sp_sendv(int ch, const struct iovec *v, int n)
{
  struct spsc *r = spsc[ch];
  uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
  if (t + (uint64_t)n - r->head_cache > RING_SLOTS)
    while (t + (uint64_t)n -
               (r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire)) >
           RING_SLOTS)
      cpu_relax();
  for (int j = 0; j < n; j++)
    memcpy(r->slot[(t + (uint64_t)j) % RING_SLOTS], v[j].iov_base, MSG);
  atomic_store_explicit(&r->tail, t + (uint64_t)n, memory_order_release);
}

static inline int sp_recvv(int ch, void *buf, size_t cap, size_t *lens, int max)
{
  struct spsc *r = spsc[ch];
  uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  (void)cap;
  if (h == r->tail_cache)
    while ((r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire)) == h)
      cpu_relax();
  uint64_t avail = r->tail_cache - h;
  int k = avail < (uint64_t)max ? (int)avail : max;
  for (int j = 0; j < k; j++) {
    memcpy((char *)buf + (size_t)j * MSG, r->slot[(h + (uint64_t)j) % RING_SLOTS], MSG);
    lens[j] = MSG;
  }
  atomic_store_explicit(&r->head, h + (uint64_t)k, memory_order_release);
  return k;
}

DEFINE_DRIVERS(sp, sp_sendv, sp_recvv)

/* ---- mutex + condition variables ring ------------------------------------------ */

struct cvring {
  pthread_mutex_t mu;
  pthread_cond_t not_empty, not_full;
  uint64_t head, tail;
  _Alignas(64) unsigned char slot[RING_SLOTS][MSG];
};

static struct cvring *cvr[2];

static int cv_setup(struct runcfg *rc, char *why, size_t whylen)
{
  if (rc->mode == M_BW) {
    snprintf(why, whylen, "64-byte slots");
    return -1;
  }
  for (int c = 0; c < nchannels(rc); c++) {
    struct cvring *r = cvr[c] = map_shared(sizeof(struct cvring));
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    if (pthread_mutex_init(&r->mu, &ma) || pthread_cond_init(&r->not_empty, &ca) ||
        pthread_cond_init(&r->not_full, &ca))
      die("pthread init failed");
    pthread_mutexattr_destroy(&ma);
    pthread_condattr_destroy(&ca);
  }
  return 0;
}

static void cv_teardown(const struct runcfg *rc)
{
  for (int c = 0; c < nchannels(rc); c++) {
    pthread_mutex_destroy(&cvr[c]->mu);
    pthread_cond_destroy(&cvr[c]->not_empty);
    pthread_cond_destroy(&cvr[c]->not_full);
    munmap(cvr[c], sizeof(struct cvring));
  }
}

static inline void cv_sendv(int ch, const struct iovec *v, int n)
{
  struct cvring *r = cvr[ch];
  pthread_mutex_lock(&r->mu);
  while (r->tail + (uint64_t)n - r->head > RING_SLOTS)
    pthread_cond_wait(&r->not_full, &r->mu);
  for (int j = 0; j < n; j++)
    memcpy(r->slot[(r->tail + (uint64_t)j) % RING_SLOTS], v[j].iov_base, MSG);
  r->tail += (uint64_t)n;
  if (n == 1)
    pthread_cond_signal(&r->not_empty);
  else
    pthread_cond_broadcast(&r->not_empty);
  pthread_mutex_unlock(&r->mu);
}

static inline void cv_send(int ch, const void *buf, size_t len)
{
  struct iovec v = {(void *)buf, len};
  cv_sendv(ch, &v, 1);
}

static inline int cv_recvv(int ch, void *buf, size_t cap, size_t *lens, int max)
{
  struct cvring *r = cvr[ch];
  (void)cap;
  pthread_mutex_lock(&r->mu);
  while (r->tail == r->head)
    pthread_cond_wait(&r->not_empty, &r->mu);
  uint64_t avail = r->tail - r->head;
  int k = avail < (uint64_t)max ? (int)avail : max;
  for (int j = 0; j < k; j++) {
    memcpy((char *)buf + (size_t)j * MSG, r->slot[(r->head + (uint64_t)j) % RING_SLOTS], MSG);
    lens[j] = MSG;
  }
  r->head += (uint64_t)k;
  pthread_cond_broadcast(&r->not_full);
  pthread_mutex_unlock(&r->mu);
  return k;
}

static inline size_t cv_recv(int ch, void *buf, size_t cap)
{
  size_t len;
  cv_recvv(ch, buf, cap, &len, 1);
  return len;
}

DEFINE_DRIVERS(cv, cv_sendv, cv_recvv)

/* ---- byte streams: pipe and unix_stream ------------------------------------------ */

/* Frames are a 4-byte length and the payload.  A sender writes each frame
 * (each batch of frames) with one writev; a lone consumer reads through a
 * 64 KiB buffer, so that one read(2) takes every frame that is there.  With
 * several consumers (2+2) each reads exactly one 68-byte frame per read(2):
 * frames of at most PIPE_BUF bytes are written atomically, so the bytes in
 * the stream are always whole frames. */
static int st_wfd[2] = {-1, -1}, st_rfd[2] = {-1, -1};
static bool st_exact;
static struct sreader {
  char *buf;
  size_t start, end;
} st_rd[2];

static int stream_setup(struct runcfg *rc, bool socket_pair, char *why, size_t whylen)
{
  (void)why;
  (void)whylen;
  st_exact = rc->ncons > 1;
  for (int c = 0; c < nchannels(rc); c++) {
    int fds[2];
    if (socket_pair) {
      if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
        die("socketpair: %s", strerror(errno));
      st_wfd[c] = fds[0];
      st_rfd[c] = fds[1];
    } else {
      if (pipe(fds) != 0)
        die("pipe: %s", strerror(errno));
      st_rfd[c] = fds[0];
      st_wfd[c] = fds[1];
    }
    st_rd[c].start = st_rd[c].end = 0;
    if (!st_rd[c].buf && !(st_rd[c].buf = malloc(STREAM_BUF)))
      die("out of memory");
  }
  return 0;
}

static int pipe_setup(struct runcfg *rc, char *why, size_t whylen)
{
  return stream_setup(rc, false, why, whylen);
}

static int ustream_setup(struct runcfg *rc, char *why, size_t whylen)
{
  return stream_setup(rc, true, why, whylen);
}

static void st_teardown(const struct runcfg *rc)
{
  for (int c = 0; c < nchannels(rc); c++) {
    close(st_wfd[c]);
    close(st_rfd[c]);
    st_wfd[c] = st_rfd[c] = -1;
  }
}

static inline void st_send(int ch, const void *buf, size_t len)
{
  uint32_t hdr = (uint32_t)len;
  struct iovec v[2] = {{&hdr, 4}, {(void *)buf, len}};
  writev_all(st_wfd[ch], v, 2);
}

static inline void st_sendv(int ch, const struct iovec *msgs, int n)
{
  struct iovec v[2 * BATCH];
  uint32_t hdr[BATCH];
  for (int j = 0; j < n; j++) {
    hdr[j] = (uint32_t)msgs[j].iov_len;
    v[2 * j] = (struct iovec){&hdr[j], 4};
    v[2 * j + 1] = msgs[j];
  }
  writev_all(st_wfd[ch], v, 2 * n);
}

/* Reads until the buffer holds at least `want` bytes. */
static void st_fill(int ch, size_t want)
{
  struct sreader *r = &st_rd[ch];
  if (r->end - r->start >= want)
    return;
  if (r->start) {
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
  }
  while (r->end < want) {
    ssize_t k = read(st_rfd[ch], r->buf + r->end, STREAM_BUF - r->end);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      die("stream read: %s", k ? strerror(errno) : "end of file");
    r->end += (size_t)k;
  }
}

static inline size_t st_recv(int ch, void *buf, size_t cap)
{
  struct sreader *r = &st_rd[ch];
  uint32_t hdr;
  if (st_exact) {
    char frame[4 + MSG];
    ssize_t k;
    while ((k = read(st_rfd[ch], frame, sizeof frame)) < 0 && errno == EINTR)
      ;
    if (k != (ssize_t)sizeof frame)
      die("stream read returned %zd bytes, not one %zu-byte frame", k, sizeof frame);
    memcpy(&hdr, frame, 4);
    if (hdr > cap)
      die("stream frame of %u bytes", hdr);
    memcpy(buf, frame + 4, hdr);
    return hdr;
  }
  st_fill(ch, 4);
  memcpy(&hdr, r->buf + r->start, 4);
  r->start += 4;
  if (hdr > cap)
    die("stream frame of %u bytes, buffer of %zu", hdr, cap);
  size_t have = r->end - r->start;
  if (hdr <= have || hdr <= STREAM_BUF / 2) {
    st_fill(ch, hdr);
    memcpy(buf, r->buf + r->start, hdr);
    r->start += hdr;
  } else {
    /* A large payload: what is buffered, then straight into buf. */
    memcpy(buf, r->buf + r->start, have);
    r->start = r->end = 0;
    read_all(st_rfd[ch], (char *)buf + have, hdr - have);
  }
  return hdr;
}

static inline int st_recvv(int ch, void *buf, size_t cap, size_t *lens, int max)
{
  struct sreader *r = &st_rd[ch];
  size_t used = 0;
  int k = 0;
  st_fill(ch, 4 + MSG); /* at least one frame; then whatever complete frames are there */
  while (k < max && r->end - r->start >= 4) {
    uint32_t hdr;
    memcpy(&hdr, r->buf + r->start, 4);
    if (hdr > MSG)
      die("stream frame of %u bytes", hdr);
    if (r->end - r->start < 4 + hdr || used + hdr > cap)
      break;
    memcpy((char *)buf + used, r->buf + r->start + 4, hdr);
    r->start += 4 + hdr;
    lens[k++] = hdr;
    used += hdr;
  }
  return k;
}

DEFINE_DRIVERS(st, st_sendv, st_recvv)

/* ---- unix_seqpacket ---------------------------------------------------------------- */

static int sp_fd[2][2] = {{-1, -1}, {-1, -1}};

static int seq_setup(struct runcfg *rc, char *why, size_t whylen)
{
  for (int c = 0; c < nchannels(rc); c++) {
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp_fd[c]) != 0)
      die("socketpair(SOCK_SEQPACKET): %s", strerror(errno));
    if (rc->mode == M_BW) {
      /* A packet must fit in the send buffer: ask for the most allowed. */
      int sz = 4 << 20, got = 0;
      socklen_t gl = sizeof got;
      setsockopt(sp_fd[c][0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
      setsockopt(sp_fd[c][1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
      getsockopt(sp_fd[c][0], SOL_SOCKET, SO_SNDBUF, &got, &gl);
      if ((size_t)got < rc->size + 4096) {
        snprintf(why, whylen, "a %zu-byte packet exceeds SO_SNDBUF (%d)", rc->size, got);
        close(sp_fd[c][0]);
        close(sp_fd[c][1]);
        return -1;
      }
    }
  }
  return 0;
}

static void seq_teardown(const struct runcfg *rc)
{
  for (int c = 0; c < nchannels(rc); c++) {
    close(sp_fd[c][0]);
    close(sp_fd[c][1]);
  }
}

static inline void seq_send(int ch, const void *buf, size_t len)
{
  ssize_t k;
  while ((k = send(sp_fd[ch][0], buf, len, MSG_NOSIGNAL)) < 0 && errno == EINTR)
    ;
  if (k != (ssize_t)len)
    die("send(SOCK_SEQPACKET): %s", k < 0 ? strerror(errno) : "short");
}

static inline size_t seq_recv(int ch, void *buf, size_t cap)
{
  ssize_t k;
  while ((k = recv(sp_fd[ch][1], buf, cap, MSG_TRUNC)) < 0 && errno == EINTR)
    ;
  if (k < 0 || (size_t)k > cap)
    die("recv(SOCK_SEQPACKET): %s", k < 0 ? strerror(errno) : "truncated");
  return (size_t)k;
}

static inline void seq_sendv(int ch, const struct iovec *v, int n)
{
  struct mmsghdr mh[BATCH];
  memset(mh, 0, sizeof(struct mmsghdr) * (size_t)n);
  for (int j = 0; j < n; j++) {
    mh[j].msg_hdr.msg_iov = (struct iovec *)&v[j];
    mh[j].msg_hdr.msg_iovlen = 1;
  }
  for (int done = 0; done < n;) {
    int k = sendmmsg(sp_fd[ch][0], mh + done, (unsigned)(n - done), MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      die("sendmmsg: %s", strerror(errno));
    done += k;
  }
}

static inline int seq_recvv(int ch, void *buf, size_t cap, size_t *lens, int max)
{
  struct mmsghdr mh[BATCH];
  struct iovec v[BATCH];
  size_t slot = cap / (size_t)max;
  memset(mh, 0, sizeof(struct mmsghdr) * (size_t)max);
  for (int j = 0; j < max; j++) {
    v[j] = (struct iovec){(char *)buf + (size_t)j * slot, slot};
    mh[j].msg_hdr.msg_iov = &v[j];
    mh[j].msg_hdr.msg_iovlen = 1;
  }
  int k;
  while ((k = recvmmsg(sp_fd[ch][1], mh, (unsigned)max, MSG_WAITFORONE, NULL)) < 0 &&
         errno == EINTR)
    ;
  if (k <= 0)
    die("recvmmsg: %s", k < 0 ? strerror(errno) : "nothing");
  /* Messages land slot by slot; the driver reads them back to back. */
  for (int j = 0; j < k; j++) {
    if (mh[j].msg_hdr.msg_flags & MSG_TRUNC)
      die("recvmmsg: truncated");
    lens[j] = mh[j].msg_len;
    if (slot != mh[j].msg_len)
      die("recvmmsg: a %u-byte message", mh[j].msg_len);
  }
  return k;
}

DEFINE_DRIVERS(seq, seq_sendv, seq_recvv)

/* ---- posix_mq ----------------------------------------------------------------------- */

static mqd_t mq[2] = {(mqd_t)-1, (mqd_t)-1};
static long mq_depth_used;

static long read_proc_long(const char *path)
{
  FILE *f = fopen(path, "r");
  long v = -1;
  if (f) {
    if (fscanf(f, "%ld", &v) != 1)
      v = -1;
    fclose(f);
  }
  return v;
}

static int mq_setup(struct runcfg *rc, char *why, size_t whylen)
{
  long msgsize_max = read_proc_long("/proc/sys/fs/mqueue/msgsize_max");
  long msg_max = read_proc_long("/proc/sys/fs/mqueue/msg_max");
  for (int c = 0; c < nchannels(rc); c++) {
    char name[64];
    snprintf(name, sizeof name, "/shoal-bench-queue-%d-%d", (int)getpid(), c);
    /* As deep as the other rings when the system lets us (a privileged
     * process may exceed msg_max), else msg_max. */
    long depths[2] = {RING_SLOTS, msg_max > 0 ? msg_max : 10};
    mq[c] = (mqd_t)-1;
    for (int t = 0; t < 2 && mq[c] == (mqd_t)-1; t++) {
      struct mq_attr a = {.mq_maxmsg = depths[t], .mq_msgsize = (long)rc->size};
      mq[c] = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
      if (mq[c] != (mqd_t)-1)
        mq_depth_used = depths[t];
    }
    if (mq[c] == (mqd_t)-1) {
      snprintf(why, whylen, "mq_open(msgsize %zu): %s (msgsize_max %ld, msg_max %ld)", rc->size,
               strerror(errno), msgsize_max, msg_max);
      for (int d = 0; d < c; d++)
        mq_close(mq[d]);
      return -1;
    }
    mq_unlink(name); /* the descriptors keep it; children inherit them */
  }
  return 0;
}

static void mq_teardown(const struct runcfg *rc)
{
  for (int c = 0; c < nchannels(rc); c++)
    mq_close(mq[c]);
}

static inline void mq_send1(int ch, const void *buf, size_t len)
{
  while (mq_send(mq[ch], buf, len, 0) != 0)
    if (errno != EINTR)
      die("mq_send: %s", strerror(errno));
}

static inline size_t mq_recv1(int ch, void *buf, size_t cap)
{
  ssize_t k;
  while ((k = mq_receive(mq[ch], buf, cap, NULL)) < 0)
    if (errno != EINTR)
      die("mq_receive: %s", strerror(errno));
  return (size_t)k;
}

#define mqp_send mq_send1
#define mqp_recv mq_recv1
DEFINE_DRIVERS(mqp, NULL, NULL)

/* ---- zmq_ipc ------------------------------------------------------------------------ */

#ifdef SHOAL_BENCH_HAVE_ZMQ
/* PUSH/PULL over ipc://.  Each consumer binds a PULL socket; each producer
 * connects one PUSH socket to every consumer, which deals its messages round
 * robin.  A PUSH socket cannot address one consumer, so in the 2+2 case the
 * consumers are stopped by the parent once their counts (published after
 * every message) add up; the end time is when the parent saw that (it looks
 * every 0.2 ms). */
static void *zctx;
static void *zsock[2][2]; /* [channel][0 = send, 1 = receive] */
static char zdir[64];

static void zep(char *out, size_t len, int ch, int cons)
{
  snprintf(out, len, "ipc://%s/c%d-%d", zdir, ch, cons);
}

static int zmq_setup(struct runcfg *rc, char *why, size_t whylen)
{
  (void)why;
  (void)whylen;
  snprintf(zdir, sizeof zdir, "/tmp/shoal-bench-zmq-%d", (int)getpid());
  if (mkdir(zdir, 0700) != 0 && errno != EEXIST)
    die("mkdir %s: %s", zdir, strerror(errno));
  rc->end_by_parent = rc->mode == M_TPUT && rc->ncons > 1;
  return 0;
}

static void zmq_teardown(const struct runcfg *rc)
{
  char path[128];
  for (int c = 0; c < 2; c++)
    for (int k = 0; k < MAXP; k++) {
      snprintf(path, sizeof path, "%s/c%d-%d", zdir, c, k);
      unlink(path);
    }
  rmdir(zdir);
  (void)rc;
}

static void zcheck(int rc, const char *what)
{
  if (rc != 0)
    die("%s: %s", what, zmq_strerror(zmq_errno()));
}

static void *zsocket(const struct runcfg *rc, int type)
{
  void *s = zmq_socket(zctx, type);
  if (!s)
    die("zmq_socket: %s", zmq_strerror(zmq_errno()));
  if (rc->mode == M_BW) {
    /* About BW_INFLIGHT_BYTES queued on each side, as for shoal. */
    int hwm = (int)(BW_INFLIGHT_BYTES / rc->size);
    hwm = hwm < 2 ? 2 : hwm;
    zcheck(zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm), "ZMQ_SNDHWM");
    zcheck(zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm), "ZMQ_RCVHWM");
  }
  if (type == ZMQ_PULL && rc->end_by_parent) {
    int ms = 5;
    zcheck(zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms), "ZMQ_RCVTIMEO");
  }
  return s;
}

static void zmq_attach(const struct runcfg *rc, enum role role, int id, int phase)
{
  char ep[128];
  if (phase == 0) {
    zctx = zmq_ctx_new();
    if (!zctx)
      die("zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
  }
  if (rc->mode == M_RTT) {
    /* The pinger (producer role) receives on CH_PONG, the ponger on CH_PING. */
    int rx = role == ROLE_PROD ? CH_PONG : CH_PING;
    if (phase == 0) {
      zsock[rx][1] = zsocket(rc, ZMQ_PULL);
      zep(ep, sizeof ep, rx, 0);
      zcheck(zmq_bind(zsock[rx][1], ep), "zmq_bind");
    } else {
      zsock[1 - rx][0] = zsocket(rc, ZMQ_PUSH);
      zep(ep, sizeof ep, 1 - rx, 0);
      zcheck(zmq_connect(zsock[1 - rx][0], ep), "zmq_connect");
    }
    return;
  }
  if (role == ROLE_CONS && phase == 0) {
    zsock[CH_DATA][1] = zsocket(rc, ZMQ_PULL);
    zep(ep, sizeof ep, CH_DATA, id);
    zcheck(zmq_bind(zsock[CH_DATA][1], ep), "zmq_bind");
  } else if (role == ROLE_PROD && phase == 1) {
    zsock[CH_DATA][0] = zsocket(rc, ZMQ_PUSH);
    for (int c = 0; c < rc->ncons; c++) {
      zep(ep, sizeof ep, CH_DATA, c);
      zcheck(zmq_connect(zsock[CH_DATA][0], ep), "zmq_connect");
    }
  }
}

static inline void zq_send(int ch, const void *buf, size_t len)
{
  while (zmq_send(zsock[ch][0], buf, len, 0) < 0)
    if (zmq_errno() != EINTR)
      die("zmq_send: %s", zmq_strerror(zmq_errno()));
}

static inline size_t zq_recv(int ch, void *buf, size_t cap)
{
  int k;
  while ((k = zmq_recv(zsock[ch][1], buf, cap, 0)) < 0) {
    if (zmq_errno() == EAGAIN && atomic_load(&ctl->done))
      return 0; /* the parent ended a 2+2 run */
    if (zmq_errno() != EINTR && zmq_errno() != EAGAIN)
      die("zmq_recv: %s", zmq_strerror(zmq_errno()));
  }
  if ((size_t)k > cap)
    die("zmq_recv: a %d-byte message truncated", k);
  return (size_t)k;
}

/* The 2+2 consumer: no stop message, a parent-ended loop. */
static void zq_tput_cons(const struct runcfg *rc, int id, struct vstate *v)
{
  if (!rc->end_by_parent) {
    drive_tput_cons(zq_recv, NULL, rc, id, v);
    return;
  }
  struct msg64 m;
  for (;;) {
    size_t len = zq_recv(CH_DATA, &m, sizeof m);
    if (len == 0)
      return;
    if (!verify_msg(v, &m, len))
      die("zmq: unexpected stop message");
    atomic_store_explicit(&ctl->progress[id][0], v->count, memory_order_relaxed);
  }
}

static void zq_tput_prod(const struct runcfg *rc, int id)
{
  drive_tput_prod(zq_send, NULL, rc, id);
}
static void zq_ping(const struct runcfg *rc)
{
  drive_ping(zq_send, zq_recv, rc);
}
static void zq_pong(const struct runcfg *rc)
{
  drive_pong(zq_send, zq_recv, rc);
}
static void zq_bw_prod(const struct runcfg *rc)
{
  drive_bw_prod(zq_send, rc);
}
static void zq_bw_cons(const struct runcfg *rc)
{
  drive_bw_cons(zq_recv, rc);
}

/* Children end through _exit; a PUSH socket must first hand over what it
 * still holds, which zmq_ctx_term waits for (linger is infinite). */
static void zmq_child_done(void)
{
  for (int c = 0; c < 2; c++)
    for (int k = 0; k < 2; k++)
      if (zsock[c][k]) {
        zmq_close(zsock[c][k]);
        zsock[c][k] = NULL;
      }
  if (zctx) {
    zmq_ctx_term(zctx);
    zctx = NULL;
  }
}
#endif

/* ---- the peer table ------------------------------------------------------------------ */

#define ALL_CASES ((1u << C_N) - 1)
#define NO_BATCH (ALL_CASES & ~(1u << C_BATCH))
#define BW_ONLY ((1u << C_BW64K) | (1u << C_BW1M))

#define C_PEER(X, setup_, teardown_)                                                               \
  .setup = setup_, .teardown = teardown_, .tput_prod = X##_tput_prod, .tput_cons = X##_tput_cons,  \
  .ping = X##_ping, .pong = X##_pong, .bw_prod = X##_bw_prod, .bw_cons = X##_bw_cons

enum peer_id {
  P_SHOAL,
  P_SHOAL_ZC,
  P_MEMCPY,
  P_CEILING,
  P_MUTEX_COND,
  P_BOOST,
  P_ZMQ,
  P_MQ,
  P_PIPE,
  P_USTREAM,
  P_USEQ,
  P_PY_QUEUE,
  P_PY_PIPE,
  P_N
};

static struct peer peers[P_N] = {
    [P_SHOAL] = {"shoal", ALL_CASES, false,
                 "shoal_queue_put/get (put_many/get_many batched), capacity 256 KiB "
                 "(bandwidth: 4 x the message size: 3 messages in flight)",
                 C_PEER(sh, sh_setup, sh_teardown)},
    [P_SHOAL_ZC] = {"shoal_zc", BW_ONLY, false,
                    "loan+commit (payload written in place), peek+release (every word read)",
                    .setup = sh_setup, .teardown = sh_teardown, .bw_prod = shzc_bw_prod,
                    .bw_cons = shzc_bw_cons},
    [P_MEMCPY] = {"memcpy", BW_ONLY, false, "memcpy of the message size in one process",
                  .setup = mc_setup, .teardown = mc_teardown, .bw_prod = mc_bw_prod},
    [P_CEILING] = {"ceiling_spsc", ALL_CASES, false,
                   "busy-polling SPSC ring, 4096 x 64 B slots, cached indices, no syscalls; "
                   "batched: one index store per batch",
                   C_PEER(sp, sp_setup, sp_teardown)},
    [P_MUTEX_COND] = {"mutex_cond", ALL_CASES, false,
                      "4096 x 64 B ring, pshared pthread mutex + 2 condvars; batched: one "
                      "lock per batch",
                      C_PEER(cv, cv_setup, cv_teardown)},
    [P_BOOST] = {"boost_ipc", NO_BATCH, true,
                 "boost::interprocess::message_queue, 4096 x 64 B (bandwidth: 4 MiB in flight); "
                 "no batch API",
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
#ifdef SHOAL_BENCH_HAVE_ZMQ
    [P_ZMQ] = {"zmq_ipc", NO_BATCH, false,
               "PUSH/PULL ipc://, default HWM 1000 (bandwidth: 4 MiB in flight per side); batches "
               "on the wire by itself, no batch API",
               .setup = zmq_setup, .teardown = zmq_teardown, .attach = zmq_attach,
               .tput_prod = zq_tput_prod, .tput_cons = zq_tput_cons, .ping = zq_ping,
               .pong = zq_pong, .bw_prod = zq_bw_prod, .bw_cons = zq_bw_cons},
#else
    [P_ZMQ] = {"zmq_ipc", NO_BATCH, false, "not built (no libzmq)", NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL},
#endif
    [P_MQ] = {"posix_mq", NO_BATCH, false, NULL /* filled in at run time */,
              C_PEER(mqp, mq_setup, mq_teardown)},
    [P_PIPE] = {"pipe", ALL_CASES, false,
                "4-byte length + payload frames, one writev per message (per batch), 64 KiB "
                "buffered reads (2+2: one read per frame); default 64 KiB pipe buffer",
                C_PEER(st, pipe_setup, st_teardown)},
    [P_USTREAM] = {"unix_stream", ALL_CASES, false,
                   "socketpair SOCK_STREAM, framed as pipe, default buffer sizes",
                   C_PEER(st, ustream_setup, st_teardown)},
    [P_USEQ] = {"unix_seqpacket", ALL_CASES, false,
                "socketpair SOCK_SEQPACKET, one packet a message; batched: sendmmsg/recvmmsg; "
                "bandwidth: SO_SNDBUF/SO_RCVBUF 4 MiB (a packet must fit)",
                C_PEER(seq, seq_setup, seq_teardown)},
    [P_PY_QUEUE] = {"py_mp_queue", NO_BATCH, true, "multiprocessing.Queue (fork), bytes objects",
                    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
    [P_PY_PIPE] = {"py_mp_pipe", NO_BATCH, true,
                   "multiprocessing.Pipe(duplex=False), send_bytes/recv_bytes(_into)", NULL, NULL,
                   NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

/* The peers that count as competitors in the goals: not shoal itself, the
 * ceiling, nor memcpy. */
static bool is_competitor(int p)
{
  return p != P_SHOAL && p != P_SHOAL_ZC && p != P_MEMCPY && p != P_CEILING;
}

/* ------------------------------------------------- running C peers -- */

static void pin_to(int c)
{
  if (c < 0)
    return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(c, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    die("sched_setaffinity(cpu %d): %s", c, strerror(errno));
}

/* What is running, for the watchdog's message. */
static char current[160];

static void on_alarm(int sig)
{
  (void)sig;
  char line[400];
  int len =
      snprintf(line, sizeof line,
               "bench_queue: FAIL: a measurement hung, killed: %s (started %u/%u, consumers' "
               "counts %llu %llu)\n",
               current, (unsigned)ctl->ready, (unsigned)ctl->ready2,
               (unsigned long long)ctl->progress[0][0], (unsigned long long)ctl->progress[1][0]);
  if (write(STDERR_FILENO, line, (size_t)len) < 0) {
  }
  kill_kids();
  _exit(1);
}

static void child_main(const struct peer *p, const struct runcfg *rc, enum role role, int id)
{
  in_child = true;
  nkids = 0;
  if (rc->pin)
    pin_to(cpu[role == ROLE_PROD ? 0 : 1]);
  if (rc->mode == M_BW)
    /* Take the copy-on-write faults of the payload buffers now, not timed. */
    for (size_t off = 0; off < rc->size; off += 4096) {
      ((volatile char *)bw_src)[off] = bw_src[off];
      ((volatile char *)bw_dst)[off] = bw_dst[off];
    }
  if (p->attach)
    p->attach(rc, role, id, 0);
  atomic_fetch_add(&ctl->ready, 1);
  futex_wait_set(&ctl->phase);
  if (p->attach)
    p->attach(rc, role, id, 1);
  atomic_fetch_add(&ctl->ready2, 1);
  futex_wait_set(&ctl->go);

  if (role == ROLE_PROD) {
    ctl->t_start[id] = bench_now_ns();
    if (rc->mode == M_TPUT)
      p->tput_prod(rc, id);
    else if (rc->mode == M_RTT)
      p->ping(rc);
    else
      p->bw_prod(rc);
    if (!p->bw_cons && rc->mode == M_BW) /* memcpy: one process */
      ctl->t_end[0] = bench_now_ns();
  } else {
    if (rc->mode == M_TPUT) {
      struct vstate v = {.nprod = rc->nprod, .exact = rc->nprod == 1 && rc->ncons == 1};
      p->tput_cons(rc, id, &v);
      ctl->t_end[id] = bench_now_ns();
      ctl->count[id] = v.count;
      ctl->sum[id] = v.sum;
    } else if (rc->mode == M_RTT) {
      p->pong(rc);
    } else {
      p->bw_cons(rc);
      ctl->t_end[id] = bench_now_ns();
    }
  }
  if (role == ROLE_CONS)
    atomic_fetch_add(&ctl->cons_done, 1);
#ifdef SHOAL_BENCH_HAVE_ZMQ
  if (p == &peers[P_ZMQ]) {
    /* A PULL socket drops what it holds from a peer that disconnects, so a
     * producer keeps its connections until every consumer is done. */
    if (role == ROLE_PROD) {
      uint32_t nc = rc->mode == M_TPUT ? (uint32_t)rc->ncons : 1;
      while (atomic_load(&ctl->cons_done) < nc)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    zmq_child_done();
  }
#endif
  _exit(0);
}

static void wait_count(_Atomic uint32_t *c, uint32_t want, const char *pname)
{
  while (atomic_load(c) < want) {
    int st;
    pid_t w = waitpid(-1, &st, WNOHANG);
    if (w > 0)
      die("%s: a child exited before the start (status 0x%x)", pname, st);
    nanosleep(&(struct timespec){0, 50000}, NULL);
  }
}

struct measure {
  double v;   /* msg/s, bytes/s, or median round trip ns */
  double p99; /* round trip only */
};

static int cmp_u32(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* One measurement of a C peer (setup done by the caller). */
static struct measure run_c(const struct peer *p, const struct runcfg *rc)
{
  memset(ctl, 0, sizeof *ctl);
  int np = rc->mode == M_TPUT ? rc->nprod : 1;
  int nc = rc->mode == M_TPUT ? rc->ncons : (p->bw_cons || rc->mode == M_RTT ? 1 : 0);
  fflush(stdout);
  fflush(stderr);
  nkids = 0;
  for (int i = 0; i < np + nc; i++) {
    enum role role = i < np ? ROLE_PROD : ROLE_CONS;
    int id = i < np ? i : i - np;
    pid_t pid = fork();
    if (pid < 0)
      die("fork: %s", strerror(errno));
    if (pid == 0)
      child_main(p, rc, role, id);
    kids[nkids++] = pid;
  }
  alarm(WATCHDOG_S);
  wait_count(&ctl->ready, (uint32_t)nkids, p->name);
  futex_set_wake(&ctl->phase);
  wait_count(&ctl->ready2, (uint32_t)nkids, p->name);
  futex_set_wake(&ctl->go);

  uint64_t parent_end = 0;
  if (rc->end_by_parent) {
    uint64_t want = (uint64_t)rc->n * (uint64_t)rc->nprod;
    for (;;) {
      uint64_t got = 0;
      for (int c = 0; c < rc->ncons; c++)
        got += atomic_load_explicit(&ctl->progress[c][0], memory_order_relaxed);
      if (got >= want)
        break;
      nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    parent_end = bench_now_ns();
    atomic_store(&ctl->done, 1);
  }

  /* Reap in any order: a consumer that failed would leave its producer
   * blocked on a full queue, so the others are killed at the first failure. */
  bool failed = false;
  for (int left = nkids; left > 0; left--) {
    int st;
    pid_t w;
    while ((w = waitpid(-1, &st, 0)) < 0)
      if (errno != EINTR)
        die("waitpid: %s", strerror(errno));
    for (int i = 0; i < nkids; i++)
      if (kids[i] == w)
        kids[i] = 0;
    if (!failed && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
      fprintf(stderr, "bench_queue: %s: a child failed (status 0x%x)\n", p->name, st);
      failed = true;
      kill_kids();
    }
  }
  alarm(0);
  nkids = 0;
  if (failed)
    die("%s: a child failed", p->name);

  struct measure m = {0, 0};
  if (rc->mode == M_RTT) {
    qsort(rtt_samples, (size_t)rc->n, sizeof *rtt_samples, cmp_u32);
    m.v = rtt_samples[(rc->n - 1) / 2];
    m.p99 = rtt_samples[(size_t)((double)(rc->n - 1) * 0.99)];
    return m;
  }
  uint64_t t0 = ctl->t_start[0], t1 = 0;
  for (int i = 1; i < np; i++)
    t0 = ctl->t_start[i] < t0 ? ctl->t_start[i] : t0;
  for (int i = 0; i < (nc ? nc : 1); i++)
    t1 = ctl->t_end[i] > t1 ? ctl->t_end[i] : t1;
  if (rc->end_by_parent)
    t1 = parent_end;
  double secs = (double)(t1 - t0) / 1e9;
  if (rc->mode == M_BW) {
    if (ctl->count[0] != (uint64_t)rc->n)
      die("%s: %llu bandwidth messages arrived, expected %ld", p->name,
          (unsigned long long)ctl->count[0], rc->n);
    m.v = (double)rc->n * (double)rc->size / secs;
    return m;
  }
  uint64_t count = 0, sum = 0, n = (uint64_t)rc->n;
  for (int c = 0; c < nc; c++) {
    count += ctl->count[c];
    sum += ctl->sum[c];
  }
  uint64_t want_sum = (uint64_t)rc->nprod * (n * (n - 1) / 2);
  if (count != n * (uint64_t)rc->nprod || sum != want_sum)
    die("%s: consumers got %llu messages (sequence sum %llu), expected %llu (%llu)", p->name,
        (unsigned long long)count, (unsigned long long)sum,
        (unsigned long long)(n * (uint64_t)rc->nprod), (unsigned long long)want_sum);
  m.v = (double)count / secs;
  return m;
}

/* ---------------------------------------------- external peers -- */

static char self_dir[PATH_MAX];

/* Runs argv; false when it could not be started (exit 127: n/a).  Dies when
 * it ran and failed: a wrong count must fail loudly. */
static bool run_program(char *const argv[], char *out, size_t outlen)
{
  int fds[2];
  if (pipe(fds) != 0)
    die("pipe: %s", strerror(errno));
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0)
    die("fork: %s", strerror(errno));
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execvp(argv[0], argv);
    _exit(127);
  }
  kids[0] = pid;
  nkids = 1;
  close(fds[1]);
  alarm(WATCHDOG_S);
  size_t len = 0;
  ssize_t k;
  while (len < outlen - 1 &&
         ((k = read(fds[0], out + len, outlen - 1 - len)) > 0 || (k < 0 && errno == EINTR)))
    if (k > 0)
      len += (size_t)k;
  out[len] = '\0';
  close(fds[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      die("waitpid: %s", strerror(errno));
  alarm(0);
  nkids = 0;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
    return false;
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    die("%s failed (status 0x%x); output: %s", argv[0], st, out);
  return true;
}

/* The external programs take: KIND MODE NPROD NCONS N SIZE CPU0 CPU1 and
 * print "elapsed_ns=E msgs=M" (throughput, bandwidth) or "med_ns=A p99_ns=B"
 * (round trip), after verifying what they received the same way. */
static bool run_external(int pid_, const struct runcfg *rc, struct measure *m)
{
  static const char *const mode_name[] = {"tput", "rtt", "bw"};
  char a[8][32], out[512], prog[PATH_MAX + 64], script[PATH_MAX];
  snprintf(a[0], sizeof a[0], "%s", pid_ == P_PY_PIPE ? "pipe" : "queue");
  snprintf(a[1], sizeof a[1], "%s", mode_name[rc->mode]);
  snprintf(a[2], sizeof a[2], "%d", rc->nprod);
  snprintf(a[3], sizeof a[3], "%d", rc->ncons);
  snprintf(a[4], sizeof a[4], "%ld", rc->n);
  snprintf(a[5], sizeof a[5], "%zu", rc->size);
  snprintf(a[6], sizeof a[6], "%d", rc->pin ? cpu[0] : -1);
  snprintf(a[7], sizeof a[7], "%d", rc->pin ? cpu[1] : -1);
  char *argv[12];
  int k = 0;
  if (pid_ == P_BOOST) {
    snprintf(prog, sizeof prog, "%s/queue_peer_boost", self_dir);
    argv[k++] = prog;
  } else {
#ifdef QUEUE_PEERS_DIR
    snprintf(script, sizeof script, "%s/py_queue.py", QUEUE_PEERS_DIR);
#else
    return false;
#endif
    argv[k++] = (char *)bench_python();
    argv[k++] = script;
  }
  for (int i = pid_ == P_BOOST ? 1 : 0; i < 8; i++)
    argv[k++] = a[i];
  argv[k] = NULL;
  if (!run_program(argv, out, sizeof out))
    return false;
  if (rc->mode == M_RTT) {
    if (sscanf(out, "med_ns=%lf p99_ns=%lf", &m->v, &m->p99) != 2)
      die("cannot parse %s's output: %s", peers[pid_].name, out);
    return true;
  }
  double ns, msgs;
  if (sscanf(out, "elapsed_ns=%lf msgs=%lf", &ns, &msgs) != 2 || ns <= 0)
    die("cannot parse %s's output: %s", peers[pid_].name, out);
  double want = rc->mode == M_BW ? (double)rc->n : (double)rc->n * rc->nprod;
  if (msgs != want)
    die("%s: %.0f messages, expected %.0f", peers[pid_].name, msgs, want);
  m->v = (rc->mode == M_BW ? msgs * (double)rc->size : msgs) / (ns / 1e9);
  return true;
}

/* --------------------------------------------------------- schedule -- */

static bool use_peer[P_N];
static char na_why[C_N][P_N][128];
static bool have[C_N][P_N];
static long count_for[C_N][P_N];
static struct measure res[C_N][P_N][MAX_ROUNDS];
static double target_ns = TARGET_NS;

static struct runcfg make_rc(enum case_id c, long n, bool pin)
{
  const struct case_def *d = &cases[c];
  struct runcfg rc = {.cid = c,
                      .mode = d->mode,
                      .nprod = d->nprod,
                      .ncons = d->ncons,
                      .batch = d->batch,
                      .size = d->size,
                      .n = n,
                      .pin = pin && d->nprod == 1 && d->ncons == 1 && cpu[0] >= 0};
  return rc;
}

/* One measurement of peer p in case c with count n.  Returns false when the
 * peer cannot run it (n/a, reason in na_why). */
static bool measure1(enum case_id c, int p, long n, bool pin, struct measure *m)
{
  struct runcfg rc = make_rc(c, n, pin);
  const struct peer *pe = &peers[p];
  snprintf(current, sizeof current, "%s, %s, count %ld", cases[c].label, pe->name, n);
  if (p == P_PY_PIPE && rc.ncons > 1) {
    snprintf(na_why[c][p], sizeof na_why[c][p], "a Connection has one reader and one writer");
    return false;
  }
  if (pe->external) {
    if (!run_external(p, &rc, m)) {
      snprintf(na_why[c][p], sizeof na_why[c][p], "%s",
               p == P_BOOST ? "queue_peer_boost not built" : "no python3");
      return false;
    }
    return true;
  }
  if (!pe->setup) {
    snprintf(na_why[c][p], sizeof na_why[c][p], "not built");
    return false;
  }
  if (pe->setup(&rc, na_why[c][p], sizeof na_why[c][p]) != 0)
    return false;
  if (rc.mode == M_BW)
    bw_prepare(rc.size);
  *m = run_c(pe, &rc);
  pe->teardown(&rc);
  return true;
}

/* Seconds one measurement of n took, from its result. */
static double took_ns(enum case_id c, long n, const struct measure *m)
{
  const struct case_def *d = &cases[c];
  if (d->mode == M_RTT)
    return m->v * (double)n; /* about: median x count */
  if (d->mode == M_BW)
    return (double)n * (double)d->size / m->v * 1e9;
  return (double)n * d->nprod / m->v * 1e9;
}

/* Picks each peer's count so that a measurement takes about target_ns, from
 * a short first run (which also warms up). */
static void calibrate(enum case_id c, int p, bool pin)
{
  const struct case_def *d = &cases[c];
  long n = d->mode == M_TPUT ? 20000 : d->mode == M_RTT ? 300 : (long)((16u << 20) / d->size);
  long lo = d->mode == M_TPUT ? 10000 : d->mode == M_RTT ? 500 : 16;
  long hi = d->mode == M_TPUT ? 50000000 : d->mode == M_RTT ? RTT_MAX : 1000000;
  struct measure m;
  for (int tries = 0;; tries++) {
    if (!measure1(c, p, n, pin, &m)) {
      have[c][p] = false;
      return;
    }
    double t = took_ns(c, n, &m);
    if (t >= target_ns / 8 || tries == 2 || n >= hi) {
      double want = (double)n * target_ns / t;
      n = want < lo ? lo : want > hi ? hi : (long)want;
      break;
    }
    n *= 8;
  }
  if (d->mode == M_TPUT && d->batch > 1)
    n = (n + d->batch - 1) / d->batch * d->batch;
  have[c][p] = true;
  count_for[c][p] = n;
}

/* ------------------------------------------------------------ report -- */

static void fmt_value(char *out, size_t len, enum mode mode, double v)
{
  if (mode == M_TPUT)
    snprintf(out, len, v >= 1e7 ? "%.1fM/s" : "%.2fM/s", v / 1e6);
  else if (mode == M_BW)
    snprintf(out, len, v >= 1e10 ? "%.1fGB/s" : "%.2fGB/s", v / 1e9);
  else
    snprintf(out, len, v >= 1e4 ? "%.1fus" : "%.2fus", v / 1e3);
}

static struct bench_stat st_med[C_N][P_N], st_p99[C_N][P_N];

/* shoal is better by this factor (above 1: shoal faster). */
static double ratio(enum mode mode, double shoal, double peer)
{
  return mode == M_RTT ? peer / shoal : shoal / peer;
}

static void print_case(enum case_id c, int rounds)
{
  const struct case_def *d = &cases[c];
  char b[48], b2[48];
  for (int p = 0; p < P_N; p++) {
    if (!use_peer[p] || !have[c][p])
      continue;
    double v[MAX_ROUNDS], w[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
      v[r] = res[c][p][r].v;
      w[r] = res[c][p][r].p99;
    }
    st_med[c][p] = bench_summarize(v, rounds);
    st_p99[c][p] = bench_summarize(w, rounds);
  }
  if (!have[c][P_SHOAL]) {
    printf("%-40s shoal=n/a\n", d->label);
    return;
  }
  double s = st_med[c][P_SHOAL].med;
  fmt_value(b, sizeof b, d->mode, s);
  printf("%-40s shoal=%s", d->label, b);
  if (d->mode == M_RTT) {
    fmt_value(b2, sizeof b2, d->mode, st_p99[c][P_SHOAL].med);
    printf("/p99=%s", b2);
  }
  for (int p = 1; p < P_N; p++) {
    if (!use_peer[p] || !(peers[p].cases & (1u << c)))
      continue;
    if (!have[c][p]) {
      printf("  %s=n/a", peers[p].name);
      continue;
    }
    fmt_value(b, sizeof b, d->mode, st_med[c][p].med);
    double x = ratio(d->mode, s, st_med[c][p].med);
    printf("  %s=%s", peers[p].name, b);
    if (d->mode == M_RTT) {
      fmt_value(b2, sizeof b2, d->mode, st_p99[c][p].med);
      printf("/p99=%s", b2);
    }
    printf(x < 10 ? " (%.2fx)" : " (%.1fx)", x);
  }
  printf("\n  # min..max:");
  for (int p = 0; p < P_N; p++) {
    if (!use_peer[p] || !have[c][p])
      continue;
    fmt_value(b, sizeof b, d->mode, st_med[c][p].min);
    fmt_value(b2, sizeof b2, d->mode, st_med[c][p].max);
    printf("  %s=%s..%s", peers[p].name, b, b2);
  }
  printf("\n  # counts (%s):", d->mode == M_TPUT  ? "messages per producer"
                               : d->mode == M_RTT ? "round trips"
                                                  : "messages");
  for (int p = 0; p < P_N; p++)
    if (use_peer[p] && have[c][p])
      printf("  %s=%ld", peers[p].name, count_for[c][p]);
  printf("\n");
  for (int p = 1; p < P_N; p++)
    if (use_peer[p] && (peers[p].cases & (1u << c)) && !have[c][p])
      printf("  # %s n/a: %s\n", peers[p].name, na_why[c][p]);
}

/* The best competitor in case c (highest rate, or lowest round trip). */
static int best_peer(enum case_id c)
{
  int best = -1;
  for (int p = 0; p < P_N; p++) {
    if (!use_peer[p] || !have[c][p] || !is_competitor(p))
      continue;
    double v = st_med[c][p].med;
    if (best < 0 || (cases[c].mode == M_RTT ? v < st_med[c][best].med : v > st_med[c][best].med))
      best = p;
  }
  return best;
}

static int misses;

static void verdict(const char *goal, const char *measured, bool ok)
{
  printf("goal %-52s %-44s %s\n", goal, measured, ok ? "PASS" : "MISS");
  misses += !ok;
}

static void print_goals(const bool *run_case)
{
  char g[128], m[128];
  int b;
  if (run_case[C_PUT_GET] && have[C_PUT_GET][P_SHOAL] && (b = best_peer(C_PUT_GET)) >= 0) {
    double x = st_med[C_PUT_GET][P_SHOAL].med / st_med[C_PUT_GET][b].med;
    snprintf(g, sizeof g, "put_get 1+1: shoal >= %.0fx best peer (no ceiling)", GOAL_PUT_GET_X);
    snprintf(m, sizeof m, "shoal/%s = %.2f", peers[b].name, x);
    verdict(g, m, x >= GOAL_PUT_GET_X);
  }
  if (run_case[C_BATCH] && have[C_BATCH][P_SHOAL] && have[C_BATCH][P_CEILING]) {
    double x = st_med[C_BATCH][P_SHOAL].med / st_med[C_BATCH][P_CEILING].med;
    snprintf(g, sizeof g, "batch 1+1: shoal >= %.0f%% of ceiling_spsc (batched)",
             100 * GOAL_BATCH_FRAC);
    snprintf(m, sizeof m, "shoal/ceiling_spsc = %.2f", x);
    verdict(g, m, x >= GOAL_BATCH_FRAC);
  }
  if (run_case[C_MPMC] && have[C_MPMC][P_SHOAL] && (b = best_peer(C_MPMC)) >= 0) {
    double x = st_med[C_MPMC][P_SHOAL].med / st_med[C_MPMC][b].med;
    snprintf(g, sizeof g, "put_get 2+2: shoal >= %.0fx best peer", GOAL_MPMC_X);
    snprintf(m, sizeof m, "shoal/%s = %.2f", peers[b].name, x);
    verdict(g, m, x >= GOAL_MPMC_X);
  }
  if (run_case[C_RTT] && have[C_RTT][P_SHOAL]) {
    double s = st_med[C_RTT][P_SHOAL].med;
    snprintf(g, sizeof g, "roundtrip: shoal median <= %.0f us", GOAL_RTT_NS / 1e3);
    snprintf(m, sizeof m, "median = %.2f us (p99 %.2f us)", s / 1e3,
             st_p99[C_RTT][P_SHOAL].med / 1e3);
    verdict(g, m, s <= GOAL_RTT_NS);
    if ((b = best_peer(C_RTT)) >= 0) {
      double x = st_med[C_RTT][b].med / s;
      snprintf(g, sizeof g, "roundtrip: >= %.0fx better than any peer (no ceiling)", GOAL_RTT_X);
      snprintf(m, sizeof m, "%s/shoal = %.1f", peers[b].name, x);
      verdict(g, m, x >= GOAL_RTT_X);
    }
  }
  if (run_case[C_BW1M] && have[C_BW1M][P_SHOAL_ZC] && have[C_BW1M][P_MEMCPY]) {
    double x = st_med[C_BW1M][P_SHOAL_ZC].med / st_med[C_BW1M][P_MEMCPY].med;
    snprintf(g, sizeof g, "bandwidth 1MiB: shoal_zc >= %.0f%% of memcpy", 100 * GOAL_ZC_FRAC);
    snprintf(m, sizeof m, "shoal_zc/memcpy = %.2f", x);
    verdict(g, m, x >= GOAL_ZC_FRAC);
  }
  if (run_case[C_BW1M] && have[C_BW1M][P_SHOAL] && have[C_BW1M][P_USTREAM]) {
    double x = st_med[C_BW1M][P_SHOAL].med / st_med[C_BW1M][P_USTREAM].med;
    snprintf(g, sizeof g, "bandwidth 1MiB: shoal (copying) >= %.0fx unix_stream", GOAL_COPY_X);
    snprintf(m, sizeof m, "shoal/unix_stream = %.2f", x);
    verdict(g, m, x >= GOAL_COPY_X);
  }
}

/* How busy the machine was with other work during the run: CPU time all
 * processes used (/proc/stat) minus ours, and the time the hypervisor gave
 * our vCPUs to someone else (steal).  On a shared machine this says how far
 * to trust a run. */
struct cpu_snap {
  double busy, steal, total, ours; /* seconds */
};

static struct cpu_snap cpu_snap(void)
{
  struct cpu_snap s = {0, 0, 0, 0};
  unsigned long long v[10] = {0};
  FILE *f = fopen("/proc/stat", "r");
  if (f) {
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) < 8)
      memset(v, 0, sizeof v);
    fclose(f);
  }
  double hz = (double)sysconf(_SC_CLK_TCK);
  /* user nice system idle iowait irq softirq steal (guest is inside user) */
  s.busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / hz;
  s.steal = (double)v[7] / hz;
  s.total = (double)(v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]) / hz;
  struct rusage a, b;
  getrusage(RUSAGE_SELF, &a);
  getrusage(RUSAGE_CHILDREN, &b);
  s.ours =
      (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
      (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec + b.ru_stime.tv_usec) /
          1e6;
  return s;
}

static void print_noise(const struct cpu_snap *a, const struct cpu_snap *b, double wall)
{
  double total = b->total - a->total, other = (b->busy - a->busy) - (b->ours - a->ours);
  if (total <= 0)
    return;
  other = other < 0 ? 0 : other;
  printf("# machine: other processes used %.0f%% of the CPU time during the run, steal %.0f%% "
         "(%.0f s wall)%s\n",
         100 * other / total, 100 * (b->steal - a->steal) / total, wall,
         other / total > 0.1 || (b->steal - a->steal) / total > 0.1
             ? "; a busy machine: trust these figures less"
             : "");
}

/* -------------------------------------------------------------- main -- */

static void choose_cpus(bool pin)
{
  cpu_set_t set;
  int n = 0, got[2];
  if (!pin || sched_getaffinity(0, sizeof set, &set) != 0)
    return;
  for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
    if (CPU_ISSET(c, &set))
      got[n++] = c;
  if (n == 2) {
    cpu[0] = got[0];
    cpu[1] = got[1];
  }
}

static void usage(const char *argv0)
{
  fprintf(stderr,
          "usage: %s [-r rounds (1..%d)] [-q] [-p peer,...] [-c case,...] [-v] [-P]\n"
          "  -q  quick smoke run (measurements of ~15 ms)\n"
          "  -p  peers besides shoal: ceiling_spsc,mutex_cond,boost_ipc,zmq_ipc,posix_mq,pipe,\n"
          "      unix_stream,unix_seqpacket,py_mp_queue,py_mp_pipe (shoal_zc and memcpy always)\n"
          "  -c  cases: put_get,batch,mpmc,roundtrip,bw64k,bw1m (default all)\n"
          "  -v  print every round\n"
          "  -P  do not pin the 1+1 processes to CPUs\n",
          argv0, MAX_ROUNDS);
  exit(2);
}

int main(int argc, char **argv)
{
  int rounds = DEFAULT_ROUNDS, opt;
  bool verbose = false, pin = true, run_case[C_N];
  for (int c = 0; c < C_N; c++)
    run_case[c] = true;
  for (int p = 0; p < P_N; p++)
    use_peer[p] = true;
  while ((opt = getopt(argc, argv, "r:qp:c:vP")) != -1) {
    switch (opt) {
    case 'r':
      rounds = atoi(optarg);
      if (rounds < 1 || rounds > MAX_ROUNDS)
        usage(argv[0]);
      break;
    case 'q':
      target_ns = TARGET_NS / 10;
      break;
    case 'p':
      for (int p = 0; p < P_N; p++)
        use_peer[p] = p == P_SHOAL || p == P_SHOAL_ZC || p == P_MEMCPY;
      for (char *save = NULL, *tok = strtok_r(optarg, ",", &save); tok;
           tok = strtok_r(NULL, ",", &save)) {
        int p = 0;
        while (p < P_N && strcmp(tok, peers[p].name) != 0)
          p++;
        if (p == P_N)
          usage(argv[0]);
        use_peer[p] = true;
      }
      break;
    case 'c':
      for (int c = 0; c < C_N; c++)
        run_case[c] = false;
      for (char *save = NULL, *tok = strtok_r(optarg, ",", &save); tok;
           tok = strtok_r(NULL, ",", &save)) {
        int c = 0;
        while (c < C_N && strcmp(tok, cases[c].key) != 0)
          c++;
        if (c == C_N)
          usage(argv[0]);
        run_case[c] = true;
      }
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
  signal(SIGALRM, on_alarm);
  signal(SIGPIPE, SIG_IGN);

  ssize_t sl = readlink("/proc/self/exe", self_dir, sizeof self_dir - 1);
  if (sl > 0) {
    self_dir[sl] = '\0';
    char *slash = strrchr(self_dir, '/');
    if (slash)
      *slash = '\0';
  } else {
    snprintf(self_dir, sizeof self_dir, ".");
  }

  ctl = map_shared(sizeof *ctl);
  rtt_samples = map_shared(RTT_MAX * sizeof *rtt_samples);
  choose_cpus(pin);

  char mq_note[256];
  long msg_max = read_proc_long("/proc/sys/fs/mqueue/msg_max");
  long msgsize_max = read_proc_long("/proc/sys/fs/mqueue/msgsize_max");
  {
    /* Probe the depth posix_mq gets, for the header. */
    struct runcfg rc = make_rc(C_PUT_GET, 1, false);
    char why[128];
    if (mq_setup(&rc, why, sizeof why) == 0)
      mq_teardown(&rc);
    snprintf(mq_note, sizeof mq_note,
             "mq_send/mq_receive, mq_maxmsg %ld, mq_msgsize = message size (system: msg_max %ld, "
             "msgsize_max %ld; a privileged process may exceed them); no batch API",
             mq_depth_used, msg_max, msgsize_max);
    peers[P_MQ].note = mq_note;
  }

  printf("# bench_queue: shoal FIFO queue (linked statically) vs peers, %ld CPUs online\n",
         sysconf(_SC_NPROCESSORS_ONLN));
  printf("# each figure: median of %d interleaved rounds, each measurement ~%.0f ms after a "
         "calibration run;\n#   1+1 cases and the round trip pinned to CPUs %d and %d, 2+2 left "
         "to the scheduler\n",
         rounds, target_ns / 1e6, cpu[0], cpu[1]);
  printf("# ratio: how many times better shoal is (peer time / shoal time per message or per "
         "round trip; <1: the peer is better)\n");
  printf("# bandwidth: payload GB/s (1e9 B/s); round trip: median/p99 over each run, medians "
         "over rounds\n");
  for (int p = 0; p < P_N; p++)
    if (use_peer[p])
      printf("#   %-15s %s\n", peers[p].name, peers[p].note);

  struct cpu_snap snap0 = cpu_snap();
  uint64_t wall0 = bench_now_ns();
  /* Calibration (and warm-up): counts per case and peer. */
  for (int c = 0; c < C_N; c++) {
    if (!run_case[c])
      continue;
    for (int p = 0; p < P_N; p++)
      if (use_peer[p] && (peers[p].cases & (1u << c)))
        calibrate((enum case_id)c, p, pin);
  }

  for (int r = 0; r < rounds; r++) {
    for (int c = 0; c < C_N; c++) {
      if (!run_case[c])
        continue;
      /* Rotate the order so no peer always runs first (or last). */
      for (int k = 0; k < P_N; k++) {
        int p = (k + r) % P_N;
        if (!use_peer[p] || !have[c][p])
          continue;
        if (!measure1((enum case_id)c, p, count_for[c][p], pin, &res[c][p][r]))
          die("%s stopped working: %s", peers[p].name, na_why[c][p]);
        if (verbose) {
          char b[48];
          fmt_value(b, sizeof b, cases[c].mode, res[c][p][r].v);
          printf("  # round %d %-36s %-15s %s\n", r, cases[c].label, peers[p].name, b);
        }
      }
    }
  }

  for (int c = 0; c < C_N; c++)
    if (run_case[c])
      print_case((enum case_id)c, rounds);
  printf("# every message verified (contents, order per producer, counts, sequence sums)\n");
  struct cpu_snap snap1 = cpu_snap();
  print_noise(&snap0, &snap1, (double)(bench_now_ns() - wall0) / 1e9);
  print_goals(run_case);
  return 0;
}
