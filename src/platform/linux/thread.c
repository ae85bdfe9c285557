// SPDX-License-Identifier: MIT
// Thread identity and liveness: kernel tids, start times from /proc, and the
// fork handler that keeps the per-thread cache honest in children.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform/platform.h"

_Thread_local uint64_t shoal__plat_stamp_cache __attribute__((tls_model("initial-exec")));

#define STAMP_TIME_BITS 34
#define STAMP_TIME_MASK ((UINT64_C(1) << STAMP_TIME_BITS) - 1)

static void reset_in_child(void)
{
  /* fork() gives the child's only thread a new tid; forget the parent's. */
  shoal__plat_stamp_cache = 0;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void register_atfork(void)
{
  pthread_atfork(NULL, NULL, reset_in_child);
}

/* Reads state and start time (field 3 and 22 of /proc/<tid>/stat).  Returns
 * 0, or -1 when there is no such thread. */
static int read_stat(uint32_t tid, char *state, uint64_t *start)
{
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%u/stat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  /* The command name may hold spaces and ')': fields resume after the last ')'. */
  char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ')
    return -1;
  p += 2;
  *state = *p;
  /* p is at field 3; skip to field 22. */
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p)
      return -1;
    p++;
  }
  *start = strtoull(p, NULL, 10);
  return 0;
}

uint64_t shoal__plat_stamp_slow(void)
{
  pthread_once(&atfork_once, register_atfork);
  uint32_t tid = (uint32_t)syscall(SYS_gettid);
  char state;
  uint64_t start = 0;
  if (read_stat(tid, &state, &start) != 0)
    start = 0; /* no /proc: the stamp names the tid alone */
  shoal__plat_stamp_cache = ((uint64_t)tid << STAMP_TIME_BITS) | (start & STAMP_TIME_MASK);
  return shoal__plat_stamp_cache;
}

uint64_t shoal__plat_process_stamp(void)
{
  uint32_t pid = (uint32_t)getpid();
  char state;
  uint64_t start = 0;
  if (read_stat(pid, &state, &start) != 0)
    start = 0;
  return ((uint64_t)pid << STAMP_TIME_BITS) | (start & STAMP_TIME_MASK);
}

bool shoal__plat_thread_alive(uint32_t tid, uint64_t stamp)
{
  char state;
  uint64_t start;
  if (tid == 0)
    return false;
  if (read_stat(tid, &state, &start) != 0) {
    /* No /proc entry: the thread is gone, or /proc is not mounted; then ask
     * the kernel whether the id exists at all. */
    if (access("/proc/self/stat", F_OK) == 0)
      return false;
    return !(kill((pid_t)tid, 0) == -1 && errno == ESRCH);
  }
  if (state == 'Z' || state == 'X' || state == 'x')
    return false;
  if (stamp && shoal__plat_stamp_tid(stamp) == tid && (stamp & STAMP_TIME_MASK) != 0 &&
      (start & STAMP_TIME_MASK) != (stamp & STAMP_TIME_MASK))
    return false;
  return true;
}
