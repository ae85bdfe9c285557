// SPDX-License-Identifier: MIT
// Regions and names: what opening a foreign, truncated, wrong-type or
// wrong-version object returns; modes; racing creators; shoal_unlink.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static const shoal_open_opts create = {.flags = SHOAL_OPEN_CREATE};

static void shm_path(char *buf, size_t len, const char *name)
{
  snprintf(buf, len, "/dev/shm/%s", name);
}

static void write_file(const char *name, const void *data, size_t len)
{
  char path[256];
  shm_path(path, sizeof path, name);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  cr_assert(fd >= 0);
  cr_assert(write(fd, data, len) == (ssize_t)len);
  close(fd);
}

SH_TEST(region, foreign_file_is_refused)
{
  const char *name = sh_name("foreign");
  char junk[4096];
  memset(junk, 'J', sizeof junk);
  write_file(name, junk, sizeof junk);
  shoal_lock *l;
  SH_ASSERT_ERR(shoal_lock_open(&l, name, NULL), SHOAL_ECORRUPT);
  SH_ASSERT_ERR(shoal_lock_open(&l, name, &create), SHOAL_ECORRUPT);
  SH_ASSERT_ERR(shoal_unlink(name), SHOAL_ECORRUPT);
  char path[256];
  shm_path(path, sizeof path, name);
  cr_assert(access(path, F_OK) == 0, "shoal_unlink removed a foreign file");
  unlink(path);
}

SH_TEST(region, empty_and_truncated_files_are_refused)
{
  const char *name = sh_name("short");
  shoal_event *e;
  write_file(name, "", 0);
  SH_ASSERT_ERR(shoal_event_open(&e, name, NULL), SHOAL_ECORRUPT);
  /* A real object cut short: the header says more than the file holds. */
  const char *real = sh_name("real");
  SH_ASSERT_OK(shoal_event_open(&e, real, &create));
  shoal_event_close(e);
  char path[256];
  shm_path(path, sizeof path, real);
  cr_assert(truncate(path, 100) == 0);
  SH_ASSERT_ERR(shoal_event_open(&e, real, NULL), SHOAL_ECORRUPT);
  cr_assert(truncate(path, 16) == 0);
  SH_ASSERT_ERR(shoal_event_open(&e, real, NULL), SHOAL_ECORRUPT);
}

SH_TEST(region, wrong_type_and_version)
{
  const char *name = sh_name("typed");
  shoal_semaphore *s;
  shoal_barrier *b;
  shoal_condition *c;
  SH_ASSERT_OK(shoal_semaphore_open(&s, name, 3, &create));
  SH_ASSERT_ERR(shoal_barrier_open(&b, name, 2, NULL, NULL), SHOAL_ETYPE);
  SH_ASSERT_ERR(shoal_condition_open(&c, name, NULL, NULL, &create), SHOAL_ETYPE);
  shoal_semaphore_close(s);
  /* Bump the layout version in the header (offset 8). */
  char path[256];
  shm_path(path, sizeof path, name);
  int fd = open(path, O_RDWR);
  uint32_t v = 99;
  cr_assert(pwrite(fd, &v, sizeof v, 8) == sizeof v);
  close(fd);
  SH_ASSERT_ERR(shoal_semaphore_open(&s, name, 3, NULL), SHOAL_EVERSION);
}

SH_TEST(region, default_mode_is_0600_and_mode_is_honoured)
{
  struct stat st;
  char path[256];
  shoal_lock *l;
  const char *a = sh_name("mode");
  SH_ASSERT_OK(shoal_lock_open(&l, a, &create));
  shoal_lock_close(l);
  shm_path(path, sizeof path, a);
  cr_assert(stat(path, &st) == 0);
  cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
  const char *b = sh_name("mode");
  SH_ASSERT_OK(shoal_lock_open(&l, b, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE, .mode = 0640}));
  shoal_lock_close(l);
  shm_path(path, sizeof path, b);
  cr_assert(stat(path, &st) == 0);
  cr_assert_eq(st.st_mode & 07777, 0640, "mode %o", st.st_mode & 07777);
  SH_ASSERT_ERR(shoal_lock_open(&l, b, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE, .mode = 010000}),
                SHOAL_EINVAL);
}

static const char *race_name;

static int open_or_create(void *arg)
{
  (void)arg;
  shoal_semaphore *s;
  if (shoal_semaphore_open(&s, race_name, 0, &create) != 0)
    return 1;
  int rc = shoal_semaphore_release(s, 1);
  shoal_semaphore_close(s);
  return rc == 0 ? 0 : 2;
}

SH_TEST(region, racing_creators_share_one_object)
{
  race_name = sh_name("race");
  pid_t p[8];
  for (int i = 0; i < 8; i++)
    p[i] = sh_fork(open_or_create, NULL);
  for (int i = 0; i < 8; i++)
    cr_assert_eq(sh_wait(p[i], 10000), 0);
  shoal_semaphore *s;
  SH_ASSERT_OK(shoal_semaphore_open(&s, race_name, 0, NULL));
  SH_ASSERT_RC(shoal_semaphore_value(s), 8);
  shoal_semaphore_close(s);
}

SH_TEST(region, unlink_keeps_open_handles_working)
{
  const char *name = sh_name("unlinked");
  shoal_event *e, *e2;
  SH_ASSERT_OK(shoal_event_open(&e, name, &create));
  SH_ASSERT_OK(shoal_unlink(name));
  SH_ASSERT_ERR(shoal_unlink(name), SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal_event_open(&e2, name, NULL), SHOAL_ENOENT);
  SH_ASSERT_OK(shoal_event_set(e));
  SH_ASSERT_RC(shoal_event_is_set(e), 1);
  /* A new object under the same name is a different object. */
  SH_ASSERT_OK(shoal_event_open(&e2, name, &create));
  SH_ASSERT_RC(shoal_event_is_set(e2), 0);
  shoal_event_close(e2);
  shoal_event_close(e);
  SH_ASSERT_ERR(shoal_unlink(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_unlink("a/b"), SHOAL_EINVAL);
}
