// SPDX-License-Identifier: MIT
// An interrupted repair run again.  A joinable queue with several segments,
// some messages taken and acknowledged, some taken by another thread and
// never acknowledged, then more taken and acknowledged, is damaged in the
// middle (a bad record before the unacknowledged ones, which shifts their
// numbers, a bad record after the cursor, a segment missing between two
// others).  Repair is then killed (SIGKILL, through the test hook
// SHOAL_FILEQ_REPAIR_STOP_AFTER) after each of its file operations in turn
// — and in the second test its rerun too — and finished by a last run.
// Whatever the interruptions, the queue must then give exactly what an
// uninterrupted repair gives: the unacknowledged messages again, first,
// then every intact message from the cursor on, once each, in order, and
// none of the acknowledged ones.
#include <pthread.h>
#include <signal.h>

#include "core/region.h"
#include "fq_support.h"

#define PAYLOAD 2000u
#define REC_SIZE (24u + ((PAYLOAD + 8u + 7u) & ~7u)) /* record size of fq_build(PAYLOAD) */
#define PER_SEG 32u     /* records of REC_SIZE a 64 KiB segment holds */
#define N_MSGS 160u     /* ids 0..159: segments 0..4 */
#define TAKEN_FROM 40u  /* ids 0..39 taken and acknowledged, */
#define TAKEN_TO 45u    /* 40..44 taken by another thread, never acknowledged, */
#define CURSOR 60u      /* 45..59 taken and acknowledged */
#define BAD_ACKED 35u   /* a damaged record below the unacknowledged ones */
#define BAD_WAITING 70u /* a damaged record after the cursor */
#define MISSING_SEG 3u  /* ids 96..127 gone with their segment */
#define MAX_STEPS 1000  /* far more file operations than a repair of this queue makes */

static const char *const stop_env = "SHOAL_FILEQ_REPAIR_STOP_AFTER";

/* Whether message `id` survives the damage. */
static bool intact(uint32_t id)
{
  return id != BAD_ACKED && id != BAD_WAITING && id / PER_SEG != MISSING_SEG;
}

/* The first message from id on that a repaired queue delivers, in the order
 * it delivers them (N_MSGS: none). */
static uint32_t next_due(uint32_t id)
{
  if (id >= TAKEN_TO && id < CURSOR)
    id = CURSOR;
  while (id < N_MSGS && !intact(id))
    id++;
  return id;
}

/* Flips a bit of byte `off` of `file`: the record there fails its CRC. */
static void poke_byte(const char *file, uint64_t off)
{
  int fd = open(fq_path(file), O_RDWR);
  cr_assert(fd >= 0, "open %s", file);
  unsigned char b;
  cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1);
  b ^= 0x40;
  cr_assert_eq(pwrite(fd, &b, 1, (off_t)off), 1);
  close(fd);
}

/* Copies every file of directory `from` into a new directory `to`. */
static void copy_dir(const char *from, const char *to)
{
  cr_assert_eq(mkdir(to, 0700), 0, "mkdir %s: %s", to, strerror(errno));
  DIR *d = opendir(from);
  cr_assert_not_null(d);
  struct dirent *e;
  static unsigned char buf[1 << 16];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char src[400], dst[400];
    snprintf(src, sizeof src, "%s/%s", from, e->d_name);
    snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert(in >= 0 && out >= 0, "copy %s", e->d_name);
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
      cr_assert_eq(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
  }
  closedir(d);
}

/* Gets messages `from` .. `to` - 1, checking each, and acknowledges each. */
static void take_and_ack(shoal_queue *q, uint32_t from, uint32_t to)
{
  unsigned char buf[4096];
  for (uint32_t i = from; i < to; i++) {
    size_t len = sizeof buf;
    SH_ASSERT_OK(shoal_queue_get(q, buf, &len, SHOAL_NOWAIT));
    cr_assert_eq(fq_verify(buf, len), i);
    SH_ASSERT_OK(shoal_queue_task_done(q));
  }
}

/* A thread that gets messages TAKEN_FROM..TAKEN_TO-1 and acknowledges none. */
static void *take_unacknowledged(void *arg)
{
  unsigned char buf[4096];
  for (uint32_t i = TAKEN_FROM; i < TAKEN_TO; i++) {
    size_t len = sizeof buf;
    if (shoal_queue_get(arg, buf, &len, SHOAL_NOWAIT) != 0 || fq_verify(buf, len) != i)
      return "get";
  }
  return NULL;
}

