// SPDX-License-Identifier: MIT
// The queue semantics both homes share, run against each: the shared-memory
// queue (shoal_queue_create) and the durable file queue (shoal_fileq_open on
// a scratch directory).  Every case is one function taking the backend;
// each appears twice below, as shm_<case> and file_<case>.  Python's
// _TestQueue behaviours in C terms: bounded queue, timeouts, FIFO across
// fork, qsize, sizes, batches, shutdown, JoinableQueue.
#include <pthread.h>

#include "fq_support.h"

struct backend {
  const char *name;
  int (*open)(shoal_queue **q, const shoal_queue_opts *o);
  size_t max_msg; /* the largest message a 64 KiB queue takes */
};

static int shm_open_q(shoal_queue **q, const shoal_queue_opts *o)
{
  shoal_queue_opts oo = o ? *o : (shoal_queue_opts){0};
  oo.capacity = 65536;
  return shoal_queue_create(q, &oo);
}

static int file_open_q(shoal_queue **q, const shoal_queue_opts *o)
{
  static int n;
  if (!fq_dir_buf[0])
    fq_scratch();
  char sub[32];
  snprintf(sub, sizeof sub, "q%d", n++);
  return shoal_fileq_open(q, fq_path(sub), o,
                          &(shoal_fileq_opts){.durability = SHOAL_FILEQ_NONE,
                                              .segment_size = 65536},
                          &fq_create);
}

static const struct backend shm = {"shm", shm_open_q, 65536 - 8};
static const struct backend file = {"file", file_open_q, 65536 - 64 - 48};

static shoal_queue *q;

static void put_str(const char *s)
{
  SH_ASSERT_OK(shoal_queue_put(q, s, strlen(s), SHOAL_NOWAIT));
}

static void get_expect(const char *want)
{
  char buf[256];
  size_t len = sizeof buf;
  SH_ASSERT_OK(shoal_queue_get(q, buf, &len, SHOAL_SEC(5)));
  cr_assert(len == strlen(want) && memcmp(buf, want, len) == 0, "got \"%.*s\", expected \"%s\"",
            (int)len, buf, want);
}

