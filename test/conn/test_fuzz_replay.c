// SPDX-License-Identifier: MIT
// Replays the fuzz corpus (test/conn/corpus/) through the fuzz entry points
// of fuzz_conn.c, plus a fixed set of mutations of every seed (bit flips,
// cut-offs, splices, random length fields), so that `make test` runs the
// decoder and the handshake on hostile input deterministically; `make fuzz`
// runs the same entry points under libFuzzer for a bounded time.
#include <dirent.h>
#include <stdio.h>

#include "fuzz_conn.c"
#include "support.h"

#define MUTATIONS 40

static char corpus_dir[512];

static void find_corpus(const char *kind)
{
  /* CMake compiles with absolute source paths: the corpus is beside us. */
  snprintf(corpus_dir, sizeof corpus_dir, "%s", __FILE__);
  char *slash = strrchr(corpus_dir, '/');
  cr_assert_not_null(slash);
  snprintf(slash, sizeof corpus_dir - (size_t)(slash - corpus_dir), "/corpus/%s", kind);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next_rand(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

/* One mutation of seed (len bytes) into out; returns the new length. */
static size_t mutate(const uint8_t *seed, size_t len, uint8_t *out, size_t cap)
{
  size_t n = len < cap ? len : cap;
  memcpy(out, seed, n);
  if (n < 2)
    return n;
  switch (next_rand() % 5) {
  case 0: /* flip a few bits */
    for (int i = 0; i < 4; i++)
      out[1 + next_rand() % (n - 1)] ^= (uint8_t)(1u << (next_rand() % 8));
    break;
  case 1: /* cut short */
    n = 1 + next_rand() % (n - 1);
    break;
  case 2: /* a random 4-byte value somewhere (often a length field) */
    if (n >= 5) {
      size_t at = 1 + next_rand() % (n - 4);
      uint32_t v = next_rand();
      memcpy(out + at, &v, 4);
    }
    break;
  case 3: /* duplicate the tail */
    if (n * 2 <= cap) {
      size_t from = 1 + next_rand() % (n - 1);
      memcpy(out + n, out + from, n - from);
      n += n - from;
    }
    break;
  default: /* another configuration byte */
    out[0] = (uint8_t)next_rand();
    break;
  }
  return n;
}

static int replay(const char *kind, int (*entry)(const uint8_t *, size_t))
{
  static uint8_t seed[FUZZ_MAX_INPUT], buf[2 * FUZZ_MAX_INPUT];
  find_corpus(kind);
  DIR *d = opendir(corpus_dir);
  cr_assert_not_null(d, "no corpus at %s", corpus_dir);
  int files = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char path[800];
    snprintf(path, sizeof path, "%s/%s", corpus_dir, e->d_name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t len = fread(seed, 1, sizeof seed, f);
    fclose(f);
    entry(seed, len);
    for (int i = 0; i < MUTATIONS; i++)
      entry(buf, mutate(seed, len, buf, sizeof buf));
    files++;
  }
  closedir(d);
  return files;
}

SH_TEST(fuzz_replay, frame_corpus)
{
  cr_assert(replay("frame", fuzz_conn_frame) >= 10);
}

SH_TEST(fuzz_replay, handshake_corpus)
{
  cr_assert(replay("handshake", fuzz_conn_handshake) >= 10);
}
