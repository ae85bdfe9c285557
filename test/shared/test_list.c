// SPDX-License-Identifier: MIT
// The shared list: Manager().list() behaviours (append, insert, get, set,
// delete, pop, len, clear), bounds, growth across processes, the memory
// bound, 4 processes x 100,000 mixed operations checked against a model,
// killed writers, named lists, truncated files, bad input.
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper_spawn.h"
#include "support.h"

static shoal_list *list;

static int append_str(const char *s)
{
  return shoal_list_append(list, s, strlen(s));
}

static int get_str(size_t i, char *buf, size_t cap)
{
  size_t len = cap - 1;
  int rc = shoal_list_get(list, i, buf, &len);
  buf[rc == 0 ? len : 0] = '\0';
  return rc;
}

/* Checks the list holds exactly the strings in want. */
static void expect(const char *const *want, size_t n)
{
  char buf[64];
  cr_assert_eq(shoal_list_len(list), n);
  for (size_t i = 0; i < n; i++) {
    SH_ASSERT_OK(get_str(i, buf, sizeof buf));
    cr_assert_str_eq(buf, want[i], "item %zu", i);
  }
  SH_ASSERT_ERR(get_str(n, buf, sizeof buf), SHOAL_ERANGE);
}

SH_TEST(list, append_insert_set_delete_pop)
{
  char buf[64];
  size_t len;
  SH_ASSERT_OK(shoal_list_create(&list, NULL));
  expect(NULL, 0);
  SH_ASSERT_OK(append_str("b"));
  SH_ASSERT_OK(append_str("d"));
  SH_ASSERT_OK(shoal_list_insert(list, 0, "a", 1));
  SH_ASSERT_OK(shoal_list_insert(list, 2, "c", 1));
  SH_ASSERT_OK(shoal_list_insert(list, 99, "e", 1)); /* past the end appends */
  expect((const char *[]){"a", "b", "c", "d", "e"}, 5);
  SH_ASSERT_OK(shoal_list_set(list, 1, "B!", 2));
  SH_ASSERT_ERR(shoal_list_set(list, 5, "x", 1), SHOAL_ERANGE);
  SH_ASSERT_OK(shoal_list_delete(list, 2));
  SH_ASSERT_ERR(shoal_list_delete(list, 4), SHOAL_ERANGE);
  expect((const char *[]){"a", "B!", "d", "e"}, 4);
  len = sizeof buf;
  SH_ASSERT_OK(shoal_list_pop(list, buf, &len));
  cr_assert(len == 1 && buf[0] == 'e');
  SH_ASSERT_OK(shoal_list_delete(list, 0));
  expect((const char *[]){"B!", "d"}, 2);
  SH_ASSERT_OK(shoal_list_clear(list));
  expect(NULL, 0);
  len = sizeof buf;
  SH_ASSERT_ERR(shoal_list_pop(list, buf, &len), SHOAL_ERANGE); /* pop from empty list */
  SH_ASSERT_OK(shoal_list_append(list, NULL, 0));               /* b"" */
  len = 0;
  SH_ASSERT_OK(shoal_list_get(list, 0, NULL, &len));
  cr_assert_eq(len, 0);
  shoal_list_destroy(list);
}

SH_TEST(list, small_buffers_tell_the_size)
{
  char buf[4];
  size_t len = sizeof buf;
  SH_ASSERT_OK(shoal_list_create(&list, NULL));
  SH_ASSERT_OK(append_str("twelve bytes"));
  SH_ASSERT_ERR(shoal_list_get(list, 0, buf, &len), SHOAL_EMSGSIZE);
  cr_assert_eq(len, 12);
  len = sizeof buf;
  SH_ASSERT_ERR(shoal_list_pop(list, buf, &len), SHOAL_EMSGSIZE);
  cr_assert_eq(len, 12);
  cr_assert_eq(shoal_list_len(list), 1); /* nothing popped */
  shoal_list_destroy(list);
}

