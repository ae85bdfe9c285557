// SPDX-License-Identifier: MIT
// shoal/process.h: Process, Thread, Timer, multi-process logging and graceful
// shutdown — Python's multiprocessing.Process, threading.Thread,
// threading.Timer and logging for C, with failures the parent can see.
//
// Handles are process-local.  A child process is known to the process that
// started it; other processes (its own children among them, after fork) get
// SHOAL_EPERM from calls that wait for it or signal it.  Every call that can
// wait takes a shoal_duration as its last argument (see shoal/common.h) and
// returns SHOAL_EINVAL for a negative timeout other than SHOAL_FOREVER.
//
// Children are watched through a process handle (a Linux pidfd): shoal never
// installs a SIGCHLD handler and never waits for "any child", so it leaves the
// program's own children and signal handlers alone.  A program that sets
// SIGCHLD to SIG_IGN, or reaps with waitpid(-1), takes the exit status away:
// shoal then reports what the child recorded itself, or
// SHOAL_EXITCODE_UNKNOWN.
#ifndef SHOAL_PROCESS_H
#define SHOAL_PROCESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/common.h>
#include <shoal/sync.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- Process -- */

typedef struct shoal_process shoal_process;

// shoal_process_target is the function a child process runs: `args` points
// to the child's own copy of the argument block given to
// shoal_process_create (NULL when it was empty) and `len` is its size.  The
// return value is the child's exit code: return 0..255 (the kernel keeps the
// low 8 bits).
typedef int (*shoal_process_target)(void *args, size_t len);

/* How a child is started. */
enum shoal_start_method {
  SHOAL_START_DEFAULT = 0, /* the process-wide default (shoal_set_start_method), fork at first */
  SHOAL_START_FORK = 1,    /* fork(): the child is a copy of the parent */
  SHOAL_START_SPAWN = 2,   /* fork+exec of the program itself, entering a SHOAL_ENTRY */
};

#define SHOAL_PROCESS_NAME_MAX 63
/* The exitcode of a child whose status the program took away (see above). */
#define SHOAL_EXITCODE_UNKNOWN (-256)
/* Most bytes of a spawn child's argument block. */
#define SHOAL_PROCESS_ARGS_MAX (64u << 20)

typedef struct shoal_process_opts {
  const char *name;     /* NULL = "Process-N" ("Process-1:N" in a child of Process-1);
                           copied, at most SHOAL_PROCESS_NAME_MAX bytes */
  int start_method;     /* enum shoal_start_method */
  const int *pass_fds;  /* spawn: fds the child keeps at the same numbers (each > 2);
                           every other fd above 2 is closed in a spawn child */
  int n_pass_fds;
  uint32_t reserved[6]; /* must be zero */
} shoal_process_opts;

// shoal_process_create makes a Process (multiprocessing.Process(target,
// args)) that will run target(copy of args, len) in a child.  The len bytes at
// args are copied now; the caller keeps its buffer.  The process is not
// started; its daemon flag is the calling process's (shoal_process_set_daemon
// changes it).  With the spawn method target must have been registered with
// SHOAL_ENTRY, because the child runs a fresh copy of the program and finds it
// by name; the argument block then must hold no pointers.  opts may be NULL.
// Errors: SHOAL_EINVAL (out or target NULL, args NULL with len > 0, bad
// options, a pass fd <= 2), SHOAL_ENAMETOOLONG, SHOAL_E2BIG (spawn, len over
// SHOAL_PROCESS_ARGS_MAX), SHOAL_ENOENT (spawn, target not registered),
// SHOAL_ENOMEM.  Thread-safe.
SHOAL_API int shoal_process_create(shoal_process **out, shoal_process_target target,
                                   const void *args, size_t len, const shoal_process_opts *opts);

