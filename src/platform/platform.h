// SPDX-License-Identifier: MIT
// platform.h: the porting contract.  Module code calls only these functions
// for anything the OS does; a port supplies all of them (src/platform/linux/
// is the one we have).  Times are CLOCK_MONOTONIC nanoseconds.
#ifndef SHOAL_PLATFORM_H
#define SHOAL_PLATFORM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A deadline that never comes. */
#define SHOAL__PLAT_NEVER UINT64_MAX

// shoal__plat_now returns the CLOCK_MONOTONIC time in nanoseconds.
uint64_t shoal__plat_now(void);

// shoal__plat_wait sleeps while *word == seen, until woken or until the
// absolute deadline (SHOAL__PLAT_NEVER: none).  The word may be in memory
// shared between processes.  Returns 0 when woken, when *word != seen, or on
// a signal or spurious wake-up (callers re-check their condition);
// SHOAL_ETIMEDOUT once the deadline has passed.
int shoal__plat_wait(_Atomic uint32_t *word, uint32_t seen, uint64_t deadline);

// shoal__plat_wake wakes up to n sleepers on word (INT32_MAX: all) and returns
// how many it woke.
int shoal__plat_wake(_Atomic uint32_t *word, int n);

// shoal__plat_cpu_relax is the pause a spin loop makes between two reads.
static inline void shoal__plat_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#else
  atomic_signal_fence(memory_order_seq_cst);
#endif
}

/*
 * Thread identity.  A thread is named by a 64-bit stamp: its kernel thread id
 * (tid, < 2^30) in the top 30 bits and its start time (clock ticks since boot,
 * from /proc) in the low 34, so that a later thread reusing the tid is told
 * apart.  The stamp is read on every lock acquire, so it is cached per thread;
 * an atfork handler clears the cache in fork children.
 */
/* initial-exec: in libshoal.so a plain TLS access would call __tls_get_addr
 * on every lock acquire. */
extern _Thread_local uint64_t shoal__plat_stamp_cache __attribute__((tls_model("initial-exec")));
uint64_t shoal__plat_stamp_slow(void);

// shoal__plat_stamp returns the calling thread's stamp.
static inline uint64_t shoal__plat_stamp(void)
{
  uint64_t s = shoal__plat_stamp_cache;
  return s ? s : shoal__plat_stamp_slow();
}

// shoal__plat_stamp_tid returns the tid a stamp names.
static inline uint32_t shoal__plat_stamp_tid(uint64_t stamp)
{
  return (uint32_t)(stamp >> 34);
}

// shoal__plat_tid returns the calling thread's kernel thread id.
static inline uint32_t shoal__plat_tid(void)
{
  return shoal__plat_stamp_tid(shoal__plat_stamp());
}

// shoal__plat_thread_alive tells whether thread `tid` is still running.  When
// stamp names the same tid, a thread with that tid but another start time
// counts as dead (the tid was reused).  A zombie counts as dead.  Costs a few
// system calls: callers probe only after waiting a while.
bool shoal__plat_thread_alive(uint32_t tid, uint64_t stamp);

/*
 * Shared memory.  Named objects are files in the shm directory; a name here
 * is already validated (no '/', not empty, short enough).
 */

// shoal__plat_map_anon maps `size` bytes of zeroed memory shared with children
// forked later.  Returns 0 and *out, or SHOAL_ENOMEM.
int shoal__plat_map_anon(size_t size, void **out);

// shoal__plat_unmap unmaps what map_anon or shm_map mapped.
void shoal__plat_unmap(void *addr, size_t size);

// shoal__plat_page_size returns the page size.
size_t shoal__plat_page_size(void);

// shoal__plat_shm_create makes a new shm object `name` of `size` zeroed bytes
// with permission bits `mode`, lets init(addr, arg) fill it while no other
// process can see it, then publishes it atomically: an opener sees either no
// object or a complete one.  Returns 0 with *addr mapped, SHOAL_EEXIST, or an
// error from init or the system.
int shoal__plat_shm_create(const char *name, size_t size, unsigned mode,
                           int (*init)(void *addr, size_t size, void *arg), void *arg,
                           void **addr, int *fd_out);

