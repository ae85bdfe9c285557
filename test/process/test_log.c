// SPDX-License-Identifier: MIT
// Multi-process logging: records whole under load (8 processes x 10,000
// records into one file, big records through one pipe), the format fields,
// levels, sinks, a writer killed while it holds the lock, bad input.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

#define PROCS 8
#define RECORDS 10000

static shoal_logger *lg;

static char path[128];

static const char *tmp_path(const char *tag)
{
  snprintf(path, sizeof path, "/tmp/shoal-test-log-%d-%s", (int)getpid(), tag);
  unlink(path);
  return path;
}

static int log_many(void *args, size_t len)
{
  (void)len;
  int me = *(int *)args;
  for (int i = 0; i < RECORDS; i++)
    if (shoal_log_info(lg, "worker %d record %05d %s", me, i,
                       "padding-padding-padding-padding-padding-padding-padding-padding") != 1)
      return 1;
  return 0;
}

SH_TEST(log, eight_processes_ten_thousand_records_each_never_interleave)
{
  shoal_process *p[PROCS];
  int ids[PROCS];
  const char *file = tmp_path("many");
  SH_ASSERT_OK(shoal_logger_create(&lg, &(shoal_logger_opts){
                                            .level = SHOAL_LOG_INFO,
                                            .format = "%(levelname)s %(processName)s "
                                                      "%(process)d %(message)s"}));
  SH_ASSERT_OK(shoal_logger_add_file(lg, file));
  for (int i = 0; i < PROCS; i++) {
    char name[32];
    snprintf(name, sizeof name, "Logger-%d", i);
    ids[i] = i;
    SH_ASSERT_OK(shoal_process_create(&p[i], log_many, &ids[i], sizeof ids[i],
                                      &(shoal_process_opts){.name = name}));
  }
  for (int i = 0; i < PROCS; i++)
    SH_ASSERT_OK(shoal_process_start(p[i]));
  for (int i = 0; i < PROCS; i++) {
    int code;
    SH_ASSERT_OK(shoal_process_join(p[i], SHOAL_SEC(50)));
    SH_ASSERT_RC(shoal_process_exitcode(p[i], &code), 1);
    cr_assert_eq(code, 0);
  }
  /* Every line must be exactly one record, in each process's order. */
  FILE *f = fopen(file, "r");
  cr_assert_not_null(f);
  int next[PROCS] = {0};
  char line[512];
  long lines = 0;
  while (fgets(line, sizeof line, f)) {
    int who, n, pid, who2;
    char pad[128], tail;
    lines++;
    int got = sscanf(line, "INFO Logger-%d %d worker %d record %d %127s%c", &who, &pid, &who2, &n,
                     pad, &tail);
    cr_assert(got == 6 && tail == '\n' && who == who2 && who >= 0 && who < PROCS,
              "line %ld is not one whole record: %s", lines, line);
    cr_assert_eq(pid, shoal_process_pid(p[who]));
    cr_assert_str_eq(pad, "padding-padding-padding-padding-padding-padding-padding-padding");
    cr_assert_eq(n, next[who], "process %d: record %d came where %d was due", who, n, next[who]);
    next[who]++;
  }
  fclose(f);
  cr_assert_eq(lines, (long)PROCS * RECORDS);
  for (int i = 0; i < PROCS; i++) {
    cr_assert_eq(next[i], RECORDS);
    shoal_process_destroy(p[i]);
  }
  unlink(file);
  shoal_logger_destroy(lg);
}

#define BIG 6000 /* more than PIPE_BUF: one write() alone would not be atomic */
#define BIG_PROCS 4
#define BIG_RECORDS 100

static int log_big(void *args, size_t len)
{
  (void)len;
  char *body = malloc(BIG + 1);
  memset(body, 'a' + *(int *)args, BIG);
  body[BIG] = '\0';
  for (int i = 0; i < BIG_RECORDS; i++)
    shoal_log_warning(lg, "%s", body);
  free(body);
  return 0;
}