// shoal_process_start starts the child (Process.start).  With the fork
// method, every stdio stream is flushed first (so that the child does not
// print the parent's output again), and the child runs target and then ends
// as described at shoal_process_fail; with spawn the child is a new instance of the program
// that enters target through shoal_spawn_main.  A daemon child is killed when
// its parent dies, however it dies (even kill -9), and not before: started
// from any thread but the main one, it is forked by an internal thread that
// lasts as long as the process (Linux ties the parent-death signal to the
// forking *thread*).  First, as Python's Process.start, it
// collects (without blocking) every child of this process that has ended:
// its exit status, its report line, and for a handle already destroyed the
// pidfd and status block, so children started and never joined leave no
// zombies or fds behind beyond those that ended since the last start.
// Errors: SHOAL_EBUSY (started already),
// SHOAL_ECLOSED, SHOAL_EPERM (called in a spawn child before it entered its
// target: main() lacks shoal_spawn_main(), which would start processes
// forever), SHOAL_EAGAIN / SHOAL_ENOMEM (no process could be made), SHOAL_EMFILE.
// Thread-safe.  Fork method: forking a process that runs threads copies only
// the calling thread; locks other threads held stay held in the child, so use
// spawn then (see docs/process.md).
SHOAL_API int shoal_process_start(shoal_process *p);

// shoal_process_join waits until the child has ended (Process.join), at most
// `timeout`, and collects its exit status.  Returns 0 when it has ended,
// SHOAL_EAGAIN (SHOAL_NOWAIT) or SHOAL_ETIMEDOUT when it still runs.  When a
// child ends with a nonzero exit code or a signal that its parent did not send
// through this handle, a line such as "Process Worker-3 (pid 4242) died:
// SIGSEGV" goes to stderr once (see shoal_process_set_reporting).  Errors:
// SHOAL_ENOTSTARTED, SHOAL_ECLOSED, SHOAL_EPERM (not called in the process that
// started it), SHOAL_EINVAL.  Any number of threads may join at once.  A
// join under way when another thread closes p returns 0: close succeeds only
// once the child has ended.  A join begun after close returns SHOAL_ECLOSED.
SHOAL_API int shoal_process_join(shoal_process *p, shoal_duration timeout);

// shoal_process_is_alive returns 1 while the child runs (it has been started
// and has not ended), 0 before start and after its end, or SHOAL_ECLOSED,
// SHOAL_EPERM, SHOAL_EINVAL.  It collects the exit status of an ended child,
// as join does.  For shoal_current_process() it returns 1; for
// shoal_parent_process() whether the parent still runs.
SHOAL_API int shoal_process_is_alive(shoal_process *p);

// shoal_process_exitcode stores the child's exit code in *code and returns 1
// once it has ended: its target's return value, 1 after shoal_process_fail,
// minus the signal number if a signal killed it (-SIGTERM after
// shoal_process_terminate), or SHOAL_EXITCODE_UNKNOWN.  Returns 0 (and leaves
// *code alone) when it has not ended or was not started, as Python's None.
// Errors: SHOAL_ECLOSED, SHOAL_EPERM, SHOAL_EINVAL.
SHOAL_API int shoal_process_exitcode(shoal_process *p, int *code);

// shoal_process_terminate sends SIGTERM to the child (Process.terminate); a
// child that has already ended is left alone (returns 0).  A child that dies
// of the signal sent here is not reported as a failure.  Errors:
// SHOAL_ENOTSTARTED, SHOAL_ECLOSED, SHOAL_EPERM, SHOAL_EINVAL.  The handle
// names the very process started, never a later one that reuses its pid.
SHOAL_API int shoal_process_terminate(shoal_process *p);

// shoal_process_kill is shoal_process_terminate with SIGKILL (Process.kill).
SHOAL_API int shoal_process_kill(shoal_process *p);

// shoal_process_interrupt is shoal_process_terminate with SIGINT
// (Process.interrupt).
SHOAL_API int shoal_process_interrupt(shoal_process *p);

// shoal_process_close releases the child's resources (Process.close): its
// sentinel fd and shared status.  Afterwards every call on p but the name,
// pid, daemon accessors and destroy returns SHOAL_ECLOSED; closing again is 0.
// Errors: SHOAL_EBUSY while the child runs (join it first), SHOAL_EPERM,
// SHOAL_EINVAL.  A process never started can be closed.  Joins under way in
// other threads return 0 (see shoal_process_join); the sentinel fd is closed
// once the last of them has returned.
SHOAL_API int shoal_process_close(shoal_process *p);

// shoal_process_destroy releases the caller's reference to p and frees it
// with the last one; a handle from shoal_active_children holds a reference of
// its own.  A child that has ended is collected now (as join would; a
// failure is reported).  A child that still runs is not stopped: shoal keeps
// watching it, the next shoal_process_start or shoal_active_children
// collects it once it has ended (releasing its pidfd and status block), and
// at exit it is joined like any other (terminated if it is a daemon).
// NULL, shoal_current_process() and shoal_parent_process() are no-ops.  Do
// not use p afterwards.
SHOAL_API void shoal_process_destroy(shoal_process *p);

