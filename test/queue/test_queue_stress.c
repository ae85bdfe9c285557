// SPDX-License-Identifier: MIT
// Queue under load and under fire: an MPMC stress (4 producers x 4 consumers,
// 1,000,000 messages of 0-4 KiB) with no loss, no duplicate and FIFO order per
// producer; and a kill loop that SIGKILLs producers and consumers at random
// moments and then checks that every message arrived exactly once except the
// ones the queue counted as lost (and at most one per killed consumer, taken
// out of the queue just before it died).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static shoal_queue *q;

struct msg_head {
  uint32_t producer;
  uint32_t seq;
  uint32_t len; /* payload bytes after this header */
  uint32_t sum;
};

static unsigned char byte_at(uint32_t producer, uint32_t seq, uint32_t i)
{
  return (unsigned char)(seq * 31u + i * 7u + producer * 13u);
}

static uint32_t checksum(const unsigned char *p, uint32_t n)
{
  uint32_t s = 2166136261u;
  for (uint32_t i = 0; i < n; i++)
    s = (s ^ p[i]) * 16777619u;
  return s;
}

/* Builds message (producer, seq) into buf with a random payload of at most
 * max_payload bytes; returns its length. */
static size_t build(unsigned char *buf, uint32_t producer, uint32_t seq, unsigned *rnd,
                    uint32_t max_payload)
{
  uint32_t n = (uint32_t)(rand_r(rnd) % (max_payload + 1));
  struct msg_head h = {producer, seq, n, 0};
  for (uint32_t i = 0; i < n; i++)
    buf[sizeof h + i] = byte_at(producer, seq, i);
  h.sum = checksum(buf + sizeof h, n);
  memcpy(buf, &h, sizeof h);
  return sizeof h + n;
}

/* Checks a received message; returns its head or sets *bad. */
static struct msg_head check(const unsigned char *buf, size_t len, int *bad)
{
  struct msg_head h = {0};
  if (len < sizeof h) {
    *bad = 1;
    return h;
  }
  memcpy(&h, buf, sizeof h);
  if (h.len != len - sizeof h || checksum(buf + sizeof h, h.len) != h.sum)
    *bad = 1;
  for (uint32_t i = 0; i < h.len && !*bad; i += 97)
    if (buf[sizeof h + i] != byte_at(h.producer, h.seq, i))
      *bad = 1;
  return h;
}

/* ---- MPMC stress ----------------------------------------------------------- */

#define PRODUCERS 4
#define CONSUMERS 4
#define TOTAL 1000000
#define PER_PRODUCER (TOTAL / PRODUCERS)
#define EMPTIES 1000 /* empty messages each producer mixes in */

struct stress_shared {
  _Atomic unsigned char seen[PRODUCERS][PER_PRODUCER];
  _Atomic int bad;
  _Atomic int out_of_order;
  _Atomic long empties;
};
static struct stress_shared *ss;

static int stress_producer(void *arg)
{
  uint32_t id = (uint32_t)(intptr_t)arg;
  unsigned rnd = id + 1;
  unsigned char buf[4096];
  for (uint32_t seq = 0; seq < PER_PRODUCER; seq++) {
    size_t len = build(buf, id, seq, &rnd, 4096 - sizeof(struct msg_head));
    if (shoal_queue_put(q, buf, len, SHOAL_SEC(200)) != 0)
      return 1;
    if (seq % (PER_PRODUCER / EMPTIES) == 0 && shoal_queue_put(q, NULL, 0, SHOAL_SEC(200)) != 0)
      return 2;
  }
  return 0;
}

static int stress_consumer(void *arg)
{
  (void)arg;
  unsigned char buf[4096];
  int64_t last[PRODUCERS];
  for (int i = 0; i < PRODUCERS; i++)
    last[i] = -1;
  for (;;) {
    size_t len = sizeof buf;
    if (shoal_queue_get(q, buf, &len, SHOAL_SEC(200)) != 0)
      return 1;
    if (len == 0) {
      ss->empties++;
      continue;
    }
    if (len == 4 && !memcmp(buf, "stop", 4))
      return 0;
    int bad = 0;
    struct msg_head h = check(buf, len, &bad);
    if (bad || h.producer >= PRODUCERS || h.seq >= PER_PRODUCER) {
      ss->bad++;
      continue;
    }
    if ((int64_t)h.seq <= last[h.producer])
      ss->out_of_order++;
    last[h.producer] = h.seq;
    ss->seen[h.producer][h.seq]++;
  }
}

