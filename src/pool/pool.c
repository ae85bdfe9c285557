// SPDX-License-Identifier: MIT
// The pool: creation, its two threads and its end.
//
// The collector thread starts the workers (so that worker processes, daemon
// children, die with the thread that lives as long as the pool), reads the
// result queue, stores results in their futures, puts backlog work into the
// task queue as room appears, and handles workers that end: it keeps the
// results a dead worker left in its scratch, fails the task it was running,
// gives its unstarted tasks back and starts a replacement.  The keeper thread
// (process pools) polls the workers' process handles and, when one ends,
// joins it and puts an RM_EXIT notice into the result queue — after every
// result the worker published, so the collector sees them first.  Worker
// threads put that notice themselves.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "pool/internal.h"
#include "queue/queue_internal.h"

#define SCRATCH_SIZE ((size_t)256 << 10)
#define CANCEL_SLOTS 16384u
#define TASK_QUEUE_MAXSIZE (CANCEL_SLOTS / 2)
#define QUEUE_MIN_CAPACITY ((size_t)4 << 20)
#define DEFAULT_MAX_ARG ((size_t)1 << 20)
#define MAX_MAX_ARG ((size_t)1 << 30)
#define TERM_GRACE_NS 200000000u

static const char SPAWN_ENTRY[] = "shoal__pool_spawn_worker";

void shoal__pool_lock_unref(struct pool_lock *lk)
{
  if (atomic_fetch_sub(&lk->refs, 1) != 1)
    return;
  pthread_mutex_destroy(&lk->mu);
  free(lk);
}

/* ---- ends of jobs -------------------------------------------------------------------- */

void shoal__pool_idle(shoal_pool *pool)
{
  if (pool->state == PS_CLOSE && pool->njobs == 0 && !pool->tasks_shut) {
    shoal_queue_shutdown(pool->tasks, 0);
    pool->tasks_shut = true;
  }
}

/* With the lock held: every unfinished job fails with code, the backlog is
 * dropped, the queued tasks are discarded, and the pool enters `state`. */
static void stop_locked(shoal_pool *pool, int state, int code, const char *msg,
                        struct shoal_future **done)
{
  pool->state = state;
  for (size_t b = 0; b < pool->table_size; b++) {
    /* Aborting unlinks the job from this very chain. */
    while (pool->table[b]) {
      struct shoal_future *f = pool->table[b];
      shoal__job_abort(pool, f, code, msg);
      shoal__job_mark(done, f);
      if (pool->table[b] == f)
        shoal__job_unlink(pool, f);
    }
  }
  while (pool->backlog) {
    struct source *s = pool->backlog;
    pool->backlog = s->next;
    shoal__future_unref(s->job);
    free(s->redo);
    free(s);
  }
  pool->backlog_tail = &pool->backlog;
  pool->nstaged = 0;
  pool->stage_len = 0;
  if (!pool->tasks_shut) {
    shoal_queue_shutdown(pool->tasks, 1);
    pool->tasks_shut = true;
  }
}

/* With the lock held: signals every live worker process. */
static void signal_workers(shoal_pool *pool, bool kill_now)
{
  for (int i = 0; i < pool->nworkers; i++) {
    struct wlocal *w = &pool->w[i];
    if (w->live && w->proc)
      kill_now ? shoal_process_kill(w->proc) : shoal_process_terminate(w->proc);
  }
}

/* ---- workers ------------------------------------------------------------------------- */

struct spawn_args {
  int tasks_fd, results_fd, region_fd;
  uint32_t slot;
  uint64_t gen;
  long maxtasks;
  char init_name[POOL_NAME_LEN];
  uint64_t initargs_len;
  /* the initializer's arguments follow */
};

static void wake_keeper(shoal_pool *pool)
{
  if (pool->evfd[1] >= 0) {
    struct iovec v = {"x", 1};
    shoal__plat_writev(pool->evfd[1], &v, 1);
  }
}

