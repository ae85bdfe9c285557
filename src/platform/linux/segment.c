// SPDX-License-Identifier: MIT
// Raw segments (Python-compatible shm objects with no header), small files
// published atomically, and scanning the shm directory.  Everything lives in
// /dev/shm, where glibc's shm_open and Python's SharedMemory put objects.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/platform.h"
#include "shoal/common.h"

#define SHM_DIR "/dev/shm"

static int err_from_errno(int e)
{
  return e ? -e : SHOAL_EIO;
}

static void path_of(char *path, size_t cap, const char *name)
{
  snprintf(path, cap, SHM_DIR "/%s", name);
}

void shoal__plat_tmp_prefix(uint32_t pid, char *buf, size_t cap)
{
  /* The same form shoal__plat_shm_create uses for its private names. */
  snprintf(buf, cap, ".shoal-new-%u-", pid);
}

int shoal__plat_seg_prepare(size_t size, unsigned mode, struct shoal__plat_seg *s)
{
  struct stat st;
  int rc;
  /* An unnamed file in the shm directory: it has no name to leak if we die
   * before publishing it. */
  int fd = open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    return err_from_errno(errno);
  if (fchmod(fd, mode) != 0 || ftruncate(fd, (off_t)size) != 0 || fstat(fd, &st) != 0) {
    rc = errno == ENOSPC || errno == EFBIG ? SHOAL_ENOMEM : err_from_errno(errno);
    close(fd);
    return rc;
  }
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    close(fd);
    return SHOAL_ENOMEM;
  }
  s->addr = p;
  s->size = size;
  s->id = (uint64_t)st.st_ino;
  s->fd = fd;
  return 0;
}

int shoal__plat_seg_publish(struct shoal__plat_seg *s, const char *name)
{
  char from[64], path[300];
  snprintf(from, sizeof from, "/proc/self/fd/%d", s->fd);
  path_of(path, sizeof path, name);
  /* linkat of an O_TMPFILE through /proc names it atomically, and fails with
   * EEXIST when the name is taken (O_EXCL semantics), without privileges. */
  if (linkat(AT_FDCWD, from, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0)
    return err_from_errno(errno);
  close(s->fd);
  s->fd = -1;
  return 0;
}

void shoal__plat_seg_release(struct shoal__plat_seg *s)
{
  if (s->addr)
    munmap(s->addr, s->size);
  if (s->fd >= 0)
    close(s->fd);
  s->addr = NULL;
  s->fd = -1;
}

int shoal__plat_seg_attach(const char *name, struct shoal__plat_seg *s)
{
  char path[300];
  struct stat st;
  path_of(path, sizeof path, name);
  int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return errno == ELOOP || errno == EISDIR ? SHOAL_ECORRUPT : err_from_errno(errno);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
    close(fd);
    return SHOAL_ECORRUPT;
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED)
    return SHOAL_ENOMEM;
  s->addr = p;
  s->size = (size_t)st.st_size;
  s->id = (uint64_t)st.st_ino;
  s->fd = -1;
  return 0;
}

int shoal__plat_seg_stat(const char *name, uint64_t *id, uint64_t *size)
{
  char path[300];
  struct stat st;
  path_of(path, sizeof path, name);
  if (lstat(path, &st) != 0)
    return err_from_errno(errno);
  *id = (uint64_t)st.st_ino;
  *size = (uint64_t)st.st_size;
  return 0;
}

int shoal__plat_shm_put_file(const char *name, const void *data, size_t len)
{
  static _Atomic unsigned counter;
  char tmp[128], prefix[48], path[300];
  int rc = 0;
  shoal__plat_tmp_prefix((uint32_t)getpid(), prefix, sizeof prefix);
  snprintf(tmp, sizeof tmp, SHM_DIR "/%sf%u", prefix, atomic_fetch_add(&counter, 1));
  path_of(path, sizeof path, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return err_from_errno(errno);
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      rc = n < 0 ? err_from_errno(errno) : SHOAL_EIO;
      break;
    }
    p += n;
    len -= (size_t)n;
  }
  close(fd);
  if (rc == 0 && rename(tmp, path) != 0)
    rc = err_from_errno(errno);
  if (rc)
    unlink(tmp);
  return rc;
}

int shoal__plat_shm_get_file(const char *name, void *buf, size_t cap, size_t *len)
{
  char path[300];
  path_of(path, sizeof path, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return err_from_errno(errno);
  size_t got = 0;
  while (got < cap) {
    ssize_t n = read(fd, (char *)buf + got, cap - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  *len = got;
  return 0;
}

int shoal__plat_shm_scan(const char *prefix, int (*fn)(const char *name, void *arg), void *arg)
{
  DIR *d = opendir(SHM_DIR);
  if (!d)
    return err_from_errno(errno);
  size_t plen = strlen(prefix);
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, prefix, plen) == 0)
      rc = fn(e->d_name, arg);
  }
  closedir(d);
  return rc;
}

