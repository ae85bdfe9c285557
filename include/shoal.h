// SPDX-License-Identifier: MIT
// shoal.h: Python's threading / multiprocessing toolkit for C.  Include this
// one header; each module also has its own header under shoal/.
#ifndef SHOAL_H
#define SHOAL_H

#include <shoal/common.h>
#include <shoal/conn.h>
#include <shoal/queue.h>
#include <shoal/sync.h>
#include <shoal/process.h>
#include <shoal/shared.h>
#include <shoal/backend.h>
#include <shoal/pool.h>

#define SHOAL_VERSION_MAJOR 0
#define SHOAL_VERSION_MINOR 1
#define SHOAL_VERSION_PATCH 0

#endif