SH_TEST(log, records_larger_than_pipe_buf_stay_whole_on_a_pipe)
{
  int fds[2], ids[BIG_PROCS];
  shoal_process *p[BIG_PROCS];
  cr_assert(pipe(fds) == 0);
  SH_ASSERT_OK(shoal_logger_create(&lg, &(shoal_logger_opts){.format = "%(message)s"}));
  SH_ASSERT_OK(shoal_logger_add_fd(lg, fds[1]));
  for (int i = 0; i < BIG_PROCS; i++) {
    ids[i] = i;
    SH_ASSERT_OK(shoal_process_create(&p[i], log_big, &ids[i], sizeof ids[i], NULL));
    SH_ASSERT_OK(shoal_process_start(p[i]));
  }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  char *line = malloc(BIG + 8);
  int count[BIG_PROCS] = {0};
  while (fgets(line, BIG + 8, f)) {
    size_t n = strlen(line);
    cr_assert_eq(n, (size_t)BIG + 1, "a record of %zu bytes", n);
    int who = line[0] - 'a';
    cr_assert(who >= 0 && who < BIG_PROCS);
    for (size_t k = 0; k < BIG; k++)
      cr_assert_eq(line[k], line[0], "two records mixed at byte %zu", k);
    count[who]++;
  }
  fclose(f);
  free(line);
  for (int i = 0; i < BIG_PROCS; i++) {
    cr_assert_eq(count[i], BIG_RECORDS);
    SH_ASSERT_OK(shoal_process_join(p[i], SHOAL_SEC(20)));
    shoal_process_destroy(p[i]);
  }
  shoal_logger_destroy(lg);
}

/* Criterion owns main(): enter spawn children from a constructor. */
SHOAL_SPAWN_MAIN_CONSTRUCTOR

struct big_job {
  int fd, who;
  char lock_name[64];
};

/* A spawn child shares no memory with its parent: it makes its own logger,
 * and keeps records whole on the shared pipe through the named lock. */
static int log_big_spawned(void *args, size_t len)
{
  (void)len;
  struct big_job *j = args;
  shoal_logger *own;
  if (shoal_logger_create(&own, &(shoal_logger_opts){.format = "%(message)s",
                                                     .lock_name = j->lock_name}) ||
      shoal_logger_add_fd(own, j->fd))
    return 1;
  lg = own;
  log_big(&j->who, sizeof j->who);
  shoal_logger_destroy(own);
  return 0;
}
SHOAL_ENTRY(log_big_spawned)

SH_TEST(log, spawn_children_sharing_a_lock_name_keep_big_records_whole)
{
  int fds[2];
  struct big_job jobs[BIG_PROCS];
  shoal_process *p[BIG_PROCS];
  const char *name = sh_name("loglock");
  cr_assert(pipe2(fds, O_CLOEXEC) == 0);
  for (int i = 0; i < BIG_PROCS; i++) {
    jobs[i] = (struct big_job){.fd = fds[1], .who = i};
    snprintf(jobs[i].lock_name, sizeof jobs[i].lock_name, "%s", name);
    SH_ASSERT_OK(shoal_process_create(&p[i], log_big_spawned, &jobs[i], sizeof jobs[i],
                                      &(shoal_process_opts){.start_method = SHOAL_START_SPAWN,
                                                            .pass_fds = &fds[1],
                                                            .n_pass_fds = 1}));
    SH_ASSERT_OK(shoal_process_start(p[i]));
  }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  char *line = malloc(BIG + 8);
  int count[BIG_PROCS] = {0};
  while (fgets(line, BIG + 8, f)) {
    size_t n = strlen(line);
    cr_assert_eq(n, (size_t)BIG + 1, "a record of %zu bytes", n);
    int who = line[0] - 'a';
    cr_assert(who >= 0 && who < BIG_PROCS);
    for (size_t k = 0; k < BIG; k++)
      cr_assert_eq(line[k], line[0], "two records mixed at byte %zu", k);
    count[who]++;
  }
  fclose(f);
  free(line);
  for (int i = 0; i < BIG_PROCS; i++) {
    int code;
    SH_ASSERT_OK(shoal_process_join(p[i], SHOAL_SEC(20)));
    SH_ASSERT_RC(shoal_process_exitcode(p[i], &code), 1);
    cr_assert_eq(code, 0);
    cr_assert_eq(count[i], BIG_RECORDS);
    shoal_process_destroy(p[i]);
  }
}

