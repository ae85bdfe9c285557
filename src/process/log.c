// SPDX-License-Identifier: MIT
// Logging from many processes: every record is formatted whole in the
// calling process (Python's logging format fields), then written to each sink
// in one write(2) under a robust cross-process Lock that lives in shared
// memory, so children forked after the logger was made share it.  Loggers
// made separately (spawn children, other programs) share the lock when they
// are given the same lock_name (a named Lock).  Files are opened O_APPEND,
// so even loggers that share no lock append each record in one piece (one
// write(2), which Linux applies whole to a regular file); on a pipe that
// holds only up to PIPE_BUF bytes.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "process/internal.h"

struct sink {
  int fd;
  bool owned;
};

struct shoal_logger {
  shoal_lock *lock;
  bool named; /* lock came from shoal_lock_open */
  char name[64];
  char *format;
  _Atomic int level;
  struct sink sinks[SHOAL_LOG_MAX_SINKS];
  int n_sinks;
};

/* Record fields.  Kinds: string, integer, real. */
enum field {
  F_ASCTIME, F_CREATED, F_MSECS, F_LEVELNAME, F_LEVELNO, F_NAME, F_PROCESS, F_PROCESSNAME,
  F_THREAD, F_THREADNAME, F_MESSAGE, F_FILENAME, F_LINENO, F_FUNCNAME, F_N
};
enum kind { K_STR, K_INT, K_REAL };

static const struct {
  const char *name;
  enum kind kind;
} fields[F_N] = {
    [F_ASCTIME] = {"asctime", K_STR},       [F_CREATED] = {"created", K_REAL},
    [F_MSECS] = {"msecs", K_INT},           [F_LEVELNAME] = {"levelname", K_STR},
    [F_LEVELNO] = {"levelno", K_INT},       [F_NAME] = {"name", K_STR},
    [F_PROCESS] = {"process", K_INT},       [F_PROCESSNAME] = {"processName", K_STR},
    [F_THREAD] = {"thread", K_INT},         [F_THREADNAME] = {"threadName", K_STR},
    [F_MESSAGE] = {"message", K_STR},       [F_FILENAME] = {"filename", K_STR},
    [F_LINENO] = {"lineno", K_INT},         [F_FUNCNAME] = {"funcName", K_STR},
};

/* One parsed "%(field)<spec><conv>" directive. */
struct directive {
  enum field field;
  char spec[16]; /* flags, width, precision: "-8", "03", ".2" */
  char conv;     /* s, d, i or f */
  size_t length; /* bytes of the directive in the format */
};

/* Parses the directive at fmt (which starts with "%("); 0 or SHOAL_EINVAL. */
static int parse_directive(const char *fmt, struct directive *d)
{
  const char *p = fmt + 2, *close = strchr(p, ')');
  if (!close)
    return SHOAL_EINVAL;
  size_t n = (size_t)(close - p);
  int f = 0;
  while (f < F_N && !(strlen(fields[f].name) == n && !strncmp(fields[f].name, p, n)))
    f++;
  if (f == F_N)
    return SHOAL_EINVAL;
  d->field = (enum field)f;
  p = close + 1;
  size_t s = 0;
  while (*p && strchr("-0 +#", *p) && s < 4)
    d->spec[s++] = *p++;
  for (int digits = 0; *p >= '0' && *p <= '9' && digits < 4; digits++)
    d->spec[s++] = *p++;
  if (*p == '.') {
    d->spec[s++] = *p++;
    for (int digits = 0; *p >= '0' && *p <= '9' && digits < 3; digits++)
      d->spec[s++] = *p++;
  }
  d->spec[s] = '\0';
  if (!*p || !strchr("sdif", *p))
    return SHOAL_EINVAL;
  d->conv = *p;
  if (fields[f].kind == K_STR && d->conv != 's')
    return SHOAL_EINVAL;
  d->length = (size_t)(p + 1 - fmt);
  return 0;
}

static int check_format(const char *fmt)
{
  for (const char *p = fmt; *p; p++) {
    if (*p != '%')
      continue;
    if (p[1] == '%') {
      p++;
      continue;
    }
    struct directive d;
    if (p[1] != '(' || parse_directive(p, &d) != 0)
      return SHOAL_EINVAL;
    p += d.length - 1;
  }
  return 0;
}

