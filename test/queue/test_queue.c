// SPDX-License-Identifier: MIT
// Queue: what is particular to the shared-memory queue — the priority and
// LIFO faces, message sizes against the ring's capacity, zero copy,
// readiness fds, named queues and bad input.  Python's _TestQueue behaviours
// (bounded queue, timeouts, FIFO across fork, qsize, shutdown,
// JoinableQueue, batches) are written once in
// test/backend/test_fileq_semantics.c and run there against this queue and
// the file queue alike.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "support.h"

static shoal_queue *q;

static void put_str(shoal_queue *qq, const char *s)
{
  SH_ASSERT_OK(shoal_queue_put(qq, s, strlen(s), SHOAL_NOWAIT));
}

static void get_expect(shoal_queue *qq, const char *want)
{
  char buf[256];
  size_t len = sizeof buf;
  SH_ASSERT_OK(shoal_queue_get(qq, buf, &len, SHOAL_SEC(5)));
  cr_assert(len == strlen(want) && memcmp(buf, want, len) == 0, "got \"%.*s\", expected \"%s\"",
            (int)len, buf, want);
}

/* ---- message sizes ---------------------------------------------------------- */

SH_TEST(queue_threads, sizes_empty_large_too_big_too_small)
{
  SH_ASSERT_OK(shoal_queue_create(&q, &(shoal_queue_opts){.capacity = 65536}));
  shoal_queue_info st;
  SH_ASSERT_OK(shoal_queue_stats(q, &st));
  cr_assert_eq(st.capacity, 65536);
  /* Empty messages are legal. */
  SH_ASSERT_OK(shoal_queue_put(q, NULL, 0, SHOAL_NOWAIT));
  size_t len = 0;
  SH_ASSERT_OK(shoal_queue_get(q, NULL, &len, SHOAL_NOWAIT));
  cr_assert_eq(len, 0);
  /* The largest message the capacity can hold, twice (wrapping the ring). */
  size_t big = 65536 - 8;
  char *src = malloc(big), *dst = malloc(big);
  for (size_t i = 0; i < big; i++)
    src[i] = (char)(i * 7);
  put_str(q, "xyz"); /* move the ring's start so the big one wraps */
  get_expect(q, "xyz");
  for (int round = 0; round < 2; round++) {
    SH_ASSERT_OK(shoal_queue_put(q, src, big, SHOAL_NOWAIT));
    SH_ASSERT_ERR(shoal_queue_put(q, "", 0, SHOAL_NOWAIT), SHOAL_EAGAIN); /* full */
    len = big;
    SH_ASSERT_OK(shoal_queue_get(q, dst, &len, SHOAL_NOWAIT));
    cr_assert(len == big && memcmp(src, dst, big) == 0, "big message corrupted");
  }
  /* Too big ever to fit: at once, whatever the timeout. */
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_queue_put(q, src, big + 1, SHOAL_FOREVER), SHOAL_E2BIG);
  SH_ASSERT_QUICK(t0);
  /* Too small a buffer: the size needed, and the message stays. */
  put_str(q, "hello world");
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
  shoal_queue_destroy(q);
}

/* ---- shutdown ---------------------------------------------------------------- */

/* ---- JoinableQueue ------------------------------------------------------------- */

/* ---- priority and LIFO ---------------------------------------------------------- */

static int child_puts_priorities(void *arg)
{
  (void)arg;
  int rc = shoal_queue_put_priority(q, 2, "low-a", 5, SHOAL_SEC(5));
  rc |= shoal_queue_put_priority(q, 1, "high-priority message", 21, SHOAL_SEC(5));
  rc |= shoal_queue_put_priority(q, 2, "low-b", 5, SHOAL_SEC(5));
  rc |= shoal_queue_put_priority(q, -5, "urgent", 6, SHOAL_SEC(5));
  rc |= shoal_queue_put_priority(q, 1, "high-2", 6, SHOAL_SEC(5));
  return rc ? 1 : 0;
}

