// Scenario 11: a priority queue across processes; (1, 'high-priority
// message') comes out before (2, ...), whatever the order they were put in.
#include <shoal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
  shoal_queue *q;
  if (shoal_queue_create(&q, &(shoal_queue_opts){.kind = SHOAL_QUEUE_PRIORITY}) != 0)
    return 1;
  if (fork() == 0) {
    const char *low = "low-priority message", *high = "high-priority message";
    shoal_queue_put_priority(q, 2, low, strlen(low), SHOAL_FOREVER);
    shoal_queue_put_priority(q, 1, high, strlen(high), SHOAL_FOREVER);
    _exit(0);
  }
  wait(NULL);
  int64_t first = 0, prio;
  for (int i = 0; i < 2; i++) {
    char msg[64];
    size_t len = sizeof msg;
    shoal_queue_get_priority(q, msg, &len, &prio, SHOAL_SEC(5));
    printf("(%lld, '%.*s')\n", (long long)prio, (int)len, msg);
    if (i == 0)
      first = prio;
  }
  shoal_queue_destroy(q);
  return first == 1 && prio == 2 ? 0 : 1;
}
