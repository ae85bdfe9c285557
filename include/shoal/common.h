// SPDX-License-Identifier: MIT
// shoal/common.h: what every shoal module shares — export macro, error codes,
// timeouts and the options for opening named objects.
#ifndef SHOAL_COMMON_H
#define SHOAL_COMMON_H

#include <errno.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SHOAL_BUILDING) && defined(__GNUC__)
#define SHOAL_API __attribute__((visibility("default")))
#else
#define SHOAL_API
#endif

/*
 * Error codes.  Every shoal function that can fail returns an int: 0 on
 * success, a count (> 0) where the function says so, or a negative SHOAL_E*
 * code.  On Linux SHOAL_Exxx == -Exxx, so `rc == -ETIMEDOUT` and
 * `rc == SHOAL_ETIMEDOUT` both work.  Codes that have no errno live below
 * -4096.  errno is never the channel: shoal never relies on it being set.
 */
#define SHOAL_ERRNO_MAP(X)                                                       \
  X(EPERM, "operation not permitted (not the owner)")                            \
  X(ENOENT, "no such object")                                                    \
  X(EINTR, "interrupted by a signal")                                            \
  X(EIO, "input/output error")                                                   \
  X(E2BIG, "message larger than the object can ever hold")                       \
  X(EBADF, "bad file descriptor")                                                \
  X(EAGAIN, "would block")                                                       \
  X(ENOMEM, "out of memory")                                                     \
  X(EACCES, "permission denied")                                                 \
  X(EBUSY, "busy")                                                               \
  X(EEXIST, "object already exists")                                             \
  X(ENOTDIR, "not a directory")                                                  \
  X(EINVAL, "invalid argument")                                                  \
  X(EMFILE, "too many open files")                                               \
  X(ENOSPC, "no space left")                                                     \
  X(EPIPE, "broken pipe")                                                        \
  X(ERANGE, "value out of range")                                                \
  X(EDEADLK, "would deadlock")                                                   \
  X(ENAMETOOLONG, "name too long")                                               \
  X(ENOSYS, "not supported by this kernel")                                      \
  X(EOVERFLOW, "value too large")                                                \
  X(EMSGSIZE, "buffer too small for the message")                                \
  X(ENOTSUP, "not supported")                                                    \
  X(ECONNRESET, "connection reset by peer")                                      \
  X(EADDRINUSE, "address already in use")                                        \
  X(EADDRNOTAVAIL, "address not available on this machine")                     \
  X(EAFNOSUPPORT, "address family not supported")                                \
  X(ENETUNREACH, "network unreachable")                                          \
  X(EHOSTUNREACH, "host unreachable")                                            \
  X(EPROTO, "protocol error: the peer sent data that breaks the framing")        \
  X(ETIMEDOUT, "timed out")                                                      \
  X(ECONNREFUSED, "connection refused")                                          \
  X(ECANCELED, "cancelled")                                                      \
  X(EOWNERDEAD, "previous owner died; the lock is now held by the caller")       \
  X(ENOTRECOVERABLE, "lock not recoverable: its owner died and state was not made consistent")

/* Library-only codes: name, value, message. */
#define SHOAL_LIBERR_MAP(X)                                                      \
  X(ECLOSED, -4201, "object is closed or shut down")                             \
  X(EBROKEN, -4202, "broken: barrier aborted, or connection framing lost")      \
  X(EWORKERDIED, -4203, "worker process died")                                   \
  X(EEOF, -4204, "end of stream: the peer closed")                               \
  X(EAUTH, -4205, "authentication failed")                                       \
  X(ETYPE, -4206, "named object is of another type")                             \
  X(ECORRUPT, -4207, "not a shoal object, truncated or corrupt")                 \
  X(EVERSION, -4208, "object made by an incompatible shoal version")             \
  X(ENOTLOCKED, -4209, "release of a lock that is not locked")                   \
  X(EOVERRELEASE, -4210, "released more times than acquired")                   \
  X(ENOTSTARTED, -4220, "process or thread not started yet")

