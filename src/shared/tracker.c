// SPDX-License-Identifier: MIT
// The segment tracker: records of who created which segment, a watcher per
// creating process, and the sweep the watcher runs when its creator is gone.
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform/platform.h"
#include "shared/tracker.h"

#define RECORD_PREFIX ".shoal-shm."
#define RECORD_MAGIC "shoal-shm 1"

/* ---- records ---- */

static void record_name(char *buf, size_t cap, const char *name, uint64_t id)
{
  snprintf(buf, cap, RECORD_PREFIX "%" PRIu64 ".%s", id, name);
}

struct record {
  const char *name; /* points into the record's file name */
  uint64_t id;
  uint32_t pid;
  uint64_t stamp;
  unsigned flags;
};

/* Parses a record's file name and contents; false for anything else. */
static bool record_read(const char *file, struct record *r)
{
  const char *p = file + strlen(RECORD_PREFIX);
  char *end;
  if (*p < '0' || *p > '9')
    return false;
  r->id = strtoull(p, &end, 10);
  if (*end != '.' || end[1] == '\0')
    return false;
  r->name = end + 1;
  char buf[128];
  size_t len;
  if (shoal__plat_shm_get_file(file, buf, sizeof buf - 1, &len) != 0)
    return false;
  buf[len] = '\0';
  unsigned long long stamp;
  if (sscanf(buf, RECORD_MAGIC " %" SCNu32 " %llu %u", &r->pid, &stamp, &r->flags) != 3)
    return false;
  r->stamp = stamp;
  return true;
}

int shoal__tracker_add(const char *name, uint64_t id, unsigned flags)
{
  char file[300], body[128];
  record_name(file, sizeof file, name, id);
  int n = snprintf(body, sizeof body, RECORD_MAGIC " %u %llu %u\n", (unsigned)getpid(),
                   (unsigned long long)shoal__plat_process_stamp(), flags);
  return shoal__plat_shm_put_file(file, body, (size_t)n);
}

void shoal__tracker_remove(const char *name, uint64_t id)
{
  char file[300];
  record_name(file, sizeof file, name, id);
  shoal__plat_shm_unlink(file);
}

/* True when `name` still holds segment instance `id`. */
static bool segment_is(const char *name, uint64_t id, uint64_t *size)
{
  uint64_t now_id, sz;
  if (shoal__plat_seg_stat(name, &now_id, &sz) != 0 || now_id != id)
    return false;
  if (size)
    *size = sz;
  return true;
}

/* ---- the watcher's sweep ---- */

struct sweep {
  uint32_t pid;
};

static int sweep_record(const char *file, void *arg)
{
  struct sweep *sw = arg;
  struct record r;
  if (!record_read(file, &r) || r.pid != sw->pid)
    return 0;
  bool exists = segment_is(r.name, r.id, NULL);
  if (exists && (r.flags & SHOAL_SHM_PERSISTENT))
    return 0; /* stays, and stays listed */
  if (exists && shoal__plat_shm_unlink(r.name) == 0) {
    /* Python's tracker warns about leaked objects; so do we.  write(2), not
     * stdio: a thread of the creator may have held stderr's lock when it
     * forked the watcher. */
    char msg[400];
    int n = snprintf(msg, sizeof msg,
                     "shoal: resource tracker: process %u died without unlinking shared memory "
                     "segment /%s; unlinked it\n",
                     r.pid, r.name);
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg) < 0)
      n = 0; /* nowhere to report: the segment is gone all the same */
  }
  shoal__plat_shm_unlink(file);
  return 0;
}

static int sweep_tmp(const char *file, void *arg)
{
  (void)arg;
  shoal__plat_shm_unlink(file);
  return 0;
}

/* Runs in the watcher once the creator `pid` is gone. */
static void sweep(uint32_t pid, void *arg)
{
  struct sweep sw = {pid};
  char prefix[48];
  (void)arg;
  shoal__plat_shm_scan(RECORD_PREFIX, sweep_record, &sw);
  /* Files the dead process was building when it died. */
  shoal__plat_tmp_prefix(pid, prefix, sizeof prefix);
  shoal__plat_shm_scan(prefix, sweep_tmp, NULL);
}

/* ---- one watcher per process ---- */

static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
/* Guarded by watch_mu: */
static uint32_t watched_pid; /* the process `watcher` watches (0: none) */
static struct shoal__plat_watcher watcher = {.fd = -1};
static bool starting; /* a thread is starting a watcher, with watch_mu dropped */

static void before_fork(void)
{
  pthread_mutex_lock(&watch_mu);
}

static void after_fork_parent(void)
{
  pthread_mutex_unlock(&watch_mu);
}

static void after_fork_child(void)
{
  starting = false; /* whichever thread was starting one is not in this process */
  pthread_mutex_unlock(&watch_mu);
}

static void register_atfork(void)
{
  /* A fork while another thread holds watch_mu must not leave the child's
   * copy locked forever. */
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

int shoal__tracker_watch(void)
{
  int rc = 0;
  pthread_once(&watch_once, register_atfork);
  pthread_mutex_lock(&watch_mu);
  /* Another thread is starting one: wait for it rather than start a second.
   * A sleep, not a condition variable: one does not survive a fork made
   * while threads wait on it. */
  while (starting) {
    pthread_mutex_unlock(&watch_mu);
    nanosleep(&(struct timespec){0, 1000000}, NULL);
    pthread_mutex_lock(&watch_mu);
  }
  uint32_t me = (uint32_t)getpid();
  /* None yet; our parent's (a forked child inherits the handle with the
   * memory); or it ended: killed, or it found us dead by mistake.  The new
   * watcher's sweep covers the segments made before it too. */
  if (watched_pid != me || !shoal__plat_watcher_alive(&watcher)) {
    struct shoal__plat_watcher w;
    shoal__plat_watcher_forget(&watcher);
    watched_pid = 0;
    starting = true;
    /* The watch_death fork runs our atfork handlers (and glibc holds its own
     * atfork lock around them, which another thread's fork may hold while it
     * waits for watch_mu): drop the mutex for it. */
    pthread_mutex_unlock(&watch_mu);
    rc = shoal__plat_watch_death(sweep, NULL, &w);
    pthread_mutex_lock(&watch_mu);
    starting = false;
    if (rc == 0) {
      watcher = w;
      watched_pid = me;
    }
  }
  pthread_mutex_unlock(&watch_mu);
  return rc;
}

/* ---- listing ---- */

struct listing {
  shoal_shm_info *out;
  size_t max;
  int count;
};

static int list_record(const char *file, void *arg)
{
  struct listing *l = arg;
  struct record r;
  uint64_t size;
  if (!record_read(file, &r) || !segment_is(r.name, r.id, &size))
    return 0;
  if ((size_t)l->count < l->max) {
    shoal_shm_info *i = &l->out[l->count];
    memset(i, 0, sizeof *i);
    snprintf(i->name, sizeof i->name, "%s", r.name);
    i->owner_pid = r.pid;
    i->owner_alive = shoal__plat_thread_alive(r.pid, r.stamp);
    i->persistent = (r.flags & SHOAL_SHM_PERSISTENT) != 0;
    i->size = size;
  }
  if (l->count < INT32_MAX)
    l->count++;
  return 0;
}

int shoal__tracker_list(shoal_shm_info *out, size_t max)
{
  struct listing l = {out, max, 0};
  if (!out && max > 0)
    return SHOAL_EINVAL;
  int rc = shoal__plat_shm_scan(RECORD_PREFIX, list_record, &l);
  return rc ? rc : l.count;
}
