// SPDX-License-Identifier: MIT
// fileq_helper: an unrelated process for the file queue tests; opens the
// file queue in DIR and prints each result on its own line:
//   put DIR MSG...        put each MSG, print each rc
//   get DIR MS [N]        print "waiting", then N gets (default 1): the message or the error name
//   take DIR N            take N messages and acknowledge none, print "took N", then sleep
//                         until killed
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
  const char *cmd = argv[1], *dir = argv[2];
  shoal_queue *q;
  int rc = shoal_fileq_open(&q, dir, NULL, &(shoal_fileq_opts){.durability = SHOAL_FILEQ_NONE},
                            NULL);
  if (rc) {
    say(shoal_err_name(rc));
    return 1;
  }
  if (!strcmp(cmd, "put")) {
    for (int i = 3; i < argc; i++)
      say(shoal_err_name(shoal_queue_put(q, argv[i], strlen(argv[i]), SHOAL_SEC(5))));
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
  } else if (!strcmp(cmd, "take") && argc == 4) {
    int n = atoi(argv[3]), got = 0;
    for (int i = 0; i < n; i++) {
      char buf[256];
      size_t len = sizeof buf;
      if (shoal_queue_get(q, buf, &len, SHOAL_SEC(5)) == 0)
        got++;
    }
    char line[32];
    snprintf(line, sizeof line, "took %d", got);
    say(line);
    for (;;)
      pause();
  } else {
    return 2;
  }
  shoal_queue_close(q);
  return 0;
}