/* With the lock held, from the collector thread: starts a worker in slot i. */
static int start_worker(shoal_pool *pool, int i)
{
  struct wlocal *w = &pool->w[i];
  struct wslot *s = pool_slot(pool->sh, (uint32_t)i);
  atomic_store(&s->claim_state, CS_NONE);
  atomic_store(&s->running, 0);
  atomic_store(&s->valid, 0);
  atomic_store(&s->init_failed, 0);
  atomic_store(&s->pid, 0);
  w->gen++;
  w->exit_seen = false;
  char name[48];
  int rc;
  int n = ++pool->worker_counter;
  if (pool->kind == SHOAL_POOL_THREAD) {
    struct worker_args *a = malloc(sizeof *a);
    if (!a)
      return SHOAL_ENOMEM;
    a->pool = pool;
    a->slot = (uint32_t)i;
    snprintf(name, sizeof name, "PoolThread-%d", n);
    shoal_thread_opts o = {.name = name};
    if ((rc = shoal_thread_create(&w->thread, shoal__pool_worker_thread, a, &o)) != 0) {
      free(a);
      return rc;
    }
    shoal_thread_set_daemon(w->thread, 1);
    if ((rc = shoal_thread_start(w->thread)) != 0) {
      shoal_thread_destroy(w->thread);
      w->thread = NULL;
      free(a);
      return rc;
    }
    w->pid = 0;
  } else {
    snprintf(name, sizeof name, "PoolWorker-%d", n);
    shoal_process_opts o = {.name = name, .start_method = pool->method};
    if (pool->method == SHOAL_START_SPAWN) {
      size_t len = sizeof(struct spawn_args) + pool->initargs_len;
      struct spawn_args *a = calloc(1, len);
      if (!a)
        return SHOAL_ENOMEM;
      a->tasks_fd = pool->tasks_fd;
      a->results_fd = pool->results_fd;
      a->region_fd = pool->region_fd;
      a->slot = (uint32_t)i;
      a->gen = w->gen;
      a->maxtasks = pool->maxtasks;
      if (pool->init)
        snprintf(a->init_name, sizeof a->init_name, "%s",
                 shoal__pool_entry_name((void (*)(void))pool->init));
      a->initargs_len = pool->initargs_len;
      if (pool->initargs_len)
        memcpy(a + 1, pool->initargs, pool->initargs_len);
      int fds[3] = {pool->tasks_fd, pool->results_fd, pool->region_fd};
      o.pass_fds = fds;
      o.n_pass_fds = 3;
      rc = shoal_process_create(&w->proc, shoal__pool_spawn_target(), a, len, &o);
      free(a);
    } else {
      struct worker_args a = {pool, (uint32_t)i};
      rc = shoal_process_create(&w->proc, shoal__pool_worker_main, &a, sizeof a, &o);
    }
    if (rc)
      return rc;
    shoal_process_set_daemon(w->proc, 1);
    if ((rc = shoal_process_start(w->proc)) != 0) {
      shoal_process_destroy(w->proc);
      w->proc = NULL;
      return rc;
    }
    w->pid = shoal_process_pid(w->proc);
    w->sentinel = shoal_process_sentinel(w->proc);
    if (w->sentinel < 0) {
      /* A worker whose death nobody could see would hang its task: the
       * start fails instead (the pidfd is opened here, on first need). */
      rc = w->sentinel;
      shoal_process_kill(w->proc);
      shoal_process_join(w->proc, SHOAL_FOREVER);
      shoal_process_destroy(w->proc);
      w->proc = NULL;
      return rc;
    }
  }
  w->live = true;
  pool->live++;
  wake_keeper(pool);
  return 0;
}

/* Whether message seq has left the task queue (see internal.h). */
static bool consumed(shoal_pool *pool, uint64_t seq)
{
  uint64_t h = qcnt(atomic_load(&pool->tasks->c->head));
  uint64_t diff = (h - (seq & QCNT_MASK)) & QCNT_MASK;
  return diff >= 1 && diff < QCNT_MASK / 2;
}

void shoal__pool_handle_results(shoal_pool *pool, const struct rmsg *m, size_t len,
                                struct shoal_future **done)
{
  struct shoal_future *f = shoal__job_find(pool, m->job);
  if (!f)
    return;
  const char *base = (const char *)m, *p = base + sizeof *m, *end = base + len;
  char *copy = NULL;
  bool any = false;
  while ((size_t)(end - p) >= sizeof(struct rrec)) {
    struct rrec r;
    memcpy(&r, p, sizeof r);
    const char *data = p + sizeof r;
    if (r.len > (size_t)(end - data))
      break;
    if (r.index < f->n && !item_done(&f->items[r.index])) {
      bool keep = r.code == 0 && (r.len > sizeof f->items->u.bytes || (f->flags & TM_ITER));
      if (!keep) {
        /* Inline, or a failure: item_set copies what it needs. */
        shoal__item_set(f, r.index, data, r.len, r.code, m->pid);
        any = true;
        p = data + pad8(r.len);
        continue;
      }
      if (!copy) {
        struct block *b = malloc(sizeof *b + len);
        if (!b) {
          shoal__item_fail(f, r.index, SHOAL_ENOMEM, 0, 0, m->pid,
                           "out of memory while storing the result");
          p = data + pad8(r.len);
          any = true;
          continue;
        }
        b->next = f->blocks;
        f->blocks = b;
        copy = (char *)(b + 1);
        memcpy(copy, base, len);
      }
      shoal__item_set(f, r.index, copy + (data - base), r.len, r.code, m->pid);
      any = true;
    }
    p = data + pad8(r.len);
  }
  if (any || f->progress)
    shoal__job_mark(done, f);
  shoal__job_check_done(pool, f);
}

