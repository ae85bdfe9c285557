// SPDX-License-Identifier: MIT
// SharedMemory: Python's _TestSharedMemory behaviours in C terms (names,
// sizes, attach by name, errors), the tracker (a dead creator's segments go,
// persistent ones and attached ones stay), shoal_shm_list, bad input.
// Interoperability with the real python3 is in test_shm_python.c.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_spawn.h"
#include "support.h"

static bool shm_exists(const char *name)
{
  char path[300];
  snprintf(path, sizeof path, "/dev/shm/%.250s", name);
  return access(path, F_OK) == 0;
}

/* Waits up to ms for name to disappear; true when it did. */
static bool gone_within(const char *name, int ms)
{
  for (int waited = 0; waited < ms; waited += 10) {
    if (!shm_exists(name))
      return true;
    sh_sleep_ms(10);
  }
  return !shm_exists(name);
}

/* Counts the tracker's records that mention name. */
static int records_of(const char *name)
{
  char cmd[400];
  snprintf(cmd, sizeof cmd, "ls -a /dev/shm | grep -c '^\\.shoal-shm\\.[0-9]*\\.%.250s$'", name);
  FILE *f = popen(cmd, "r");
  int n = -1;
  cr_assert(f);
  cr_assert(fscanf(f, "%d", &n) == 1);
  pclose(f);
  return n;
}

/* Finds name in shoal_shm_list; fills *info and returns true when listed. */
static bool listed(const char *name, shoal_shm_info *info)
{
  shoal_shm_info all[256];
  int n = shoal_shm_list(all, 256);
  cr_assert(n >= 0, "shoal_shm_list: %s", shoal_err_name(n));
  for (int i = 0; i < n && i < 256; i++)
    if (!strcmp(all[i].name, name)) {
      if (info)
        *info = all[i];
      return true;
    }
  return false;
}

/* ---- create, attach, close, unlink ------------------------------------------ */

SH_TEST(shm, create_attach_see_the_same_bytes)
{
  const char *name = sh_name("shm");
  shoal_shm *a, *b;
  SH_ASSERT_OK(shoal_shm_create(&a, name, 100, NULL));
  cr_assert_str_eq(shoal_shm_name(a), name);
  cr_assert_eq(shoal_shm_size(a), 100);
  unsigned char *p = shoal_shm_buf(a);
  for (int i = 0; i < 100; i++)
    cr_assert_eq(p[i], 0, "not zero-filled at %d", i);
  memcpy(p, "howdy", 5);
  /* Python: attaching with another size ignores the size; ours takes none. */
  SH_ASSERT_OK(shoal_shm_attach(&b, name, NULL));
  cr_assert_eq(shoal_shm_size(b), 100);
  cr_assert(shoal_shm_buf(b) != shoal_shm_buf(a));
  cr_assert(memcmp(shoal_shm_buf(b), "howdy", 5) == 0);
  ((char *)shoal_shm_buf(b))[99] = 'z';
  cr_assert_eq(p[99], 'z');
  shoal_shm_close(b);
  /* The file is exactly what Python makes: mode 0600, exactly 100 bytes. */
  char path[300];
  struct stat st;
  snprintf(path, sizeof path, "/dev/shm/%.250s", name);
  cr_assert(stat(path, &st) == 0);
  cr_assert_eq(st.st_mode & 07777, 0600);
  cr_assert_eq(st.st_size, 100);
  SH_ASSERT_OK(shoal_shm_unlink(a));
  cr_assert(!shm_exists(name));
  SH_ASSERT_ERR(shoal_shm_unlink(a), SHOAL_ENOENT); /* a second unlink */
  cr_assert_eq(p[99], 'z');                         /* the mapping stays valid */
  shoal_shm_close(a);
  SH_ASSERT_ERR(shoal_shm_attach(&b, name, NULL), SHOAL_ENOENT);
}

SH_TEST(shm, leading_slash_is_python_naming)
{
  const char *name = sh_name("slash");
  char slashed[300];
  shoal_shm *a, *b;
  snprintf(slashed, sizeof slashed, "/%.250s", name);
  SH_ASSERT_OK(shoal_shm_create(&a, slashed, 10, NULL));
  cr_assert_str_eq(shoal_shm_name(a), name); /* .name has no slash */
  cr_assert(shm_exists(name));
  SH_ASSERT_OK(shoal_shm_attach(&b, name, NULL));
  shoal_shm_close(b);
  SH_ASSERT_OK(shoal_shm_attach(&b, slashed, NULL));
  shoal_shm_close(b);
  SH_ASSERT_OK(shoal_shm_unlink(a));
  shoal_shm_close(a);
}

