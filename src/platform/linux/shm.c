// SPDX-License-Identifier: MIT
// Named and anonymous shared memory.  Named objects are files in /dev/shm, the
// directory glibc's shm_open uses, so `shoal` names and Python's
// SharedMemory names meet in one place.
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
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

size_t shoal__plat_page_size(void)
{
  static size_t page;
  if (!page)
    page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}

int shoal__plat_map_anon(size_t size, void **out)
{
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return SHOAL_ENOMEM;
  *out = p;
  return 0;
}

void shoal__plat_unmap(void *addr, size_t size)
{
  if (addr)
    munmap(addr, size);
}

int shoal__plat_shm_create(const char *name, size_t size, unsigned mode,
                           int (*init)(void *addr, size_t size, void *arg), void *arg,
                           void **addr, int *fd_out)
{
  static _Atomic unsigned counter;
  char tmp[128], path[300];
  int rc;

  /* Build the object under a private name, then link(2) it to its real name:
   * link fails if the name exists (O_EXCL semantics) and is atomic, so no
   * process ever maps a half-initialised object. */
  snprintf(tmp, sizeof tmp, SHM_DIR "/.shoal-new-%d-%u", (int)getpid(),
           atomic_fetch_add(&counter, 1));
  snprintf(path, sizeof path, SHM_DIR "/%s", name);
  int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return err_from_errno(errno);
  void *p = MAP_FAILED;
  if (fchmod(fd, mode) != 0 || ftruncate(fd, (off_t)size) != 0) {
    rc = err_from_errno(errno);
    goto fail;
  }
  p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    rc = SHOAL_ENOMEM;
    goto fail;
  }
  if ((rc = init(p, size, arg)) != 0)
    goto fail;
  if (link(tmp, path) != 0) {
    rc = err_from_errno(errno);
    goto fail;
  }
  unlink(tmp);
  if (fd_out)
    *fd_out = fd;
  else
    close(fd);
  *addr = p;
  return 0;
fail:
  if (p != MAP_FAILED)
    munmap(p, size);
  unlink(tmp);
  close(fd);
  return rc == SHOAL_ENOSPC ? SHOAL_ENOMEM : rc;
}

int shoal__plat_shm_open(const char *name, size_t min_size, void **addr, size_t *size,
                         int *fd_out)
{
  char path[300];
  struct stat st;

  snprintf(path, sizeof path, SHM_DIR "/%s", name);
  int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return errno == ELOOP || errno == EISDIR ? SHOAL_ECORRUPT : err_from_errno(errno);
  if (fstat(fd, &st) != 0) {
    int rc = err_from_errno(errno);
    close(fd);
    return rc;
  }
  if (!S_ISREG(st.st_mode) || (size_t)st.st_size < min_size) {
    close(fd);
    return SHOAL_ECORRUPT;
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED || !fd_out)
    close(fd);
  if (p == MAP_FAILED)
    return SHOAL_ENOMEM;
  if (fd_out)
    *fd_out = fd;
  *addr = p;
  *size = (size_t)st.st_size;
  return 0;
}

int shoal__plat_shm_unlink(const char *name)
{
  char path[300];
  snprintf(path, sizeof path, SHM_DIR "/%s", name);
  return unlink(path) == 0 ? 0 : err_from_errno(errno);
}

int shoal__plat_map_anon_fd(size_t size, void **out, int *fd_out)
{
  int fd = memfd_create("shoal", MFD_CLOEXEC);
  if (fd < 0)
    return err_from_errno(errno);
  if (ftruncate(fd, (off_t)size) != 0) {
    close(fd);
    return SHOAL_ENOMEM;
  }
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    close(fd);
    return SHOAL_ENOMEM;
  }
  *out = p;
  *fd_out = fd;
  return 0;
}

int shoal__plat_map_mirror(int fd, size_t offset, size_t len, void **out)
{
  /* Reserve 2*len of address space, then map the same file range into both
   * halves: bytes at base+i and base+len+i are one and the same. */
  char *base = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED)
    return SHOAL_ENOMEM;
  for (int half = 0; half < 2; half++) {
    void *p = mmap(base + half * len, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                   (off_t)offset);
    if (p == MAP_FAILED) {
      munmap(base, 2 * len);
      return SHOAL_ENOMEM;
    }
  }
  *out = base;
  return 0;
}

void shoal__plat_close_fd(int fd)
{
  if (fd >= 0)
    close(fd);
}

int shoal__plat_dup_fd(int fd)
{
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  return d >= 0 ? d : -errno;
}