// shoal__plat_shm_open maps the existing shm object `name` whole.  Returns 0
// with *addr and *size (and an open descriptor in *fd_out when not NULL),
// SHOAL_ENOENT, SHOAL_EACCES, or SHOAL_ECORRUPT when the object is smaller
// than min_size or not a regular file.
int shoal__plat_shm_open(const char *name, size_t min_size, void **addr, size_t *size,
                         int *fd_out);

// shoal__plat_map_anon_fd is shoal__plat_map_anon backed by an anonymous file
// (memfd), whose descriptor it returns in *fd_out so that parts of the memory
// can be mapped again (see shoal__plat_map_mirror).
int shoal__plat_map_anon_fd(size_t size, void **out, int *fd_out);

// shoal__plat_map_mirror maps bytes [offset, offset+len) of fd twice, back to
// back, and returns the start in *out: a ring buffer whose records never wrap.
// len and offset must be multiples of the page size.  Unmap 2*len bytes.
int shoal__plat_map_mirror(int fd, size_t offset, size_t len, void **out);

// shoal__plat_close_fd closes a descriptor returned by this layer (< 0: no-op).
void shoal__plat_close_fd(int fd);

// shoal__plat_dup_fd returns a new close-on-exec descriptor of what fd
// refers to, or SHOAL_EBADF / SHOAL_EMFILE.
int shoal__plat_dup_fd(int fd);

// shoal__plat_shm_unlink removes the name.  Returns 0 or SHOAL_ENOENT/EACCES.
int shoal__plat_shm_unlink(const char *name);

/*
 * Descriptors, for the conn module.  Every descriptor made here is
 * close-on-exec.  Functions return a descriptor or a count (>= 0), or a
 * negative SHOAL_E* code; EINTR is retried inside.
 */
struct iovec;
struct msghdr;
struct pollfd;

// shoal__plat_err turns an errno value into the SHOAL_E* code a caller gets:
// the value itself when SHOAL_ERRNO_MAP has it, else the nearest entry
// (ENFILE is SHOAL_EMFILE, ELOOP SHOAL_ENOENT, ENOTCONN SHOAL_ECONNRESET,
// EPROTOTYPE SHOAL_ECONNREFUSED, EISDIR SHOAL_EINVAL, ...), SHOAL_EIO for 0
// or an errno without a near entry.  So no raw errno outside the table ever
// reaches a caller, and shoal_err_name never says "SHOAL_E?" for one.
int shoal__plat_err(int e);

// shoal__plat_socket makes a socket (socket(2) arguments); the descriptor is
// close-on-exec and, with nonblock, non-blocking.
int shoal__plat_socket(int domain, int type, bool nonblock);

// shoal__plat_socketpair makes a connected AF_UNIX pair of `type`.
int shoal__plat_socketpair(int type, int fds[2]);

// shoal__plat_pipe makes a pipe, both ends non-blocking.
int shoal__plat_pipe(int fds[2]);

// shoal__plat_accept accepts one connection on a non-blocking listening
// socket; SHOAL_EAGAIN when none is waiting.  The new socket blocks.
int shoal__plat_accept(int fd);

// shoal__plat_send sends msg on a socket without blocking and without
// SIGPIPE: bytes sent, or SHOAL_EAGAIN, SHOAL_EPIPE, ...
long shoal__plat_send(int fd, const struct msghdr *msg);

// shoal__plat_recv receives into msg from a socket without blocking, with
// recvmsg's extra `flags` (MSG_TRUNC: a datagram's full length); received
// descriptors are close-on-exec.  Bytes received (0: the peer closed), or
// SHOAL_EAGAIN, ...
long shoal__plat_recv(int fd, struct msghdr *msg, int flags);

// shoal__plat_writev writes to a non-blocking descriptor that is not a
// socket (pipe, FIFO) without raising SIGPIPE: bytes written or SHOAL_E*.
long shoal__plat_writev(int fd, const struct iovec *iov, int n);

// shoal__plat_read reads from a non-blocking descriptor: bytes (0: EOF) or
// SHOAL_EAGAIN, ...
long shoal__plat_read(int fd, void *buf, size_t len);

