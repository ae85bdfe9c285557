// Scenario 9: a bounded Queue of 5 between processes — full(), empty(),
// get_nowait failing on empty, put blocking while full until a consumer takes
// an item, qsize(), and a blocking get with a timeout.
#include <shoal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
  shoal_queue *q;
  char buf[16];
  size_t len = sizeof buf;
  if (shoal_queue_create(&q, &(shoal_queue_opts){.maxsize = 5}) != 0)
    return 1;
  printf("empty=%d full=%d\n", shoal_queue_empty(q), shoal_queue_full(q));
  int rc = shoal_queue_get(q, buf, &len, SHOAL_NOWAIT); /* get_nowait */
  printf("get_nowait on empty: %s\n", shoal_err_name(rc));
  if (rc != SHOAL_EAGAIN)
    return 1;
  for (int i = 0; i < 5; i++)
    shoal_queue_put(q, &i, sizeof i, SHOAL_FOREVER);
  printf("after 5 puts: qsize=%ld full=%d\n", shoal_queue_qsize(q), shoal_queue_full(q));

  fflush(stdout); /* the child must not print our buffered lines again */
  pid_t consumer = fork();
  if (consumer == 0) {
    sleep(1); /* the parent's 6th put blocks meanwhile */
    int item;
    size_t n = sizeof item;
    shoal_queue_get(q, &item, &n, SHOAL_FOREVER);
    printf("consumer took item %d\n", item);
    fflush(stdout);
    _exit(0);
  }
  int six = 5;
  printf("putting a 6th item: blocks until the consumer takes one...\n");
  fflush(stdout);
  rc = shoal_queue_put(q, &six, sizeof six, SHOAL_SEC(10));
  printf("6th put returned %s, qsize=%ld\n", shoal_err_name(rc), shoal_queue_qsize(q));
  waitpid(consumer, NULL, 0);
  int got = 0;
  for (;;) {
    int item;
    size_t n = sizeof item;
    rc = shoal_queue_get(q, &item, &n, SHOAL_MSEC(100)); /* get(timeout=0.1) */
    if (rc != 0)
      break;
    got++;
  }
  printf("drained %d items, then get(timeout=0.1): %s\n", got, shoal_err_name(rc));
  shoal_queue_destroy(q);
  return got == 5 && rc == SHOAL_ETIMEDOUT ? 0 : 1;
}
