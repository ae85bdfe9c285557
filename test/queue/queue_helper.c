// SPDX-License-Identifier: MIT
// queue_helper: an unrelated process for the queue tests; opens a named queue
// and prints each result (an error name, or the message) on its own line:
//   put NAME MSG...          put each MSG, print each rc
//   putp NAME PRIO MSG       put MSG with priority PRIO
//   get NAME MS [N]          print "waiting", then N gets (default 1): message or error name
//   open-as-lock NAME        try to open NAME as a Lock: print the rc
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shoal.h>

static void say(const char *s)
{
  printf("%s\n", s);
  fflush(stdout);
}

int main(int argc, char **argv)
{
  if (argc < 3)
    return 2;
  const char *cmd = argv[1], *name = argv[2];
  if (!strcmp(cmd, "open-as-lock")) {
    shoal_lock *l;
    say(shoal_err_name(shoal_lock_open(&l, name, NULL)));
    return 0;
  }
  shoal_queue *q;
  int rc = shoal_queue_open(&q, name, NULL, NULL);
  if (rc) {
    say(shoal_err_name(rc));
    return 1;
  }
  if (!strcmp(cmd, "put")) {
    for (int i = 3; i < argc; i++)
      say(shoal_err_name(shoal_queue_put(q, argv[i], strlen(argv[i]), SHOAL_SEC(5))));
  } else if (!strcmp(cmd, "putp") && argc == 5) {
    say(shoal_err_name(
        shoal_queue_put_priority(q, atoll(argv[3]), argv[4], strlen(argv[4]), SHOAL_SEC(5))));
  } else if (!strcmp(cmd, "get") && argc >= 4) {
    int n = argc > 4 ? atoi(argv[4]) : 1;
    long ms = atol(argv[3]);
    say("waiting");
    for (int i = 0; i < n; i++) {
      char buf[256];
      size_t len = sizeof buf - 1;
      rc = shoal_queue_get(q, buf, &len, ms < 0 ? SHOAL_FOREVER : SHOAL_MSEC(ms));
      if (rc) {
        say(shoal_err_name(rc));
        continue;
      }
      buf[len] = '\0';
      say(buf);
    }
  } else {
    return 2;
  }
  shoal_queue_close(q);
  return 0;
}
