// SPDX-License-Identifier: MIT
// The shared dict: Manager().dict() behaviours (get/set/delete/contains/len/
// iteration/clear/pop), growth past the initial size seen by every process,
// the memory bound, 4 processes x 100,000 mixed operations checked against a
// model, killed writers and stopped readers, named dicts in unrelated
// processes, truncated and damaged files, bad input.
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_spawn.h"
#include "shared/heap.h" /* white-box: the control block's layout, to damage it */
#include "support.h"

static shoal_dict *dict;

static int set_str(const char *k, const char *v)
{
  return shoal_dict_set(dict, k, strlen(k), v, strlen(v));
}

/* Gets k as a string into buf (cap bytes); returns the rc. */
static int get_str(const char *k, char *buf, size_t cap)
{
  size_t len = cap - 1;
  int rc = shoal_dict_get(dict, k, strlen(k), buf, &len);
  buf[rc == 0 ? len : 0] = '\0';
  return rc;
}

/* ---- semantics ------------------------------------------------------------- */

SH_TEST(dict, set_get_contains_delete_len)
{
  char buf[64];
  SH_ASSERT_OK(shoal_dict_create(&dict, NULL));
  cr_assert_eq(shoal_dict_len(dict), 0);
  SH_ASSERT_ERR(get_str("a", buf, sizeof buf), SHOAL_ENOENT);
  SH_ASSERT_RC(shoal_dict_contains(dict, "a", 1), 0);
  SH_ASSERT_OK(set_str("a", "apple"));
  SH_ASSERT_OK(set_str("b", "banana"));
  cr_assert_eq(shoal_dict_len(dict), 2);
  SH_ASSERT_OK(get_str("a", buf, sizeof buf));
  cr_assert_str_eq(buf, "apple");
  SH_ASSERT_RC(shoal_dict_contains(dict, "b", 1), 1);
  SH_ASSERT_OK(set_str("a", "apricot")); /* replace */
  cr_assert_eq(shoal_dict_len(dict), 2);
  SH_ASSERT_OK(get_str("a", buf, sizeof buf));
  cr_assert_str_eq(buf, "apricot");
  SH_ASSERT_OK(shoal_dict_delete(dict, "a", 1));
  SH_ASSERT_ERR(shoal_dict_delete(dict, "a", 1), SHOAL_ENOENT);
  SH_ASSERT_RC(shoal_dict_contains(dict, "a", 1), 0);
  cr_assert_eq(shoal_dict_len(dict), 1);
  shoal_dict_destroy(dict);
}

SH_TEST(dict, binary_and_empty_keys_and_values)
{
  unsigned char k1[] = {0, 1, 2, 0, 255}, v1[300];
  for (size_t i = 0; i < sizeof v1; i++)
    v1[i] = (unsigned char)(i * 31);
  unsigned char out[300];
  size_t len;
  SH_ASSERT_OK(shoal_dict_create(&dict, NULL));
  SH_ASSERT_OK(shoal_dict_set(dict, k1, sizeof k1, v1, sizeof v1));
  SH_ASSERT_OK(shoal_dict_set(dict, NULL, 0, NULL, 0)); /* d[b""] = b"" */
  SH_ASSERT_OK(shoal_dict_set(dict, k1, 4, "x", 1));    /* a prefix is another key */
  cr_assert_eq(shoal_dict_len(dict), 3);
  len = sizeof out;
  SH_ASSERT_OK(shoal_dict_get(dict, k1, sizeof k1, out, &len));
  cr_assert_eq(len, sizeof v1);
  cr_assert(memcmp(out, v1, len) == 0);
  len = 0;
  SH_ASSERT_OK(shoal_dict_get(dict, NULL, 0, NULL, &len));
  cr_assert_eq(len, 0);
  len = sizeof out;
  SH_ASSERT_OK(shoal_dict_get(dict, k1, 4, out, &len));
  cr_assert(len == 1 && out[0] == 'x');
  shoal_dict_destroy(dict);
}

