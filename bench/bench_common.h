// SPDX-License-Identifier: MIT
// bench_common.h: what every benchmark program shares — the clock and the
// summary of repeated rounds (median, min, max).  Header-only: each bench_*
// program is one file.
#ifndef SHOAL_BENCH_COMMON_H
#define SHOAL_BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

// bench_python names the Python peer's interpreter: $PYTHON, else python3.
static inline const char *bench_python(void)
{
  const char *py = getenv("PYTHON");
  return py && *py ? py : "python3";
}

// bench_run_capture runs argv (argv[0] looked up in PATH) with its stdout
// going into buf (at most cap - 1 bytes, NUL-terminated), waits for it and
// returns its wait status; exit status 127 means it could not be run (no
// such program).  -1 when no process could be made.
static inline int bench_run_capture(char *const argv[], char *buf, size_t cap)
{
  int fds[2];
  if (pipe(fds) != 0)
    return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  size_t len = 0;
  ssize_t k;
  while (len < cap - 1 &&
         ((k = read(fds[0], buf + len, cap - 1 - len)) > 0 || (k < 0 && errno == EINTR)))
    if (k > 0)
      len += (size_t)k;
  buf[len] = '\0';
  close(fds[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return -1;
  return st;
}

#endif
