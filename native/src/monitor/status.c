/* What the monitor tells the world: status lines on fd 3 and the exit file (see main.c). */
#define _GNU_SOURCE
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int status_fd = -1;

/* One JSON document being built; sized for a PATH_MAX string escaped at worst as \u00XX. */
struct json {
  char buf[6 * PATH_MAX + 512];
  size_t len;
};

__attribute__((format(printf, 2, 3))) static void json_printf(struct json *j, const char *fmt,
                                                              ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(j->buf + j->len, sizeof(j->buf) - j->len, fmt, ap);
  va_end(ap);
  if (n > 0)
    j->len += (size_t)n < sizeof(j->buf) - j->len ? (size_t)n : sizeof(j->buf) - j->len - 1;
}

/* A JSON string: quotes, backslashes and control bytes escaped, other bytes (UTF-8) as they are. */
static void json_string(struct json *j, const char *s) {
  json_printf(j, "\"");
  for (; *s != '\0'; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      json_printf(j, "\\%c", ch);
    else if (ch < 0x20)
      json_printf(j, "\\u%04x", ch);
    else
      json_printf(j, "%c", ch);
  }
  json_printf(j, "\"");
}

void status_init(int fd) {
  /* Checked before the monitor opens anything, which could otherwise land on that fd. */
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) == 0) status_fd = fd;
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

static void emit(struct json *j) {
  json_printf(j, "\n");
  if (status_fd < 0) return;
  /* A reader that went away is no reason to stop: the container still needs its monitor. */
  if (write_all(status_fd, j->buf, j->len) < 0) status_fd = -1;
}

void status_started(pid_t pid) {
  struct json j = {.len = 0};
  json_printf(&j, "{\"type\":\"started\",\"pid\":%d}", (int)pid);
  emit(&j);
}

void status_error(const struct tsd_child_error *e) {
  struct json j = {.len = 0};
  json_printf(&j, "{\"type\":\"error\",\"step\":");
  json_string(&j, e->step);
  json_printf(&j, ",\"errno\":%d,\"path\":", (int)e->err);
  json_string(&j, e->path);
  json_printf(&j, ",\"message\":");
  json_string(&j, strerror(e->err));
  json_printf(&j, "}");
  emit(&j);
}

void status_exited(int exit_code, int signal, bool oom_killed) {
  struct json j = {.len = 0};
  json_printf(&j, "{\"type\":\"exited\",\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s}", exit_code,
              signal, oom_killed ? "true" : "false");
  emit(&j);
}

/* RFC 3339 in UTC with milliseconds, like JavaScript's Date.prototype.toISOString. */
static void json_now(struct json *j) {
  struct timespec ts;
  struct tm tm;
  char date[32];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
  json_printf(j, "\"%s.%03ldZ\"", date, ts.tv_nsec / 1000000);
}

/* Temp file in the same directory, fsync, rename: readers see the old state or the new one. */
int write_exit_file(const char *path, int exit_code, int signal, bool oom_killed,
                    const char *reason, unsigned restarts) {
  struct json j = {.len = 0};
  json_printf(&j, "{\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,\"reason\":", exit_code, signal,
              oom_killed ? "true" : "false");
  json_string(&j, reason);
  json_printf(&j, ",\"restartCount\":%u,\"finishedAt\":", restarts);
  json_now(&j);
  json_printf(&j, "}\n");

  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (write_all(fd, j.buf, j.len) < 0 || fsync(fd) < 0) {
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
