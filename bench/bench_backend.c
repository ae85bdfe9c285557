// SPDX-License-Identifier: MIT
// bench_backend: the durable file queue against the ways people keep a queue
// on disk today, in one run.
//
// Every case is P producer processes (1 or 4) putting messages of S bytes
// (64 or 4096) for a fixed time while one consumer process takes them; the
// figure is messages per second delivered end to end (all messages put,
// divided by the time until the consumer has taken the last).  Cases:
//   none     shoal SHOAL_FILEQ_NONE, one put per message
//            peers: SQLite WAL synchronous=NORMAL (a transaction per
//            message), Redis AOF appendfsync everysec (RPUSH per message)
//   batch    shoal SHOAL_FILEQ_BATCH, put_many of 64 messages (one batch
//            each, fsynced before it returns)
//            peers: SQLite WAL synchronous=FULL, a transaction per message
//            and one per 64 messages; Redis AOF appendfsync always with 64
//            RPUSHes pipelined
//   batch-put  shoal SHOAL_FILEQ_BATCH, one put per message (each returns
//            once its group commit is fsynced)
//            peers: SQLite WAL synchronous=FULL, a transaction per message;
//            Redis AOF appendfsync always, RPUSH per message
//   always   shoal SHOAL_FILEQ_ALWAYS, one put per message (fsynced before it
//            returns; concurrent producers share fsyncs)
//            peers: SQLite WAL synchronous=FULL, a transaction per message;
//            Redis AOF appendfsync always, RPUSH per message; plain
//            write+fdatasync per message to a file (producers only: the
//            floor of one fsync per message)
// Consumers: shoal get_many (64); SQLite SELECT+DELETE of up to 64 rows in a
// transaction; Redis LPOP with a count of 64.  A real redis-server is
// started on a free localhost port in a scratch directory and stopped at
// the end.  Ratios are shoal / peer (above 1: shoal is faster).
//
// Usage: bench_backend [-t seconds_per_case] [-q] [-l none|batch|always] [-s 64|4096]
//   (-l batch runs the batch-put rows too)
//   (-q: 0.2 s cases, a smoke run; -l, -s: one level or size only)
// Exit status: 0 when every measurement ran and counted right (goal MISSes
// do not fail the run), 1 otherwise.
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shoal.h>

#include "bench_common.h"

#define BATCH 64
#define MAXP 4

static double case_secs = 0.6;
static char scratch[256];
static int redis_port;
static pid_t redis_pid = -1;

struct shared {
  _Atomic int go;
  _Atomic int producers_done;
  _Atomic long produced;
  _Atomic long consumed;
  _Atomic int failed;
  double t_start, t_end;
};
static struct shared *sh;

static void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  if (redis_pid > 0)
    kill(redis_pid, SIGKILL);
  exit(1);
}

enum peer {
  P_SHOAL_NONE,
  P_SHOAL_BATCH,
  P_SHOAL_ALWAYS,
  P_SHOAL_BATCH_PUT,
  P_SQLITE_NORMAL,
  P_SQLITE_FULL,
  P_SQLITE_FULL_B64,
  P_REDIS_EVERYSEC,
  P_REDIS_ALWAYS,
  P_REDIS_ALWAYS_P64,
  P_APPEND_FSYNC,
  PEER_N
};
static const char *const peer_name[PEER_N] = {
    "shoal_none", "shoal_batch", "shoal_always", "shoal_batch_put", "sqlite_normal", "sqlite_full",
    "sqlite_full_b64", "redis_everysec", "redis_always", "redis_always_p64", "append_fsync"};

/* ---- shoal -------------------------------------------------------------------------- */

static unsigned shoal_level(enum peer p)
{
  return p == P_SHOAL_NONE                                ? SHOAL_FILEQ_NONE
         : p == P_SHOAL_BATCH || p == P_SHOAL_BATCH_PUT ? SHOAL_FILEQ_BATCH
                                                         : SHOAL_FILEQ_ALWAYS;
}

static void shoal_dir(char *buf, size_t cap)
{
  snprintf(buf, cap, "%s/fileq", scratch);
}

