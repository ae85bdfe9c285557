// SPDX-License-Identifier: MIT
// shoal/sync.h: Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition and
// Barrier — Python's threading/multiprocessing primitives for C.
//
// Every primitive works the same between threads, between a parent and the
// children it forks after creating the object (anonymous objects from
// *_create), and between unrelated processes (named objects from *_open).
// Handles are process-local and stay valid in a child after fork(); any
// thread may use any handle.  All blocking calls take a shoal_duration as
// their last argument (see shoal/common.h) and return SHOAL_EINVAL for a bad
// handle or a negative timeout other than SHOAL_FOREVER.
//
// Dead participants: a process can die at any instruction (kill -9).  What
// that does to each primitive is stated in its section below.
#ifndef SHOAL_SYNC_H
#define SHOAL_SYNC_H

#include <shoal/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- Lock -- */

typedef struct shoal_lock shoal_lock;

// shoal_lock_create makes a new, unlocked anonymous Lock (threading.Lock,
// multiprocessing.Lock) in shared memory and stores its handle in *out.  The
// lock is shared with every thread and with children forked afterwards.
// Errors: SHOAL_EINVAL (out NULL), SHOAL_ENOMEM.
SHOAL_API int shoal_lock_create(shoal_lock **out);

// shoal_lock_open opens the named Lock `name`, creating it unlocked when
// opts asks for it (see shoal_open_opts).  Errors: SHOAL_EINVAL or
// SHOAL_ENAMETOOLONG (bad name), SHOAL_ENOENT, SHOAL_EEXIST (EXCL),
// SHOAL_ETYPE (the name holds another kind of object), SHOAL_ECORRUPT (not a
// shoal object, or truncated), SHOAL_EVERSION, SHOAL_EACCES.
SHOAL_API int shoal_lock_open(shoal_lock **out, const char *name, const shoal_open_opts *opts);

// shoal_lock_destroy releases this process's handle to an anonymous lock made
// by shoal_lock_create; other processes that share it are unaffected.  Do not
// call it while other threads of this process use the handle.  NULL is a no-op.
SHOAL_API void shoal_lock_destroy(shoal_lock *lock);

// shoal_lock_close releases this process's handle to a named lock; the lock
// itself lives on until its name is unlinked and the last handle closes.
// NULL is a no-op.
SHOAL_API void shoal_lock_close(shoal_lock *lock);

// shoal_lock_acquire takes the lock, waiting at most `timeout`.  Returns 0 when
// the lock was taken; SHOAL_EAGAIN (SHOAL_NOWAIT) or SHOAL_ETIMEDOUT when it was
// not.  The lock remembers the thread that took it.  If that thread ended —
// killed with its process, or simply returned — without anybody releasing the
// lock, the caller gets the lock and SHOAL_EOWNERDEAD: the data the lock
// protects may be half-updated; repair it and call shoal_lock_consistent()
// before releasing, or the lock becomes unusable and every later acquire
// returns SHOAL_ENOTRECOVERABLE (as pthread's robust mutexes).  A blocked
// caller notices a dead owner within about 0.1 s; a failed SHOAL_NOWAIT
// attempt checks the owner too, at most once a millisecond per thread.  (So
// unlike Python, a Lock cannot be handed from a thread that ends to another
// that releases it later: use a Semaphore for that.)  Not reentrant: a
// second acquire by the holder waits and times out, as in Python.
SHOAL_API int shoal_lock_acquire(shoal_lock *lock, shoal_duration timeout);

// shoal_lock_release unlocks the lock and wakes one waiter.  As in Python, any
// thread of any process may release it, not only the one that took it.
// Errors: SHOAL_ENOTLOCKED if it was not locked, SHOAL_EINVAL for NULL.
SHOAL_API int shoal_lock_release(shoal_lock *lock);

