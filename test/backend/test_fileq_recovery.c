// SPDX-License-Identifier: MIT
// Recovery of the file queue from damaged files: a torn tail is cut off and
// counted, never delivered; damage in the middle is refused with
// SHOAL_ECORRUPT until shoal_fileq_repair salvages every intact record; and
// a byte-flipping loop over the segment files checks that, whatever is
// flipped, no corrupt message is ever delivered.
#include <sys/wait.h>

#include "core/region.h"
#include "fq_support.h"

static shoal_queue *q;

#define REC(payload) (24 + (((payload) + 8 + 7) & ~7u)) /* record size of fq_build(payload) */

static void put_id(uint32_t id, uint32_t payload)
{
  unsigned char buf[8192];
  size_t n = fq_build(buf, id, payload);
  SH_ASSERT_OK(shoal_queue_put(q, buf, n, SHOAL_NOWAIT));
}

static void make_queue(uint32_t n, uint32_t payload)
{
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL,
                                &(shoal_fileq_opts){.durability = SHOAL_FILEQ_NONE,
                                                    .segment_size = 65536},
                                &fq_create));
  for (uint32_t i = 0; i < n; i++)
    put_id(i, payload);
  shoal_queue_close(q);
}

/* As after a reboot: the control file is not trusted and is rebuilt. */
static void fake_reboot(void)
{
  int fd = open(fq_path("q/queue.ctl"), O_WRONLY);
  if (fd >= 0) {
    cr_assert_eq(pwrite(fd, "an-earlier-boot", 15, SHOAL__REGION_HEADER_SIZE), 15);
    close(fd);
  }
}

static void poke(const char *file, uint64_t off, const void *bytes, size_t n)
{
  int fd = open(fq_path(file), O_WRONLY);
  cr_assert(fd >= 0, "open %s", file);
  cr_assert_eq(pwrite(fd, bytes, n, (off_t)off), (ssize_t)n);
  close(fd);
}

/* Takes every message: each must be intact, ids strictly rising.  Returns
 * how many, or stops at the first error (returned as negative). */
static long drain(long *last_id)
{
  unsigned char buf[8192];
  long n = 0;
  *last_id = -1;
  for (;;) {
    size_t len = sizeof buf;
    int rc = shoal_queue_get(q, buf, &len, SHOAL_NOWAIT);
    if (rc == SHOAL_EAGAIN)
      return n;
    if (rc)
      return rc;
    long id = fq_verify(buf, len);
    cr_assert(id >= 0, "a corrupt message was delivered (%zu bytes)", len);
    cr_assert(id > *last_id, "message %ld after %ld", id, *last_id);
    *last_id = id;
    n++;
  }
}

SH_TEST(fileq_recovery, a_torn_tail_is_cut_and_counted)
{
  fq_scratch();
  make_queue(10, 100);
  /* A record that was being written when the machine went down: its
   * header and part of its payload reached the disk. */
  unsigned char torn[200];
  memset(torn, 0x5a, sizeof torn);
  uint32_t head[2] = {0x544d4d43u, 500};
  memcpy(torn, head, sizeof head);
  uint64_t tail = 64 + 10 * REC(100);
  poke("q/0000000000000000.seg", tail, torn, sizeof torn);
  fake_reboot();
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL));
  shoal_fileq_info fi;
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert_eq(fi.torn_records, 1);
  cr_assert_eq(fi.torn_bytes, sizeof torn);
  SH_ASSERT_RC(shoal_queue_qsize(q), 10);
  long last;
  SH_ASSERT_RC(drain(&last), 10);
  /* The queue goes on cleanly after the cut. */
  put_id(10, 100);
  SH_ASSERT_RC(drain(&last), 1);
  cr_assert_eq(last, 10);
  shoal_queue_close(q);

  /* The last record itself damaged: cut, the nine before it kept. */
  fq_rm_rf(fq_path("q"));
  make_queue(10, 100);
  poke("q/0000000000000000.seg", 64 + 9 * REC(100) + 40, "\xff", 1);
  fake_reboot();
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL));
  SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
  cr_assert_eq(fi.torn_records, 1);
  SH_ASSERT_RC(drain(&last), 9);
  cr_assert_eq(last, 8);
  shoal_queue_close(q);
}

