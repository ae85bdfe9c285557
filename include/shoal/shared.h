// SPDX-License-Identifier: MIT
// shoal/shared.h: shared state — Value and Array (multiprocessing.Value,
// Array, RawValue, RawArray), SharedMemory segments that Python's
// multiprocessing.shared_memory opens too, and a shared dict and list that
// do a Manager's job without a server process.
//
// Every object here works the same between threads, between a parent and the
// children it forks after creating the object (anonymous objects from
// *_create), and between unrelated processes (named objects from *_open).
// Handles are process-local and stay valid in a child after fork(); any
// thread may use any handle.
//
// Dead participants: a process can die at any instruction (kill -9).  What
// that does to each object is stated in its section below.
#ifndef SHOAL_SHARED_H
#define SHOAL_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include <shoal/common.h>
#include <shoal/sync.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------ Value and Array -- */

/*
 * Typecodes are Python's (array module / multiprocessing.sharedctypes), one
 * char each, with the C type they hold on Linux x86-64 and aarch64:
 *   'b' int8_t    'B' uint8_t    'h' int16_t   'H' uint16_t
 *   'i' int32_t   'I' uint32_t   'l' int64_t   'L' uint64_t (C long)
 *   'q' int64_t   'Q' uint64_t   'f' float     'd' double
 *   'c' one byte (a char)        '?' bool (one byte, 0 or 1)
 * Any other char is SHOAL_EINVAL (Python's TypeError 'bad typecode').
 * The integer typecodes are b B h H i I l L q Q; 'c' and '?' are read and
 * written through the integer calls too (0..255 and 0/1) but have no atomic
 * arithmetic.
 */

/* Options of Value and Array: the lock as in Python's Value(..., lock=...). */
enum shoal_value_flags {
  SHOAL_VALUE_RAW = 1, /* no lock at all: RawValue / lock=False */
};

typedef struct shoal_value_opts {
  unsigned flags;       /* SHOAL_VALUE_RAW, or 0 */
  shoal_lock *lock;     /* lock=<Lock>: guard with this Lock instead of an own RLock */
  shoal_rlock *rlock;   /* lock=<RLock>: or with this RLock (at most one of the two) */
  uint32_t reserved[6]; /* must be zero */
} shoal_value_opts;

typedef struct shoal_value shoal_value;

// shoal_value_create makes an anonymous Value (multiprocessing.Value) of
// `typecode`, zero, and stores its handle in *out.  opts NULL (or zero) gives
// the Value an RLock of its own, reachable through shoal_value_get_lock;
// SHOAL_VALUE_RAW makes a RawValue with no lock; opts->lock or opts->rlock
// makes it use that lock, which must be shared the same way as the value
// (made before fork, or opened by name in every process) and which the caller
// keeps owning.  The value is shared with every thread and with children
// forked afterwards.  Errors: SHOAL_EINVAL (out NULL, bad typecode, RAW
// together with a lock, both locks, reserved fields set), SHOAL_ENOMEM.
SHOAL_API int shoal_value_create(shoal_value **out, char typecode, const shoal_value_opts *opts);

// shoal_value_open opens the named Value `name`, creating it zero when oopts
// asks (see shoal_open_opts).  Every process passes the same typecode and the
// same kind of lock (own, RAW, or a handle to the same external lock, opened
// by name in each process).  Errors: as shoal_lock_open, plus SHOAL_EINVAL
// for a bad typecode or options, SHOAL_ETYPE when the existing value holds
// another typecode (or the name another kind of object), SHOAL_EINVAL when it
// was made with another kind of lock.
SHOAL_API int shoal_value_open(shoal_value **out, const char *name, char typecode,
                               const shoal_value_opts *opts, const shoal_open_opts *oopts);

// shoal_value_destroy releases this process's handle to an anonymous Value
// (not an external lock it was given); other processes are unaffected.  Do
// not call it while other threads use the handle.  NULL is a no-op.
SHOAL_API void shoal_value_destroy(shoal_value *v);

// shoal_value_close releases this process's handle to a named Value; the
// value lives on until its name is unlinked (shoal_unlink) and the last
// handle closes.  NULL is a no-op.
SHOAL_API void shoal_value_close(shoal_value *v);