// shoal_lock_locked returns 1 if the lock is held by anyone, 0 if not, or
// SHOAL_EINVAL.  The answer is momentary.
SHOAL_API int shoal_lock_locked(shoal_lock *lock);

// shoal_lock_consistent declares, after shoal_lock_acquire returned
// SHOAL_EOWNERDEAD, that the protected state has been repaired; the lock then
// works normally again.  Errors: SHOAL_EINVAL if the lock is not in the
// owner-died state or the caller does not hold it.
SHOAL_API int shoal_lock_consistent(shoal_lock *lock);

/* --------------------------------------------------------------- RLock -- */

typedef struct shoal_rlock shoal_rlock;

// shoal_rlock_create makes a new anonymous reentrant lock (threading.RLock):
// the thread that holds it may acquire it again, and it is free once released
// as many times.  Errors as shoal_lock_create.
SHOAL_API int shoal_rlock_create(shoal_rlock **out);

// shoal_rlock_open opens (or creates, per opts) the named RLock `name`.
// Errors as shoal_lock_open.
SHOAL_API int shoal_rlock_open(shoal_rlock **out, const char *name, const shoal_open_opts *opts);

// shoal_rlock_destroy releases this process's handle to an anonymous RLock.
// NULL is a no-op.
SHOAL_API void shoal_rlock_destroy(shoal_rlock *rlock);

// shoal_rlock_close releases this process's handle to a named RLock.  NULL is
// a no-op.
SHOAL_API void shoal_rlock_close(shoal_rlock *rlock);

// shoal_rlock_acquire takes the RLock or, if the calling thread already holds
// it, adds one level.  Returns 0, SHOAL_EAGAIN, SHOAL_ETIMEDOUT,
// SHOAL_EOVERFLOW (2^31 levels), or — when the holding thread died —
// SHOAL_EOWNERDEAD with the lock held once by the caller, and later
// SHOAL_ENOTRECOVERABLE, exactly as for shoal_lock_acquire.
SHOAL_API int shoal_rlock_acquire(shoal_rlock *rlock, shoal_duration timeout);

// shoal_rlock_release drops one level; the lock is free when the last level
// goes.  Errors: SHOAL_EPERM when the calling thread does not hold it (held
// by another thread or process, or not at all), SHOAL_EINVAL for NULL.
SHOAL_API int shoal_rlock_release(shoal_rlock *rlock);

// shoal_rlock_is_owned returns 1 when the calling thread holds the RLock, 0
// when it does not, SHOAL_EINVAL for NULL.
SHOAL_API int shoal_rlock_is_owned(shoal_rlock *rlock);

// shoal_rlock_count returns how many levels the calling thread holds (0 when
// it does not hold the lock), or SHOAL_EINVAL.
SHOAL_API int shoal_rlock_count(shoal_rlock *rlock);

// shoal_rlock_consistent is shoal_lock_consistent for an RLock.
SHOAL_API int shoal_rlock_consistent(shoal_rlock *rlock);

/* ----------------------------------------------------------- Semaphore -- */

typedef struct shoal_semaphore shoal_semaphore;

#define SHOAL_SEMAPHORE_MAX 0x7fffffff

// shoal_semaphore_create makes an anonymous counting semaphore
// (threading.Semaphore) holding `value` units, 0 <= value <= SHOAL_SEMAPHORE_MAX
// (else SHOAL_EINVAL).  Release may raise the count without limit (up to
// SHOAL_SEMAPHORE_MAX, then SHOAL_EOVERFLOW).
// Dead participants: units taken by a process that dies are not given back
// (as with POSIX semaphores); the count of units left stays exact.  A waiter
// killed in its sleep leaves nothing behind; a releaser killed between adding
// its unit and waking a waiter delays that waiter by at most 0.2 s.
SHOAL_API int shoal_semaphore_create(shoal_semaphore **out, int value);