SH_TEST(fileq_recovery, damage_in_the_middle_is_refused_then_repaired)
{
  fq_scratch();
  make_queue(30, 100);
  poke("q/0000000000000000.seg", 64 + 5 * REC(100) + 50, "\x01", 1);
  fake_reboot();
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL), SHOAL_ECORRUPT);
  shoal_fileq_report rep;
  SH_ASSERT_ERR(shoal_fileq_check(fq_path("q"), &rep), SHOAL_ECORRUPT);
  cr_assert_eq(rep.records, 29);
  cr_assert_eq(rep.damaged, 1);
  cr_assert_eq(rep.bytes_lost, REC(100));
  SH_ASSERT_OK(shoal_fileq_repair(fq_path("q"), &rep));
  cr_assert_eq(rep.records, 29);
  SH_ASSERT_OK(shoal_fileq_check(fq_path("q"), &rep));
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL));
  SH_ASSERT_RC(shoal_queue_qsize(q), 29);
  unsigned char buf[256];
  for (uint32_t i = 0; i < 30; i++) {
    if (i == 5)
      continue;
    size_t len = sizeof buf;
    SH_ASSERT_OK(shoal_queue_get(q, buf, &len, SHOAL_NOWAIT));
    cr_assert_eq(fq_verify(buf, len), i);
  }
  /* Repair needs the queue to itself. */
  SH_ASSERT_ERR(shoal_fileq_repair(fq_path("q"), NULL), SHOAL_EBUSY);
  shoal_queue_close(q);
  SH_ASSERT_ERR(shoal_fileq_check(fq_path("none"), NULL), SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal_fileq_repair(NULL, NULL), SHOAL_EINVAL);
}

SH_TEST(fileq_recovery, a_segment_missing_in_the_middle_is_refused)
{
  fq_scratch();
  make_queue(100, 2000); /* four segments */
  cr_assert_eq(unlink(fq_path("q/0000000000000001.seg")), 0);
  fake_reboot();
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL), SHOAL_ECORRUPT);
  SH_ASSERT_ERR(shoal_fileq_check(fq_path("q"), NULL), SHOAL_ECORRUPT);
  shoal_fileq_report rep;
  SH_ASSERT_OK(shoal_fileq_repair(fq_path("q"), &rep));
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL));
  long last;
  SH_ASSERT_RC(drain(&last), (int)rep.records);
  cr_assert_eq(last, 99);
  shoal_queue_close(q);
}

SH_TEST(fileq_recovery, a_last_segment_with_a_bad_header_is_refused_not_emptied)
{
  /* Its only segment: every message is in it. */
  fq_scratch();
  make_queue(10, 100);
  unsigned char b = 0x7f;
  poke("q/0000000000000000.seg", 20, &b, 1); /* the segment number */
  fake_reboot();
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL), SHOAL_ECORRUPT);
  SH_ASSERT_ERR(shoal_fileq_check(fq_path("q"), NULL), SHOAL_ECORRUPT);
  shoal_fileq_report rep;
  SH_ASSERT_OK(shoal_fileq_repair(fq_path("q"), &rep));
  cr_assert_eq(rep.records, 10);
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL));
  long last;
  SH_ASSERT_RC(drain(&last), 10);
  shoal_queue_close(q);

  /* The last of four. */
  fq_rm_rf(fq_path("q"));
  make_queue(100, 2000);
  poke("q/0000000000000003.seg", 20, &b, 1);
  fake_reboot();
  SH_ASSERT_ERR(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL), SHOAL_ECORRUPT);
  SH_ASSERT_OK(shoal_fileq_repair(fq_path("q"), &rep));
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL));
  SH_ASSERT_RC(drain(&last), 100);
  shoal_queue_close(q);
}

