// SPDX-License-Identifier: MIT
// kill -9 loops on the file queue: producers and consumers of a joinable
// file queue are SIGKILLed at random moments (mid-put, mid-rollover,
// mid-get, holding unacknowledged messages; at level always also mid-fsync,
// leading a group commit) and started again, for about 2.5 s; then a fresh
// process drains the queue.  Every message whose put returned must have
// been delivered at least once, and no delivered message may be corrupt.
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "fq_support.h"

#define PRODUCERS 2
#define CONSUMERS 2
#define MAX_PER_PRODUCER (1u << 18)

struct board {
  _Atomic uint32_t next[PRODUCERS];                  /* next id each producer uses */
  _Atomic uint8_t put_ok[PRODUCERS][MAX_PER_PRODUCER]; /* the put returned 0 */
  _Atomic uint8_t seen[PRODUCERS][MAX_PER_PRODUCER];   /* delivered, intact */
  _Atomic int bad;
  _Atomic long deliveries;
};
static struct board *bd;

static shoal_fileq_opts kill_opts = {.segment_size = 65536, .max_inflight = 4096};

static int producer(void *arg)
{
  uint32_t p = (uint32_t)(intptr_t)arg;
  shoal_queue *q;
  if (shoal_fileq_open(&q, fq_path("q"), NULL, &kill_opts, NULL))
    return 1;
  unsigned char buf[1024];
  unsigned rnd = p * 7919u + (unsigned)getpid();
  for (;;) {
    uint32_t s = atomic_fetch_add(&bd->next[p], 1);
    if (s >= MAX_PER_PRODUCER)
      return 0;
    size_t n = fq_build(buf, p * MAX_PER_PRODUCER + s, (uint32_t)(rand_r(&rnd) % 600));
    int rc = shoal_queue_put(q, buf, n, SHOAL_SEC(5));
    if (rc == 0)
      bd->put_ok[p][s] = 1;
    else if (rc != SHOAL_ETIMEDOUT)
      return 2;
  }
}

static int consume_one(shoal_queue *q, shoal_duration t)
{
  unsigned char buf[1024];
  size_t len = sizeof buf;
  int rc = shoal_queue_get(q, buf, &len, t);
  if (rc)
    return rc;
  long id = fq_verify(buf, len);
  if (id < 0 || (uint64_t)id >= (uint64_t)PRODUCERS * MAX_PER_PRODUCER) {
    bd->bad++;
  } else {
    bd->seen[id / MAX_PER_PRODUCER][id % MAX_PER_PRODUCER] = 1;
    bd->deliveries++;
  }
  return shoal_queue_task_done(q);
}

static int consumer(void *arg)
{
  (void)arg;
  shoal_queue *q;
  if (shoal_fileq_open(&q, fq_path("q"), NULL, &kill_opts, NULL))
    return 1;
  for (;;) {
    int rc = consume_one(q, SHOAL_MSEC(200));
    if (rc && rc != SHOAL_ETIMEDOUT)
      return 2;
  }
}

/* Runs the loop with producers at durability level `level`; at least
 * min_acked puts must return in it. */
static void kill_loop(unsigned level, long min_acked)
{
  kill_opts.durability = level;
  fq_scratch();
  bd = mmap(NULL, sizeof *bd, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(bd != MAP_FAILED);
  shoal_queue *q;
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"),
                                &(shoal_queue_opts){.flags = SHOAL_QUEUE_JOINABLE,
                                                    .maxsize = 2000},
                                &kill_opts, &fq_create));
  shoal_queue_close(q);
  pid_t kids[PRODUCERS + CONSUMERS];
  for (int i = 0; i < PRODUCERS; i++)
    kids[i] = sh_fork(producer, (void *)(intptr_t)i);
  for (int i = 0; i < CONSUMERS; i++)
    kids[PRODUCERS + i] = sh_fork(consumer, NULL);
  unsigned rnd = 12345;
  int kills = 0;
  uint64_t until = sh_now() + 2500000000u;
  while (sh_now() < until) {
    sh_sleep_ms(5 + (int)(rand_r(&rnd) % 25));
    int k = (int)(rand_r(&rnd) % (PRODUCERS + CONSUMERS));
    kill(kids[k], SIGKILL);
    int st;
    cr_assert_eq(waitpid(kids[k], &st, 0), kids[k]);
    cr_assert(WIFSIGNALED(st), "child %d exited with %d", k, WEXITSTATUS(st));
    kills++;
    kids[k] = k < PRODUCERS ? sh_fork(producer, (void *)(intptr_t)k) : sh_fork(consumer, NULL);
  }
  for (int k = 0; k < PRODUCERS + CONSUMERS; k++) {
    kill(kids[k], SIGKILL);
    waitpid(kids[k], NULL, 0);
  }
  /* A fresh process takes what is left, including what dead consumers held. */
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, &kill_opts, NULL));
  int rc;
  while ((rc = consume_one(q, SHOAL_MSEC(700))) == 0)
    ;
  SH_ASSERT_ERR(rc, SHOAL_ETIMEDOUT);
  SH_ASSERT_OK(shoal_queue_join(q, SHOAL_NOWAIT));
  shoal_fileq_info fi;
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  shoal_queue_close(q);
  cr_assert_eq(bd->bad, 0, "%d corrupt messages delivered", bd->bad);
  long acked = 0;
  for (int p = 0; p < PRODUCERS; p++) {
    uint32_t n = bd->next[p] < MAX_PER_PRODUCER ? bd->next[p] : MAX_PER_PRODUCER;
    for (uint32_t s = 0; s < n; s++) {
      if (!bd->put_ok[p][s])
        continue;
      acked++;
      cr_assert(bd->seen[p][s], "message %d/%u: put returned 0, never delivered", p, s);
    }
  }
  cr_assert(kills >= 40 && acked > min_acked, "%d kills, %ld messages", kills, acked);
  fprintf(stderr, "fileq_kill: %d kills, %ld acknowledged puts, %ld deliveries, %lu redelivered\n", kills, acked,
              bd->deliveries, (unsigned long)fi.redelivered);
}

SH_TEST(fileq_kill, kill9_producers_and_consumers)
{
  kill_loop(SHOAL_FILEQ_NONE, 1000);
}

/* Group commit under kills: a producer killed while it leads a sync leaves
 * sync_lock to be taken over; every put that returned is on disk and is
 * delivered.  An fsync per group keeps the count of puts low on slow disks. */
SH_TEST(fileq_kill, kill9_durable_producers_and_consumers)
{
  kill_loop(SHOAL_FILEQ_ALWAYS, 50);
}