// shoal__plat_poll waits until one of the n descriptors has an event or the
// absolute deadline passes (0: look once; SHOAL__PLAT_NEVER: no deadline).
// Returns how many have events (0 when the deadline passed) or SHOAL_E*.
int shoal__plat_poll(struct pollfd *fds, size_t n, uint64_t deadline);

// shoal__plat_random fills buf with len bytes from the kernel's random source.
int shoal__plat_random(void *buf, size_t len);

/*
 * Processes.  A child is known by a process handle (a pidfd on Linux): an fd
 * that becomes readable when the child ends, so waiting needs no SIGCHLD
 * handler and no polling loop, and signals never reach a recycled pid.
 */

/* How a child ended, from shoal__plat_proc_reap. */
struct shoal__plat_exit {
  int code;  /* exit status 0..255, or minus the signal number */
  bool core; /* the signal dumped core */
};

// shoal__plat_fork forks the calling process (with the C library's fork
// handlers).  Returns the child's pid in the parent, 0 in the child, or a
// negative SHOAL_E* code (SHOAL_EAGAIN, SHOAL_ENOMEM).
int shoal__plat_fork(void);

// shoal__plat_proc_open returns in *fd a close-on-exec process handle for
// pid, which must be a child not yet reaped (or the caller's parent, for
// waiting only).  Errors: SHOAL_ENOENT (no such process), SHOAL_EMFILE, SHOAL_ENOSYS.
int shoal__plat_proc_open(int pid, int *fd);

// shoal__plat_proc_wait waits until the process behind handle fd has ended or
// the absolute deadline passes (0: do not wait).  Returns 0 when it has
// ended, SHOAL_ETIMEDOUT otherwise.  Signals do not stretch the deadline.
int shoal__plat_proc_wait(int fd, uint64_t deadline);

// shoal__plat_proc_reap collects the exit status of the ended child behind fd
// (or, with fd -1, of child pid) without blocking.  Returns 1 with *out
// filled, 0 when it still runs, SHOAL_ENOENT when its status is gone (reaped
// by someone else, or SIGCHLD ignored).
int shoal__plat_proc_reap(int fd, int pid, struct shoal__plat_exit *out);

// shoal__plat_proc_is_child tells whether the process behind handle fd is
// a child of the caller not yet reaped (not a stranger that took the pid of
// one reaped by someone else).
bool shoal__plat_proc_is_child(int fd);

// shoal__plat_proc_wait_pid waits, without a deadline, until child pid has
// ended, leaving it to be reaped.  Returns 0, or SHOAL_ENOENT when pid is no
// child of ours (any more).  For a child nobody else reaps, this needs no
// process handle (see shoal__plat_children_reaped_elsewhere).
int shoal__plat_proc_wait_pid(int pid);

// shoal__plat_children_reaped_elsewhere tells whether the program lets ended
// children be reaped behind shoal's back: SIGCHLD ignored, SA_NOCLDWAIT, or a
// SIGCHLD handler (which typically calls waitpid(-1)).  The pid of a child
// reaped so may be reused at once, so such children need a process handle
// from the start; otherwise an unreaped child's pid stays its own.
bool shoal__plat_children_reaped_elsewhere(void);

// shoal__plat_proc_signal sends sig to the process behind fd; a process that
// has already ended (not yet reaped) is not an error.  Returns 0 or SHOAL_EINVAL.
int shoal__plat_proc_signal(int fd, int sig);

// shoal__plat_ready_fd returns in *fd a close-on-exec fd that is always
// readable: the sentinel of a child whose end was seen some other way.
// Errors: SHOAL_EMFILE, SHOAL_ENOMEM.
int shoal__plat_ready_fd(int *fd);

// shoal__plat_die_with_parent arranges for the calling process to be killed
// (SIGKILL) when its parent dies, and closes the race with a parent that died
// before the arrangement: returns SHOAL_ENOENT when the parent is no longer
// expected_parent (the caller should then exit at once), else 0.  The parent
// is the *thread* that forked the caller (Linux PR_SET_PDEATHSIG); the
// arrangement survives exec.
int shoal__plat_die_with_parent(int expected_parent);

// shoal__plat_gettid returns the calling thread's kernel thread id with one
// system call (no /proc read, unlike the stamp).
int shoal__plat_gettid(void);

