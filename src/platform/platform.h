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
/*
 * Descriptors, for the conn module.  Every descriptor made here is
 * close-on-exec.  Functions return a descriptor or a count (>= 0), or a
 * negative SHOAL_E* code; EINTR is retried inside.
 */
struct iovec;
struct msghdr;
struct pollfd;

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

#endif
