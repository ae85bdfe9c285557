// SPDX-License-Identifier: MIT
// internal.h: what the pool module's files share — the messages on the task
// and result queues, the shared region that holds one slot per worker, the
// pool and future handles.
//
// Flow: callers turn work into task messages (a batch of tasks of one job)
// that the pool stages and puts into the task queue without blocking; what
// does not fit waits in the backlog and is put by the collector thread as
// results come back.  A worker peeks at the head message, records in its slot
// that it is claiming it (seq), copies it into its inbox, releases it, and
// marks it claimed.  Before each task it writes the task's position into its
// slot; each result is appended to its scratch area (shared memory) and made
// valid with one release store; the scratch goes to the result queue as one
// message at the end of the batch, when full, or when results have waited a
// millisecond.
//
// Cross-process invariants:
//  - only the pool's process puts into the task queue, under the pool lock,
//    and message number `seq` is the seq-th message ever put: so a message is
//    consumed iff the queue's head count has passed it;
//  - a worker's slot says CLAIMING(seq) only while it holds, or has just
//    released, the peek of message seq; CLAIMED(seq) once it is out of the
//    queue and whole in the inbox; NONE between batches;
//  - `running` is 1 + the position of the task running in the claimed batch,
//    set before the task starts and cleared after its result is valid in the
//    scratch; `valid` bytes of scratch records are complete results;
//  - a dead worker changes nothing more: after its death the collector reads
//    its slot, inbox and scratch, keeps every result there (duplicates of
//    results already received are ignored), fails the running task, and puts
//    the batch's unstarted tasks back.
//  - a cancellable message (submit/apply) has a tag word `seq << 2 | state`
//    in the cancel ring: a worker moves it QUEUED -> TAKEN before running the
//    task, a cancel QUEUED -> CANCELLED; whoever wins decides.
#ifndef SHOAL_POOL_INTERNAL_H
#define SHOAL_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/deadline.h"
#include "core/region.h"
#include "shoal/pool.h"
#include "shoal/process.h"
#include "shoal/queue.h"

/* ---- messages -------------------------------------------------------------- */

enum { TM_STAR = 1, TM_CANCELLABLE = 2 };
/* Job flags beyond the message's. */
enum { TM_UNORDERED = 0x100, TM_ITER = 0x200 };

/* A task message: a batch of ntasks tasks of one job, items first.. */
struct tmsg {
  uint64_t seq;   /* number of the message in the task queue */
  uint64_t job;   /* the job's id */
  uint64_t first; /* item index of the first task */
  uint64_t fn;    /* the function: its address, or (spawn) its name's index */
  uint32_t ntasks;
  uint32_t flags; /* TM_* */
  uint64_t reserved;
  /* then per task: uint64_t len, len bytes, padding to 8 */
};

enum { RM_RESULTS = 1, RM_EXIT = 2 };

/* A result message: nrec records of one job, or a notice. */
struct rmsg {
  uint32_t kind; /* RM_* */
  uint32_t slot; /* the worker's slot */
  int32_t pid;   /* the worker's pid (0 for threads) */
  uint32_t nrec;
  uint64_t job;
  uint64_t gen;   /* RM_EXIT: the slot generation that ended */
  int32_t status; /* RM_EXIT: exit code, or minus the signal */
  uint32_t reserved;
  /* then RM_RESULTS: nrec records */
};

struct rrec {
  uint64_t index; /* item index in the job */
  int32_t code;   /* 0 or the task's error code (then the bytes are its message) */
  uint32_t len;
  /* then len bytes, padding to 8 */
};

static inline size_t pad8(size_t n)
{
  return (n + 7) & ~(size_t)7;
}

/* ---- the shared region ----------------------------------------------------- */

enum { CS_NONE = 0, CS_CLAIMING = 1, CS_CLAIMED = 2 };
enum { TAG_QUEUED = 0, TAG_TAKEN = 1, TAG_CANCELLED = 2 };

struct wslot {
  _Atomic uint64_t claim;       /* seq of the message claimed or being claimed */
  _Atomic uint32_t claim_state; /* CS_* */
  _Atomic uint32_t running;     /* 1 + position of the running task; 0 = none */
  _Atomic uint64_t valid;       /* bytes of complete records in the scratch */
  _Atomic int32_t pid;
  _Atomic uint32_t init_failed;
  char message[SHOAL_TASK_MSG_MAX]; /* why the initializer failed */
};

#define POOL_NAMES_MAX 256
#define POOL_NAME_LEN 128

