// SPDX-License-Identifier: MIT
// Named pipes: mkfifo, framed messages between unrelated processes (the
// conn_helper binary), EOF, several writers, waiting for a reader.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"



static char path[128];

static void make_fifo(void)
{
  snprintf(path, sizeof path, "/tmp/shoal-test-%d.fifo", (int)getpid());
  unlink(path);
  SH_ASSERT_OK(shoal_fifo_create(path, 0));
}

/* Starts conn_helper with three arguments, its stdout on a pipe (*out). */
static pid_t helper(int *out, const char *a, const char *b, const char *c)
{
  return sh_spawn(out, "conn_helper", a, b, c, NULL);
}

SH_TEST(fifo, create_modes_and_errors)
{
  make_fifo();
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert(S_ISFIFO(st.st_mode));
  cr_assert_eq(st.st_mode & 0777, 0600);
  SH_ASSERT_ERR(shoal_fifo_create(path, 0), SHOAL_EEXIST);
  unlink(path);
  SH_ASSERT_OK(shoal_fifo_create(path, 0640));
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0640);
  unlink(path);
  SH_ASSERT_ERR(shoal_fifo_create("/nonexistent/dir/f", 0), SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal_fifo_create(NULL, 0), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_fifo_create("", 0), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_fifo_create(path, 01777), SHOAL_EINVAL);
  shoal_conn *c;
  SH_ASSERT_ERR(shoal_fifo_open(&c, path, SHOAL_FIFO_READ, NULL, SHOAL_NOWAIT), SHOAL_ENOENT);
  SH_ASSERT_ERR(shoal_fifo_open(&c, "/etc/hostname", SHOAL_FIFO_READ, NULL, SHOAL_NOWAIT),
                SHOAL_ETYPE);
  SH_ASSERT_ERR(shoal_fifo_open(&c, "/etc/hostname", SHOAL_FIFO_WRITE, NULL, SHOAL_NOWAIT),
                SHOAL_ETYPE);
  make_fifo();
  SH_ASSERT_ERR(shoal_fifo_open(&c, path, 0, NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_fifo_open(&c, path, SHOAL_FIFO_READ | SHOAL_FIFO_WRITE, NULL, SHOAL_NOWAIT),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_fifo_open(NULL, path, SHOAL_FIFO_READ, NULL, SHOAL_NOWAIT), SHOAL_EINVAL);
  unlink(path);
}

SH_TEST(fifo, writer_waits_for_a_reader)
{
  make_fifo();
  shoal_conn *w, *r;
  uint64_t t0 = sh_now();
  SH_ASSERT_ERR(shoal_fifo_open(&w, path, SHOAL_FIFO_WRITE, NULL, SHOAL_NOWAIT), SHOAL_EAGAIN);
  SH_ASSERT_QUICK(t0);
  t0 = sh_now();
  SH_ASSERT_ERR(shoal_fifo_open(&w, path, SHOAL_FIFO_WRITE, NULL, SHOAL_MSEC(100)),
                SHOAL_ETIMEDOUT);
  SH_ASSERT_TOOK(t0, SHOAL_MSEC(100));
  /* A reader opens at once; before any writer came it just has nothing. */
  SH_ASSERT_OK(shoal_fifo_open(&r, path, SHOAL_FIFO_READ, NULL, SHOAL_NOWAIT));
  cr_assert_eq(shoal_conn_writable(r), 0);
  SH_ASSERT_ERR(shoal_conn_poll(r, SHOAL_MSEC(50)), SHOAL_ETIMEDOUT);
  char buf[16];
  size_t n;
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(r, buf, sizeof buf, 0, &n, SHOAL_MSEC(50)),
                SHOAL_ETIMEDOUT);
  SH_ASSERT_OK(shoal_fifo_open(&w, path, SHOAL_FIFO_WRITE, NULL, SHOAL_SEC(1)));
  cr_assert_eq(shoal_conn_readable(w), 0);
  SH_ASSERT_OK(shoal_conn_send_bytes(w, "framed", 6, SHOAL_SEC(1)));
  SH_ASSERT_OK(shoal_conn_send_bytes(w, NULL, 0, SHOAL_SEC(1)));
  SH_ASSERT_OK(shoal_conn_recv_bytes_into(r, buf, sizeof buf, 0, &n, SHOAL_SEC(1)));
  cr_assert(n == 6 && memcmp(buf, "framed", 6) == 0);
  SH_ASSERT_OK(shoal_conn_recv_bytes_into(r, buf, sizeof buf, 0, &n, SHOAL_SEC(1)));
  cr_assert_eq(n, 0);
  shoal_conn_close(w);
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(r, buf, sizeof buf, 0, &n, SHOAL_SEC(1)), SHOAL_EEOF);
  shoal_conn_close(r);
  unlink(path);
}

