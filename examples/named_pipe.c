// SPDX-License-Identifier: MIT
// Scenario 13: a named pipe (mkfifo) between two processes.  The FIFO keeps
// message boundaries here: each send arrives as one message.
//
//   os.mkfifo('/tmp/myfifo')
//   writer: with open('/tmp/myfifo', 'w') as f: f.write('Hello')
//   reader: with open('/tmp/myfifo') as f: print(f.read())
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shoal.h>

int main(void)
{
  char path[64];
  snprintf(path, sizeof path, "/tmp/shoal-example-%d.fifo", (int)getpid());
  int rc = shoal_fifo_create(path, 0600);
  if (rc) {
    fprintf(stderr, "FAIL: mkfifo %s: %s\n", path, shoal_strerror(rc));
    return 1;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    /* The writer: waits (up to 5 s) for a reader to open the FIFO. */
    shoal_conn *w;
    if (shoal_fifo_open(&w, path, SHOAL_FIFO_WRITE, NULL, SHOAL_SEC(5)))
      _exit(1);
    const char *lines[] = {"Hello through a named pipe", "second message", ""};
    for (int i = 0; i < 3; i++)
      if (shoal_conn_send_bytes(w, lines[i], strlen(lines[i]), SHOAL_SEC(5)))
        _exit(2);
    shoal_conn_close(w); /* the reader then sees EOF */
    fflush(stdout);
    _exit(0);
  }
  shoal_conn *r;
  rc = shoal_fifo_open(&r, path, SHOAL_FIFO_READ, NULL, SHOAL_SEC(5));
  int got = 0;
  while (rc == 0) {
    char buf[128];
    size_t n;
    rc = shoal_conn_recv_bytes_into(r, buf, sizeof buf, 0, &n, SHOAL_SEC(5));
    if (rc == 0)
      printf("reader: message %d: \"%.*s\" (%zu bytes)\n", ++got, (int)n, buf, n);
  }
  printf("reader: %s after %d messages\n", shoal_err_name(rc), got);
  shoal_conn_close(r);
  int status;
  waitpid(pid, &status, 0);
  unlink(path);
  if (rc != SHOAL_EEOF || got != 3 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "FAIL: expected 3 messages then EOF\n");
    return 1;
  }
  printf("named pipe: ok\n");
  return 0;
}
