// SPDX-License-Identifier: MIT
// Regions: anonymous and named shared memory with a self-describing header.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/region.h"
#include "platform/platform.h"

static size_t round_to_page(size_t n)
{
  size_t page = shoal__plat_page_size();
  return (n + page - 1) / page * page;
}

static void header_fill(struct shoal__region_header *h, uint32_t type, size_t size,
                        size_t payload_size)
{
  h->version = SHOAL__LAYOUT_VERSION;
  h->type = type;
  h->size = size;
  h->payload_size = payload_size;
  h->creator_pid = (uint32_t)getpid();
  /* The magic goes last: a header with the magic is a complete header. */
  __atomic_store_n(&h->magic, SHOAL__REGION_MAGIC, __ATOMIC_RELEASE);
}

int shoal__name_check(const char *name, const char **out)
{
  if (!name)
    return SHOAL_EINVAL;
  if (name[0] == '/')
    name++;
  size_t len = strlen(name);
  if (len == 0 || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
    return SHOAL_EINVAL;
  if (len > SHOAL_NAME_MAX)
    return SHOAL_ENAMETOOLONG;
  *out = name;
  return 0;
}

int shoal__region_create(struct shoal__region *r, uint32_t type, size_t payload_size,
                         shoal__region_init_fn init, void *arg)
{
  return shoal__region_create_fd(r, type, payload_size, init, arg, NULL);
}

int shoal__region_create_fd(struct shoal__region *r, uint32_t type, size_t payload_size,
                            shoal__region_init_fn init, void *arg, int *fd)
{
  size_t size = round_to_page(SHOAL__REGION_HEADER_SIZE + payload_size);
  void *p;
  int rc = fd ? shoal__plat_map_anon_fd(size, &p, fd) : shoal__plat_map_anon(size, &p);
  if (rc)
    return rc;
  r->hdr = p;
  r->size = size;
  r->named = false;
  if (init && (rc = init(shoal__region_payload(r), payload_size, arg)) != 0) {
    shoal__plat_unmap(p, size);
    r->hdr = NULL;
    if (fd) {
      shoal__plat_close_fd(*fd);
      *fd = -1;
    }
    return rc;
  }
  header_fill(r->hdr, type, size, payload_size);
  return 0;
}

struct named_init {
  uint32_t type;
  size_t payload_size;
  shoal__region_init_fn init;
  void *arg;
};

static int named_init_fn(void *addr, size_t size, void *arg)
{
  struct named_init *ni = arg;
  int rc = 0;
  if (ni->init)
    rc = ni->init((char *)addr + SHOAL__REGION_HEADER_SIZE, ni->payload_size, ni->arg);
  if (rc == 0)
    header_fill(addr, ni->type, size, ni->payload_size);
  return rc;
}

/* Checks that a mapped region is a complete shoal object of `type`. */
static int header_check(const struct shoal__region_header *h, size_t mapped, uint32_t type,
                        size_t min_payload)
{
  if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != SHOAL__REGION_MAGIC)
    return SHOAL_ECORRUPT;
  if (h->version != SHOAL__LAYOUT_VERSION)
    return SHOAL_EVERSION;
  if (h->size != mapped || h->payload_size > mapped - SHOAL__REGION_HEADER_SIZE)
    return SHOAL_ECORRUPT;
  if (h->type != type)
    return SHOAL_ETYPE;
  if (h->payload_size < min_payload)
    return SHOAL_ECORRUPT;
  return 0;
}

int shoal__region_map_fd(struct shoal__region *r, int fd, uint32_t type, size_t min_payload)
{
  void *p;
  size_t size;
  int rc = shoal__plat_map_fd(fd, &p, &size);
  if (rc)
    return rc;
  if (size < SHOAL__REGION_HEADER_SIZE || (rc = header_check(p, size, type, min_payload)) != 0) {
    shoal__plat_unmap(p, size);
    return rc ? rc : SHOAL_ECORRUPT;
  }
  r->hdr = p;
  r->size = size;
  r->named = false;
  return 0;
}

