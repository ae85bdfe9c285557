// SPDX-License-Identifier: MIT
// The spawn start method: a table of targets registered by name
// (SHOAL_ENTRY), the parent's fork+exec of the program itself, and the
// child's way in (shoal_spawn_main).  The child finds everything in a shared
// status block (a memfd) whose fd (never 0-2) and parent pid are named by the
// SHOAL_SPAWN environment variable: "fd:parent_pid".  A program that finds
// the variable but not a status block to match ends with status 127: running
// main() instead would make it another parent, and its own spawn children
// would do the same, without end.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/name_table.h"
#include "process/internal.h"

extern char **environ;

SHOAL__NAME_TABLE(targets, struct shoal_entry,
                  sizeof((struct shoal__proc_status *)0)->entry)

int shoal_entry_register(struct shoal_entry *e)
{
  return targets_add(e);
}

const struct shoal_entry *shoal__entry_find(const char *name)
{
  return targets_find(name);
}

const struct shoal_entry *shoal__entry_of(shoal_process_target fn)
{
  return targets_of(fn);
}

static int cmp_int(const void *a, const void *b)
{
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

int shoal__spawn_start(shoal_process *p, int st_fd)
{
  size_t n_env = 0;
  while (environ && environ[n_env])
    n_env++;
  char **envp = malloc((n_env + 2) * sizeof *envp);
  int *keep = malloc((size_t)(p->n_pass_fds + 1) * sizeof *keep);
  if (!envp || !keep) {
    free(envp);
    free(keep);
    return SHOAL_ENOMEM;
  }
  char var[64];
  snprintf(var, sizeof var, SHOAL__SPAWN_ENV "=%d:%d", st_fd, (int)getpid());
  size_t k = 0;
  for (size_t i = 0; i < n_env; i++)
    if (strncmp(environ[i], SHOAL__SPAWN_ENV "=", sizeof SHOAL__SPAWN_ENV))
      envp[k++] = environ[i];
  envp[k++] = var;
  envp[k] = NULL;
  if (p->n_pass_fds)
    memcpy(keep, p->pass_fds, (size_t)p->n_pass_fds * sizeof *keep);
  keep[p->n_pass_fds] = st_fd;
  qsort(keep, (size_t)p->n_pass_fds + 1, sizeof *keep, cmp_int);
  char *argv[] = {program_invocation_name, NULL};
  struct shoal__plat_spawn sp = {argv, envp, keep, p->n_pass_fds + 1};
  int pid = shoal__plat_spawn(&sp);
  free(envp);
  free(keep);
  return pid;
}

bool shoal__spawn_pending(void)
{
  return getenv(SHOAL__SPAWN_ENV) != NULL;
}

/* A spawn child that cannot find its status block: it must not run main(). */
static __attribute__((noreturn)) void lost(const char *v)
{
  char msg[256];
  int n = snprintf(msg, sizeof msg,
                   "shoal: %s: " SHOAL__SPAWN_ENV "=%.64s names no status block from this "
                   "process's parent; a spawn child that cannot find its target ends here "
                   "(exit status 127)\n",
                   program_invocation_short_name, v);
  if (n > 0 && write(STDERR_FILENO, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1)) {
    /* stderr may be closed: nothing more to do */
  }
  _exit(127);
}

int shoal_spawn_main(void)
{
  const char *v = getenv(SHOAL__SPAWN_ENV);
  int fd, ppid;
  char end;
  if (!v)
    return 0;
  /* The target may run from a constructor (SHOAL_SPAWN_MAIN_CONSTRUCTOR):
   * make sure shoal's own set-up has run first. */
  shoal__process_init();
  shoal__thread_init();
  /* Only a well-formed variable naming a status block we made counts. */
  struct shoal__proc_status *st = NULL;
  size_t size = 0;
  if (sscanf(v, "%d:%d%c", &fd, &ppid, &end) != 2 || fd <= 2 ||
      shoal__plat_map_fd(fd, (void **)&st, &size) != 0)
    lost(v);
  if (size < sizeof *st || st->magic != SHOAL__STATUS_MAGIC || st->parent_pid != ppid ||
      st->args_len > size - sizeof *st)
    lost(v);
  close(fd);
  unsetenv(SHOAL__SPAWN_ENV);
  st->entry[sizeof st->entry - 1] = '\0';
  st->name[sizeof st->name - 1] = '\0';
  st->identity[sizeof st->identity - 1] = '\0';
  st->parent_name[sizeof st->parent_name - 1] = '\0';
  shoal__self_become_child(st, ppid);
  const struct shoal_entry *e = shoal__entry_find(st->entry);
  if (!e)
    shoal_process_fail("no target named \"%s\" is registered with SHOAL_ENTRY in %s", st->entry,
                       program_invocation_name);
  shoal__child_run(e->fn, st->args_len ? (void *)(st + 1) : NULL, st->args_len);
}