SH_TEST(queue_fork, priority_order_across_processes)
{
  const char *want[] = {"urgent", "high-priority message", "high-2", "low-a", "low-b"};
  int64_t wantp[] = {-5, 1, 1, 2, 2};
  SH_ASSERT_OK(shoal_queue_create(&q, &(shoal_queue_opts){.kind = SHOAL_QUEUE_PRIORITY}));
  cr_assert_eq(sh_wait(sh_fork(child_puts_priorities, NULL), 5000), 0);
  SH_ASSERT_RC(shoal_queue_qsize(q), 5);
  for (int i = 0; i < 5; i++) {
    char buf[64];
    size_t len = sizeof buf;
    int64_t prio;
    SH_ASSERT_OK(shoal_queue_get_priority(q, buf, &len, &prio, SHOAL_SEC(5)));
    cr_assert(len == strlen(want[i]) && !memcmp(buf, want[i], len), "got %.*s, want %s",
              (int)len, buf, want[i]);
    cr_assert_eq(prio, wantp[i]);
  }
  SH_ASSERT_RC(shoal_queue_empty(q), 1);
  shoal_queue_destroy(q);
}

SH_TEST(queue_threads, priority_many_and_space_reuse)
{
  /* 2000 random priorities through a small queue: always the lowest first,
   * FIFO among equals, and the storage keeps being reused. */
  SH_ASSERT_OK(shoal_queue_create(&q, &(shoal_queue_opts){.kind = SHOAL_QUEUE_PRIORITY,
                                                          .capacity = 8192}));
  srand(7);
  int64_t last_prio = INT64_MIN;
  unsigned last_seq = 0;
  unsigned seq = 0;
  for (int round = 0; round < 100; round++) {
    for (int i = 0; i < 20; i++, seq++)
      SH_ASSERT_OK(shoal_queue_put_priority(q, rand() % 5, &seq, sizeof seq, SHOAL_NOWAIT));
    last_prio = INT64_MIN;
    for (int i = 0; i < 20; i++) {
      unsigned got;
      size_t len = sizeof got;
      int64_t prio;
      SH_ASSERT_OK(shoal_queue_get_priority(q, &got, &len, &prio, SHOAL_NOWAIT));
      cr_assert(prio >= last_prio, "priority went down");
      if (prio == last_prio)
        cr_assert(got > last_seq, "not FIFO among equal priorities");
      last_prio = prio;
      last_seq = got;
    }
  }
  SH_ASSERT_RC(shoal_queue_qsize(q), 0);
  shoal_queue_destroy(q);
}

SH_TEST(queue_threads, lifo_order)
{
  SH_ASSERT_OK(shoal_queue_create(&q, &(shoal_queue_opts){.kind = SHOAL_QUEUE_LIFO,
                                                          .maxsize = 3}));
  put_str(q, "a");
  put_str(q, "b");
  put_str(q, "c");
  SH_ASSERT_ERR(shoal_queue_put(q, "d", 1, SHOAL_NOWAIT), SHOAL_EAGAIN);
  get_expect(q, "c");
  put_str(q, "d");
  get_expect(q, "d");
  get_expect(q, "b");
  get_expect(q, "a");
  SH_ASSERT_RC(shoal_queue_empty(q), 1);
  const void *p;
  size_t len;
  void *w;
  SH_ASSERT_ERR(shoal_queue_peek(q, &p, &len, SHOAL_NOWAIT), SHOAL_ENOTSUP);
  SH_ASSERT_ERR(shoal_queue_loan(q, 4, &w, SHOAL_NOWAIT), SHOAL_ENOTSUP);
  shoal_queue_destroy(q);
}

/* ---- batches and zero copy ------------------------------------------------------ */

#define MIB (1024 * 1024)

static int child_loans_mib(void *arg)
{
  (void)arg;
  void *w;
  if (shoal_queue_loan(q, MIB, &w, SHOAL_SEC(5)) != 0)
    return 1;
  for (size_t i = 0; i < MIB; i++)
    ((unsigned char *)w)[i] = (unsigned char)(i * 13 + 1);
  return shoal_queue_commit(q) == 0 ? 0 : 2;
}

