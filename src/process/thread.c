// SPDX-License-Identifier: MIT
// Thread: a detached pthread with a name, a daemon flag and a join that
// takes a timeout (a futex wait on the thread's phase word, so any number of
// threads may join).  A registry of the threads alive serves current_thread,
// enumerate, active_count and join_all.
//
// Invariants: a thread's handle is referenced by its owner and, from start
// until it has published its end, by the running thread itself; the running
// thread touches the handle last in its final unref.
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/deadline.h"
#include "process/internal.h"

enum { T_NORMAL, T_MAIN, T_DUMMY };
enum { TP_CREATED, TP_RUNNING, TP_ENDED };

struct shoal_thread {
  _Atomic int refs;
  int kind;
  shoal_thread_target target;
  void *arg;
  char name[SHOAL_THREAD_NAME_MAX + 1];
  int daemon;
  size_t stack_size;
  _Atomic uint32_t phase; /* TP_*; joiners sleep on it */
  _Atomic uint64_t ident;
  _Atomic int tid;
  shoal_thread *prev, *next; /* the registry of threads alive */
  bool listed;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static shoal_thread *reg_head;
static _Atomic int n_normal; /* listed threads that shoal started */
static _Atomic unsigned thread_counter, dummy_counter;
static shoal_thread main_obj;
static shoal_thread *main_ptr;
static _Thread_local shoal_thread *current;
/* current is another thread's Thread, worn by the forker (forker.c) */
static _Thread_local bool borrowed;
static pthread_key_t dummy_key;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void list_add_locked(shoal_thread *t)
{
  if (t->kind == T_NORMAL)
    atomic_fetch_add(&n_normal, 1);
  t->prev = NULL;
  t->next = reg_head;
  if (reg_head)
    reg_head->prev = t;
  reg_head = t;
  t->listed = true;
}

static void list_remove_locked(shoal_thread *t)
{
  if (!t->listed)
    return;
  if (t->kind == T_NORMAL)
    atomic_fetch_sub(&n_normal, 1);
  if (t->prev)
    t->prev->next = t->next;
  else
    reg_head = t->next;
  if (t->next)
    t->next->prev = t->prev;
  t->listed = false;
}

static void unref(shoal_thread *t)
{
  if (t->kind == T_NORMAL && atomic_fetch_sub(&t->refs, 1) == 1)
    free(t);
}

static void dummy_gone(void *arg)
{
  shoal_thread *t = arg;
  pthread_mutex_lock(&reg_mu);
  list_remove_locked(t);
  pthread_mutex_unlock(&reg_mu);
  atomic_store_explicit(&t->phase, TP_ENDED, memory_order_release);
  /* Dummies carry no owner reference: enumerate's are the only ones left. */
  if (atomic_fetch_sub(&t->refs, 1) == 1)
    free(t);
}

static void init(void)
{
  pthread_key_create(&dummy_key, dummy_gone);
  main_obj.kind = T_MAIN;
  strcpy(main_obj.name, "MainThread");
  atomic_init(&main_obj.phase, TP_RUNNING);
  pthread_mutex_lock(&reg_mu);
  if (!main_ptr) {
    main_ptr = &main_obj;
    list_add_locked(&main_obj);
  }
  pthread_mutex_unlock(&reg_mu);
}

static void fork_prepare(void)
{
  pthread_mutex_lock(&reg_mu);
}

static void fork_parent(void)
{
  pthread_mutex_unlock(&reg_mu);
}

static void fork_child(void)
{
  /* Only the forking thread exists here; it is the child's main thread.  It
   * took reg_mu in fork_prepare, so the registry is consistent. */
  shoal_thread *me = current;
  /* A thread shoal knows keeps its ident (fork gives the child the forking
   * thread's pthread_t), unless the forker forked wearing it.  Its tid is
   * new. */
  bool new_ident = !me || borrowed;
  if (borrowed)
    borrowed = false;
  for (shoal_thread *t = reg_head; t; t = t->next)
    if (t != me)
      atomic_store(&t->phase, TP_ENDED);
  reg_head = NULL;
  atomic_store(&n_normal, 0);
  if (!me) {
    /* A thread shoal never saw: it becomes the main thread. */
    me = &main_obj;
    atomic_store(&me->phase, TP_RUNNING);
    current = me;
  }
  if (new_ident)
    atomic_store(&me->ident, (uint64_t)pthread_self());
  atomic_store(&me->tid, (int)getpid());
  me->daemon = 0;
  main_ptr = me;
  list_add_locked(me);
  pthread_mutex_unlock(&reg_mu);
}

/* The main thread's identity, captured while it is the only thread. */
static void capture_main(void)
{
  pthread_once(&init_once, init);
  atomic_store(&main_obj.ident, (uint64_t)pthread_self());
  atomic_store(&main_obj.tid, shoal__plat_gettid());
  current = &main_obj;
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void shoal__thread_init(void)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, capture_main);
}