static const char *signame(int sig, char *buf, size_t len)
{
  const char *a = sigabbrev_np(sig);
  if (a)
    snprintf(buf, len, "SIG%s", a);
  else
    snprintf(buf, len, "signal %d", sig);
  return buf;
}

/* With the lock held: what a worker that ended left behind. */
static void salvage(shoal_pool *pool, uint32_t i, int pid, int status, struct shoal_future **done)
{
  struct pool_shared *sh = pool->sh;
  struct wslot *s = pool_slot(sh, i);
  uint64_t valid = atomic_load_explicit(&s->valid, memory_order_acquire);
  if (valid > 0 && valid <= sh->scratch_size - sizeof(struct rmsg)) {
    const struct rmsg *h = (const struct rmsg *)pool_scratch(sh, i);
    if (h->kind == RM_RESULTS)
      shoal__pool_handle_results(pool, h, sizeof *h + valid, done);
  }
  uint32_t state = atomic_load(&s->claim_state);
  uint64_t seq = atomic_load(&s->claim);
  if (state == CS_CLAIMING && !consumed(pool, seq))
    state = CS_NONE;
  const struct tmsg *m = (const struct tmsg *)pool_inbox(sh, i);
  if (state == CS_NONE || m->seq != seq)
    return;
  struct shoal_future *f = shoal__job_find(pool, m->job);
  if (!f)
    return;
  uint32_t running = atomic_load(&s->running);
  size_t *pos = malloc((m->ntasks ? m->ntasks : 1) * sizeof *pos);
  size_t k = 0;
  char sig[32];
  for (uint32_t j = 0; j < m->ntasks; j++) {
    size_t idx = m->first + j;
    if (idx >= f->n || item_done(&f->items[idx]))
      continue;
    if (running == j + 1 || !pos) {
      if (status < 0)
        shoal__item_fail(f, idx, SHOAL_EWORKERDIED, -status, 0, pid,
                         "worker %d died (%s) while running this task", pid,
                         signame(-status, sig, sizeof sig));
      else
        shoal__item_fail(f, idx, SHOAL_EWORKERDIED, 0, status, pid,
                         "worker %d exited (code %d) while running this task", pid, status);
    } else {
      pos[k++] = j;
    }
  }
  if (k)
    shoal__pool_redo(pool, m, pos, k);
  free(pos);
  shoal__job_mark(done, f);
  shoal__job_check_done(pool, f);
}

static bool want_workers(const shoal_pool *pool)
{
  return pool->state == PS_RUN || (pool->state == PS_CLOSE && !pool->tasks_shut);
}

/* With the lock held: a worker ended (its RM_EXIT notice). */
static void handle_exit(shoal_pool *pool, const struct rmsg *m, struct shoal_future **done)
{
  if (m->slot >= (uint32_t)pool->nworkers)
    return;
  struct wlocal *w = &pool->w[m->slot];
  if (!w->live || w->gen != m->gen)
    return;
  w->live = false;
  pool->live--;
  if (w->thread) {
    shoal_thread_join(w->thread, SHOAL_FOREVER);
    shoal_thread_destroy(w->thread);
    w->thread = NULL;
  }
  if (w->proc) {
    shoal_process_destroy(w->proc);
    w->proc = NULL;
    w->sentinel = -1;
  }
  salvage(pool, m->slot, w->pid, m->status, done);
  struct wslot *s = pool_slot(pool->sh, m->slot);
  if (atomic_load_explicit(&s->init_failed, memory_order_acquire) && pool->state != PS_TERMINATE) {
    char msg[SHOAL_TASK_MSG_MAX + 32];
    snprintf(msg, sizeof msg, "the pool is broken: %.*s", (int)sizeof s->message - 1, s->message);
    if (pool->state != PS_BROKEN) {
      stop_locked(pool, PS_BROKEN, SHOAL_EBROKEN, msg, done);
      signal_workers(pool, false);
    }
  } else if (want_workers(pool)) {
    int rc = start_worker(pool, (int)m->slot);
    if (rc && pool->live == 0) {
      char msg[160];
      snprintf(msg, sizeof msg, "no worker could be started: %s", shoal_strerror(rc));
      stop_locked(pool, PS_BROKEN, rc, msg, done);
    }
  }
  pthread_cond_broadcast(&pool->cond);
}

