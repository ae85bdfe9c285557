// SPDX-License-Identifier: MIT
// internal.h: what the process module's files share — the Process handle,
// the status block a child shares with its parent, the calling process's
// identity, the children registry and the spawn entry table.
//
// Cross-process invariants (the status block):
//  - the parent fills it before the child exists and reads only `state`,
//    `code` and `message` after the child has ended (or died);
//  - the child writes `message` before it stores PS_FAILED in `state`, and
//    `code` before any final state, both with release order.
#ifndef SHOAL_PROCESS_INTERNAL_H
#define SHOAL_PROCESS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "platform/platform.h"
#include "shoal/process.h"

/* The status block's states. */
enum {
  PS_CREATED = 0,  /* the child has not entered its target (yet) */
  PS_ENTERED = 1,  /* it runs its target */
  PS_RETURNED = 2, /* its target returned `code` */
  PS_FAILED = 3,   /* it called shoal_process_fail: exit code 1, `message` */
};

#define SHOAL__MSG_MAX 1024

#define SHOAL__STATUS_MAGIC 0x53484f53u /* "SOHS" */

struct shoal__proc_status {
  _Atomic uint32_t state;
  uint32_t magic; /* SHOAL__STATUS_MAGIC */
  int32_t code;
  int32_t parent_pid;
  uint32_t daemon;
  uint64_t args_len; /* spawn: bytes of args after this struct */
  char name[SHOAL_PROCESS_NAME_MAX + 1];
  char identity[64]; /* "1", "1:2": the child's place in the process tree */
  char parent_name[SHOAL_PROCESS_NAME_MAX + 1];
  char entry[128];   /* spawn: the registered target's name */
  char message[SHOAL__MSG_MAX];
  /* spawn: the argument block follows */
};

enum { PK_CHILD, PK_SELF, PK_PARENT };
enum { P_CREATED, P_STARTED, P_ENDED, P_CLOSED };

struct shoal_process {
  pthread_mutex_t mu;  /* phase changes, status collection */
  _Atomic int refs;    /* the owner's, one per active_children result, the registry's */
  int kind;            /* PK_* */
  int phase;           /* P_* */
  shoal_process_target target;
  const struct shoal_entry *entry; /* spawn */
  void *args;
  size_t len;
  char name[SHOAL_PROCESS_NAME_MAX + 1];
  char identity[64];
  int daemon;
  int method;          /* SHOAL_START_FORK or SHOAL_START_SPAWN */
  int *pass_fds;
  int n_pass_fds;
  int pid;
  int fd;              /* process handle (pidfd); -1 when none */
  int waiters;         /* joiners blocked on fd, which close leaves open for them */
  int fd_closing;      /* the fd close left to the last of them; -1 when none */
  int owner;           /* pid of the process that started it */
  struct shoal__proc_status *st;
  size_t st_size;
  int exitcode;
  bool core;
  int sent_signal;     /* the last signal sent through this handle */
  char *message;       /* malloc'd: the child's fail message, or NULL */
  char *error;         /* malloc'd: the report line, or NULL */
  struct shoal_process *prev, *next; /* the registry of running children */
  bool listed;
};

/* The calling process. */
struct shoal__self {
  /* PK_SELF: name, identity, pid, daemon.  proc.pid is this process's pid
   * (the fork handler sets it in every fork child), so hot paths need no
   * getpid system call. */
  shoal_process proc;
  shoal_process parent; /* PK_PARENT, valid when has_parent */
  bool has_parent;
  struct shoal__proc_status *st; /* in a shoal child: its status block */
  unsigned counter;     /* children created so far, for default names */
};

extern struct shoal__self shoal__self;

// shoal__self_init makes shoal__self describe the main process, once.
void shoal__self_init(void);

// shoal__process_init and shoal__thread_init set the module up once: the
// process identity, the fork handlers, the main thread's Thread (call from
// the main thread).  Constructors of priority 101 call them, before
// SHOAL_SPAWN_MAIN_CONSTRUCTOR (102) can enter a spawn child's target and
// before the program's default-priority constructors; shoal_spawn_main calls
// them again (a no-op then), whatever order a program's constructors run in.
void shoal__process_init(void);
void shoal__thread_init(void);

