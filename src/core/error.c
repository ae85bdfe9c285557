// SPDX-License-Identifier: MIT
// shoal_strerror and shoal_err_name, generated from the one table in
// shoal/common.h, and shoal_free.
#include <stdlib.h>
#include <string.h>

#include "shoal/common.h"

const char *shoal_strerror(int err)
{
  if (err >= 0)
    return "success";
  switch (err) {
#define ERRNO_MSG(e, s)                                                                            \
  case SHOAL_##e:                                                                                  \
    return s;
    SHOAL_ERRNO_MAP(ERRNO_MSG)
#undef ERRNO_MSG
#define LIB_MSG(e, v, s)                                                                           \
  case SHOAL_##e:                                                                                  \
    return s;
    SHOAL_LIBERR_MAP(LIB_MSG)
#undef LIB_MSG
  }
  if (err < 0 && err > -4096)
    return strerror(-err);
  return "unknown error";
}

const char *shoal_err_name(int err)
{
  switch (err) {
  case 0:
    return "SHOAL_OK";
#define ERRNO_NAME(e, s)                                                                           \
  case SHOAL_##e:                                                                                  \
    return "SHOAL_" #e;
    SHOAL_ERRNO_MAP(ERRNO_NAME)
#undef ERRNO_NAME
#define LIB_NAME(e, v, s)                                                                          \
  case SHOAL_##e:                                                                                  \
    return "SHOAL_" #e;
    SHOAL_LIBERR_MAP(LIB_NAME)
#undef LIB_NAME
  }
  return "SHOAL_E?";
}

void shoal_free(void *p)
{
  free(p);
}