/* ---- the collector thread -------------------------------------------------------------- */

static void collector_main(void *arg)
{
  shoal_pool *pool = arg;
  pthread_mutex_lock(&pool->lk->mu);
  int rc = 0;
  for (int i = 0; i < pool->nworkers && rc == 0; i++)
    rc = start_worker(pool, i);
  if (rc) {
    /* Undo: nothing may be left running. */
    pool->state = PS_TERMINATE;
    shoal_queue_shutdown(pool->tasks, 1);
    pool->tasks_shut = true;
    signal_workers(pool, true);
    for (int i = 0; i < pool->nworkers; i++) {
      struct wlocal *w = &pool->w[i];
      if (w->proc) {
        shoal_process_join(w->proc, SHOAL_FOREVER);
        shoal_process_destroy(w->proc);
        w->proc = NULL;
      }
      if (w->thread) {
        shoal_thread_join(w->thread, SHOAL_FOREVER);
        shoal_thread_destroy(w->thread);
        w->thread = NULL;
      }
      w->live = false;
    }
    pool->live = 0;
    pool->collector_done = true;
  }
  pool->start_rc = rc;
  pool->started = true;
  pthread_cond_broadcast(&pool->cond);
  pthread_mutex_unlock(&pool->lk->mu);
  if (rc)
    return;

  size_t cap = (size_t)1 << 20;
  char *buf = malloc(cap);
  size_t lens[256];
  while (buf) {
    int n = shoal_queue_get_many(pool->results, buf, cap, lens, 256, SHOAL_FOREVER);
    if (n == SHOAL_EMSGSIZE) {
      char *b = realloc(buf, lens[0]);
      if (b) {
        buf = b;
        cap = lens[0];
        continue;
      }
      /* Without memory for it, the message stays; wait and try again. */
      struct timespec ts = {0, 10000000};
      nanosleep(&ts, NULL);
      continue;
    }
    if (n < 0)
      break;
    struct shoal_future *done = NULL;
    pthread_mutex_lock(&pool->lk->mu);
    size_t at = 0;
    for (int k = 0; k < n; k++) {
      const struct rmsg *m = (const struct rmsg *)(buf + at);
      if (lens[k] >= sizeof *m) {
        if (m->kind == RM_RESULTS)
          shoal__pool_handle_results(pool, m, lens[k], &done);
        else if (m->kind == RM_EXIT)
          handle_exit(pool, m, &done);
      }
      at += lens[k];
    }
    shoal__pool_pump(pool, &done);
    bool quit = pool->state != PS_RUN && pool->live == 0;
    if (quit) {
      pool->collector_done = true;
      pthread_cond_broadcast(&pool->cond);
    }
    pthread_mutex_unlock(&pool->lk->mu);
    shoal__pool_report(done);
    if (quit)
      break;
  }
  free(buf);
}

/* ---- the keeper thread ------------------------------------------------------------------ */