SH_TEST(shm, generated_names_are_pythons)
{
  shoal_shm *a, *b;
  SH_ASSERT_OK(shoal_shm_create(&a, NULL, 16, NULL));
  SH_ASSERT_OK(shoal_shm_create(&b, NULL, 16, NULL));
  const char *n = shoal_shm_name(a);
  cr_assert_eq(strlen(n), 12, "%s", n);
  cr_assert(!strncmp(n, "psm_", 4), "%s", n);
  cr_assert_eq(strspn(n + 4, "0123456789abcdef"), 8, "%s", n);
  cr_assert_str_neq(n, shoal_shm_name(b));
  cr_assert(shm_exists(n));
  SH_ASSERT_OK(shoal_shm_unlink(a));
  SH_ASSERT_OK(shoal_shm_unlink(b));
  shoal_shm_close(a);
  shoal_shm_close(b);
}

SH_TEST(shm, create_of_an_existing_name)
{
  const char *name = sh_name("exists");
  shoal_shm *a, *b = (shoal_shm *)0x1;
  SH_ASSERT_OK(shoal_shm_create(&a, name, 8, NULL));
  SH_ASSERT_ERR(shoal_shm_create(&b, name, 8, NULL), SHOAL_EEXIST);
  cr_assert_eq(records_of(name), 1); /* the failed create left no record */
  SH_ASSERT_OK(shoal_shm_unlink(a));
  cr_assert_eq(records_of(name), 0);
  shoal_shm_close(a);
}

