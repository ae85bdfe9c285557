// SPDX-License-Identifier: MIT
// The forker: a thread that lasts as long as the process, from which daemon
// children are started when the start comes from any thread but the main
// one.  A daemon child arms PR_SET_PDEATHSIG, and Linux sends that signal
// when the *thread* that forked the child ends, not the process: a daemon
// started from a short-lived thread (a request handler that makes a pool,
// say) would die with that thread.  Forked from the forker, it dies with
// its parent process only, as it should.
//
// Invariants: one request at a time (pending, under mu); the child of a
// fork made here never returns to this file (it runs its target and
// _exits); a fork child of this process has no forker thread, so
// shoal__forker_forget clears what it inherited and the next request
// starts a new one.
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include "process/internal.h"

struct request {
  shoal_process *p;
  struct shoal__proc_status *st;
  int st_fd;
  /* What a fork child inherits from the thread that forks it, taken from
   * the requesting thread: its signal mask, its CPU affinity, its Thread. */
  sigset_t mask;
  cpu_set_t cpus;
  bool have_cpus;
  shoal_thread *thread;
  int pid;       /* the result: a pid or a SHOAL_E* code */
  bool done;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct request *pending;  /* the request waiting for the forker */

static void *forker_main(void *arg)
{
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  /* Idle, it takes no signal meant for the program's own threads. */
  pthread_sigmask(SIG_SETMASK, &all, NULL);
  shoal__plat_set_thread_name("shoal-forker");
  pthread_mutex_lock(&mu);
  for (;;) {
    while (!pending)
      pthread_cond_wait(&cv, &mu);
    struct request *r = pending;
    pending = NULL;
    pthread_mutex_unlock(&mu);
    pthread_sigmask(SIG_SETMASK, &r->mask, NULL);
    if (r->have_cpus)
      pthread_setaffinity_np(pthread_self(), sizeof r->cpus, &r->cpus);
    shoal_thread *own = shoal__thread_borrow(r->thread);
    r->pid = shoal__process_launch(r->p, r->st, r->st_fd);
    shoal__thread_give_back(own);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    pthread_mutex_lock(&mu);
    r->done = true;
    pthread_cond_broadcast(&cv);
  }
  return NULL;
}

int shoal__forker_launch(shoal_process *p, struct shoal__proc_status *st, int st_fd)
{
  struct request r = {.p = p, .st = st, .st_fd = st_fd, .thread = shoal__thread_known_current()};
  pthread_sigmask(SIG_BLOCK, NULL, &r.mask);
  r.have_cpus = pthread_getaffinity_np(pthread_self(), sizeof r.cpus, &r.cpus) == 0;
  pthread_mutex_lock(&mu);
  if (shoal__forker_owner != shoal__self.proc.pid) {
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, forker_main, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      pthread_mutex_unlock(&mu);
      return SHOAL_EAGAIN;
    }
    shoal__forker_owner = shoal__self.proc.pid;
  }
  while (pending)
    pthread_cond_wait(&cv, &mu);
  pending = &r;
  pthread_cond_broadcast(&cv);
  while (!r.done)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  return r.pid;
}

int shoal__forker_owner;

void shoal__forker_forget(void)
{
  mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
  cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
  shoal__forker_owner = 0;
  pending = NULL;
}
