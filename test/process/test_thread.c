// SPDX-License-Identifier: MIT
// Thread and Timer: threading.Thread and threading.Timer in C terms.
// Thread-heavy: also runs under TSan (no fork here).
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static shoal_event *ev;
static _Atomic int counter;

static void bump(void *arg)
{
  (void)arg;
  atomic_fetch_add(&counter, 1);
}

static void wait_ev(void *arg)
{
  (void)arg;
  shoal_event_wait(ev, SHOAL_SEC(20));
}

struct seen {
  shoal_thread *self;
  int tid;
  char comm[32];
  char name[64];
};

static void observe(void *arg)
{
  struct seen *s = arg;
  s->self = shoal_current_thread();
  s->tid = (int)gettid();
  snprintf(s->name, sizeof s->name, "%s", shoal_thread_name(s->self));
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/comm", s->tid);
  int fd = open(path, O_RDONLY);
  if (fd >= 0) {
    ssize_t n = read(fd, s->comm, sizeof s->comm - 1);
    s->comm[n > 0 ? n - 1 : 0] = '\0'; /* drop the newline */
    close(fd);
  }
}

SH_TEST(thread, start_join_name_ident_native_id)
{
  shoal_thread *t;
  struct seen s = {0};
  SH_ASSERT_OK(shoal_thread_create(&t, observe, &s,
                                   &(shoal_thread_opts){.name = "worker-with-a-long-name"}));
  SH_ASSERT_RC(shoal_thread_is_alive(t), 0);
  cr_assert_eq(shoal_thread_ident(t), 0);
  SH_ASSERT_RC(shoal_thread_native_id(t), 0);
  SH_ASSERT_OK(shoal_thread_start(t));
  SH_ASSERT_OK(shoal_thread_join(t, SHOAL_SEC(10)));
  SH_ASSERT_RC(shoal_thread_is_alive(t), 0);
  cr_assert_eq(s.self, t);
  cr_assert_str_eq(s.name, "worker-with-a-long-name");
  cr_assert_str_eq(s.comm, "worker-with-a-l", "the OS thread is named %s", s.comm);
  SH_ASSERT_RC(shoal_thread_native_id(t), s.tid);
  cr_assert_neq(s.tid, getpid());
  cr_assert_neq(shoal_thread_ident(t), 0);
  cr_assert_neq(shoal_thread_ident(t), (uint64_t)pthread_self());
  SH_ASSERT_OK(shoal_thread_join(t, SHOAL_NOWAIT)); /* joined twice is fine */
  shoal_thread_destroy(t);

  /* Default names count up. */
  shoal_thread *a, *b;
  SH_ASSERT_OK(shoal_thread_create(&a, bump, NULL, NULL));
  SH_ASSERT_OK(shoal_thread_create(&b, bump, NULL, NULL));
  int na, nb;
  cr_assert_eq(sscanf(shoal_thread_name(a), "Thread-%d", &na), 1);
  cr_assert_eq(sscanf(shoal_thread_name(b), "Thread-%d", &nb), 1);
  cr_assert_eq(nb, na + 1);
  SH_ASSERT_OK(shoal_thread_set_name(a, "renamed"));
  cr_assert_str_eq(shoal_thread_name(a), "renamed");
  shoal_thread_destroy(a);
  shoal_thread_destroy(b);
}

static shoal_thread *target_thread;
static _Atomic int joins_ok;

static void join_target(void *arg)
{
  (void)arg;
  if (shoal_thread_join(target_thread, SHOAL_SEC(20)) == 0 &&
      shoal_thread_is_alive(target_thread) == 0)
    atomic_fetch_add(&joins_ok, 1);
}

