// SPDX-License-Identifier: MIT
// The calling process: its own Process (current_process), its parent's
// (parent_process), the registry of the children it runs (active_children),
// what a child does when its target ends, and what every process does at
// exit (terminate daemon children, join the others).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "process/internal.h"

struct shoal__self shoal__self;

static pthread_once_t self_once = PTHREAD_ONCE_INIT;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static shoal_process *reg_head;
static _Atomic int n_listed; /* children in the registry, read without the lock */

/* Status pages of ended fork children, ready for the next one. */
#define STATUS_CACHE 16
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct shoal__proc_status *cache[STATUS_CACHE];
static int n_cached;

static void init_handle(shoal_process *p, int kind, const char *name)
{
  p->mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
  atomic_init(&p->refs, 1);
  p->kind = kind;
  p->phase = P_STARTED;
  p->fd = -1;
  p->fd_closing = -1;
  /* A loop, not strnlen or snprintf: a fork child pays a page fault for
   * each libc code page it runs (see shoal_process_create). */
  size_t n = 0;
  for (; n < sizeof p->name - 1 && name[n]; n++)
    p->name[n] = name[n];
  p->name[n] = '\0';
}

static void self_init_once(void)
{
  init_handle(&shoal__self.proc, PK_SELF, "MainProcess");
  shoal__self.proc.pid = getpid();
}

void shoal__self_init(void)
{
  pthread_once(&self_once, self_init_once);
}

static void fork_child(void)
{
  /* The parent's children are not ours, nor its cached status pages (it
   * hands them out).  Whatever state another thread of the parent left the
   * lists in, the child drops them whole, so no lock is taken around fork:
   * the parent writes nothing after fork (each page it writes would fault).
   * Plain stores, not pthread_mutex_init: each libc code page the child runs
   * costs it a page fault too. */
  reg_mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
  reg_head = NULL;
  atomic_store_explicit(&n_listed, 0, memory_order_relaxed);
  cache_mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
  n_cached = 0;
  /* A plain fork() of a shoal child is not a shoal child: its status block
   * is its parent's. */
  shoal__self.st = NULL;
  shoal__self.proc.pid = getpid();
  shoal__self.proc.mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
  shoal__self.parent.mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
  if (shoal__forker_owner)
    shoal__forker_forget();
}

static void register_fork_handlers(void)
{
  shoal__self_init();
  pthread_atfork(NULL, NULL, fork_child);
}

void shoal__process_init(void)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_fork_handlers);
}

/* Priority 101: see thread.c's constructor. */
__attribute__((constructor(101))) static void process_constructor(void)
{
  shoal__process_init();
}

void shoal__self_become_child(struct shoal__proc_status *st, int parent_pid)
{
  shoal__self_init();
  shoal__self.st = st;
  shoal__self.counter = 0;
  shoal_process *parent = &shoal__self.parent;
  if (shoal__self.has_parent && parent->fd >= 0)
    close(parent->fd); /* the grandparent's handle, from our parent's memory */
  memset(parent, 0, sizeof *parent);
  init_handle(parent, PK_PARENT, st->parent_name);
  parent->pid = parent_pid;
  shoal__self.has_parent = true;
  shoal_process *me = &shoal__self.proc;
  /* me->pid is ours already: fork_child or self_init_once set it. */
  memcpy(me->name, st->name, sizeof me->name);
  memcpy(me->identity, st->identity, sizeof me->identity);
  me->daemon = (int)st->daemon;
  if (me->daemon && shoal__plat_die_with_parent(parent_pid) != 0)
    raise(SIGKILL); /* the parent is gone already: die as its death would have made us */
  shoal__plat_set_thread_name(me->name);
}

static __attribute__((noreturn)) void child_finish(int code, uint32_t state)
{
  struct shoal__proc_status *st = shoal__self.st;
  st->code = code;
  atomic_store_explicit(&st->state, state, memory_order_release);
  /* As Python: wait for our non-daemon threads, settle our own children. */
  shoal_thread_join_all(SHOAL_FOREVER);
  shoal__exit_children();
  /* stdout and stderr, as Python's child flushes sys.stdout and sys.stderr
   * before os._exit: the other streams the parent had were flushed before
   * the fork, and those the target opened are its to close. */
  shoal__plat_flush_std();
  _exit(code & 0xff);
}

void shoal__child_run(shoal_process_target target, void *args, size_t len)
{
  atomic_store_explicit(&shoal__self.st->state, PS_ENTERED, memory_order_release);
  child_finish(target(args, len), PS_RETURNED);
}