SH_TEST(queue_fork, one_mib_zero_copy_both_ends)
{
  SH_ASSERT_OK(shoal_queue_create(&q, &(shoal_queue_opts){.capacity = 4 * MIB}));
  cr_assert_eq(sh_wait(sh_fork(child_loans_mib, NULL), 10000), 0);
  const void *p;
  size_t len;
  SH_ASSERT_OK(shoal_queue_peek(q, &p, &len, SHOAL_SEC(5)));
  cr_assert_eq(len, MIB);
  for (size_t i = 0; i < MIB; i += 4093)
    cr_assert_eq(((const unsigned char *)p)[i], (unsigned char)(i * 13 + 1));
  SH_ASSERT_RC(shoal_queue_qsize(q), 1);
  SH_ASSERT_OK(shoal_queue_release(q));
  SH_ASSERT_RC(shoal_queue_qsize(q), 0);
  SH_ASSERT_ERR(shoal_queue_release(q), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_commit(q), SHOAL_EINVAL);
  /* An abandoned loan puts nothing. */
  void *w;
  SH_ASSERT_OK(shoal_queue_loan(q, 10, &w, SHOAL_NOWAIT));
  SH_ASSERT_OK(shoal_queue_abandon(q));
  SH_ASSERT_RC(shoal_queue_qsize(q), 0);
  SH_ASSERT_ERR(shoal_queue_loan(q, 8 * MIB, &w, SHOAL_NOWAIT), SHOAL_E2BIG);
  shoal_queue_destroy(q);
}

/* ---- readiness fds ---------------------------------------------------------------- */

static int child_put_later(void *arg)
{
  (void)arg;
  sh_sleep_ms(50);
  return shoal_queue_put(q, "ping", 4, SHOAL_SEC(5)) == 0 ? 0 : 1;
}

SH_TEST(queue_fork, epoll_on_readable_fd)
{
  SH_ASSERT_OK(shoal_queue_create(&q, &(shoal_queue_opts){.maxsize = 1}));
  pid_t p = sh_fork(child_put_later, NULL);
  int fd = shoal_queue_fd(q, SHOAL_QUEUE_READABLE);
  cr_assert(fd >= 0, "%s", shoal_err_name(fd));
  SH_ASSERT_RC(shoal_queue_fd(q, SHOAL_QUEUE_READABLE), fd);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN}, out;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  cr_assert_eq(epoll_wait(ep, &out, 1, 5000), 1, "fd never became readable");
  get_expect(q, "ping");
  cr_assert_eq(sh_wait(p, 5000), 0);
  /* Drained: a NOWAIT get finds nothing and re-arms; the fd goes quiet. */
  char buf[8];
  size_t len = sizeof buf;
  SH_ASSERT_ERR(shoal_queue_get(q, buf, &len, SHOAL_NOWAIT), SHOAL_EAGAIN);
  cr_assert_eq(epoll_wait(ep, &out, 1, 100), 0, "fd still readable on an empty queue");
  put_str(q, "again");
  cr_assert_eq(epoll_wait(ep, &out, 1, 5000), 1);
  /* Writable: the queue (maxsize 1) is full now. */
  int wfd = shoal_queue_fd(q, SHOAL_QUEUE_WRITABLE);
  cr_assert(wfd >= 0);
  SH_ASSERT_ERR(shoal_queue_put(q, "x", 1, SHOAL_NOWAIT), SHOAL_EAGAIN);
  int ep2 = epoll_create1(0);
  epoll_ctl(ep2, EPOLL_CTL_ADD, wfd, &ev);
  cr_assert_eq(epoll_wait(ep2, &out, 1, 100), 0, "writable while full");
  get_expect(q, "again");
  cr_assert_eq(epoll_wait(ep2, &out, 1, 5000), 1, "never writable after a get");
  close(ep);
  close(ep2);
  SH_ASSERT_ERR(shoal_queue_fd(q, 7), SHOAL_EINVAL);
  shoal_queue_destroy(q);
}

/* ---- named queues ------------------------------------------------------------------ */