struct pool_shared {
  uint32_t nslots;
  uint32_t cancel_slots; /* a power of two */
  uint64_t inbox_size;
  uint64_t scratch_size;
  uint64_t slots_off;  /* from the start of this struct */
  uint64_t cancel_off;
  uint64_t areas_off;  /* per slot: inbox then scratch, page aligned */
  uint64_t area_size;
  /* spawn: names of the functions messages refer to by index */
  _Atomic uint32_t nnames;
  uint32_t reserved;
  char names[POOL_NAMES_MAX][POOL_NAME_LEN];
};

static inline struct wslot *pool_slot(struct pool_shared *sh, uint32_t i)
{
  return (struct wslot *)((char *)sh + sh->slots_off) + i;
}

static inline _Atomic uint64_t *pool_tag(struct pool_shared *sh, uint64_t seq)
{
  return (_Atomic uint64_t *)((char *)sh + sh->cancel_off) + (seq & (sh->cancel_slots - 1));
}

static inline char *pool_inbox(struct pool_shared *sh, uint32_t i)
{
  return (char *)sh + sh->areas_off + (size_t)i * sh->area_size;
}

static inline char *pool_scratch(struct pool_shared *sh, uint32_t i)
{
  return pool_inbox(sh, i) + sh->inbox_size;
}

/* ---- parent side ------------------------------------------------------------ */

/* A lock that outlives the pool while futures use it. */
struct pool_lock {
  pthread_mutex_t mu;
  _Atomic int refs;
};

/* One item's outcome.  A result of up to 8 bytes is kept in the item itself
 * (not for iterators, which copy items out); a failed item's data points to
 * a struct failure (its length is the message's). */
struct item {
  union {
    const char *data;
    char bytes[8];
  } u;
  uint32_t len; /* ITEM_DONE | ITEM_INLINE | the length */
  int32_t code;
};

#define ITEM_DONE 0x40000000u
#define ITEM_INLINE 0x80000000u
#define ITEM_LEN 0x3fffffffu

static inline bool item_done(const struct item *it)
{
  return it->len & ITEM_DONE;
}

static inline size_t item_len(const struct item *it)
{
  return it->len & ITEM_LEN;
}

static inline const char *item_ptr(const struct item *it)
{
  return it->len & ITEM_INLINE ? it->u.bytes : it->u.data;
}

struct failure {
  int32_t pid;
  int32_t signal;
  int32_t exitcode;
  uint32_t reserved;
  char msg[]; /* NUL-terminated */
};

struct block {
  struct block *next;
  /* data follows */
};

struct cb {
  struct cb *next;
  shoal_future_cb fn;
  void *ctx;
};

enum { JK_SINGLE = 0, JK_MAP = 1 };
enum { FS_PENDING = 0, FS_DONE = 1 };

/* Work not yet turned into messages. */
struct source {
  struct source *next;
  struct shoal_future *job;
  size_t next_item; /* items: the next index to dispatch */
  size_t chunksize;
  char *redo;       /* or a task message to put again (after a worker died) */
  size_t redo_len;
};

struct shoal_future {
  _Atomic int refs;           /* the caller's, the pool's while unfinished, an iterator's */
  struct pool_lock *lk;       /* guards everything below but state */
  struct shoal_pool *pool;    /* NULL once done or detached */
  uint64_t id;
  struct shoal_future *hnext; /* the pool's job table */
  int kind;                   /* JK_* */
  uint32_t flags;             /* TM_STAR */
  uint64_t fn;
  _Atomic int state;          /* FS_* */
  bool cancelled;
  bool started;               /* a map: some item was claimed */
  /* items */
  struct item *items;
  size_t n, cap;
  bool n_final;               /* every item is known */
  size_t ndone, nfailed;
  int source_err;             /* the generator's error */
  shoal_items src;
  struct block *blocks;
  /* a single task: its argument until it is put, its message's seq */
  void *arg;
  size_t arg_len;
  uint64_t seq;
  bool queued;                /* its message was put (seq valid) */
  /* callbacks */
  struct cb *cbs, **cbs_tail;
  shoal_future_cb callback, error_callback;
  void *cb_ctx;
  shoal_progress_fn progress;
  void *progress_ctx;
  size_t progress_seen;
  /* unordered iteration: indices in the order they finished */
  size_t *order;
  size_t norder, order_cap;
  struct shoal_future *done_next; /* the collector's list of jobs to report */
  bool on_done_list;
  bool reported;              /* its callbacks have run */
};

struct wlocal {
  shoal_process *proc;
  shoal_thread *thread;
  int pid;
  uint64_t gen;
  bool live;
  bool exit_seen;  /* the keeper has reported its end */
  int sentinel;
};