SH_TEST(fifo, unrelated_processes_and_reader_gone)
{
  make_fifo();
  /* An unrelated writer process sends 50 numbered messages. */
  int out;
  pid_t pid = helper(&out, "fifo-write", path, "50");
  shoal_conn *r;
  SH_ASSERT_OK(shoal_fifo_open(&r, path, SHOAL_FIFO_READ, NULL, SHOAL_SEC(5)));
  for (int i = 0; i < 50; i++) {
    char buf[32], want[32];
    size_t n;
    int wl = snprintf(want, sizeof want, "message %d", i);
    SH_ASSERT_OK(shoal_conn_recv_bytes_into(r, buf, sizeof buf, 0, &n, SHOAL_SEC(5)));
    cr_assert(n == (size_t)wl && memcmp(buf, want, n) == 0, "message %d", i);
  }
  char line[64];
  sh_read_line(out, line, sizeof line, 10000);
  cr_assert_str_eq(line, "SHOAL_OK");
  cr_assert_eq(sh_wait(pid, 10000), 0);
  char buf[4];
  size_t n;
  SH_ASSERT_ERR(shoal_conn_recv_bytes_into(r, buf, sizeof buf, 0, &n, SHOAL_SEC(1)), SHOAL_EEOF);
  close(out);
  /* The other way: an unrelated reader, and a writer whose reader left. */
  signal(SIGPIPE, SIG_DFL);
  pid = helper(&out, "fifo-read", path, "1");
  shoal_conn *w;
  SH_ASSERT_OK(shoal_fifo_open(&w, path, SHOAL_FIFO_WRITE, NULL, SHOAL_SEC(5)));
  SH_ASSERT_OK(shoal_conn_send_bytes(w, "to helper", 9, SHOAL_SEC(5)));
  sh_read_line(out, line, sizeof line, 10000);
  cr_assert_str_eq(line, "to helper");
  cr_assert_eq(sh_wait(pid, 10000), 0);
  shoal_conn_close(r); /* no reader left at all */
  SH_ASSERT_ERR(shoal_conn_send_bytes(w, "nobody", 6, SHOAL_SEC(1)), SHOAL_EPIPE);
  shoal_conn_close(w);
  close(out);
  unlink(path);
}

SH_TEST(fifo, several_writers_keep_messages_whole)
{
  make_fifo();
  shoal_conn *r;
  SH_ASSERT_OK(shoal_fifo_open(&r, path, SHOAL_FIFO_READ, NULL, SHOAL_NOWAIT));
  /* Keep a write end of our own open: otherwise the reader sees end of file
   * whenever one writer has finished before the next one opened the FIFO. */
  shoal_conn *keep;
  SH_ASSERT_OK(shoal_fifo_open(&keep, path, SHOAL_FIFO_WRITE, NULL, SHOAL_SEC(5)));
  enum { WRITERS = 3, EACH = 200 };
  pid_t pids[WRITERS];
  int outs[WRITERS];
  for (int i = 0; i < WRITERS; i++)
    pids[i] = helper(&outs[i], "fifo-write-big", path, i == 0 ? "0" : i == 1 ? "1" : "2");
  /* Each writer sends EACH messages of 4000 bytes of its own digit. */
  int count[WRITERS] = {0};
  static char buf[4096];
  for (int k = 0; k < WRITERS * EACH; k++) {
    size_t n;
    SH_ASSERT_OK(shoal_conn_recv_bytes_into(r, buf, sizeof buf, 0, &n, SHOAL_SEC(10)));
    cr_assert_eq(n, 4000);
    int who = buf[0] - '0';
    cr_assert(who >= 0 && who < WRITERS);
    for (size_t j = 0; j < n; j++)
      cr_assert_eq(buf[j], buf[0], "message %d mixes writers at byte %zu", k, j);
    count[who]++;
  }
  for (int i = 0; i < WRITERS; i++) {
    cr_assert_eq(count[i], EACH);
    cr_assert_eq(sh_wait(pids[i], 10000), 0);
    close(outs[i]);
  }
  shoal_conn_close(keep);
  shoal_conn_close(r);
  unlink(path);
}
