// SPDX-License-Identifier: MIT
// SharedMemory: named raw segments that Python's
// multiprocessing.shared_memory creates and attaches the same way.
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "shared/tracker.h"

#define RESERVED_PREFIX ".shoal-"
/* Python's generated names: "psm_" + secrets.token_hex(4). */
#define GEN_PREFIX "psm_"
#define GEN_TRIES 100

struct shoal_shm {
  struct shoal__plat_seg seg;
  char name[SHOAL_NAME_MAX + 1];
};

static int opts_check(const shoal_shm_opts *o, bool create)
{
  if (!o)
    return 0;
  for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
    if (o->reserved[i])
      return SHOAL_EINVAL;
  if (!create && (o->flags || o->mode))
    return SHOAL_EINVAL;
  if (o->flags & ~(unsigned)SHOAL_SHM_PERSISTENT || o->mode & ~07777u)
    return SHOAL_EINVAL;
  return 0;
}

/* Validates a segment name and copies it, without its leading '/', to out. */
static int name_take(const char *name, const shoal_shm_opts *o, char out[SHOAL_NAME_MAX + 1])
{
  if (!name)
    return SHOAL_EINVAL;
  size_t len = o && o->name_len ? o->name_len : strlen(name);
  if (memchr(name, '\0', len))
    return SHOAL_EINVAL;
  if (len > 0 && name[0] == '/')
    name++, len--;
  if (len == 0 || memchr(name, '/', len) || (len == 1 && name[0] == '.') ||
      (len == 2 && name[0] == '.' && name[1] == '.') ||
      (len >= strlen(RESERVED_PREFIX) && !memcmp(name, RESERVED_PREFIX, strlen(RESERVED_PREFIX))))
    return SHOAL_EINVAL;
  if (len > SHOAL_NAME_MAX)
    return SHOAL_ENAMETOOLONG;
  memcpy(out, name, len);
  out[len] = '\0';
  return 0;
}

static int generate_name(char out[SHOAL_NAME_MAX + 1])
{
  unsigned char r[4];
  int rc = shoal__plat_random(r, sizeof r);
  if (rc)
    return rc;
  static const char hex[] = "0123456789abcdef";
  char *p = out + strlen(GEN_PREFIX);
  memcpy(out, GEN_PREFIX, strlen(GEN_PREFIX));
  for (size_t i = 0; i < sizeof r; i++) {
    *p++ = hex[r[i] >> 4];
    *p++ = hex[r[i] & 15];
  }
  *p = '\0';
  return 0;
}

/* Names the prepared segment h->seg: record first, then the name, so that
 * no instant exists where a named segment of ours has no record. */
static int publish(shoal_shm *h, unsigned flags)
{
  int rc = shoal__tracker_add(h->name, h->seg.id, flags);
  if (rc)
    return rc;
  rc = shoal__plat_seg_publish(&h->seg, h->name);
  if (rc)
    shoal__tracker_remove(h->name, h->seg.id);
  return rc;
}

int shoal_shm_create(shoal_shm **out, const char *name, size_t size, const shoal_shm_opts *opts)
{
  if (!out || size == 0)
    return SHOAL_EINVAL;
  int rc = opts_check(opts, true);
  if (rc)
    return rc;
  shoal_shm *h = calloc(1, sizeof *h);
  if (!h)
    return SHOAL_ENOMEM;
  h->seg.fd = -1;
  if (name && (rc = name_take(name, opts, h->name)) != 0)
    goto fail;
  unsigned flags = opts ? opts->flags : 0;
  /* Every segment gets a watcher: it removes the creator's segment, or, for
   * a persistent one whose name went, its record. */
  if ((rc = shoal__tracker_watch()) != 0)
    goto fail;
  if ((rc = shoal__plat_seg_prepare(size, opts && opts->mode ? opts->mode : 0600, &h->seg)) != 0)
    goto fail;
  if (name) {
    rc = publish(h, flags);
  } else {
    rc = SHOAL_EEXIST;
    for (int i = 0; i < GEN_TRIES && rc == SHOAL_EEXIST; i++) {
      if ((rc = generate_name(h->name)) == 0)
        rc = publish(h, flags);
    }
  }
  if (rc)
    goto fail;
  *out = h;
  return 0;
fail:
  shoal__plat_seg_release(&h->seg);
  free(h);
  return rc;
}

int shoal_shm_attach(shoal_shm **out, const char *name, const shoal_shm_opts *opts)
{
  if (!out)
    return SHOAL_EINVAL;
  int rc = opts_check(opts, false);
  if (rc)
    return rc;
  shoal_shm *h = calloc(1, sizeof *h);
  if (!h)
    return SHOAL_ENOMEM;
  if ((rc = name_take(name, opts, h->name)) != 0 ||
      (rc = shoal__plat_seg_attach(h->name, &h->seg)) != 0) {
    free(h);
    return rc;
  }
  *out = h;
  return 0;
}

void shoal_shm_close(shoal_shm *shm)
{
  if (!shm)
    return;
  shoal__plat_seg_release(&shm->seg);
  free(shm);
}

int shoal_shm_unlink(shoal_shm *shm)
{
  uint64_t id, size;
  if (!shm)
    return SHOAL_EINVAL;
  /* Our segment's name may be gone and made again by somebody else: that
   * segment is not ours to remove. */
  int rc = shoal__plat_seg_stat(shm->name, &id, &size);
  if (rc == 0 && id != shm->seg.id)
    rc = SHOAL_ENOENT;
  if (rc == 0)
    rc = shoal__plat_shm_unlink(shm->name);
  if (rc == 0)
    shoal__tracker_remove(shm->name, shm->seg.id);
  return rc;
}

const char *shoal_shm_name(shoal_shm *shm)
{
  return shm ? shm->name : NULL;
}

size_t shoal_shm_size(shoal_shm *shm)
{
  return shm ? shm->seg.size : 0;
}

void *shoal_shm_buf(shoal_shm *shm)
{
  return shm ? shm->seg.addr : NULL;
}

int shoal_shm_list(shoal_shm_info *out, size_t max)
{
  return shoal__tracker_list(out, max);
}