enum shoal_err {
  SHOAL_OK = 0,
#define SHOAL__ERRNO_ENUM(e, s) SHOAL_##e = -(e),
  SHOAL_ERRNO_MAP(SHOAL__ERRNO_ENUM)
#undef SHOAL__ERRNO_ENUM
#define SHOAL__LIB_ENUM(e, v, s) SHOAL_##e = (v),
  SHOAL_LIBERR_MAP(SHOAL__LIB_ENUM)
#undef SHOAL__LIB_ENUM
};

// shoal_strerror returns a static, human-readable message for err, any value
// a shoal function returned: "success" for 0 and for counts (> 0), the
// system's text for an errno value missing from the table, "unknown error"
// for anything else.  Thread-safe; never returns NULL.
SHOAL_API const char *shoal_strerror(int err);

// shoal_err_name returns the symbolic name of err, e.g. "SHOAL_ETIMEDOUT", for
// logs and test output; "SHOAL_OK" for 0 and "SHOAL_E?" for an unknown code.
// Thread-safe; never returns NULL.
SHOAL_API const char *shoal_err_name(int err);

/*
 * Timeouts.  A shoal_duration is a relative time in nanoseconds and is always
 * a blocking call's last argument.  It is turned into one absolute
 * CLOCK_MONOTONIC deadline on entry, so signals and spurious wake-ups never
 * stretch it.  SHOAL_FOREVER blocks; SHOAL_NOWAIT never blocks and returns
 * SHOAL_EAGAIN where the call would have blocked; a positive timeout that
 * expires returns SHOAL_ETIMEDOUT.  Any other negative value is SHOAL_EINVAL,
 * except SHOAL_DEFAULT_TIMEOUT where a call documents it (the barrier).
 */
typedef int64_t shoal_duration;
#define SHOAL_FOREVER ((shoal_duration)-1)
#define SHOAL_NOWAIT ((shoal_duration)0)
#define SHOAL_DEFAULT_TIMEOUT ((shoal_duration)-2)
#define SHOAL_NSEC(n) ((shoal_duration)(n))
#define SHOAL_USEC(n) ((shoal_duration)(n) * 1000)
#define SHOAL_MSEC(n) ((shoal_duration)(n) * 1000000)
#define SHOAL_SEC(n) ((shoal_duration)(n) * 1000000000)

/*
 * Named objects.  Every shoal_<object>_open takes a name and a
 * shoal_open_opts (NULL = open an existing object, fail with SHOAL_ENOENT if
 * there is none).  A name is 1..SHOAL_NAME_MAX bytes, may start with one '/'
 * (POSIX style, ignored) and may hold no other '/'; it names a POSIX shared
 * memory object (/dev/shm/<name>) that unrelated processes open by the same
 * name.  Parameters given to open (a semaphore's value, a barrier's parties)
 * are used only when the call creates the object.
 */
#define SHOAL_NAME_MAX 200

enum shoal_open_flags {
  SHOAL_OPEN_CREATE = 1, /* create the object if the name does not exist */
  SHOAL_OPEN_EXCL = 2,   /* with CREATE: fail with SHOAL_EEXIST if it exists */
};

typedef struct shoal_open_opts {
  unsigned flags;       /* SHOAL_OPEN_CREATE | SHOAL_OPEN_EXCL; 0 = open existing */
  unsigned mode;        /* permission bits when created, applied as given (the
                           umask does not apply); 0 = 0600 */
  uint32_t reserved[6]; /* must be zero */
} shoal_open_opts;

// shoal_unlink removes the name of a shoal object, as shm_unlink does: handles
// already open keep working and the memory goes when the last one closes.  It
// refuses (SHOAL_ECORRUPT) to remove a file in /dev/shm that is not a shoal
// object.  Errors: SHOAL_EINVAL or SHOAL_ENAMETOOLONG for a bad name,
// SHOAL_ENOENT if there is no such name, SHOAL_EACCES.  Thread-safe.
SHOAL_API int shoal_unlink(const char *name);

// shoal_free releases memory that a shoal function allocated for the caller
// (shoal_queue_get_alloc, for one).  NULL is a no-op.  Thread-safe.
SHOAL_API void shoal_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
