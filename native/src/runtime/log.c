#define _GNU_SOURCE
#include "log.h"
#include "json.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINE 8192

size_t log_line(const char *level, const char *msg, bool json, const struct timespec *t, char *out,
                size_t cap) {
  struct tm tm;
  char when[40], quoted[4096];
  gmtime_r(&t->tv_sec, &tm);
  size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(when + n, sizeof(when) - n, ".%03ldZ", t->tv_nsec / 1000000);
  if (json_quote(msg, quoted, sizeof(quoted)) >= sizeof(quoted)) return cap + sizeof(quoted);
  int len = json ? snprintf(out, cap, "{\"level\":\"%s\",\"msg\":%s,\"time\":\"%s\"}\n", level,
                            quoted, when)
                 : snprintf(out, cap, "time=\"%s\" level=%s msg=%s\n", when, level, quoted);
  return (size_t)len;
}

void log_write(const char *file, bool json, const char *level, const char *msg) {
  char line[MAX_LINE];
  struct timespec now;
  if (file == NULL) return;
  clock_gettime(CLOCK_REALTIME, &now);
  size_t len = log_line(level, msg, json, &now, line, sizeof(line));
  if (len >= sizeof(line)) return;
  int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return;
  ssize_t written = write(fd, line, len);
  (void)written; /* As log.ts: a log that cannot be written must not hide the error itself. */
  close(fd);
}
