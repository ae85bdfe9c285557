// SPDX-License-Identifier: MIT
// Replays the file queue's fuzz entry point (fuzz_fileq.c) on the checked-in
// corpus (test/backend/corpus/segment/) and on generated segment images —
// records of random sizes, sealed or open, then damaged by a fixed set of
// mutations (bit flips, cut-offs, random length fields, splices) — so that
// `make test` runs the decoder on hostile input deterministically; `make
// fuzz` runs the same entry point under libFuzzer for a bounded time.
#include <dirent.h>
#include <stdio.h>

#include "fuzz_fileq.c"
#include "support.h"

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint32_t next_rand(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

/* A fuzz input: data[0] is first_seq, then records as a producer writes
 * them.  Returns its length. */
static size_t make_seed(uint8_t *out, size_t cap, int records, bool sealed)
{
  size_t n = 1, room = cap < FUZZ_SEG_MAX - SHOAL__FQ_SEG_HDR + 1 ? cap
                                                                   : FUZZ_SEG_MAX - SHOAL__FQ_SEG_HDR + 1;
  uint64_t seq = next_rand() % 200;
  out[0] = (uint8_t)seq;
  for (int i = 0; i < records; i++) {
    uint32_t len = next_rand() % (i % 5 == 4 ? 2000 : 40);
    uint64_t size = shoal__fq_rec_size(len);
    if (n + size + SHOAL__FQ_REC_HDR > room)
      break;
    struct shoal__fq_rec h = {SHOAL__FQ_COMMIT, len, seq++, SHOAL__FQ_REC_MSG, 0};
    unsigned char *p = out + n + SHOAL__FQ_REC_HDR;
    memset(p, 0, size - SHOAL__FQ_REC_HDR);
    for (uint32_t k = 0; k < len; k++)
      p[k] = (unsigned char)next_rand();
    h.crc = shoal__fq_rec_crc(&h, p);
    memcpy(out + n, &h, sizeof h);
    n += size;
  }
  if (sealed) {
    struct shoal__fq_rec e = {SHOAL__FQ_COMMIT, 0, seq, SHOAL__FQ_REC_END, 0};
    e.crc = shoal__fq_rec_crc(&e, NULL);
    memcpy(out + n, &e, sizeof e);
    n += sizeof e;
  }
  size_t zeros = next_rand() % 300; /* the preallocated, unwritten rest */
  if (n + zeros > room)
    zeros = room - n;
  memset(out + n, 0, zeros);
  return n + zeros;
}

static size_t mutate(const uint8_t *seed, size_t len, uint8_t *out, size_t cap)
{
  size_t n = len < cap ? len : cap;
  memcpy(out, seed, n);
  if (n < 2)
    return n;
  switch (next_rand() % 6) {
  case 0: /* flip a few bits */
    for (int i = 0; i < 1 + (int)(next_rand() % 4); i++)
      out[1 + next_rand() % (n - 1)] ^= (uint8_t)(1u << (next_rand() % 8));
    break;
  case 1: /* cut short: a torn tail */
    n = 1 + next_rand() % (n - 1);
    break;
  case 2: /* a random 4-byte value, often over a length field */
    if (n >= 9) {
      size_t at = 5 + ((next_rand() % (n - 8)) & ~(size_t)7); /* a record's len */
      uint32_t v = next_rand() % 4 ? next_rand() % 70000 : next_rand();
      memcpy(out + at, &v, 4);
    }
    break;
  case 3: /* garbage after the records */
    for (size_t i = n - (n - 1) / 4; i < n; i++)
      out[i] = (uint8_t)next_rand();
    break;
  case 4: /* a splice: part of the image again further on */
    if (n * 2 <= cap) {
      size_t from = 1 + next_rand() % (n - 1);
      memcpy(out + n, out + from, n - from);
      n += n - from;
    }
    break;
  default: /* another first_seq */
    out[0] = (uint8_t)next_rand();
    break;
  }
  return n;
}

SH_TEST(fileq_fuzz, generated_segments_and_mutations)
{
  static uint8_t seed[FUZZ_SEG_MAX], buf[2 * FUZZ_SEG_MAX];
  int runs = 0;
  for (int s = 0; s < 200; s++) {
    size_t len = make_seed(seed, sizeof seed, (int)(next_rand() % 60), next_rand() % 2);
    fuzz_fileq_segment(seed, len);
    runs++;
    for (int m = 0; m < 20; m++) {
      size_t n = mutate(seed, len, buf, sizeof buf);
      fuzz_fileq_segment(buf, n);
      runs++;
    }
  }
  cr_assert_eq(runs, 200 * 21);
}

SH_TEST(fileq_fuzz, checked_in_corpus)
{
  static uint8_t seed[2 * FUZZ_SEG_MAX], buf[2 * FUZZ_SEG_MAX];
  char dir[512];
  snprintf(dir, sizeof dir, "%s", __FILE__);
  char *slash = strrchr(dir, '/');
  cr_assert_not_null(slash);
  snprintf(slash, sizeof dir - (size_t)(slash - dir), "/corpus/segment");
  DIR *d = opendir(dir);
  cr_assert_not_null(d, "no corpus at %s", dir);
  int files = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char path[800];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    size_t len = fread(seed, 1, sizeof seed, f);
    fclose(f);
    fuzz_fileq_segment(seed, len);
    for (int m = 0; m < 40; m++)
      fuzz_fileq_segment(buf, mutate(seed, len, buf, sizeof buf));
    files++;
  }
  closedir(d);
  cr_assert(files >= 3, "only %d corpus files", files);
}

