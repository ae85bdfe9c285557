// SPDX-License-Identifier: MIT
// Event: Python's _TestEvent across threads, fork and unrelated processes.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "support.h"

static shoal_event *ev;

SH_TEST(event_threads, python_sequence)
{
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_RC(shoal_event_is_set(ev), 0);
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_event_wait(ev, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_event_wait(ev, SHOAL_MSEC(100)), SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  SH_ASSERT_OK(shoal_event_set(ev));
  SH_ASSERT_RC(shoal_event_is_set(ev), 1);
  t0 = sh_now();
  SH_ASSERT_OK(shoal_event_wait(ev, SHOAL_FOREVER));
  SH_ASSERT_OK(shoal_event_wait(ev, SHOAL_MSEC(100)));
  SH_ASSERT_OK(shoal_event_wait(ev, SHOAL_NOWAIT));
  SH_ASSERT_QUICK(t0);
  SH_ASSERT_OK(shoal_event_set(ev)); /* setting twice is fine */
  SH_ASSERT_OK(shoal_event_clear(ev));
  SH_ASSERT_RC(shoal_event_is_set(ev), 0);
  SH_ASSERT_ERR(shoal_event_wait(ev, SHOAL_NOWAIT), SHOAL_EAGAIN);
  shoal_event_destroy(ev);
}

static void *waiter(void *arg)
{
  (void)arg;
  return (void *)(intptr_t)shoal_event_wait(ev, SHOAL_SEC(10));
}

SH_TEST(event_threads, set_wakes_every_waiter_even_if_cleared_at_once)
{
  pthread_t t[5];
  void *rc;
  SH_ASSERT_OK(shoal_event_create(&ev));
  for (int i = 0; i < 5; i++)
    pthread_create(&t[i], NULL, waiter, NULL);
  sh_sleep_ms(50);
  SH_ASSERT_OK(shoal_event_set(ev));
  SH_ASSERT_OK(shoal_event_clear(ev));
  for (int i = 0; i < 5; i++) {
    pthread_join(t[i], &rc);
    SH_ASSERT_OK((int)(intptr_t)rc);
  }
  shoal_event_destroy(ev);
}

static int child_wait(void *arg)
{
  (void)arg;
  return shoal_event_wait(ev, SHOAL_SEC(10)) == 0 ? 0 : 1;
}

static int child_set(void *arg)
{
  (void)arg;
  return shoal_event_set(ev);
}

SH_TEST(event_fork, set_in_parent_wakes_children_and_back)
{
  pid_t kids[3];
  SH_ASSERT_OK(shoal_event_create(&ev));
  for (int i = 0; i < 3; i++)
    kids[i] = sh_fork(child_wait, NULL);
  sh_sleep_ms(30);
  SH_ASSERT_OK(shoal_event_set(ev));
  for (int i = 0; i < 3; i++)
    cr_assert_eq(sh_wait(kids[i], 10000), 0);
  /* After clear(), a set() from another process wakes wait(). */
  SH_ASSERT_OK(shoal_event_clear(ev));
  pid_t setter = sh_fork(child_set, NULL);
  SH_ASSERT_OK(shoal_event_wait(ev, SHOAL_SEC(10)));
  cr_assert_eq(sh_wait(setter, 5000), 0);
  shoal_event_destroy(ev);
}

SH_TEST(event_fork, killed_waiter_leaves_nothing_behind)
{
  SH_ASSERT_OK(shoal_event_create(&ev));
  pid_t pid = sh_fork(child_wait, NULL);
  sh_sleep_ms(30);
  kill(pid, SIGKILL);
  sh_wait(pid, 5000);
  pid_t other = sh_fork(child_wait, NULL);
  sh_sleep_ms(10);
  SH_ASSERT_OK(shoal_event_set(ev));
  cr_assert_eq(sh_wait(other, 10000), 0);
  shoal_event_destroy(ev);
}

SH_TEST(event_named, helper_waits_and_sets)
{
  const char *name = sh_name("event");
  char line[64];
  int fd;
  SH_ASSERT_OK(shoal_event_open(&ev, name, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE}));
  pid_t pid = sh_helper(&fd, "event-wait", name, "10000", NULL);
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, "waiting");
  sh_sleep_ms(20);
  SH_ASSERT_OK(shoal_event_set(ev));
  sh_read_line(fd, line, sizeof line, 10000);
  cr_assert_str_eq(line, "0");
  sh_wait(pid, 5000);
  close(fd);
  SH_ASSERT_OK(shoal_event_clear(ev));
  sh_helper(&fd, "event-set", name, NULL);
  SH_ASSERT_OK(shoal_event_wait(ev, SHOAL_SEC(10)));
  close(fd);
  shoal_event_close(ev);
}

SH_TEST(event_bad, bad_input)
{
  SH_ASSERT_ERR(shoal_event_create(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_event_set(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_event_clear(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_event_is_set(NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_event_wait(NULL, SHOAL_FOREVER), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_event_open(&ev, "bad/name", NULL), SHOAL_EINVAL);
  shoal_event_destroy(NULL);
  shoal_event_close(NULL);
  SH_ASSERT_OK(shoal_event_create(&ev));
  SH_ASSERT_ERR(shoal_event_wait(ev, -3), SHOAL_EINVAL);
  shoal_event_destroy(ev);
}