// shoal_value_typecode returns the value's typecode (a positive char), or
// SHOAL_EINVAL for NULL.
SHOAL_API int shoal_value_typecode(shoal_value *v);

// shoal_value_get_int stores the value in *out (Python's v.value) for an
// integer typecode, 'c' (0..255) or '?' (0/1).  With a lock the read is made
// under it (taken and released around the read); without, the read is still
// atomic.  Errors: SHOAL_EINVAL (NULL), SHOAL_ENOTSUP ('f' or 'd'),
// SHOAL_EOVERFLOW (a 'L' or 'Q' value above INT64_MAX: use shoal_value_get),
// SHOAL_ENOTRECOVERABLE (the lock is beyond repair).  A lock whose holder
// died is taken over and marked consistent: the value itself is never
// half-written.  Thread-safe.
SHOAL_API int shoal_value_get_int(shoal_value *v, int64_t *out);

// shoal_value_set_int stores x (v.value = x), under the lock if there is one,
// as shoal_value_get_int reads.  Errors: SHOAL_ERANGE when x does not fit the
// typecode ('c' takes 0..255, '?' 0 or 1) and nothing is stored, otherwise as
// shoal_value_get_int.
SHOAL_API int shoal_value_set_int(shoal_value *v, int64_t x);

// shoal_value_get_double stores an 'f' or 'd' value in *out.  Errors:
// SHOAL_ENOTSUP for the other typecodes, otherwise as shoal_value_get_int.
SHOAL_API int shoal_value_get_double(shoal_value *v, double *out);

// shoal_value_set_double stores x in an 'f' or 'd' value ('f' rounds to
// float, as ctypes does).  Errors as shoal_value_get_double.
SHOAL_API int shoal_value_set_double(shoal_value *v, double x);

// shoal_value_get copies the value's bytes (its C type, of size `size`) to
// out, under the lock if there is one: the way to read any typecode,
// including 'Q' values above INT64_MAX.  Errors: SHOAL_EINVAL (NULL, size not
// the typecode's size), SHOAL_ENOTRECOVERABLE.
SHOAL_API int shoal_value_get(shoal_value *v, void *out, size_t size);

// shoal_value_set copies `size` bytes of the value's C type from in, under the
// lock if there is one.  '?' stores 1 for any nonzero byte.  Errors as
// shoal_value_get.
SHOAL_API int shoal_value_set(shoal_value *v, const void *in, size_t size);

// shoal_value_add atomically adds delta to an integer value and stores the
// new value in *result (when not NULL).  Atomic operations never take the
// lock: they need none, and other processes' atomic calls and locked reads
// see either the old or the new value.  They wrap around, as C's unsigned
// arithmetic and ctypes do (delta is taken modulo 2^bits of the type).  For
// 'L' and 'Q' the int64_t results are the same 64 bits read as signed.
// Errors: SHOAL_EINVAL (NULL), SHOAL_ENOTSUP ('f', 'd', 'c', '?').
SHOAL_API int shoal_value_add(shoal_value *v, int64_t delta, int64_t *result);

// shoal_value_fetch_add is shoal_value_add that stores the value from before
// the addition in *old (when not NULL).
SHOAL_API int shoal_value_fetch_add(shoal_value *v, int64_t delta, int64_t *old);

// shoal_value_exchange atomically stores x and puts the previous value in
// *old (when not NULL).  Errors: SHOAL_ERANGE when x does not fit the
// typecode ('L' and 'Q' take any int64_t as its 64 bits), otherwise as
// shoal_value_add.
SHOAL_API int shoal_value_exchange(shoal_value *v, int64_t x, int64_t *old);

// shoal_value_compare_exchange atomically replaces the value with desired if
// it equals *expected, and returns 1; otherwise stores the current value in
// *expected and returns 0.  Errors: SHOAL_EINVAL (NULL), SHOAL_ERANGE
// (desired does not fit), SHOAL_ENOTSUP as shoal_value_add.
SHOAL_API int shoal_value_compare_exchange(shoal_value *v, int64_t *expected, int64_t desired);

// shoal_value_acquire takes the value's lock (with v.get_lock(): ...), its own
// RLock or the external lock it was made with; returns as that lock's acquire
// does.  Errors: SHOAL_ENOENT for a RAW value (Python: AttributeError).
SHOAL_API int shoal_value_acquire(shoal_value *v, shoal_duration timeout);