// shoal__thread_known_current returns the calling thread's Thread if shoal
// knows it (NULL otherwise: none is made).  shoal__thread_borrow makes t the
// calling thread's Thread and returns its own, which
// shoal__thread_give_back restores: the forker wears its requester's, so
// that a child it forks has the same current and main thread as one forked
// by the requester itself.
shoal_thread *shoal__thread_known_current(void);
shoal_thread *shoal__thread_borrow(shoal_thread *t);
void shoal__thread_give_back(shoal_thread *own);

// shoal__self_become_child makes the calling process (just forked, or a
// spawn child) the shoal child that st describes, whose parent is parent_pid.
void shoal__self_become_child(struct shoal__proc_status *st, int parent_pid);

// shoal__child_run runs target in a shoal child and ends the child with its
// return value (see shoal_process_fail).  Never returns.
__attribute__((noreturn)) void shoal__child_run(shoal_process_target target, void *args,
                                                 size_t len);

// shoal__exit_children terminates this process's running daemon children and
// joins all of them (what Python does at exit).
void shoal__exit_children(void);

// shoal__registry_add / _remove put a started child in, and take it out of,
// the registry of running children (which holds a reference meanwhile).
void shoal__registry_add(shoal_process *p);
void shoal__registry_remove(shoal_process *p);

// shoal__reap_ended collects every child in the registry that has ended,
// without blocking (Python's multiprocessing._cleanup): its status is taken,
// its report printed, and a handle its owner has destroyed is freed with its
// pidfd and status block.
void shoal__reap_ended(void);

// shoal__status_get returns a zeroed one-page status block for a fork child
// (from a cache of pages whose children have ended), or NULL; _put gives one
// back.  Shared pages are never copied on write, so reusing them spares the
// fork a page fault and an mmap/munmap pair.
struct shoal__proc_status *shoal__status_get(void);
void shoal__status_put(struct shoal__proc_status *st);

// shoal__process_unref drops a reference and frees p with the last one.
void shoal__process_unref(shoal_process *p);

// shoal__process_launch forks (or spawns) the child of p, whose status block
// st (and, for spawn, its memfd st_fd) is filled, from the calling thread;
// returns its pid or a SHOAL_E* code.  In a fork child it runs the target
// and never returns.  p->mu is held.
int shoal__process_launch(shoal_process *p, struct shoal__proc_status *st, int st_fd);

// shoal__forker_launch does the same from the forker, a thread that lasts as
// long as the process (see forker.c): for a daemon child started from a
// thread that may end before it.  Errors: SHOAL_EAGAIN (no thread could be
// made), or those of shoal__process_launch.
int shoal__forker_launch(shoal_process *p, struct shoal__proc_status *st, int st_fd);

// shoal__forker_owner is the pid of the process whose forker thread runs (0:
// none yet).  shoal__forker_forget, in a fork child whose parent had one,
// drops the forker state inherited from the parent (its thread is not in
// the child).  The fork handler reads the pid first: a child of a process
// that never used the forker runs no forker code and writes nothing there
// (each page a fork child touches costs it a fault).
extern int shoal__forker_owner;
void shoal__forker_forget(void);

// shoal__spawn_start starts p (method spawn, lock held, status block
// st_fd/p->st filled): builds the child's environment and execs it.
int shoal__spawn_start(shoal_process *p, int st_fd);

// shoal__entry_find returns the registered entry of that name, or NULL.
const struct shoal_entry *shoal__entry_find(const char *name);

// shoal__entry_of returns the registered entry for fn, or NULL.
const struct shoal_entry *shoal__entry_of(shoal_process_target fn);

// shoal__spawn_pending is true in a spawn child that has not entered its
// target: its main() did not call shoal_spawn_main().
bool shoal__spawn_pending(void);

/* The environment variable that tells a spawn child what to enter. */
#define SHOAL__SPAWN_ENV "SHOAL_SPAWN"

#endif