/* Makes the damaged queue once, in "<scratch>/damaged"; each run copies it
 * to "<scratch>/q". */
static void make_damaged_queue(void)
{
  shoal_queue *q;
  SH_ASSERT_OK(shoal_fileq_open(
      &q, fq_path("damaged"), &(shoal_queue_opts){.flags = SHOAL_QUEUE_JOINABLE},
      &(shoal_fileq_opts){.durability = SHOAL_FILEQ_NONE, .segment_size = 65536}, &fq_create));
  unsigned char buf[4096];
  for (uint32_t i = 0; i < N_MSGS; i++) {
    size_t n = fq_build(buf, i, PAYLOAD);
    SH_ASSERT_OK(shoal_queue_put(q, buf, n, SHOAL_NOWAIT));
  }
  shoal_fileq_info fi;
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert_eq(fi.last_segment, (N_MSGS - 1) / PER_SEG, "records per segment changed");
  take_and_ack(q, 0, TAKEN_FROM);
  /* task_done acknowledges the calling thread's oldest message: taken by
   * another thread, these stay out while this one acknowledges later ones. */
  pthread_t t;
  void *failed;
  cr_assert_eq(pthread_create(&t, NULL, take_unacknowledged, q), 0);
  cr_assert_eq(pthread_join(t, &failed), 0);
  cr_assert_null(failed, "the thread's get failed");
  take_and_ack(q, TAKEN_TO, CURSOR);
  /* Closing checkpoints the cursor (60) and the deliveries out (40..44). */
  shoal_queue_close(q);

  char seg[64];
  snprintf(seg, sizeof seg, "damaged/%016x.seg", BAD_ACKED / PER_SEG);
  poke_byte(seg, 64 + (BAD_ACKED % PER_SEG) * REC_SIZE + 100);
  snprintf(seg, sizeof seg, "damaged/%016x.seg", BAD_WAITING / PER_SEG);
  poke_byte(seg, 64 + (BAD_WAITING % PER_SEG) * REC_SIZE + 100);
  snprintf(seg, sizeof seg, "damaged/%016x.seg", MISSING_SEG);
  cr_assert_eq(unlink(fq_path(seg)), 0);
  /* As after a reboot, the way damage in the middle is found: the control
   * file is not trusted, and open refuses the damage. */
  int fd = open(fq_path("damaged/queue.ctl"), O_WRONLY);
  cr_assert(fd >= 0);
  cr_assert_eq(pwrite(fd, "an-earlier-boot", 15, SHOAL__REGION_HEADER_SIZE), 15);
  close(fd);
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("damaged"), NULL, NULL, NULL), SHOAL_ECORRUPT);
}

static void fresh_copy(void)
{
  fq_rm_rf(fq_path("q"));
  copy_dir(fq_path("damaged"), fq_path("q"));
}

static int repair_child(void *arg)
{
  long stop_after = *(const long *)arg;
  char v[32];
  snprintf(v, sizeof v, "%ld", stop_after);
  setenv(stop_env, v, 1);
  return shoal_fileq_repair(fq_path("q"), NULL) == 0 ? 0 : 1;
}

/* Runs repair in a child that the test hook kills after its stop_after-th
 * file operation.  Returns true when it was killed there, false when it
 * finished (with fewer operations). */
static bool repair_killed_after(long stop_after)
{
  int st = sh_wait(sh_fork(repair_child, &stop_after), 30000);
  cr_assert(st == 0 || st == 128 + SIGKILL, "repair stopped after %ld: status %d", stop_after, st);
  return st != 0;
}

/* An interrupted repair leaves a queue that does not open as if healthy:
 * open refuses it (for the damage, or for the journal of a repair past its
 * commit point), unless only the repair's last steps were left to do.
 * Returns whether the journal was there. */
static bool check_interrupted_state(void)
{
  shoal_queue *q;
  bool journal = access(fq_path("q/queue.repair"), F_OK) == 0;
  if (journal)
    SH_ASSERT_ERR(shoal_fileq_check(fq_path("q"), NULL), SHOAL_ECORRUPT);
  int rc = shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL);
  cr_assert(!journal || rc == SHOAL_ECORRUPT, "a queue whose repair did not finish opened");
  if (rc == 0) {
    shoal_queue_close(q);
    SH_ASSERT_OK(shoal_fileq_check(fq_path("q"), NULL));
  } else {
    SH_ASSERT_ERR(rc, SHOAL_ECORRUPT);
  }
  return journal;
}

