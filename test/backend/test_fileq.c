// SPDX-License-Identifier: MIT
// The durable file queue's own behaviour: persistence across close and
// reopen, segment rollover and deletion, the rebuild after a reboot,
// at-least-once delivery (redelivery after a consumer's death, dead
// letters), a getter in an unrelated process woken without polling, the
// durability levels, bad paths and options, and a full disk (a small tmpfs,
// and a file size limit where no tmpfs can be mounted).
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "backend/file/fileq.h"
#include "core/region.h"
#include "fq_support.h"


static shoal_queue *q;

static const shoal_fileq_opts small_none = {.durability = SHOAL_FILEQ_NONE,
                                            .segment_size = 65536};

static void open_q(const shoal_queue_opts *qo, const shoal_fileq_opts *fo)
{
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), qo, fo, &fq_create));
}

static void put_id(uint32_t id, uint32_t payload)
{
  unsigned char buf[4096];
  size_t n = fq_build(buf, id, payload);
  SH_ASSERT_OK(shoal_queue_put(q, buf, n, SHOAL_SEC(5)));
}

static long get_id(shoal_duration t)
{
  unsigned char buf[4096];
  size_t len = sizeof buf;
  int rc = shoal_queue_get(q, buf, &len, t);
  if (rc)
    return rc;
  long id = fq_verify(buf, len);
  cr_assert(id >= 0, "corrupt message of %zu bytes", len);
  return id;
}

static void expect_id(shoal_duration t, long want)
{
  long id = get_id(t);
  cr_assert_eq(id, want, "got %ld (%s), expected message %ld", id, id < 0 ? shoal_err_name((int)id) : "",
               want);
}

static int count_segments(void)
{
  DIR *d = opendir(fq_path("q"));
  cr_assert_not_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += strlen(e->d_name) == 20 && !strcmp(e->d_name + 16, ".seg");
  closedir(d);
  return n;
}

static void get_str(const char *want)
{
  char buf[256];
  size_t len = sizeof buf;
  SH_ASSERT_OK(shoal_queue_get(q, buf, &len, SHOAL_SEC(5)));
  cr_assert(len == strlen(want) && !memcmp(buf, want, len), "got %.*s, want %s", (int)len, buf,
            want);
}

/* ---- persistence and segments ------------------------------------------------------- */

SH_TEST(fileq, persists_across_reopen_and_deletes_consumed_segments)
{
  fq_scratch();
  open_q(NULL, &small_none);
  for (uint32_t i = 0; i < 300; i++)
    put_id(i, 3000); /* 21 records a segment */
  shoal_fileq_info fi;
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert(fi.last_segment >= 10, "only %lu segments", (unsigned long)fi.last_segment);
  int before = count_segments();
  for (uint32_t i = 0; i < 100; i++)
    expect_id(SHOAL_NOWAIT, i);
  cr_assert(count_segments() < before, "consumed segments stay");
  shoal_queue_close(q);
  char url[400];
  snprintf(url, sizeof url, "file://%s", fq_path("q"));
  SH_ASSERT_OK(shoal_queue_open(&q, url, NULL, NULL));
  SH_ASSERT_RC(shoal_queue_qsize(q), 200);
  for (uint32_t i = 100; i < 300; i++)
    expect_id(SHOAL_NOWAIT, i);
  SH_ASSERT_RC(shoal_queue_qsize(q), 0);
  cr_assert_eq(count_segments(), 1);
  shoal_queue_close(q);
}

/* Makes the control file look as if written before a reboot. */
static void fake_reboot(void)
{
  int fd = open(fq_path("q/queue.ctl"), O_WRONLY);
  cr_assert(fd >= 0);
  cr_assert_eq(pwrite(fd, "an-earlier-boot", 15, SHOAL__REGION_HEADER_SIZE), 15);
  close(fd);
}

