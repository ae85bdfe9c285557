// SPDX-License-Identifier: MIT
// queue_peer_boost: bench_queue's Boost.Interprocess peer, a program of its
// own because it is C++.  boost::interprocess::message_queue between forked
// processes, measured and verified the way bench_queue measures its C peers.
//
// Usage: queue_peer_boost tput|rtt|bw NPROD NCONS N SIZE CPU0 CPU1
//   tput  NPROD producers send N 64-byte messages each to NCONS consumers
//         through one queue of 4096 messages; prints "elapsed_ns=E msgs=M"
//   rtt   ping-pong through two queues, N round trips after 200 unrecorded
//         ones; prints "med_ns=A p99_ns=B"
//   bw    N messages of SIZE bytes, about 4 MiB of them in flight; prints as tput
// CPU0/CPU1 (-1: none) pin the producer (pinger) and the consumer (ponger)
// when there is one of each.  Exit status 1 on any wrong message.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <boost/interprocess/ipc/message_queue.hpp>

namespace bip = boost::interprocess;

namespace
{

constexpr int MSG = 64;
constexpr uint64_t STOP_SEQ = UINT64_MAX;
constexpr long RTT_WARM = 200;
constexpr size_t STAMP_STRIDE = 4096;
constexpr unsigned RING_SLOTS = 4096;
constexpr size_t BW_INFLIGHT_BYTES = 4u << 20;

// The same message as bench_queue.c's struct msg64.
struct Msg {
  uint64_t seq;
  uint32_t from;
  uint32_t len;
  uint64_t body[5];
  uint64_t check;
};
static_assert(sizeof(Msg) == MSG, "a message is 64 bytes");

uint64_t mix(uint64_t seq, uint32_t from)
{
  return (seq * UINT64_C(0x9E3779B97F4A7C15)) ^ (uint64_t(from) << 56) ^
         UINT64_C(0x5bd1e9955bd1e995);
}

void make(Msg &m, uint64_t seq, uint32_t from)
{
  m.seq = seq;
  m.from = from;
  m.len = MSG;
  for (int i = 0; i < 5; i++)
    m.body[i] = seq + uint64_t(i);
  m.check = mix(seq, from);
}

[[noreturn]] void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  std::fputs("queue_peer_boost: FAIL: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  _exit(1);
}

uint64_t now_ns()
{
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

struct Shared {
  std::atomic<int> ready;
  std::atomic<int> go;
  uint64_t t_start[2], t_end[2], count[2], sum[2];
};

Shared *sh;
uint32_t *samples;
std::string qname[2];

void pin(int cpu)
{
  if (cpu < 0)
    return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    die("sched_setaffinity: %s", std::strerror(errno));
}

void nap(long ns)
{
  const timespec ts = {0, ns};
  nanosleep(&ts, nullptr);
}

void start_gate()
{
  sh->ready.fetch_add(1);
  while (!sh->go.load(std::memory_order_acquire))
    nap(20000);
}

uint64_t stamp_word(uint64_t seq, size_t off)
{
  return seq * UINT64_C(0x100000001B3) + off;
}

void stamp(char *p, size_t size, uint64_t seq)
{
  for (size_t off = 0; off < size; off += STAMP_STRIDE) {
    uint64_t w = stamp_word(seq, off);
    std::memcpy(p + off, &w, 8);
  }
  uint64_t w = stamp_word(seq, size - 8);
  std::memcpy(p + size - 8, &w, 8);
}

void check_stamps(const char *p, size_t len, size_t size, uint64_t seq)
{
  if (len != size)
    die("a %zu-byte message, expected %zu", len, size);
  for (size_t off = 0; off < size; off += STAMP_STRIDE) {
    uint64_t w;
    std::memcpy(&w, p + off, 8);
    if (w != stamp_word(seq, off))
      die("message %" PRIu64 ": wrong word at %zu", seq, off);
  }
  uint64_t w;
  std::memcpy(&w, p + size - 8, 8);
  if (w != stamp_word(seq, size - 8))
    die("message %" PRIu64 ": wrong last word", seq);
}

size_t receive(bip::message_queue &q, void *buf, size_t cap)
{
  bip::message_queue::size_type got;
  unsigned prio;
  q.receive(buf, cap, got, prio);
  return got;
}

void producer(long n, int id, int nstops)
{
  bip::message_queue q(bip::open_only, qname[0].c_str());
  Msg m;
  start_gate();
  sh->t_start[id] = now_ns();
  for (long i = 0; i < n; i++) {
    make(m, uint64_t(i), uint32_t(id));
    q.send(&m, MSG, 0);
  }
  make(m, STOP_SEQ, uint32_t(id));
  for (int s = 0; s < nstops; s++)
    q.send(&m, MSG, 0);
}

void consumer(int id, int nprod, bool exact)
{
  bip::message_queue q(bip::open_only, qname[0].c_str());
  uint64_t next[2] = {0, 0}, count = 0, sum = 0;
  Msg m;
  start_gate();
  for (;;) {
    size_t len = receive(q, &m, sizeof m);
    if (len != MSG || m.from >= uint32_t(nprod) || m.len != MSG || m.check != mix(m.seq, m.from))
      die("corrupt message");
    if (m.seq == STOP_SEQ)
      break;
    if (m.body[0] != m.seq || m.body[4] != m.seq + 4 ||
        (exact ? m.seq != next[m.from] : m.seq < next[m.from]))
      die("message from %u out of order: %" PRIu64, m.from, m.seq);
    next[m.from] = m.seq + 1;
    count++;
    sum += m.seq;
  }
  sh->t_end[id] = now_ns();
  sh->count[id] = count;
  sh->sum[id] = sum;
}

void pinger(long n)
{
  bip::message_queue ping(bip::open_only, qname[0].c_str());
  bip::message_queue pong(bip::open_only, qname[1].c_str());
  Msg m, r;
  start_gate();
  for (long i = -RTT_WARM; i < n; i++) {
    make(m, uint64_t(i + RTT_WARM), 0);
    uint64_t t0 = now_ns();
    ping.send(&m, MSG, 0);
    size_t len = receive(pong, &r, sizeof r);
    uint64_t t1 = now_ns();
    if (len != MSG || std::memcmp(&m, &r, MSG) != 0)
      die("the pong differs from the ping");
    if (i >= 0)
      samples[i] = uint32_t(std::min<uint64_t>(t1 - t0, UINT32_MAX));
  }
  make(m, STOP_SEQ, 0);
  ping.send(&m, MSG, 0);
}

void ponger()
{
  bip::message_queue ping(bip::open_only, qname[0].c_str());
  bip::message_queue pong(bip::open_only, qname[1].c_str());
  Msg m;
  uint64_t next = 0;
  start_gate();
  for (;;) {
    size_t len = receive(ping, &m, sizeof m);
    if (len != MSG || m.check != mix(m.seq, m.from))
      die("corrupt ping");
    if (m.seq == STOP_SEQ)
      return;
    if (m.seq != next++)
      die("ping out of order");
    pong.send(&m, MSG, 0);
  }
}

void bw_producer(long n, size_t size)
{
  bip::message_queue q(bip::open_only, qname[0].c_str());
  std::vector<char> src(size);
  for (size_t i = 0; i < size; i++)
    src[i] = char(i * 131);
  start_gate();
  sh->t_start[0] = now_ns();
  for (long i = 0; i < n; i++) {
    stamp(src.data(), size, uint64_t(i));
    q.send(src.data(), size, 0);
  }
}

void bw_consumer(long n, size_t size)
{
  bip::message_queue q(bip::open_only, qname[0].c_str());
  std::vector<char> dst(size);
  start_gate();
  for (long i = 0; i < n; i++)
    check_stamps(dst.data(), receive(q, dst.data(), size), size, uint64_t(i));
  sh->t_end[0] = now_ns();
  sh->count[0] = uint64_t(n);
}

} // namespace

int main(int argc, char **argv)
{
  if (argc != 8) {
    std::fprintf(stderr, "usage: %s tput|rtt|bw NPROD NCONS N SIZE CPU0 CPU1\n", argv[0]);
    return 2;
  }
  std::string mode = argv[1];
  int nprod = std::atoi(argv[2]), ncons = std::atoi(argv[3]);
  long n = std::atol(argv[4]);
  size_t size = size_t(std::atol(argv[5]));
  int cpu0 = std::atoi(argv[6]), cpu1 = std::atoi(argv[7]);
  if ((mode != "tput" && mode != "rtt" && mode != "bw") || nprod < 1 || nprod > 2 || ncons < 1 ||
      ncons > 2 || n < 1 || size < 64 || size % 8)
    die("bad arguments");
  bool one_one = nprod == 1 && ncons == 1;

  void *mem = mmap(nullptr, sizeof(Shared) + (mode == "rtt" ? size_t(n) * 4 : 0),
                   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    die("mmap: %s", std::strerror(errno));
  sh = new (mem) Shared();
  samples = reinterpret_cast<uint32_t *>(static_cast<char *>(mem) + sizeof(Shared));

  int nq = mode == "rtt" ? 2 : 1;
  size_t depth = mode == "bw" ? std::max<size_t>(2, BW_INFLIGHT_BYTES / size) : RING_SLOTS;
  for (int c = 0; c < nq; c++) {
    qname[c] = "shoal-bench-boost-" + std::to_string(getpid()) + "-" + std::to_string(c);
    bip::message_queue::remove(qname[c].c_str());
    bip::message_queue q(bip::create_only, qname[c].c_str(), depth, size);
  }

  std::vector<pid_t> kids;
  auto spawn = [&](auto fn, int cpu) {
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
      die("fork: %s", std::strerror(errno));
    if (pid == 0) {
      try {
        pin(cpu);
        fn();
      } catch (const std::exception &e) {
        die("%s", e.what());
      }
      _exit(0);
    }
    kids.push_back(pid);
  };
  if (mode == "tput") {
    for (int i = 0; i < nprod; i++) {
      int nstops = ncons / nprod + (i < ncons % nprod);
      spawn([=] { producer(n, i, nstops); }, one_one ? cpu0 : -1);
    }
    for (int c = 0; c < ncons; c++)
      spawn([=] { consumer(c, nprod, one_one); }, one_one ? cpu1 : -1);
  } else if (mode == "rtt") {
    spawn([=] { pinger(n); }, cpu0);
    spawn([=] { ponger(); }, cpu1);
  } else {
    spawn([=] { bw_producer(n, size); }, cpu0);
    spawn([=] { bw_consumer(n, size); }, cpu1);
  }
  while (sh->ready.load() < int(kids.size()))
    nap(50000);
  sh->go.store(1, std::memory_order_release);
  bool failed = false;
  for (pid_t k : kids) {
    int st;
    while (waitpid(k, &st, 0) < 0)
      if (errno != EINTR)
        die("waitpid: %s", std::strerror(errno));
    failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
  }
  for (int c = 0; c < nq; c++)
    bip::message_queue::remove(qname[c].c_str());
  if (failed)
    die("a child failed");

  if (mode == "rtt") {
    std::sort(samples, samples + n);
    std::printf("med_ns=%u p99_ns=%u\n", samples[(n - 1) / 2],
                samples[size_t(double(n - 1) * 0.99)]);
    return 0;
  }
  if (mode == "bw") {
    if (sh->count[0] != uint64_t(n))
      die("%" PRIu64 " messages arrived, expected %ld", sh->count[0], n);
    std::printf("elapsed_ns=%" PRIu64 " msgs=%ld\n", sh->t_end[0] - sh->t_start[0], n);
    return 0;
  }
  uint64_t count = 0, sum = 0, t0 = UINT64_MAX, t1 = 0, un = uint64_t(n);
  for (int i = 0; i < nprod; i++)
    t0 = std::min(t0, sh->t_start[i]);
  for (int c = 0; c < ncons; c++) {
    t1 = std::max(t1, sh->t_end[c]);
    count += sh->count[c];
    sum += sh->sum[c];
  }
  if (count != un * uint64_t(nprod) || sum != uint64_t(nprod) * (un * (un - 1) / 2))
    die("consumers got %" PRIu64 " messages, expected %" PRIu64, count, un * uint64_t(nprod));
  std::printf("elapsed_ns=%" PRIu64 " msgs=%" PRIu64 "\n", t1 - t0, count);
  return 0;
}
