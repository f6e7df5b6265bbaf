#define _GNU_SOURCE
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

void json_printf(struct json *j, const char *fmt, ...) {
  if (j->len + 1 >= j->cap) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(j->buf + j->len, j->cap - j->len, fmt, ap);
  va_end(ap);
  if (n > 0) j->len += (size_t)n < j->cap - j->len ? (size_t)n : j->cap - j->len - 1;
}

void json_string_n(struct json *j, const char *s, size_t len) {
  json_printf(j, "\"");
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\')
      json_printf(j, "\\%c", ch);
    else if (ch < 0x20 || ch == 0x7f)
      json_printf(j, "\\u%04x", ch);
    else
      json_printf(j, "%c", ch);
  }
  json_printf(j, "\"");
}

void json_string(struct json *j, const char *s) {
  size_t len = 0;
  while (s[len] != '\0')
    len++;
  json_string_n(j, s, len);
}

void json_time(struct json *j, const struct timespec *ts, int digits) {
  struct tm tm;
  char date[32];
  gmtime_r(&ts->tv_sec, &tm);
  strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
  long frac = digits == 3 ? ts->tv_nsec / 1000000 : ts->tv_nsec;
  json_printf(j, "\"%s.%0*ldZ\"", date, digits, frac);
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

int json_write_fd(const struct json *j, int fd) {
  return write_all(fd, j->buf, j->len);
}

int json_write_file(const struct json *j, const char *path, bool durable) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (write_all(fd, j->buf, j->len) < 0 || (durable && fsync(fd) < 0)) {
    close(fd);
    unlink(tmp);
    return -1;
  }
  if (close(fd) < 0 || rename(tmp, path) < 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}
