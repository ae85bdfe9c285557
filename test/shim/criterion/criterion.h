// SPDX-License-Identifier: MIT
// A minimal stand-in for Criterion's API, used only for the ThreadSanitizer
// build: Criterion's runner cannot start under TSan (Snaipe/Criterion#274,
// its inheritable arena clashes with TSan's memory layout).  It supports
// what shoal's tests use: Test() with .init/.fini/.timeout, cr_assert*.
// Each test still runs in its own forked process with a time limit.
#ifndef SHOAL_TEST_CRITERION_SHIM_H
#define SHOAL_TEST_CRITERION_SHIM_H

#include <stdio.h>
#include <string.h>

struct shim_opts {
  void (*init)(void);
  void (*fini)(void);
  double timeout;
};

void shim_register(const char *suite, const char *name, void (*fn)(void), struct shim_opts o);
__attribute__((noreturn, format(printf, 4, 5))) void shim_fail(const char *file, int line,
                                                              const char *expr, const char *fmt,
                                                              ...);
// shim_skip ends the running test as skipped (it counts as passed).
__attribute__((noreturn, format(printf, 1, 2))) void shim_skip(const char *fmt, ...);

#define Test(suite, name, ...)                                                                     \
  static void suite##_##name##_impl(void);                                                         \
  __attribute__((constructor)) static void suite##_##name##_register(void)                        \
  {                                                                                                \
    shim_register(#suite, #name, suite##_##name##_impl, (struct shim_opts){__VA_ARGS__});          \
  }                                                                                                \
  static void suite##_##name##_impl(void)

#define cr_assert(cond, ...)                                                                       \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      shim_fail(__FILE__, __LINE__, #cond, " " __VA_ARGS__);                                        \
  } while (0)
#define cr_assert_fail(...) shim_fail(__FILE__, __LINE__, "failure", " " __VA_ARGS__)
#define cr_skip_test(...) shim_skip(__VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), ##__VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), ##__VA_ARGS__)
#define cr_assert_not_null(a, ...) cr_assert((a) != NULL, ##__VA_ARGS__)
#define cr_assert_null(a, ...) cr_assert((a) == NULL, ##__VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), ##__VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), ##__VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), ##__VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), ##__VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0, ##__VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) cr_assert(strcmp((a), (b)) != 0, ##__VA_ARGS__)

#endif