SH_TEST(thread, join_timeouts_and_many_joiners)
{
  shoal_thread *j[4];
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_OK(shoal_thread_create(&target_thread, wait_ev, NULL, NULL));
  SH_ASSERT_OK(shoal_thread_start(target_thread));
  SH_ASSERT_RC(shoal_thread_is_alive(target_thread), 1);
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_thread_join(target_thread, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_thread_join(target_thread, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_ERR(shoal_thread_join(target_thread, -3), SHOAL_EINVAL);
  /* Four threads join it at once (pthread_join could not). */
  for (int i = 0; i < 4; i++) {
    SH_ASSERT_OK(shoal_thread_create(&j[i], join_target, NULL, NULL));
    SH_ASSERT_OK(shoal_thread_start(j[i]));
  }
  sh_sleep_ms(20);
  SH_ASSERT_OK(shoal_event_set(ev));
  SH_ASSERT_OK(shoal_thread_join(target_thread, SHOAL_SEC(10)));
  for (int i = 0; i < 4; i++) {
    SH_ASSERT_OK(shoal_thread_join(j[i], SHOAL_SEC(10)));
    shoal_thread_destroy(j[i]);
  }
  cr_assert_eq(atomic_load(&joins_ok), 4);
  shoal_thread_destroy(target_thread);
  shoal_event_destroy(ev);
}

/* The "subclass" pattern: a struct that holds its thread and its state,
 * with a run callback that receives the struct. */
struct counter_thread {
  shoal_thread *thread;
  int n;
  long total;
};

static void counter_run(void *self)
{
  struct counter_thread *c = self;
  for (int i = 1; i <= c->n; i++)
    c->total += i;
}

SH_TEST(thread, subclass_pattern)
{
  struct counter_thread c = {.n = 100};
  SH_ASSERT_OK(shoal_thread_create(&c.thread, counter_run, &c,
                                   &(shoal_thread_opts){.name = "Counter"}));
  SH_ASSERT_OK(shoal_thread_start(c.thread));
  SH_ASSERT_OK(shoal_thread_join(c.thread, SHOAL_SEC(10)));
  cr_assert_eq(c.total, 5050);
  shoal_thread_destroy(c.thread);
}

struct foreign_view {
  int same, daemon, alive;
  char name[64];
};

/* A thread shoal did not start sees a Dummy-N Thread, freed when it exits. */
static void *foreign(void *arg)
{
  struct foreign_view *v = arg;
  shoal_thread *a = shoal_current_thread(), *b = shoal_current_thread();
  v->same = a && a == b;
  snprintf(v->name, sizeof v->name, "%s", shoal_thread_name(a));
  v->daemon = shoal_thread_daemon(a);
  v->alive = shoal_thread_is_alive(a);
  return NULL;
}

struct daemon_probe {
  int parent_daemon, child_daemon;
};

static void make_child(void *arg)
{
  struct daemon_probe *d = arg;
  shoal_thread *c;
  d->parent_daemon = shoal_thread_daemon(shoal_current_thread());
  if (shoal_thread_create(&c, bump, NULL, NULL) == 0) {
    d->child_daemon = shoal_thread_daemon(c);
    shoal_thread_destroy(c);
  }
}

SH_TEST(thread, current_main_dummy_and_daemon_inheritance)
{
  shoal_thread *me = shoal_current_thread();
  struct foreign_view v = {0};
  cr_assert_not_null(me);
  cr_assert_eq(me, shoal_main_thread());
  cr_assert_str_eq(shoal_thread_name(me), "MainThread");
  SH_ASSERT_RC(shoal_thread_daemon(me), 0);
  SH_ASSERT_RC(shoal_thread_is_alive(me), 1);
  cr_assert_eq(shoal_thread_ident(me), (uint64_t)pthread_self());
  SH_ASSERT_RC(shoal_thread_native_id(me), getpid());
  SH_ASSERT_ERR(shoal_thread_join(me, SHOAL_NOWAIT), SHOAL_EDEADLK);

  pthread_t pt;
  int before = shoal_active_count();
  cr_assert_eq(pthread_create(&pt, NULL, foreign, &v), 0);
  pthread_join(pt, NULL);
  cr_assert_eq(v.same, 1);
  cr_assert(strncmp(v.name, "Dummy-", 6) == 0, "%s", v.name);
  cr_assert_eq(v.daemon, 1);
  cr_assert_eq(v.alive, 1);
  SH_ASSERT_RC(shoal_active_count(), before); /* gone with its thread */

  struct daemon_probe d = {-1, -1}, nd = {-1, -1};
  shoal_thread *t;
  SH_ASSERT_OK(shoal_thread_create(&t, make_child, &d, NULL));
  SH_ASSERT_OK(shoal_thread_set_daemon(t, 1));
  SH_ASSERT_OK(shoal_thread_start(t));
  SH_ASSERT_ERR(shoal_thread_set_daemon(t, 0), SHOAL_EBUSY);
  SH_ASSERT_OK(shoal_thread_join(t, SHOAL_SEC(10)));
  shoal_thread_destroy(t);
  cr_assert_eq(d.parent_daemon, 1);
  cr_assert_eq(d.child_daemon, 1, "a daemon thread's threads are daemons");
  SH_ASSERT_OK(shoal_thread_create(&t, make_child, &nd, NULL));
  SH_ASSERT_OK(shoal_thread_start(t));
  SH_ASSERT_OK(shoal_thread_join(t, SHOAL_SEC(10)));
  shoal_thread_destroy(t);
  cr_assert_eq(nd.child_daemon, 0);
}

SH_TEST(thread, active_count_and_enumerate)
{
  shoal_thread *t[3], *list[16];
  SH_ASSERT_OK(shoal_event_create(&ev));
  int base = shoal_active_count();
  cr_assert((base) >= (1));
  for (int i = 0; i < 3; i++) {
    SH_ASSERT_OK(shoal_thread_create(&t[i], wait_ev, NULL, NULL));
    SH_ASSERT_OK(shoal_thread_start(t[i]));
  }
  SH_ASSERT_RC(shoal_active_count(), base + 3);
  int n = shoal_enumerate(list, 16);
  SH_ASSERT_RC(n, base + 3);
  cr_assert_eq(list[0], shoal_main_thread());
  int found = 0;
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < 3; k++)
      found += list[i] == t[k];
    shoal_thread_destroy(list[i]);
  }
  cr_assert_eq(found, 3);
  SH_ASSERT_RC(shoal_enumerate(list, 1), base + 3); /* only one stored */
  shoal_thread_destroy(list[0]);
  SH_ASSERT_RC(shoal_enumerate(NULL, 0), base + 3);
  SH_ASSERT_ERR(shoal_enumerate(NULL, 2), SHOAL_EINVAL);
  SH_ASSERT_OK(shoal_event_set(ev));
  for (int i = 0; i < 3; i++) {
    SH_ASSERT_OK(shoal_thread_join(t[i], SHOAL_SEC(10)));
    shoal_thread_destroy(t[i]);
  }
  SH_ASSERT_RC(shoal_active_count(), base);
  shoal_event_destroy(ev);
}

