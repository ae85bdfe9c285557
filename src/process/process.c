// SPDX-License-Identifier: MIT
// Process: a child running a C function, watched through a process handle
// (pidfd).  Creation copies the argument block; start forks (or spawns); the
// parent collects the exit status when join, is_alive, exitcode or
// active_children find the child ended, and reports a child that ended badly.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/deadline.h"
#include "process/internal.h"

static _Atomic int reporting = 1;
static _Atomic int default_method = SHOAL_START_FORK;

static int check_name(const char *name)
{
  if (!name || !*name)
    return SHOAL_EINVAL;
  return strlen(name) > SHOAL_PROCESS_NAME_MAX ? SHOAL_ENAMETOOLONG : 0;
}

static int check_opts(const shoal_process_opts *o)
{
  if (!o)
    return 0;
  for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
    if (o->reserved[i])
      return SHOAL_EINVAL;
  if (o->start_method < SHOAL_START_DEFAULT || o->start_method > SHOAL_START_SPAWN)
    return SHOAL_EINVAL;
  if (o->n_pass_fds < 0 || (o->n_pass_fds > 0 && !o->pass_fds))
    return SHOAL_EINVAL;
  for (int i = 0; i < o->n_pass_fds; i++)
    if (o->pass_fds[i] <= 2)
      return SHOAL_EINVAL;
  return o->name ? check_name(o->name) : 0;
}

int shoal_process_create(shoal_process **out, shoal_process_target target, const void *args,
                         size_t len, const shoal_process_opts *opts)
{
  if (!out || !target || (!args && len > 0))
    return SHOAL_EINVAL;
  int rc = check_opts(opts);
  if (rc)
    return rc;
  int method = opts && opts->start_method ? opts->start_method : atomic_load(&default_method);
  const struct shoal_entry *entry = NULL;
  if (method == SHOAL_START_SPAWN) {
    if (len > SHOAL_PROCESS_ARGS_MAX)
      return SHOAL_E2BIG;
    if (!(entry = shoal__entry_of(target)))
      return SHOAL_ENOENT;
  }
  shoal_process *p = calloc(1, sizeof *p);
  if (!p)
    return SHOAL_ENOMEM;
  if (len > 0 && !(p->args = malloc(len)))
    goto nomem;
  if (opts && opts->n_pass_fds > 0) {
    if (!(p->pass_fds = malloc((size_t)opts->n_pass_fds * sizeof(int))))
      goto nomem;
    memcpy(p->pass_fds, opts->pass_fds, (size_t)opts->n_pass_fds * sizeof(int));
    p->n_pass_fds = opts->n_pass_fds;
  }
  if (len > 0)
    memcpy(p->args, args, len);
  p->len = len;
  pthread_mutex_init(&p->mu, NULL);
  atomic_init(&p->refs, 1);
  p->kind = PK_CHILD;
  p->phase = P_CREATED;
  p->target = target;
  p->entry = entry;
  p->method = method;
  p->fd = -1;
  p->fd_closing = -1;

  /* Name and place in the tree, as Python: the n-th child of "1:2" is
   * "1:2:n", named "Process-1:2:n". */
  shoal__self_init();
  unsigned n = __atomic_add_fetch(&shoal__self.counter, 1, __ATOMIC_RELAXED);
  /* Built by hand, not with snprintf: its deep stack frames would touch
   * stack pages that every fork write-protects again. */
  char digits[12], *d = digits + sizeof digits;
  *--d = '\0';
  do
    *--d = (char)('0' + n % 10);
  while (n /= 10);
  size_t at = strnlen(shoal__self.proc.identity, 40);
  memcpy(p->identity, shoal__self.proc.identity, at);
  if (at)
    p->identity[at++] = ':';
  memcpy(p->identity + at, d, (size_t)(digits + sizeof digits - d));
  if (opts && opts->name) {
    strcpy(p->name, opts->name);
  } else {
    memcpy(p->name, "Process-", 8);
    memcpy(p->name + 8, p->identity, strlen(p->identity) + 1);
  }
  p->daemon = shoal__self.proc.daemon;
  *out = p;
  return 0;
nomem:
  free(p->args);
  free(p->pass_fds);
  free(p);
  return SHOAL_ENOMEM;
}

/* Gives back p's status block: to the cache once the child has ended (only
 * then can nobody write it any more), else to the system. */
static void release_status(shoal_process *p)
{
  if (!p->st)
    return;
  if (p->method == SHOAL_START_FORK && p->phase == P_ENDED)
    shoal__status_put(p->st);
  else
    shoal__plat_unmap(p->st, p->st_size);
  p->st = NULL;
}