static int open_existing(struct shoal__region *r, const char *name, uint32_t type,
                         size_t min_payload, int *fd)
{
  void *p;
  size_t size;
  int rc = shoal__plat_shm_open(name, SHOAL__REGION_HEADER_SIZE, &p, &size, fd);
  if (rc)
    return rc;
  rc = header_check(p, size, type, min_payload);
  if (rc) {
    shoal__plat_unmap(p, size);
    if (fd) {
      shoal__plat_close_fd(*fd);
      *fd = -1;
    }
    return rc;
  }
  r->hdr = p;
  r->size = size;
  r->named = true;
  return 0;
}

int shoal__region_open(struct shoal__region *r, const char *name, uint32_t type,
                       size_t payload_size, size_t min_payload, const shoal_open_opts *opts,
                       shoal__region_init_fn init, void *arg)
{
  return shoal__region_open_fd(r, name, type, payload_size, min_payload, opts, init, arg, NULL);
}

int shoal__region_open_fd(struct shoal__region *r, const char *name, uint32_t type,
                          size_t payload_size, size_t min_payload, const shoal_open_opts *opts,
                          shoal__region_init_fn init, void *arg, int *fd)
{
  const char *n;
  int rc = shoal__name_check(name, &n);
  if (rc)
    return rc;
  unsigned flags = opts ? opts->flags : 0;
  unsigned mode = opts && opts->mode ? opts->mode : 0600;
  if (flags & ~(unsigned)(SHOAL_OPEN_CREATE | SHOAL_OPEN_EXCL) || mode & ~07777u)
    return SHOAL_EINVAL;
  if (opts) {
    for (size_t i = 0; i < sizeof opts->reserved / sizeof opts->reserved[0]; i++)
      if (opts->reserved[i])
        return SHOAL_EINVAL;
  }
  if (!(flags & SHOAL_OPEN_CREATE))
    return open_existing(r, n, type, min_payload, fd);

  /* Create, or open what another process created first; loop because the
   * other object may be unlinked between our two attempts. */
  for (int attempt = 0; attempt < 100; attempt++) {
    if (!(flags & SHOAL_OPEN_EXCL)) {
      rc = open_existing(r, n, type, min_payload, fd);
      if (rc != SHOAL_ENOENT)
        return rc;
    }
    struct named_init ni = {type, payload_size, init, arg};
    size_t size = round_to_page(SHOAL__REGION_HEADER_SIZE + payload_size);
    void *p;
    rc = shoal__plat_shm_create(n, size, mode, named_init_fn, &ni, &p, fd);
    if (rc == 0) {
      r->hdr = p;
      r->size = size;
      r->named = true;
      return 0;
    }
    if (rc != SHOAL_EEXIST || (flags & SHOAL_OPEN_EXCL))
      return rc;
  }
  return SHOAL_EBUSY;
}

void shoal__region_close(struct shoal__region *r)
{
  if (r->hdr)
    shoal__plat_unmap(r->hdr, r->size);
  r->hdr = NULL;
}

int shoal_unlink(const char *name)
{
  const char *n;
  int rc = shoal__name_check(name, &n);
  if (rc)
    return rc;
  void *p;
  size_t size;
  rc = shoal__plat_shm_open(n, SHOAL__REGION_HEADER_SIZE, &p, &size, NULL);
  if (rc)
    return rc;
  const struct shoal__region_header *h = p;
  bool ours = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == SHOAL__REGION_MAGIC;
  shoal__plat_unmap(p, size);
  if (!ours)
    return SHOAL_ECORRUPT;
  return shoal__plat_shm_unlink(n);
}

void *shoal__region_handle_new(size_t handle_size, struct shoal__region *r)
{
  struct shoal__region *h = calloc(1, handle_size);
  if (!h) {
    shoal__region_close(r);
    return NULL;
  }
  *h = *r;
  return h;
}

void shoal__region_handle_free(void *handle)
{
  if (!handle)
    return;
  shoal__region_close(handle);
  free(handle);
}