void shoal_process_fail(const char *fmt, ...)
{
  va_list ap;
  struct shoal__proc_status *st = shoal__self.st;
  va_start(ap, fmt);
  if (st) {
    vsnprintf(st->message, sizeof st->message, fmt ? fmt : "", ap);
    va_end(ap);
    child_finish(1, PS_FAILED);
  }
  if (fmt)
    vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static void at_exit(void)
{
  shoal__exit_children();
}

static void register_atexit(void)
{
  atexit(at_exit);
}

struct shoal__proc_status *shoal__status_get(void)
{
  struct shoal__proc_status *st = NULL;
  pthread_mutex_lock(&cache_mu);
  if (n_cached > 0)
    st = cache[--n_cached];
  pthread_mutex_unlock(&cache_mu);
  if (st) {
    memset(st, 0, shoal__plat_page_size());
    return st;
  }
  void *addr;
  return shoal__plat_map_anon(shoal__plat_page_size(), &addr) == 0 ? addr : NULL;
}

void shoal__status_put(struct shoal__proc_status *st)
{
  pthread_mutex_lock(&cache_mu);
  if (n_cached < STATUS_CACHE) {
    cache[n_cached++] = st;
    st = NULL;
  }
  pthread_mutex_unlock(&cache_mu);
  if (st)
    shoal__plat_unmap(st, shoal__plat_page_size());
}

void shoal__registry_add(shoal_process *p)
{
  pthread_once(&atexit_once, register_atexit);
  atomic_fetch_add(&p->refs, 1);
  pthread_mutex_lock(&reg_mu);
  p->prev = NULL;
  p->next = reg_head;
  if (reg_head)
    reg_head->prev = p;
  reg_head = p;
  p->listed = true;
  atomic_fetch_add(&n_listed, 1);
  pthread_mutex_unlock(&reg_mu);
}

void shoal__registry_remove(shoal_process *p)
{
  pthread_mutex_lock(&reg_mu);
  bool was = p->listed;
  if (was) {
    if (p->prev)
      p->prev->next = p->next;
    else
      reg_head = p->next;
    if (p->next)
      p->next->prev = p->prev;
    p->listed = false;
    atomic_fetch_sub(&n_listed, 1);
  }
  pthread_mutex_unlock(&reg_mu);
  /* The caller holds a reference too, so this never frees p. */
  if (was)
    atomic_fetch_sub(&p->refs, 1);
}

/* Takes a reference to every listed child; returns a malloc'd array. */
static shoal_process **snapshot(int *n_out)
{
  pthread_mutex_lock(&reg_mu);
  int n = 0;
  for (shoal_process *p = reg_head; p; p = p->next)
    n++;
  shoal_process **v = malloc((size_t)(n ? n : 1) * sizeof *v);
  if (!v) {
    pthread_mutex_unlock(&reg_mu);
    *n_out = -1;
    return NULL;
  }
  n = 0;
  for (shoal_process *p = reg_head; p; p = p->next) {
    atomic_fetch_add(&p->refs, 1);
    v[n++] = p;
  }
  pthread_mutex_unlock(&reg_mu);
  *n_out = n;
  return v;
}

void shoal__exit_children(void)
{
  int n;
  /* A child that started no children of its own (the usual case) writes
   * nothing here: every page it writes costs it a copy. */
  if (atomic_load(&n_listed) == 0)
    return;
  shoal_process **v = snapshot(&n);
  if (!v)
    return;
  for (int i = 0; i < n; i++)
    if (v[i]->daemon)
      shoal_process_terminate(v[i]);
  for (int i = 0; i < n; i++) {
    shoal_process_join(v[i], SHOAL_FOREVER);
    shoal__process_unref(v[i]);
  }
  free(v);
}

int shoal_active_children(shoal_process **out, int max)
{
  if (max < 0 || (!out && max > 0))
    return SHOAL_EINVAL;
  int n;
  shoal_process **v = snapshot(&n);
  if (!v)
    return SHOAL_ENOMEM;
  int alive = 0;
  for (int i = 0; i < n; i++) {
    if (shoal_process_is_alive(v[i]) == 1) {
      if (alive < max) {
        out[alive++] = v[i];
        continue;
      }
      alive++;
    }
    shoal__process_unref(v[i]);
  }
  free(v);
  return alive;
}

void shoal__reap_ended(void)
{
  /* No child listed (the usual case in a child): no lock, no write. */
  if (atomic_load(&n_listed) == 0)
    return;
  shoal_active_children(NULL, 0);
}

shoal_process *shoal_current_process(void)
{
  shoal__self_init();
  return &shoal__self.proc;
}

shoal_process *shoal_parent_process(void)
{
  return shoal__self.has_parent ? &shoal__self.parent : NULL;
}

int shoal_cpu_count(void)
{
  return shoal__plat_cpu_count();
}
