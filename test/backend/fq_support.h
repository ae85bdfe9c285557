// SPDX-License-Identifier: MIT
// fq_support.h: what the file queue tests share — a scratch directory per
// test (removed at the end), self-checking messages, and opening helpers.
#ifndef SHOAL_TEST_FQ_SUPPORT_H
#define SHOAL_TEST_FQ_SUPPORT_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

static char fq_dir_buf[256];

static int fq_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void fq_rm_rf(const char *path)
{
  nftw(path, fq_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fq_cleanup(void)
{
  if (fq_dir_buf[0])
    fq_rm_rf(fq_dir_buf);
  fq_dir_buf[0] = '\0';
}

/* Removes the scratch directories of test processes that are gone (a test
 * process ends without running atexit handlers when Criterion stops it). */
static void fq_sweep(void)
{
  DIR *d = opendir("/tmp");
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d))) {
    int pid;
    if (sscanf(e->d_name, "shoal-fq-%d-", &pid) == 1 && pid > 0 && kill(pid, 0) != 0 &&
        errno == ESRCH) {
      char path[300];
      snprintf(path, sizeof path, "/tmp/%.200s", e->d_name);
      fq_rm_rf(path);
    }
  }
  closedir(d);
}

/* A fresh, empty scratch directory; the queue goes in "<it>/q". */
static const char *fq_scratch(void)
{
  fq_sweep();
  snprintf(fq_dir_buf, sizeof fq_dir_buf, "/tmp/shoal-fq-%d-XXXXXX", (int)getpid());
  cr_assert_not_null(mkdtemp(fq_dir_buf));
  atexit(fq_cleanup);
  return fq_dir_buf;
}

static const char *fq_path(const char *sub)
{
  static char buf[4][320];
  static int i;
  char *b = buf[i++ & 3];
  snprintf(b, sizeof buf[0], "%s/%s", fq_dir_buf, sub);
  return b;
}

static const shoal_open_opts fq_create = {.flags = SHOAL_OPEN_CREATE};

/* A message that proves its own integrity: id, length, and bytes derived
 * from both. */
struct fq_msg_head {
  uint32_t id;
  uint32_t len;
};

static size_t fq_build(unsigned char *buf, uint32_t id, uint32_t payload)
{
  struct fq_msg_head h = {id, payload};
  memcpy(buf, &h, sizeof h);
  for (uint32_t i = 0; i < payload; i++)
    buf[sizeof h + i] = (unsigned char)(id * 131u + i * 7u + 1u);
  return sizeof h + payload;
}

/* Returns the id of a well-formed message, or -1. */
static long fq_verify(const unsigned char *buf, size_t len)
{
  struct fq_msg_head h;
  if (len < sizeof h)
    return -1;
  memcpy(&h, buf, sizeof h);
  if (h.len != len - sizeof h)
    return -1;
  for (uint32_t i = 0; i < h.len; i++)
    if (buf[sizeof h + i] != (unsigned char)(h.id * 131u + i * 7u + 1u))
      return -1;
  return h.id;
}

#endif
