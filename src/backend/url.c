// SPDX-License-Identifier: MIT
// Queue locations: shoal_queue_open("scheme://...") lands here and goes to
// the backend that serves the scheme.  Names without "://" never come here:
// they are shared-memory queues (src/queue/).
#include <string.h>

#include "queue/queue_internal.h"
#include "shoal/backend.h"

int shoal__backend_open(shoal_queue **out, const char *url, const shoal_queue_opts *opts,
                        const shoal_open_opts *oopts)
{
  if (strncmp(url, "file://", 7) == 0)
    return shoal_fileq_open(out, url, opts, NULL, oopts);
  return SHOAL_EINVAL;
}