SH_TEST_LONG(queue_stress, mpmc_four_by_four_million)
{
  pid_t prod[PRODUCERS], cons[CONSUMERS];
  ss = mmap(NULL, sizeof *ss, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(ss != MAP_FAILED);
  SH_ASSERT_OK(shoal_queue_create(&q, &(shoal_queue_opts){.capacity = 1 << 20}));
  for (int i = 0; i < CONSUMERS; i++)
    cons[i] = sh_fork(stress_consumer, NULL);
  for (int i = 0; i < PRODUCERS; i++)
    prod[i] = sh_fork(stress_producer, (void *)(intptr_t)i);
  for (int i = 0; i < PRODUCERS; i++)
    cr_assert_eq(sh_wait(prod[i], 200000), 0, "producer %d failed", i);
  for (int i = 0; i < CONSUMERS; i++)
    SH_ASSERT_OK(shoal_queue_put(q, "stop", 4, SHOAL_SEC(10)));
  for (int i = 0; i < CONSUMERS; i++)
    cr_assert_eq(sh_wait(cons[i], 200000), 0, "consumer %d failed", i);
  cr_assert_eq(ss->bad, 0, "%d corrupt messages", (int)ss->bad);
  cr_assert_eq(ss->out_of_order, 0, "%d messages out of producer order", (int)ss->out_of_order);
  long missing = 0, dup = 0;
  for (int p = 0; p < PRODUCERS; p++)
    for (int s = 0; s < PER_PRODUCER; s++) {
      missing += ss->seen[p][s] == 0;
      dup += ss->seen[p][s] > 1;
    }
  cr_assert_eq(missing, 0, "%ld messages lost", missing);
  cr_assert_eq(dup, 0, "%ld messages delivered twice", dup);
  cr_assert_eq(ss->empties, (long)PRODUCERS * EMPTIES);
  shoal_queue_info st;
  SH_ASSERT_OK(shoal_queue_stats(q, &st));
  cr_assert_eq(st.losses, 0);
  cr_assert_eq(st.depth, 0);
  cr_assert_eq(st.puts, st.gets);
  shoal_queue_destroy(q);
}

/* ---- kill loop ---------------------------------------------------------------- */

#define INCARNATIONS 256 /* producer lives, across restarts */
#define PER_LIFE 100000

struct kill_shared {
  _Atomic unsigned char seen[INCARNATIONS][PER_LIFE];
  _Atomic uint32_t sent[INCARNATIONS]; /* puts that returned 0 */
  _Atomic int bad;
  _Atomic int stop;
};
static struct kill_shared *ks;

static int kill_producer(void *arg)
{
  uint32_t life = (uint32_t)(intptr_t)arg;
  unsigned rnd = life * 7 + 3;
  unsigned char buf[4096];
  for (uint32_t seq = 0; seq < PER_LIFE && !ks->stop; seq++) {
    size_t len = build(buf, life, seq, &rnd, 600); /* smaller: more of them */
    int rc = shoal_queue_put(q, buf, len, SHOAL_SEC(10));
    if (rc == SHOAL_ECLOSED)
      break;
    if (rc != 0)
      return 1;
    ks->sent[life] = seq + 1;
  }
  return 0;
}

static int kill_consumer(void *arg)
{
  (void)arg;
  unsigned char buf[4096];
  for (;;) {
    size_t len = sizeof buf;
    int rc = shoal_queue_get(q, buf, &len, SHOAL_SEC(10));
    if (rc == SHOAL_ECLOSED)
      return 0;
    if (rc != 0)
      return 1;
    int bad = 0;
    struct msg_head h = check(buf, len, &bad);
    if (bad || h.producer >= INCARNATIONS || h.seq >= PER_LIFE) {
      ks->bad++;
      continue;
    }
    ks->seen[h.producer][h.seq]++;
  }
}

SH_TEST_LONG(queue_stress, kill_loop_loses_only_what_is_counted)
{
  enum { NP = 2, NC = 2 };
  pid_t prod[NP], cons[NC];
  uint32_t life_of[NP];
  int next_life = 0, consumer_kills = 0, producer_kills = 0;
  ks = mmap(NULL, sizeof *ks, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(ks != MAP_FAILED);
  SH_ASSERT_OK(shoal_queue_create(&q, &(shoal_queue_opts){.capacity = 1 << 16}));
  for (int i = 0; i < NC; i++)
    cons[i] = sh_fork(kill_consumer, NULL);
  for (int i = 0; i < NP; i++) {
    life_of[i] = (uint32_t)next_life++;
    prod[i] = sh_fork(kill_producer, (void *)(intptr_t)life_of[i]);
  }
  unsigned rnd = 12345;
  uint64_t until = sh_now() + 3000000000u;
  while (sh_now() < until && next_life < INCARNATIONS - 1) {
    usleep(2000 + rand_r(&rnd) % 20000);
    int victim = rand_r(&rnd) % (NP + NC);
    if (victim < NP) {
      kill(prod[victim], SIGKILL);
      sh_wait(prod[victim], 5000);
      producer_kills++;
      life_of[victim] = (uint32_t)next_life++;
      prod[victim] = sh_fork(kill_producer, (void *)(intptr_t)life_of[victim]);
    } else {
      int c = victim - NP;
      kill(cons[c], SIGKILL);
      sh_wait(cons[c], 5000);
      consumer_kills++;
      cons[c] = sh_fork(kill_consumer, NULL);
    }
  }
  /* Wind down: producers stop, consumers drain until shutdown. */
  ks->stop = 1;
  for (int i = 0; i < NP; i++)
    cr_assert_eq(sh_wait(prod[i], 20000), 0, "a producer failed (blocked?)");
  uint64_t drain_until = sh_now() + 20000000000u;
  while (shoal_queue_qsize(q) > 0) {
    cr_assert(sh_now() < drain_until, "consumers stopped draining: %ld left",
              shoal_queue_qsize(q));
    sh_sleep_ms(5);
  }
  shoal_queue_shutdown(q, 0);
  for (int i = 0; i < NC; i++)
    cr_assert_eq(sh_wait(cons[i], 20000), 0, "a consumer failed");

  shoal_queue_info st;
  SH_ASSERT_OK(shoal_queue_stats(q, &st));
  cr_assert_eq(ks->bad, 0, "%d corrupt messages", (int)ks->bad);
  long missing = 0, dup = 0, total = 0;
  for (int life = 0; life < next_life; life++) {
    uint32_t sent = ks->sent[life];
    for (uint32_t s = 0; s < PER_LIFE; s++) {
      unsigned c = ks->seen[life][s];
      dup += c > 1;
      if (s < sent) {
        total++;
        missing += c == 0;
      } else if (c && s > sent) {
        /* Only the put in flight when the producer died may show up unsent. */
        cr_assert_fail("life %d: message %u received but only %u sent", life, s, sent);
      }
    }
  }
  fprintf(stderr, "kill loop: %ld messages, %d producer and %d consumer kills, %ld missing, "
                  "%lu counted lost\n",
          total, producer_kills, consumer_kills, missing, (unsigned long)st.losses);
  cr_assert_eq(dup, 0, "%ld messages delivered twice", dup);
  cr_assert(missing <= (long)st.losses + consumer_kills,
            "%ld of %ld messages missing; the queue counted %lu lost, %d consumers were killed",
            missing, total, (unsigned long)st.losses, consumer_kills);
  cr_assert(st.losses <= (uint64_t)(producer_kills + consumer_kills),
            "more losses (%lu) than kills", (unsigned long)st.losses);
  cr_assert(total > 1000, "only %ld messages went through", total);
  shoal_queue_destroy(q);
}

/* ---- deterministic crashes ----------------------------------------------------- */

static int die_holding_loan(void *arg)
{
  int *ready = arg;
  void *w;
  if (shoal_queue_loan(q, 100, &w, SHOAL_SEC(5)) != 0)
    return 1;
  memset(w, 'x', 100);
  *ready = 1;
  for (;;)
    pause();
}

static int die_holding_peek(void *arg)
{
  int *ready = arg;
  const void *p;
  size_t len;
  if (shoal_queue_peek(q, &p, &len, SHOAL_SEC(5)) != 0)
    return 1;
  *ready = 1;
  for (;;)
    pause();
}

static void wait_flag(int *flag)
{
  uint64_t until = sh_now() + 5000000000u;
  while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST)) {
    cr_assert(sh_now() < until, "child never got ready");
    sh_sleep_ms(1);
  }
}