SH_TEST(dict, buffer_too_small_tells_the_size)
{
  char buf[4];
  size_t len = sizeof buf;
  SH_ASSERT_OK(shoal_dict_create(&dict, NULL));
  SH_ASSERT_OK(set_str("k", "a longer value"));
  SH_ASSERT_ERR(shoal_dict_get(dict, "k", 1, buf, &len), SHOAL_EMSGSIZE);
  cr_assert_eq(len, 14);
  len = 0;
  SH_ASSERT_ERR(shoal_dict_get(dict, "k", 1, NULL, &len), SHOAL_EMSGSIZE);
  cr_assert_eq(len, 14);
  /* pop with a small buffer removes nothing */
  len = sizeof buf;
  SH_ASSERT_ERR(shoal_dict_pop(dict, "k", 1, buf, &len), SHOAL_EMSGSIZE);
  cr_assert_eq(len, 14);
  SH_ASSERT_RC(shoal_dict_contains(dict, "k", 1), 1);
  char big[32];
  len = sizeof big;
  SH_ASSERT_OK(shoal_dict_pop(dict, "k", 1, big, &len));
  cr_assert(len == 14 && memcmp(big, "a longer value", 14) == 0);
  SH_ASSERT_RC(shoal_dict_contains(dict, "k", 1), 0);
  len = sizeof big;
  SH_ASSERT_ERR(shoal_dict_pop(dict, "k", 1, big, &len), SHOAL_ENOENT);
  shoal_dict_destroy(dict);
}

SH_TEST(dict, iteration_visits_every_key_once)
{
  enum { N = 1000 };
  static unsigned char seen[N];
  char k[32], v[32];
  SH_ASSERT_OK(shoal_dict_create(&dict, NULL));
  for (int i = 0; i < N; i++) {
    snprintf(k, sizeof k, "key%d", i);
    snprintf(v, sizeof v, "value%d", i);
    SH_ASSERT_OK(set_str(k, v));
  }
  shoal_dict_iter it = SHOAL_DICT_ITER_INIT;
  int n = 0, rc;
  for (;;) {
    size_t kl = sizeof k - 1, vl = sizeof v - 1;
    rc = shoal_dict_next(dict, &it, k, &kl, v, &vl);
    if (rc != 1)
      break;
    k[kl] = v[vl] = '\0';
    int i = atoi(k + 3);
    cr_assert(i >= 0 && i < N && !seen[i], "%s seen twice or unknown", k);
    seen[i] = 1;
    char want[32];
    snprintf(want, sizeof want, "value%d", i);
    cr_assert_str_eq(v, want);
    /* Changing values (not the size) during iteration is fine. */
    SH_ASSERT_OK(shoal_dict_set(dict, k, kl, "changed", 7));
    n++;
  }
  SH_ASSERT_OK(rc);
  cr_assert_eq(n, N);
  SH_ASSERT_OK(shoal_dict_next(dict, &it, k, &(size_t){sizeof k}, NULL, NULL)); /* stays over */

  /* Keys only; a small key buffer tells the size and keeps the place. */
  shoal_dict_iter it2 = SHOAL_DICT_ITER_INIT;
  size_t kl = 2;
  SH_ASSERT_ERR(shoal_dict_next(dict, &it2, k, &kl, NULL, NULL), SHOAL_EMSGSIZE);
  cr_assert(kl >= 4);
  kl = sizeof k;
  SH_ASSERT_RC(shoal_dict_next(dict, &it2, k, &kl, NULL, NULL), 1);
  /* A resize during the iteration cancels it (Python: RuntimeError). */
  for (int i = N; i < 4 * N; i++) {
    snprintf(k, sizeof k, "more%d", i);
    SH_ASSERT_OK(set_str(k, "x"));
  }
  kl = sizeof k;
  SH_ASSERT_ERR(shoal_dict_next(dict, &it2, k, &kl, NULL, NULL), SHOAL_ECANCELED);
  SH_ASSERT_OK(shoal_dict_clear(dict));
  shoal_dict_iter it3 = SHOAL_DICT_ITER_INIT;
  kl = sizeof k;
  SH_ASSERT_OK(shoal_dict_next(dict, &it3, k, &kl, NULL, NULL)); /* empty */
  shoal_dict_destroy(dict);
}

SH_TEST(dict, clear_and_reuse)
{
  char k[32], buf[32];
  SH_ASSERT_OK(shoal_dict_create(&dict, NULL));
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < 2000; i++) {
      snprintf(k, sizeof k, "r%d-%d", round, i);
      SH_ASSERT_OK(set_str(k, k));
    }
    cr_assert_eq(shoal_dict_len(dict), 2000);
    SH_ASSERT_OK(shoal_dict_clear(dict));
    cr_assert_eq(shoal_dict_len(dict), 0);
    SH_ASSERT_ERR(get_str(k, buf, sizeof buf), SHOAL_ENOENT);
  }
  shoal_dict_destroy(dict);
}

