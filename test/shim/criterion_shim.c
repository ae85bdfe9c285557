// SPDX-License-Identifier: MIT
// The runner behind test/shim/criterion/criterion.h: every registered test in
// its own forked process, .init and .fini around it, killed at its timeout;
// prints one line a test and "N passed, N failed" at the end.

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "criterion/criterion.h"

#define MAX_TESTS 256

struct shim_test {
  const char *suite, *name;
  void (*fn)(void);
  struct shim_opts o;
};

static struct shim_test tests[MAX_TESTS];
static int n_tests;
static const struct shim_test *current;

void shim_register(const char *suite, const char *name, void (*fn)(void), struct shim_opts o)
{
  if (n_tests == MAX_TESTS)
    abort();
  tests[n_tests++] = (struct shim_test){suite, name, fn, o};
}

/* Prints fmt's message after a head line, runs the test's fini and ends
 * the test process with code. */
__attribute__((noreturn)) static void end_test(int code, const char *fmt, va_list ap)
{
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  if (current && current->o.fini)
    current->o.fini();
  _exit(code);
}

void shim_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "%s:%d: assertion failed: %s\n  ", file, line, expr);
  va_start(ap, fmt);
  end_test(1, fmt, ap);
}

void shim_skip(const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "[SKIP] %s::%s: ", current ? current->suite : "?", current ? current->name : "?");
  va_start(ap, fmt);
  end_test(0, fmt, ap);
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run_one(const struct shim_test *t)
{
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    return 0;
  if (pid == 0) {
    current = t;
    if (t->o.init)
      t->o.init();
    t->fn();
    if (t->o.fini)
      t->o.fini();
    _exit(0);
  }
  double limit = t->o.timeout > 0 ? t->o.timeout : 60, start = now();
  int status;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (now() - start > limit) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      fprintf(stderr, "[FAIL] %s::%s: timed out after %.0f s\n", t->suite, t->name, limit);
      return 0;
    }
    usleep(1000);
  }
  int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  fprintf(stderr, "[%s] %s::%s (%.2fs)\n", ok ? "PASS" : "FAIL", t->suite, t->name,
          now() - start);
  return ok;
}

int main(void)
{
  int passed = 0;
  for (int i = 0; i < n_tests; i++)
    passed += run_one(&tests[i]);
  printf("%d passed, %d failed\n", passed, n_tests - passed);
  return passed == n_tests ? 0 : 1;
}
