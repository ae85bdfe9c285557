// SPDX-License-Identifier: MIT
// Processes on Linux: pidfds for waiting, reaping and signalling, fork and
// fork+exec of the running program, parent-death signals, names, CPU counts
// and memfd-backed shared files.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "platform/platform.h"
#include "shoal/common.h"

static int err_from_errno(int e)
{
  return e ? -e : SHOAL_EIO;
}

int shoal__plat_fork(void)
{
  pid_t pid = fork();
  if (pid < 0)
    return errno == ENOMEM ? SHOAL_ENOMEM : SHOAL_EAGAIN;
  return (int)pid;
}

int shoal__plat_proc_open(int pid, int *fd)
{
  int f = pidfd_open((pid_t)pid, 0);
  if (f < 0)
    return errno == ESRCH ? SHOAL_ENOENT : err_from_errno(errno);
  *fd = f;
  return 0;
}

int shoal__plat_proc_wait(int fd, uint64_t deadline)
{
  struct pollfd p = {.fd = fd, .events = POLLIN};
  for (;;) {
    struct timespec ts, *tsp = NULL;
    if (deadline != SHOAL__PLAT_NEVER) {
      uint64_t now = shoal__plat_now();
      uint64_t left = deadline > now ? deadline - now : 0;
      ts.tv_sec = (time_t)(left / 1000000000u);
      ts.tv_nsec = (long)(left % 1000000000u);
      tsp = &ts;
    }
    int n = ppoll(&p, 1, tsp, NULL);
    if (n > 0)
      return 0;
    if (n == 0)
      return SHOAL_ETIMEDOUT;
    if (errno != EINTR)
      return err_from_errno(errno);
  }
}

int shoal__plat_proc_reap(int fd, int pid, struct shoal__plat_exit *out)
{
  siginfo_t si;
  memset(&si, 0, sizeof si);
  idtype_t type = fd >= 0 ? P_PIDFD : P_PID;
  id_t id = fd >= 0 ? (id_t)fd : (id_t)pid;
  while (waitid(type, id, &si, WEXITED | WNOHANG) != 0) {
    if (errno != EINTR)
      return SHOAL_ENOENT;
  }
  if (si.si_pid == 0)
    return 0;
  out->core = si.si_code == CLD_DUMPED;
  out->code = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
  return 1;
}

bool shoal__plat_proc_is_child(int fd)
{
  siginfo_t si;
  int rc;
  do
    rc = waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG | WNOWAIT);
  while (rc != 0 && errno == EINTR);
  return rc == 0; /* ECHILD: not ours */
}

int shoal__plat_proc_wait_pid(int pid)
{
  siginfo_t si;
  while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0) {
    if (errno != EINTR)
      return SHOAL_ENOENT;
  }
  return 0;
}

bool shoal__plat_children_reaped_elsewhere(void)
{
  struct sigaction sa;
  if (sigaction(SIGCHLD, NULL, &sa) != 0)
    return true;
  return sa.sa_handler != SIG_DFL || (sa.sa_flags & SA_NOCLDWAIT);
}

int shoal__plat_proc_signal(int fd, int sig)
{
  if (pidfd_send_signal(fd, sig, NULL, 0) == 0 || errno == ESRCH)
    return 0;
  return SHOAL_EINVAL;
}

int shoal__plat_ready_fd(int *fd)
{
  int f = eventfd(1, EFD_CLOEXEC);
  if (f < 0)
    return errno == EMFILE || errno == ENFILE ? SHOAL_EMFILE : SHOAL_ENOMEM;
  *fd = f;
  return 0;
}

int shoal__plat_die_with_parent(int expected_parent)
{
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
    return err_from_errno(errno);
  /* The parent may have died between fork and prctl: then nobody will send
   * the signal, and we have been re-parented already. */
  return getppid() == (pid_t)expected_parent ? 0 : SHOAL_ENOENT;
}

int shoal__plat_gettid(void)
{
  return (int)gettid();
}

/* Whether f holds output not yet written.  glibc's FILE is a public struct,
 * so this is two loads instead of a call to __fpending; a wide-oriented
 * stream (_mode > 0: wprintf) keeps its output in its wide buffer, which
 * only __fpending looks at. */
static bool output_pending(FILE *f)
{
#ifdef __GLIBC__
  return f->_mode > 0 ? __fpending(f) > 0 : f->_IO_write_ptr > f->_IO_write_base;
#else
  return __fpending(f) > 0;
#endif
}

void shoal__plat_flush_std(void)
{
  if (output_pending(stdout))
    fflush(stdout);
  if (output_pending(stderr))
    fflush(stderr);
}

void shoal__plat_set_thread_name(const char *name)
{
  char comm[16];
  size_t n = 0;
  while (n < sizeof comm - 1 && name[n]) {
    comm[n] = name[n];
    n++;
  }
  comm[n] = '\0';
  prctl(PR_SET_NAME, comm); /* the calling thread */
}

int shoal__plat_cpu_count(void)
{
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0)
      return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

int shoal__plat_memfd(size_t size, int *fd, void **addr)
{
  int f = memfd_create("shoal", MFD_CLOEXEC);
  if (f < 0)
    return errno == EMFILE || errno == ENFILE ? SHOAL_EMFILE : SHOAL_ENOMEM;
  if (f <= 2) {
    /* A program started with stdin, stdout or stderr closed: the number
     * travels to a spawn child, which keeps its 0-2 as they are, so the file
     * must not take one of theirs. */
    int g = fcntl(f, F_DUPFD_CLOEXEC, 3);
    close(f);
    if (g < 0)
      return errno == EMFILE || errno == ENFILE ? SHOAL_EMFILE : SHOAL_ENOMEM;
    f = g;
  }
  if (ftruncate(f, (off_t)size) != 0) {
    close(f);
    return SHOAL_ENOMEM;
  }
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
  if (p == MAP_FAILED) {
    close(f);
    return SHOAL_ENOMEM;
  }
  *fd = f;
  *addr = p;
  return 0;
}

int shoal__plat_map_fd(int fd, void **addr, size_t *size)
{
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
    return SHOAL_EBADF;
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    return SHOAL_ENOMEM;
  *addr = p;
  *size = (size_t)st.st_size;
  return 0;
}

/* Child side of shoal__plat_spawn: async-signal-safe system calls only. */
static void spawn_child(const struct shoal__plat_spawn *sp)
{
  /* 0-2 are the child's stdio, open or closed as the parent's: never touched. */
  unsigned next = 3;
  for (int i = 0; i < sp->n_keep; i++) {
    if (sp->keep_fds[i] < 3)
      continue;
    unsigned fd = (unsigned)sp->keep_fds[i];
    if (fd > next)
      syscall(SYS_close_range, next, fd - 1, 0);
    fcntl((int)fd, F_SETFD, 0); /* survive the exec */
    next = fd + 1;
  }
  syscall(SYS_close_range, next, ~0u, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve("/proc/self/exe", sp->argv, sp->envp);
  _exit(127);
}

int shoal__plat_spawn(const struct shoal__plat_spawn *sp)
{
  pid_t pid = _Fork();
  if (pid < 0)
    return errno == ENOMEM ? SHOAL_ENOMEM : SHOAL_EAGAIN;
  if (pid == 0)
    spawn_child(sp);
  return (int)pid;
}