// shoal__plat_flush_std flushes stdout and stderr if they hold unwritten
// output, without running any stdio code when they do not: what a fork child
// does as it ends (each libc code page it runs costs it a page fault).
void shoal__plat_flush_std(void);

// shoal__plat_set_thread_name names the calling thread for /proc, ps, top and
// debuggers (the first 15 bytes); in a process's only thread it names the process.
void shoal__plat_set_thread_name(const char *name);

// shoal__plat_cpu_count returns the number of CPUs the calling process may
// run on (its affinity mask), at least 1.
int shoal__plat_cpu_count(void);

// shoal__plat_memfd makes an anonymous, zeroed shared file of `size` bytes
// that survives exec when its fd is passed on, and maps it.  Returns 0 with
// *fd (close-on-exec, never 0-2 even when those are closed) and *addr, or
// SHOAL_ENOMEM / SHOAL_EMFILE.
int shoal__plat_memfd(size_t size, int *fd, void **addr);

// shoal__plat_map_fd maps the whole shared file behind fd; returns 0 with
// *addr and *size, or SHOAL_EBADF / SHOAL_ENOMEM.
int shoal__plat_map_fd(int fd, void **addr, size_t *size);

/* What shoal__plat_spawn runs in the child between fork and exec. */
struct shoal__plat_spawn {
  char *const *argv;   /* the child's argv */
  char *const *envp;   /* the child's whole environment */
  const int *keep_fds; /* kept open at the same numbers, every other fd above 2 is
                          closed; sorted ascending, all above 2 */
  int n_keep;
};

// shoal__plat_spawn forks and execs the running program (/proc/self/exe) with
// sp->argv and sp->envp.  Between fork and exec the child runs only
// async-signal-safe system calls (no fork handlers), so this is safe in a
// process that runs threads; it unblocks every signal and closes every fd
// above 2 but keep_fds (fds 0-2 stay as they are, open or closed).  Returns
// the child's pid, or a negative SHOAL_E* code; an exec that fails shows as
// the child exiting with status 127.
int shoal__plat_spawn(const struct shoal__plat_spawn *sp);

/*
 * Raw segments: shm objects with no shoal header, byte-compatible with
 * Python's multiprocessing.shared_memory (mode 0600 unless asked, exactly
 * `size` bytes).  A segment is identified by `id` (its inode), so that a
 * name unlinked and re-created is told apart.
 */
struct shoal__plat_seg {
  void *addr;
  size_t size;
  uint64_t id;
  int fd; /* prepared, not yet published; -1 otherwise */
};

// shoal__plat_seg_prepare makes an anonymous, zeroed segment of `size` bytes
// and permission bits `mode`, and maps it; nobody can open it until
// shoal__plat_seg_publish names it.  Returns 0, SHOAL_ENOMEM or a system error.
int shoal__plat_seg_prepare(size_t size, unsigned mode, struct shoal__plat_seg *s);

// shoal__plat_seg_publish gives a prepared segment its name, atomically and
// exclusively: SHOAL_EEXIST if the name exists (the segment stays prepared).
int shoal__plat_seg_publish(struct shoal__plat_seg *s, const char *name);

// shoal__plat_seg_release unmaps a segment (and drops a prepared one).
void shoal__plat_seg_release(struct shoal__plat_seg *s);

// shoal__plat_seg_attach maps the existing segment `name` whole, its size
// taken from the segment.  Returns 0, SHOAL_ENOENT, SHOAL_EACCES, or
// SHOAL_ECORRUPT (not a regular object, or empty).
int shoal__plat_seg_attach(const char *name, struct shoal__plat_seg *s);

// shoal__plat_seg_stat gives the id and size of segment `name` without
// mapping it.  Returns 0 or SHOAL_ENOENT.
int shoal__plat_seg_stat(const char *name, uint64_t *id, uint64_t *size);

// shoal__plat_shm_put_file writes a small file `name` into the shm directory,
// replacing it atomically: a reader sees the old or the new contents whole.
int shoal__plat_shm_put_file(const char *name, const void *data, size_t len);

// shoal__plat_shm_get_file reads up to cap bytes of file `name` into buf and
// stores the count in *len.  Returns 0 or SHOAL_ENOENT.
int shoal__plat_shm_get_file(const char *name, void *buf, size_t cap, size_t *len);