// shoal_value_release releases the value's lock, as that lock's release does;
// SHOAL_ENOENT for a RAW value.
SHOAL_API int shoal_value_release(shoal_value *v);

// shoal_value_get_lock (v.get_lock()) stores the value's lock in *lock or
// *rlock (the other gets NULL): the RLock of its own, or the external one it
// was made with.  The value's own RLock belongs to the value: use it with the
// shoal_rlock_* calls but never destroy or close it; it goes with the value's
// handle.  Errors: SHOAL_EINVAL (a NULL argument), SHOAL_ENOENT for a RAW
// value (both outputs are then NULL).
SHOAL_API int shoal_value_get_lock(shoal_value *v, shoal_lock **lock, shoal_rlock **rlock);

typedef struct shoal_array shoal_array;

// shoal_array_create makes an anonymous Array (multiprocessing.Array) of
// `length` items of `typecode`, all zero, with a lock chosen by opts as for
// shoal_value_create.  length may be 0.  Errors: SHOAL_EINVAL (as
// shoal_value_create, or a length whose bytes overflow), SHOAL_ENOMEM.
SHOAL_API int shoal_array_create(shoal_array **out, char typecode, size_t length,
                                 const shoal_value_opts *opts);

// shoal_array_open opens the named Array `name`, creating it zero-filled with
// `length` items when oopts asks.  When opening an existing array, length 0
// accepts any length; another nonzero length is SHOAL_ERANGE.  Errors
// otherwise as shoal_value_open.
SHOAL_API int shoal_array_open(shoal_array **out, const char *name, char typecode, size_t length,
                               const shoal_value_opts *opts, const shoal_open_opts *oopts);

// shoal_array_destroy releases this process's handle to an anonymous Array.
// NULL is a no-op.
SHOAL_API void shoal_array_destroy(shoal_array *a);

// shoal_array_close releases this process's handle to a named Array.  NULL is
// a no-op.
SHOAL_API void shoal_array_close(shoal_array *a);

// shoal_array_len returns the number of items (len(a)); 0 for NULL.
SHOAL_API size_t shoal_array_len(shoal_array *a);

// shoal_array_typecode returns the array's typecode, or SHOAL_EINVAL.
SHOAL_API int shoal_array_typecode(shoal_array *a);

// shoal_array_itemsize returns the size in bytes of one item (1..8), or
// SHOAL_EINVAL.
SHOAL_API int shoal_array_itemsize(shoal_array *a);

// shoal_array_data returns the items themselves (Python's get_obj()), for
// code that takes the lock itself; NULL for NULL.  The pointer is valid while
// the handle is, in this process.
SHOAL_API void *shoal_array_data(shoal_array *a);

// shoal_array_get_int reads a[index] as shoal_value_get_int reads a value.
// Errors: SHOAL_ERANGE (index >= length; Python's IndexError), otherwise as
// shoal_value_get_int.
SHOAL_API int shoal_array_get_int(shoal_array *a, size_t index, int64_t *out);

// shoal_array_set_int stores a[index] = x; errors as shoal_value_set_int plus
// SHOAL_ERANGE for a bad index.
SHOAL_API int shoal_array_set_int(shoal_array *a, size_t index, int64_t x);

// shoal_array_get_double reads an 'f' or 'd' item; errors as
// shoal_value_get_double plus SHOAL_ERANGE for a bad index.
SHOAL_API int shoal_array_get_double(shoal_array *a, size_t index, double *out);

// shoal_array_set_double stores an 'f' or 'd' item; errors as
// shoal_array_get_double.
SHOAL_API int shoal_array_set_double(shoal_array *a, size_t index, double x);

// shoal_array_get_slice copies items start..stop-1 (a[start:stop]) into buf,
// which holds buf_size bytes, as the items' C type, under the lock if there is
// one (the slice is read whole).  Errors: SHOAL_ERANGE (start > stop or stop >
// length), SHOAL_EMSGSIZE (buf_size < (stop - start) * itemsize), SHOAL_EINVAL
// (NULL), SHOAL_ENOTRECOVERABLE.
SHOAL_API int shoal_array_get_slice(shoal_array *a, size_t start, size_t stop, void *buf,
                                    size_t buf_size);