SH_TEST(queue_named, unrelated_processes)
{
  const char *name = sh_name("queue");
  char line[256];
  int fd;
  shoal_open_opts create = {.flags = SHOAL_OPEN_CREATE};
  SH_ASSERT_OK(shoal_queue_open(&q, name, &(shoal_queue_opts){.maxsize = 4}, &create));
  pid_t p = sh_spawn(&fd, "queue_helper", "put", name, "one", "two", NULL);
  for (int i = 0; i < 2; i++) {
    sh_read_line(fd, line, sizeof line, 5000);
    cr_assert_str_eq(line, "SHOAL_OK");
  }
  sh_wait(p, 5000);
  close(fd);
  get_expect(q, "one");
  get_expect(q, "two");
  /* A blocked getter in another process receives what we put. */
  p = sh_spawn(&fd, "queue_helper", "get", name, "10000", "2", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "waiting");
  put_str(q, "three");
  put_str(q, "four");
  sh_read_line(fd, line, sizeof line, 10000);
  cr_assert_str_eq(line, "three");
  sh_read_line(fd, line, sizeof line, 10000);
  cr_assert_str_eq(line, "four");
  sh_wait(p, 5000);
  close(fd);
  /* Shutdown reaches a blocked getter in another process. */
  p = sh_spawn(&fd, "queue_helper", "get", name, "-1", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  sh_sleep_ms(30);
  SH_ASSERT_RC(shoal_queue_shutdown(q, 0), 0);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "SHOAL_ECLOSED");
  sh_wait(p, 5000);
  close(fd);
  /* The name holds a queue, not a lock. */
  sh_spawn(&fd, "queue_helper", "open-as-lock", name, NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "SHOAL_ETYPE");
  close(fd);
  shoal_queue_close(q);
}

SH_TEST(queue_named, priority_between_processes)
{
  const char *name = sh_name("pqueue");
  char line[64];
  int fd;
  SH_ASSERT_OK(shoal_queue_open(&q, name, &(shoal_queue_opts){.kind = SHOAL_QUEUE_PRIORITY},
                                &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  sh_spawn(&fd, "queue_helper", "putp", name, "2", "second", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  close(fd);
  sh_spawn(&fd, "queue_helper", "putp", name, "1", "first", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  close(fd);
  get_expect(q, "first");
  get_expect(q, "second");
  shoal_queue_close(q);
}

/* ---- bad input ---------------------------------------------------------------------- */

SH_TEST(queue_bad, bad_input)
{
  char buf[8];
  size_t len = sizeof buf;
  void *p;
  SH_ASSERT_ERR(shoal_queue_create(NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_create(&q, &(shoal_queue_opts){.kind = 9}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_create(&q, &(shoal_queue_opts){.flags = 0x100}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_create(&q, &(shoal_queue_opts){.reserved[3] = 1}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_create(&q, &(shoal_queue_opts){.maxsize = SHOAL_QUEUE_MAX_ITEMS + 1}),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(
      shoal_queue_create(&q, &(shoal_queue_opts){.capacity = SHOAL_QUEUE_MAX_CAPACITY + 1}),
      SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_open(&q, "a/b", NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_open(&q, sh_name("none"), NULL, NULL), SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal_queue_put(NULL, "a", 1, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_get(NULL, buf, &len, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_get_alloc(NULL, &p, &len, NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_qsize(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_empty(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_full(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_shutdown(NULL, 0), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_stats(NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_task_done(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_join(NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_fd(NULL, SHOAL_QUEUE_READABLE), SHOAL_EINVAL);
  shoal_queue_destroy(NULL);
  shoal_queue_close(NULL);
  SH_ASSERT_OK(shoal_queue_create(&q, NULL));
  SH_ASSERT_ERR(shoal_queue_put(q, NULL, 3, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_put(q, "a", 1, -4), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_get(q, buf, NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_get(q, NULL, &len, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_get(q, buf, &len, -9), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_put_many(q, NULL, 1, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_get_many(q, buf, sizeof buf, NULL, 1, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_stats(q, NULL), SHOAL_EINVAL);
  shoal_queue_destroy(q);
}