// shoal_bounded_semaphore_create is shoal_semaphore_create for a
// BoundedSemaphore: release never raises the count above `value`; one release
// too many returns SHOAL_EOVERRELEASE and changes nothing.
SHOAL_API int shoal_bounded_semaphore_create(shoal_semaphore **out, int value);

// shoal_semaphore_open opens (or creates with `value` units, per opts) the
// named semaphore `name`.  Errors as shoal_lock_open, plus SHOAL_EINVAL for a
// bad value.  Opening a bounded semaphore through this call is fine: the
// kind is stored in the object.
SHOAL_API int shoal_semaphore_open(shoal_semaphore **out, const char *name, int value,
                                   const shoal_open_opts *opts);

// shoal_bounded_semaphore_open is shoal_semaphore_open creating a bounded one.
SHOAL_API int shoal_bounded_semaphore_open(shoal_semaphore **out, const char *name, int value,
                                           const shoal_open_opts *opts);

// shoal_semaphore_destroy releases this process's handle to an anonymous
// semaphore.  NULL is a no-op.
SHOAL_API void shoal_semaphore_destroy(shoal_semaphore *sem);

// shoal_semaphore_close releases this process's handle to a named semaphore.
// NULL is a no-op.
SHOAL_API void shoal_semaphore_close(shoal_semaphore *sem);

// shoal_semaphore_acquire takes one unit, waiting at most `timeout` for one to
// be released.  Returns 0, SHOAL_EAGAIN (SHOAL_NOWAIT) or SHOAL_ETIMEDOUT.
SHOAL_API int shoal_semaphore_acquire(shoal_semaphore *sem, shoal_duration timeout);

// shoal_semaphore_release gives back n >= 1 units and wakes up to n waiters
// (Python's release(n)).  Errors: SHOAL_EINVAL (n < 1), SHOAL_EOVERRELEASE
// (bounded, the count would pass its initial value; nothing released),
// SHOAL_EOVERFLOW (past SHOAL_SEMAPHORE_MAX; nothing released).
SHOAL_API int shoal_semaphore_release(shoal_semaphore *sem, int n);

// shoal_semaphore_value returns the number of free units (get_value), a
// momentary answer, or SHOAL_EINVAL.
SHOAL_API int shoal_semaphore_value(shoal_semaphore *sem);

/* --------------------------------------------------------------- Event -- */

typedef struct shoal_event shoal_event;

// shoal_event_create makes an anonymous Event (threading.Event), initially
// unset.  Dead participants: a waiter's death leaves nothing behind; a setter
// killed between setting the flag and waking the waiters delays them by at
// most 0.2 s.
SHOAL_API int shoal_event_create(shoal_event **out);

// shoal_event_open opens (or creates unset, per opts) the named Event `name`.
SHOAL_API int shoal_event_open(shoal_event **out, const char *name, const shoal_open_opts *opts);

// shoal_event_destroy releases this process's handle to an anonymous Event.
SHOAL_API void shoal_event_destroy(shoal_event *ev);

// shoal_event_close releases this process's handle to a named Event.
SHOAL_API void shoal_event_close(shoal_event *ev);

// shoal_event_set sets the flag and wakes every waiter.  Returns 0 or SHOAL_EINVAL.
SHOAL_API int shoal_event_set(shoal_event *ev);

// shoal_event_clear resets the flag.  Returns 0 or SHOAL_EINVAL.
SHOAL_API int shoal_event_clear(shoal_event *ev);

// shoal_event_is_set returns 1 when the flag is set, 0 when not, or SHOAL_EINVAL.
SHOAL_API int shoal_event_is_set(shoal_event *ev);

// shoal_event_wait waits until the flag is set.  Returns 0 at once if it is
// set, else 0 when it gets set, SHOAL_EAGAIN (SHOAL_NOWAIT) or
// SHOAL_ETIMEDOUT when it is still unset.
SHOAL_API int shoal_event_wait(shoal_event *ev, shoal_duration timeout);

/* ----------------------------------------------------------- Condition -- */