SH_TEST(fileq_recovery, a_crash_in_a_rollover_opens)
{
  /* rollover creates segment 1 (fsynced) before the end record of segment
   * 0 is written: a power loss in between leaves 0 unsealed and 1 blank.
   * Both with a header and without one. */
  for (int header = 0; header < 2; header++) {
    fq_scratch();
    make_queue(40, 2000); /* 32 a segment: 0 sealed, 1 holds 8 */
    static const unsigned char zeros[65536];
    poke("q/0000000000000000.seg", 64 + 32 * REC(2000), zeros, 24); /* its end record */
    poke("q/0000000000000001.seg", header ? 64 : 0, zeros, header ? 65536 - 64 : 65536);
    fake_reboot();
    SH_ASSERT_OK(shoal_fileq_check(fq_path("q"), NULL));
    SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL));
    long last;
    SH_ASSERT_RC(drain(&last), 32);
    cr_assert_eq(last, 31);
    /* Writing goes on in segment 0, then rolls over again. */
    for (uint32_t i = 32; i < 40; i++)
      put_id(i, 2000);
    SH_ASSERT_RC(drain(&last), 8);
    cr_assert_eq(last, 39);
    shoal_queue_close(q);
    fake_reboot();
    SH_ASSERT_OK(shoal_fileq_check(fq_path("q"), NULL));
  }
}

SH_TEST(fileq_recovery, a_damaged_meta_is_reported_with_an_empty_report)
{
  /* shoal-fileq prints the report of a check or repair that returned
   * SHOAL_ECORRUPT: it must be filled then too. */
  fq_scratch();
  make_queue(10, 100);
  poke("q/queue.meta", 30, "\x55", 1);
  shoal_fileq_report rep;
  memset(&rep, 0xa5, sizeof rep);
  SH_ASSERT_ERR(shoal_fileq_check(fq_path("q"), &rep), SHOAL_ECORRUPT);
  cr_assert(rep.segments == 0 && rep.records == 0 && rep.bytes_lost == 0);
  memset(&rep, 0xa5, sizeof rep);
  SH_ASSERT_ERR(shoal_fileq_repair(fq_path("q"), &rep), SHOAL_ECORRUPT);
  cr_assert(rep.segments == 0 && rep.records == 0 && rep.bytes_lost == 0);
}

/* ---- byte flipping ----------------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next_rand(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

SH_TEST(fileq_recovery, flipped_bytes_never_deliver_a_corrupt_message)
{
  fq_scratch();
  int opened = 0, refused = 0, repaired = 0, live = 0;
  for (int round = 0; round < 40; round++) {
    fq_rm_rf(fq_path("q"));
    SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL,
                                  &(shoal_fileq_opts){.durability = SHOAL_FILEQ_NONE,
                                                      .segment_size = 65536},
                                  &fq_create));
    uint32_t n = 60 + next_rand() % 60;
    for (uint32_t i = 0; i < n; i++)
      put_id(i, next_rand() % 3000);
    shoal_fileq_info fi;
    SH_ASSERT_OK(shoal_fileq_stats(q, &fi));
    uint64_t segs = fi.last_segment + 1;
    shoal_queue_close(q);
    /* Flip 1..4 bytes anywhere in the segments: headers, records, tails. */
    int flips = 1 + (int)(next_rand() % 4);
    for (int k = 0; k < flips; k++) {
      char name[64];
      snprintf(name, sizeof name, "q/%016llx.seg", (unsigned long long)(next_rand() % segs));
      uint64_t off = next_rand() % 65536;
      if (next_rand() % 4)
        off %= (uint64_t)(n / segs + 1) * 3100 + 64; /* mostly where records are */
      unsigned char b = (unsigned char)(1u << (next_rand() % 8));
      int fd = open(fq_path(name), O_RDWR);
      unsigned char old;
      cr_assert_eq(pread(fd, &old, 1, (off_t)off), 1);
      old ^= b;
      cr_assert_eq(pwrite(fd, &old, 1, (off_t)off), 1);
      close(fd);
    }
    long last, got;
    if (round % 4 == 3) {
      /* The control file trusted (no reboot): a damaged record is refused
       * at get, never delivered. */
      SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL));
      got = drain(&last);
      cr_assert(got >= 0 || got == SHOAL_ECORRUPT, "drain: %s", shoal_err_name((int)got));
      shoal_queue_close(q);
      live++;
      continue;
    }
    fake_reboot();
    int rc = shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL);
    if (rc == 0) {
      opened++;
    } else {
      cr_assert(rc == SHOAL_ECORRUPT || rc == SHOAL_EVERSION, "open: %s", shoal_err_name(rc));
      refused++;
      if (rc == SHOAL_EVERSION)
        continue; /* a flipped version field: a newer format, as far as we know */
      shoal_fileq_report rep;
      SH_ASSERT_OK(shoal_fileq_repair(fq_path("q"), &rep));
      SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL));
      cr_assert(rep.records <= n);
      repaired++;
    }
    got = drain(&last);
    cr_assert(got >= 0, "drain: %s", shoal_err_name((int)got));
    cr_assert(got <= (long)n);
    shoal_queue_close(q);
  }
  cr_assert(opened > 0 && refused > 0 && repaired > 0 && live > 0,
            "opened %d, refused %d, repaired %d, live %d", opened, refused, repaired, live);
}