static void expect(const char *want)
{
  char buf[64];
  size_t len = sizeof buf;
  SH_ASSERT_OK(shoal_queue_get(q, buf, &len, SHOAL_SEC(5)));
  cr_assert(len == strlen(want) && !memcmp(buf, want, len), "got %.*s, want %s", (int)len, buf,
            want);
}

SH_TEST(queue_crash, producer_killed_mid_put_is_counted)
{
  int *ready = mmap(NULL, sizeof *ready, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                    -1, 0);
  SH_ASSERT_OK(shoal_queue_create(&q, &(shoal_queue_opts){.flags = SHOAL_QUEUE_JOINABLE}));
  SH_ASSERT_OK(shoal_queue_put(q, "before", 6, SHOAL_NOWAIT));
  pid_t p = sh_fork(die_holding_loan, ready);
  wait_flag(ready);
  kill(p, SIGKILL);
  sh_wait(p, 5000);
  uint64_t t0 = sh_now();
  SH_ASSERT_OK(shoal_queue_put(q, "after", 5, SHOAL_SEC(5)));
  cr_assert(sh_now() - t0 < 1000000000u, "took over the dead producer's lock too slowly");
  shoal_queue_info st;
  SH_ASSERT_OK(shoal_queue_stats(q, &st));
  cr_assert_eq(st.losses, 1);
  SH_ASSERT_RC(shoal_queue_qsize(q), 2);
  expect("before");
  expect("after");
  /* The lost message's task was taken back: two done, and join returns. */
  SH_ASSERT_OK(shoal_queue_task_done(q));
  SH_ASSERT_OK(shoal_queue_task_done(q));
  SH_ASSERT_OK(shoal_queue_join(q, SHOAL_NOWAIT));
  shoal_queue_destroy(q);
}