void shoal__process_unref(shoal_process *p)
{
  if (atomic_fetch_sub(&p->refs, 1) != 1)
    return;
  if (p->fd >= 0)
    close(p->fd);
  if (p->fd_closing >= 0)
    close(p->fd_closing);
  release_status(p);
  pthread_mutex_destroy(&p->mu);
  free(p->message);
  free(p->error);
  free(p->args);
  free(p->pass_fds);
  free(p);
}

/* Status of a child of another process, or of the wrong kind of handle. */
static int foreign(const shoal_process *p)
{
  return p->kind == PK_CHILD && p->phase != P_CREATED && p->owner != shoal__self.proc.pid;
}

/* The name of a signal, "SIGSEGV", or "signal 42". */
static const char *sig_name(int sig, char *buf, size_t len)
{
  const char *abbrev = sigabbrev_np(sig);
  if (abbrev)
    snprintf(buf, len, "SIG%s", abbrev);
  else
    snprintf(buf, len, "signal %d", sig);
  return buf;
}

/* Fills p->error for a child that ended badly and prints it once. */
static void report(shoal_process *p, uint32_t state)
{
  char sig[32], line[SHOAL__MSG_MAX + 192];
  int n;
  if (p->exitcode == 0)
    return;
  if (p->exitcode < 0 && p->exitcode != SHOAL_EXITCODE_UNKNOWN && -p->exitcode == p->sent_signal)
    return; /* stopped on purpose */
  if (p->exitcode == SHOAL_EXITCODE_UNKNOWN)
    n = snprintf(line, sizeof line,
                 "Process %s (pid %d) ended, exit status unknown (reaped by someone else)",
                 p->name, p->pid);
  else if (p->exitcode < 0)
    n = snprintf(line, sizeof line, "Process %s (pid %d) died: %s%s", p->name, p->pid,
                 sig_name(-p->exitcode, sig, sizeof sig), p->core ? " (core dumped)" : "");
  else
    n = snprintf(line, sizeof line, "Process %s (pid %d) failed: exit code %d", p->name, p->pid,
                 p->exitcode);
  size_t at = n > 0 && (size_t)n < sizeof line ? (size_t)n : strlen(line);
  if (p->message)
    snprintf(line + at, sizeof line - at, ": %s", p->message);
  else if (p->method == SHOAL_START_SPAWN && state == PS_CREATED)
    snprintf(line + at, sizeof line - at, "%s",
             p->exitcode == 127 ? " (the program could not be executed again)"
                                : " (it never entered its target: does main() call "
                                  "shoal_spawn_main() first?)");
  p->error = strdup(line);
  if (atomic_load(&reporting)) {
    /* One write, so that concurrent reports never interleave. */
    size_t len = strlen(line);
    line[len] = '\n';
    if (write(STDERR_FILENO, line, len + 1) < 0)
      return;
  }
}

/* With p->mu held: records the end of the child, from its exit status ex,
 * or with ex NULL (someone else took the status: SIGCHLD ignored, or the
 * program reaped it) from the child's own record in the status block, the
 * best we have then. */
static void record_end_locked(shoal_process *p, const struct shoal__plat_exit *ex)
{
  uint32_t state = atomic_load_explicit(&p->st->state, memory_order_acquire);
  if (ex) {
    p->exitcode = ex->code;
    p->core = ex->core;
  } else {
    p->exitcode =
        state == PS_RETURNED || state == PS_FAILED ? (p->st->code & 0xff) : SHOAL_EXITCODE_UNKNOWN;
  }
  if (state == PS_FAILED)
    p->message = strndup(p->st->message, sizeof p->st->message - 1);
  p->phase = P_ENDED;
  report(p, state);
  shoal__registry_remove(p);
}

/* With p->mu held: collects the status of an ended child.  Returns true
 * when it has ended. */
static bool collect_locked(shoal_process *p)
{
  if (p->phase != P_STARTED)
    return p->phase == P_ENDED;
  struct shoal__plat_exit ex;
  int rc = shoal__plat_proc_reap(p->fd, p->pid, &ex);
  if (rc == 0)
    return false;
  record_end_locked(p, rc == 1 ? &ex : NULL);
  return true;
}

/* With p->mu held, p started: opens p's process handle (pidfd), which
 * start leaves for the first call that needs it — a sentinel, a join with a
 * deadline, a signal — because a pidfd costs a fork and join that use none a
 * tenth of their time.  Opening late is as safe as opening at once: until we
 * reap it, the pid of a child nobody else reaps is its own, and start opens
 * the handle at once when the program lets others reap
 * (shoal__plat_children_reaped_elsewhere).  A child that has ended already
 * gets an fd that is always readable. */
