// SPDX-License-Identifier: MIT
// name_table.h: a table of functions registered by name, shared by the
// spawn targets (SHOAL_ENTRY) and the pool's spawn-worker tasks
// (SHOAL_POOL_TASK).  Both public entry structs are { name, fn, next }
// with their own function type, so the table is generated per type.
//
// SHOAL__NAME_TABLE(prefix, entry_type, name_max) defines, static in the
// including file:
//   int prefix_add(entry_type *e)  - adds e (linked in, so e must live as
//     long as the program: the macros make it static).  0, also when e or
//     an entry of the same name and fn is in already; SHOAL_EINVAL (no name
//     or fn), SHOAL_ENAMETOOLONG (name of name_max bytes or more),
//     SHOAL_EEXIST (the name taken by another fn).
//   entry_type *prefix_find(const char *name) - the entry of that name, or NULL.
//   entry_type *prefix_of(fn)     - the entry of that function, or NULL.
// All three are thread-safe; the table is read-only state after start-up,
// and a fork child inherits it whole (it names code, which exec keeps too).
#ifndef SHOAL_CORE_NAME_TABLE_H
#define SHOAL_CORE_NAME_TABLE_H

#include <pthread.h>
#include <string.h>

#include "shoal/common.h"

#define SHOAL__NAME_TABLE(prefix, entry_type, name_max)                                            \
  static pthread_mutex_t prefix##_mu = PTHREAD_MUTEX_INITIALIZER;                                  \
  static entry_type *prefix##_head;                                                                \
                                                                                                   \
  static int prefix##_add(entry_type *e)                                                           \
  {                                                                                                \
    if (!e || !e->name || !*e->name || !e->fn)                                                     \
      return SHOAL_EINVAL;                                                                         \
    if (strlen(e->name) >= (name_max))                                                             \
      return SHOAL_ENAMETOOLONG;                                                                   \
    int rc = 0;                                                                                    \
    pthread_mutex_lock(&prefix##_mu);                                                              \
    entry_type *x = prefix##_head;                                                                 \
    while (x && x != e && strcmp(x->name, e->name))                                                \
      x = x->next;                                                                                 \
    if (!x) {                                                                                      \
      e->next = prefix##_head;                                                                     \
      prefix##_head = e;                                                                           \
    } else if (x != e && x->fn != e->fn) {                                                         \
      rc = SHOAL_EEXIST;                                                                           \
    }                                                                                              \
    pthread_mutex_unlock(&prefix##_mu);                                                            \
    return rc;                                                                                     \
  }                                                                                                \
                                                                                                   \
  static entry_type *prefix##_find(const char *name)                                               \
  {                                                                                                \
    pthread_mutex_lock(&prefix##_mu);                                                              \
    entry_type *x = prefix##_head;                                                                 \
    while (x && strcmp(x->name, name))                                                             \
      x = x->next;                                                                                 \
    pthread_mutex_unlock(&prefix##_mu);                                                            \
    return x;                                                                                      \
  }                                                                                                \
                                                                                                   \
  static entry_type *prefix##_of(__typeof__(((entry_type *)0)->fn) fn)                            \
  {                                                                                                \
    pthread_mutex_lock(&prefix##_mu);                                                              \
    entry_type *x = prefix##_head;                                                                 \
    while (x && x->fn != fn)                                                                       \
      x = x->next;                                                                                 \
    pthread_mutex_unlock(&prefix##_mu);                                                            \
    return x;                                                                                      \
  }

#endif
