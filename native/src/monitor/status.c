/* What the monitor tells the world: status lines on fd 3 and the exit file (see main.c). */
#define _GNU_SOURCE
#include "json.h"
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int status_fd = -1;

/* Sized for a PATH_MAX string escaped at worst as \u00XX. */
#define STATUS_JSON_MAX (6 * PATH_MAX + 512)

void status_init(int fd) {
  /* Checked before the monitor opens anything, which could otherwise land on that fd. */
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) == 0) status_fd = fd;
}

static void emit(struct json *j) {
  json_printf(j, "\n");
  if (status_fd < 0) return;
  /* A reader that went away is no reason to stop: the container still needs its monitor. */
  if (json_write_fd(j, status_fd) < 0) status_fd = -1;
}

void status_started(pid_t pid) {
  char buf[STATUS_JSON_MAX], started[32], own[32];
  struct json j = {.buf = buf, .cap = sizeof(buf), .len = 0};
  /* The caller records both processes by pid and start time; the child is ours still (at worst
   * a zombie not yet reaped), so its start time is there to read. */
  start_time_of(pid, started, sizeof(started));
  start_time_of(getpid(), own, sizeof(own));
  json_printf(&j,
              "{\"type\":\"started\",\"pid\":%d,\"startTime\":\"%s\",\"monitorStartTime\":\"%s\"}",
              (int)pid, started, own);
  emit(&j);
}

/* One byte from the caller on the status fd (a socket): 0, or -1 when it closed it instead. */
static int read_reply(void) {
  if (status_fd < 0) return -1;
  char reply;
  ssize_t n;
  do
    n = read(status_fd, &reply, 1);
  while (n < 0 && errno == EINTR);
  return n == 1 ? 0 : -1;
}

int status_runtime_hooks(pid_t pid) {
  char buf[STATUS_JSON_MAX];
  struct json j = {.buf = buf, .cap = sizeof(buf), .len = 0};
  json_printf(&j, "{\"type\":\"runtime-hooks\",\"pid\":%d}", (int)pid);
  emit(&j);
  return read_reply();
}

int status_await_cgroup(void) {
  return read_reply();
}

void status_error(const struct tsd_child_error *e) {
  char buf[STATUS_JSON_MAX];
  struct json j = {.buf = buf, .cap = sizeof(buf), .len = 0};
  json_printf(&j, "{\"type\":\"error\",\"step\":");
  json_string(&j, e->step);
  json_printf(&j, ",\"errno\":%d,\"path\":", (int)e->err);
  json_string(&j, e->path);
  json_printf(&j, ",\"message\":");
  json_string(&j, strerror(e->err));
  json_printf(&j, "}");
  emit(&j);
}

void status_exited(int exit_code, int signal, bool oom_killed, bool cgroup_removed) {
  char buf[STATUS_JSON_MAX];
  struct json j = {.buf = buf, .cap = sizeof(buf), .len = 0};
  json_printf(&j,
              "{\"type\":\"exited\",\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,"
              "\"cgroupRemoved\":%s}",
              exit_code, signal, oom_killed ? "true" : "false", cgroup_removed ? "true" : "false");
  emit(&j);
}

int write_exit_file(const char *path, int exit_code, int signal, bool oom_killed,
                    const char *reason, unsigned restarts, bool durable) {
  char buf[STATUS_JSON_MAX];
  struct json j = {.buf = buf, .cap = sizeof(buf), .len = 0};
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  json_printf(&j, "{\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,\"reason\":", exit_code, signal,
              oom_killed ? "true" : "false");
  json_string(&j, reason);
  json_printf(&j, ",\"restartCount\":%u,\"finishedAt\":", restarts);
  /* Like JavaScript's Date.prototype.toISOString. */
  json_time(&j, &now, 3);
  json_printf(&j, "}\n");
  return json_write_file(&j, path, durable);
}