/* Priority 101, the first a program may use: before SHOAL_SPAWN_MAIN_CONSTRUCTOR
 * (102), which runs a spawn child's target, and before any default-priority
 * constructor of the program.  shoal_spawn_main calls it too. */
__attribute__((constructor(101))) static void thread_constructor(void)
{
  shoal__thread_init();
}

static int check_name(const char *name)
{
  if (!name || !*name)
    return SHOAL_EINVAL;
  return strlen(name) > SHOAL_THREAD_NAME_MAX ? SHOAL_ENAMETOOLONG : 0;
}

int shoal_thread_create(shoal_thread **out, shoal_thread_target target, void *arg,
                        const shoal_thread_opts *opts)
{
  if (!out || !target)
    return SHOAL_EINVAL;
  if (opts) {
    for (size_t i = 0; i < sizeof opts->reserved / sizeof opts->reserved[0]; i++)
      if (opts->reserved[i])
        return SHOAL_EINVAL;
    if (opts->name) {
      int rc = check_name(opts->name);
      if (rc)
        return rc;
    }
  }
  shoal_thread *t = calloc(1, sizeof *t);
  if (!t)
    return SHOAL_ENOMEM;
  atomic_init(&t->refs, 1);
  t->kind = T_NORMAL;
  t->target = target;
  t->arg = arg;
  if (opts && opts->name)
    strcpy(t->name, opts->name);
  else
    snprintf(t->name, sizeof t->name, "Thread-%u", atomic_fetch_add(&thread_counter, 1) + 1);
  t->stack_size = opts ? opts->stack_size : 0;
  shoal_thread *self = shoal_current_thread();
  t->daemon = self ? self->daemon : 0;
  *out = t;
  return 0;
}

static void *trampoline(void *arg)
{
  shoal_thread *t = arg;
  current = t;
  atomic_store(&t->tid, shoal__plat_gettid());
  shoal__plat_set_thread_name(t->name);
  t->target(t->arg);
  pthread_mutex_lock(&reg_mu);
  list_remove_locked(t);
  pthread_mutex_unlock(&reg_mu);
  current = NULL;
  /* Release: everything the target did is visible to a joiner that sees
   * TP_ENDED.  Pairs with the acquire loads in shoal_thread_join. */
  atomic_store_explicit(&t->phase, TP_ENDED, memory_order_release);
  shoal__plat_wake(&t->phase, INT_MAX);
  unref(t);
  return NULL;
}

int shoal_thread_start(shoal_thread *t)
{
  if (!t)
    return SHOAL_EINVAL;
  uint32_t expected = TP_CREATED;
  if (t->kind != T_NORMAL || !atomic_compare_exchange_strong(&t->phase, &expected, TP_RUNNING))
    return SHOAL_EBUSY;
  pthread_once(&init_once, init);
  atomic_fetch_add(&t->refs, 1);
  pthread_mutex_lock(&reg_mu);
  list_add_locked(t);
  pthread_mutex_unlock(&reg_mu);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = t->stack_size ? pthread_attr_setstacksize(&attr, t->stack_size) : 0;
  pthread_t pt;
  if (rc == 0)
    rc = pthread_create(&pt, &attr, trampoline, t);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    pthread_mutex_lock(&reg_mu);
    list_remove_locked(t);
    pthread_mutex_unlock(&reg_mu);
    atomic_fetch_sub(&t->refs, 1);
    atomic_store(&t->phase, TP_CREATED);
    return rc == EINVAL ? SHOAL_EINVAL : rc == EAGAIN ? SHOAL_EAGAIN : SHOAL_ENOMEM;
  }
  atomic_store(&t->ident, (uint64_t)pt);
  return 0;
}

int shoal_thread_join(shoal_thread *t, shoal_duration timeout)
{
  shoal__deadline d;
  if (!t)
    return SHOAL_EINVAL;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  uint32_t ph = atomic_load_explicit(&t->phase, memory_order_acquire);
  if (ph == TP_CREATED)
    return SHOAL_ENOTSTARTED;
  if (t == current)
    return SHOAL_EDEADLK;
  while (ph != TP_ENDED) {
    if (d.nowait || shoal__plat_wait(&t->phase, ph, d.at) == SHOAL_ETIMEDOUT) {
      if (atomic_load_explicit(&t->phase, memory_order_acquire) == TP_ENDED)
        break;
      return shoal__deadline_code(&d);
    }
    ph = atomic_load_explicit(&t->phase, memory_order_acquire);
  }
  return 0;
}

int shoal_thread_is_alive(shoal_thread *t)
{
  if (!t)
    return SHOAL_EINVAL;
  return atomic_load_explicit(&t->phase, memory_order_acquire) == TP_RUNNING;
}

void shoal_thread_destroy(shoal_thread *t)
{
  if (t)
    unref(t);
}

const char *shoal_thread_name(const shoal_thread *t)
{
  return t ? t->name : NULL;
}