static void shoal_producer(enum peer p, size_t size)
{
  char dir[300];
  shoal_dir(dir, sizeof dir);
  shoal_queue *q;
  if (shoal_fileq_open(&q, dir, NULL,
                       &(shoal_fileq_opts){.durability = shoal_level(p), .batch_records = BATCH},
                       NULL))
    die("shoal open");
  char *msg = calloc(BATCH, size);
  struct iovec v[BATCH];
  for (int i = 0; i < BATCH; i++)
    v[i] = (struct iovec){msg + i * size, size};
  long n = 0;
  while (!sh->go)
    ;
  double until = sh->t_start + case_secs;
  while (bench_now_s() < until) {
    if (p == P_SHOAL_BATCH) {
      int rc = shoal_queue_put_many(q, v, BATCH, SHOAL_FOREVER);
      if (rc < 0)
        die("put_many: %s", shoal_err_name(rc));
      n += rc;
    } else {
      for (int i = 0; i < 16; i++) {
        int rc = shoal_queue_put(q, msg, size, SHOAL_FOREVER);
        if (rc)
          die("put: %s", shoal_err_name(rc));
      }
      n += 16;
    }
  }
  sh->produced += n;
  shoal_queue_close(q);
}

static void shoal_consumer(size_t size)
{
  char dir[300];
  shoal_dir(dir, sizeof dir);
  shoal_queue *q;
  if (shoal_fileq_open(&q, dir, NULL, &(shoal_fileq_opts){.durability = SHOAL_FILEQ_NONE}, NULL))
    die("shoal open");
  char *buf = malloc(BATCH * size);
  size_t lens[BATCH];
  for (;;) {
    /* A short wait when empty: the end is noticed as soon as the peers'
     * consumers (which poll every 0.2 ms) notice theirs. */
    int rc = shoal_queue_get_many(q, buf, BATCH * size, lens, BATCH, SHOAL_MSEC(1));
    if (rc > 0) {
      sh->consumed += rc;
      continue;
    }
    if (rc != SHOAL_ETIMEDOUT)
      die("get_many: %s", shoal_err_name(rc));
    if (sh->producers_done && sh->consumed >= sh->produced)
      break;
  }
  shoal_queue_close(q);
}

/* ---- SQLite -------------------------------------------------------------------------- */

static sqlite3 *sqlite_open(bool full)
{
  char path[300];
  snprintf(path, sizeof path, "%s/queue.db", scratch);
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK)
    die("sqlite open");
  sqlite3_busy_timeout(db, 60000);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
  sqlite3_exec(db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", NULL, NULL,
               NULL);
  return db;
}

static void sqlite_exec(sqlite3 *db, const char *sql)
{
  for (;;) {
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
      return;
    if (rc != SQLITE_BUSY)
      die("sqlite %s: %s", sql, sqlite3_errmsg(db));
  }
}

static void sqlite_producer(enum peer p, size_t size)
{
  sqlite3 *db = sqlite_open(p != P_SQLITE_NORMAL);
  sqlite3_stmt *ins;
  if (sqlite3_prepare_v2(db, "INSERT INTO q(body) VALUES(?)", -1, &ins, NULL) != SQLITE_OK)
    die("prepare");
  char *msg = calloc(1, size);
  int per_txn = p == P_SQLITE_FULL_B64 ? BATCH : 1;
  long n = 0;
  while (!sh->go)
    ;
  double until = sh->t_start + case_secs;
  while (bench_now_s() < until) {
    sqlite_exec(db, "BEGIN IMMEDIATE");
    for (int i = 0; i < per_txn; i++) {
      sqlite3_bind_blob(ins, 1, msg, (int)size, SQLITE_STATIC);
      if (sqlite3_step(ins) != SQLITE_DONE)
        die("insert: %s", sqlite3_errmsg(db));
      sqlite3_reset(ins);
    }
    sqlite_exec(db, "COMMIT");
    n += per_txn;
  }
  sh->produced += n;
  sqlite3_finalize(ins);
  sqlite3_close(db);
}