static int open_handle_locked(shoal_process *p)
{
  if (p->fd >= 0)
    return 0;
  if (p->phase != P_STARTED)
    return shoal__plat_ready_fd(&p->fd);
  int rc = shoal__plat_proc_open(p->pid, &p->fd);
  if (rc == 0 && !shoal__plat_proc_is_child(p->fd)) {
    /* Reaped behind our back (a handler installed after start, a
     * waitpid(-1)) and the pid taken by some other process since: that
     * process is not ours to wait for or signal. */
    close(p->fd);
    p->fd = -1;
    rc = SHOAL_ENOENT;
  }
  if (rc == SHOAL_ENOENT && (rc = shoal__plat_ready_fd(&p->fd)) == 0)
    record_end_locked(p, NULL); /* reaped by someone else already */
  return rc;
}

void shoal_process_destroy(shoal_process *p)
{
  if (!p || p->kind != PK_CHILD)
    return;
  /* A child that has ended is collected now, so that the registry lets go
   * of it and the last reference below frees its pidfd and status block. */
  pthread_mutex_lock(&p->mu);
  if (p->phase == P_STARTED && !foreign(p))
    collect_locked(p);
  pthread_mutex_unlock(&p->mu);
  shoal__process_unref(p);
}

/* Opens the parent's handle, once.  With p->mu held. */
static void parent_open_locked(shoal_process *p)
{
  if (p->fd >= 0 || p->phase == P_ENDED)
    return;
  int fd = -1;
  /* Our parent's pid is ours to check only while it is our parent. */
  if (shoal__plat_proc_open(p->pid, &fd) == 0 && getppid() == p->pid) {
    p->fd = fd;
    return;
  }
  if (fd >= 0 && getppid() != p->pid)
    close(fd);
  p->phase = P_ENDED;
  p->exitcode = SHOAL_EXITCODE_UNKNOWN;
}

static bool parent_ended_locked(shoal_process *p)
{
  parent_open_locked(p);
  if (p->phase == P_STARTED && shoal__plat_proc_wait(p->fd, 0) == 0) {
    p->phase = P_ENDED;
    p->exitcode = SHOAL_EXITCODE_UNKNOWN;
  }
  return p->phase == P_ENDED;
}

/* Common checks of calls that need a started child; returns 0 or an error. */
static int check_started(shoal_process *p)
{
  if (p->phase == P_CLOSED)
    return SHOAL_ECLOSED;
  if (p->kind == PK_CHILD && p->phase == P_CREATED)
    return SHOAL_ENOTSTARTED;
  if (foreign(p))
    return SHOAL_EPERM;
  return 0;
}

int shoal__process_launch(shoal_process *p, struct shoal__proc_status *st, int st_fd)
{
  if (p->method == SHOAL_START_SPAWN)
    return shoal__spawn_start(p, st_fd);
  int pid = shoal__plat_fork();
  if (pid == 0) {
    shoal__self_become_child(st, st->parent_pid);
    shoal__child_run(p->target, p->args, p->len);
  }
  return pid;
}