int shoal_logger_create(shoal_logger **out, const shoal_logger_opts *opts)
{
  if (!out)
    return SHOAL_EINVAL;
  if (opts) {
    for (size_t i = 0; i < sizeof opts->reserved / sizeof opts->reserved[0]; i++)
      if (opts->reserved[i])
        return SHOAL_EINVAL;
    if (opts->level < 0 || opts->level > SHOAL_LOG_CRITICAL)
      return SHOAL_EINVAL;
    if (opts->name && strlen(opts->name) >= sizeof((shoal_logger *)0)->name)
      return SHOAL_ENAMETOOLONG;
  }
  const char *format = opts && opts->format ? opts->format : SHOAL_LOG_DEFAULT_FORMAT;
  if (check_format(format) != 0)
    return SHOAL_EINVAL;
  shoal_logger *lg = calloc(1, sizeof *lg);
  if (!lg)
    return SHOAL_ENOMEM;
  if (!(lg->format = strdup(format))) {
    free(lg);
    return SHOAL_ENOMEM;
  }
  int rc;
  if (opts && opts->lock_name) {
    rc = shoal_lock_open(&lg->lock, opts->lock_name,
                         &(shoal_open_opts){.flags = SHOAL_OPEN_CREATE});
    lg->named = true;
  } else {
    rc = shoal_lock_create(&lg->lock);
  }
  if (rc) {
    free(lg->format);
    free(lg);
    return rc;
  }
  snprintf(lg->name, sizeof lg->name, "%s", opts && opts->name ? opts->name : "root");
  atomic_init(&lg->level, opts && opts->level ? opts->level : SHOAL_LOG_WARNING);
  *out = lg;
  return 0;
}

static int add_sink(shoal_logger *lg, int fd, bool owned)
{
  if (lg->n_sinks == SHOAL_LOG_MAX_SINKS)
    return SHOAL_ENOSPC;
  lg->sinks[lg->n_sinks++] = (struct sink){fd, owned};
  return 0;
}

int shoal_logger_add_stderr(shoal_logger *lg)
{
  return lg ? add_sink(lg, STDERR_FILENO, false) : SHOAL_EINVAL;
}

int shoal_logger_add_file(shoal_logger *lg, const char *path)
{
  if (!lg || !path || !*path)
    return SHOAL_EINVAL;
  if (lg->n_sinks == SHOAL_LOG_MAX_SINKS)
    return SHOAL_ENOSPC;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return shoal__plat_err(errno);
  return add_sink(lg, fd, true);
}

int shoal_logger_add_fd(shoal_logger *lg, int fd)
{
  if (!lg)
    return SHOAL_EINVAL;
  if (fd < 0 || fcntl(fd, F_GETFL) < 0)
    return SHOAL_EBADF;
  return add_sink(lg, fd, false);
}

int shoal_logger_set_level(shoal_logger *lg, int level)
{
  if (!lg || level < 1 || level > SHOAL_LOG_CRITICAL)
    return SHOAL_EINVAL;
  atomic_store(&lg->level, level);
  return 0;
}

int shoal_logger_level(const shoal_logger *lg)
{
  return lg ? atomic_load(&((shoal_logger *)lg)->level) : SHOAL_EINVAL;
}

void shoal_logger_destroy(shoal_logger *lg)
{
  if (!lg)
    return;
  for (int i = 0; i < lg->n_sinks; i++)
    if (lg->sinks[i].owned)
      close(lg->sinks[i].fd);
  if (lg->named)
    shoal_lock_close(lg->lock);
  else
    shoal_lock_destroy(lg->lock);
  free(lg->format);
  free(lg);
}

/* A growing text buffer, on the stack until it outgrows it, capped at
 * SHOAL_LOG_RECORD_MAX bytes. */
struct text {
  char *p;
  size_t len, cap;
  bool heap, cut;
};

static void text_vappend(struct text *t, const char *fmt, va_list ap)
{
  if (t->cut)
    return;
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, copy);
  va_end(copy);
  if (n < 0)
    return;
  if ((size_t)n < t->cap - t->len) {
    t->len += (size_t)n;
    return;
  }
  size_t want = t->len + (size_t)n + 1;
  if (want > SHOAL_LOG_RECORD_MAX)
    want = SHOAL_LOG_RECORD_MAX;
  if (want > t->cap) {
    char *np = t->heap ? realloc(t->p, want) : malloc(want);
    if (np) {
      if (!t->heap)
        memcpy(np, t->p, t->len);
      t->p = np;
      t->cap = want;
      t->heap = true;
    }
  }
  n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
  if (n >= 0 && (size_t)n < t->cap - t->len) {
    t->len += (size_t)n;
    return;
  }
  t->len = t->cap - 1; /* vsnprintf filled what fits */
  t->cut = true;
}