SH_TEST(fileq, rebuilt_after_a_reboot_from_the_checkpoint)
{
  fq_scratch();
  open_q(&(shoal_queue_opts){.flags = SHOAL_QUEUE_JOINABLE}, &small_none);
  for (uint32_t i = 0; i < 100; i++)
    put_id(i, 1000);
  for (uint32_t i = 0; i < 40; i++) {
    expect_id(SHOAL_NOWAIT, i);
    if (i != 35) /* task_done acknowledges this thread's oldest: 39 is left */
      SH_ASSERT_OK(shoal_queue_task_done(q));
  }
  shoal_queue_close(q); /* leaves a checkpoint */
  fake_reboot();
  open_q(NULL, NULL);
  shoal_fileq_info fi;
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert_eq(fi.rebuilds, 1);
  cr_assert_eq(fi.torn_records, 0);
  /* The unacknowledged one comes again first, then the rest in order. */
  SH_ASSERT_RC(shoal_queue_qsize(q), 61);
  expect_id(SHOAL_NOWAIT, 39);
  for (uint32_t i = 40; i < 100; i++) {
    expect_id(SHOAL_NOWAIT, i);
    SH_ASSERT_OK(shoal_queue_task_done(q));
  }
  SH_ASSERT_OK(shoal_queue_task_done(q));
  SH_ASSERT_OK(shoal_queue_join(q, SHOAL_NOWAIT));
  shoal_queue_close(q);
}

/* ---- at-least-once ------------------------------------------------------------------- */

SH_TEST(fileq, delivered_again_when_the_consumer_dies)
{
  char line[64];
  int fd;
  fq_scratch();
  open_q(&(shoal_queue_opts){.flags = SHOAL_QUEUE_JOINABLE}, &small_none);
  for (uint32_t i = 0; i < 3; i++)
    put_id(i, 10);
  pid_t p = sh_spawn(&fd, "fileq_helper", "take", fq_path("q"), "2", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "took 2");
  SH_ASSERT_RC(shoal_queue_qsize(q), 1);
  kill(p, SIGKILL);
  cr_assert_eq(sh_wait(p, 5000), 128 + SIGKILL);
  close(fd);
  int seen[3] = {0};
  for (int i = 0; i < 3; i++) {
    long id = get_id(SHOAL_SEC(5));
    cr_assert(id >= 0 && id < 3, "get: %s", shoal_err_name((int)id));
    seen[id]++;
    SH_ASSERT_OK(shoal_queue_task_done(q));
  }
  cr_assert(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
  shoal_fileq_info fi;
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert_eq(fi.redelivered, 2);
  SH_ASSERT_OK(shoal_queue_join(q, SHOAL_NOWAIT));
  shoal_queue_close(q);
}

static int count_dead(const void *msg, size_t len, uint64_t seq, void *arg)
{
  (void)seq;
  cr_assert(len == 6 && !memcmp(msg, "poison", 6));
  (*(int *)arg)++;
  return 0;
}

SH_TEST(fileq, a_message_that_kills_its_consumers_is_parked)
{
  char line[64];
  int fd;
  fq_scratch();
  open_q(&(shoal_queue_opts){.flags = SHOAL_QUEUE_JOINABLE},
         &(shoal_fileq_opts){.durability = SHOAL_FILEQ_NONE, .segment_size = 65536,
                             .dead_letter = 2});
  SH_ASSERT_OK(shoal_queue_put(q, "poison", 6, SHOAL_NOWAIT));
  for (int round = 0; round < 2; round++) {
    pid_t p = sh_spawn(&fd, "fileq_helper", "take", fq_path("q"), "1", NULL);
    sh_read_line(fd, line, sizeof line, 5000);
    cr_assert_str_eq(line, "took 1");
    kill(p, SIGKILL);
    sh_wait(p, 5000);
    close(fd);
  }
  char buf[16];
  size_t len = sizeof buf;
  SH_ASSERT_ERR(shoal_queue_get(q, buf, &len, SHOAL_MSEC(400)), SHOAL_ETIMEDOUT);
  shoal_fileq_info fi;
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert_eq(fi.dead_lettered, 1);
  cr_assert_eq(fi.redelivered, 1);
  SH_ASSERT_OK(shoal_queue_join(q, SHOAL_NOWAIT));
  int n = 0;
  SH_ASSERT_RC(shoal_fileq_dead_scan(fq_path("q"), count_dead, &n), 1);
  cr_assert_eq(n, 1);
  shoal_queue_close(q);
}

static int consume_half(void *arg)
{
  (void)arg;
  shoal_queue *mine;
  if (shoal_fileq_open(&mine, fq_path("q"), NULL, NULL, NULL))
    return 1;
  for (int i = 0; i < 5; i++) {
    unsigned char buf[64];
    size_t len = sizeof buf;
    if (shoal_queue_get(mine, buf, &len, SHOAL_SEC(5)) || fq_verify(buf, len) != i ||
        shoal_queue_task_done(mine))
      return 2;
  }
  shoal_queue_close(mine);
  return 0;
}

SH_TEST(fileq, a_restarted_program_continues_where_it_stopped)
{
  fq_scratch();
  open_q(&(shoal_queue_opts){.flags = SHOAL_QUEUE_JOINABLE}, &small_none);
  for (uint32_t i = 0; i < 10; i++)
    put_id(i, 20);
  shoal_queue_close(q);
  /* Nobody has it open: one program takes five and exits... */
  cr_assert_eq(sh_wait(sh_fork(consume_half, NULL), 10000), 0);
  /* ...the next, even after a reboot, goes on with the sixth. */
  fake_reboot();
  open_q(NULL, NULL);
  for (uint32_t i = 5; i < 10; i++) {
    expect_id(SHOAL_NOWAIT, i);
    SH_ASSERT_OK(shoal_queue_task_done(q));
  }
  SH_ASSERT_RC(shoal_queue_empty(q), 1);
  shoal_queue_close(q);
}

/* ---- other processes ------------------------------------------------------------------ */

SH_TEST(fileq, a_getter_in_an_unrelated_process_wakes)
{
  char line[64];
  int fd;
  fq_scratch();
  open_q(NULL, &small_none);
  pid_t p = sh_spawn(&fd, "fileq_helper", "get", fq_path("q"), "10000", "2", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "waiting");
  sh_sleep_ms(50);
  SH_ASSERT_OK(shoal_queue_put(q, "three", 5, SHOAL_NOWAIT));
  SH_ASSERT_OK(shoal_queue_put(q, "four", 4, SHOAL_NOWAIT));
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "three");
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "four");
  cr_assert_eq(sh_wait(p, 5000), 0);
  close(fd);
  p = sh_spawn(&fd, "fileq_helper", "put", fq_path("q"), "from", "afar", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "SHOAL_OK");
  sh_read_line(fd, line, sizeof line, 5000);
  sh_wait(p, 5000);
  close(fd);
  get_str("from");
  get_str("afar");
  /* Shutdown reaches a blocked getter in another process. */
  p = sh_spawn(&fd, "fileq_helper", "get", fq_path("q"), "-1", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  sh_sleep_ms(30);
  SH_ASSERT_RC(shoal_queue_shutdown(q, 0), 0);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "SHOAL_ECLOSED");
  sh_wait(p, 5000);
  close(fd);
  shoal_queue_close(q);
}

