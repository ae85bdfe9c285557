// SPDX-License-Identifier: MIT
// shoal-fileq: look after a durable file queue from the shell.
//   shoal-fileq check DIR        verify every record's CRC; exit 0 intact, 1 damaged
//   shoal-fileq repair DIR       keep every intact record, drop the damage (nobody
//                                may have the queue open); exit 0 on success;
//                                interrupted, run it again
//   shoal-fileq stats DIR        depth, segments, deliveries out, dead letters, ...
//   shoal-fileq dead DIR         print the parked messages (dead letters), one a line
//   shoal-fileq put DIR MSG...   put each MSG (durability: always)
//   shoal-fileq get DIR [N]      take up to N messages (default 1) and print them
// Exit status 2 on a usage error or when DIR is not a queue.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shoal.h>

static int usage(void)
{
  fprintf(stderr, "usage: shoal-fileq check|repair|stats|dead|put|get DIR [ARGS...]\n");
  return 2;
}

static void print_report(const shoal_fileq_report *r)
{
  printf("segments %llu  records %llu  damaged regions %llu  torn tails %llu  bytes lost %llu\n",
         (unsigned long long)r->segments, (unsigned long long)r->records,
         (unsigned long long)r->damaged, (unsigned long long)r->torn,
         (unsigned long long)r->bytes_lost);
}

static int print_dead(const void *msg, size_t len, uint64_t seq, void *arg)
{
  (void)arg;
  printf("%llu\t%.*s\n", (unsigned long long)seq, (int)len, (const char *)msg);
  return 0;
}

static int fail(const char *what, int rc)
{
  fprintf(stderr, "shoal-fileq: %s: %s (%s)\n", what, shoal_strerror(rc), shoal_err_name(rc));
  return rc == SHOAL_ECORRUPT ? 1 : 2;
}

int main(int argc, char **argv)
{
  if (argc < 3)
    return usage();
  const char *cmd = argv[1], *dir = argv[2];
  shoal_fileq_report rep;
  if (!strcmp(cmd, "check") || !strcmp(cmd, "repair")) {
    int rc = !strcmp(cmd, "check") ? shoal_fileq_check(dir, &rep) : shoal_fileq_repair(dir, &rep);
    if (rc && rc != SHOAL_ECORRUPT)
      return fail(dir, rc);
    print_report(&rep);
    bool check = !strcmp(cmd, "check");
    /* A repair that finds damage it cannot work around (queue.meta or its own
     * journal) says so, rather than send the user to run it again. */
    printf("%s\n", !rc   ? (check ? "intact" : "repaired")
                   : check ? "DAMAGED: run shoal-fileq repair"
                           : "NOT REPAIRED: queue.meta or the repair journal queue.repair is damaged");
    return rc ? 1 : 0;
  }
  if (!strcmp(cmd, "dead")) {
    long n = shoal_fileq_dead_scan(dir, print_dead, NULL);
    return n < 0 ? fail(dir, (int)n) : 0;
  }
  shoal_queue *q;
  int rc = shoal_fileq_open(&q, dir, NULL, &(shoal_fileq_opts){.durability = SHOAL_FILEQ_ALWAYS},
                            NULL);
  if (rc)
    return fail(dir, rc);
  if (!strcmp(cmd, "stats")) {
    shoal_fileq_info fi;
    shoal_queue_info qi;
    shoal_fileq_stats(q, &fi);
    shoal_queue_stats(q, &qi);
    printf("depth %llu  segments %llu..%llu  in flight %llu  redelivered %llu  dead letters "
           "%llu  torn cut %llu (%llu bytes)  rebuilds %llu\n",
           (unsigned long long)qi.depth, (unsigned long long)fi.first_segment,
           (unsigned long long)fi.last_segment, (unsigned long long)fi.inflight,
           (unsigned long long)fi.redelivered, (unsigned long long)fi.dead_lettered,
           (unsigned long long)fi.torn_records, (unsigned long long)fi.torn_bytes,
           (unsigned long long)fi.rebuilds);
  } else if (!strcmp(cmd, "put")) {
    for (int i = 3; i < argc && rc == 0; i++)
      rc = shoal_queue_put(q, argv[i], strlen(argv[i]), SHOAL_SEC(10));
  } else if (!strcmp(cmd, "get")) {
    long n = argc > 3 ? atol(argv[3]) : 1;
    for (long i = 0; i < n; i++) {
      void *m;
      size_t len;
      rc = shoal_queue_get_alloc(q, &m, &len, NULL, SHOAL_NOWAIT);
      if (rc == SHOAL_EAGAIN) {
        rc = 0;
        break;
      }
      if (rc)
        break;
      printf("%.*s\n", (int)len, (const char *)m);
      shoal_free(m);
    }
  } else {
    shoal_queue_close(q);
    return usage();
  }
  shoal_queue_close(q);
  return rc ? fail(cmd, rc) : 0;
}