// shoal_process_sentinel returns an fd that becomes readable when the child
// ends (Process.sentinel), for poll/epoll or a connection wait(); it belongs
// to p and stays valid until shoal_process_close.  Reading it is not needed
// (and not possible).  Errors: SHOAL_ENOTSTARTED, SHOAL_ECLOSED, SHOAL_EPERM,
// SHOAL_EMFILE (the handle is opened on first use).
SHOAL_API int shoal_process_sentinel(shoal_process *p);

// shoal_process_pid returns the child's pid (Process.pid / ident), 0 before
// start, or SHOAL_EINVAL.
SHOAL_API int shoal_process_pid(const shoal_process *p);

// shoal_process_name returns p's name (valid until the name changes or p is
// destroyed), or NULL for NULL.
SHOAL_API const char *shoal_process_name(const shoal_process *p);

// shoal_process_set_name renames p.  A child keeps the name it had when it
// started.  Errors: SHOAL_EINVAL, SHOAL_ENAMETOOLONG.  Not thread-safe with
// respect to other calls reading p's name.
SHOAL_API int shoal_process_set_name(shoal_process *p, const char *name);

// shoal_process_daemon returns 1 if p is a daemon, 0 if not, or SHOAL_EINVAL.
SHOAL_API int shoal_process_daemon(const shoal_process *p);

// shoal_process_set_daemon sets the daemon flag (Process.daemon = True)
// before start.  A daemon child dies with its parent and is terminated at the
// parent's normal exit instead of joined.  Errors: SHOAL_EBUSY (started),
// SHOAL_EINVAL.
SHOAL_API int shoal_process_set_daemon(shoal_process *p, int daemon);

// shoal_process_message returns the message the child passed to
// shoal_process_fail, once it has ended (join or is_alive saw it), or NULL.
// Valid until p is closed.
SHOAL_API const char *shoal_process_message(const shoal_process *p);

// shoal_process_error returns the report line for a child that ended badly,
// e.g. "Process Worker-3 (pid 4242) died: SIGSEGV" or "Process Worker-3 (pid
// 4242) failed: exit code 1: disk full", and NULL for one that exited 0, was
// stopped by a signal sent through p, or has not ended.  Valid until p is
// destroyed.
SHOAL_API const char *shoal_process_error(const shoal_process *p);

// shoal_process_set_reporting turns the stderr report of children that end
// badly on (1, the default) or off (0) for the whole calling process; returns
// the previous setting.  Thread-safe.
SHOAL_API int shoal_process_set_reporting(int on);