/* ---- durability ----------------------------------------------------------------------- */

static void *put_69(void *arg)
{
  (void)arg;
  put_id(69, 100);
  return NULL;
}

SH_TEST(fileq, durability_levels)
{
  shoal_fileq_info fi;
  fq_scratch();
  /* none: nothing is fsynced for puts. */
  open_q(NULL, &small_none);
  for (uint32_t i = 0; i < 50; i++)
    put_id(i, 100);
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert_eq(fi.syncs, 0);
  shoal_queue_close(q);
  /* always: every put is on disk when it returns. */
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL,
                                &(shoal_fileq_opts){.durability = SHOAL_FILEQ_ALWAYS}, NULL));
  for (uint32_t i = 50; i < 60; i++) {
    put_id(i, 100);
    SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
    cr_assert(fi.synced >= i + 1, "put %u returned before its fsync", i);
  }
  cr_assert(fi.syncs >= 1);
  shoal_queue_close(q);
  /* batch: a put with no company (no other thread put within batch_ms)
   * closes its batch at once: nobody would join it... */
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL,
                                &(shoal_fileq_opts){.durability = SHOAL_FILEQ_BATCH,
                                                    .batch_ms = 1000, .batch_records = 8},
                                NULL));
  uint64_t t0 = sh_now();
  put_id(60, 100);
  cr_assert(sh_now() - t0 < SHOAL_MSEC(1000), "a lone put waited for the timer");
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert(fi.synced >= 61);
  /* ...a batch of batch_records closes at once... */
  unsigned char bufs[8][64];
  struct iovec v[8];
  for (int i = 0; i < 8; i++)
    v[i] = (struct iovec){bufs[i], fq_build(bufs[i], 61 + i, 10)};
  t0 = sh_now();
  SH_ASSERT_RC(shoal_queue_put_many(q, v, 8, SHOAL_SEC(5)), 8);
  cr_assert(sh_now() - t0 < SHOAL_MSEC(1000), "a full batch waited for the timer");
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert(fi.synced >= 69);
  /* ...and while a sync is under way (its lock held here, as by a leader
   * at work) a put waits for it until its batch is batch_ms old, then syncs
   * beside it. */
  struct fq_ctl *c = fq_of(q)->c;
  SH_ASSERT_OK(shoal__lockword_acquire(&c->sync_lock, shoal__plat_stamp(), SHOAL_FOREVER));
  pthread_t t;
  t0 = sh_now();
  cr_assert(pthread_create(&t, NULL, put_69, NULL) == 0);
  pthread_join(t, NULL);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(1000));
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert(fi.synced >= 70);
  shoal__lockword_release(&c->sync_lock, 0);
  for (uint32_t i = 0; i < 70; i++)
    expect_id(SHOAL_NOWAIT, i);
  shoal_queue_close(q);
}

