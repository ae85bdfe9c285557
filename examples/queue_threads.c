// Scenario 5 (in memory): a producer thread and a consumer thread share a
// queue; an empty message plays Python's None sentinel.
#include <pthread.h>
#include <shoal.h>
#include <stdio.h>
#include <string.h>

static shoal_queue *q;

static void *producer(void *arg)
{
  (void)arg;
  for (int i = 0; i < 5; i++) {
    char item[32];
    int n = snprintf(item, sizeof item, "item %d", i);
    shoal_queue_put(q, item, (size_t)n, SHOAL_FOREVER);
    printf("produced %s\n", item);
  }
  shoal_queue_put(q, NULL, 0, SHOAL_FOREVER); /* the sentinel */
  return NULL;
}

static void *consumer(void *arg)
{
  int *count = arg;
  for (;;) {
    char item[32];
    size_t len = sizeof item;
    if (shoal_queue_get(q, item, &len, SHOAL_SEC(5)) != 0 || len == 0)
      break;
    printf("consumed %.*s\n", (int)len, item);
    (*count)++;
  }
  return NULL;
}

int main(void)
{
  pthread_t p, c;
  int count = 0;
  if (shoal_queue_create(&q, NULL) != 0)
    return 1;
  pthread_create(&c, NULL, consumer, &count);
  pthread_create(&p, NULL, producer, NULL);
  pthread_join(p, NULL);
  pthread_join(c, NULL);
  shoal_queue_destroy(q);
  printf("consumer got %d items and the sentinel\n", count);
  return count == 5 ? 0 : 1;
}