typedef struct shoal_condition shoal_condition;

// shoal_condition_create makes an anonymous Condition (threading.Condition)
// bound to `lock` or `rlock` (at most one may be given; both NULL means the
// condition uses an RLock of its own).  The given lock must be shared the
// same way as the condition (anonymous with anonymous, both inherited across
// fork).  Dead participants: the bound lock is robust (see shoal_lock_acquire).
// A waiter that dies while waiting stays counted: the next notify counts it
// and its permit then wakes a later waiter early once (a spurious wake-up, as
// pthread condition variables allow; wait_for and loops are immune).  A
// notifier killed between counting waiters and waking them delays them by at
// most 0.2 s.
// Errors: SHOAL_EINVAL (both locks given), SHOAL_ENOMEM.
SHOAL_API int shoal_condition_create(shoal_condition **out, shoal_lock *lock, shoal_rlock *rlock);

// shoal_condition_open opens (or creates, per opts) the named Condition
// `name`.  Each process passes its own handle to the lock the condition uses
// (the same named lock in every process), or NULL for both to use the
// condition's own RLock.  Errors as shoal_lock_open.
SHOAL_API int shoal_condition_open(shoal_condition **out, const char *name, shoal_lock *lock,
                                   shoal_rlock *rlock, const shoal_open_opts *opts);

// shoal_condition_destroy releases this process's handle to an anonymous
// Condition (not the external lock it was given).  NULL is a no-op.
SHOAL_API void shoal_condition_destroy(shoal_condition *cond);

// shoal_condition_close releases this process's handle to a named Condition.
SHOAL_API void shoal_condition_close(shoal_condition *cond);

// shoal_condition_acquire takes the condition's lock (`with cond:`); returns as
// the lock's acquire does.
SHOAL_API int shoal_condition_acquire(shoal_condition *cond, shoal_duration timeout);

// shoal_condition_release releases the condition's lock; returns as the
// lock's release does.
SHOAL_API int shoal_condition_release(shoal_condition *cond);

// shoal_condition_wait releases the lock (all levels of an RLock), waits for a
// notify, and takes the lock back (at the same level) before returning, even
// on timeout.  The caller must hold the lock: SHOAL_EPERM otherwise.  Returns
// 0 when notified, SHOAL_EAGAIN (SHOAL_NOWAIT) or SHOAL_ETIMEDOUT when not;
// SHOAL_EOWNERDEAD if re-taking the lock found its holder dead (the lock is
// held; see shoal_lock_acquire); SHOAL_ENOTRECOVERABLE if the lock can no
// longer be taken (then it is not held).
SHOAL_API int shoal_condition_wait(shoal_condition *cond, shoal_duration timeout);

// shoal_condition_predicate is a wait_for predicate: nonzero means satisfied.
typedef int (*shoal_condition_predicate)(void *arg);

// shoal_condition_wait_for waits until pred(arg) is nonzero, checking it first
// and after every wake-up with the lock held, for at most `timeout` in all.
// Returns the predicate's nonzero value (as 1 when it was negative) when
// satisfied, SHOAL_EAGAIN or SHOAL_ETIMEDOUT when it is still false at the
// deadline, SHOAL_EPERM / SHOAL_EINVAL for misuse.  The lock is held again on
// return in every case but misuse.
SHOAL_API int shoal_condition_wait_for(shoal_condition *cond, shoal_condition_predicate pred,
                                       void *arg, shoal_duration timeout);

// shoal_condition_notify wakes up to n waiters (those waiting now), exactly n
// when at least n wait.  The caller must hold the lock (SHOAL_EPERM).
// Returns the number woken (>= 0), or SHOAL_EINVAL for n < 0.
SHOAL_API int shoal_condition_notify(shoal_condition *cond, int n);

// shoal_condition_notify_all wakes every waiter; returns how many, or an error
// as shoal_condition_notify.
SHOAL_API int shoal_condition_notify_all(shoal_condition *cond);

