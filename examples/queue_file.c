// Scenario 5 (on disk): the tutorial's FileQueue('queue.txt') for real.  A
// producer thread and a consumer thread share a durable queue in a
// directory; an empty message plays Python's None sentinel.  The program
// then "restarts": it closes the queue with work left in it, opens it again
// as a new run would, and the consumer carries on where it stopped.
#include <pthread.h>
#include <shoal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static shoal_queue *q;

static void *producer(void *arg)
{
  (void)arg;
  for (int i = 0; i < 5; i++) {
    char item[32];
    int n = snprintf(item, sizeof item, "item %d", i);
    shoal_queue_put(q, item, (size_t)n, SHOAL_FOREVER); /* on disk when it returns */
    printf("produced %s\n", item);
  }
  shoal_queue_put(q, NULL, 0, SHOAL_FOREVER); /* the sentinel */
  return NULL;
}

/* Takes items until the sentinel, or until `stop_after` items. */
static int consume(int stop_after)
{
  int count = 0;
  while (count < stop_after) {
    char item[32];
    size_t len = sizeof item;
    if (shoal_queue_get(q, item, &len, SHOAL_SEC(5)) != 0 || len == 0)
      break;
    printf("consumed %.*s\n", (int)len, item);
    shoal_queue_task_done(q); /* acknowledged: never delivered again */
    count++;
  }
  return count;
}

static void *consumer(void *arg)
{
  *(int *)arg = consume(3); /* this run stops early... */
  return NULL;
}

int main(void)
{
  char dir[] = "/tmp/shoal-queue-file-XXXXXX";
  if (!mkdtemp(dir))
    return 1;
  char path[64];
  snprintf(path, sizeof path, "file://%s/jobs", dir);
  shoal_queue_opts qo = {.flags = SHOAL_QUEUE_JOINABLE}; /* get + task_done = at least once */
  shoal_open_opts create = {.flags = SHOAL_OPEN_CREATE};
  if (shoal_queue_open(&q, path, &qo, &create) != 0)
    return 1;
  pthread_t p, c;
  int first = 0;
  pthread_create(&c, NULL, consumer, &first);
  pthread_create(&p, NULL, producer, NULL);
  pthread_join(p, NULL);
  pthread_join(c, NULL);
  printf("first run: consumed %d, %ld left on disk\n", first, shoal_queue_qsize(q));
  shoal_queue_close(q);

  /* ...and the next run opens the same directory and finishes the work. */
  if (shoal_queue_open(&q, path, NULL, NULL) != 0)
    return 1;
  int second = consume(100);
  shoal_queue_close(q);
  printf("second run: consumed %d and the sentinel\n", second);

  char cmd[96];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    return 1;
  return first == 3 && second == 2 ? 0 : 1;
}
