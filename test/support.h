// SPDX-License-Identifier: MIT
// support.h: what every shoal test shares.  Asserts that print error names,
// a per-test setup/teardown that reaps every descendant the test left behind,
// unique names for named objects, child processes and the helper binary.
#ifndef SHOAL_TEST_SUPPORT_H
#define SHOAL_TEST_SUPPORT_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <sys/types.h>

#include <shoal.h>

/* Every test: its own process (Criterion), a 60 s limit, and a teardown that
 * kills and reaps stray children and unlinks the names the test made. */
#define SH_TEST(suite, name, ...)                                                                  \
  Test(suite, name, .init = sh_setup, .fini = sh_teardown, .timeout = 60, ##__VA_ARGS__)

/* SH_TEST for the few load tests that may need minutes under a sanitizer on
 * a busy machine. */
#define SH_TEST_LONG(suite, name, ...)                                                             \
  Test(suite, name, .init = sh_setup, .fini = sh_teardown, .timeout = 240, ##__VA_ARGS__)

#define SH_ASSERT_OK(expr)                                                                         \
  do {                                                                                             \
    int sh_rc_ = (expr);                                                                           \
    cr_assert(sh_rc_ == 0, "%s returned %s (%d): %s", #expr, shoal_err_name(sh_rc_), sh_rc_,       \
              shoal_strerror(sh_rc_));                                                             \
  } while (0)

#define SH_ASSERT_ERR(expr, want)                                                                  \
  do {                                                                                             \
    int sh_rc_ = (expr);                                                                           \
    cr_assert(sh_rc_ == (want), "%s returned %s (%d), expected %s", #expr,                         \
              shoal_err_name(sh_rc_), sh_rc_, shoal_err_name(want));                               \
  } while (0)

#define SH_ASSERT_RC(expr, want)                                                                   \
  do {                                                                                             \
    int sh_rc_ = (expr);                                                                           \
    cr_assert(sh_rc_ == (want), "%s returned %d (%s), expected %d", #expr, sh_rc_,                 \
              shoal_err_name(sh_rc_), (int)(want));                                                \
  } while (0)

/* Checks that a call with a timeout of `t` ns took at least t and under 2 s. */
#define SH_ASSERT_TOOK(start_ns, t)                                                                \
  do {                                                                                             \
    uint64_t sh_el_ = sh_now() - (start_ns);                                                       \
    cr_assert(sh_el_ >= (uint64_t)(t), "returned after %.3f s, before the %.3f s timeout",         \
              sh_el_ / 1e9, (double)(t) / 1e9);                                                    \
    cr_assert(sh_el_ < 2000000000u, "returned after %.3f s, over 2 s", sh_el_ / 1e9);              \
  } while (0)

/* Checks that a non-blocking call returned at once (under 0.05 s). */
#define SH_ASSERT_QUICK(start_ns)                                                                  \
  cr_assert(sh_now() - (start_ns) < 50000000u, "took %.3f s, expected at once",                    \
            (sh_now() - (start_ns)) / 1e9)

void sh_setup(void);
void sh_teardown(void);

// sh_now returns CLOCK_MONOTONIC in ns.
uint64_t sh_now(void);
// sh_sleep_ms sleeps ms milliseconds.
void sh_sleep_ms(int ms);

// sh_name returns a name unique to this test run (static storage, one of 16
// rotating buffers), unlinked again at teardown.
const char *sh_name(const char *tag);

// sh_fork runs fn(arg) in a child process, which exits with its return value;
// returns the child's pid.
pid_t sh_fork(int (*fn)(void *), void *arg);

// sh_wait returns the child's exit code, 128+signal if it was killed, or fails
// the test if it does not end within timeout_ms.
int sh_wait(pid_t pid, int timeout_ms);

// sh_helper starts the helper binary with the given arguments (NULL ended);
// its stdout is a pipe whose read end is stored in *out_fd (when not NULL).
pid_t sh_helper(int *out_fd, const char *arg, ...);

// sh_spawn is sh_helper for another helper binary, named as built from
// test/<module>/<helper>.c (e.g. "queue_helper").
pid_t sh_spawn(int *out_fd, const char *helper, const char *arg, ...);

// sh_spawn_argv starts argv[0] (searched on PATH when it has no '/') with its
// stdout on a pipe whose read end goes to *out_fd (closed when out_fd is NULL).
pid_t sh_spawn_argv(int *out_fd, const char *const *argv);

// sh_read_line reads one line (without '\n') from fd into buf, failing the
// test after timeout_ms.
void sh_read_line(int fd, char *buf, size_t len, int timeout_ms);

#endif