SH_TEST(dict, bad_input)
{
  size_t len = 4;
  char buf[4];
  shoal_dict_iter it = SHOAL_DICT_ITER_INIT;
  SH_ASSERT_ERR(shoal_dict_create(NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_create(&dict, &(shoal_container_opts){.max_size = 4096}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_create(
                    &dict, &(shoal_container_opts){.initial_size = 1 << 20, .max_size = 1 << 17}),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_create(&dict, &(shoal_container_opts){.max_size = (size_t)1 << 50}),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_create(&dict, &(shoal_container_opts){.reserved[2] = 1}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_open(&dict, NULL, NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_open(&dict, "a/b", NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_open(&dict, sh_name("none"), NULL, NULL), SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal_dict_set(NULL, "k", 1, "v", 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_get(NULL, "k", 1, buf, &len), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_delete(NULL, "k", 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_pop(NULL, "k", 1, buf, &len), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_contains(NULL, "k", 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_clear(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_next(NULL, &it, buf, &len, NULL, NULL), SHOAL_EINVAL);
  cr_assert_eq(shoal_dict_len(NULL), 0);
  SH_ASSERT_OK(shoal_dict_create(&dict, NULL));
  SH_ASSERT_ERR(shoal_dict_set(dict, NULL, 1, "v", 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_set(dict, "k", 1, NULL, 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_get(dict, "k", 1, buf, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_get(dict, "k", 1, NULL, &len), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_next(dict, NULL, buf, &len, NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_dict_next(dict, &it, buf, NULL, NULL, NULL), SHOAL_EINVAL);
  shoal_dict_destroy(dict);
  shoal_dict_destroy(NULL);
  shoal_dict_close(NULL);
}

/* ---- growth and the memory bound ------------------------------------------ */

static int child_checks(void *arg)
{
  int n = (int)(intptr_t)arg;
  char k[32], v[32], buf[32];
  for (int i = 0; i < n; i++) {
    snprintf(k, sizeof k, "k%d", i);
    snprintf(v, sizeof v, "v%d", i);
    if (get_str(k, buf, sizeof buf) != 0 || strcmp(buf, v))
      return 1;
  }
  /* The child grows it further; the parent must see that too. */
  for (int i = n; i < 2 * n; i++) {
    snprintf(k, sizeof k, "k%d", i);
    snprintf(v, sizeof v, "v%d", i);
    if (set_str(k, v) != 0)
      return 2;
  }
  return 0;
}

SH_TEST(dict_fork, growth_is_seen_by_every_process)
{
  enum { N = 20000 };
  char k[32], v[32], buf[32];
  SH_ASSERT_OK(shoal_dict_create(&dict, &(shoal_container_opts){.initial_size = 64 * 1024}));
  for (int i = 0; i < N; i++) {
    snprintf(k, sizeof k, "k%d", i);
    snprintf(v, sizeof v, "v%d", i);
    SH_ASSERT_OK(set_str(k, v));
  }
  cr_assert_eq(sh_wait(sh_fork(child_checks, (void *)(intptr_t)N), 20000), 0);
  cr_assert_eq(shoal_dict_len(dict), 2 * N);
  for (int i = 0; i < 2 * N; i++) {
    snprintf(k, sizeof k, "k%d", i);
    snprintf(v, sizeof v, "v%d", i);
    SH_ASSERT_OK(get_str(k, buf, sizeof buf));
    cr_assert_str_eq(buf, v);
  }
  shoal_dict_destroy(dict);
}

SH_TEST(dict, full_is_enomem_and_changes_nothing)
{
  char k[32], v[200], buf[200];
  memset(v, 'v', sizeof v);
  SH_ASSERT_OK(shoal_dict_create(&dict, &(shoal_container_opts){.max_size = 64 * 1024}));
  int n = 0, rc;
  for (;;) {
    snprintf(k, sizeof k, "k%d", n);
    rc = shoal_dict_set(dict, k, strlen(k), v, sizeof v);
    if (rc)
      break;
    n++;
  }
  SH_ASSERT_ERR(rc, SHOAL_ENOMEM);
  cr_assert(n > 50, "only %d entries fit in 64 KiB", n);
  cr_assert_eq(shoal_dict_len(dict), (size_t)n);
  SH_ASSERT_RC(shoal_dict_contains(dict, k, strlen(k)), 0);
  /* A value that could never fit is E2BIG, not ENOMEM. */
  static char huge[128 * 1024];
  SH_ASSERT_ERR(shoal_dict_set(dict, "h", 1, huge, sizeof huge), SHOAL_E2BIG);
  /* Everything is still there; deleting makes room again. */
  for (int i = 0; i < n; i++) {
    snprintf(k, sizeof k, "k%d", i);
    size_t len = sizeof buf;
    SH_ASSERT_OK(shoal_dict_get(dict, k, strlen(k), buf, &len));
    cr_assert_eq(len, sizeof v);
  }
  for (int i = 0; i < n / 2; i++) {
    snprintf(k, sizeof k, "k%d", i);
    SH_ASSERT_OK(shoal_dict_delete(dict, k, strlen(k)));
  }
  for (int i = 0; i < n / 2; i++) {
    snprintf(k, sizeof k, "again%d", i);
    SH_ASSERT_OK(shoal_dict_set(dict, k, strlen(k), v, sizeof v));
  }
  cr_assert_eq(shoal_dict_len(dict), (size_t)(n - n / 2 + n / 2));
  shoal_dict_destroy(dict);
}

/* Blocks are powers of two, so an entry over about half of max_size can never
 * be placed, even in an empty dict: that is E2BIG, not ENOMEM (the dict is
 * not full; deleting would never make room). */
SH_TEST(dict, an_entry_over_half_the_bound_is_e2big)
{
  static char v[70000];
  char buf[8];
  SH_ASSERT_OK(shoal_dict_create(&dict, &(shoal_container_opts){.max_size = 64 * 1024}));
  SH_ASSERT_OK(set_str("small", "x"));
  const size_t never[] = {33 * 1024, 40000, 63000, 64 * 1024, 70000};
  for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
    SH_ASSERT_ERR(shoal_dict_set(dict, "big", 3, v, never[i]), SHOAL_E2BIG);
  cr_assert_eq(shoal_dict_len(dict), 1);
  SH_ASSERT_OK(get_str("small", buf, sizeof buf));
  cr_assert_str_eq(buf, "x");
  /* Just under half fits (a 32 KiB block), in the same dict. */
  SH_ASSERT_OK(shoal_dict_set(dict, "big", 3, v, 30000));
  cr_assert_eq(shoal_dict_len(dict), 2);
  shoal_dict_destroy(dict);
}

/* ---- 4 processes x 100,000 mixed operations, checked against a model ------ */

#define PROCS 4
#define OPS 100000
#define KEYS 400

/* A value's bytes follow from its key and version, so any reader can check
 * one it did not write. */
static size_t make_value(unsigned char *buf, int proc, int key, uint32_t version)
{
  size_t len = 8 + (version * 7 + (unsigned)key) % 120;
  uint32_t head[2] = {version, (uint32_t)(proc * KEYS + key)};
  memcpy(buf, head, 8);
  for (size_t i = 8; i < len; i++)
    buf[i] = (unsigned char)(version + i * 13 + (unsigned)key);
  return len;
}

static bool value_ok(const unsigned char *buf, size_t len, int proc, int key)
{
  unsigned char want[128];
  uint32_t version;
  if (len < 8)
    return false;
  memcpy(&version, buf, 4);
  return make_value(want, proc, key, version) == len && memcmp(want, buf, len) == 0;
}

static uint64_t rng_next(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* The model: each process owns keys "p<proc>-<key>"; version 0 = absent. */
struct step {
  int op, key;
};

static struct step draw(uint64_t *s)
{
  uint64_t r = rng_next(s);
  return (struct step){(int)(r % 100), (int)((r >> 8) % KEYS)};
}

static int key_of(char *k, int proc, int key)
{
  return snprintf(k, 32, "p%d-%d", proc, key);
}

static int mixed_worker(void *arg)
{
  int proc = (int)(intptr_t)arg;
  uint64_t s = 0x9e3779b97f4a7c15u * (uint64_t)(proc + 1);
  uint32_t model[KEYS] = {0}, next_version = 1;
  unsigned char val[128], buf[128];
  char k[32];
  for (int n = 0; n < OPS; n++) {
    struct step st = draw(&s);
    int kl = key_of(k, proc, st.key);
    size_t len = sizeof buf;
    int rc;
    if (st.op < 35) { /* get own key */
      rc = shoal_dict_get(dict, k, (size_t)kl, buf, &len);
      if (model[st.key]
              ? rc != 0 || !value_ok(buf, len, proc, st.key) || memcmp(buf, &model[st.key], 4)
              : rc != SHOAL_ENOENT)
        return 10;
    } else if (st.op < 60) { /* set own key */
      uint32_t v = next_version++;
      size_t vl = make_value(val, proc, st.key, v);
      if (shoal_dict_set(dict, k, (size_t)kl, val, vl) != 0)
        return 11;
      model[st.key] = v;
    } else if (st.op < 70) { /* delete own key */
      rc = shoal_dict_delete(dict, k, (size_t)kl);
      if (rc != (model[st.key] ? 0 : SHOAL_ENOENT))
        return 12;
      model[st.key] = 0;
    } else if (st.op < 75) { /* pop own key */
      rc = shoal_dict_pop(dict, k, (size_t)kl, buf, &len);
      if (model[st.key] ? rc != 0 || memcmp(buf, &model[st.key], 4) : rc != SHOAL_ENOENT)
        return 13;
      model[st.key] = 0;
    } else if (st.op < 85) { /* contains own key */
      if (shoal_dict_contains(dict, k, (size_t)kl) != (model[st.key] != 0))
        return 14;
    } else if (st.op < 98) { /* another process's key: whatever is there is whole */
      int other = (proc + 1 + st.key % (PROCS - 1)) % PROCS;
      kl = key_of(k, other, st.key);
      rc = shoal_dict_get(dict, k, (size_t)kl, buf, &len);
      if (rc == 0 ? !value_ok(buf, len, other, st.key) : rc != SHOAL_ENOENT)
        return 15;
    } else { /* a few steps of iteration */
      shoal_dict_iter it = SHOAL_DICT_ITER_INIT;
      for (int i = 0; i < 20; i++) {
        size_t klen = sizeof k - 1;
        len = sizeof buf;
        rc = shoal_dict_next(dict, &it, k, &klen, buf, &len);
        if (rc == 0 || rc == SHOAL_ECANCELED)
          break;
        int p, key;
        k[klen] = '\0';
        if (rc != 1 || sscanf(k, "p%d-%d", &p, &key) != 2 || !value_ok(buf, len, p, key))
          return 16;
      }
    }
  }
  return 0;
}

SH_TEST(dict_fork, four_processes_mixed_operations_match_the_model)
{
  pid_t pids[PROCS];
  SH_ASSERT_OK(shoal_dict_create(&dict, NULL));
  for (int p = 0; p < PROCS; p++)
    pids[p] = sh_fork(mixed_worker, (void *)(intptr_t)p);
  for (int p = 0; p < PROCS; p++)
    cr_assert_eq(sh_wait(pids[p], 50000), 0, "worker %d failed", p);
  /* Replay each worker's draws to know what must be left. */
  size_t expected = 0;
  for (int p = 0; p < PROCS; p++) {
    uint64_t s = 0x9e3779b97f4a7c15u * (uint64_t)(p + 1);
    uint32_t model[KEYS] = {0}, next_version = 1;
    for (int n = 0; n < OPS; n++) {
      struct step st = draw(&s);
      if (st.op >= 35 && st.op < 60)
        model[st.key] = next_version++;
      else if (st.op >= 60 && st.op < 75)
        model[st.key] = 0;
    }
    for (int key = 0; key < KEYS; key++) {
      char k[32];
      unsigned char buf[128];
      size_t len = sizeof buf;
      int kl = key_of(k, p, key);
      int rc = shoal_dict_get(dict, k, (size_t)kl, buf, &len);
      if (model[key]) {
        SH_ASSERT_OK(rc);
        cr_assert(value_ok(buf, len, p, key) && !memcmp(buf, &model[key], 4), "%s", k);
        expected++;
      } else {
        SH_ASSERT_ERR(rc, SHOAL_ENOENT);
      }
    }
  }
  cr_assert_eq(shoal_dict_len(dict), expected);
  shoal_dict_destroy(dict);
}

/* ---- dead and stopped participants ----------------------------------------- */

/* Checks every entry is whole and len agrees with an iteration. */
static void check_integrity(void)
{
  shoal_dict_iter it = SHOAL_DICT_ITER_INIT;
  size_t n = 0;
  int rc;
  for (;;) {
    char k[32];
    unsigned char buf[128];
    size_t kl = sizeof k - 1, len = sizeof buf;
    rc = shoal_dict_next(dict, &it, k, &kl, buf, &len);
    if (rc != 1)
      break;
    int p, key;
    k[kl] = '\0';
    cr_assert(sscanf(k, "p%d-%d", &p, &key) == 2 && value_ok(buf, len, p, key), "torn %s", k);
    n++;
  }
  SH_ASSERT_OK(rc);
  cr_assert_eq(shoal_dict_len(dict), n);
}

static int endless_writer(void *arg)
{
  (void)arg;
  unsigned char val[128];
  char k[32];
  uint64_t s = (uint64_t)getpid() * 2654435761u + 1;
  for (uint32_t v = 1; v; v++) { /* until killed */
    struct step st = draw(&s);
    int kl = key_of(k, 0, st.key);
    if (st.op < 70) {
      size_t vl = make_value(val, 0, st.key, v);
      shoal_dict_set(dict, k, (size_t)kl, val, vl);
    } else {
      shoal_dict_delete(dict, k, (size_t)kl);
    }
  }
  return 0;
}

SH_TEST(dict_fork, writers_killed_at_random_leave_a_whole_dict)
{
  SH_ASSERT_OK(shoal_dict_create(&dict, &(shoal_container_opts){.initial_size = 64 * 1024}));
  uint64_t s = 12345;
  for (int round = 0; round < 12; round++) {
    pid_t p = sh_fork(endless_writer, NULL);
    sh_sleep_ms(5 + (int)(rng_next(&s) % 40));
    kill(p, SIGKILL);
    cr_assert_eq(sh_wait(p, 5000), 128 + SIGKILL);
    /* Whoever comes next repairs what the writer may have left half-done. */
    uint64_t t0 = sh_now();
    unsigned char val[128];
    size_t vl = make_value(val, 1, 0, (uint32_t)round + 1);
    SH_ASSERT_OK(shoal_dict_set(dict, "p1-0", 4, val, vl));
    cr_assert(sh_now() - t0 < 2000000000u, "a write waited %.2f s", (sh_now() - t0) / 1e9);
    check_integrity();
  }
  shoal_dict_destroy(dict);
}

static int endless_reader(void *arg)
{
  (void)arg;
  unsigned char buf[128];
  for (;;) { /* until killed */
    size_t len = sizeof buf;
    if (shoal_dict_get(dict, "p0-1", 4, buf, &len) != 0)
      return 1;
  }
}

SH_TEST(dict_fork, a_stopped_or_killed_reader_blocks_nobody)
{
  unsigned char val[128];
  SH_ASSERT_OK(shoal_dict_create(&dict, NULL));
  size_t vl = make_value(val, 0, 1, 1);
  SH_ASSERT_OK(shoal_dict_set(dict, "p0-1", 4, val, vl));
  pid_t readers[3];
  for (int i = 0; i < 3; i++)
    readers[i] = sh_fork(endless_reader, NULL);
  sh_sleep_ms(50);
  for (int i = 0; i < 3; i++)
    kill(readers[i], SIGSTOP); /* most likely in the middle of a get */
  uint64_t t0 = sh_now();
  for (uint32_t v = 2; v < 1000; v++) {
    vl = make_value(val, 0, 1, v);
    SH_ASSERT_OK(shoal_dict_set(dict, "p0-1", 4, val, vl));
    unsigned char buf[128];
    size_t len = sizeof buf;
    SH_ASSERT_OK(shoal_dict_get(dict, "p0-1", 4, buf, &len));
  }
  cr_assert(sh_now() - t0 < 1000000000u, "1000 writes next to stopped readers took %.2f s",
            (sh_now() - t0) / 1e9);
  for (int i = 0; i < 3; i++) {
    kill(readers[i], SIGKILL);
    sh_wait(readers[i], 5000);
  }
  SH_ASSERT_OK(shoal_dict_set(dict, "p0-2", 4, val, vl));
  shoal_dict_destroy(dict);
}

/* ---- named: unrelated processes ------------------------------------------- */

SH_TEST(dict_named, unrelated_processes_share_and_grow_it)
{
  const char *name = sh_name("dict");
  char line[64];
  int fd;
  SH_ASSERT_OK(shoal_dict_open(&dict, name, &(shoal_container_opts){.initial_size = 64 * 1024},
                               &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  struct stat st;
  char path[300];
  snprintf(path, sizeof path, "/dev/shm/%.250s", name);
  cr_assert(stat(path, &st) == 0);
  off_t before = st.st_size;
  /* Another process fills it well past its first size ... */
  pid_t p = shared_helper(&fd, "dict-fill", name, "0", "20000");
  sh_read_line(fd, line, sizeof line, 30000);
  cr_assert_str_eq(line, "done");
  cr_assert_eq(sh_wait(p, 5000), 0);
  close(fd);
  cr_assert(stat(path, &st) == 0);
  cr_assert(st.st_size > before, "the file did not grow (%lld)", (long long)st.st_size);
  /* ... we see all of it through the mapping we had before ... */
  cr_assert_eq(shoal_dict_len(dict), 20000);
  char buf[32];
  SH_ASSERT_OK(get_str("k19999", buf, sizeof buf));
  cr_assert_str_eq(buf, "v19999");
  /* ... we grow it further, and a third process sees everything. */
  char k[32], v[32];
  for (int i = 20000; i < 30000; i++) {
    snprintf(k, sizeof k, "k%d", i);
    snprintf(v, sizeof v, "v%d", i);
    SH_ASSERT_OK(set_str(k, v));
  }
  p = shared_helper(&fd, "dict-check", name, "30000");
  sh_read_line(fd, line, sizeof line, 30000);
  cr_assert_str_eq(line, "ok");
  cr_assert_eq(sh_wait(p, 5000), 0);
  close(fd);
  shoal_dict_close(dict);
}

SH_TEST(dict_named, open_checks_the_type)
{
  const char *name = sh_name("dict-type");
  shoal_dict *d2;
  shoal_list *l;
  shoal_lock *lock;
  SH_ASSERT_OK(shoal_dict_open(&dict, name, NULL, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  SH_ASSERT_ERR(shoal_dict_open(&d2, name, NULL,
                                &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE | SHOAL_OPEN_EXCL}),
                SHOAL_EEXIST);
  SH_ASSERT_ERR(shoal_list_open(&l, name, NULL, NULL), SHOAL_ETYPE);
  SH_ASSERT_ERR(shoal_lock_open(&lock, name, NULL), SHOAL_ETYPE);
  SH_ASSERT_OK(set_str("a", "b"));
  SH_ASSERT_OK(shoal_dict_open(&d2, name, NULL, NULL));
  cr_assert_eq(shoal_dict_len(d2), 1);
  shoal_dict_close(d2);
  shoal_dict_close(dict);
  SH_ASSERT_OK(shoal_unlink(name));
  SH_ASSERT_ERR(shoal_dict_open(&d2, name, NULL, NULL), SHOAL_ENOENT);
  /* A foreign file is not a dict. */
  const char *foreign = sh_name("dict-foreign");
  char path[300];
  snprintf(path, sizeof path, "/dev/shm/%.250s", foreign);
  FILE *f = fopen(path, "w");
  cr_assert(f);
  for (int i = 0; i < 1000; i++)
    fputs("not a dict ", f);
  fclose(f);
  SH_ASSERT_ERR(shoal_dict_open(&d2, foreign, NULL, NULL), SHOAL_ECORRUPT);
}

/* ---- named: truncated and damaged files ----------------------------------- */

static void shm_path(char *path, size_t cap, const char *name)
{
  snprintf(path, cap, "/dev/shm/%.250s", name);
}

static off_t shm_size(const char *name)
{
  char path[300];
  struct stat st;
  shm_path(path, sizeof path, name);
  cr_assert(stat(path, &st) == 0);
  return st.st_size;
}

/* A stray truncate, a disk-full tool, a half-made copy. */
static void shm_truncate(const char *name, off_t len)
{
  char path[300];
  shm_path(path, sizeof path, name);
  cr_assert(truncate(path, len) == 0);
}

/* Overwrites the 64-bit field at offset `field` of the heap's control block. */
static void ctl_poke(const char *name, size_t field, uint64_t value)
{
  char path[300];
  shm_path(path, sizeof path, name);
  int fd = open(path, O_RDWR);
  cr_assert(fd >= 0);
  cr_assert(pwrite(fd, &value, sizeof value, (off_t)(SHOAL__REGION_HEADER_SIZE + field)) ==
            (ssize_t)sizeof value);
  close(fd);
}

/* Fills dict `d` with n keys "k<i>" of 1000-byte values. */
static void fill_big(shoal_dict *d, int n)
{
  static char v[1000];
  char k[32];
  for (int i = 0; i < n; i++) {
    snprintf(k, sizeof k, "k%d", i);
    SH_ASSERT_OK(shoal_dict_set(d, k, strlen(k), v, sizeof v));
  }
}

SH_TEST(dict_named, a_truncated_or_damaged_file_is_ecorrupt)
{
  const char *name = sh_name("dict-trunc");
  shoal_open_opts create = {.flags = SHOAL_OPEN_CREATE};
  SH_ASSERT_OK(shoal_dict_open(&dict, name, NULL, &create));
  fill_big(dict, 2000);
  shoal_dict_close(dict);
  cr_assert(shm_size(name) > 1024 * 1024);
  /* Cut to its first 64 KiB: the header is fine, the entries are gone. */
  shm_truncate(name, 64 * 1024);
  SH_ASSERT_ERR(shoal_dict_open(&dict, name, NULL, NULL), SHOAL_ECORRUPT);
  SH_ASSERT_ERR(shoal_dict_open(&dict, name, NULL, &create), SHOAL_ECORRUPT);

  /* A control block that contradicts itself. */
  const char *bad = sh_name("dict-ctl");
  SH_ASSERT_OK(shoal_dict_open(&dict, bad, NULL, &create));
  SH_ASSERT_OK(set_str("a", "b"));
  shoal_dict_close(dict);
  uint64_t size = (uint64_t)shm_size(bad);
  ctl_poke(bad, offsetof(struct shoal__heap_ctl, brk), size + 4096); /* blocks past the end */
  SH_ASSERT_ERR(shoal_dict_open(&dict, bad, NULL, NULL), SHOAL_ECORRUPT);
  ctl_poke(bad, offsetof(struct shoal__heap_ctl, brk), 512);
  ctl_poke(bad, offsetof(struct shoal__heap_ctl, size), (uint64_t)1 << 31); /* over max_size */
  SH_ASSERT_ERR(shoal_dict_open(&dict, bad, NULL, NULL), SHOAL_ECORRUPT);
  ctl_poke(bad, offsetof(struct shoal__heap_ctl, size), size * 4); /* over the file */
  SH_ASSERT_ERR(shoal_dict_open(&dict, bad, NULL, NULL), SHOAL_ECORRUPT);
  ctl_poke(bad, offsetof(struct shoal__heap_ctl, size), size);
  SH_ASSERT_OK(shoal_dict_open(&dict, bad, NULL, NULL)); /* whole again */
  shoal_dict_close(dict);
}

/* Truncated while open: a process cannot be protected from memory it already
 * uses vanishing (SIGBUS, as for any mapped file), but when the dict grew
 * elsewhere, the first call that sees the new size checks the file first. */
SH_TEST(dict_named, truncated_after_open_is_seen_with_the_growth)
{
  const char *name = sh_name("dict-shrunk");
  shoal_dict *other;
  char buf[8];
  SH_ASSERT_OK(shoal_dict_open(&dict, name, NULL, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  SH_ASSERT_OK(set_str("first", "1"));
  SH_ASSERT_OK(shoal_dict_open(&other, name, NULL, NULL));
  fill_big(other, 2000);
  shm_truncate(name, 64 * 1024);
  size_t len = sizeof buf;
  SH_ASSERT_ERR(shoal_dict_get(dict, "k1999", 5, buf, &len), SHOAL_ECORRUPT);
  SH_ASSERT_ERR(shoal_dict_contains(dict, "first", 5), SHOAL_ECORRUPT);
  SH_ASSERT_ERR(set_str("second", "2"), SHOAL_ECORRUPT);
  shoal_dict_iter it = SHOAL_DICT_ITER_INIT;
  len = sizeof buf;
  SH_ASSERT_ERR(shoal_dict_next(dict, &it, buf, &len, NULL, NULL), SHOAL_ECORRUPT);
  shoal_dict_close(other);
  shoal_dict_close(dict);
}