/* Finishes the repair, reopens the queue and checks what it delivers. */
static void finish_and_verify(const shoal_fileq_report *want, const char *what)
{
  shoal_fileq_report rep;
  SH_ASSERT_OK(shoal_fileq_repair(fq_path("q"), &rep));
  /* The report of the run that planned the repair, or, when the one that
   * was killed had just finished it, of an intact queue. */
  bool same = rep.damaged == want->damaged && rep.bytes_lost == want->bytes_lost;
  bool intact_queue = rep.damaged == 0 && rep.bytes_lost == 0;
  cr_assert(rep.records == want->records && (same || intact_queue),
            "%s: report: %llu records, %llu damaged, %llu bytes lost", what,
            (unsigned long long)rep.records, (unsigned long long)rep.damaged,
            (unsigned long long)rep.bytes_lost);
  SH_ASSERT_OK(shoal_fileq_check(fq_path("q"), NULL));
  shoal_queue *q;
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL));
  unsigned char buf[4096];
  /* The unacknowledged ones again, first, then every intact one from the
   * cursor on. */
  uint32_t next = TAKEN_FROM;
  long got = 0;
  for (;;) {
    size_t len = sizeof buf;
    int rc = shoal_queue_get(q, buf, &len, SHOAL_NOWAIT);
    if (rc == SHOAL_EAGAIN)
      break;
    SH_ASSERT_OK(rc);
    long id = fq_verify(buf, len);
    cr_assert(id >= 0, "%s: a corrupt message was delivered", what);
    next = next_due(next);
    cr_assert(id == (long)next, "%s: message %ld delivered where %u was due", what, id, next);
    next++;
    got++;
    SH_ASSERT_OK(shoal_queue_task_done(q));
  }
  next = next_due(next);
  cr_assert(next == N_MSGS, "%s: message %u never came (%ld delivered)", what, next, got);
  shoal_queue_close(q);
}

/* The uninterrupted repair: what every other run must match. */
static shoal_fileq_report baseline(void)
{
  fresh_copy();
  shoal_fileq_report rep;
  SH_ASSERT_OK(shoal_fileq_repair(fq_path("q"), &rep));
  cr_assert(rep.damaged > 0 && rep.bytes_lost > 0);
  fresh_copy();
  finish_and_verify(&rep, "uninterrupted");
  return rep;
}

SH_TEST(fileq_repair, a_repair_killed_at_any_step_and_run_again_loses_nothing)
{
  fq_scratch();
  make_damaged_queue();
  shoal_fileq_report want = baseline();
  long n, with_journal = 0;
  for (n = 1; n < MAX_STEPS; n++) {
    fresh_copy();
    bool killed = repair_killed_after(n);
    if (killed)
      with_journal += check_interrupted_state();
    char what[64];
    snprintf(what, sizeof what, "killed after step %ld", n);
    finish_and_verify(&want, what);
    if (!killed)
      break;
  }
  cr_assert(n > 10 && n < MAX_STEPS, "the repair finished after %ld steps", n - 1);
  cr_assert(with_journal > 0, "no kill fell between the commit point and the end");
}

/* About 400 repairs, each with its fsyncs: seconds on an idle machine, a
 * minute or more on a loaded one. */
SH_TEST_LONG(fileq_repair, a_repair_killed_twice_and_run_again_loses_nothing)
{
  fq_scratch();
  make_damaged_queue();
  shoal_fileq_report want = baseline();
  long first;
  for (first = 1; first < MAX_STEPS; first++) {
    fresh_copy();
    if (!repair_killed_after(first))
      break;
    /* Keep the state after the first kill, and kill the rerun after each
     * of its steps in turn. */
    fq_rm_rf(fq_path("killed"));
    copy_dir(fq_path("q"), fq_path("killed"));
    for (long second = 1; second < MAX_STEPS; second++) {
      fq_rm_rf(fq_path("q"));
      copy_dir(fq_path("killed"), fq_path("q"));
      bool killed = repair_killed_after(second);
      char what[64];
      snprintf(what, sizeof what, "killed after step %ld, then %ld", first, second);
      finish_and_verify(&want, what);
      if (!killed)
        break;
    }
  }
  cr_assert(first > 10 && first < MAX_STEPS);
}