static void sqlite_consumer(enum peer p)
{
  sqlite3 *db = sqlite_open(p != P_SQLITE_NORMAL);
  sqlite3_stmt *sel, *del;
  if (sqlite3_prepare_v2(db, "SELECT id, body FROM q ORDER BY id LIMIT 64", -1, &sel, NULL) ||
      sqlite3_prepare_v2(db, "DELETE FROM q WHERE id <= ?", -1, &del, NULL))
    die("prepare");
  for (;;) {
    sqlite_exec(db, "BEGIN IMMEDIATE");
    long got = 0;
    sqlite3_int64 last = 0;
    while (sqlite3_step(sel) == SQLITE_ROW) {
      last = sqlite3_column_int64(sel, 0);
      (void)sqlite3_column_blob(sel, 1);
      got++;
    }
    sqlite3_reset(sel);
    if (got) {
      sqlite3_bind_int64(del, 1, last);
      if (sqlite3_step(del) != SQLITE_DONE)
        die("delete: %s", sqlite3_errmsg(db));
      sqlite3_reset(del);
    }
    sqlite_exec(db, "COMMIT");
    sh->consumed += got;
    if (!got) {
      if (sh->producers_done && sh->consumed >= sh->produced)
        break;
      usleep(200);
    }
  }
  sqlite3_finalize(sel);
  sqlite3_finalize(del);
  sqlite3_close(db);
}

/* ---- Redis ---------------------------------------------------------------------------- */

static redisContext *redis_connect(void)
{
  redisContext *c = redisConnect("127.0.0.1", redis_port);
  if (!c || c->err)
    die("redis connect: %s", c ? c->errstr : "no memory");
  return c;
}

static void redis_cmd(redisContext *c, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(c, fmt, ap);
  va_end(ap);
  if (!r || r->type == REDIS_REPLY_ERROR)
    die("redis %s: %s", fmt, r ? r->str : c->errstr);
  freeReplyObject(r);
}

static void redis_producer(enum peer p, size_t size)
{
  redisContext *c = redis_connect();
  char *msg = calloc(1, size);
  int pipe = p == P_REDIS_ALWAYS_P64 ? BATCH : 1;
  long n = 0;
  while (!sh->go)
    ;
  double until = sh->t_start + case_secs;
  while (bench_now_s() < until) {
    for (int i = 0; i < pipe; i++)
      redisAppendCommand(c, "RPUSH q %b", msg, size);
    for (int i = 0; i < pipe; i++) {
      redisReply *r;
      if (redisGetReply(c, (void **)&r) != REDIS_OK || r->type == REDIS_REPLY_ERROR)
        die("rpush");
      freeReplyObject(r);
    }
    n += pipe;
  }
  sh->produced += n;
  redisFree(c);
}

static void redis_consumer(void)
{
  redisContext *c = redis_connect();
  for (;;) {
    redisReply *r = redisCommand(c, "LPOP q 64");
    if (!r)
      die("lpop");
    long got = r->type == REDIS_REPLY_ARRAY ? (long)r->elements : 0;
    freeReplyObject(r);
    sh->consumed += got;
    if (!got) {
      if (sh->producers_done && sh->consumed >= sh->produced)
        break;
      usleep(200);
    }
  }
  redisFree(c);
}

static int free_port(void)
{
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &len))
    die("no free port");
  close(s);
  return ntohs(a.sin_port);
}