SH_TEST(list, many_items_grow_it)
{
  char item[32], buf[32];
  SH_ASSERT_OK(shoal_list_create(&list, NULL));
  for (int i = 0; i < 50000; i++) {
    snprintf(item, sizeof item, "item%d", i);
    SH_ASSERT_OK(append_str(item));
  }
  cr_assert_eq(shoal_list_len(list), 50000);
  for (int i = 0; i < 50000; i += 997) {
    snprintf(item, sizeof item, "item%d", i);
    SH_ASSERT_OK(get_str((size_t)i, buf, sizeof buf));
    cr_assert_str_eq(buf, item);
  }
  /* Insert and delete in the middle keep the order. */
  SH_ASSERT_OK(shoal_list_insert(list, 25000, "middle", 6));
  SH_ASSERT_OK(get_str(25000, buf, sizeof buf));
  cr_assert_str_eq(buf, "middle");
  SH_ASSERT_OK(get_str(25001, buf, sizeof buf));
  cr_assert_str_eq(buf, "item25000");
  SH_ASSERT_OK(shoal_list_delete(list, 25000));
  SH_ASSERT_OK(get_str(25000, buf, sizeof buf));
  cr_assert_str_eq(buf, "item25000");
  shoal_list_destroy(list);
}

SH_TEST(list, full_is_enomem)
{
  char item[500];
  memset(item, 'i', sizeof item);
  SH_ASSERT_OK(shoal_list_create(&list, &(shoal_container_opts){.max_size = 64 * 1024}));
  int n = 0, rc;
  while ((rc = shoal_list_append(list, item, sizeof item)) == 0)
    n++;
  SH_ASSERT_ERR(rc, SHOAL_ENOMEM);
  cr_assert(n > 20);
  cr_assert_eq(shoal_list_len(list), (size_t)n);
  size_t len = sizeof item;
  SH_ASSERT_OK(shoal_list_pop(list, item, &len));
  SH_ASSERT_OK(shoal_list_append(list, item, sizeof item));
  static char huge[128 * 1024];
  SH_ASSERT_ERR(shoal_list_append(list, huge, sizeof huge), SHOAL_E2BIG);
  shoal_list_destroy(list);
}

/* Item i of the shrink test: its number, then filler up to len bytes. */
static size_t numbered(char *buf, size_t len, int i)
{
  memset(buf, 'f', len);
  if (len >= sizeof i)
    memcpy(buf, &i, sizeof i);
  return len;
}

static int number_at(size_t index, size_t len)
{
  char buf[600];
  int i = -1;
  size_t n = sizeof buf;
  SH_ASSERT_OK(shoal_list_get(list, index, buf, &n));
  cr_assert_eq(n, len);
  if (len >= sizeof i)
    memcpy(&i, buf, sizeof i);
  return i;
}

/* A list filled to its bound can always be shrunk: delete anywhere and pop
 * need no memory (del l[0] on a full list used to be ENOMEM). */
SH_TEST(list, a_full_list_can_always_shrink)
{
  const size_t sizes[] = {0, 8, 100, 500};
  char item[600];
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t len = sizes[s];
    SH_ASSERT_OK(shoal_list_create(&list, &(shoal_container_opts){.max_size = 64 * 1024}));
    int n = 0, rc;
    while ((rc = shoal_list_append(list, item, numbered(item, len, n))) == 0)
      n++;
    SH_ASSERT_ERR(rc, SHOAL_ENOMEM);
    cr_assert(n > 20, "only %d items of %zu bytes", n, len);
    /* Full, also for an insert in the middle: nothing changed. */
    rc = shoal_list_insert(list, 1, item, numbered(item, len, -1));
    cr_assert(rc == 0 || rc == SHOAL_ENOMEM, "insert: %s", shoal_err_name(rc));
    if (rc == 0)
      SH_ASSERT_OK(shoal_list_delete(list, 1));
    cr_assert_eq(shoal_list_len(list), (size_t)n);
    SH_ASSERT_OK(shoal_list_delete(list, 0));
    SH_ASSERT_OK(shoal_list_delete(list, 5));
    SH_ASSERT_OK(shoal_list_delete(list, (size_t)n / 2));
    size_t got = sizeof item;
    SH_ASSERT_OK(shoal_list_pop(list, item, &got));
    SH_ASSERT_OK(shoal_list_delete(list, 0));
    /* Then empty it from the front, checking the order on the way. */
    size_t left = shoal_list_len(list);
    cr_assert_eq(left, (size_t)n - 5);
    int last = -1;
    while (left > 0) {
      if (len >= sizeof(int)) {
        int i = number_at(0, len);
        cr_assert(i > last && i < n - 1, "item %d after %d", i, last);
        last = i;
      }
      SH_ASSERT_OK(shoal_list_delete(list, 0));
      cr_assert_eq(shoal_list_len(list), --left);
    }
    /* The room came back. */
    SH_ASSERT_OK(shoal_list_append(list, item, len));
    shoal_list_destroy(list);
  }
}

