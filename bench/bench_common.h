// SPDX-License-Identifier: MIT
// bench_common.h: what every benchmark program shares — the clock and the
// summary of repeated rounds (median, min, max).  Header-only: each bench_*
// program is one file.
#ifndef SHOAL_BENCH_COMMON_H
#define SHOAL_BENCH_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// bench_now_ns / bench_now_s read the monotonic clock.
static inline uint64_t bench_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline double bench_now_s(void)
{
  return (double)bench_now_ns() / 1e9;
}

// The summary of n >= 1 measurements of one case.
struct bench_stat {
  double med, min, max;
};

static inline int bench_cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

// bench_summarize returns the median (the mean of the middle two for an
// even n), minimum and maximum of v[0..n), which it leaves as it was.
static inline struct bench_stat bench_summarize(const double *v, int n)
{
  double *s = malloc((size_t)n * sizeof *s);
  if (!s)
    abort();
  memcpy(s, v, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, bench_cmp_double);
  struct bench_stat st = {n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2, s[0], s[n - 1]};
  free(s);
  return st;
}

static inline double bench_median(const double *v, int n)
{
  return bench_summarize(v, n).med;
}

#endif