static bool redis_start(void)
{
  redis_port = free_port();
  char port[16], dir[300];
  snprintf(port, sizeof port, "%d", redis_port);
  snprintf(dir, sizeof dir, "%s/redis", scratch);
  mkdir(dir, 0700);
  redis_pid = fork();
  if (redis_pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", dir,
           "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
           (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) {
    usleep(20000);
    redisContext *c = redisConnect("127.0.0.1", redis_port);
    if (c && !c->err) {
      redisReply *r = redisCommand(c, "PING");
      bool ok = r && r->type == REDIS_REPLY_STATUS;
      freeReplyObject(r);
      redisFree(c);
      if (ok)
        return true;
    } else if (c) {
      redisFree(c);
    }
  }
  kill(redis_pid, SIGKILL);
  waitpid(redis_pid, NULL, 0);
  redis_pid = -1;
  return false;
}

static void redis_stop(void)
{
  if (redis_pid <= 0)
    return;
  kill(redis_pid, SIGTERM);
  waitpid(redis_pid, NULL, 0);
  redis_pid = -1;
}

/* ---- append + fsync --------------------------------------------------------------------- */

static void append_producer(size_t size)
{
  char path[300];
  snprintf(path, sizeof path, "%s/append.log", scratch);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
  if (fd < 0)
    die("open %s", path);
  char *msg = calloc(1, size);
  long n = 0;
  while (!sh->go)
    ;
  double until = sh->t_start + case_secs;
  while (bench_now_s() < until) {
    if (write(fd, msg, size) != (ssize_t)size || fdatasync(fd) != 0)
      die("append: %s", strerror(errno));
    n++;
  }
  sh->produced += n;
  sh->consumed += n;
  close(fd);
}

/* ---- one case ------------------------------------------------------------------------------ */

static void reset_store(enum peer p)
{
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf %s/fileq %s/queue.db* %s/append.log", scratch, scratch,
           scratch);
  if (system(cmd) != 0)
    die("cleanup");
  if (p <= P_SHOAL_BATCH_PUT) {
    char dir[300];
    shoal_dir(dir, sizeof dir);
    shoal_queue *q;
    int rc = shoal_fileq_open(&q, dir, NULL, NULL, &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE});
    if (rc)
      die("create: %s", shoal_err_name(rc));
    shoal_queue_close(q);
  } else if (p <= P_SQLITE_FULL_B64) {
    sqlite3 *db = sqlite_open(true);
    sqlite_exec(db, "CREATE TABLE q(id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB)");
    sqlite3_close(db);
  } else if (p <= P_REDIS_ALWAYS_P64) {
    redisContext *c = redis_connect();
    redis_cmd(c, "DEL q");
    redis_cmd(c, "CONFIG SET appendfsync %s", p == P_REDIS_EVERYSEC ? "everysec" : "always");
    redisFree(c);
  }
}

/* Runs one case; returns messages per second (0 when the peer is missing). */
static double run_case(enum peer p, int producers, size_t size)
{
  if (p >= P_REDIS_EVERYSEC && p <= P_REDIS_ALWAYS_P64 && redis_pid <= 0)
    return 0;
  reset_store(p);
  memset(sh, 0, sizeof *sh);
  pid_t kids[MAXP + 1];
  int nk = 0;
  for (int i = 0; i < producers; i++) {
    pid_t k = fork();
    if (k == 0) {
      if (p <= P_SHOAL_BATCH_PUT)
        shoal_producer(p, size);
      else if (p <= P_SQLITE_FULL_B64)
        sqlite_producer(p, size);
      else if (p <= P_REDIS_ALWAYS_P64)
        redis_producer(p, size);
      else
        append_producer(size);
      _exit(0);
    }
    kids[nk++] = k;
  }
  pid_t cons = -1;
  if (p != P_APPEND_FSYNC) {
    cons = fork();
    if (cons == 0) {
      if (p <= P_SHOAL_BATCH_PUT)
        shoal_consumer(size);
      else if (p <= P_SQLITE_FULL_B64)
        sqlite_consumer(p);
      else
        redis_consumer();
      _exit(0);
    }
  }
  usleep(50000); /* everybody connected */
  sh->t_start = bench_now_s();
  sh->go = 1;
  int failed = 0;
  for (int i = 0; i < nk; i++) {
    int st;
    waitpid(kids[i], &st, 0);
    failed |= !WIFEXITED(st) || WEXITSTATUS(st);
  }
  sh->producers_done = 1;
  if (cons > 0) {
    int st;
    waitpid(cons, &st, 0);
    failed |= !WIFEXITED(st) || WEXITSTATUS(st);
  }
  double el = bench_now_s() - sh->t_start;
  if (failed || sh->consumed != sh->produced)
    die("%s: failed (produced %ld, consumed %ld)", peer_name[p], sh->produced, sh->consumed);
  return sh->produced / el;
}

static void fmt_rate(char *buf, size_t cap, double r)
{
  if (r >= 1e6)
    snprintf(buf, cap, "%.2f M/s", r / 1e6);
  else if (r >= 1e3)
    snprintf(buf, cap, "%.1f k/s", r / 1e3);
  else
    snprintf(buf, cap, "%.0f /s", r);
}