int shoal_process_start(shoal_process *p)
{
  if (!p || p->kind != PK_CHILD)
    return SHOAL_EINVAL;
  if (shoal__spawn_pending()) {
    static const char msg[] = "shoal: a spawn child tried to start a process before entering its "
                              "target: call shoal_spawn_main() first thing in main()\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
      return SHOAL_EPERM;
    return SHOAL_EPERM;
  }
  /* Collect the children that have ended, as Python's Process.start does:
   * children started and never joined leave no zombie, pidfd or status
   * block behind. */
  shoal__reap_ended();
  pthread_mutex_lock(&p->mu);
  int rc = 0;
  if (p->phase != P_CREATED) {
    rc = p->phase == P_CLOSED ? SHOAL_ECLOSED : SHOAL_EBUSY;
    goto out;
  }
  int st_fd = -1;
  size_t size = sizeof(struct shoal__proc_status);
  if (p->method == SHOAL_START_SPAWN) {
    size += p->len;
    size_t page = shoal__plat_page_size();
    size = (size + page - 1) / page * page;
    void *addr;
    if ((rc = shoal__plat_memfd(size, &st_fd, &addr)) != 0)
      goto out;
    p->st = addr;
  } else {
    size = shoal__plat_page_size();
    if (!(p->st = shoal__status_get())) {
      rc = SHOAL_ENOMEM;
      goto out;
    }
  }
  p->st_size = size;
  struct shoal__proc_status *st = p->st;
  st->magic = SHOAL__STATUS_MAGIC;
  st->parent_pid = shoal__self.proc.pid;
  memcpy(st->parent_name, shoal__self.proc.name, sizeof st->parent_name);
  st->daemon = (uint32_t)p->daemon;
  memcpy(st->name, p->name, sizeof st->name);
  memcpy(st->identity, p->identity, sizeof st->identity);
  if (p->entry) {
    snprintf(st->entry, sizeof st->entry, "%s", p->entry->name);
    st->args_len = p->len;
    if (p->len)
      memcpy(st + 1, p->args, p->len);
  }
  /* Buffered output would otherwise be written by the child again. */
  fflush(NULL);

  /* A daemon child dies with the thread that forks it (Linux's parent-death
   * signal follows the thread): from any thread but the main one, the
   * forker, which lasts as long as the process, starts it. */
  int pid = p->daemon && shoal__plat_gettid() != shoal__self.proc.pid
                ? shoal__forker_launch(p, st, st_fd)
                : shoal__process_launch(p, st, st_fd);
  if (st_fd >= 0)
    close(st_fd);
  if (pid < 0) {
    rc = pid;
    release_status(p);
    goto out;
  }
  p->pid = pid;
  p->owner = st->parent_pid;
  p->phase = P_STARTED;
  if (shoal__plat_children_reaped_elsewhere()) {
    rc = open_handle_locked(p);
    if (rc != 0) {
      /* A child we cannot watch must not run unwatched. */
      kill(pid, SIGKILL);
      p->phase = P_CREATED;
      p->pid = 0;
      release_status(p); /* not to the cache: the child may still write it */
      goto out;
    }
    if (p->phase == P_ENDED)
      goto out; /* reaped already, by someone else */
  }
  shoal__registry_add(p);
out:
  pthread_mutex_unlock(&p->mu);
  return rc;
}

int shoal_process_join(shoal_process *p, shoal_duration timeout)
{
  shoal__deadline d;
  if (!p)
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  if (p->kind == PK_SELF)
    return SHOAL_EDEADLK;
  pthread_mutex_lock(&p->mu);
  if ((rc = check_started(p)) != 0)
    goto out;
  /* A running child is waited for before it is reaped, not tried first:
   * one system call fewer for the usual join of a child still at work (the
   * wait returns at once if it has ended already). */
  bool look = p->kind == PK_PARENT || p->phase != P_STARTED;
  for (;;) {
    /* Closed by another thread while we waited: close succeeds only once the
     * child has ended, so this join is over too. */
    if (p->phase == P_CLOSED)
      break;
    if (look && (p->kind == PK_PARENT ? parent_ended_locked(p) : collect_locked(p)))
      break;
    look = true;
    /* One blocking wait on the handle: no polling loop.  While any joiner
     * waits, close leaves the fd open (fd_closing), so the fd we wait on is
     * never another file that took its number. */
    if (p->kind == PK_CHILD && (d.at != SHOAL__PLAT_NEVER || p->fd >= 0)) {
      if ((rc = open_handle_locked(p)) != 0)
        break;
      if (p->phase != P_STARTED)
        continue;
    }
    int fd = p->fd;
    p->waiters++;
    pthread_mutex_unlock(&p->mu);
    /* Without a deadline or a handle, waitid on the pid of our own unreaped
     * child; its SHOAL_ENOENT (reaped by someone else) is an end too, which
     * collect_locked then records. */
    int w = 0;
    if (fd >= 0)
      w = shoal__plat_proc_wait(fd, d.at);
    else
      (void)shoal__plat_proc_wait_pid(p->pid);
    pthread_mutex_lock(&p->mu);
    if (--p->waiters == 0 && p->fd_closing >= 0) {
      close(p->fd_closing);
      p->fd_closing = -1;
    }
    if (w != 0) {
      rc = shoal__deadline_code(&d);
      break;
    }
  }
out:
  pthread_mutex_unlock(&p->mu);
  return rc;
}

/* With p->mu held: SHOAL_ECLOSED, SHOAL_EPERM (another process's child), or
 * whether the child has ended (1) or not (0: still running, or, with
 * *started false, never started), collecting its status when it has. */
static int ended_locked(shoal_process *p, bool *started)
{
  *started = p->phase != P_CREATED;
  if (p->phase == P_CLOSED)
    return SHOAL_ECLOSED;
  if (!*started)
    return 0;
  if (foreign(p))
    return SHOAL_EPERM;
  return p->kind == PK_PARENT ? parent_ended_locked(p) : collect_locked(p);
}