static void keeper_main(void *arg)
{
  shoal_pool *pool = arg;
  size_t max = (size_t)pool->nworkers + 1;
  struct pollfd *fds = calloc(max, sizeof *fds);
  int *slot = calloc(max, sizeof *slot);
  uint64_t *gen = calloc(max, sizeof *gen);
  while (fds && slot && gen) {
    pthread_mutex_lock(&pool->lk->mu);
    if (pool->keeper_stop) {
      pthread_mutex_unlock(&pool->lk->mu);
      break;
    }
    size_t n = 0;
    fds[n++] = (struct pollfd){.fd = pool->evfd[0], .events = POLLIN};
    for (int i = 0; i < pool->nworkers; i++) {
      struct wlocal *w = &pool->w[i];
      if (w->live && !w->exit_seen && w->sentinel >= 0) {
        fds[n] = (struct pollfd){.fd = w->sentinel, .events = POLLIN};
        slot[n] = i;
        gen[n++] = w->gen;
      }
    }
    pthread_mutex_unlock(&pool->lk->mu);
    if (shoal__plat_poll(fds, n, SHOAL__PLAT_NEVER) < 0)
      continue;
    if (fds[0].revents) {
      char drain[64];
      while (shoal__plat_read(pool->evfd[0], drain, sizeof drain) > 0)
        ;
    }
    for (size_t k = 1; k < n; k++) {
      if (!fds[k].revents)
        continue;
      pthread_mutex_lock(&pool->lk->mu);
      struct wlocal *w = &pool->w[slot[k]];
      shoal_process *p = NULL;
      if (w->live && w->gen == gen[k] && !w->exit_seen) {
        w->exit_seen = true;
        p = w->proc;
      }
      pthread_mutex_unlock(&pool->lk->mu);
      if (!p)
        continue;
      int code = 0;
      shoal_process_join(p, SHOAL_FOREVER);
      shoal_process_exitcode(p, &code);
      struct rmsg note = {.kind = RM_EXIT, .slot = (uint32_t)slot[k], .gen = gen[k], .status = code};
      shoal_queue_put(pool->results, &note, sizeof note, SHOAL_FOREVER);
    }
  }
  free(fds);
  free(slot);
  free(gen);
}

/* ---- creation ----------------------------------------------------------------------------- */

struct layout {
  size_t slots_off, cancel_off, areas_off, area_size, inbox, payload;
};

static void plan(struct layout *l, int nworkers, size_t max_arg)
{
  size_t page = shoal__plat_page_size();
  l->inbox = (sizeof(struct tmsg) + 8 + pad8(max_arg) + page - 1) / page * page;
  l->area_size = l->inbox + SCRATCH_SIZE;
  /* Offsets from the start of struct pool_shared, which sits after the
   * region header: areas are page-aligned in the mapping. */
  l->slots_off = (sizeof(struct pool_shared) + 63) & ~(size_t)63;
  l->cancel_off = l->slots_off + (size_t)nworkers * sizeof(struct wslot);
  l->cancel_off = (l->cancel_off + 63) & ~(size_t)63;
  size_t end = SHOAL__REGION_HEADER_SIZE + l->cancel_off + CANCEL_SLOTS * sizeof(uint64_t);
  end = (end + page - 1) / page * page;
  l->areas_off = end - SHOAL__REGION_HEADER_SIZE;
  l->payload = l->areas_off + (size_t)nworkers * l->area_size;
}

struct init_arg {
  const struct layout *l;
  int nworkers;
};

static int shared_init(void *payload, size_t size, void *arg)
{
  const struct init_arg *a = arg;
  struct pool_shared *sh = payload;
  (void)size;
  sh->nslots = (uint32_t)a->nworkers;
  sh->cancel_slots = CANCEL_SLOTS;
  sh->inbox_size = a->l->inbox;
  sh->scratch_size = SCRATCH_SIZE;
  sh->slots_off = a->l->slots_off;
  sh->cancel_off = a->l->cancel_off;
  sh->areas_off = a->l->areas_off;
  sh->area_size = a->l->area_size;
  /* No tag may look QUEUED for a message that was never put. */
  for (uint32_t i = 0; i < CANCEL_SLOTS; i++)
    atomic_init((_Atomic uint64_t *)((char *)sh + sh->cancel_off) + i,
                (uint64_t)(UINT32_MAX - i) << 2 | TAG_TAKEN);
  return 0;
}

static int opts_check(const shoal_pool_opts *o)
{
  if (!o)
    return 0;
  for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
    if (o->reserved[i])
      return SHOAL_EINVAL;
  if (o->kind != SHOAL_POOL_PROCESS && o->kind != SHOAL_POOL_THREAD)
    return SHOAL_EINVAL;
  if (o->start_method < SHOAL_START_DEFAULT || o->start_method > SHOAL_START_SPAWN)
    return SHOAL_EINVAL;
  if (o->kind == SHOAL_POOL_THREAD && o->start_method)
    return SHOAL_EINVAL;
  if (o->maxtasksperchild < 0 || (!o->initargs && o->initargs_len) || o->max_arg > MAX_MAX_ARG)
    return SHOAL_EINVAL;
  return 0;
}

