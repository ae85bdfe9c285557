// SPDX-License-Identifier: MIT
// Scenario 3: one thread waits on an Event, another sets it; the waiter wakes.
//
//   event = threading.Event()
//   def waiter():
//       event.wait()
//       print("waiter: woke up")
//   def setter():
//       time.sleep(0.1)
//       event.set()
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include <shoal.h>

static shoal_event *event;

static void *waiter(void *arg)
{
  int *rc = arg;
  printf("waiter: waiting for the event\n");
  *rc = shoal_event_wait(event, SHOAL_SEC(5)); /* a bound, so a bug cannot hang us */
  if (*rc == 0)
    printf("waiter: woke up, the event is set\n");
  else
    printf("waiter: gave up: %s\n", shoal_err_name(*rc));
  return NULL;
}

static void *setter(void *arg)
{
  (void)arg;
  nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL); /* 0.1 s */
  printf("setter: setting the event\n");
  shoal_event_set(event);
  return NULL;
}

int main(void)
{
  pthread_t w, s;
  int wait_rc = -1;
  int rc = shoal_event_create(&event);
  if (rc != 0) {
    fprintf(stderr, "shoal_event_create: %s\n", shoal_strerror(rc));
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_create(&w, NULL, waiter, &wait_rc);
  pthread_create(&s, NULL, setter, NULL);
  pthread_join(w, NULL);
  pthread_join(s, NULL);
  shoal_event_destroy(event);
  return wait_rc == 0 ? 0 : 1;
}
