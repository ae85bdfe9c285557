// SPDX-License-Identifier: MIT
// helper_spawn.h: starts test/shared/shared_helper (an unrelated process) and
// python3, with stdout on a pipe, for the shared-module tests.
#ifndef SHOAL_TEST_SHARED_HELPER_SPAWN_H
#define SHOAL_TEST_SHARED_HELPER_SPAWN_H

#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

#define SHARED_HELPER SHOAL_TEST_BIN_DIR "/shared_helper"

extern char **environ;

// spawn_argv starts argv[0] (searched on PATH) with stdout on a pipe whose
// read end goes to *out_fd (closed when out_fd is NULL); returns the pid.
static inline pid_t spawn_argv(int *out_fd, const char *const *argv)
{
  int fds[2];
  cr_assert(pipe2(fds, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  cr_assert(rc == 0, "spawn %s: %s", argv[0], strerror(rc));
  close(fds[1]);
  if (out_fd)
    *out_fd = fds[0];
  else
    close(fds[0]);
  return pid;
}

// shared_helper runs the shared_helper binary with up to 8 arguments (NULL
// ended); see shared_helper.c for its commands.
#define shared_helper(out_fd, ...)                                                                 \
  spawn_argv(out_fd, (const char *const[]){SHARED_HELPER, __VA_ARGS__, NULL})

// run_python runs `python3 -c script` with up to 8 arguments (sys.argv[1:]).
#define run_python(out_fd, script, ...)                                                            \
  spawn_argv(out_fd, (const char *const[]){"python3", "-c", script, ##__VA_ARGS__, NULL})

#endif