static void pool_free(shoal_pool *pool)
{
  shoal_queue_destroy(pool->tasks);
  shoal_queue_destroy(pool->results);
  shoal__plat_close_fd(pool->tasks_fd);
  shoal__plat_close_fd(pool->results_fd);
  shoal__plat_close_fd(pool->region_fd);
  shoal__plat_close_fd(pool->evfd[0]);
  shoal__plat_close_fd(pool->evfd[1]);
  shoal__region_close(&pool->region);
  shoal_thread_destroy(pool->collector);
  shoal_thread_destroy(pool->keeper);
  while (pool->backlog) {
    struct source *s = pool->backlog;
    pool->backlog = s->next;
    shoal__future_unref(s->job);
    free(s->redo);
    free(s);
  }
  free(pool->w);
  free(pool->table);
  free(pool->stage);
  free(pool->staged);
  free(pool->initargs);
  pthread_cond_destroy(&pool->cond);
  if (pool->lk)
    shoal__pool_lock_unref(pool->lk);
  free(pool);
}

int shoal_pool_create(shoal_pool **out, int workers, const shoal_pool_opts *opts)
{
  if (!out)
    return SHOAL_EINVAL;
  if (workers == SHOAL_POOL_CPU_COUNT)
    workers = shoal_cpu_count();
  if (workers <= 0 || workers > SHOAL_POOL_MAX_WORKERS)
    return SHOAL_EINVAL;
  int rc = opts_check(opts);
  if (rc)
    return rc;
  shoal_pool_opts o = opts ? *opts : (shoal_pool_opts){0};
  int method = 0;
  if (o.kind == SHOAL_POOL_PROCESS)
    method = o.start_method ? o.start_method : shoal_get_start_method();
  if (method == SHOAL_START_SPAWN && o.initializer &&
      !shoal__pool_entry_name((void (*)(void))o.initializer))
    return SHOAL_ENOENT;
  shoal_pool *pool = calloc(1, sizeof *pool);
  if (!pool)
    return SHOAL_ENOMEM;
  pool->tasks_fd = pool->results_fd = pool->region_fd = -1;
  pool->evfd[0] = pool->evfd[1] = -1;
  pool->fork_gen = shoal__pool_fork_gen();
  pool->kind = o.kind;
  pool->method = method;
  pool->nworkers = workers;
  pool->maxtasks = o.maxtasksperchild;
  pool->max_arg = o.max_arg ? o.max_arg : DEFAULT_MAX_ARG;
  pool->init = o.initializer;
  pool->backlog_tail = &pool->backlog;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&pool->cond, &ca);
  pthread_condattr_destroy(&ca);
  pool->lk = calloc(1, sizeof *pool->lk);
  pool->w = calloc((size_t)workers, sizeof *pool->w);
  if (o.initargs_len && (pool->initargs = malloc(o.initargs_len)))
    memcpy(pool->initargs, o.initargs, o.initargs_len);
  pool->initargs_len = o.initargs_len;
  if (!pool->lk || !pool->w || (o.initargs_len && !pool->initargs)) {
    rc = SHOAL_ENOMEM;
    goto fail;
  }
  pthread_mutex_init(&pool->lk->mu, NULL);
  atomic_init(&pool->lk->refs, 1);
  for (int i = 0; i < workers; i++)
    pool->w[i].sentinel = -1;

  struct layout l;
  plan(&l, workers, pool->max_arg);
  struct init_arg ia = {&l, workers};
  bool spawn = method == SHOAL_START_SPAWN;
  rc = shoal__region_create_fd(&pool->region, SHOAL__TYPE_POOL, l.payload, shared_init, &ia,
                               &pool->region_fd);
  if (rc)
    goto fail;
  if (!spawn) {
    shoal__plat_close_fd(pool->region_fd);
    pool->region_fd = -1;
  }
  pool->sh = shoal__region_payload(&pool->region);
  size_t tcap = 2 * l.inbox > QUEUE_MIN_CAPACITY ? 2 * l.inbox : QUEUE_MIN_CAPACITY;
  shoal_queue_opts to = {.capacity = tcap, .maxsize = TASK_QUEUE_MAXSIZE};
  shoal_queue_opts ro = {.capacity = QUEUE_MIN_CAPACITY};
  if (spawn) {
    if ((rc = shoal__queue_create_fd(&pool->tasks, &to, &pool->tasks_fd)) != 0 ||
        (rc = shoal__queue_create_fd(&pool->results, &ro, &pool->results_fd)) != 0)
      goto fail;
  } else if ((rc = shoal_queue_create(&pool->tasks, &to)) != 0 ||
             (rc = shoal_queue_create(&pool->results, &ro)) != 0) {
    goto fail;
  }
  if (pool->kind == SHOAL_POOL_PROCESS && (rc = shoal__plat_pipe(pool->evfd)) < 0)
    goto fail;

  shoal_thread_opts co = {.name = "PoolCollector"};
  if ((rc = shoal_thread_create(&pool->collector, collector_main, pool, &co)) != 0)
    goto fail;
  shoal_thread_set_daemon(pool->collector, 1);
  if ((rc = shoal_thread_start(pool->collector)) != 0)
    goto fail;
  pthread_mutex_lock(&pool->lk->mu);
  while (!pool->started)
    pthread_cond_wait(&pool->cond, &pool->lk->mu);
  rc = pool->start_rc;
  pthread_mutex_unlock(&pool->lk->mu);
  if (rc) {
    shoal_thread_join(pool->collector, SHOAL_FOREVER);
    goto fail;
  }
  if (pool->kind == SHOAL_POOL_PROCESS) {
    shoal_thread_opts ko = {.name = "PoolKeeper"};
    rc = shoal_thread_create(&pool->keeper, keeper_main, pool, &ko);
    if (rc == 0) {
      shoal_thread_set_daemon(pool->keeper, 1);
      rc = shoal_thread_start(pool->keeper);
    }
    if (rc) {
      shoal_pool_terminate(pool);
      shoal_thread_join(pool->collector, SHOAL_FOREVER);
      goto fail;
    }
  }
  *out = pool;
  return 0;