#define BOTH(name)                                                                                 \
  SH_TEST(shm_queue, name) { case_##name(&shm); }                                                  \
  SH_TEST(file_queue, name) { case_##name(&file); }

/* ---- Python's _TestQueue ---------------------------------------------------- */

static void case_bounded_put_get_and_timeouts(const struct backend *b)
{
  SH_ASSERT_OK(b->open(&q, &(shoal_queue_opts){.maxsize = 6}));
  SH_ASSERT_RC(shoal_queue_empty(q), 1);
  SH_ASSERT_RC(shoal_queue_full(q), 0);
  SH_ASSERT_OK(shoal_queue_put(q, "1", 1, SHOAL_FOREVER));
  SH_ASSERT_OK(shoal_queue_put(q, "2", 1, SHOAL_SEC(1)));
  SH_ASSERT_OK(shoal_queue_put(q, "3", 1, SHOAL_NOWAIT));
  SH_ASSERT_OK(shoal_queue_put(q, "4", 1, SHOAL_MSEC(100)));
  SH_ASSERT_OK(shoal_queue_put(q, "5", 1, SHOAL_FOREVER));
  SH_ASSERT_OK(shoal_queue_put(q, "6", 1, SHOAL_NOWAIT));
  SH_ASSERT_RC(shoal_queue_empty(q), 0);
  SH_ASSERT_RC(shoal_queue_full(q), 1);
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_queue_put(q, "7", 1, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_queue_put(q, "7", 1, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_RC(shoal_queue_qsize(q), 6);
  for (int i = 1; i <= 6; i++) {
    char want[2] = {(char)('0' + i), 0};
    get_expect(want);
  }
  SH_ASSERT_RC(shoal_queue_empty(q), 1);
  char buf[8];
  size_t len = sizeof buf;
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_queue_get(q, buf, &len, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_queue_get(q, buf, &len, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  shoal_queue_close(q);
}
BOTH(bounded_put_get_and_timeouts)

static void case_qsize_counts(const struct backend *b)
{
  SH_ASSERT_OK(b->open(&q, NULL));
  SH_ASSERT_RC(shoal_queue_qsize(q), 0);
  put_str("a");
  SH_ASSERT_RC(shoal_queue_qsize(q), 1);
  put_str("b");
  SH_ASSERT_RC(shoal_queue_qsize(q), 2);
  get_expect("a");
  SH_ASSERT_RC(shoal_queue_qsize(q), 1);
  get_expect("b");
  SH_ASSERT_RC(shoal_queue_qsize(q), 0);
  SH_ASSERT_RC(shoal_queue_full(q), 0);
  shoal_queue_close(q);
}
BOTH(qsize_counts)

static void *delayed_get(void *arg)
{
  (void)arg;
  sh_sleep_ms(50);
  char buf[8];
  size_t len = sizeof buf;
  return (void *)(intptr_t)shoal_queue_get(q, buf, &len, SHOAL_SEC(5));
}

static void case_blocked_put_resumes(const struct backend *b)
{
  pthread_t t;
  void *rc;
  SH_ASSERT_OK(b->open(&q, &(shoal_queue_opts){.maxsize = 1}));
  put_str("x");
  pthread_create(&t, NULL, delayed_get, NULL);
  SH_ASSERT_OK(shoal_queue_put(q, "y", 1, SHOAL_SEC(5)));
  pthread_join(t, &rc);
  SH_ASSERT_OK((int)(intptr_t)rc);
  get_expect("y");
  shoal_queue_close(q);
}
BOTH(blocked_put_resumes)

static void *delayed_put(void *arg)
{
  (void)arg;
  sh_sleep_ms(50);
  return (void *)(intptr_t)shoal_queue_put(q, "late", 4, SHOAL_SEC(5));
}

static void case_blocked_get_wakes(const struct backend *b)
{
  pthread_t t;
  void *rc;
  SH_ASSERT_OK(b->open(&q, NULL));
  pthread_create(&t, NULL, delayed_put, NULL);
  uint64_t t0 = sh_now();
  get_expect("late");
  cr_assert(sh_now() - t0 < 2000000000u);
  pthread_join(t, &rc);
  SH_ASSERT_OK((int)(intptr_t)rc);
  shoal_queue_close(q);
}
BOTH(blocked_get_wakes)

static int child_puts_10_to_19(void *arg)
{
  (void)arg;
  for (int i = 10; i < 20; i++) {
    char b[8];
    int n = snprintf(b, sizeof b, "%d", i);
    if (shoal_queue_put(q, b, (size_t)n, SHOAL_SEC(5)) != 0)
      return 1;
  }
  return 0;
}

static void case_fork_items_arrive_in_order(const struct backend *b)
{
  SH_ASSERT_OK(b->open(&q, NULL));
  for (int i = 0; i < 10; i++) {
    char s[8];
    snprintf(s, sizeof s, "%d", i);
    put_str(s);
  }
  cr_assert_eq(sh_wait(sh_fork(child_puts_10_to_19, NULL), 10000), 0);
  for (int i = 0; i < 20; i++) {
    char s[8];
    snprintf(s, sizeof s, "%d", i);
    get_expect(s);
  }
  SH_ASSERT_RC(shoal_queue_empty(q), 1);
  shoal_queue_close(q);
}
BOTH(fork_items_arrive_in_order)

/* ---- message sizes ---------------------------------------------------------- */

static void case_sizes(const struct backend *b)
{
  SH_ASSERT_OK(b->open(&q, NULL));
  SH_ASSERT_OK(shoal_queue_put(q, NULL, 0, SHOAL_NOWAIT)); /* empty is legal */
  size_t len = 0;
  SH_ASSERT_OK(shoal_queue_get(q, NULL, &len, SHOAL_NOWAIT));
  cr_assert_eq(len, 0);
  size_t big = b->max_msg;
  unsigned char *src = malloc(big + 1), *dst = malloc(big + 1);
  for (size_t i = 0; i <= big; i++)
    src[i] = (unsigned char)(i * 7);
  for (int round = 0; round < 3; round++) {
    put_str("xyz"); /* moves the start, so that big ones wrap or roll over */
    get_expect("xyz");
    SH_ASSERT_OK(shoal_queue_put(q, src, big, SHOAL_NOWAIT));
    len = big;
    SH_ASSERT_OK(shoal_queue_get(q, dst, &len, SHOAL_NOWAIT));
    cr_assert(len == big && memcmp(src, dst, big) == 0, "big message corrupted");
  }
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_queue_put(q, src, big + 1, SHOAL_FOREVER), SHOAL_E2BIG);
  SH_ASSERT_QUICK(t0);
  put_str("hello world");
  char small[4];
  len = sizeof small;
  SH_ASSERT_ERR(shoal_queue_get(q, small, &len, SHOAL_NOWAIT), SHOAL_EMSGSIZE);
  cr_assert_eq(len, 11);
  SH_ASSERT_RC(shoal_queue_qsize(q), 1);
  void *p;
  int64_t prio = -1;
  SH_ASSERT_OK(shoal_queue_get_alloc(q, &p, &len, &prio, SHOAL_NOWAIT));
  cr_assert(len == 11 && memcmp(p, "hello world", 11) == 0);
  cr_assert_eq(prio, 0);
  shoal_free(p);
  free(src);
  free(dst);
  shoal_queue_close(q);
}
BOTH(sizes)

static void case_put_many_get_many(const struct backend *b)
{
  SH_ASSERT_OK(b->open(&q, &(shoal_queue_opts){.maxsize = 5}));
  struct iovec v[8];
  char text[8][4];
  for (int i = 0; i < 8; i++) {
    snprintf(text[i], sizeof text[i], "m%d", i);
    v[i] = (struct iovec){text[i], strlen(text[i])};
  }
  SH_ASSERT_RC(shoal_queue_put_many(q, v, 8, SHOAL_NOWAIT), 5); /* maxsize */
  char buf[64];
  size_t lens[8];
  SH_ASSERT_RC(shoal_queue_get_many(q, buf, 5, lens, 8, SHOAL_NOWAIT), 2); /* buffer */
  cr_assert(lens[0] == 2 && lens[1] == 2 && !memcmp(buf, "m0m1", 4));
  SH_ASSERT_RC(shoal_queue_get_many(q, buf, sizeof buf, lens, 8, SHOAL_NOWAIT), 3);
  cr_assert(!memcmp(buf, "m2m3m4", 6));
  SH_ASSERT_ERR(shoal_queue_get_many(q, buf, sizeof buf, lens, 8, SHOAL_NOWAIT), SHOAL_EAGAIN);
  put_str("longer");
  SH_ASSERT_ERR(shoal_queue_get_many(q, buf, 3, lens, 8, SHOAL_NOWAIT), SHOAL_EMSGSIZE);
  cr_assert_eq(lens[0], 6);
  shoal_queue_close(q);
}
BOTH(put_many_get_many)

/* ---- shutdown ---------------------------------------------------------------- */

static void case_shutdown(const struct backend *b)
{
  char buf[8];
  size_t len = sizeof buf;
  SH_ASSERT_OK(b->open(&q, NULL));
  SH_ASSERT_RC(shoal_queue_shutdown(q, 0), 0);
  SH_ASSERT_RC(shoal_queue_qsize(q), 0);
  SH_ASSERT_ERR(shoal_queue_put(q, "a", 1, SHOAL_NOWAIT), SHOAL_ECLOSED);
  SH_ASSERT_ERR(shoal_queue_put(q, "a", 1, SHOAL_FOREVER), SHOAL_ECLOSED);
  SH_ASSERT_ERR(shoal_queue_get(q, buf, &len, SHOAL_NOWAIT), SHOAL_ECLOSED);
  SH_ASSERT_ERR(shoal_queue_get(q, buf, &len, SHOAL_FOREVER), SHOAL_ECLOSED);
  SH_ASSERT_RC(shoal_queue_shutdown(q, 0), 0);
  shoal_queue_close(q);

  SH_ASSERT_OK(b->open(&q, NULL));
  put_str("left");
  SH_ASSERT_RC(shoal_queue_shutdown(q, 0), 0);
  get_expect("left");
  SH_ASSERT_ERR(shoal_queue_get(q, buf, &len, SHOAL_FOREVER), SHOAL_ECLOSED);
  shoal_queue_close(q);

  SH_ASSERT_OK(b->open(&q, NULL));
  put_str("a");
  put_str("b");
  put_str("c");
  SH_ASSERT_RC(shoal_queue_shutdown(q, 1), 3);
  SH_ASSERT_RC(shoal_queue_qsize(q), 0);
  SH_ASSERT_ERR(shoal_queue_get(q, buf, &len, SHOAL_NOWAIT), SHOAL_ECLOSED);
  shoal_queue_info st;
  SH_ASSERT_OK(shoal_queue_stats(q, &st));
  cr_assert_eq(st.discarded, 3);
  shoal_queue_close(q);
}
BOTH(shutdown)

static int child_blocked_get(void *arg)
{
  (void)arg;
  char buf[8];
  size_t len = sizeof buf;
  return shoal_queue_get(q, buf, &len, SHOAL_SEC(10)) == SHOAL_ECLOSED ? 0 : 1;
}

static int child_blocked_put(void *arg)
{
  (void)arg;
  return shoal_queue_put(q, "z", 1, SHOAL_SEC(10)) == SHOAL_ECLOSED ? 0 : 1;
}

static void case_shutdown_wakes_blocked_processes(const struct backend *b)
{
  SH_ASSERT_OK(b->open(&q, NULL));
  pid_t g = sh_fork(child_blocked_get, NULL);
  sh_sleep_ms(50);
  uint64_t t0 = sh_now();
  SH_ASSERT_RC(shoal_queue_shutdown(q, 0), 0);
  cr_assert_eq(sh_wait(g, 5000), 0);
  cr_assert(sh_now() - t0 < 1000000000u);
  shoal_queue_close(q);

  SH_ASSERT_OK(b->open(&q, &(shoal_queue_opts){.maxsize = 1}));
  put_str("full");
  pid_t p = sh_fork(child_blocked_put, NULL);
  sh_sleep_ms(50);
  SH_ASSERT_RC(shoal_queue_shutdown(q, 1), 1);
  cr_assert_eq(sh_wait(p, 5000), 0);
  shoal_queue_close(q);
}
BOTH(shutdown_wakes_blocked_processes)

/* ---- JoinableQueue ------------------------------------------------------------- */

static int worker_task_done(void *arg)
{
  (void)arg;
  char buf[16];
  for (;;) {
    size_t len = sizeof buf;
    if (shoal_queue_get(q, buf, &len, SHOAL_SEC(10)) != 0)
      return 1;
    if (len == 4 && !memcmp(buf, "stop", 4))
      return shoal_queue_task_done(q) == 0 ? 0 : 2;
    sh_sleep_ms(1);
    if (shoal_queue_task_done(q) != 0)
      return 3;
  }
}

static void case_joinable_four_workers(const struct backend *b)
{
  pid_t w[4];
  SH_ASSERT_OK(b->open(&q, &(shoal_queue_opts){.flags = SHOAL_QUEUE_JOINABLE}));
  SH_ASSERT_OK(shoal_queue_join(q, SHOAL_NOWAIT));
  for (int i = 0; i < 4; i++)
    w[i] = sh_fork(worker_task_done, NULL);
  for (int i = 0; i < 40; i++)
    put_str("job");
  SH_ASSERT_OK(shoal_queue_join(q, SHOAL_SEC(10)));
  SH_ASSERT_RC(shoal_queue_empty(q), 1);
  for (int i = 0; i < 4; i++)
    put_str("stop");
  for (int i = 0; i < 4; i++)
    cr_assert_eq(sh_wait(w[i], 10000), 0);
  SH_ASSERT_OK(shoal_queue_join(q, SHOAL_SEC(5)));
  SH_ASSERT_ERR(shoal_queue_task_done(q), SHOAL_EOVERRELEASE);
  shoal_queue_close(q);
}
BOTH(joinable_four_workers)

static void case_join_timeouts_and_immediate_shutdown(const struct backend *b)
{
  char buf[8];
  size_t len = sizeof buf;
  SH_ASSERT_OK(b->open(&q, &(shoal_queue_opts){.flags = SHOAL_QUEUE_JOINABLE}));
  put_str("a");
  put_str("b");
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_queue_join(q, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_ERR(shoal_queue_join(q, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_OK(shoal_queue_get(q, buf, &len, SHOAL_NOWAIT));
  SH_ASSERT_RC(shoal_queue_shutdown(q, 1), 1);
  SH_ASSERT_ERR(shoal_queue_join(q, SHOAL_MSEC(50)), SHOAL_ETIMEDOUT);
  SH_ASSERT_OK(shoal_queue_task_done(q));
  SH_ASSERT_OK(shoal_queue_join(q, SHOAL_NOWAIT));
  SH_ASSERT_ERR(shoal_queue_task_done(q), SHOAL_EOVERRELEASE);
  shoal_queue_close(q);
  SH_ASSERT_OK(b->open(&q, NULL));
  SH_ASSERT_ERR(shoal_queue_task_done(q), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_join(q, SHOAL_NOWAIT), SHOAL_EINVAL);
  shoal_queue_close(q);
}
BOTH(join_timeouts_and_immediate_shutdown)

/* ---- threads -------------------------------------------------------------------- */

#define THREAD_MSGS 2000

static void *thread_producer(void *arg)
{
  uint32_t base = (uint32_t)(intptr_t)arg;
  unsigned char buf[128];
  for (uint32_t i = 0; i < THREAD_MSGS; i++) {
    size_t n = fq_build(buf, base + i, i % 100);
    if (shoal_queue_put(q, buf, n, SHOAL_SEC(10)) != 0)
      return (void *)1;
  }
  return NULL;
}

static _Atomic int thread_seen[4 * THREAD_MSGS];

static void *thread_consumer(void *arg)
{
  (void)arg;
  unsigned char buf[128];
  for (;;) {
    size_t len = sizeof buf;
    int rc = shoal_queue_get(q, buf, &len, SHOAL_SEC(10));
    if (rc)
      return (void *)2;
    if (len == 0)
      return NULL;
    long id = fq_verify(buf, len);
    if (id < 0 || id >= 4 * THREAD_MSGS)
      return (void *)3;
    thread_seen[id]++;
  }
}

static void case_threads_mpmc(const struct backend *b)
{
  pthread_t p[4], c[2];
  SH_ASSERT_OK(b->open(&q, &(shoal_queue_opts){.maxsize = 64}));
  for (int i = 0; i < 2; i++)
    pthread_create(&c[i], NULL, thread_consumer, NULL);
  for (int i = 0; i < 4; i++)
    pthread_create(&p[i], NULL, thread_producer, (void *)(intptr_t)(i * THREAD_MSGS));
  for (int i = 0; i < 4; i++) {
    void *rc;
    pthread_join(p[i], &rc);
    cr_assert(rc == NULL);
  }
  SH_ASSERT_OK(shoal_queue_put(q, NULL, 0, SHOAL_SEC(5)));
  SH_ASSERT_OK(shoal_queue_put(q, NULL, 0, SHOAL_SEC(5)));
  for (int i = 0; i < 2; i++) {
    void *rc;
    pthread_join(c[i], &rc);
    cr_assert(rc == NULL, "consumer failed: %d", (int)(intptr_t)rc);
  }
  for (int i = 0; i < 4 * THREAD_MSGS; i++)
    cr_assert_eq(thread_seen[i], 1, "message %d seen %d times", i, thread_seen[i]);
  shoal_queue_close(q);
}
BOTH(threads_mpmc)

/* ---- bad input ---------------------------------------------------------------------- */

static void case_bad_input(const struct backend *b)
{
  char buf[8];
  size_t len = sizeof buf;
  SH_ASSERT_OK(b->open(&q, NULL));
  SH_ASSERT_ERR(shoal_queue_put(q, NULL, 3, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_put(q, "a", 1, -4), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_get(q, buf, NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_get(q, NULL, &len, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_get(q, buf, &len, -9), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_put_many(q, NULL, 1, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_get_many(q, buf, sizeof buf, NULL, 1, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_stats(q, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_commit(q), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_release(q), SHOAL_EINVAL);
  shoal_queue_close(q);
}
BOTH(bad_input)