static _Atomic int put_returned;

static void *put_70_flagged(void *arg)
{
  (void)arg;
  put_id(70, 100);
  atomic_store(&put_returned, 1);
  return NULL;
}

/* An `always` put that finds a sync under way waits for it and then for the
 * next one (group commit): it never returns before a sync that began after
 * its record was written, however long the one under way takes. */
SH_TEST(fileq, an_always_put_waits_for_the_sync_under_way)
{
  fq_scratch();
  open_q(NULL, &(shoal_fileq_opts){.durability = SHOAL_FILEQ_ALWAYS, .batch_ms = 20});
  put_id(0, 100); /* a lone put: synced at once */
  struct fq_ctl *c = fq_of(q)->c;
  SH_ASSERT_OK(shoal__lockword_acquire(&c->sync_lock, shoal__plat_stamp(), SHOAL_FOREVER));
  atomic_store(&put_returned, 0);
  pthread_t t;
  cr_assert(pthread_create(&t, NULL, put_70_flagged, NULL) == 0);
  usleep(300000);
  cr_assert_eq(atomic_load(&put_returned), 0, "the put returned while the sync was under way");
  shoal_fileq_info fi;
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert_eq(fi.synced, 1);
  shoal__lockword_release(&c->sync_lock, 0);
  pthread_join(t, NULL);
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert_eq(fi.synced, 2);
  expect_id(SHOAL_NOWAIT, 0);
  expect_id(SHOAL_NOWAIT, 70);
  shoal_queue_close(q);
}

/* fdatasync as the library sees it in this test program: the next
 * fail_next_syncs calls fail with EIO, as after a writeback error. */
static _Atomic int fail_next_syncs;

int fdatasync(int fd)
{
  int n = atomic_load(&fail_next_syncs);
  while (n > 0 && !atomic_compare_exchange_weak(&fail_next_syncs, &n, n - 1))
    ;
  if (n > 0) {
    errno = EIO;
    return -1;
  }
  return (int)syscall(SYS_fdatasync, fd);
}

struct put_result {
  uint32_t id;
  int rc;
};

static void *put_and_report(void *arg)
{
  struct put_result *r = arg;
  unsigned char buf[128];
  r->rc = shoal_queue_put(q, buf, fq_build(buf, r->id, 100), SHOAL_SEC(10));
  return NULL;
}

/* Two puts wait while a sync is under way (its lock held here); the next
 * sync covers both and fails.  Its leader gets SHOAL_EIO, and so must the
 * other put, although the sync it then leads itself succeeds: its record
 * may never reach the disk. */
