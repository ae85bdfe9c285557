// SPDX-License-Identifier: MIT
// Growable files in the shm directory, for objects that grow while other
// processes have them mapped.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/platform.h"
#include "shoal/common.h"

#define SHM_DIR "/dev/shm"

static int err_from_errno(int e)
{
  return e ? -e : SHOAL_EIO;
}

int shoal__plat_file_new(unsigned mode, int *fd)
{
  int f = open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (f < 0)
    return err_from_errno(errno);
  if (fchmod(f, mode) != 0) {
    int rc = err_from_errno(errno);
    close(f);
    return rc;
  }
  *fd = f;
  return 0;
}

int shoal__plat_file_link(int fd, const char *name)
{
  char from[64], path[300];
  snprintf(from, sizeof from, "/proc/self/fd/%d", fd);
  snprintf(path, sizeof path, SHM_DIR "/%s", name);
  return linkat(AT_FDCWD, from, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 ? 0 : err_from_errno(errno);
}

int shoal__plat_file_open(const char *name, int *fd, uint64_t *size)
{
  char path[300];
  struct stat st;
  snprintf(path, sizeof path, SHM_DIR "/%s", name);
  int f = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (f < 0)
    return errno == ELOOP || errno == EISDIR ? SHOAL_ECORRUPT : err_from_errno(errno);
  if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(f);
    return SHOAL_ECORRUPT;
  }
  *fd = f;
  *size = (uint64_t)st.st_size;
  return 0;
}

int shoal__plat_file_size(int fd, uint64_t *size)
{
  struct stat st;
  if (fstat(fd, &st) != 0)
    return err_from_errno(errno);
  *size = (uint64_t)st.st_size;
  return 0;
}

int shoal__plat_file_read(int fd, uint64_t off, void *buf, size_t len)
{
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return SHOAL_ECORRUPT;
    got += (size_t)n;
  }
  return 0;
}

int shoal__plat_file_reserve(int fd, uint64_t size)
{
  /* fallocate allocates the pages now: running out of memory is an error
   * here, instead of a SIGBUS when a page is first touched. */
  int rc;
  do
    rc = posix_fallocate(fd, 0, (off_t)size);
  while (rc == EINTR);
  if (rc == 0)
    return 0;
  return rc == ENOSPC || rc == EFBIG || rc == ENOMEM ? SHOAL_ENOMEM : shoal__plat_err(rc);
}

int shoal__plat_file_map(int fd, size_t len, void **addr)
{
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (p == MAP_FAILED)
    return SHOAL_ENOMEM;
  *addr = p;
  return 0;
}

int shoal__plat_file_map_read(int fd, size_t len, void **addr)
{
  void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    return SHOAL_ENOMEM;
  *addr = p;
  return 0;
}

void shoal__plat_file_close(int fd)
{
  if (fd >= 0)
    close(fd);
}