// shoal__plat_shm_scan calls fn(name, arg) for every object in the shm
// directory whose name starts with prefix, until fn returns nonzero (which it
// then returns).  Returns 0 or a system error.
int shoal__plat_shm_scan(const char *prefix, int (*fn)(const char *name, void *arg), void *arg);

// shoal__plat_tmp_prefix writes the prefix of the temporary names that
// process `pid` uses in the shm directory while it builds objects (cap >= 32).
void shoal__plat_tmp_prefix(uint32_t pid, char *buf, size_t cap);


/*
 * Growable files: objects that grow after other processes mapped them (the
 * shared dict and list).  Every process maps the most the file may ever hold
 * once; the file itself grows underneath, and a process only touches what
 * the object says has been reserved, so nobody ever remaps.
 */

// shoal__plat_file_new makes an unnamed, empty file in the shm directory with
// permission bits `mode`; returns its descriptor (close-on-exec, inherited
// across fork) in *fd.  It gets a name only through shoal__plat_file_link.
int shoal__plat_file_new(unsigned mode, int *fd);

// shoal__plat_file_link names the file, atomically and exclusively:
// SHOAL_EEXIST when the name exists.
int shoal__plat_file_link(int fd, const char *name);

// shoal__plat_file_open opens the existing file `name` read-write and gives
// its descriptor and current size.  Returns 0, SHOAL_ENOENT, SHOAL_EACCES or
// SHOAL_ECORRUPT (not a regular file).
int shoal__plat_file_open(const char *name, int *fd, uint64_t *size);

// shoal__plat_file_size gives the file's current size.  Returns 0 or a system
// error.
int shoal__plat_file_size(int fd, uint64_t *size);

// shoal__plat_file_read reads exactly len bytes at offset off.  Returns 0 or
// SHOAL_ECORRUPT when the file is shorter.
int shoal__plat_file_read(int fd, uint64_t off, void *buf, size_t len);

// shoal__plat_file_reserve makes the file at least `size` bytes long with the
// memory behind them allocated now, so that touching them later can never
// fault for lack of memory.  Returns 0 or SHOAL_ENOMEM (no memory or shm
// space left).
int shoal__plat_file_reserve(int fd, uint64_t size);

// shoal__plat_file_map maps `len` bytes of the file shared (len may exceed
// its size: only reserved bytes may be touched).  Returns 0 or SHOAL_ENOMEM.
int shoal__plat_file_map(int fd, size_t len, void **addr);

// shoal__plat_file_map_read maps `len` bytes of a file opened for reading
// only, read-only (a write through it faults).  Returns 0 or SHOAL_ENOMEM.
int shoal__plat_file_map_read(int fd, size_t len, void **addr);

// shoal__plat_file_close closes a descriptor from this section.
void shoal__plat_file_close(int fd);

/*
 * Watching for a process's death.
 */

// shoal__plat_process_stamp returns the calling process's identity: a stamp
// (see above) of its pid and start time, which shoal__plat_thread_alive(pid,
// stamp) checks.
uint64_t shoal__plat_process_stamp(void);

/* A watcher as the process that started it sees it. */
struct shoal__plat_watcher {
  int fd;            /* hangs up when the watcher ends; -1: none */
  uint64_t dev, ino; /* fd's identity, in case the program closed it and reused the number */
};

// shoal__plat_watch_death starts a watcher: a detached process that waits
// until the calling process has ended — exit, kill -9, any way — then runs
// fn(pid, arg) with the caller's pid and exits.  The watcher ignores SIGINT,
// SIGTERM and SIGHUP, keeps only stderr of the caller's file descriptors
// (stdin, stdout, and stderr if the caller had none, are /dev/null) and none
// of its shared mappings, and is not the caller's child (a wait() for any
// child never sees it).  It works with any of the caller's descriptors 0..2
// closed.  fn runs in a copy of the caller's memory as it was at this call.
// On 0, *w describes the watcher (one descriptor, close-on-exec, for
// shoal__plat_watcher_alive).  Returns 0, SHOAL_ENOSYS (kernel without
// pidfd_open), or a system error.
int shoal__plat_watch_death(void (*fn)(uint32_t pid, void *arg), void *arg,
                            struct shoal__plat_watcher *w);