/* Blocks are powers of two: an item over about half of max_size can never be
 * placed, even in an empty list; that is E2BIG, not ENOMEM. */
SH_TEST(list, an_item_over_half_the_bound_is_e2big)
{
  static char item[70000];
  SH_ASSERT_OK(shoal_list_create(&list, &(shoal_container_opts){.max_size = 64 * 1024}));
  const size_t never[] = {33 * 1024, 40000, 63000, 64 * 1024, 70000};
  for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
    SH_ASSERT_ERR(shoal_list_append(list, item, never[i]), SHOAL_E2BIG);
  cr_assert_eq(shoal_list_len(list), 0);
  SH_ASSERT_OK(shoal_list_append(list, item, 30000));
  SH_ASSERT_ERR(shoal_list_set(list, 0, item, 40000), SHOAL_E2BIG);
  SH_ASSERT_ERR(shoal_list_insert(list, 0, item, 40000), SHOAL_E2BIG);
  cr_assert_eq(shoal_list_len(list), 1);
  shoal_list_destroy(list);
}

SH_TEST(list, bad_input)
{
  size_t len = 4;
  char buf[4];
  SH_ASSERT_ERR(shoal_list_create(NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_list_create(&list, &(shoal_container_opts){.max_size = 1}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_list_open(&list, NULL, NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_list_append(NULL, "x", 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_list_insert(NULL, 0, "x", 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_list_get(NULL, 0, buf, &len), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_list_set(NULL, 0, "x", 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_list_delete(NULL, 0), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_list_pop(NULL, buf, &len), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_list_clear(NULL), SHOAL_EINVAL);
  cr_assert_eq(shoal_list_len(NULL), 0);
  SH_ASSERT_OK(shoal_list_create(&list, NULL));
  SH_ASSERT_ERR(shoal_list_append(list, NULL, 1), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_list_get(list, 0, buf, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_list_get(list, 0, NULL, &len), SHOAL_EINVAL);
  shoal_list_destroy(list);
  shoal_list_destroy(NULL);
  shoal_list_close(NULL);
}

/* ---- 4 processes x 100,000 mixed operations, checked against a model ------ */

#define PROCS 4
#define OPS 100000

/* Item = proc (1 byte), serial number (4 bytes), then a pattern of both. */
static size_t make_item(unsigned char *buf, int proc, uint32_t serial)
{
  size_t len = 5 + serial % 40;
  buf[0] = (unsigned char)proc;
  memcpy(buf + 1, &serial, 4);
  for (size_t i = 5; i < len; i++)
    buf[i] = (unsigned char)(serial * 3 + i + (unsigned)proc);
  return len;
}

static bool item_ok(const unsigned char *buf, size_t len, int *proc, uint32_t *serial)
{
  unsigned char want[64];
  if (len < 5 || buf[0] >= PROCS)
    return false;
  *proc = buf[0];
  memcpy(serial, buf + 1, 4);
  return make_item(want, *proc, *serial) == len && memcmp(want, buf, len) == 0;
}

/* removed[p][s]: item s of process p was popped or deleted (by anyone). */
static unsigned char (*removed)[OPS];
static uint32_t *appended; /* per process: how many items it appended */

static uint64_t rng_next(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static int remove_item(const unsigned char *buf, size_t len)
{
  int p;
  uint32_t serial;
  if (!item_ok(buf, len, &p, &serial) || serial >= OPS ||
      __atomic_exchange_n(&removed[p][serial], 1, __ATOMIC_RELAXED))
    return 1; /* torn, or removed twice */
  return 0;
}

static int list_worker(void *arg)
{
  int proc = (int)(intptr_t)arg;
  uint64_t s = 0x2545f4914f6cdd1du * (uint64_t)(proc + 1);
  unsigned char buf[64];
  uint32_t serial = 0;
  for (int n = 0; n < OPS; n++) {
    uint64_t r = rng_next(&s);
    int op = (int)(r % 100);
    size_t len = sizeof buf;
    int rc;
    if (op < 40) { /* append */
      if (shoal_list_append(list, buf, make_item(buf, proc, serial)) != 0)
        return 10;
      serial++;
      __atomic_store_n(&appended[proc], serial, __ATOMIC_RELAXED);
    } else if (op < 65) { /* pop */
      rc = shoal_list_pop(list, buf, &len);
      if (rc == 0 ? remove_item(buf, len) : rc != SHOAL_ERANGE)
        return 11;
    } else { /* get anywhere: whatever is there is whole */
      size_t l = shoal_list_len(list);
      if (l == 0)
        continue;
      rc = shoal_list_get(list, (size_t)(r >> 32) % l, buf, &len);
      int p;
      uint32_t ser;
      if (rc == 0 ? !item_ok(buf, len, &p, &ser) : rc != SHOAL_ERANGE)
        return 13;
    }
  }
  return 0;
}

SH_TEST(list_fork, four_processes_mixed_operations_match_the_model)
{
  pid_t pids[PROCS];
  removed = mmap(NULL, sizeof(*removed) * PROCS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
  appended = mmap(NULL, sizeof(uint32_t) * PROCS, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert(removed != MAP_FAILED && appended != MAP_FAILED);
  SH_ASSERT_OK(shoal_list_create(&list, NULL));
  for (int p = 0; p < PROCS; p++)
    pids[p] = sh_fork(list_worker, (void *)(intptr_t)p);
  for (int p = 0; p < PROCS; p++)
    cr_assert_eq(sh_wait(pids[p], 50000), 0, "worker %d failed", p);
  /* Every item appended and not removed is in the list exactly once, and
   * each process's items are still in the order it appended them. */
  static unsigned char present[PROCS][OPS];
  int64_t last[PROCS] = {-1, -1, -1, -1};
  size_t n = shoal_list_len(list), want = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char buf[64];
    size_t len = sizeof buf;
    int p;
    uint32_t serial;
    SH_ASSERT_OK(shoal_list_get(list, i, buf, &len));
    cr_assert(item_ok(buf, len, &p, &serial), "item %zu torn", i);
    cr_assert(serial < appended[p] && !removed[p][serial] && !present[p][serial],
              "item %d/%u should not be there", p, serial);
    cr_assert((int64_t)serial > last[p], "process %d's items out of order", p);
    last[p] = serial;
    present[p][serial] = 1;
  }
  for (int p = 0; p < PROCS; p++)
    for (uint32_t s = 0; s < appended[p]; s++) {
      cr_assert(present[p][s] != removed[p][s], "item %d/%u lost", p, s);
      want += !removed[p][s];
    }
  cr_assert_eq(n, want);
  shoal_list_destroy(list);
}

/* ---- killed writers -------------------------------------------------------- */

static int endless_list_writer(void *arg)
{
  (void)arg;
  unsigned char buf[64];
  uint64_t s = (uint64_t)getpid() * 2654435761u + 7;
  for (uint32_t serial = 0; serial < UINT32_MAX; serial++) { /* until killed */
    uint64_t r = rng_next(&s);
    size_t len = sizeof buf;
    size_t l = shoal_list_len(list);
    switch (r % 4) {
    case 0:
      shoal_list_append(list, buf, make_item(buf, 0, serial));
      break;
    case 1:
      shoal_list_insert(list, l ? (size_t)(r >> 32) % l : 0, buf, make_item(buf, 0, serial));
      break;
    case 2:
      shoal_list_pop(list, buf, &len);
      break;
    default:
      if (l)
        shoal_list_delete(list, (size_t)(r >> 32) % l);
    }
  }
  return 0;
}

SH_TEST(list_fork, writers_killed_at_random_leave_a_whole_list)
{
  uint64_t s = 777;
  SH_ASSERT_OK(shoal_list_create(&list, NULL));
  for (int round = 0; round < 12; round++) {
    pid_t p = sh_fork(endless_list_writer, NULL);
    sh_sleep_ms(5 + (int)(rng_next(&s) % 40));
    kill(p, SIGKILL);
    cr_assert_eq(sh_wait(p, 5000), 128 + SIGKILL);
    SH_ASSERT_OK(shoal_list_append(list, "x", 1)); /* repairs if needed */
    size_t len = 1;
    char x;
    SH_ASSERT_OK(shoal_list_pop(list, &x, &len));
    size_t n = shoal_list_len(list);
    for (size_t i = 0; i < n; i++) {
      unsigned char buf[64];
      int pr;
      uint32_t serial;
      len = sizeof buf;
      SH_ASSERT_OK(shoal_list_get(list, i, buf, &len));
      cr_assert(item_ok(buf, len, &pr, &serial), "item %zu torn after round %d", i, round);
    }
  }
  shoal_list_destroy(list);
}

/* ---- named ------------------------------------------------------------------ */

SH_TEST(list_named, unrelated_process_appends)
{
  const char *name = sh_name("list");
  char line[32], buf[32];
  int fd;
  SH_ASSERT_OK(shoal_list_open(&list, name, NULL, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  SH_ASSERT_OK(append_str("first"));
  pid_t p = shared_helper(&fd, "list-fill", name, "5000");
  sh_read_line(fd, line, sizeof line, 20000);
  cr_assert_str_eq(line, "done");
  cr_assert_eq(sh_wait(p, 5000), 0);
  close(fd);
  cr_assert_eq(shoal_list_len(list), 5001);
  SH_ASSERT_OK(get_str(0, buf, sizeof buf));
  cr_assert_str_eq(buf, "first");
  SH_ASSERT_OK(get_str(5000, buf, sizeof buf));
  cr_assert_str_eq(buf, "item4999");
  shoal_dict *d;
  SH_ASSERT_ERR(shoal_dict_open(&d, name, NULL, NULL), SHOAL_ETYPE);
  shoal_list_close(list);
}

SH_TEST(list_named, a_truncated_file_is_ecorrupt)
{
  const char *name = sh_name("list-trunc");
  static char item[2000];
  char path[300];
  struct stat st;
  shoal_open_opts create = {.flags = SHOAL_OPEN_CREATE};
  SH_ASSERT_OK(shoal_list_open(&list, name, NULL, &create));
  for (int i = 0; i < 500; i++)
    SH_ASSERT_OK(shoal_list_append(list, item, sizeof item));
  shoal_list_close(list);
  snprintf(path, sizeof path, "/dev/shm/%.250s", name);
  cr_assert(stat(path, &st) == 0 && st.st_size > 512 * 1024);
  cr_assert(truncate(path, 64 * 1024) == 0);
  SH_ASSERT_ERR(shoal_list_open(&list, name, NULL, NULL), SHOAL_ECORRUPT);
  SH_ASSERT_ERR(shoal_list_open(&list, name, NULL, &create), SHOAL_ECORRUPT);
}

/* Truncated while open: see dict_named/truncated_after_open_is_seen_with_the_growth. */
SH_TEST(list_named, truncated_after_open_is_seen_with_the_growth)
{
  const char *name = sh_name("list-shrunk");
  static char item[2000];
  char path[300];
  shoal_list *other;
  SH_ASSERT_OK(shoal_list_open(&list, name, NULL, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  SH_ASSERT_OK(append_str("first"));
  SH_ASSERT_OK(shoal_list_open(&other, name, NULL, NULL));
  for (int i = 0; i < 500; i++)
    SH_ASSERT_OK(shoal_list_append(other, item, sizeof item));
  snprintf(path, sizeof path, "/dev/shm/%.250s", name);
  cr_assert(truncate(path, 64 * 1024) == 0);
  size_t len = sizeof item;
  SH_ASSERT_ERR(shoal_list_get(list, 500, item, &len), SHOAL_ECORRUPT);
  SH_ASSERT_ERR(append_str("second"), SHOAL_ECORRUPT);
  shoal_list_close(other);
  shoal_list_close(list);
}