static void read_all(const char *file, char *buf, size_t len)
{
  FILE *f = fopen(file, "r");
  cr_assert_not_null(f);
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  fclose(f);
}

static void thread_logs(void *arg)
{
  (void)arg;
  shoal_log_error(lg, "from a thread");
}

SH_TEST(log, format_fields_and_levels)
{
  const char *file = tmp_path("fields");
  char out[2048], want[2048];
  SH_ASSERT_OK(shoal_logger_create(
      &lg, &(shoal_logger_opts){.name = "app",
                                .format = "%(levelname)-8s|%(levelno)d|%(name)s|%(processName)s|"
                                          "%(process)d|%(threadName)s|%(message)s|%(filename)s|"
                                          "%(funcName)s|%(process)6d|%(levelno).1f|%%"}));
  SH_ASSERT_OK(shoal_logger_add_file(lg, file));
  SH_ASSERT_RC(shoal_logger_level(lg), SHOAL_LOG_WARNING); /* Python's default */
  SH_ASSERT_RC(shoal_log_info(lg, "dropped"), 0);
  SH_ASSERT_RC(shoal_log_warning(lg, "kept %d", 1), 1);
  SH_ASSERT_OK(shoal_logger_set_level(lg, SHOAL_LOG_DEBUG));
  SH_ASSERT_RC(shoal_log_debug(lg, "now kept"), 1);
  shoal_thread *t;
  SH_ASSERT_OK(shoal_thread_create(&t, thread_logs, NULL, &(shoal_thread_opts){.name = "T1"}));
  SH_ASSERT_OK(shoal_thread_start(t));
  SH_ASSERT_OK(shoal_thread_join(t, SHOAL_SEC(10)));
  shoal_thread_destroy(t);
  read_all(file, out, sizeof out);
  /* Criterion (and its stand-in) name a test's function <suite>_<test>_impl. */
  int pid = getpid();
  snprintf(want, sizeof want,
           "WARNING |30|app|MainProcess|%d|MainThread|kept 1|test_log.c|log_format_fields_and_levels_impl|%6d|30.0|%%\n"
           "DEBUG   |10|app|MainProcess|%d|MainThread|now kept|test_log.c|log_format_fields_and_levels_impl|%6d|10.0|%%\n"
           "ERROR   |40|app|MainProcess|%d|T1|from a thread|test_log.c|thread_logs|%6d|40.0|%%\n",
           pid, pid, pid, pid, pid, pid);
  cr_assert_str_eq(out, want);
  unlink(file);
  shoal_logger_destroy(lg);
}

SH_TEST(log, default_format_and_cut_records)
{
  const char *file = tmp_path("default");
  char out[SHOAL_LOG_RECORD_MAX + 256];
  SH_ASSERT_OK(shoal_logger_create(&lg, NULL));
  SH_ASSERT_OK(shoal_logger_add_file(lg, file));
  SH_ASSERT_RC(shoal_log_error(lg, "hello"), 1);
  read_all(file, out, sizeof out);
  int y, mo, d, h, mi, s, ms, pid;
  char tail[128];
  cr_assert_eq(sscanf(out, "%d-%d-%d %d:%d:%d,%d ERROR MainProcess[%d] MainThread: %127[^\n]", &y,
                      &mo, &d, &h, &mi, &s, &ms, &pid, tail),
               9, "%s", out);
  cr_assert_eq(pid, getpid());
  cr_assert_str_eq(tail, "hello");
  cr_assert(ms >= 0 && ms < 1000);
  /* A record too long is cut and still ends its line. */
  char *huge = malloc(SHOAL_LOG_RECORD_MAX * 2);
  memset(huge, 'z', SHOAL_LOG_RECORD_MAX * 2 - 1);
  huge[SHOAL_LOG_RECORD_MAX * 2 - 1] = '\0';
  unlink(file);
  shoal_logger_destroy(lg);
  SH_ASSERT_OK(shoal_logger_create(&lg, &(shoal_logger_opts){.format = "%(message)s"}));
  SH_ASSERT_OK(shoal_logger_add_file(lg, file));
  SH_ASSERT_RC(shoal_log_critical(lg, "%s", huge), 1);
  read_all(file, out, sizeof out);
  size_t n = strlen(out);
  cr_assert_eq(n, (size_t)SHOAL_LOG_RECORD_MAX - 1);
  cr_assert_str_eq(out + n - 4, "...\n");
  cr_assert(strchr(out, '\n') == out + n - 1);
  free(huge);
  unlink(file);
  shoal_logger_destroy(lg);
}

