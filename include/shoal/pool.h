// SPDX-License-Identifier: MIT
// shoal/pool.h: process and thread pools with apply/map/imap/submit and
// futures — Python's multiprocessing.Pool, ThreadPool and
// concurrent.futures' ProcessPoolExecutor/ThreadPoolExecutor for C.
//
// A task is a function (shoal_task_fn) plus an argument byte string; its
// result is a byte string the task writes through its shoal_task_out.  A pool
// runs tasks in worker processes (fork or spawn) or worker threads, chosen at
// creation.  Tasks travel to the workers through a shoal queue, in batches;
// workers put their results straight into a result queue (no feeder thread)
// that the pool's collector thread reads.
//
// Failures never hang a pool.  A task that returns an error keeps its code and
// message; nothing else is disturbed.  A worker process that crashes or is
// killed fails only the task it was running (SHOAL_EWORKERDIED, with the
// signal in the task's shoal_task_error); the tasks it had taken but not
// started go to other workers, the results it had produced are kept, and a new
// worker takes its place.
//
// Handles are process-local: a pool, its futures and iterators belong to the
// process that created the pool (calls from a forked child return
// SHOAL_EPERM), and every call is thread-safe.  Calls that wait take a
// shoal_duration last (see shoal/common.h).
#ifndef SHOAL_POOL_H
#define SHOAL_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <shoal/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shoal_pool shoal_pool;
typedef struct shoal_future shoal_future;
typedef struct shoal_pool_iter shoal_pool_iter;
typedef struct shoal_task_out shoal_task_out;

/* ---------------------------------------------------------------- Tasks -- */

// shoal_task_fn is a task: it reads its argument (len bytes at arg, 8-byte
// aligned; NULL when len is 0), writes its result through out
// (shoal_task_return or shoal_task_buffer; no result is an empty byte string)
// and returns 0, or a nonzero error code (negative: a SHOAL_E* code, -errno
// or the program's own), optionally with a message from shoal_task_fail.  The
// code comes back verbatim from shoal_future_result and the like.
typedef int (*shoal_task_fn)(const void *arg, size_t len, shoal_task_out *out);

// shoal_star_fn is a starmap task: it receives its arguments as nargs byte
// strings (Python's f(*args)).
typedef int (*shoal_star_fn)(const struct iovec *args, size_t nargs, shoal_task_out *out);

// shoal_pool_init_fn is a worker initializer, run once in each worker before
// its first task with the pool's initargs.  A nonzero return breaks the pool
// (see shoal_pool_opts).
typedef int (*shoal_pool_init_fn)(const void *arg, size_t len);

// shoal_task_return sets the task's result to a copy of len bytes at buf
// (buf may be NULL when len is 0), replacing an earlier one.  Returns 0,
// SHOAL_ENOMEM, or SHOAL_EINVAL (out NULL, buf NULL with len > 0).  Call it
// only from the task that received out, while it runs.
SHOAL_API int shoal_task_return(shoal_task_out *out, const void *buf, size_t len);

// shoal_task_buffer returns room for a result of len bytes, 8-byte aligned,
// for the task to write in place (no copy), replacing an earlier result; NULL
// for out NULL or out of memory.  Valid until the task returns or calls
// shoal_task_return/shoal_task_buffer again.
SHOAL_API void *shoal_task_buffer(shoal_task_out *out, size_t len);