SH_TEST(shm, bad_names_and_sizes)
{
  shoal_shm *s;
  char long_name[SHOAL_NAME_MAX + 2];
  memset(long_name, 'x', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  const char *bad[] = {"", "/", "a/b", "/a/b", ".", "..", ".shoal-shm.1.x", ".shoal-x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    SH_ASSERT_ERR(shoal_shm_create(&s, bad[i], 8, NULL), SHOAL_EINVAL);
    SH_ASSERT_ERR(shoal_shm_attach(&s, bad[i], NULL), SHOAL_EINVAL);
  }
  SH_ASSERT_ERR(shoal_shm_create(&s, long_name, 8, NULL), SHOAL_ENAMETOOLONG);
  SH_ASSERT_ERR(shoal_shm_attach(&s, long_name, NULL), SHOAL_ENAMETOOLONG);
  /* A NUL inside a counted name (Python: ValueError "embedded null"). */
  shoal_shm_opts counted = {.name_len = 7};
  SH_ASSERT_ERR(shoal_shm_create(&s, "abc\0def", 8, &counted), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_shm_attach(&s, "abc\0def", &counted), SHOAL_EINVAL);
  /* size <= 0 (Python: ValueError); size_t has no negatives. */
  SH_ASSERT_ERR(shoal_shm_create(&s, sh_name("zero"), 0, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_shm_create(&s, NULL, 0, NULL), SHOAL_EINVAL);
  /* Attaching without a name. */
  SH_ASSERT_ERR(shoal_shm_attach(&s, NULL, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_shm_create(NULL, NULL, 8, NULL), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_shm_attach(NULL, "x", NULL), SHOAL_EINVAL);
  /* Options. */
  SH_ASSERT_ERR(shoal_shm_create(&s, NULL, 8, &(shoal_shm_opts){.flags = 4}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_shm_create(&s, NULL, 8, &(shoal_shm_opts){.mode = 010000}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_shm_create(&s, NULL, 8, &(shoal_shm_opts){.reserved[0] = 1}), SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_shm_attach(&s, "x", &(shoal_shm_opts){.flags = SHOAL_SHM_PERSISTENT}),
                SHOAL_EINVAL);
  SH_ASSERT_ERR(shoal_shm_attach(&s, "x", &(shoal_shm_opts){.mode = 0644}), SHOAL_EINVAL);
  /* NULL handles. */
  SH_ASSERT_ERR(shoal_shm_unlink(NULL), SHOAL_EINVAL);
  cr_assert(shoal_shm_name(NULL) == NULL);
  cr_assert(shoal_shm_buf(NULL) == NULL);
  cr_assert_eq(shoal_shm_size(NULL), 0);
  shoal_shm_close(NULL);
  SH_ASSERT_ERR(shoal_shm_list(NULL, 1), SHOAL_EINVAL);
}

SH_TEST(shm, counted_name_and_mode)
{
  const char *name = sh_name("counted");
  char buf[300];
  shoal_shm *s, *t;
  /* name_len takes a prefix of a longer buffer. */
  snprintf(buf, sizeof buf, "%.250sGARBAGE", name);
  SH_ASSERT_OK(
      shoal_shm_create(&s, buf, 8, &(shoal_shm_opts){.name_len = strlen(name), .mode = 0640}));
  cr_assert_str_eq(shoal_shm_name(s), name);
  struct stat st;
  snprintf(buf, sizeof buf, "/dev/shm/%.250s", name);
  cr_assert(stat(buf, &st) == 0);
  cr_assert_eq(st.st_mode & 07777, 0640);
  SH_ASSERT_OK(shoal_shm_attach(&t, name, NULL));
  shoal_shm_close(t);
  SH_ASSERT_OK(shoal_shm_unlink(s));
  shoal_shm_close(s);
}

SH_TEST(shm, attach_refuses_an_empty_or_odd_object)
{
  const char *name = sh_name("empty");
  char path[300];
  shoal_shm *s;
  snprintf(path, sizeof path, "/dev/shm/%.250s", name);
  int fd = open(path, O_CREAT | O_RDWR, 0600);
  cr_assert(fd >= 0);
  close(fd);
  SH_ASSERT_ERR(shoal_shm_attach(&s, name, NULL), SHOAL_ECORRUPT);
}

static const char *child_name;

static int child_attaches_and_writes(void *arg)
{
  shoal_shm *s;
  (void)arg;
  if (shoal_shm_attach(&s, child_name, NULL) != 0)
    return 1;
  int ok = memcmp(shoal_shm_buf(s), "parent", 6) == 0;
  memcpy(shoal_shm_buf(s), "child!", 6);
  shoal_shm_close(s);
  return ok ? 0 : 2;
}

SH_TEST(shm_fork, child_attaches_by_name)
{
  shoal_shm *s;
  child_name = sh_name("child");
  SH_ASSERT_OK(shoal_shm_create(&s, child_name, 4096, NULL));
  memcpy(shoal_shm_buf(s), "parent", 6);
  cr_assert_eq(sh_wait(sh_fork(child_attaches_and_writes, NULL), 5000), 0);
  cr_assert(memcmp(shoal_shm_buf(s), "child!", 6) == 0);
  /* The child only attached: its exit unlinked nothing. */
  cr_assert(shm_exists(child_name));
  SH_ASSERT_OK(shoal_shm_unlink(s));
  shoal_shm_close(s);
}

static int child_creates_and_exits(void *arg)
{
  shoal_shm *s;
  (void)arg;
  return shoal_shm_create(&s, child_name, 64, NULL) != 0;
}

SH_TEST(shm_fork, forked_child_is_a_creator_of_its_own)
{
  shoal_shm *mine;
  const char *parent_name = sh_name("parent");
  child_name = sh_name("childmade");
  SH_ASSERT_OK(shoal_shm_create(&mine, parent_name, 64, NULL));
  cr_assert_eq(sh_wait(sh_fork(child_creates_and_exits, NULL), 5000), 0);
  /* The child's own watcher removes the child's segment when it ends. */
  cr_assert(gone_within(child_name, 5000), "the exited child's segment stayed");
  cr_assert(shm_exists(parent_name), "the parent's segment went with the child");
  SH_ASSERT_OK(shoal_shm_unlink(mine));
  shoal_shm_close(mine);
}

/* ---- the tracker --------------------------------------------------------------- */

/* A helper creates a segment and dies of sig; the segment must go. */
static void creator_dies_of(int sig)
{
  const char *name = sh_name("killed");
  char line[300];
  int fd;
  pid_t p = shared_helper(&fd, "shm-create", name, "4096");
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_str_eq(line, name);
  cr_assert(shm_exists(name));
  cr_assert_eq(records_of(name), 1);
  shoal_shm_info info;
  cr_assert(listed(name, &info));
  cr_assert_eq(info.owner_pid, (uint32_t)p);
  cr_assert_eq(info.owner_alive, 1);
  cr_assert_eq(info.persistent, 0);
  cr_assert_eq(info.size, 4096);
  kill(p, sig);
  cr_assert_eq(sh_wait(p, 5000), 128 + sig);
  cr_assert(gone_within(name, 5000), "the creator's segment is still there after signal %d", sig);
  cr_assert_eq(records_of(name), 0);
  cr_assert(!listed(name, NULL));
  close(fd);
}

SH_TEST(shm_tracker, segments_of_a_killed_creator_are_removed)
{
  creator_dies_of(SIGKILL);
}

SH_TEST(shm_tracker, segments_of_a_terminated_creator_are_removed)
{
  creator_dies_of(SIGTERM);
}

SH_TEST(shm_tracker, generated_segment_of_a_killed_creator_is_removed)
{
  char line[300];
  int fd;
  pid_t p = shared_helper(&fd, "shm-create", "-", "100");
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert(!strncmp(line, "psm_", 4), "%s", line);
  cr_assert(shm_exists(line));
  kill(p, SIGKILL);
  sh_wait(p, 5000);
  cr_assert(gone_within(line, 5000));
  close(fd);
}

SH_TEST(shm_tracker, a_clean_exit_without_unlink_removes_too)
{
  const char *name = sh_name("exited");
  char line[300];
  int fd;
  pid_t p = shared_helper(&fd, "shm-create", name, "-64");
  sh_read_line(fd, line, sizeof line, 5000);
  cr_assert_eq(sh_wait(p, 5000), 0);
  cr_assert(gone_within(name, 5000));
  close(fd);
}

SH_TEST(shm_tracker, persistent_segment_survives_its_creator)
{
  const char *name = sh_name("persist");
  char line[300];
  int fd;
  shoal_shm *s;
  pid_t p = shared_helper(&fd, "shm-create", name, "64", "p");
  sh_read_line(fd, line, sizeof line, 5000);
  kill(p, SIGKILL);
  cr_assert_eq(sh_wait(p, 5000), 128 + SIGKILL);
  sh_sleep_ms(300); /* the watcher had time to act */
  cr_assert(shm_exists(name));
  shoal_shm_info info;
  cr_assert(listed(name, &info));
  cr_assert_eq(info.persistent, 1);
  cr_assert_eq(info.owner_alive, 0);
  cr_assert_eq(info.owner_pid, (uint32_t)p);
  SH_ASSERT_OK(shoal_shm_attach(&s, name, NULL));
  cr_assert(memcmp(shoal_shm_buf(s), "hello from C", 12) == 0);
  /* Anybody may unlink it; that ends its record too. */
  SH_ASSERT_OK(shoal_shm_unlink(s));
  cr_assert_eq(records_of(name), 0);
  shoal_shm_close(s);
  close(fd);
}

SH_TEST(shm_tracker, a_process_that_only_attached_never_unlinks)
{
  const char *mine = sh_name("attached");
  const char *theirs = sh_name("theirs");
  char line[300];
  int fa, fb;
  shoal_shm *s;
  SH_ASSERT_OK(shoal_shm_create(&s, mine, 64, NULL));
  /* One helper attaches and is killed; another attaches and exits. */
  pid_t a = shared_helper(&fa, "shm-attach", mine);
  sh_read_line(fa, line, sizeof line, 5000);
  cr_assert_str_eq(line, "64");
  pid_t b = shared_helper(&fb, "shm-attach", mine, "exit");
  sh_read_line(fb, line, sizeof line, 5000);
  cr_assert_eq(sh_wait(b, 5000), 0);
  kill(a, SIGKILL);
  sh_wait(a, 5000);
  close(fa);
  close(fb);
  /* A third creates a segment of its own and attaches ours, then is killed:
   * its own goes, ours stays. */
  pid_t c = shared_helper(&fa, "shm-both", theirs, "64", mine);
  sh_read_line(fa, line, sizeof line, 5000);
  cr_assert_str_eq(line, "ready");
  kill(c, SIGKILL);
  sh_wait(c, 5000);
  cr_assert(gone_within(theirs, 5000), "the killed process's own segment stayed");
  sh_sleep_ms(200);
  cr_assert(shm_exists(mine), "a process that only attached unlinked the segment");
  cr_assert_eq(records_of(mine), 1);
  SH_ASSERT_OK(shoal_shm_unlink(s));
  shoal_shm_close(s);
  close(fa);
}

SH_TEST(shm_tracker, unlink_of_a_recreated_name_leaves_the_new_segment)
{
  const char *name = sh_name("recreated");
  shoal_shm *old, *fresh;
  SH_ASSERT_OK(shoal_shm_create(&old, name, 8, NULL));
  SH_ASSERT_OK(shoal_shm_unlink(old));
  SH_ASSERT_OK(shoal_shm_create(&fresh, name, 8, NULL));
  SH_ASSERT_ERR(shoal_shm_unlink(old), SHOAL_ENOENT);
  cr_assert(shm_exists(name));
  cr_assert_eq(records_of(name), 1);
  SH_ASSERT_OK(shoal_shm_unlink(fresh));
  shoal_shm_close(old);
  shoal_shm_close(fresh);
}

SH_TEST(shm_tracker, list_counts_and_truncates)
{
  shoal_shm *s[3];
  const char *names[3] = {sh_name("l0"), sh_name("l1"), sh_name("l2")};
  for (int i = 0; i < 3; i++)
    SH_ASSERT_OK(shoal_shm_create(&s[i], names[i], 10 + (size_t)i, NULL));
  /* Other tests may make and remove segments meanwhile: ours are counted. */
  int n = shoal_shm_list(NULL, 0);
  cr_assert(n >= 3, "%d listed", n);
  shoal_shm_info one;
  cr_assert(shoal_shm_list(&one, 1) >= 3); /* the count, not what fits */
  cr_assert(one.name[0] != '\0' && one.size > 0);
  for (int i = 0; i < 3; i++) {
    shoal_shm_info info;
    cr_assert(listed(names[i], &info));
    cr_assert_eq(info.owner_pid, (uint32_t)getpid());
    cr_assert_eq(info.owner_alive, 1);
    cr_assert_eq(info.size, 10 + (uint64_t)i);
    SH_ASSERT_OK(shoal_shm_unlink(s[i]));
    cr_assert(!listed(names[i], NULL));
    shoal_shm_close(s[i]);
  }
}

SH_TEST(shm_tracker, the_watcher_is_not_a_child)
{
  shoal_shm *s;
  /* Without the test harness's subreaper, the watcher must not be ours. */
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  SH_ASSERT_OK(shoal_shm_create(&s, sh_name("nochild"), 8, NULL));
  errno = 0;
  cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
  cr_assert_eq(errno, ECHILD);
  SH_ASSERT_OK(shoal_shm_unlink(s));
  shoal_shm_close(s);
}

static int create_and_wait(void *arg)
{
  shoal_shm *s;
  (void)arg;
  if (shoal_shm_create(&s, child_name, 64, NULL) != 0)
    return 1;
  for (;;)
    pause();
}

/* Our children other than `except` (the harness makes us their subreaper). */
static pid_t other_child(pid_t except)
{
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
  FILE *f = fopen(path, "r");
  cr_assert(f);
  int pid, found = 0;
  while (fscanf(f, "%d", &pid) == 1)
    if (pid != except)
      found = pid;
  fclose(f);
  return found;
}

SH_TEST(shm_tracker, the_watcher_ignores_interrupts)
{
  child_name = sh_name("sigs");
  pid_t creator = sh_fork(create_and_wait, NULL);
  for (int i = 0; i < 500 && !shm_exists(child_name); i++)
    sh_sleep_ms(10);
  cr_assert(shm_exists(child_name));
  pid_t watcher = 0;
  for (int i = 0; i < 500 && !(watcher = other_child(creator)); i++)
    sh_sleep_ms(10); /* reparented to us once its intermediate parent exits */
  cr_assert(watcher > 0, "no watcher process found");
  kill(watcher, SIGINT);
  kill(watcher, SIGTERM);
  kill(watcher, SIGHUP);
  sh_sleep_ms(100);
  cr_assert_eq(waitpid(watcher, NULL, WNOHANG), 0, "the watcher died of an interrupt");
  kill(creator, SIGKILL);
  cr_assert_eq(sh_wait(creator, 5000), 128 + SIGKILL);
  cr_assert(gone_within(child_name, 5000), "the watcher did not do its job");
  cr_assert_eq(sh_wait(watcher, 5000), 0); /* and then it ended */
}

/* ---- the watcher's own file descriptors and its death ----------------------- */

/* What the creator child of the tests below talks through: it reports on
 * `report`, waits for a byte on `go` before its second create, and (unless
 * -1) sends its stderr to `err`. */
struct creator {
  int report, go, err;
  bool close_stderr;
  const char *names[2];
};

static int creator_main(void *arg)
{
  struct creator *c = arg;
  shoal_shm *s;
  char byte;
  if (c->err >= 0)
    dup2(c->err, STDERR_FILENO);
  /* A daemon, or a program started with <&- >&-: the next descriptors
   * opened are 0 and 1 (and 2). */
  close(STDIN_FILENO);
  close(STDOUT_FILENO);
  if (c->close_stderr)
    close(STDERR_FILENO);
  for (int i = 0; i < 2; i++) {
    if (i > 0 && read(c->go, &byte, 1) != 1)
      return 3;
    if (shoal_shm_create(&s, c->names[i], 64, NULL) != 0)
      return 1;
    if (write(c->report, "x\n", 2) != 2)
      return 2;
  }
  for (;;)
    pause();
}

/* Starts the creator child with its pipes; *out_report and *out_go are ours. */
static pid_t creator_start(struct creator *c, int *out_report, int *out_go, int *out_err)
{
  int r[2], g[2], e[2] = {-1, -1};
  cr_assert(pipe(r) == 0 && pipe(g) == 0);
  if (out_err)
    cr_assert(pipe(e) == 0);
  c->report = r[1];
  c->go = g[0];
  c->err = e[1];
  pid_t p = sh_fork(creator_main, c);
  close(r[1]);
  close(g[0]);
  if (e[1] >= 0)
    close(e[1]);
  *out_report = r[0];
  *out_go = g[1];
  if (out_err)
    *out_err = e[0];
  return p;
}

static bool readable_now(int fd)
{
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

/* With stdin and stdout closed the owner's pidfd was fd 0, which the watcher
 * pointed at /dev/null: it swept at once, under a live owner (unlinking its
 * segment and printing the "died" warning), and was gone when the owner was
 * killed. */
static void creator_with_closed_std_fds(bool close_stderr)
{
  char line[16];
  int report, go, err = -1;
  struct creator c = {.close_stderr = close_stderr,
                      .names = {sh_name("nostd-a"), sh_name("nostd-b")}};
  pid_t p = creator_start(&c, &report, &go, close_stderr ? NULL : &err);
  sh_read_line(report, line, sizeof line, 5000);
  cr_assert(write(go, "g", 1) == 1);
  sh_read_line(report, line, sizeof line, 5000);
  sh_sleep_ms(300); /* a watcher that thinks its owner died has acted by now */
  cr_assert(shm_exists(c.names[0]), "the segment of a live creator was unlinked");
  cr_assert(shm_exists(c.names[1]), "the segment of a live creator was unlinked");
  if (err >= 0)
    cr_assert(!readable_now(err), "the watcher reported a live creator dead");
  kill(p, SIGKILL);
  cr_assert_eq(sh_wait(p, 5000), 128 + SIGKILL);
  cr_assert(gone_within(c.names[0], 5000), "the killed creator's segment stayed");
  cr_assert(gone_within(c.names[1], 5000), "the killed creator's segment stayed");
  cr_assert_eq(records_of(c.names[0]), 0);
  if (err >= 0) {
    cr_assert(readable_now(err), "no warning about the leaked segments");
    close(err);
  }
  close(report);
  close(go);
}

SH_TEST(shm_tracker, a_creator_without_stdin_and_stdout_is_watched)
{
  creator_with_closed_std_fds(false);
}

SH_TEST(shm_tracker, a_creator_without_any_std_fd_is_watched)
{
  creator_with_closed_std_fds(true);
}

/* A watcher that ends (killed, here) is replaced by the creator's next
 * create, and the new one covers the segments made before it too. */
SH_TEST(shm_tracker, a_dead_watcher_is_replaced_by_the_next_create)
{
  char line[16];
  int report, go;
  struct creator c = {.names = {sh_name("rewatch-a"), sh_name("rewatch-b")}};
  pid_t p = creator_start(&c, &report, &go, NULL);
  sh_read_line(report, line, sizeof line, 5000);
  pid_t watcher = 0;
  for (int i = 0; i < 500 && !(watcher = other_child(p)); i++)
    sh_sleep_ms(10); /* reparented to us once its intermediate parent exits */
  cr_assert(watcher > 0, "no watcher process found");
  kill(watcher, SIGKILL);
  cr_assert_eq(sh_wait(watcher, 5000), 128 + SIGKILL);
  cr_assert(write(go, "g", 1) == 1);
  sh_read_line(report, line, sizeof line, 5000);
  kill(p, SIGKILL);
  cr_assert_eq(sh_wait(p, 5000), 128 + SIGKILL);
  cr_assert(gone_within(c.names[1], 5000), "the segment made after the watcher died stayed");
  cr_assert(gone_within(c.names[0], 5000), "the segment made before the watcher died stayed");
  close(report);
  close(go);
}
