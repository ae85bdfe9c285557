// SPDX-License-Identifier: MIT
// Scenario 20: errors in children are seen by the parent — a crash on a
// signal, a failure with a message, a nonzero exit code — each with a report
// line on stderr; and logging from many processes without interleaved lines.
//
//   def crash(): os.kill(os.getpid(), signal.SIGSEGV)
//   def fail(): sys.exit("cannot open input.csv")
//   p = Process(target=crash); p.start(); p.join(); print(p.exitcode)   # -11
//   logging with a QueueHandler per process, one QueueListener writing
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <shoal.h>

static int crash(void *args, size_t len)
{
  (void)args;
  (void)len;
  setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0}); /* no core file for a demo */
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
  return 0;
}

static int fail(void *args, size_t len)
{
  (void)len;
  shoal_process_fail("cannot open %s", (const char *)args);
}

static int exit_code(void *args, size_t len)
{
  (void)args;
  (void)len;
  return 3;
}

static shoal_logger *lg;

static int chatter(void *args, size_t len)
{
  (void)len;
  for (int i = 0; i < 1000; i++)
    shoal_log_info(lg, "item %d of worker %d", i, *(int *)args);
  return 0;
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  int ok = 1;
  struct {
    shoal_process_target fn;
    const char *name;
    int want;
  } cases[] = {{crash, "Crasher", -SIGSEGV}, {fail, "Loader", 1}, {exit_code, "Worker-3", 3}};
  printf("children that fail (the report lines go to stderr):\n");
  for (int i = 0; i < 3; i++) {
    shoal_process *p;
    int code = 0;
    shoal_process_create(&p, cases[i].fn, "input.csv", 10,
                         &(shoal_process_opts){.name = cases[i].name});
    shoal_process_start(p);
    shoal_process_join(p, SHOAL_SEC(10));
    shoal_process_exitcode(p, &code);
    printf("  %s: exitcode %d, message %s\n", cases[i].name, code,
           shoal_process_message(p) ? shoal_process_message(p) : "(none)");
    ok = ok && code == cases[i].want && shoal_process_error(p);
    shoal_process_destroy(p);
  }

  printf("4 processes x 1000 log records into one file:\n");
  char path[64];
  snprintf(path, sizeof path, "/tmp/shoal-example-log-%d.txt", (int)getpid());
  unlink(path);
  shoal_logger_create(&lg, &(shoal_logger_opts){.level = SHOAL_LOG_INFO});
  shoal_logger_add_file(lg, path);
  shoal_process *w[4];
  int ids[4];
  for (int i = 0; i < 4; i++) {
    ids[i] = i;
    shoal_process_create(&w[i], chatter, &ids[i], sizeof ids[i], NULL);
    shoal_process_start(w[i]);
  }
  for (int i = 0; i < 4; i++) {
    shoal_process_join(w[i], SHOAL_SEC(20));
    shoal_process_destroy(w[i]);
  }
  FILE *f = fopen(path, "r");
  char line[256];
  int lines = 0, whole = 0;
  while (f && fgets(line, sizeof line, f)) {
    int item, worker;
    char *msg = strstr(line, ": item ");
    lines++;
    whole += msg && sscanf(msg, ": item %d of worker %d\n", &item, &worker) == 2 &&
             strchr(line, '\n') == line + strlen(line) - 1 && strstr(line, " INFO Process-");
  }
  if (f) {
    fseek(f, 0, SEEK_SET);
    if (fgets(line, sizeof line, f))
      printf("  first line: %s", line);
    fclose(f);
  }
  printf("  %d lines, %d of them whole records\n", lines, whole);
  ok = ok && lines == 4000 && whole == 4000;
  unlink(path);
  shoal_logger_destroy(lg);
  puts(ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