/* Runs shoal-fileq with args; returns its exit status and its first output
 * line in line. */
static int tool(char *line, size_t cap, const char *args)
{
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s %s 2>&1", SHOAL_FILEQ_TOOL, args);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  line[0] = '\0';
  if (!fgets(line, (int)cap, p))
    line[0] = '\0';
  char rest[256];
  while (fgets(rest, sizeof rest, p))
    ;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

SH_TEST(fileq_recovery, the_command_checks_repairs_and_reads)
{
  char line[512], args[600];
  fq_scratch();
  make_queue(20, 100);
  poke("q/0000000000000000.seg", 64 + 3 * REC(100) + 60, "\x10", 1);
  snprintf(args, sizeof args, "check %s", fq_path("q"));
  SH_ASSERT_RC(tool(line, sizeof line, args), 1);
  cr_assert(strstr(line, "records 19") && strstr(line, "damaged regions 1"), "%s", line);
  snprintf(args, sizeof args, "repair %s", fq_path("q"));
  SH_ASSERT_RC(tool(line, sizeof line, args), 0);
  snprintf(args, sizeof args, "check %s", fq_path("q"));
  SH_ASSERT_RC(tool(line, sizeof line, args), 0);
  snprintf(args, sizeof args, "put %s hello", fq_path("q"));
  SH_ASSERT_RC(tool(line, sizeof line, args), 0);
  snprintf(args, sizeof args, "stats %s", fq_path("q"));
  SH_ASSERT_RC(tool(line, sizeof line, args), 0);
  cr_assert(strstr(line, "depth 20"), "%s", line);
  SH_ASSERT_OK(shoal_fileq_open(&q, fq_path("q"), NULL, NULL, NULL));
  unsigned char buf[256];
  for (uint32_t i = 0; i < 20; i++) {
    size_t len = sizeof buf;
    SH_ASSERT_OK(shoal_queue_get(q, buf, &len, SHOAL_NOWAIT));
    if (i < 19)
      cr_assert_eq(fq_verify(buf, len), i < 3 ? i : i + 1);
    else
      cr_assert(len == 5 && !memcmp(buf, "hello", 5));
  }
  shoal_queue_close(q);
  snprintf(args, sizeof args, "check %s", fq_path("none"));
  SH_ASSERT_RC(tool(line, sizeof line, args), 2);
  SH_ASSERT_RC(tool(line, sizeof line, "frobnicate x"), 2);
}