SH_TEST(fileq, every_put_a_failed_fsync_covered_reports_it)
{
  fq_scratch();
  open_q(NULL, &(shoal_fileq_opts){.durability = SHOAL_FILEQ_ALWAYS, .batch_ms = 20});
  put_id(0, 100);
  struct fq_ctl *c = fq_of(q)->c;
  SH_ASSERT_OK(shoal__lockword_acquire(&c->sync_lock, shoal__plat_stamp(), SHOAL_FOREVER));
  struct put_result r[2] = {{1, 1}, {2, 1}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    cr_assert(pthread_create(&t[i], NULL, put_and_report, &r[i]) == 0);
  while (atomic_load(&c->next_seq) < 3)
    usleep(1000); /* both records are in */
  atomic_store(&fail_next_syncs, 1);
  shoal__lockword_release(&c->sync_lock, 0);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  SH_ASSERT_ERR(r[0].rc, SHOAL_EIO);
  SH_ASSERT_ERR(r[1].rc, SHOAL_EIO);
  /* Later records are not among the lost: a put of one succeeds. */
  put_id(3, 100);
  /* An EIO put may still be delivered; the two threads' puts in either order. */
  expect_id(SHOAL_NOWAIT, 0);
  long a = get_id(SHOAL_NOWAIT), b = get_id(SHOAL_NOWAIT);
  cr_assert((a == 1 && b == 2) || (a == 2 && b == 1), "got %ld and %ld", a, b);
  expect_id(SHOAL_NOWAIT, 3);
  shoal_queue_close(q);
}

/* A `none` handle seals segments without fsyncing them (that would stall its
 * puts for the segment's whole writeback); the next durable sync, by any
 * handle, fsyncs them before the segment being written. */
SH_TEST(fileq, a_durable_sync_covers_segments_sealed_without_one)
{
  fq_scratch();
  open_q(NULL, &small_none);
  for (uint32_t i = 0; i < 2000; i++)
    put_id(i, 100);
  struct fq_ctl *c = fq_of(q)->c;
  uint64_t w = atomic_load(&c->w_seg);
  cr_assert(w >= atomic_load(&c->first_seg) + 3, "no rollover happened");
  cr_assert(atomic_load(&c->synced_seg) < w, "a none handle fsynced the segments it sealed");
  shoal_queue *durable;
  SH_ASSERT_OK(shoal_fileq_open(&durable, fq_path("q"), NULL,
                                &(shoal_fileq_opts){.durability = SHOAL_FILEQ_ALWAYS}, NULL));
  unsigned char buf[128];
  SH_ASSERT_OK(shoal_queue_put(durable, buf, fq_build(buf, 2000, 100), SHOAL_SEC(5)));
  cr_assert_eq(atomic_load(&c->synced_seg), atomic_load(&c->w_seg),
               "the sync left sealed segments unsynced");
  shoal_fileq_info fi;
  SH_ASSERT_OK(shoal_fileq_stats(durable, &fi));
  cr_assert(fi.synced >= 2001);
  shoal_queue_close(durable);
  for (uint32_t i = 0; i <= 2000; i++)
    expect_id(SHOAL_NOWAIT, i);
  shoal_queue_close(q);
}

/* A sync reads w_seg, fsyncs the sealed segments below it, then the one it
 * read; meanwhile other producers may seal that one and a consumer may
 * consume and delete it.  Its records are then consumed: the put is done,
 * not failed. */
static _Atomic int race_stop;

static void *race_none_producer(void *arg)
{
  (void)arg;
  unsigned char buf[256];
  size_t n = fq_build(buf, 1, 200);
  while (!atomic_load(&race_stop))
    if (shoal_queue_put(q, buf, n, SHOAL_SEC(5)) != 0)
      break;
  return NULL;
}

static void *race_consumer(void *arg)
{
  (void)arg;
  unsigned char buf[4096];
  while (!atomic_load(&race_stop)) {
    size_t len = sizeof buf;
    (void)shoal_queue_get(q, buf, &len, SHOAL_MSEC(10));
  }
  return NULL;
}

SH_TEST(fileq, a_sync_whose_segment_is_consumed_meanwhile_succeeds)
{
  fq_scratch();
  open_q(NULL, &small_none);
  shoal_queue *durable;
  SH_ASSERT_OK(shoal_fileq_open(&durable, fq_path("q"), NULL,
                                &(shoal_fileq_opts){.durability = SHOAL_FILEQ_ALWAYS}, NULL));
  atomic_store(&race_stop, 0);
  pthread_t prod, cons;
  cr_assert(pthread_create(&prod, NULL, race_none_producer, NULL) == 0);
  cr_assert(pthread_create(&cons, NULL, race_consumer, NULL) == 0);
  unsigned char buf[256];
  size_t n = fq_build(buf, 2, 200);
  int rc = 0;
  uint64_t t0 = sh_now();
  while (rc == 0 && sh_now() - t0 < SHOAL_SEC(6))
    rc = shoal_queue_put(durable, buf, n, SHOAL_SEC(5));
  atomic_store(&race_stop, 1);
  pthread_join(prod, NULL);
  pthread_join(cons, NULL);
  shoal_queue_close(durable);
  shoal_queue_close(q);
  cr_assert_eq(rc, 0, "a durable put failed: %s", shoal_err_name(rc));
}

/* check and dead_scan only read: a user who may read the queue but not
 * write it runs them (as nobody: root may write anywhere). */
static int check_as_nobody(void *arg)
{
  (void)arg;
  if (setgid(65534) != 0 || setuid(65534) != 0)
    return 9;
  shoal_fileq_report rep;
  int rc = shoal_fileq_check(fq_path("q"), &rep);
  if (rc != 0)
    return 10 + (rc == SHOAL_EACCES);
  return rep.records == 5 && shoal_fileq_dead_scan(fq_path("q"), NULL, NULL) == 0 ? 0 : 20;
}

SH_TEST(fileq, a_reader_who_may_not_write_checks_the_queue)
{
  fq_scratch();
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, &small_none,
                                &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE, .mode = 0644}));
  for (uint32_t i = 0; i < 5; i++)
    put_id(i, 100);
  shoal_queue_close(q);
  chmod(fq_dir_buf, 0755);
  int st = sh_wait(sh_fork(check_as_nobody, NULL), 10000);
  cr_assert_eq(st, 0, "check as a reader: status %d (11: SHOAL_EACCES)", st);
}