/* ------------------------------------------------------------- Barrier -- */

typedef struct shoal_barrier shoal_barrier;

// shoal_barrier_action is run by exactly one party per pass — the last to
// arrive — before any party is released.  A nonzero return breaks the barrier.
typedef int (*shoal_barrier_action)(void *arg);

typedef struct shoal_barrier_opts {
  shoal_barrier_action action; /* NULL = none; process-local: each process opening a named
                                  barrier gives its own */
  void *action_arg;
  shoal_duration timeout;      /* default for shoal_barrier_wait; 0 = SHOAL_FOREVER */
  uint32_t reserved[6];        /* must be zero */
} shoal_barrier_opts;

#define SHOAL_BARRIER_MAX_PARTIES 65536

// shoal_barrier_create makes an anonymous Barrier (threading.Barrier) for
// `parties` parties, 1 <= parties <= SHOAL_BARRIER_MAX_PARTIES (else
// SHOAL_EINVAL).  opts may be NULL.
// Dead participants: a party that dies while waiting breaks the barrier (the
// others get SHOAL_EBROKEN within about 0.1 s); one that dies while leaving
// is counted out.  A party that never arrives cannot be told from a slow
// one: use a timeout.  shoal_barrier_reset makes a broken barrier usable.
SHOAL_API int shoal_barrier_create(shoal_barrier **out, int parties,
                                   const shoal_barrier_opts *opts);

// shoal_barrier_open opens (or creates for `parties`, per oopts) the named
// Barrier `name`; opts sets this process's action and default timeout.
SHOAL_API int shoal_barrier_open(shoal_barrier **out, const char *name, int parties,
                                 const shoal_barrier_opts *opts, const shoal_open_opts *oopts);

// shoal_barrier_destroy releases this process's handle to an anonymous Barrier.
SHOAL_API void shoal_barrier_destroy(shoal_barrier *b);

// shoal_barrier_close releases this process's handle to a named Barrier.
SHOAL_API void shoal_barrier_close(shoal_barrier *b);

// shoal_barrier_wait waits until all parties have called it, then releases
// them together.  Returns the caller's arrival index 0..parties-1 (exactly one
// party gets 0 in each pass).  SHOAL_DEFAULT_TIMEOUT uses the barrier's
// default.  Errors: SHOAL_EBROKEN (the barrier is or became broken: abort,
// reset while waiting, another party's timeout or death, or a failing action),
// SHOAL_ETIMEDOUT (this caller's timeout expired: it breaks the barrier for
// the others), SHOAL_EAGAIN (SHOAL_NOWAIT and the caller is not the last).
SHOAL_API int shoal_barrier_wait(shoal_barrier *b, shoal_duration timeout);

// shoal_barrier_reset returns the barrier to its empty state; parties waiting
// now get SHOAL_EBROKEN.  Returns 0 or SHOAL_EINVAL.
SHOAL_API int shoal_barrier_reset(shoal_barrier *b);

// shoal_barrier_abort breaks the barrier: waiting and future parties get
// SHOAL_EBROKEN until shoal_barrier_reset.  Returns 0 or SHOAL_EINVAL.
SHOAL_API int shoal_barrier_abort(shoal_barrier *b);

// shoal_barrier_broken returns 1 if the barrier is broken, 0 if not, or SHOAL_EINVAL.
SHOAL_API int shoal_barrier_broken(shoal_barrier *b);

// shoal_barrier_n_waiting returns how many parties wait in the current pass
// (momentary), or SHOAL_EINVAL.
SHOAL_API int shoal_barrier_n_waiting(shoal_barrier *b);

// shoal_barrier_parties returns the number of parties, or SHOAL_EINVAL.
SHOAL_API int shoal_barrier_parties(shoal_barrier *b);

#ifdef __cplusplus
}
#endif
#endif