static void slow_bump(void *arg)
{
  (void)arg;
  sh_sleep_ms(100);
  atomic_fetch_add(&counter, 1);
}

SH_TEST(thread, join_all_waits_for_non_daemon_threads_only)
{
  shoal_thread *t[3], *d;
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_OK(shoal_thread_create(&d, wait_ev, NULL, NULL));
  SH_ASSERT_OK(shoal_thread_set_daemon(d, 1));
  SH_ASSERT_OK(shoal_thread_start(d));
  for (int i = 0; i < 3; i++) {
    SH_ASSERT_OK(shoal_thread_create(&t[i], slow_bump, NULL, NULL));
    SH_ASSERT_OK(shoal_thread_start(t[i]));
    shoal_thread_destroy(t[i]); /* neither stops nor waits: join_all still does */
  }
  SH_ASSERT_OK(shoal_thread_join_all(SHOAL_SEC(10)));
  cr_assert_eq(atomic_load(&counter), 3);
  SH_ASSERT_RC(shoal_thread_is_alive(d), 1);

  shoal_thread *blocked;
  SH_ASSERT_OK(shoal_thread_create(&blocked, wait_ev, NULL, NULL));
  SH_ASSERT_OK(shoal_thread_start(blocked));
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_thread_join_all(SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_ERR(shoal_thread_join_all(SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_ERR(shoal_thread_join_all(-7), SHOAL_EINVAL);
  SH_ASSERT_OK(shoal_event_set(ev));
  SH_ASSERT_OK(shoal_thread_join_all(SHOAL_SEC(10)));
  SH_ASSERT_OK(shoal_thread_join(d, SHOAL_SEC(10)));
  shoal_thread_destroy(blocked);
  shoal_thread_destroy(d);
  shoal_event_destroy(ev);
}

SH_TEST(thread, bad_input)
{
  shoal_thread *t;
  char longname[SHOAL_THREAD_NAME_MAX + 2];
  memset(longname, 'y', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  SH_ASSERT_ERR(shoal_thread_create(NULL, bump, NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_thread_create(&t, NULL, NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_thread_create(&t, bump, NULL, &(shoal_thread_opts){.name = longname}),
                SHOAL_ENAMETOOLONG);
  SH_ASSERT_ERR(shoal_thread_create(&t, bump, NULL, &(shoal_thread_opts){.name = ""}),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_thread_create(&t, bump, NULL, &(shoal_thread_opts){.reserved[0] = 1}),
                SHOAL_EINVAL);
  SH_ASSERT_OK(shoal_thread_create(&t, bump, NULL, &(shoal_thread_opts){.stack_size = 1}));
  SH_ASSERT_ERR(shoal_thread_start(t), SHOAL_EINVAL); /* a stack too small to be made */
  shoal_thread_destroy(t);
  SH_ASSERT_OK(shoal_thread_create(&t, bump, NULL, NULL));
  SH_ASSERT_ERR(shoal_thread_join(t, SHOAL_SEC(1)), SHOAL_ENOTSTARTED);
  SH_ASSERT_ERR(shoal_thread_set_name(t, longname), SHOAL_ENAMETOOLONG);
  SH_ASSERT_ERR(shoal_thread_set_name(t, NULL), SHOAL_EINVAL);
  SH_ASSERT_OK(shoal_thread_start(t));
  SH_ASSERT_ERR(shoal_thread_start(t), SHOAL_EBUSY);
  SH_ASSERT_OK(shoal_thread_join(t, SHOAL_SEC(10)));
  SH_ASSERT_ERR(shoal_thread_start(t), SHOAL_EBUSY);
  shoal_thread_destroy(t);
  SH_ASSERT_ERR(shoal_thread_join(NULL, 0), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_thread_start(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_thread_is_alive(NULL), SHOAL_EINVAL);
  cr_assert((shoal_thread_name(NULL)) == NULL);
  shoal_thread_destroy(NULL);
  shoal_thread_destroy(shoal_main_thread()); /* a no-op */
  cr_assert_str_eq(shoal_thread_name(shoal_main_thread()), "MainThread");
}

SH_TEST(thread, many_short_threads)
{
  for (int round = 0; round < 20; round++) {
    shoal_thread *t[10];
    for (int i = 0; i < 10; i++) {
      SH_ASSERT_OK(shoal_thread_create(&t[i], bump, NULL, NULL));
      SH_ASSERT_OK(shoal_thread_start(t[i]));
    }
    for (int i = 0; i < 10; i++) {
      SH_ASSERT_OK(shoal_thread_join(t[i], SHOAL_SEC(10)));
      shoal_thread_destroy(t[i]);
    }
  }
  cr_assert_eq(atomic_load(&counter), 200);
}

/* ---------------------------------------------------------------- Timer -- */

static _Atomic uint64_t fired_at;

static void fire(void *arg)
{
  atomic_store(&fired_at, sh_now());
  if (arg)
    shoal_event_set(arg);
}

SH_TEST(timer, fires_once_after_the_interval)
{
  shoal_timer *t;
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_OK(shoal_timer_create(&t, SHOAL_MSEC(100), fire, ev));
  int n;
  cr_assert_eq(sscanf(shoal_thread_name(shoal_timer_thread(t)), "Timer-%d", &n), 1);
  uint64_t t0 = sh_now();
  SH_ASSERT_OK(shoal_timer_start(t));
  SH_ASSERT_RC(shoal_timer_is_alive(t), 1);
  SH_ASSERT_OK(shoal_event_wait(ev, SHOAL_SEC(10)));
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_OK(shoal_timer_join(t, SHOAL_SEC(10)));
  SH_ASSERT_RC(shoal_timer_is_alive(t), 0);
  SH_ASSERT_RC(shoal_timer_cancel(t), 0); /* too late */
  cr_assert((atomic_load(&fired_at) - t0) >= (100000000u));
  shoal_timer_destroy(t);
  shoal_event_destroy(ev);
}

SH_TEST(timer, cancel_before_it_fires)
{
  shoal_timer *t;
  SH_ASSERT_OK(shoal_timer_create(&t, SHOAL_MSEC(200), fire, NULL));
  SH_ASSERT_OK(shoal_timer_start(t));
  sh_sleep_ms(20);
  uint64_t t0 = sh_now();
  SH_ASSERT_RC(shoal_timer_cancel(t), 1);
  SH_ASSERT_RC(shoal_timer_cancel(t), 0);
  SH_ASSERT_OK(shoal_timer_join(t, SHOAL_SEC(10)));
  SH_ASSERT_QUICK(t0); /* the timer thread wakes at once */
  sh_sleep_ms(250);
  cr_assert_eq(atomic_load(&fired_at), 0, "a cancelled timer fired");
  shoal_timer_destroy(t);

  /* Cancelled before start: started anyway, it never calls fn. */
  SH_ASSERT_OK(shoal_timer_create(&t, SHOAL_MSEC(10), fire, NULL));
  SH_ASSERT_RC(shoal_timer_cancel(t), 1);
  SH_ASSERT_OK(shoal_timer_start(t));
  SH_ASSERT_OK(shoal_timer_join(t, SHOAL_SEC(10)));
  cr_assert_eq(atomic_load(&fired_at), 0);
  shoal_timer_destroy(t);

  /* Destroying a pending timer cancels it. */
  SH_ASSERT_OK(shoal_timer_create(&t, SHOAL_MSEC(100), fire, NULL));
  SH_ASSERT_OK(shoal_timer_start(t));
  shoal_timer_destroy(t);
  sh_sleep_ms(150);
  cr_assert_eq(atomic_load(&fired_at), 0);
}

SH_TEST(timer, zero_interval_and_bad_input)
{
  shoal_timer *t;
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_OK(shoal_timer_create(&t, 0, fire, ev));
  SH_ASSERT_OK(shoal_timer_start(t));
  SH_ASSERT_OK(shoal_event_wait(ev, SHOAL_SEC(10)));
  SH_ASSERT_ERR(shoal_timer_start(t), SHOAL_EBUSY);
  shoal_timer_destroy(t);
  shoal_timer_destroy(NULL);
  SH_ASSERT_ERR(shoal_timer_create(&t, -1, fire, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_timer_create(&t, 10, NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_timer_create(NULL, 10, fire, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_timer_cancel(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_timer_start(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_timer_join(NULL, 0), SHOAL_EINVAL);
  cr_assert((shoal_timer_thread(NULL)) == NULL);
  shoal_event_destroy(ev);
}