/* ---- bad input ------------------------------------------------------------------------- */

static int open_as_nobody(void *arg)
{
  (void)arg;
  if (setgid(65534) != 0 || setuid(65534) != 0)
    return 9;
  shoal_queue *mine;
  int rc = shoal_fileq_open(&mine, fq_path("ro"), NULL, NULL, &fq_create);
  return rc == SHOAL_EACCES ? 0 : 1;
}

SH_TEST(fileq, bad_paths_and_options)
{
  fq_scratch();
  /* A file, not a directory. */
  int fd = open(fq_path("file"), O_CREAT | O_WRONLY, 0600);
  close(fd);
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("file"), NULL, NULL, &fq_create), SHOAL_ENOTDIR);
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("file/q"), NULL, NULL, &fq_create), SHOAL_ENOTDIR);
  /* Nothing there, or an empty directory, without CREATE. */
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("none"), NULL, NULL, NULL), SHOAL_ENOENT);
  mkdir(fq_path("empty"), 0700);
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("empty"), NULL, NULL, NULL), SHOAL_ENOENT);
  /* A directory holding something else. */
  mkdir(fq_path("other"), 0700);
  fd = open(fq_path("other/data.db"), O_CREAT | O_WRONLY, 0600);
  close(fd);
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("other"), NULL, NULL, &fq_create), SHOAL_ECORRUPT);
  /* Not writable (root may write anywhere: ask as nobody). */
  mkdir(fq_path("ro"), 0755);
  chmod(fq_dir_buf, 0755);
  cr_assert_eq(sh_wait(sh_fork(open_as_nobody, NULL), 5000), 0);
  /* A queue made by a newer shoal, and a damaged queue.meta. */
  open_q(NULL, &small_none);
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("q"), NULL, NULL,
                                 &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE | SHOAL_OPEN_EXCL}),
                SHOAL_EEXIST);
  shoal_queue_close(q);
  fd = open(fq_path("q/queue.meta"), O_RDWR);
  uint32_t v = 99, old;
  cr_assert_eq(pread(fd, &old, 4, 8), 4);
  cr_assert_eq(pwrite(fd, &v, 4, 8), 4);
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL), SHOAL_EVERSION);
  cr_assert_eq(pwrite(fd, &old, 4, 8), 4);
  cr_assert_eq(pwrite(fd, "X", 1, 30), 1);
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL), SHOAL_ECORRUPT);
  close(fd);
  /* Bad options. */
  const char *p = fq_path("opts");
  SH_ASSERT_ERR(shoal_fileq_open(NULL, p, NULL, NULL, &fq_create), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_fileq_open(&q, NULL, NULL, NULL, &fq_create), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_fileq_open(&q, "file://", NULL, NULL, &fq_create), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_fileq_open(&q, p, NULL, &(shoal_fileq_opts){.durability = 7}, &fq_create),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(
      shoal_fileq_open(&q, p, NULL, &(shoal_fileq_opts){.segment_size = 1000}, &fq_create),
      SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_fileq_open(&q, p, NULL, &(shoal_fileq_opts){.reserved[2] = 1}, &fq_create),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_fileq_open(&q, p, &(shoal_queue_opts){.kind = SHOAL_QUEUE_LIFO}, NULL,
                                 &fq_create),
                SHOAL_ENOTSUP);
  SH_ASSERT_ERR(shoal_fileq_open(&q, p, &(shoal_queue_opts){.flags = 0x40}, NULL, &fq_create),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_queue_open(&q, "redis://localhost/jobs", NULL, &fq_create), SHOAL_EINVAL);
  /* What files cannot do. */
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q2"), NULL, NULL, &fq_create));
  void *w;
  const void *r;
  size_t len;
  SH_ASSERT_ERR(shoal_queue_loan(q, 10, &w, SHOAL_NOWAIT), SHOAL_ENOTSUP);
  SH_ASSERT_ERR(shoal_queue_peek(q, &r, &len, SHOAL_NOWAIT), SHOAL_ENOTSUP);
  SH_ASSERT_ERR(shoal_queue_fd(q, SHOAL_QUEUE_READABLE), SHOAL_ENOTSUP);
  shoal_fileq_info fi;
  SH_ASSERT_ERR(shoal_fileq_stats(q, NULL), SHOAL_EINVAL);
  shoal_queue_close(q);
  SH_ASSERT_OK(shoal_queue_create(&q, NULL));
  SH_ASSERT_ERR(shoal_fileq_stats(q, &fi), SHOAL_EINVAL);
  shoal_queue_destroy(q);
}