static int block_in_write(void *args, size_t len)
{
  (void)args;
  (void)len;
  /* Nobody reads the pipe: a big record blocks in write() with the lock held. */
  char *body = malloc(1 << 20);
  memset(body, 'q', (1 << 20) - 1);
  body[(1 << 20) - 1] = '\0';
  shoal_log_critical(lg, "%s", body);
  return 0;
}

SH_TEST(log, a_writer_killed_holding_the_lock_blocks_nobody)
{
  int fds[2];
  shoal_process *p;
  cr_assert(pipe(fds) == 0);
  SH_ASSERT_OK(shoal_logger_create(&lg, &(shoal_logger_opts){.format = "%(message)s"}));
  SH_ASSERT_OK(shoal_logger_add_fd(lg, fds[1]));
  SH_ASSERT_OK(shoal_process_create(&p, block_in_write, NULL, 0, NULL));
  SH_ASSERT_OK(shoal_process_start(p));
  char buf[65536];
  cr_assert(read(fds[0], buf, 1) == 1); /* it is writing, so it holds the lock */
  SH_ASSERT_OK(shoal_process_kill(p));
  SH_ASSERT_OK(shoal_process_join(p, SHOAL_SEC(10)));
  /* Drain what it left, then log: the dead writer's lock is taken over. */
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  while (read(fds[0], buf, sizeof buf) > 0)
    ;
  SH_ASSERT_RC(shoal_log_error(lg, "after"), 1);
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  cr_assert_eq(n, 6);
  buf[n] = '\0';
  cr_assert_str_eq(buf, "after\n");
  shoal_process_destroy(p);
  shoal_logger_destroy(lg);
}

SH_TEST(log, bad_input)
{
  SH_ASSERT_ERR(shoal_logger_create(NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_logger_create(&lg, &(shoal_logger_opts){.format = "%(nope)s"}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_logger_create(&lg, &(shoal_logger_opts){.format = "%(message)d"}),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_logger_create(&lg, &(shoal_logger_opts){.format = "%(message"}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_logger_create(&lg, &(shoal_logger_opts){.format = "50% off"}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_logger_create(&lg, &(shoal_logger_opts){.level = 99}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_logger_create(&lg, &(shoal_logger_opts){.reserved[1] = 1}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_logger_create(&lg, &(shoal_logger_opts){.lock_name = "a/b"}), SHOAL_EINVAL);
  SH_ASSERT_OK(shoal_logger_create(&lg, NULL));
  SH_ASSERT_ERR(shoal_logger_set_level(lg, 0), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_logger_set_level(lg, 51), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_logger_add_file(lg, "/nonexistent-dir/x.log"), SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal_logger_add_file(lg, ""), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_logger_add_fd(lg, -1), SHOAL_EBADF);
  SH_ASSERT_ERR(shoal_logger_add_fd(lg, 999), SHOAL_EBADF);
  for (int i = 0; i < SHOAL_LOG_MAX_SINKS; i++)
    SH_ASSERT_OK(shoal_logger_add_fd(lg, STDOUT_FILENO));
  SH_ASSERT_ERR(shoal_logger_add_stderr(lg), SHOAL_ENOSPC);
  SH_ASSERT_ERR(shoal_log(lg, 0, "x"), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_log(NULL, SHOAL_LOG_ERROR, "x"), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_logger_level(NULL), SHOAL_EINVAL);
  shoal_logger_destroy(lg);
  shoal_logger_destroy(NULL);
}