// shoal_task_fail records a printf-style message (at most SHOAL_TASK_MSG_MAX
// - 1 bytes are kept) for the failure the task is about to return and returns
// code, so that a task ends with `return shoal_task_fail(out, SHOAL_EIO,
// "disk %d full", n);`.  A code of 0 is turned into SHOAL_EINVAL (a failure
// needs a code).  The message reaches the caller through shoal_task_error.
SHOAL_API int shoal_task_fail(shoal_task_out *out, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// shoal_task_index returns the index of the running task within its map
// (0 for submit and apply), or SHOAL_EINVAL for NULL.
SHOAL_API long shoal_task_index(const shoal_task_out *out);

#define SHOAL_TASK_MSG_MAX 512

// shoal_task_error describes a failed task (shoal_future_exception,
// shoal_future_item_error, shoal_pool_iter_error).
typedef struct shoal_task_error {
  int code;        /* the task's return value, SHOAL_EWORKERDIED, SHOAL_ECANCELED,
                      SHOAL_EBROKEN, SHOAL_E2BIG (argument or result too large) */
  int signal;      /* SHOAL_EWORKERDIED: the signal that killed the worker, 0 when
                      it exited (then exitcode holds its exit code) */
  int exitcode;    /* SHOAL_EWORKERDIED without a signal: the worker's exit code */
  int pid;         /* the worker process that ran the failed task (0 for threads,
                      for successes and for failures shoal made itself) */
  size_t index;    /* the item's index in its map (0 for submit/apply) */
  char message[SHOAL_TASK_MSG_MAX]; /* the task's message, or shoal's */
} shoal_task_error;

// SHOAL_POOL_TASK(fn) registers a task, star task or initializer under its
// own name, at file scope, so that spawn workers (a fresh run of the program)
// can find it.  Fork and thread pools call functions directly and need no
// registration.
struct shoal_pool_entry {
  const char *name;
  void (*fn)(void);
  struct shoal_pool_entry *next; /* owned by shoal */
};

// shoal_pool_register adds e to the table of functions spawn workers can run.
// Use SHOAL_POOL_TASK, which calls it before main() runs.  Errors:
// SHOAL_EINVAL (NULL name or fn), SHOAL_ENAMETOOLONG (name over 127 bytes),
// SHOAL_EEXIST (the name is taken by another function).
SHOAL_API int shoal_pool_register(struct shoal_pool_entry *e);

#define SHOAL_POOL_TASK(fn)                                                                        \
  static struct shoal_pool_entry shoal__pool_entry_##fn = {#fn, (void (*)(void))(fn), 0};          \
  __attribute__((constructor(101))) static void shoal__pool_register_##fn(void)                    \
  {                                                                                                \
    shoal_pool_register(&shoal__pool_entry_##fn);                                                  \
  }

/* ----------------------------------------------------------------- Pool -- */

/* What a pool runs its tasks in. */
enum shoal_pool_kind {
  SHOAL_POOL_PROCESS = 0, /* worker processes (multiprocessing.Pool, ProcessPoolExecutor) */
  SHOAL_POOL_THREAD = 1,  /* worker threads (ThreadPool, ThreadPoolExecutor) */
};

/* shoal_pool_create's `workers` for "one per CPU" (Python's processes=None). */
#define SHOAL_POOL_CPU_COUNT 0x7fffffff
/* Most workers in one pool. */
#define SHOAL_POOL_MAX_WORKERS 1024

typedef struct shoal_pool_opts {
  int kind;                       /* enum shoal_pool_kind */
  int start_method;               /* processes: enum shoal_start_method (0 = the default) */
  shoal_pool_init_fn initializer; /* NULL = none; run in every worker before its tasks */
  const void *initargs;           /* copied at creation */
  size_t initargs_len;
  long maxtasksperchild;          /* batches of tasks a worker runs before it is replaced
                                     by a fresh one; 0 = no limit (Python's None);
                                     negative: SHOAL_EINVAL */
  size_t max_arg;                 /* largest task argument in bytes; 0 = 1 MiB */
  uint32_t reserved[8];           /* must be zero */
} shoal_pool_opts;

// shoal_pool_create starts a pool of `workers` workers (SHOAL_POOL_CPU_COUNT:
// shoal_cpu_count()) of opts->kind (NULL opts: processes with the default
// start method, no initializer, no task limit) and stores it in *out.  Worker
// processes are daemon children named "PoolWorker-N", started from the pool's
// collector thread so that they die with the pool's process however it dies;
// thread workers are daemon shoal threads "PoolThread-N".  If the initializer
// returns nonzero in a worker, the pool breaks: its unfinished tasks fail with
// SHOAL_EBROKEN and later submissions return SHOAL_EBROKEN (as
// concurrent.futures' BrokenProcessPool).  With the spawn start method every
// function the pool runs must be registered with SHOAL_POOL_TASK and main()
// must call shoal_spawn_main() first.  Errors: SHOAL_EINVAL (out NULL,
// workers <= 0 or above SHOAL_POOL_MAX_WORKERS, a bad kind, start method,
// maxtasksperchild or reserved field, initargs NULL with a length),
// SHOAL_ENOENT (spawn: the initializer is not registered), SHOAL_ENOMEM,
// SHOAL_EAGAIN (no process or thread could be made; nothing is left running).
// Fork pools fork from a thread: locks held by the program's other threads stay
// held in the workers, so programs with threads of their own prefer spawn.
SHOAL_API int shoal_pool_create(shoal_pool **out, int workers, const shoal_pool_opts *opts);

// shoal_pool_close stops the pool from accepting work (Pool.close): later
// submissions return SHOAL_ECLOSED; the tasks already given finish, then the
// workers exit.  Closing twice is fine.  Errors: SHOAL_EINVAL, SHOAL_EPERM
// (another process).
SHOAL_API int shoal_pool_close(shoal_pool *pool);

// shoal_pool_terminate stops the pool now (Pool.terminate): queued tasks are
// dropped, worker processes are killed (SIGTERM, then SIGKILL after 0.2 s),
// and every unfinished task fails with SHOAL_ECANCELED.  Returns once the
// workers have ended — at once for processes however many tasks were queued;
// a thread pool waits for the tasks its threads are running.  Errors:
// SHOAL_EINVAL, SHOAL_EPERM.
SHOAL_API int shoal_pool_terminate(shoal_pool *pool);

// shoal_pool_join waits, at most `timeout`, until every worker has ended
// after shoal_pool_close (so every task has finished) or
// shoal_pool_terminate.  Returns 0, SHOAL_EAGAIN / SHOAL_ETIMEDOUT,
// SHOAL_EBUSY (the pool still runs: close or terminate it first, as Python's
// ValueError), SHOAL_EINVAL, SHOAL_EPERM.  Never from a task or a callback.
SHOAL_API int shoal_pool_join(shoal_pool *pool, shoal_duration timeout);

// shoal_pool_shutdown is Executor.shutdown(wait, cancel_futures): with
// cancel_futures, every task given by submit/apply_async that has not started
// is cancelled; then the pool is closed, and with wait the call waits until
// every task has finished and the workers have ended.  Errors as
// shoal_pool_close.
SHOAL_API int shoal_pool_shutdown(shoal_pool *pool, int wait, int cancel_futures);

// shoal_pool_destroy terminates the pool if it still runs, waits for its
// workers and threads, and frees it.  Futures and iterators stay valid (their
// unfinished tasks failed with SHOAL_ECANCELED) until destroyed.  NULL is a
// no-op.  Not from a task or a callback of this pool; do not use pool
// afterwards.
SHOAL_API void shoal_pool_destroy(shoal_pool *pool);

// shoal_pool_size returns the number of workers, or SHOAL_EINVAL.
SHOAL_API int shoal_pool_size(const shoal_pool *pool);

// shoal_pool_worker_pids stores the pids of the pool's live worker processes
// in out[0..max-1] and returns how many there are (0 for a thread pool).
// Errors: SHOAL_EINVAL, SHOAL_EPERM.
SHOAL_API int shoal_pool_worker_pids(shoal_pool *pool, int *out, int max);

/* -------------------------------------------------------------- Futures -- */

// shoal_future_cb is a done callback (add_done_callback, apply_async's
// callback and error_callback, map_async's): it runs once, in the pool's
// collector thread (or at once in the calling thread when the future is
// already done).  It may read f and submit new work, but must not wait for
// this pool's futures or destroy the pool.
typedef void (*shoal_future_cb)(shoal_future *f, void *ctx);

// shoal_pool_submit gives the task fn(copy of arg) to the pool
// (Executor.submit) and stores its future in *out, which the caller releases
// with shoal_future_destroy.  Never blocks: work the task queue cannot take
// now waits in the pool.  Errors: SHOAL_EINVAL (NULL pool, fn or out, arg NULL
// with len > 0), SHOAL_E2BIG (len over the pool's max_arg), SHOAL_ECLOSED
// (after close or terminate), SHOAL_EBROKEN, SHOAL_ENOENT (spawn pool: fn not
// registered), SHOAL_ENOMEM, SHOAL_EPERM.
SHOAL_API int shoal_pool_submit(shoal_pool *pool, shoal_task_fn fn, const void *arg, size_t len,
                                shoal_future **out);

// shoal_pool_apply_async is shoal_pool_submit with Pool.apply_async's
// callbacks: callback(f, ctx) runs once if the task succeeds, error_callback
// once if it fails (either may be NULL).  out may be NULL when the caller does
// not want the future (the callbacks still run).  Errors as shoal_pool_submit.
SHOAL_API int shoal_pool_apply_async(shoal_pool *pool, shoal_task_fn fn, const void *arg,
                                     size_t len, shoal_future_cb callback,
                                     shoal_future_cb error_callback, void *ctx,
                                     shoal_future **out);

// shoal_pool_apply runs fn(arg) in a worker and waits at most `timeout` for it
// (Pool.apply).  On 0, *result is a malloc'd copy of the result (free it with
// shoal_free; NULL for an empty result) and *result_len its length; on a task
// failure the task's code is returned and err (may be NULL) describes it.
// Errors as shoal_pool_submit, plus SHOAL_EAGAIN / SHOAL_ETIMEDOUT (the task
// is left to finish on its own).
SHOAL_API int shoal_pool_apply(shoal_pool *pool, shoal_task_fn fn, const void *arg, size_t len,
                               void **result, size_t *result_len, shoal_task_error *err,
                               shoal_duration timeout);

// shoal_future_result waits at most `timeout` for a single-task future and
// gives its result (Future.result): *buf points to the result bytes, owned by
// the future and valid until shoal_future_destroy, *len is their length (buf
// and len may be NULL).  Returns 0; the task's own nonzero code when it
// failed (SHOAL_EWORKERDIED when its worker died); SHOAL_ECANCELED when it was
// cancelled; SHOAL_EAGAIN / SHOAL_ETIMEDOUT when it is not done — a task may
// return those codes itself too: shoal_future_done tells them apart.  For a
// map future it gives item 0.  SHOAL_EINVAL for f NULL or a bad timeout.
SHOAL_API int shoal_future_result(shoal_future *f, const void **buf, size_t *len,
                                  shoal_duration timeout);

// shoal_future_wait waits at most `timeout` until f is done (AsyncResult.wait;
// for a map, every item).  Returns 0, SHOAL_EAGAIN / SHOAL_ETIMEDOUT, SHOAL_EINVAL.
SHOAL_API int shoal_future_wait(shoal_future *f, shoal_duration timeout);

// shoal_future_get waits at most `timeout` until f is done and returns 0 when
// every item succeeded (AsyncResult.get / successful), else the code of the
// first failed item (lowest index), SHOAL_ECANCELED, or the error an item
// generator returned (see shoal_items); SHOAL_EAGAIN / SHOAL_ETIMEDOUT when not
// done.  Read the items with shoal_future_item.
SHOAL_API int shoal_future_get(shoal_future *f, shoal_duration timeout);

// shoal_future_done returns 1 when f has finished, failed or been cancelled
// (Future.done / AsyncResult.ready), 0 if not, SHOAL_EINVAL for NULL.
SHOAL_API int shoal_future_done(shoal_future *f);

// shoal_future_running returns 1 while a worker runs f's task
// (Future.running), 0 before it starts and once it is done; for a map future,
// 1 once its first batch has been handed to the workers.  SHOAL_EINVAL for NULL.
SHOAL_API int shoal_future_running(shoal_future *f);

// shoal_future_cancel cancels f if its task has not started (Future.cancel)
// and returns 1 then (or when f was cancelled before), 0 when the task runs or
// is done.  A cancelled future is done, its result is SHOAL_ECANCELED and its
// callbacks run.  Map futures cannot be cancelled (0).  SHOAL_EINVAL for NULL.
SHOAL_API int shoal_future_cancel(shoal_future *f);

// shoal_future_cancelled returns 1 if f was cancelled, else 0; SHOAL_EINVAL.
SHOAL_API int shoal_future_cancelled(shoal_future *f);

// shoal_future_exception waits at most `timeout` for f (Future.exception) and
// returns 0 if its task succeeded, 1 if it failed or was cancelled (err, which
// may be NULL, is filled for the first failed item), or SHOAL_EAGAIN /
// SHOAL_ETIMEDOUT, SHOAL_EINVAL.
SHOAL_API int shoal_future_exception(shoal_future *f, shoal_task_error *err,
                                     shoal_duration timeout);

// shoal_future_add_done_callback arranges for cb(f, ctx) to run once when f
// is done — at once, in the caller, if it is done already
// (Future.add_done_callback).  Callbacks run in the order added.  Errors:
// SHOAL_EINVAL, SHOAL_ENOMEM.
SHOAL_API int shoal_future_add_done_callback(shoal_future *f, shoal_future_cb cb, void *ctx);

// shoal_future_len returns the number of items of f (1 for submit/apply, the
// item count of a map once all items are known), or SHOAL_EINVAL.
SHOAL_API long shoal_future_len(shoal_future *f);

// shoal_future_failed returns how many items of a done f failed, or SHOAL_EINVAL.
SHOAL_API long shoal_future_failed(shoal_future *f);

// shoal_future_item gives item i of a done future (a map's i-th result): *buf
// and *len as shoal_future_result (either may be NULL), returning 0 or the
// item's error code.  Errors: SHOAL_EAGAIN (f is not done), SHOAL_ERANGE (i
// past the items), SHOAL_EINVAL.
SHOAL_API int shoal_future_item(shoal_future *f, size_t i, const void **buf, size_t *len);

// shoal_future_item_error fills err for item i of a done f and returns 1 when
// that item failed, 0 when it succeeded.  Errors as shoal_future_item.
SHOAL_API int shoal_future_item_error(shoal_future *f, size_t i, shoal_task_error *err);

// shoal_future_destroy releases the caller's handle.  An unfinished task
// still runs (its callbacks too) and its result is dropped.  NULL is a no-op.
SHOAL_API void shoal_future_destroy(shoal_future *f);

/* When shoal_futures_wait returns (concurrent.futures.wait's return_when). */
enum shoal_wait_when {
  SHOAL_ALL_COMPLETED = 0,
  SHOAL_FIRST_COMPLETED = 1,
  SHOAL_FIRST_EXCEPTION = 2, /* a failed or cancelled future, or all done */
};

// shoal_futures_wait waits at most `timeout` until return_when holds for the
// n futures fs (which may belong to several pools), then reorders fs so that
// the done ones come first and returns how many are done — also when the
// timeout passed first, as concurrent.futures.wait returns its two sets.
// Errors: SHOAL_EINVAL (fs NULL with n > 0, a NULL future, bad return_when or
// timeout).
SHOAL_API int shoal_futures_wait(shoal_future **fs, size_t n, int return_when,
                                 shoal_duration timeout);

typedef struct shoal_as_completed shoal_as_completed;

// shoal_as_completed_create starts an iteration over the n futures fs in the
// order they finish (concurrent.futures.as_completed); the array is copied,
// the futures are not owned.  Errors: SHOAL_EINVAL, SHOAL_ENOMEM.
SHOAL_API int shoal_as_completed_create(shoal_as_completed **out, shoal_future *const *fs,
                                        size_t n);

// shoal_as_completed_next waits at most `timeout` for the next future to
// finish and stores it in *f.  Returns 0, SHOAL_EEOF once every future was
// given, SHOAL_EAGAIN / SHOAL_ETIMEDOUT, SHOAL_EINVAL.
SHOAL_API int shoal_as_completed_next(shoal_as_completed *it, shoal_future **f,
                                      shoal_duration timeout);

// shoal_as_completed_destroy frees the iteration.  NULL is a no-op.
SHOAL_API void shoal_as_completed_destroy(shoal_as_completed *it);

/* ----------------------------------------------------------------- Maps -- */

// shoal_items describes a map's inputs, in one of three forms:
//  - iov[0..n): n byte strings (with nargs > 0: n tuples of nargs byte
//    strings, item i being iov[i*nargs .. i*nargs+nargs), for starmap);
//  - array: n items of `size` bytes each, back to back (an int array...);
//  - next(ctx, &item, &len): a generator called for one item at a time,
//    returning 1 with the item (copied before the next call), 0 at the end, or
//    a negative code that ends the map with that error (Python's iterable that
//    raises): items before it still run.  It is called from the thread that
//    starts the map or the pool's collector thread, never two at once, and
//    must not call into the pool.
// The inputs must stay valid until the map is done (iov, array) or at the end
// (next).  Build one with SHOAL_ITEMS_IOV, _TUPLES, _ARRAY or _GEN.
typedef struct shoal_items {
  const struct iovec *iov;
  size_t nargs;
  const void *array;
  size_t size;
  size_t n;
  int (*next)(void *ctx, const void **item, size_t *len);
  void *ctx;
  uint32_t reserved[4]; /* must be zero */
} shoal_items;

#define SHOAL_ITEMS_IOV(iov_, n_) (&(const shoal_items){.iov = (iov_), .n = (n_)})
#define SHOAL_ITEMS_TUPLES(iov_, nargs_, n_)                                                       \
  (&(const shoal_items){.iov = (iov_), .nargs = (nargs_), .n = (n_)})
#define SHOAL_ITEMS_ARRAY(array_, size_, n_)                                                       \
  (&(const shoal_items){.array = (array_), .size = (size_), .n = (n_)})
#define SHOAL_ITEMS_GEN(next_, ctx_) (&(const shoal_items){.next = (next_), .ctx = (ctx_)})

// shoal_progress_fn is told how a map advances: done items of total (0 while
// a generator has not ended).  It runs in the collector thread after each
// batch of results, and once more when the map is done.
typedef void (*shoal_progress_fn)(size_t done, size_t total, void *ctx);

typedef struct shoal_map_opts {
  size_t chunksize;           /* items per batch; 0 = Python's default: n / (4 x workers),
                                 rounded up (1 for imap and generators) */
  shoal_progress_fn progress; /* NULL = none; shoal_progress_bar for a bar on stderr */
  void *progress_ctx;
  shoal_future_cb callback;   /* map_async: once when every item succeeded */
  shoal_future_cb error_callback; /* map_async: once when some item failed */
  void *ctx;                  /* for callback and error_callback */
  uint32_t reserved[6];       /* must be zero */
} shoal_map_opts;

// shoal_progress_bar is a ready-made shoal_progress_fn: when stderr is a
// terminal it redraws one line "[#####-----] 512/1000  51%" at most ten times
// a second and ends it with a newline when the map is done; otherwise it does
// nothing.  ctx is unused.
SHOAL_API void shoal_progress_bar(size_t done, size_t total, void *ctx);

// shoal_pool_map runs fn over items (Pool.map) and waits at most `timeout` for
// them all.  *out receives a done future holding every item's result
// (shoal_future_item, shoal_future_item_error), which the caller destroys —
// also when some items failed.  Returns 0 when every item succeeded, else as
// shoal_future_get (the first failed item's code).  An empty map gives an
// empty future at once.  On SHOAL_ETIMEDOUT (or SHOAL_EAGAIN) *out is set
// too, not yet done: wait on it or destroy it.  Errors: SHOAL_EINVAL (NULL
// arguments, a malformed shoal_items or opts, tuples given to a map),
// SHOAL_E2BIG (an item over max_arg; nothing runs), and those of
// shoal_pool_submit.
SHOAL_API int shoal_pool_map(shoal_pool *pool, shoal_task_fn fn, const shoal_items *items,
                             const shoal_map_opts *opts, shoal_future **out,
                             shoal_duration timeout);

// shoal_pool_map_async is shoal_pool_map without waiting (Pool.map_async):
// *out is the map's future.  Errors as shoal_pool_submit.
SHOAL_API int shoal_pool_map_async(shoal_pool *pool, shoal_task_fn fn, const shoal_items *items,
                                   const shoal_map_opts *opts, shoal_future **out);

// shoal_pool_starmap is shoal_pool_map for a shoal_star_fn (Pool.starmap):
// each item is a tuple (SHOAL_ITEMS_TUPLES); other forms give 1-tuples.
SHOAL_API int shoal_pool_starmap(shoal_pool *pool, shoal_star_fn fn, const shoal_items *items,
                                 const shoal_map_opts *opts, shoal_future **out,
                                 shoal_duration timeout);

// shoal_pool_starmap_async is shoal_pool_starmap without waiting.
SHOAL_API int shoal_pool_starmap_async(shoal_pool *pool, shoal_star_fn fn,
                                       const shoal_items *items, const shoal_map_opts *opts,
                                       shoal_future **out);

// shoal_pool_imap starts fn over items (Pool.imap) and stores in *out an
// iterator that yields the results in item order as they arrive.  opts'
// callbacks must be NULL.  Errors as shoal_pool_map_async.
SHOAL_API int shoal_pool_imap(shoal_pool *pool, shoal_task_fn fn, const shoal_items *items,
                              const shoal_map_opts *opts, shoal_pool_iter **out);

// shoal_pool_imap_unordered is shoal_pool_imap yielding results in the order
// they finish (Pool.imap_unordered).
SHOAL_API int shoal_pool_imap_unordered(shoal_pool *pool, shoal_task_fn fn,
                                        const shoal_items *items, const shoal_map_opts *opts,
                                        shoal_pool_iter **out);

// shoal_pool_iter_next waits at most `timeout` for the next result and gives
// its item index (*index), bytes and length (*buf, *len: valid until the
// iterator is destroyed; any of the three may be NULL).  Returns 0 or the
// item's error code (see shoal_pool_iter_error) with the item given; SHOAL_EEOF
// after the last item (StopIteration), or the generator's error once every
// item it gave was yielded; SHOAL_EAGAIN / SHOAL_ETIMEDOUT; SHOAL_EINVAL.  One
// thread at a time per iterator.
SHOAL_API int shoal_pool_iter_next(shoal_pool_iter *it, size_t *index, const void **buf,
                                   size_t *len, shoal_duration timeout);

// shoal_pool_iter_error fills err for the item shoal_pool_iter_next last gave;
// returns 1 if it failed, 0 if not, SHOAL_EINVAL (nothing given yet).
SHOAL_API int shoal_pool_iter_error(shoal_pool_iter *it, shoal_task_error *err);

// shoal_pool_iter_future returns the map future behind the iterator (owned by
// it): its progress, len and items.  NULL for NULL.
SHOAL_API shoal_future *shoal_pool_iter_future(shoal_pool_iter *it);

// shoal_pool_iter_destroy frees the iterator; items not yet run still run and
// their results are dropped.  NULL is a no-op.
SHOAL_API void shoal_pool_iter_destroy(shoal_pool_iter *it);

#ifdef __cplusplus
}
#endif
#endif
