// SPDX-License-Identifier: MIT
// helper_spawn.h: starts test/shared/shared_helper (an unrelated process) and
// python3, with stdout on a pipe, for the shared-module tests.
#ifndef SHOAL_TEST_SHARED_HELPER_SPAWN_H
#define SHOAL_TEST_SHARED_HELPER_SPAWN_H

#include "support.h"

#define SHARED_HELPER SHOAL_TEST_BIN_DIR "/shared_helper"

// shared_helper runs the shared_helper binary with up to 8 arguments (NULL
// ended); see shared_helper.c for its commands.
#define shared_helper(out_fd, ...)                                                                 \
  sh_spawn_argv(out_fd, (const char *const[]){SHARED_HELPER, __VA_ARGS__, NULL})

// run_python runs `python3 -c script` with up to 8 arguments (sys.argv[1:]).
#define run_python(out_fd, script, ...)                                                            \
  sh_spawn_argv(out_fd, (const char *const[]){"python3", "-c", script, ##__VA_ARGS__, NULL})

#endif
