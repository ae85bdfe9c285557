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
//   dict-fill NAME FROM TO     open dict NAME, set "k<i>" = "v<i>" for FROM <= i < TO, print "done"
//   dict-check NAME N          print "ok" when "k<i>" = "v<i>" for i < N and len is N
//   list-fill NAME N           open list NAME, append "item<i>" for i < N, print "done"
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

static int dict_cmd(const char *cmd, int argc, char **argv)
{
  shoal_dict *d;
  char k[32], v[32], got[32];
  opened(shoal_dict_open(&d, argv[2], NULL, NULL));
  if (!strcmp(cmd, "dict-fill") && argc > 4) {
    for (long i = strtol(argv[3], NULL, 10); i < strtol(argv[4], NULL, 10); i++) {
      int kl = snprintf(k, sizeof k, "k%ld", i), vl = snprintf(v, sizeof v, "v%ld", i);
      int rc = shoal_dict_set(d, k, (size_t)kl, v, (size_t)vl);
      if (rc) {
        say_rc(rc);
        return 1;
      }
    }
    shoal_dict_close(d);
    say("done");
    return 0;
  }
  if (!strcmp(cmd, "dict-check") && argc > 3) {
    long n = strtol(argv[3], NULL, 10);
    for (long i = 0; i < n; i++) {
      int kl = snprintf(k, sizeof k, "k%ld", i), vl = snprintf(v, sizeof v, "v%ld", i);
      size_t len = sizeof got;
      int rc = shoal_dict_get(d, k, (size_t)kl, got, &len);
      if (rc || len != (size_t)vl || memcmp(got, v, len)) {
        printf("k%ld: %s\n", i, shoal_err_name(rc));
        return 1;
      }
    }
    say(shoal_dict_len(d) == (size_t)n ? "ok" : "bad len");
    shoal_dict_close(d);
    return 0;
  }
  return 2;
}

static int list_cmd(const char *cmd, int argc, char **argv)
{
  shoal_list *l;
  char item[32];
  if (strcmp(cmd, "list-fill") || argc < 4)
    return 2;
  opened(shoal_list_open(&l, argv[2], NULL, NULL));
  for (long i = 0; i < strtol(argv[3], NULL, 10); i++) {
    int n = snprintf(item, sizeof item, "item%ld", i);
    int rc = shoal_list_append(l, item, (size_t)n);
    if (rc) {
      say_rc(rc);
      return 1;
    }
  }
  shoal_list_close(l);
  say("done");
  return 0;
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
  if (!strncmp(cmd, "dict-", 5))
    return dict_cmd(cmd, argc, argv);
  if (!strncmp(cmd, "list-", 5))
    return list_cmd(cmd, argc, argv);
  return 2;
}