int shoal_thread_set_name(shoal_thread *t, const char *name)
{
  if (!t)
    return SHOAL_EINVAL;
  int rc = check_name(name);
  if (rc)
    return rc;
  snprintf(t->name, sizeof t->name, "%s", name);
  if (t == current)
    shoal__plat_set_thread_name(t->name);
  return 0;
}

uint64_t shoal_thread_ident(const shoal_thread *t)
{
  return t ? atomic_load(&((shoal_thread *)t)->ident) : 0;
}

int shoal_thread_native_id(const shoal_thread *t)
{
  return t ? atomic_load(&((shoal_thread *)t)->tid) : 0;
}

int shoal_thread_daemon(const shoal_thread *t)
{
  return t ? t->daemon : SHOAL_EINVAL;
}

int shoal_thread_set_daemon(shoal_thread *t, int daemon)
{
  if (!t || t->kind != T_NORMAL)
    return SHOAL_EINVAL;
  if (atomic_load(&t->phase) != TP_CREATED)
    return SHOAL_EBUSY;
  t->daemon = daemon != 0;
  return 0;
}

shoal_thread *shoal__thread_borrow(shoal_thread *t)
{
  shoal_thread *was = current;
  current = t;
  borrowed = true;
  return was;
}

void shoal__thread_give_back(shoal_thread *own)
{
  current = own;
  borrowed = false;
}

shoal_thread *shoal__thread_known_current(void)
{
  return current;
}

shoal_thread *shoal_current_thread(void)
{
  if (current)
    return current;
  pthread_once(&init_once, init);
  if (shoal__plat_gettid() == getpid() && main_ptr == &main_obj) {
    current = &main_obj;
    return current;
  }
  /* A thread shoal did not start: a dummy, alive until the thread exits. */
  shoal_thread *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  atomic_init(&t->refs, 1);
  t->kind = T_DUMMY;
  snprintf(t->name, sizeof t->name, "Dummy-%u", atomic_fetch_add(&dummy_counter, 1) + 1);
  t->daemon = 1;
  atomic_init(&t->phase, TP_RUNNING);
  atomic_init(&t->ident, (uint64_t)pthread_self());
  atomic_init(&t->tid, shoal__plat_gettid());
  pthread_mutex_lock(&reg_mu);
  list_add_locked(t);
  pthread_mutex_unlock(&reg_mu);
  pthread_setspecific(dummy_key, t);
  current = t;
  return t;
}

shoal_thread *shoal_main_thread(void)
{
  pthread_once(&init_once, init);
  return main_ptr;
}

int shoal_active_count(void)
{
  pthread_once(&init_once, init);
  int n = 0;
  pthread_mutex_lock(&reg_mu);
  for (shoal_thread *t = reg_head; t; t = t->next)
    n++;
  pthread_mutex_unlock(&reg_mu);
  return n;
}

int shoal_enumerate(shoal_thread **out, int max)
{
  if (max < 0 || (!out && max > 0))
    return SHOAL_EINVAL;
  pthread_once(&init_once, init);
  int n = 0;
  pthread_mutex_lock(&reg_mu);
  if (main_ptr && main_ptr->listed && max > 0) {
    if (main_ptr->kind != T_MAIN)
      atomic_fetch_add(&main_ptr->refs, 1);
    out[n] = main_ptr;
  }
  if (main_ptr && main_ptr->listed)
    n++;
  for (shoal_thread *t = reg_head; t; t = t->next) {
    if (t == main_ptr)
      continue;
    if (n < max) {
      if (t->kind != T_MAIN)
        atomic_fetch_add(&t->refs, 1);
      out[n] = t;
    }
    n++;
  }
  pthread_mutex_unlock(&reg_mu);
  return n;
}

int shoal_thread_join_all(shoal_duration timeout)
{
  shoal__deadline d;
  int rc = shoal__deadline_init(&d, timeout);
  if (rc)
    return rc;
  for (;;) {
    if (atomic_load(&n_normal) == 0)
      return 0; /* no thread shoal started is alive: nothing to write or lock */
    /* Find one non-daemon thread still running, take a reference, wait. */
    shoal_thread *wait_for = NULL;
    pthread_mutex_lock(&reg_mu);
    for (shoal_thread *t = reg_head; t; t = t->next) {
      if (t->kind == T_NORMAL && !t->daemon && t != current) {
        atomic_fetch_add(&t->refs, 1);
        wait_for = t;
        break;
      }
    }
    pthread_mutex_unlock(&reg_mu);
    if (!wait_for)
      return 0;
    shoal_duration left = SHOAL_FOREVER;
    if (d.at != SHOAL__PLAT_NEVER) {
      uint64_t now = shoal__plat_now();
      left = d.at > now ? (shoal_duration)(d.at - now) : SHOAL_NOWAIT;
    }
    rc = shoal_thread_join(wait_for, left);
    unref(wait_for);
    if (rc == SHOAL_EAGAIN && !d.nowait)
      rc = SHOAL_ETIMEDOUT;
    if (rc)
      return rc;
  }
}