SH_TEST(queue_crash, consumer_killed_mid_get_loses_nothing)
{
  int *ready = mmap(NULL, sizeof *ready, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                    -1, 0);
  SH_ASSERT_OK(shoal_queue_create(&q, NULL));
  SH_ASSERT_OK(shoal_queue_put(q, "one", 3, SHOAL_NOWAIT));
  SH_ASSERT_OK(shoal_queue_put(q, "two", 3, SHOAL_NOWAIT));
  pid_t p = sh_fork(die_holding_peek, ready);
  wait_flag(ready);
  kill(p, SIGKILL);
  sh_wait(p, 5000);
  expect("one"); /* the dead consumer never took it */
  expect("two");
  shoal_queue_info st;
  SH_ASSERT_OK(shoal_queue_stats(q, &st));
  cr_assert_eq(st.losses, 0);
  shoal_queue_destroy(q);
}

/* White box: a priority-queue consumer dies in the middle of taking the head
 * record, after marking it taken and while the heap index is out of order.
 * The next user must rebuild the index from the records and count the loss. */
#include "queue/queue_internal.h"

static int die_mid_priority_get(void *arg)
{
  int *ready = arg;
  struct queue_ctrl *c = q->c;
  if (shoal__queue_lock(q, &c->put_lock) != 0)
    return 1;
  uint64_t pos = q->index[0].pos;
  c->get_progress = pos + 1;
  ((struct rec_hdr *)(q->data + (pos & (c->capacity - 1))))->live = 0;
  for (uint64_t i = 0; i < c->index_len / 2; i++) {
    struct heap_entry t = q->index[i];
    q->index[i] = q->index[c->index_len - 1 - i];
    q->index[c->index_len - 1 - i] = t;
  }
  *ready = 1;
  for (;;)
    pause();
}

SH_TEST(queue_crash, priority_index_rebuilt_after_crash)
{
  int *ready = mmap(NULL, sizeof *ready, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                    -1, 0);
  SH_ASSERT_OK(shoal_queue_create(&q, &(shoal_queue_opts){.kind = SHOAL_QUEUE_PRIORITY}));
  const char *names[] = {"p5", "p3", "p9", "p1", "p7"};
  int64_t prios[] = {5, 3, 9, 1, 7};
  for (int i = 0; i < 5; i++)
    SH_ASSERT_OK(shoal_queue_put_priority(q, prios[i], names[i], 2, SHOAL_NOWAIT));
  pid_t p = sh_fork(die_mid_priority_get, ready);
  wait_flag(ready);
  kill(p, SIGKILL);
  sh_wait(p, 5000);
  expect("p3");
  expect("p5");
  SH_ASSERT_OK(shoal_queue_put_priority(q, 0, "p0", 2, SHOAL_NOWAIT));
  expect("p0");
  expect("p7");
  expect("p9");
  SH_ASSERT_RC(shoal_queue_qsize(q), 0);
  shoal_queue_info st;
  SH_ASSERT_OK(shoal_queue_stats(q, &st));
  cr_assert_eq(st.losses, 1);
  shoal_queue_destroy(q);
}