// shoal_process_fail ends the calling child process with exit code 1 and the
// message made from fmt (printf-style; at most 1023 bytes are kept), which
// its parent sees through shoal_process_message and in its report line — the
// C form of sys.exit("message").  Like a target that returns, it waits for
// the child's non-daemon threads, terminates its daemon children and joins
// the others, flushes stdout and stderr, then calls _exit (as Python's child
// flushes sys.stdout and sys.stderr before os._exit): the program's atexit
// handlers, inherited from the parent, do not run, and streams the target
// opened itself must be closed (or flushed) by it.  Outside a shoal child it
// prints the message to stderr and calls exit(1).  Never returns.
SHOAL_API void shoal_process_fail(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

// shoal_current_process returns the calling process's own Process
// (multiprocessing.current_process()): "MainProcess" in a program's first
// process, the child's name in a child.  Its pid is getpid(); it is alive and
// has no exit code.  The handle lives as long as the process and must not be
// closed.  Never NULL.
SHOAL_API shoal_process *shoal_current_process(void);

// shoal_parent_process returns the parent of a shoal child
// (multiprocessing.parent_process()), or NULL in the main process.  Its pid
// and name are the parent's; is_alive, join and sentinel tell when the parent
// ends (join returns 0 then and its exit code stays unknown: it is not our
// child).  The handle lives as long as the process.
SHOAL_API shoal_process *shoal_parent_process(void);

// shoal_active_children stores in out[0..max-1] the children this process
// started that are still running (multiprocessing.active_children()) and
// returns how many there are (which may exceed max: only max are stored).
// Children found ended are joined (and reported) on the way.  Each stored
// handle carries a reference: release each with shoal_process_destroy.
// Errors: SHOAL_EINVAL (out NULL with max > 0, max < 0).  Thread-safe.
SHOAL_API int shoal_active_children(shoal_process **out, int max);

// shoal_cpu_count returns the number of CPUs the calling process may use: its
// CPU affinity mask (taskset, cgroup cpusets), at least 1 — a good default
// for the number of workers.
SHOAL_API int shoal_cpu_count(void);

// shoal_set_start_method sets the process-wide default start method
// (multiprocessing.set_start_method): SHOAL_START_FORK or SHOAL_START_SPAWN.
// Processes created afterwards with SHOAL_START_DEFAULT use it.  Returns 0 or
// SHOAL_EINVAL.  Thread-safe.
SHOAL_API int shoal_set_start_method(int method);

// shoal_get_start_method returns the process-wide default start method.
SHOAL_API int shoal_get_start_method(void);

/* -------------------------------------------------- spawn entry points -- */

struct shoal_entry {
  const char *name;
  shoal_process_target fn;
  struct shoal_entry *next; /* owned by shoal */
};

// shoal_entry_register adds e to the table of targets a spawn child can
// enter by name.  Use SHOAL_ENTRY, which calls it before main() runs; e must
// stay valid for the life of the process.  Errors: SHOAL_EINVAL (NULL name or
// fn), SHOAL_EEXIST (the name is taken by another function).
SHOAL_API int shoal_entry_register(struct shoal_entry *e);

// SHOAL_ENTRY(fn) registers the shoal_process_target fn under its own name, at
// file scope, so that processes started with the spawn method can run it.
#define SHOAL_ENTRY(fn)                                                                            \
  static struct shoal_entry shoal__entry_##fn = {#fn, fn, 0};                                      \
  __attribute__((constructor(101))) static void shoal__entry_register_##fn(void)                   \
  {                                                                                                \
    shoal_entry_register(&shoal__entry_##fn);                                                      \
  }

// shoal_spawn_main must be called first thing in main() by programs that
// start processes with the spawn method (Python's `if __name__ ==
// "__main__"` guard).  In the program's own run it returns 0 at once.  In a
// spawn child it enters the registered target with the argument block,
// ends as a fork child ends (see shoal_process_fail) and never returns.  A
// program that finds the SHOAL_SPAWN environment variable but no status
// block from its parent to match (a bad value, a stray copy) writes a line to
// stderr and ends with _exit(127) instead of running main().
// Programs whose main() you cannot edit (a test runner) use
// SHOAL_SPAWN_MAIN_CONSTRUCTOR instead.
SHOAL_API int shoal_spawn_main(void);

// SHOAL_SPAWN_MAIN_CONSTRUCTOR, at file scope, calls shoal_spawn_main before
// main() runs, after every SHOAL_ENTRY registration and shoal's own set-up
// (constructor priority 101; this one is 102).  The child's target then runs
// before the program's other default-priority constructors.
#define SHOAL_SPAWN_MAIN_CONSTRUCTOR                                                               \
  __attribute__((constructor(102))) static void shoal__spawn_main_constructor(void)                \
  {                                                                                                \
    shoal_spawn_main();                                                                            \
  }

/* -------------------------------------------------------------- Thread -- */

typedef struct shoal_thread shoal_thread;

// shoal_thread_target is a thread's run function; arg is the pointer given
// to shoal_thread_create (not copied).  For the "subclass" pattern, arg is
// the caller's struct that holds the shoal_thread handle.
typedef void (*shoal_thread_target)(void *arg);

#define SHOAL_THREAD_NAME_MAX 63

typedef struct shoal_thread_opts {
  const char *name;     /* NULL = "Thread-N"; copied, at most SHOAL_THREAD_NAME_MAX bytes;
                           the first 15 bytes name the OS thread (/proc, top, gdb) */
  size_t stack_size;    /* 0 = the system default */
  uint32_t reserved[6]; /* must be zero */
} shoal_thread_opts;

// shoal_thread_create makes a Thread (threading.Thread(target, args)) that
// will run target(arg).  Its daemon flag is the calling thread's
// (shoal_thread_set_daemon changes it).  opts may be NULL.  Errors:
// SHOAL_EINVAL (out or target NULL, bad options), SHOAL_ENAMETOOLONG,
// SHOAL_ENOMEM.  Thread-safe.
SHOAL_API int shoal_thread_create(shoal_thread **out, shoal_thread_target target, void *arg,
                                  const shoal_thread_opts *opts);

// shoal_thread_start starts the thread.  Errors: SHOAL_EBUSY (started
// already), SHOAL_EAGAIN / SHOAL_ENOMEM (no thread could be made), SHOAL_EINVAL.
// In a child forked later, threads other than the forking one do not exist.
SHOAL_API int shoal_thread_start(shoal_thread *t);

// shoal_thread_join waits at most `timeout` for the thread to end.  Returns
// 0 when it has ended, SHOAL_EAGAIN (SHOAL_NOWAIT) / SHOAL_ETIMEDOUT when it
// still runs.  Errors: SHOAL_ENOTSTARTED, SHOAL_EDEADLK (a thread joining
// itself), SHOAL_EINVAL.  Any number of threads may join at once.
SHOAL_API int shoal_thread_join(shoal_thread *t, shoal_duration timeout);

// shoal_thread_is_alive returns 1 from start until the target returns, else
// 0; SHOAL_EINVAL for NULL.
SHOAL_API int shoal_thread_is_alive(shoal_thread *t);

// shoal_thread_destroy releases the caller's reference to t; a running thread
// keeps its own until it ends, so destroying a started thread neither stops
// nor waits for it.  NULL, the main thread's handle and dummies are no-ops;
// the handle shoal_current_thread returns in a shoal thread is that thread's
// own, which carries no extra reference: do not destroy it.
SHOAL_API void shoal_thread_destroy(shoal_thread *t);

// shoal_thread_name returns t's name, or NULL for NULL.
SHOAL_API const char *shoal_thread_name(const shoal_thread *t);

// shoal_thread_set_name renames t (and its OS thread, when it is the calling
// thread or has not started).  Errors: SHOAL_EINVAL, SHOAL_ENAMETOOLONG.
SHOAL_API int shoal_thread_set_name(shoal_thread *t, const char *name);

// shoal_thread_ident returns the thread's identifier (Thread.ident: its
// pthread_t as an integer), 0 before start.
SHOAL_API uint64_t shoal_thread_ident(const shoal_thread *t);

// shoal_thread_native_id returns the kernel's thread id (Thread.native_id,
// the tid in /proc/<pid>/task), 0 until the thread has started running.
SHOAL_API int shoal_thread_native_id(const shoal_thread *t);

// shoal_thread_daemon returns 1 for a daemon thread, 0 if not, SHOAL_EINVAL.
SHOAL_API int shoal_thread_daemon(const shoal_thread *t);

// shoal_thread_set_daemon sets the daemon flag before start: daemon threads
// do not hold up shoal_thread_join_all.  Errors: SHOAL_EBUSY, SHOAL_EINVAL.
SHOAL_API int shoal_thread_set_daemon(shoal_thread *t, int daemon);

// shoal_current_thread returns the calling thread's Thread
// (threading.current_thread()): its own for shoal threads, "MainThread" for
// the main thread, and for a thread shoal did not start a "Dummy-N" daemon
// Thread that lasts until that thread exits.  Never NULL except out of memory.
// Do not destroy it.
SHOAL_API shoal_thread *shoal_current_thread(void);

// shoal_main_thread returns the main thread's Thread (threading.main_thread());
// in a forked child the thread that forked is its main thread.
SHOAL_API shoal_thread *shoal_main_thread(void);

// shoal_active_count returns the number of Threads alive in this process
// (threading.active_count()): the main thread, running shoal threads and
// dummies.
SHOAL_API int shoal_active_count(void);

// shoal_enumerate stores in out[0..max-1] the Threads alive now
// (threading.enumerate()), the main thread first, and returns how many there
// are (which may exceed max).  Each stored handle carries a reference:
// release each with shoal_thread_destroy.  Errors: SHOAL_EINVAL.
SHOAL_API int shoal_enumerate(shoal_thread **out, int max);

// shoal_thread_join_all waits, at most `timeout` in all, for every non-daemon
// shoal thread but the caller to end — what Python does before a program
// exits.  Call it at the end of main().  Returns 0, SHOAL_EAGAIN or
// SHOAL_ETIMEDOUT (some still run), SHOAL_EINVAL.  Shoal child processes call
// it with SHOAL_FOREVER before they end.
SHOAL_API int shoal_thread_join_all(shoal_duration timeout);

/* --------------------------------------------------------------- Timer -- */

typedef struct shoal_timer shoal_timer;

// shoal_timer_create makes a Timer (threading.Timer(interval, function)) that
// calls fn(arg) once, in its own thread, `interval` after it is started,
// unless cancelled first.  The timer's thread is a Thread named "Timer-N",
// reachable through shoal_timer_thread.  Errors: SHOAL_EINVAL (out or fn NULL,
// interval negative), SHOAL_ENOMEM.
SHOAL_API int shoal_timer_create(shoal_timer **out, shoal_duration interval,
                                 shoal_thread_target fn, void *arg);

// shoal_timer_start starts the countdown.  Errors as shoal_thread_start.
SHOAL_API int shoal_timer_start(shoal_timer *t);

// shoal_timer_cancel stops the timer if fn has not been called yet: returns 1
// when this call prevented it, 0 when fn has already run or is running, or
// was cancelled before.  A timer cancelled before start never runs fn.
// Returns SHOAL_EINVAL for NULL.  Thread-safe; safe from fn itself.
SHOAL_API int shoal_timer_cancel(shoal_timer *t);

// shoal_timer_join waits for the timer's thread to end (after fn ran or the
// timer was cancelled), as shoal_thread_join.
SHOAL_API int shoal_timer_join(shoal_timer *t, shoal_duration timeout);

// shoal_timer_is_alive returns 1 while the timer's thread runs, else 0.
SHOAL_API int shoal_timer_is_alive(shoal_timer *t);

// shoal_timer_thread returns the timer's Thread (name, daemon flag, ident);
// it belongs to the timer.
SHOAL_API shoal_thread *shoal_timer_thread(shoal_timer *t);

// shoal_timer_destroy frees the timer.  A started timer that has not fired is
// cancelled, and destroy waits for its thread to end (at most until fn
// returns, if it is running).  NULL is a no-op.  Not from fn itself.
SHOAL_API void shoal_timer_destroy(shoal_timer *t);

/* ------------------------------------------------------------- Logging -- */

typedef struct shoal_logger shoal_logger;

/* Levels, as Python's logging. */
enum shoal_log_level {
  SHOAL_LOG_DEBUG = 10,
  SHOAL_LOG_INFO = 20,
  SHOAL_LOG_WARNING = 30,
  SHOAL_LOG_ERROR = 40,
  SHOAL_LOG_CRITICAL = 50,
};

/* The default format: "2026-01-02 03:04:05,678 INFO MainProcess[4242] MainThread: text". */
#define SHOAL_LOG_DEFAULT_FORMAT                                                                   \
  "%(asctime)s %(levelname)s %(processName)s[%(process)d] %(threadName)s: %(message)s"
/* Most bytes of one formatted record; a longer one is cut and ends in "...". */
#define SHOAL_LOG_RECORD_MAX 65536
#define SHOAL_LOG_MAX_SINKS 8

typedef struct shoal_logger_opts {
  const char *name;      /* %(name)s; NULL = "root"; copied */
  int level;             /* records below it are dropped; 0 = SHOAL_LOG_WARNING */
  const char *format;    /* NULL = SHOAL_LOG_DEFAULT_FORMAT; copied; see shoal_logger_create */
  const char *lock_name; /* NULL = a lock of its own, shared with children forked after;
                            a name = the named Lock of that name (created if missing), which
                            every logger given the name shares: spawn children, other programs */
  uint32_t reserved[4];  /* must be zero */
} shoal_logger_opts;

// shoal_logger_create makes a logger whose records carry the time, level,
// process name and pid and thread name, in a Python logging format: the
// fields %(asctime)s %(created)f %(msecs)d %(levelname)s %(levelno)d
// %(name)s %(process)d %(processName)s %(thread)d %(threadName)s
// %(message)s %(filename)s %(lineno)d %(funcName)s, each with an optional
// width ("%(levelname)-8s"), and "%%".  A logger made before fork is shared by
// the children: each record is formatted whole, then written to each sink in
// a single write under a robust cross-process lock, so records of many
// processes and threads never interleave (a writer killed mid-record costs
// at most that record).  Loggers made separately — in spawn children, which
// share no memory with their parent, or in other programs — share that lock
// only when opts->lock_name names the same named Lock; the name stays until
// shoal_unlink(lock_name).  Without it, their records still stay whole in a
// file from shoal_logger_add_file (O_APPEND, one write each) and on a pipe up
// to PIPE_BUF (4096) bytes, but longer records on a pipe or terminal may
// interleave.  With no sink added, records go to stderr.  Errors:
// SHOAL_EINVAL (out NULL, a bad format, bad level or options), SHOAL_ENOMEM,
// or shoal_lock_open's error for lock_name (SHOAL_EINVAL, SHOAL_ETYPE, ...).
SHOAL_API int shoal_logger_create(shoal_logger **out, const shoal_logger_opts *opts);

// shoal_logger_add_stderr adds standard error as a sink.  Errors:
// SHOAL_ENOSPC (SHOAL_LOG_MAX_SINKS sinks already), SHOAL_EINVAL.  Add sinks
// before the logger is used by several threads.
SHOAL_API int shoal_logger_add_stderr(shoal_logger *lg);

// shoal_logger_add_file adds the file at path as a sink, created (0644 less
// the umask) if missing and opened for appending, so that processes which
// open the same file separately (spawn children) also never interleave a
// record.  The logger owns the fd.  Errors: SHOAL_ENOSPC, SHOAL_EINVAL, or
// open's error (SHOAL_ENOENT, SHOAL_EACCES, ...).
SHOAL_API int shoal_logger_add_file(shoal_logger *lg, const char *path);

// shoal_logger_add_fd adds the open fd as a sink; the caller keeps owning it.
// Errors: SHOAL_ENOSPC, SHOAL_EBADF, SHOAL_EINVAL.
SHOAL_API int shoal_logger_add_fd(shoal_logger *lg, int fd);

// shoal_logger_set_level changes the level below which records are dropped
// (in this process).  Returns 0 or SHOAL_EINVAL (level outside 1..50).
SHOAL_API int shoal_logger_set_level(shoal_logger *lg, int level);

// shoal_logger_level returns the logger's level, or SHOAL_EINVAL.
SHOAL_API int shoal_logger_level(const shoal_logger *lg);

// shoal_logger_destroy closes the files the logger opened and frees this
// process's handle.  NULL is a no-op.
SHOAL_API void shoal_logger_destroy(shoal_logger *lg);

// shoal_log_at formats and writes one record of `level` if the logger's
// level lets it through; file, line and func fill %(filename)s, %(lineno)d and
// %(funcName)s (may be NULL).  Returns 1 when written, 0 when filtered out, or
// the first write error (SHOAL_EPIPE, SHOAL_EIO, ...) after trying every sink.
// Thread-safe and safe in forked children.  Prefer the shoal_log macros.
SHOAL_API int shoal_log_at(shoal_logger *lg, int level, const char *file, int line,
                           const char *func, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

// shoal_vlog_at is shoal_log_at with a va_list.
SHOAL_API int shoal_vlog_at(shoal_logger *lg, int level, const char *file, int line,
                            const char *func, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

#define shoal_log(lg, level, ...) shoal_log_at((lg), (level), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define shoal_log_debug(lg, ...) shoal_log((lg), SHOAL_LOG_DEBUG, __VA_ARGS__)
#define shoal_log_info(lg, ...) shoal_log((lg), SHOAL_LOG_INFO, __VA_ARGS__)
#define shoal_log_warning(lg, ...) shoal_log((lg), SHOAL_LOG_WARNING, __VA_ARGS__)
#define shoal_log_error(lg, ...) shoal_log((lg), SHOAL_LOG_ERROR, __VA_ARGS__)
#define shoal_log_critical(lg, ...) shoal_log((lg), SHOAL_LOG_CRITICAL, __VA_ARGS__)

/* ---------------------------------------------------- Graceful shutdown -- */

// shoal_shutdown_on_signals makes SIGINT and SIGTERM set ev (instead of
// killing the process), so that workers watching ev finish their current item
// and exit 0.  The handlers are inherited by children forked afterwards
// (Ctrl-C reaches the whole process group, and each child sets the same
// shared event); a spawn child calls it again with its own handle to the
// event.  ev must outlive the handlers; shoal_shutdown_on_signals(NULL)
// restores the default actions.  Returns 0 or SHOAL_EINVAL.  Not thread-safe
// with itself.
SHOAL_API int shoal_shutdown_on_signals(shoal_event *ev);

#ifdef __cplusplus
}
#endif
#endif
