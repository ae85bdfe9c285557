// SPDX-License-Identifier: MIT
// Scenario 14: shared memory between processes with Value and Array.
//
//   n = Value('i', 0)                  # one process writes, another reads
//   num = Value('d', 0.0); arr = Array('i', range(10)); darr = Array('d', [1.0, 2.0, 3.0])
//   def f(num, arr): num.value = 3.1415927; arr[:] = [-x for x in arr]
//   counter = Value('i', 0)            # four processes add under its lock
//   with counter.get_lock(): counter.value += 1
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shoal.h>

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "FAIL: " __VA_ARGS__);                                                       \
      fputc('\n', stderr);                                                                         \
      return 1;                                                                                    \
    }                                                                                              \
  } while (0)

/* Runs fn(arg) in a child; returns its pid. */
static pid_t spawn(int (*fn)(void *), void *arg)
{
  pid_t pid = fork();
  if (pid == 0)
    _exit(fn(arg));
  return pid;
}

static int join(pid_t pid)
{
  int status;
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* ---- Value('i', 0): a child writes, the parent reads ---- */

static int writer(void *arg)
{
  return shoal_value_set_int(arg, 42) != 0;
}

/* ---- f(num, arr): the child changes a Value('d') and an Array('i') ---- */

struct pair {
  shoal_value *num;
  shoal_array *arr;
};

static int f(void *arg)
{
  struct pair *p = arg;
  int32_t items[10];
  shoal_value_set_double(p->num, 3.1415927);
  shoal_array_acquire(p->arr, SHOAL_FOREVER); /* the slice is read and written whole */
  shoal_array_get_slice(p->arr, 0, 10, items, sizeof items);
  for (int i = 0; i < 10; i++)
    items[i] = -items[i];
  shoal_array_set_slice(p->arr, 0, 10, items, sizeof items);
  shoal_array_release(p->arr);
  return 0;
}

/* ---- a Lock protecting a shared Value ---- */

#define PROCS 4
#define ROUNDS 10000

static int adder(void *arg)
{
  shoal_value *counter = arg;
  for (int i = 0; i < ROUNDS; i++) {
    int64_t x;
    shoal_value_acquire(counter, SHOAL_FOREVER); /* with counter.get_lock(): */
    shoal_value_get_int(counter, &x);
    shoal_value_set_int(counter, x + 1); /*   counter.value += 1 */
    shoal_value_release(counter);
  }
  return 0;
}

int main(void)
{
  shoal_value *n, *num, *counter;
  shoal_array *arr, *darr;
  int64_t x;

  CHECK(shoal_value_create(&n, 'i', NULL) == 0, "Value('i')");
  CHECK(join(spawn(writer, n)) == 0, "writer");
  shoal_value_get_int(n, &x);
  printf("Value('i', 0) after the child wrote it: %lld\n", (long long)x);
  CHECK(x == 42, "n.value = %lld", (long long)x);

  int32_t range10[10];
  for (int i = 0; i < 10; i++)
    range10[i] = i;
  double floats[3] = {1.0, 2.0, 3.0};
  CHECK(shoal_value_create(&num, 'd', NULL) == 0, "Value('d')");
  CHECK(shoal_array_create(&arr, 'i', 10, NULL) == 0, "Array('i')");
  CHECK(shoal_array_create(&darr, 'd', 3, NULL) == 0, "Array('d')");
  shoal_array_set_slice(arr, 0, 10, range10, sizeof range10);
  shoal_array_set_slice(darr, 0, 3, floats, sizeof floats);
  struct pair p = {num, arr};
  CHECK(join(spawn(f, &p)) == 0, "f");
  double d;
  int32_t items[10];
  shoal_value_get_double(num, &d);
  shoal_array_get_slice(arr, 0, 10, items, sizeof items);
  shoal_array_get_slice(darr, 0, 3, floats, sizeof floats);
  printf("num.value = %.7f\narr[:] =", d);
  for (int i = 0; i < 10; i++)
    printf(" %d", items[i]);
  printf("\ndarr[:] = %.1f %.1f %.1f\n", floats[0], floats[1], floats[2]);
  CHECK(d == 3.1415927, "num.value");
  for (int i = 0; i < 10; i++)
    CHECK(items[i] == -i, "arr[%d] = %d", i, items[i]);
  CHECK(floats[0] == 1.0 && floats[2] == 3.0, "darr");

  CHECK(shoal_value_create(&counter, 'i', NULL) == 0, "Value('i') with a lock");
  pid_t pids[PROCS];
  for (int i = 0; i < PROCS; i++)
    pids[i] = spawn(adder, counter);
  int failed = 0;
  for (int i = 0; i < PROCS; i++)
    failed |= join(pids[i]);
  shoal_value_get_int(counter, &x);
  printf("%d processes x %d locked increments: counter.value = %lld\n", PROCS, ROUNDS,
         (long long)x);
  CHECK(!failed && x == PROCS * ROUNDS, "counter %lld", (long long)x);

  /* No lock needed at all: the atomic add. */
  for (int i = 0; i < PROCS; i++)
    shoal_value_add(n, 1, NULL);
  shoal_value_get_int(n, &x);
  CHECK(x == 42 + PROCS, "atomic add");

  shoal_value_destroy(n);
  shoal_value_destroy(num);
  shoal_value_destroy(counter);
  shoal_array_destroy(arr);
  shoal_array_destroy(darr);
  return 0;
}