// shoal_array_set_slice stores a[start:stop] = buf, whole under the lock if
// there is one.  buf_size must be exactly (stop - start) * itemsize bytes
// (Python: "can only assign sequence of same size"), else SHOAL_EINVAL and
// nothing is stored.  '?' items store 1 for any nonzero byte.  Errors
// otherwise as shoal_array_get_slice.
SHOAL_API int shoal_array_set_slice(shoal_array *a, size_t start, size_t stop, const void *buf,
                                    size_t buf_size);

// shoal_array_acquire takes the array's lock; see shoal_value_acquire.
SHOAL_API int shoal_array_acquire(shoal_array *a, shoal_duration timeout);

// shoal_array_release releases the array's lock; see shoal_value_release.
SHOAL_API int shoal_array_release(shoal_array *a);

// shoal_array_get_lock returns the array's lock; see shoal_value_get_lock.
SHOAL_API int shoal_array_get_lock(shoal_array *a, shoal_lock **lock, shoal_rlock **rlock);

/* -------------------------------------------------------- SharedMemory -- */

/*
 * Named raw segments, byte-compatible with Python's
 * multiprocessing.shared_memory.SharedMemory: the same names ("foo" is the
 * POSIX shm object "/foo", in /dev/shm), mode 0600, exactly `size` bytes, no
 * header.  C attaches to what Python made and Python to what C made.
 *
 * Names: 1..SHOAL_NAME_MAX bytes, an optional leading '/' (ignored, as
 * Python's .name drops it), no other '/', no NUL, not "." or "..", and not
 * starting with ".shoal-" (reserved for shoal's own files).  Generated names
 * are Python's: "psm_" and 8 hex digits.
 *
 * Tracking: a segment is created *tracked* unless SHOAL_SHM_PERSISTENT is
 * given.  When the process that created a tracked segment ends — by exit or
 * kill -9 — without unlinking it, a small watcher process unlinks it (Python's
 * resource tracker; Python also unlinks at a clean exit).  A process that only
 * attaches never unlinks anything (unlike Python before 3.13, gh-82300).  The
 * watcher needs Linux 5.3 or later (pidfd_open).
 */

enum shoal_shm_flags {
  SHOAL_SHM_PERSISTENT = 1, /* create: not unlinked when the creator ends (Python's track=False) */
};

typedef struct shoal_shm_opts {
  unsigned flags;       /* create: SHOAL_SHM_PERSISTENT, or 0; attach: 0 */
  unsigned mode;        /* create: permission bits, applied as given; 0 = 0600; attach: 0 */
  size_t name_len;      /* 0: the name is a C string; else its length in bytes, which must
                           not include a NUL (for names from Python or the wire) */
  uint32_t reserved[6]; /* must be zero */
} shoal_shm_opts;

typedef struct shoal_shm shoal_shm;

// shoal_shm_create makes the new segment `name` (SharedMemory(name,
// create=True, size=size)) of exactly `size` bytes, zero-filled, maps it and
// stores the handle in *out.  name NULL generates a free Python-style name
// ("psm_" + 8 hex digits; see shoal_shm_name).  The segment appears whole and
// sized at once: no process ever attaches a half-made one.  It is tracked
// unless opts has SHOAL_SHM_PERSISTENT; the first create of a process starts
// its watcher, and a later one replaces a watcher that has ended (killed).  Errors: SHOAL_EINVAL (out NULL, size 0, bad name or
// options), SHOAL_ENAMETOOLONG, SHOAL_EEXIST (the name exists: Python's
// FileExistsError), SHOAL_EACCES, SHOAL_ENOMEM, SHOAL_ENOSYS (no watcher
// possible on this kernel; PERSISTENT segments need none).  Thread-safe.
// Across fork the handle stays valid in the child, which shares the memory;
// the child is not the creator (its death unlinks nothing).
SHOAL_API int shoal_shm_create(shoal_shm **out, const char *name, size_t size,
                               const shoal_shm_opts *opts);