fail:
  pool_free(pool);
  return rc;
}

/* ---- the end ------------------------------------------------------------------------------- */

int shoal_pool_close(shoal_pool *pool)
{
  int rc = shoal__pool_check(pool);
  if (rc)
    return rc;
  pthread_mutex_lock(&pool->lk->mu);
  if (pool->state == PS_RUN) {
    pool->state = PS_CLOSE;
    shoal__pool_idle(pool);
  }
  pthread_mutex_unlock(&pool->lk->mu);
  return 0;
}

int shoal_pool_terminate(shoal_pool *pool)
{
  int rc = shoal__pool_check(pool);
  if (rc)
    return rc;
  struct shoal_future *done = NULL;
  pthread_mutex_lock(&pool->lk->mu);
  if (pool->state != PS_TERMINATE)
    stop_locked(pool, PS_TERMINATE, SHOAL_ECANCELED, "the pool was terminated", &done);
  signal_workers(pool, false);
  uint64_t at = shoal__plat_now() + TERM_GRACE_NS;
  struct timespec ts = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
  bool killed = false;
  while (pool->live > 0 && !pool->collector_done) {
    if (killed) {
      pthread_cond_wait(&pool->cond, &pool->lk->mu);
    } else if (pthread_cond_timedwait(&pool->cond, &pool->lk->mu, &ts) != 0 &&
               shoal__plat_now() >= at) {
      signal_workers(pool, true);
      killed = true;
    }
  }
  pthread_mutex_unlock(&pool->lk->mu);
  shoal__pool_report(done);
  return 0;
}

int shoal_pool_join(shoal_pool *pool, shoal_duration timeout)
{
  shoal__deadline d;
  int rc = shoal__pool_check(pool);
  if (rc)
    return rc;
  if ((rc = shoal__deadline_init(&d, timeout)) != 0)
    return rc;
  pthread_mutex_lock(&pool->lk->mu);
  if (pool->state == PS_RUN) {
    pthread_mutex_unlock(&pool->lk->mu);
    return SHOAL_EBUSY;
  }
  while (!pool->collector_done) {
    if (d.nowait) {
      rc = SHOAL_EAGAIN;
      break;
    }
    if (d.at == SHOAL__PLAT_NEVER) {
      pthread_cond_wait(&pool->cond, &pool->lk->mu);
      continue;
    }
    if (shoal__plat_now() >= d.at) {
      rc = SHOAL_ETIMEDOUT;
      break;
    }
    struct timespec ts = {(time_t)(d.at / 1000000000u), (long)(d.at % 1000000000u)};
    pthread_cond_timedwait(&pool->cond, &pool->lk->mu, &ts);
  }
  if (rc == 0)
    pool->keeper_stop = true;
  pthread_mutex_unlock(&pool->lk->mu);
  if (rc)
    return rc;
  shoal_thread_join(pool->collector, SHOAL_FOREVER);
  if (pool->keeper) {
    wake_keeper(pool);
    shoal_thread_join(pool->keeper, SHOAL_FOREVER);
  }
  return 0;
}