/* ---- a full disk ------------------------------------------------------------------------- */

/* Puts messages n, n+1, ... of 2000 bytes until a put fails, which must be
 * SHOAL_ENOSPC before `limit`; returns how many messages are in. */
static uint32_t put_until_refused(uint32_t n, uint32_t limit)
{
  unsigned char buf[4096];
  int rc;
  while ((rc = shoal_queue_put(q, buf, fq_build(buf, n, 2000), SHOAL_NOWAIT)) == 0) {
    n++;
    cr_assert(n < limit, "no put was refused");
  }
  SH_ASSERT_ERR(rc, SHOAL_ENOSPC);
  return n;
}

/* The same without mount rights (CI containers often have none): a file size
 * limit makes the kernel refuse the next segment's preallocation (EFBIG),
 * exactly as a full disk refuses it, while the segments already made stay
 * writable and readable. */
SH_TEST(fileq, a_refused_segment_fails_puts_and_loses_nothing)
{
  fq_scratch();
  signal(SIGXFSZ, SIG_IGN);
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL,
                                &(shoal_fileq_opts){.durability = SHOAL_FILEQ_ALWAYS,
                                                    .segment_size = 65536},
                                &fq_create));
  uint32_t n = 0;
  for (; n < 100; n++)
    put_id(n, 2000); /* several segments */
  struct rlimit old, small = {32768, 0};
  cr_assert(getrlimit(RLIMIT_FSIZE, &old) == 0);
  small.rlim_max = old.rlim_max;
  cr_assert(setrlimit(RLIMIT_FSIZE, &small) == 0);
  n = put_until_refused(n, 1000);
  /* Everything acknowledged comes out intact; the failed put left nothing. */
  for (uint32_t i = 0; i < n; i++)
    expect_id(SHOAL_NOWAIT, i);
  SH_ASSERT_ERR(get_id(SHOAL_NOWAIT), SHOAL_EAGAIN);
  /* With room again, puts work again. */
  cr_assert(setrlimit(RLIMIT_FSIZE, &old) == 0);
  put_id(n, 2000);
  expect_id(SHOAL_NOWAIT, n);
  shoal_queue_close(q);
}

SH_TEST(fileq, a_full_disk_fails_puts_and_loses_nothing)
{
  fq_scratch();
  /* A private mount namespace: the tmpfs goes away with this process. */
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount("shoal-test", fq_dir_buf, "tmpfs", 0, "size=512k") != 0)
    cr_skip_test("cannot mount a tmpfs here (%s)", strerror(errno));
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL,
                                &(shoal_fileq_opts){.durability = SHOAL_FILEQ_ALWAYS,
                                                    .segment_size = 65536, .max_inflight = 64},
                                &fq_create));
  uint32_t n = 0;
  n = put_until_refused(n, 10000);
  cr_assert(n > 100, "only %u messages fit", n);
  /* Everything acknowledged comes out intact; then there is room again. */
  for (uint32_t i = 0; i < n; i++)
    expect_id(SHOAL_NOWAIT, i);
  put_id(n, 2000);
  expect_id(SHOAL_NOWAIT, n);
  shoal_queue_close(q);
  umount2(fq_dir_buf, MNT_DETACH);
}