// shoal_shm_attach maps the existing segment `name` (SharedMemory(name)),
// whoever made it, Python or C; its size is the segment's.  Attaching never
// makes the caller responsible for the segment.  opts may be NULL (its
// flags and mode must be 0).  Errors: SHOAL_EINVAL (NULL name, bad name,
// NUL inside), SHOAL_ENAMETOOLONG, SHOAL_ENOENT (Python's FileNotFoundError),
// SHOAL_EACCES, SHOAL_ECORRUPT (not a regular file, or empty), SHOAL_ENOMEM.
SHOAL_API int shoal_shm_attach(shoal_shm **out, const char *name, const shoal_shm_opts *opts);

// shoal_shm_close unmaps the segment in this process (shm.close()) and frees
// the handle; the segment and its name stay.  NULL is a no-op.  Do not call
// it while other threads use the buffer.
SHOAL_API void shoal_shm_close(shoal_shm *shm);

// shoal_shm_unlink removes the segment's name (shm.unlink()), from whichever
// process holds a handle: mappings stay valid until closed, and the memory
// goes with the last one.  It also ends the segment's tracking.  Errors:
// SHOAL_ENOENT when the name is already gone (a second unlink: Python's
// FileNotFoundError), SHOAL_EACCES, SHOAL_EINVAL (NULL).  Thread-safe.
SHOAL_API int shoal_shm_unlink(shoal_shm *shm);

// shoal_shm_name returns the segment's name without a leading '/', as
// Python's .name does ("psm_1a2b3c4d"); NULL for NULL.  Valid while the
// handle is.
SHOAL_API const char *shoal_shm_name(shoal_shm *shm);

// shoal_shm_size returns the segment's size in bytes (shm.size); 0 for NULL.
SHOAL_API size_t shoal_shm_size(shoal_shm *shm);

// shoal_shm_buf returns the segment's bytes (shm.buf), shoal_shm_size of
// them, valid until shoal_shm_close; NULL for NULL.  The bytes are shared
// raw memory: guard them with a Lock or Semaphore, or use atomics.
SHOAL_API void *shoal_shm_buf(shoal_shm *shm);

/* One segment in a shoal_shm_list answer. */
typedef struct shoal_shm_info {
  char name[SHOAL_NAME_MAX + 1]; /* without the leading '/' */
  uint32_t owner_pid;            /* the process that created it */
  int owner_alive;               /* 1 while that process runs */
  int persistent;                /* 1: made with SHOAL_SHM_PERSISTENT */
  uint64_t size;                 /* bytes */
} shoal_shm_info;

// shoal_shm_list describes the segments that shoal processes created and that
// still exist (Python's own are not listed), storing up to max of them in out
// (out may be NULL when max is 0), in no particular order.  Returns how many
// there are (which may exceed max: call again with more room), or
// SHOAL_EINVAL (out NULL with max > 0), or a system error.  Thread-safe.
SHOAL_API int shoal_shm_list(shoal_shm_info *out, size_t max);

/* ------------------------------------------------- shared dict and list -- */

/*
 * A dict (byte-string keys to byte-string values) and a list of byte
 * strings, living in shared memory: Manager().dict() and Manager().list()
 * without the server process.  Data is copied in and out.
 *
 * Readers never block each other (a sequence lock: a reader retries when a
 * writer changed what it was reading); writers take turns on a robust lock.
 * Both grow by themselves, up to a bound: the memory they use comes from a
 * file that grows as needed (initial_size at first), every process maps
 * max_size of address space once, so growing never moves anything and every
 * process sees the new size at its next call.  When max_size (or the
 * machine's memory) is used up, a call that needs more returns SHOAL_ENOMEM
 * and changes nothing.  Memory freed by deletes is reused.
 *
 * Damaged files: opening a named dict or list whose file was truncated (or
 * whose control block contradicts itself) is SHOAL_ECORRUPT, and so is the
 * first call of a process that finds the object grew while its file is
 * shorter.  Memory a process already used cannot be guarded: if the file is
 * cut short under it, touching the lost pages is SIGBUS, as for any mapped
 * file.
 *
 * Dead participants: a reader killed anywhere leaves nothing behind.  A
 * writer killed in the middle of a change leaves the lock to the next caller
 * (reader or writer, within about 0.1 s), which repairs the structure before
 * going on: the change the dead writer was making is either whole or absent,
 * and memory it had taken is given back.
 */