// shoal__plat_watcher_alive tells whether the watcher w still runs: false once
// it ended (killed, or done), or when w's descriptor is no longer the one
// watch_death made.  One fstat and one poll; never blocks.
bool shoal__plat_watcher_alive(const struct shoal__plat_watcher *w);

// shoal__plat_watcher_forget closes w's descriptor (only if it is still the
// one watch_death made) and sets it to -1; the watcher itself runs on.  A
// forked child calls it for the handle it inherited with its parent's memory.
void shoal__plat_watcher_forget(struct shoal__plat_watcher *w);

/*
 * Durable files in a directory (the file queue).  Descriptors are
 * close-on-exec and inherited across fork; names are single path components.
 */

enum shoal__plat_at_how {
  SHOAL__PLAT_AT_READ = 0,   /* read only, existing */
  SHOAL__PLAT_AT_WRITE = 1,  /* read-write, existing */
  SHOAL__PLAT_AT_CREATE = 2, /* read-write, created if missing */
  SHOAL__PLAT_AT_EXCL = 3,   /* read-write, must not exist (SHOAL_EEXIST) */
};

// shoal__plat_dir_open opens the directory `path`, creating it (one level,
// permission bits `mode`) when create is set and it does not exist, and,
// with writable, checks that the caller may create files in it.  Returns 0
// with *dfd, or SHOAL_ENOENT, SHOAL_ENOTDIR (a file, not a directory),
// SHOAL_EACCES (not writable, or not searchable), SHOAL_ENAMETOOLONG, ...
int shoal__plat_dir_open(const char *path, bool create, unsigned mode, bool writable, int *dfd);

// shoal__plat_dir_lock takes an advisory lock on the directory for this
// open descriptor (and its copies in fork children): shared or exclusive,
// converting one already held.  With nowait a conflicting lock gives
// SHOAL_EAGAIN at once.  Closing the last copy of the descriptor drops it.
int shoal__plat_dir_lock(int dfd, bool exclusive, bool nowait);

// shoal__plat_dir_sync makes the directory's entries durable (fsync).
int shoal__plat_dir_sync(int dfd);

// shoal__plat_dir_scan calls fn(name, arg) for every entry of the directory
// but "." and "..", until fn returns nonzero (which it returns).
int shoal__plat_dir_scan(int dfd, int (*fn)(const char *name, void *arg), void *arg);

// shoal__plat_at_open opens file `name` in the directory as `how` says
// (permission bits `mode` when it creates); returns 0 with *fd and the
// file's size in *size (when not NULL), SHOAL_ENOENT, SHOAL_EEXIST,
// SHOAL_EACCES, or SHOAL_ECORRUPT when it is not a regular file.
int shoal__plat_at_open(int dfd, const char *name, int how, unsigned mode, int *fd,
                        uint64_t *size);

// shoal__plat_at_unlink removes file `name`; 0 or SHOAL_ENOENT, ...
int shoal__plat_at_unlink(int dfd, const char *name);

// shoal__plat_at_rename replaces `to` with `from` atomically.
int shoal__plat_at_rename(int dfd, const char *from, const char *to);

// shoal__plat_fd_allocate makes the file at least size bytes long with the
// disk space behind them allocated now, so that writing them later (also
// through a mapping) cannot fail for lack of space.  Returns 0, SHOAL_ENOSPC
// or another system error.
int shoal__plat_fd_allocate(int fd, uint64_t size);

// shoal__plat_fd_write writes len bytes at offset off, all of them.  Returns
// 0, SHOAL_ENOSPC, SHOAL_EIO, ...
int shoal__plat_fd_write(int fd, const void *buf, size_t len, uint64_t off);

// shoal__plat_fd_sync makes the file's data durable (fdatasync), including
// what was written through shared mappings.  Returns 0 or SHOAL_EIO, ...
int shoal__plat_fd_sync(int fd);

// shoal__plat_boot_id writes an identifier of the running boot of the
// machine (36 characters and a NUL) into buf: files written before a reboot
// are told from those of this boot.  Returns 0 or SHOAL_ENOSYS.
int shoal__plat_boot_id(char buf[40]);

#endif
