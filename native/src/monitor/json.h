/* A JSON document built in a caller's buffer (status lines, the exit file, health.json). */
#ifndef TSDOCK_JSON_H
#define TSDOCK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct json {
  char *buf;
  size_t cap; /* what buf holds; the text is cut, never overrun, when it would not fit */
  size_t len;
};

__attribute__((format(printf, 2, 3))) void json_printf(struct json *j, const char *fmt, ...);
/* A JSON string: quotes, backslashes and control bytes escaped, other bytes (UTF-8) as they are. */
void json_string(struct json *j, const char *s);
/* The same for len bytes that may hold NULs (a command's output). */
void json_string_n(struct json *j, const char *s, size_t len);
/* RFC 3339 in UTC with `digits` (3 or 9) fractional digits, quoted. */
void json_time(struct json *j, const struct timespec *ts, int digits);
/* The whole document to fd (a pipe: retried on short writes). */
int json_write_fd(const struct json *j, int fd);
/*
 * Temp file beside path, rename: readers see the old document or the new one. `durable` fsyncs
 * it first, so that it also survives a machine crash.
 */
int json_write_file(const struct json *j, const char *path, bool durable);

#endif