typedef struct shoal_container_opts {
  size_t initial_size;  /* bytes of memory at first; 0 = 64 KiB */
  size_t max_size;      /* bytes it may grow to; 0 = 1 GiB (address space: memory is
                           taken only as the dict or list grows) */
  uint32_t reserved[6]; /* must be zero */
} shoal_container_opts;

typedef struct shoal_dict shoal_dict;

// shoal_dict_create makes an anonymous, empty shared dict and stores its
// handle in *out.  Threads share it, and so do children forked afterwards.
// opts may be NULL.  Errors: SHOAL_EINVAL (out NULL, bad options:
// initial_size above max_size, max_size below 64 KiB or above 64 TiB),
// SHOAL_ENOMEM.
SHOAL_API int shoal_dict_create(shoal_dict **out, const shoal_container_opts *opts);

// shoal_dict_open opens the named dict `name`, creating it empty when oopts
// asks (opts is used only then; oopts->mode sets its permission bits).
// Errors: as shoal_lock_open.
SHOAL_API int shoal_dict_open(shoal_dict **out, const char *name, const shoal_container_opts *opts,
                              const shoal_open_opts *oopts);

// shoal_dict_destroy releases this process's handle to an anonymous dict;
// the memory goes when the last process sharing it lets go.  Do not call it
// while other threads use the handle.  NULL is a no-op.
SHOAL_API void shoal_dict_destroy(shoal_dict *d);

// shoal_dict_close releases this process's handle to a named dict; it lives
// on until shoal_unlink(name) and the last close.  NULL is a no-op.
SHOAL_API void shoal_dict_close(shoal_dict *d);

// shoal_dict_set stores d[key] = value, replacing any value the key had.
// Keys and values are byte strings of any length, 0 included (key and value
// may be NULL when their length is 0).  Errors: SHOAL_EINVAL (d NULL, NULL
// with a nonzero length), SHOAL_E2BIG (the entry could never fit, however
// much is deleted: memory comes in power-of-two blocks, so that is any entry
// over about half of max_size), SHOAL_ENOMEM (full: nothing changed).
// Thread- and process-safe.
SHOAL_API int shoal_dict_set(shoal_dict *d, const void *key, size_t klen, const void *value,
                             size_t vlen);

// shoal_dict_get copies d[key] into buf.  On entry *vlen is buf's size; on
// return it is the value's length.  Errors: SHOAL_ENOENT (no such key:
// Python's KeyError), SHOAL_EMSGSIZE (buf too small: nothing copied, *vlen
// tells the size needed; buf may be NULL with *vlen 0 to ask), SHOAL_EINVAL.
// Never waits for other readers.
SHOAL_API int shoal_dict_get(shoal_dict *d, const void *key, size_t klen, void *buf, size_t *vlen);

// shoal_dict_contains returns 1 when key is in d, 0 when not, or SHOAL_EINVAL.
SHOAL_API int shoal_dict_contains(shoal_dict *d, const void *key, size_t klen);

// shoal_dict_delete removes key (del d[key]).  Errors: SHOAL_ENOENT (not
// there), SHOAL_EINVAL.
SHOAL_API int shoal_dict_delete(shoal_dict *d, const void *key, size_t klen);

// shoal_dict_pop removes key and copies its value out in one step (d.pop(key)),
// with *vlen as for shoal_dict_get.  Errors as shoal_dict_get; on
// SHOAL_EMSGSIZE nothing is removed.
SHOAL_API int shoal_dict_pop(shoal_dict *d, const void *key, size_t klen, void *buf, size_t *vlen);

// shoal_dict_len returns the number of keys (len(d)), a momentary answer; 0
// for NULL.
SHOAL_API size_t shoal_dict_len(shoal_dict *d);

// shoal_dict_clear removes every key (d.clear()) and gives back the memory
// they used.  Returns 0 or SHOAL_EINVAL.
SHOAL_API int shoal_dict_clear(shoal_dict *d);

/* An iteration over a dict: zero it (or SHOAL_DICT_ITER_INIT) to start. */
typedef struct shoal_dict_iter {
  uint64_t state[4];
} shoal_dict_iter;
#define SHOAL_DICT_ITER_INIT                                                                       \
  {                                                                                                \
    {                                                                                              \
      0, 0, 0, 0                                                                                   \
    }                                                                                              \
  }

