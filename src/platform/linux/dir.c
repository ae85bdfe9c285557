// SPDX-License-Identifier: MIT
// Durable files in a directory, for the file queue: *at() calls on a
// directory descriptor, flock(2) on the directory, fallocate and fdatasync.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/platform.h"
#include "shoal/common.h"

static int err_from_errno(int e)
{
  return e ? -e : SHOAL_EIO;
}

int shoal__plat_dir_open(const char *path, bool create, unsigned mode, bool writable, int *dfd)
{
  struct stat st;
  if (create && mkdir(path, mode) == 0)
    (void)chmod(path, mode); /* the umask does not apply, as for named objects */
  else if (create && errno != EEXIST)
    return err_from_errno(errno);
  if (stat(path, &st) != 0)
    return errno == ENOTDIR ? SHOAL_ENOTDIR : err_from_errno(errno);
  if (!S_ISDIR(st.st_mode))
    return SHOAL_ENOTDIR;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return err_from_errno(errno);
  /* Root passes access() checks on any mode: ask for write and search. */
  if (faccessat(fd, ".", (writable ? W_OK : 0) | X_OK, AT_EACCESS) != 0) {
    int e = errno;
    close(fd);
    return e == EROFS || e == EPERM ? SHOAL_EACCES : err_from_errno(e);
  }
  *dfd = fd;
  return 0;
}

int shoal__plat_dir_lock(int dfd, bool exclusive, bool nowait)
{
  int op = (exclusive ? LOCK_EX : LOCK_SH) | (nowait ? LOCK_NB : 0);
  for (;;) {
    if (flock(dfd, op) == 0)
      return 0;
    if (errno == EWOULDBLOCK)
      return SHOAL_EAGAIN;
    if (errno != EINTR)
      return err_from_errno(errno);
  }
}

int shoal__plat_dir_sync(int dfd)
{
  return fsync(dfd) == 0 ? 0 : err_from_errno(errno);
}

int shoal__plat_dir_scan(int dfd, int (*fn)(const char *name, void *arg), void *arg)
{
  int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return err_from_errno(errno);
  DIR *d = fdopendir(fd);
  if (!d) {
    int rc = err_from_errno(errno);
    close(fd);
    return rc;
  }
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      rc = fn(e->d_name, arg);
  closedir(d);
  return rc;
}

int shoal__plat_at_open(int dfd, const char *name, int how, unsigned mode, int *fd,
                        uint64_t *size)
{
  static const int flags[] = {O_RDONLY, O_RDWR, O_RDWR | O_CREAT, O_RDWR | O_CREAT | O_EXCL};
  struct stat st;
  if (how < SHOAL__PLAT_AT_READ || how > SHOAL__PLAT_AT_EXCL)
    return SHOAL_EINVAL;
  int f = openat(dfd, name, flags[how] | O_CLOEXEC | O_NOFOLLOW, mode);
  if (f < 0)
    return errno == ELOOP || errno == EISDIR ? SHOAL_ECORRUPT : err_from_errno(errno);
  if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(f);
    return SHOAL_ECORRUPT;
  }
  if (how >= SHOAL__PLAT_AT_CREATE && st.st_size == 0)
    (void)fchmod(f, mode);
  *fd = f;
  if (size)
    *size = (uint64_t)st.st_size;
  return 0;
}

int shoal__plat_at_unlink(int dfd, const char *name)
{
  return unlinkat(dfd, name, 0) == 0 ? 0 : err_from_errno(errno);
}

int shoal__plat_at_rename(int dfd, const char *from, const char *to)
{
  return renameat(dfd, from, dfd, to) == 0 ? 0 : err_from_errno(errno);
}

int shoal__plat_fd_allocate(int fd, uint64_t size)
{
  int rc;
  do
    rc = posix_fallocate(fd, 0, (off_t)size);
  while (rc == EINTR);
  return rc == 0 ? 0 : shoal__plat_err(rc); /* EFBIG: SHOAL_ENOSPC */
}

int shoal__plat_fd_write(int fd, const void *buf, size_t len, uint64_t off)
{
  size_t done = 0;
  while (done < len) {
    ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return err_from_errno(errno);
    if (n == 0)
      return SHOAL_ENOSPC;
    done += (size_t)n;
  }
  return 0;
}

int shoal__plat_fd_sync(int fd)
{
  while (fdatasync(fd) != 0)
    if (errno != EINTR)
      return err_from_errno(errno);
  return 0;
}

int shoal__plat_boot_id(char buf[40])
{
  int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return SHOAL_ENOSYS;
  ssize_t n = read(fd, buf, 39);
  close(fd);
  if (n < 36)
    return SHOAL_ENOSYS;
  buf[36] = '\0';
  return 0;
}
