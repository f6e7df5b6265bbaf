/*
 * The container's log: its stdout and stderr arrive on two pipes the monitor drains, and leave
 * as Docker's json-file lines, {"log":"...","stream":"stdout","time":"RFC 3339, ns"}, in FILE.
 * With a size limit, FILE is rotated to FILE.1 (FILE.1 to FILE.2, ...) before a line would take
 * it past the limit, keeping max_files files in all. The monitor only ever writes a regular
 * file, so a slow reader of the log can never hold the container up; the pipes are drained
 * whenever they have data.
 */
#define _GNU_SOURCE
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const stream_names[2] = {"stdout", "stderr"};

static int open_log(struct tsd_log *l) {
  l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (l->fd < 0) return -1;
  struct stat st;
  l->size = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  return 0;
}

static int open_pipes(struct tsd_log *l) {
  for (int s = 0; s < 2; s++) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    /* Our end never blocks; the container's end is its fd 1 or 2 (set up in log_give_stdio). */
    if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) return -1;
    l->pipes[s] = p[0];
    l->writers[s] = p[1];
  }
  return 0;
}

int log_open(struct tsd_log *l, const char *path, uint64_t max_size, unsigned max_files) {
  memset(l, 0, sizeof(*l));
  l->path = path;
  l->max_size = max_size;
  l->max_files = max_files == 0 ? 1 : max_files;
  l->pipes[0] = l->pipes[1] = -1;
  if (open_log(l) < 0) return -1;
  return open_pipes(l);
}

/* The pipes' write ends become fds 1 and 2, which the container inherits. */
int log_give_stdio(struct tsd_log *l) {
  for (int s = 0; s < 2; s++)
    if (dup2(l->writers[s], s + 1) < 0) return -1;
  return 0;
}

/* The container has its copies now: ours must go, or the pipes never reach EOF. */
void log_drop_stdio(struct tsd_log *l) {
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  for (int s = 0; s < 2; s++) {
    if (null >= 0) dup2(null, s + 1);
    close(l->writers[s]);
    l->writers[s] = -1;
  }
  if (null >= 0) close(null);
}

/* FILE.(n-1) -> FILE.n ... FILE -> FILE.1, the oldest dropped; then a fresh FILE. */
static void rotate(struct tsd_log *l) {
  char from[PATH_MAX], to[PATH_MAX];
  close(l->fd);
  if (l->max_files <= 1) {
    l->fd = open(l->path, O_WRONLY | O_TRUNC | O_APPEND | O_CLOEXEC);
    l->size = 0;
    return;
  }
  for (unsigned n = l->max_files - 1; n >= 1; n--) {
    if (n == 1)
      snprintf(from, sizeof(from), "%s", l->path);
    else
      snprintf(from, sizeof(from), "%s.%u", l->path, n - 1);
    snprintf(to, sizeof(to), "%s.%u", l->path, n);
    rename(from, to);
  }
  if (open_log(l) < 0) l->fd = -1;
}

static size_t put(char *out, size_t at, const char *s, size_t n) {
  memcpy(out + at, s, n);
  return at + n;
}

/* One json-file line for `len` bytes of `text`; escapes make it at most 6x as long. */
static void write_record(struct tsd_log *l, int stream, const char *text, size_t len) {
  static char line[6 * LOG_CHUNK + 128];
  size_t at = put(line, 0, "{\"log\":\"", 8);
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)text[i];
    if (ch == '"' || ch == '\\') {
      line[at++] = '\\';
      line[at++] = (char)ch;
    } else if (ch == '\n') {
      at = put(line, at, "\\n", 2);
    } else if (ch < 0x20 || ch == 0x7f) {
      at += (size_t)snprintf(line + at, 7, "\\u%04x", ch);
    } else {
      line[at++] = (char)ch;
    }
  }
  struct timespec ts;
  struct tm tm;
  char date[32];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
  at += (size_t)snprintf(line + at, sizeof(line) - at,
                         "\",\"stream\":\"%s\",\"time\":\"%s.%09ldZ\"}\n", stream_names[stream],
                         date, ts.tv_nsec);
  if (l->max_size > 0 && l->size > 0 && l->size + at > l->max_size) rotate(l);
  if (l->fd < 0) return;
  /* A full disk loses log lines, never the container: it is not held up for them. */
  ssize_t n = write(l->fd, line, at);
  if (n > 0) l->size += (uint64_t)n;
}

/* Complete lines go out one record each; a line longer than the buffer goes out in pieces. */
static void flush_lines(struct tsd_log *l, int s, bool all) {
  struct tsd_log_buf *b = &l->bufs[s];
  size_t start = 0;
  for (size_t i = 0; i < b->len; i++) {
    if (b->data[i] == '\n') {
      write_record(l, s, b->data + start, i + 1 - start);
      start = i + 1;
    }
  }
  if (start < b->len && (all || (start == 0 && b->len == LOG_CHUNK))) {
    write_record(l, s, b->data + start, b->len - start);
    start = b->len;
  }
  memmove(b->data, b->data + start, b->len - start);
  b->len -= start;
}

/* One read a call: the attach clients (tee) make room for a chunk at a time. */
enum log_read log_drain(struct tsd_log *l, int s) {
  struct tsd_log_buf *b = &l->bufs[s];
  ssize_t n;
  if (l->pipes[s] < 0) return LOG_READ_EOF;
  do
    n = read(l->pipes[s], b->data + b->len, LOG_CHUNK - b->len);
  while (n < 0 && errno == EINTR);
  if (n < 0) return LOG_READ_NONE; /* EAGAIN: drained for now */
  if (n == 0) {
    flush_lines(l, s, true);
    close(l->pipes[s]);
    l->pipes[s] = -1;
    return LOG_READ_EOF;
  }
  if (l->tee != NULL) l->tee(l->tee_ctx, s, b->data + b->len, (size_t)n);
  b->len += (size_t)n;
  flush_lines(l, s, false);
  return LOG_READ_DATA;
}

void log_write(struct tsd_log *l, int s, const char *data, size_t len) {
  struct tsd_log_buf *b = &l->bufs[s];
  while (len > 0) {
    size_t n = len < LOG_CHUNK - b->len ? len : LOG_CHUNK - b->len;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    data += n;
    len -= n;
    flush_lines(l, s, false);
  }
}

/* What the last run left in the pipes goes to the file; the pipes close. */
static void close_pipes(struct tsd_log *l) {
  for (int s = 0; s < 2; s++) {
    if (l->pipes[s] >= 0) {
      while (log_drain(l, s) == LOG_READ_DATA) {
      }
      flush_lines(l, s, true);
      if (l->pipes[s] >= 0) close(l->pipes[s]);
      l->pipes[s] = -1;
    }
  }
}

int log_renew_stdio(struct tsd_log *l) {
  close_pipes(l);
  return open_pipes(l) < 0 ? -1 : log_give_stdio(l);
}

void log_close(struct tsd_log *l) {
  close_pipes(l);
  if (l->fd >= 0) close(l->fd);
}