enum { PS_RUN = 0, PS_CLOSE = 1, PS_TERMINATE = 2, PS_BROKEN = 3 };

struct shoal_pool {
  unsigned fork_gen;
  int kind, method, nworkers;
  long maxtasks;
  size_t max_arg;
  shoal_pool_init_fn init;
  void *initargs;
  size_t initargs_len;
  shoal_queue *tasks, *results;
  int tasks_fd, results_fd, region_fd; /* spawn: the memfds the workers map */
  struct shoal__region region;
  struct pool_shared *sh;
  struct pool_lock *lk;
  pthread_cond_t cond; /* start-up, worker exits */
  int state;           /* PS_* */
  bool tasks_shut;     /* the task queue is shut down */
  int live;            /* workers running */
  struct wlocal *w;
  /* jobs */
  struct shoal_future **table;
  size_t table_size, njobs;
  uint64_t next_id;
  /* dispatch */
  uint64_t next_seq;
  struct source *backlog, **backlog_tail;
  char *stage;
  size_t stage_len, stage_cap;
  struct iovec *staged;
  size_t nstaged, staged_cap;
  /* threads */
  shoal_thread *collector, *keeper;
  int evfd[2];       /* a pipe that wakes the keeper: its workers changed, or stop */
  bool keeper_stop;
  bool started;      /* the collector has started the first workers */
  int start_rc;
  bool collector_done;
  int worker_counter;
};

/* A worker's start arguments (fork and thread workers). */
struct worker_args {
  shoal_pool *pool;
  uint32_t slot;
};

/* dispatch.c */
int shoal__pool_check(const shoal_pool *pool);
void shoal__pool_pump(shoal_pool *pool, struct shoal_future **done);
unsigned shoal__pool_fork_gen(void);
int shoal__pool_map_start(shoal_pool *pool, void (*fn)(void), bool star, const shoal_items *items,
                          const shoal_map_opts *opts, int iter, shoal_future **out);
struct shoal_future *shoal__job_find(shoal_pool *pool, uint64_t id);
void shoal__job_unlink(shoal_pool *pool, struct shoal_future *f);
int shoal__pool_redo(shoal_pool *pool, const struct tmsg *m, const size_t *pos, size_t n);
uint64_t shoal__pool_fn_id(shoal_pool *pool, void (*fn)(void), int *rc);

/* future.c */
struct shoal_future *shoal__future_new(shoal_pool *pool, int kind);
void shoal__future_unref(struct shoal_future *f);
/* With the lock held: stores item i's outcome (for a failure, data is its
 * message); true if it was new. */
bool shoal__item_set(struct shoal_future *f, size_t i, const char *data, uint32_t len, int code,
                     int pid);
/* With the lock held: item i failed for a reason shoal writes. */
void shoal__item_fail(struct shoal_future *f, size_t i, int code, int signal, int exitcode,
                      int pid, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* With the lock held: f is done if every item is; returns true when it became done. */
bool shoal__job_check_done(shoal_pool *pool, struct shoal_future *f);
/* With the lock held: f ends now, unfinished items failing with code. */
void shoal__job_abort(shoal_pool *pool, struct shoal_future *f, int code, const char *msg);
/* Queue f for its callbacks (run by shoal__pool_report outside the lock). */
void shoal__job_mark(struct shoal_future **list, struct shoal_future *f);
void shoal__pool_report(struct shoal_future *list);
void shoal__pool_notify(void);
uint64_t shoal__pool_gen(void);
int shoal__pool_wait_change(uint64_t seen, const shoal__deadline *d);

/* worker.c */
int shoal__pool_worker_main(void *args, size_t len);
int shoal__pool_worker_spawned(shoal_queue *tasks, shoal_queue *results, struct pool_shared *sh,
                               uint32_t slot, uint64_t gen, long maxtasks, shoal_pool_init_fn init,
                               const void *initargs, size_t initargs_len);
void shoal__pool_worker_thread(void *arg);
void (*shoal__pool_entry_fn(const char *name))(void);
const char *shoal__pool_entry_name(void (*fn)(void));

/* pool.c */
void shoal__pool_lock_unref(struct pool_lock *lk);
shoal_process_target shoal__pool_spawn_target(void);
/* With the lock held: a job ended; a closed pool with none left winds down. */
void shoal__pool_idle(shoal_pool *pool);
void shoal__pool_handle_results(shoal_pool *pool, const struct rmsg *m, size_t len,
                                struct shoal_future **done);

#endif