static void text_append(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_append(struct text *t, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  text_vappend(t, fmt, ap);
  va_end(ap);
}

struct record {
  int level;
  struct timespec when;
  const char *name, *message, *file, *func;
  int line;
};

static const char *level_name(int level, char *buf, size_t len)
{
  switch (level) {
  case SHOAL_LOG_DEBUG:
    return "DEBUG";
  case SHOAL_LOG_INFO:
    return "INFO";
  case SHOAL_LOG_WARNING:
    return "WARNING";
  case SHOAL_LOG_ERROR:
    return "ERROR";
  case SHOAL_LOG_CRITICAL:
    return "CRITICAL";
  }
  snprintf(buf, len, "Level %d", level);
  return buf;
}

static void format_field(struct text *t, const struct directive *d, const struct record *r)
{
  char spec[24], tmp[64];
  const char *s = NULL;
  long long i = 0;
  double x = 0;
  switch (d->field) {
  case F_ASCTIME: {
    struct tm tm;
    time_t sec = r->when.tv_sec;
    localtime_r(&sec, &tm);
    size_t n = strftime(tmp, sizeof tmp, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(tmp + n, sizeof tmp - n, ",%03ld", r->when.tv_nsec / 1000000);
    s = tmp;
    break;
  }
  case F_CREATED:
    x = (double)r->when.tv_sec + (double)r->when.tv_nsec / 1e9;
    break;
  case F_MSECS:
    i = r->when.tv_nsec / 1000000;
    break;
  case F_LEVELNAME:
    s = level_name(r->level, tmp, sizeof tmp);
    break;
  case F_LEVELNO:
    i = r->level;
    break;
  case F_NAME:
    s = r->name;
    break;
  case F_PROCESS:
    i = getpid();
    break;
  case F_PROCESSNAME:
    s = shoal_process_name(shoal_current_process());
    break;
  case F_THREAD:
    i = (long long)pthread_self();
    break;
  case F_THREADNAME:
    s = shoal_thread_name(shoal_current_thread());
    break;
  case F_MESSAGE:
    s = r->message;
    break;
  case F_FILENAME: {
    const char *slash = r->file ? strrchr(r->file, '/') : NULL;
    s = slash ? slash + 1 : r->file;
    break;
  }
  case F_LINENO:
    i = r->line;
    break;
  case F_FUNCNAME:
    s = r->func;
    break;
  case F_N:
    return;
  }
  if (fields[d->field].kind == K_STR || d->conv == 's') {
    if (!s) {
      if (fields[d->field].kind == K_REAL)
        snprintf(tmp, sizeof tmp, "%f", x);
      else if (fields[d->field].kind == K_INT)
        snprintf(tmp, sizeof tmp, "%lld", i);
      else
        strcpy(tmp, "?");
      s = tmp;
    }
    snprintf(spec, sizeof spec, "%%%ss", d->spec);
    text_append(t, spec, s);
  } else if (d->conv == 'f') {
    snprintf(spec, sizeof spec, "%%%sf", d->spec);
    text_append(t, spec, fields[d->field].kind == K_REAL ? x : (double)i);
  } else {
    snprintf(spec, sizeof spec, "%%%slld", d->spec);
    text_append(t, spec, fields[d->field].kind == K_REAL ? (long long)x : i);
  }
}

static int write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return shoal__plat_err(errno);
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int shoal_vlog_at(shoal_logger *lg, int level, const char *file, int line, const char *func,
                  const char *fmt, va_list ap)
{
  if (!lg || !fmt || level < 1 || level > SHOAL_LOG_CRITICAL)
    return SHOAL_EINVAL;
  if (level < atomic_load_explicit(&lg->level, memory_order_relaxed))
    return 0;
  struct record r = {.level = level, .name = lg->name, .file = file, .func = func, .line = line};
  clock_gettime(CLOCK_REALTIME, &r.when);

  char msg_stack[1024], rec_stack[2048];
  struct text msg = {msg_stack, 0, sizeof msg_stack, false, false};
  text_vappend(&msg, fmt, ap);
  r.message = msg.p;

  struct text rec = {rec_stack, 0, sizeof rec_stack, false, false};
  const char *p = lg->format, *lit = p;
  for (; *p; p++) {
    if (*p != '%')
      continue;
    text_append(&rec, "%.*s", (int)(p - lit), lit);
    if (p[1] == '%') {
      text_append(&rec, "%%");
      lit = ++p + 1;
      continue;
    }
    struct directive d;
    parse_directive(p, &d); /* checked when the logger was made */
    format_field(&rec, &d, &r);
    p += d.length - 1;
    lit = p + 1;
  }
  text_append(&rec, "%s\n", lit);
  if (rec.cut || msg.cut) {
    /* Keep the record one line: end a cut record in "...\n". */
    size_t at = rec.len > 4 ? rec.len - 4 : 0;
    memcpy(rec.p + at, "...\n", 4);
    rec.len = at + 4;
  }

  int rc = shoal_lock_acquire(lg->lock, SHOAL_FOREVER);
  if (rc == SHOAL_EOWNERDEAD) {
    /* A writer died holding the lock: each record is one write, so the sink
     * holds whole records and nothing needs repair. */
    shoal_lock_consistent(lg->lock);
    rc = 0;
  }
  int result = 1;
  if (lg->n_sinks == 0) {
    int w = write_all(STDERR_FILENO, rec.p, rec.len);
    result = w ? w : result;
  }
  for (int i = 0; i < lg->n_sinks; i++) {
    int w = write_all(lg->sinks[i].fd, rec.p, rec.len);
    if (w && result == 1)
      result = w;
  }
  if (rc == 0)
    shoal_lock_release(lg->lock);
  if (msg.heap)
    free(msg.p);
  if (rec.heap)
    free(rec.p);
  return result;
}

int shoal_log_at(shoal_logger *lg, int level, const char *file, int line, const char *func,
                 const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int rc = shoal_vlog_at(lg, level, file, line, func, fmt, ap);
  va_end(ap);
  return rc;
}