int shoal_process_is_alive(shoal_process *p)
{
  if (!p)
    return SHOAL_EINVAL;
  if (p->kind == PK_SELF)
    return 1;
  bool started;
  pthread_mutex_lock(&p->mu);
  int rc = ended_locked(p, &started);
  pthread_mutex_unlock(&p->mu);
  return rc < 0 ? rc : started && !rc;
}

int shoal_process_exitcode(shoal_process *p, int *code)
{
  if (!p || !code)
    return SHOAL_EINVAL;
  if (p->kind == PK_SELF)
    return 0;
  bool started;
  pthread_mutex_lock(&p->mu);
  int rc = ended_locked(p, &started);
  if (rc == 1)
    *code = p->exitcode;
  pthread_mutex_unlock(&p->mu);
  return rc;
}

static int send_signal(shoal_process *p, int sig)
{
  if (!p || p->kind != PK_CHILD)
    return SHOAL_EINVAL;
  pthread_mutex_lock(&p->mu);
  int rc = check_started(p);
  if (rc == 0 && p->phase == P_STARTED)
    rc = open_handle_locked(p);
  if (rc == 0 && p->phase == P_STARTED) {
    p->sent_signal = sig;
    rc = shoal__plat_proc_signal(p->fd, sig);
  }
  pthread_mutex_unlock(&p->mu);
  return rc;
}

int shoal_process_terminate(shoal_process *p)
{
  return send_signal(p, SIGTERM);
}

int shoal_process_kill(shoal_process *p)
{
  return send_signal(p, SIGKILL);
}

int shoal_process_interrupt(shoal_process *p)
{
  return send_signal(p, SIGINT);
}

int shoal_process_close(shoal_process *p)
{
  if (!p || p->kind != PK_CHILD)
    return SHOAL_EINVAL;
  pthread_mutex_lock(&p->mu);
  int rc = 0;
  if (p->phase == P_CLOSED)
    goto out;
  if (foreign(p)) {
    rc = SHOAL_EPERM;
    goto out;
  }
  if (p->phase == P_STARTED && !collect_locked(p)) {
    rc = SHOAL_EBUSY;
    goto out;
  }
  if (p->fd >= 0 && p->waiters > 0)
    p->fd_closing = p->fd; /* joiners wait on it: the last of them closes it */
  else if (p->fd >= 0)
    close(p->fd);
  p->fd = -1;
  release_status(p);
  p->phase = P_CLOSED;
out:
  pthread_mutex_unlock(&p->mu);
  return rc;
}

int shoal_process_sentinel(shoal_process *p)
{
  if (!p || p->kind == PK_SELF)
    return SHOAL_EINVAL;
  pthread_mutex_lock(&p->mu);
  int rc = check_started(p);
  if (rc == 0 && p->kind == PK_PARENT)
    parent_open_locked(p);
  else if (rc == 0)
    rc = open_handle_locked(p);
  if (rc == 0)
    rc = p->fd >= 0 ? p->fd : SHOAL_ENOENT;
  pthread_mutex_unlock(&p->mu);
  return rc;
}

int shoal_process_pid(const shoal_process *p)
{
  if (!p)
    return SHOAL_EINVAL;
  return p->kind == PK_SELF ? (int)getpid() : p->pid;
}

const char *shoal_process_name(const shoal_process *p)
{
  return p ? p->name : NULL;
}

int shoal_process_set_name(shoal_process *p, const char *name)
{
  if (!p)
    return SHOAL_EINVAL;
  int rc = check_name(name);
  if (rc)
    return rc;
  strcpy(p->name, name);
  return 0;
}

int shoal_process_daemon(const shoal_process *p)
{
  return p ? p->daemon : SHOAL_EINVAL;
}

int shoal_process_set_daemon(shoal_process *p, int daemon)
{
  if (!p || p->kind != PK_CHILD)
    return SHOAL_EINVAL;
  pthread_mutex_lock(&p->mu);
  int rc = p->phase == P_CREATED ? 0 : p->phase == P_CLOSED ? SHOAL_ECLOSED : SHOAL_EBUSY;
  if (rc == 0)
    p->daemon = daemon != 0;
  pthread_mutex_unlock(&p->mu);
  return rc;
}

const char *shoal_process_message(const shoal_process *p)
{
  return p ? p->message : NULL;
}

const char *shoal_process_error(const shoal_process *p)
{
  return p ? p->error : NULL;
}

int shoal_process_set_reporting(int on)
{
  return atomic_exchange(&reporting, on != 0);
}

int shoal_set_start_method(int method)
{
  if (method != SHOAL_START_FORK && method != SHOAL_START_SPAWN)
    return SHOAL_EINVAL;
  atomic_store(&default_method, method);
  return 0;
}

int shoal_get_start_method(void)
{
  return atomic_load(&default_method);
}