SH_TEST(fileq_fuzz, crc32c_and_what_the_seeds_hold)
{
  /* The standard check value of CRC-32C, by both implementations. */
  cr_assert_eq(shoal__crc32c(0, "123456789", 9), 0xe3069283u);
  cr_assert_eq(shoal__crc32c_sw(0, "123456789", 9), 0xe3069283u);
  unsigned char big[1000];
  for (int i = 0; i < 1000; i++)
    big[i] = (unsigned char)(i * 31);
  for (size_t n = 0; n < 1000; n += 37)
    cr_assert_eq(shoal__crc32c(0, big, n), shoal__crc32c_sw(0, big, n));
  cr_assert_eq(shoal__crc32c(shoal__crc32c(0, big, 400), big + 400, 600),
               shoal__crc32c(0, big, 1000));
  /* The corpus files (written by an independent CRC) scan as named. */
  static const struct {
    const char *name;
    int end;
    uint64_t records;
  } want[] = {{"empty", SHOAL__FQ_END_OPEN, 0},
              {"three_open", SHOAL__FQ_END_OPEN, 3},
              {"sealed", SHOAL__FQ_END_SEALED, 12},
              {"torn_tail", SHOAL__FQ_END_TORN, 40},
              {"damaged_middle", SHOAL__FQ_END_DAMAGED, 5}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    char path[600];
    snprintf(path, sizeof path, "%s", __FILE__);
    snprintf(strrchr(path, '/'), 200, "/corpus/segment/%s", want[i].name);
    static unsigned char img[FUZZ_SEG_MAX];
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t len = fread(img + SHOAL__FQ_SEG_HDR - 1, 1, sizeof img - SHOAL__FQ_SEG_HDR, f);
    fclose(f);
    uint64_t first = img[SHOAL__FQ_SEG_HDR - 1];
    struct shoal__fq_scan sc;
    shoal__fq_scan_records(img, SHOAL__FQ_SEG_HDR - 1 + len, first, NULL, NULL, &sc);
    cr_assert_eq(sc.end, want[i].end, "%s ends %d", want[i].name, sc.end);
    cr_assert_eq(sc.records, want[i].records, "%s: %lu records", want[i].name,
                 (unsigned long)sc.records);
  }
}
