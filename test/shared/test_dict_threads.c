// SPDX-License-Identifier: MIT
// The shared dict and list between threads of one process: writers and
// lock-free readers at once, every value read is whole.  (Also run under
// ThreadSanitizer.)
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define WRITERS 2
#define READERS 3
#define OPS 20000
#define KEYS 64

static shoal_dict *dict;
static shoal_list *list;
static int stop;
static int readers_ready; /* readers that have read once: writers wait for all */

/* value = 4-byte tag repeated (tag = key * 1000003 + version) */
static size_t make_value(unsigned char *buf, uint32_t key, uint32_t version)
{
  uint32_t tag = key * 1000003u + version;
  size_t words = 1 + version % 16;
  for (size_t i = 0; i < words; i++)
    memcpy(buf + 4 * i, &tag, 4);
  return words * 4;
}

static bool value_ok(const unsigned char *buf, size_t len, uint32_t key)
{
  uint32_t tag;
  if (len < 4 || len % 4)
    return false;
  memcpy(&tag, buf, 4);
  uint32_t version = tag - key * 1000003u;
  unsigned char want[64];
  return make_value(want, key, version) == len && memcmp(want, buf, len) == 0;
}

static void *writer(void *arg)
{
  uint32_t id = (uint32_t)(intptr_t)arg;
  unsigned char val[64];
  /* Every reader reads while writers write, however the threads are
   * scheduled on a loaded machine. */
  while (__atomic_load_n(&readers_ready, __ATOMIC_ACQUIRE) < READERS)
    sched_yield();
  for (uint32_t n = 1; n <= OPS; n++) {
    uint32_t key = (n * 7 + id * 13) % KEYS;
    char k[16];
    int kl = snprintf(k, sizeof k, "k%u", key);
    if (n % 5 == 0) {
      int rc = shoal_dict_delete(dict, k, (size_t)kl);
      if (rc != 0 && rc != SHOAL_ENOENT)
        return (void *)1;
    } else if (shoal_dict_set(dict, k, (size_t)kl, val, make_value(val, key, n * 2 + id)) != 0) {
      return (void *)2;
    }
  }
  return NULL;
}

static void *reader(void *arg)
{
  long *reads = arg;
  unsigned char buf[64];
  uint32_t key = 0;
  while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
    char k[16];
    int kl = snprintf(k, sizeof k, "k%u", key);
    size_t len = sizeof buf;
    int rc = shoal_dict_get(dict, k, (size_t)kl, buf, &len);
    if (rc == 0 ? !value_ok(buf, len, key) : rc != SHOAL_ENOENT)
      return (void *)3;
    key = (key + 1) % KEYS;
    if ((*reads)++ == 0)
      __atomic_add_fetch(&readers_ready, 1, __ATOMIC_RELEASE);
  }
  return NULL;
}

SH_TEST(dict_threads, writers_and_lock_free_readers)
{
  pthread_t w[WRITERS], r[READERS];
  long reads[READERS] = {0};
  void *rv;
  SH_ASSERT_OK(shoal_dict_create(&dict, NULL));
  for (int i = 0; i < READERS; i++)
    pthread_create(&r[i], NULL, reader, &reads[i]);
  for (int i = 0; i < WRITERS; i++)
    pthread_create(&w[i], NULL, writer, (void *)(intptr_t)i);
  for (int i = 0; i < WRITERS; i++) {
    pthread_join(w[i], &rv);
    cr_assert(rv == NULL, "writer %d failed (%ld)", i, (long)(intptr_t)rv);
  }
  __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
  for (int i = 0; i < READERS; i++) {
    pthread_join(r[i], &rv);
    cr_assert(rv == NULL, "reader %d saw a torn value", i);
    cr_assert(reads[i] > 0);
  }
  /* Everything left is whole, and len agrees with an iteration. */
  shoal_dict_iter it = SHOAL_DICT_ITER_INIT;
  size_t n = 0;
  for (;;) {
    char k[16];
    unsigned char buf[64];
    size_t kl = sizeof k - 1, len = sizeof buf;
    int rc = shoal_dict_next(dict, &it, k, &kl, buf, &len);
    if (rc == 0)
      break;
    SH_ASSERT_RC(rc, 1);
    k[kl] = '\0';
    cr_assert(value_ok(buf, len, (uint32_t)atoi(k + 1)));
    n++;
  }
  cr_assert_eq(shoal_dict_len(dict), n);
  shoal_dict_destroy(dict);
}

/* List: appenders and poppers; every item read is whole. */

static void *appender(void *arg)
{
  uint32_t id = (uint32_t)(intptr_t)arg;
  unsigned char val[64];
  for (uint32_t n = 1; n <= OPS / 2; n++) {
    if (shoal_list_append(list, val, make_value(val, id, n)) != 0)
      return (void *)1;
    if (n % 3 == 0) {
      size_t len = sizeof val;
      int rc = shoal_list_pop(list, val, &len);
      if (rc != 0 && rc != SHOAL_ERANGE)
        return (void *)2;
    }
  }
  return NULL;
}

static void *list_reader(void *arg)
{
  (void)arg;
  unsigned char buf[64];
  size_t i = 0;
  while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
    size_t len = sizeof buf;
    int rc = shoal_list_get(list, i, buf, &len);
    if (rc == 0) {
      /* the appender id is 0 or 1: one of them must explain the bytes */
      if (!value_ok(buf, len, 0) && !value_ok(buf, len, 1))
        return (void *)3;
      i++;
    } else if (rc == SHOAL_ERANGE) {
      i = 0;
    } else {
      return (void *)4;
    }
  }
  return NULL;
}

SH_TEST(list_threads, appenders_poppers_and_readers)
{
  pthread_t w[2], r[2];
  void *rv;
  SH_ASSERT_OK(shoal_list_create(&list, NULL));
  __atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
  for (int i = 0; i < 2; i++)
    pthread_create(&r[i], NULL, list_reader, NULL);
  for (int i = 0; i < 2; i++)
    pthread_create(&w[i], NULL, appender, (void *)(intptr_t)i);
  for (int i = 0; i < 2; i++) {
    pthread_join(w[i], &rv);
    cr_assert(rv == NULL, "appender %d failed (%ld)", i, (long)(intptr_t)rv);
  }
  __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
  for (int i = 0; i < 2; i++) {
    pthread_join(r[i], &rv);
    cr_assert(rv == NULL, "list reader %d failed (%ld)", i, (long)(intptr_t)rv);
  }
  /* 2 x OPS/2 appends, 2 x OPS/6 pops (never on an empty list: each follows
   * its own appends). */
  cr_assert_eq(shoal_list_len(list), (size_t)(2 * (OPS / 2 - OPS / 2 / 3)));
  shoal_list_destroy(list);
}