int shoal_pool_shutdown(shoal_pool *pool, int wait, int cancel_futures)
{
  int rc = shoal__pool_check(pool);
  if (rc)
    return rc;
  if (cancel_futures) {
    /* Cancel what has not started; the futures stay in the table until
     * their cancellation is reported. */
    pthread_mutex_lock(&pool->lk->mu);
    size_t n = 0;
    shoal_future **list = malloc((pool->njobs ? pool->njobs : 1) * sizeof *list);
    for (size_t b = 0; list && b < pool->table_size; b++)
      for (struct shoal_future *f = pool->table[b]; f; f = f->hnext)
        if (f->kind == JK_SINGLE) {
          atomic_fetch_add(&f->refs, 1);
          list[n++] = f;
        }
    pthread_mutex_unlock(&pool->lk->mu);
    for (size_t i = 0; i < n; i++) {
      shoal_future_cancel(list[i]);
      shoal__future_unref(list[i]);
    }
    free(list);
  }
  if ((rc = shoal_pool_close(pool)) != 0 || !wait)
    return rc;
  return shoal_pool_join(pool, SHOAL_FOREVER);
}

void shoal_pool_destroy(shoal_pool *pool)
{
  if (shoal__pool_check(pool) != 0)
    return;
  pthread_mutex_lock(&pool->lk->mu);
  bool ended = pool->collector_done;
  pthread_mutex_unlock(&pool->lk->mu);
  if (!ended)
    shoal_pool_terminate(pool);
  shoal_pool_join(pool, SHOAL_FOREVER);
  pool_free(pool);
}

int shoal_pool_size(const shoal_pool *pool)
{
  return pool ? pool->nworkers : SHOAL_EINVAL;
}

int shoal_pool_worker_pids(shoal_pool *pool, int *out, int max)
{
  int rc = shoal__pool_check(pool);
  if (rc)
    return rc;
  if (max < 0 || (!out && max > 0))
    return SHOAL_EINVAL;
  int n = 0;
  pthread_mutex_lock(&pool->lk->mu);
  for (int i = 0; i < pool->nworkers; i++) {
    struct wlocal *w = &pool->w[i];
    if (w->live && w->pid > 0) {
      if (n < max)
        out[n] = w->pid;
      n++;
    }
  }
  pthread_mutex_unlock(&pool->lk->mu);
  return n;
}

/* ---- spawn workers ------------------------------------------------------------------------- */

static int spawn_worker(void *args, size_t len)
{
  const struct spawn_args *a = args;
  if (len < sizeof *a || len - sizeof *a != a->initargs_len)
    return 2;
  struct shoal__region r;
  shoal_queue *tasks, *results;
  if (shoal__region_map_fd(&r, a->region_fd, SHOAL__TYPE_POOL, sizeof(struct pool_shared)) ||
      shoal__queue_open_fd(&tasks, a->tasks_fd) || shoal__queue_open_fd(&results, a->results_fd))
    return 2;
  shoal__plat_close_fd(a->tasks_fd);
  shoal__plat_close_fd(a->results_fd);
  shoal__plat_close_fd(a->region_fd);
  shoal_pool_init_fn init = NULL;
  if (a->init_name[0]) {
    char name[POOL_NAME_LEN];
    memcpy(name, a->init_name, sizeof name);
    name[sizeof name - 1] = '\0';
    if (!(init = (shoal_pool_init_fn)shoal__pool_entry_fn(name)))
      shoal_process_fail("no initializer named \"%s\" is registered with SHOAL_POOL_TASK", name);
  }
  return shoal__pool_worker_spawned(tasks, results, shoal__region_payload(&r), a->slot, a->gen,
                                    a->maxtasks, init, a + 1, a->initargs_len);
}

static struct shoal_entry spawn_entry = {SPAWN_ENTRY, spawn_worker, NULL};

__attribute__((constructor(101))) static void register_spawn_entry(void)
{
  shoal_entry_register(&spawn_entry);
}

shoal_process_target shoal__pool_spawn_target(void)
{
  return spawn_worker;
}