int main(int argc, char **argv)
{
  int opt, only_level = -1;
  long only_size = 0;
  while ((opt = getopt(argc, argv, "t:ql:s:")) != -1) {
    if (opt == 't')
      case_secs = atof(optarg);
    else if (opt == 'q')
      case_secs = 0.2;
    else if (opt == 'l')
      only_level = !strcmp(optarg, "none") ? 0 : !strcmp(optarg, "batch") ? 1 : 2;
    else if (opt == 's')
      only_size = atol(optarg);
    else
      return 2;
  }
  snprintf(scratch, sizeof scratch, "%s/bench-backend-XXXXXX",
           getenv("BENCH_DIR") ? getenv("BENCH_DIR") : ".");
  if (!mkdtemp(scratch))
    die("mkdtemp %s", scratch);
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  bool have_redis = redis_start();
  if (!have_redis)
    fprintf(stderr, "bench_backend: redis-server did not start; its columns are skipped\n");
  printf("# file queue vs peers: messages/s end to end (P producers -> 1 consumer), %.1f s "
         "per case, ratio = shoal / peer\n",
         case_secs);
  static const enum peer shoal_case[4] = {P_SHOAL_NONE, P_SHOAL_BATCH, P_SHOAL_ALWAYS,
                                          P_SHOAL_BATCH_PUT};
  static const enum peer peers[4][4] = {
      {P_SQLITE_NORMAL, P_REDIS_EVERYSEC, PEER_N, PEER_N},
      {P_SQLITE_FULL, P_SQLITE_FULL_B64, P_REDIS_ALWAYS_P64, PEER_N},
      {P_SQLITE_FULL, P_REDIS_ALWAYS, P_APPEND_FSYNC, PEER_N},
      {P_SQLITE_FULL, P_REDIS_ALWAYS, PEER_N, PEER_N}};
  static const char *const level[4] = {"none", "batch", "always", "batch-put"};
  double none64 = 0, batch_ratio[2] = {0, 0}, always4 = 0;
  size_t sizes[2] = {64, 4096};
  int procs[2] = {1, 4};
  for (int si = 0; si < 2; si++)
    for (int pi = 0; pi < 2; pi++)
      for (int l = 0; l < 4; l++) {
        size_t size = sizes[si];
        int np = procs[pi];
        if ((only_level >= 0 && l != only_level && !(only_level == 1 && l == 3)) ||
            (only_size && (size_t)only_size != size))
          continue;
        double s = run_case(shoal_case[l], np, size);
        char line[512], rate[32];
        fmt_rate(rate, sizeof rate, s);
        int n = snprintf(line, sizeof line, "fileq %-9s msg=%-4zu %d->1  shoal=%s", level[l],
                         size, np, rate);
        for (int k = 0; k < 4 && peers[l][k] != PEER_N; k++) {
          enum peer p = peers[l][k];
          double r = run_case(p, np, size);
          if (r == 0) {
            n += snprintf(line + n, sizeof line - (size_t)n, "  %s=-", peer_name[p]);
            continue;
          }
          fmt_rate(rate, sizeof rate, r);
          n += snprintf(line + n, sizeof line - (size_t)n, "  %s=%s (%.1fx)", peer_name[p], rate,
                        s / r);
          if (size == 64 && l == 1 && p == P_SQLITE_FULL)
            batch_ratio[pi] = s / r;
          if (size == 64 && l == 2 && np == 4 && p == P_SQLITE_FULL)
            always4 = s / r;
        }
        if (size == 64 && l == 0 && np == 1)
          none64 = s;
        printf("%s\n", line);
        fflush(stdout);
      }
  redis_stop();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", scratch);
  if (system(cmd) != 0)
    fprintf(stderr, "bench_backend: could not remove %s\n", scratch);
  printf("goal none 64 B 1->1 >= 5 M msg/s: %.2f M/s  %s\n", none64 / 1e6,
         none64 >= 5e6 ? "PASS" : "MISS");
  printf("goal batch >= 10x sqlite_full (64 B): 1->1 %.1fx, 4->1 %.1fx  %s\n", batch_ratio[0],
         batch_ratio[1], batch_ratio[0] >= 10 && batch_ratio[1] >= 10 ? "PASS" : "MISS");
  printf("goal always 4->1 >= 2x sqlite_full (64 B): %.1fx  %s\n", always4,
         always4 >= 2 ? "PASS" : "MISS");
  return 0;
}
