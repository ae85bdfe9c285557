// SPDX-License-Identifier: MIT
// shared_helper: an unrelated process for the shared-module tests.  It opens
// named objects by name and does one thing, printing each result as an error
// name (or a number) on its own line:
//   value-add NAME TC N        open Value NAME of typecode TC, N atomic adds of 1
//   value-locked-add NAME N    N read-modify-writes under the Value's own lock
//   value-hold NAME            take the Value's lock, print "held", wait to be killed
//   value-get NAME TC          print the Value's integer value
//   array-prefix NAME          replace Array 'i' NAME by its prefix sums, print "done"
//   shm-create NAME SIZE [p]   create segment NAME ("-": generated; p: persistent), write
//                              "hello from C" into it, print its name, then wait to be
//                              killed, or exit at once when SIZE is negative (its absolute
//                              value is the size)
//   shm-attach NAME [exit]     attach NAME, print its size, wait to be killed (or exit)
//   shm-both NAME SIZE OTHER   create NAME, attach OTHER, print "ready", wait to be killed
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shoal.h>

static void say(const char *s)
{
  printf("%s\n", s);
  fflush(stdout);
}

static void say_rc(int rc)
{
  if (rc >= 0)
    printf("%d\n", rc);
  else
    printf("%s\n", shoal_err_name(rc));
  fflush(stdout);
}

static void opened(int rc)
{
  if (rc) {
    say_rc(rc);
    exit(1);
  }
}

static int value_cmd(const char *cmd, int argc, char **argv)
{
  const char *name = argv[2];
  shoal_value *v;
  if (!strcmp(cmd, "value-add") && argc > 4) {
    opened(shoal_value_open(&v, name, argv[3][0], NULL, NULL));
    long n = strtol(argv[4], NULL, 10);
    for (long i = 0; i < n; i++) {
      int rc = shoal_value_add(v, 1, NULL);
      if (rc) {
        say_rc(rc);
        return 1;
      }
    }
    shoal_value_close(v);
    say("done");
    return 0;
  }
  if (!strcmp(cmd, "value-locked-add") && argc > 3) {
    opened(shoal_value_open(&v, name, 'i', NULL, NULL));
    long n = strtol(argv[3], NULL, 10);
    for (long i = 0; i < n; i++) {
      int64_t x;
      if (shoal_value_acquire(v, SHOAL_FOREVER) != 0 || shoal_value_get_int(v, &x) != 0 ||
          shoal_value_set_int(v, x + 1) != 0 || shoal_value_release(v) != 0)
        return 1;
    }
    shoal_value_close(v);
    say("done");
    return 0;
  }
  if (!strcmp(cmd, "value-hold")) {
    opened(shoal_value_open(&v, name, 'i', NULL, NULL));
    int rc = shoal_value_acquire(v, SHOAL_FOREVER);
    say(rc == 0 ? "held" : shoal_err_name(rc));
    for (;;)
      pause();
  }
  if (!strcmp(cmd, "value-get") && argc > 3) {
    opened(shoal_value_open(&v, name, argv[3][0], NULL, NULL));
    int64_t x = 0;
    int rc = shoal_value_get_int(v, &x);
    if (rc)
      say_rc(rc);
    else
      printf("%lld\n", (long long)x);
    fflush(stdout);
    shoal_value_close(v);
    return rc != 0;
  }
  return 2;
}

static int array_cmd(const char *cmd, char **argv)
{
  shoal_array *a;
  if (strcmp(cmd, "array-prefix"))
    return 2;
  opened(shoal_array_open(&a, argv[2], 'i', 0, NULL, NULL));
  if (shoal_array_acquire(a, SHOAL_FOREVER) != 0)
    return 1;
  int64_t sum = 0;
  for (size_t i = 0; i < shoal_array_len(a); i++) {
    int64_t x;
    if (shoal_array_get_int(a, i, &x) != 0 || shoal_array_set_int(a, i, sum += x) != 0)
      return 1;
  }
  shoal_array_release(a);
  shoal_array_close(a);
  say("done");
  return 0;
}

static int shm_cmd(const char *cmd, int argc, char **argv)
{
  shoal_shm *s, *o;
  const char *name = argv[2];
  if (!strcmp(cmd, "shm-create") && argc > 3) {
    long size = strtol(argv[3], NULL, 10);
    shoal_shm_opts opts = {.flags = argc > 4 ? SHOAL_SHM_PERSISTENT : 0};
    opened(shoal_shm_create(&s, strcmp(name, "-") ? name : NULL, (size_t)labs(size), &opts));
    memcpy(shoal_shm_buf(s), "hello from C", 12);
    say(shoal_shm_name(s));
    if (size < 0) {
      shoal_shm_close(s); /* closed, not unlinked: the watcher's job */
      return 0;
    }
    for (;;)
      pause();
  }
  if (!strcmp(cmd, "shm-attach")) {
    opened(shoal_shm_attach(&s, name, NULL));
    printf("%zu\n", shoal_shm_size(s));
    fflush(stdout);
    if (argc > 3) {
      shoal_shm_close(s);
      return 0;
    }
    for (;;)
      pause();
  }
  if (!strcmp(cmd, "shm-both") && argc > 4) {
    opened(shoal_shm_create(&s, name, (size_t)strtol(argv[3], NULL, 10), NULL));
    opened(shoal_shm_attach(&o, argv[4], NULL));
    say("ready");
    for (;;)
      pause();
  }
  return 2;
}

int main(int argc, char **argv)
{
  if (argc < 3)
    return 2;
  const char *cmd = argv[1];
  if (!strncmp(cmd, "value-", 6))
    return value_cmd(cmd, argc, argv);
  if (!strncmp(cmd, "array-", 6))
    return array_cmd(cmd, argv);
  if (!strncmp(cmd, "shm-", 4))
    return shm_cmd(cmd, argc, argv);
  return 2;
}