// shoal_dict_next steps an iteration (for key, value in d.items()): it copies
// the next key into key (*klen: the buffer's size in, the key's length out)
// and, unless vlen is NULL (keys only), the value into value the same way,
// and returns 1; 0 when the iteration is over.  Keys present during the
// whole iteration are visited exactly once; keys added or removed meanwhile
// may or may not be.  Errors: SHOAL_EMSGSIZE (a buffer too small: *klen and
// *vlen tell the sizes needed; call again with bigger buffers, the iteration
// stays in place), SHOAL_ECANCELED (the dict was resized or cleared since
// the iteration began, as Python's "dictionary changed size during
// iteration": start again), SHOAL_EINVAL (NULL d, it or klen; a NULL buffer
// with a nonzero size).  Thread-safe; never waits for other readers; an
// iteration (the shoal_dict_iter) belongs to one thread.
SHOAL_API int shoal_dict_next(shoal_dict *d, shoal_dict_iter *it, void *key, size_t *klen,
                              void *value, size_t *vlen);

typedef struct shoal_list shoal_list;

// shoal_list_create makes an anonymous, empty shared list of byte strings.
// Errors as shoal_dict_create.
SHOAL_API int shoal_list_create(shoal_list **out, const shoal_container_opts *opts);

// shoal_list_open opens (or creates empty, per oopts) the named list `name`.
// Errors as shoal_dict_open.
SHOAL_API int shoal_list_open(shoal_list **out, const char *name, const shoal_container_opts *opts,
                              const shoal_open_opts *oopts);

// shoal_list_destroy releases this process's handle to an anonymous list.
// NULL is a no-op.
SHOAL_API void shoal_list_destroy(shoal_list *l);

// shoal_list_close releases this process's handle to a named list.  NULL is
// a no-op.
SHOAL_API void shoal_list_close(shoal_list *l);

// shoal_list_append adds item at the end (l.append(item)).  Errors:
// SHOAL_EINVAL, SHOAL_E2BIG (the item could never fit: over about half of
// max_size, as for shoal_dict_set), SHOAL_ENOMEM (full: nothing changed).
SHOAL_API int shoal_list_append(shoal_list *l, const void *item, size_t len);

// shoal_list_insert puts item before position index (l.insert(index, item));
// an index past the end appends, as in Python.  Errors as shoal_list_append.
SHOAL_API int shoal_list_insert(shoal_list *l, size_t index, const void *item, size_t len);

// shoal_list_get copies l[index] into buf, *len as for shoal_dict_get.
// Errors: SHOAL_ERANGE (index >= len: Python's IndexError), SHOAL_EMSGSIZE,
// SHOAL_EINVAL.  Never waits for other readers.
SHOAL_API int shoal_list_get(shoal_list *l, size_t index, void *buf, size_t *len);

// shoal_list_set replaces l[index] (l[index] = item).  Errors: SHOAL_ERANGE,
// otherwise as shoal_list_append.
SHOAL_API int shoal_list_set(shoal_list *l, size_t index, const void *item, size_t len);

// shoal_list_delete removes l[index] (del l[index]); later items move down
// one.  It needs no memory, so a full list can always be shrunk.  Errors:
// SHOAL_ERANGE, SHOAL_EINVAL.
SHOAL_API int shoal_list_delete(shoal_list *l, size_t index);

// shoal_list_pop removes the last item and copies it out (l.pop()), *len as
// for shoal_dict_get; like delete it needs no memory.  Errors: SHOAL_ERANGE
// (empty list), SHOAL_EMSGSIZE (nothing removed), SHOAL_EINVAL.
SHOAL_API int shoal_list_pop(shoal_list *l, void *buf, size_t *len);

// shoal_list_len returns the number of items, a momentary answer; 0 for NULL.
SHOAL_API size_t shoal_list_len(shoal_list *l);

// shoal_list_clear removes every item.  Returns 0 or SHOAL_EINVAL.
SHOAL_API int shoal_list_clear(shoal_list *l);

#ifdef __cplusplus
}
#endif
#endif
