/*
 * Restart policies, as Docker applies them, and the files that say where a container is:
 *
 *   DIR/stop-request  written by `tsdock stop` and `kill` before they signal: "stop", or
 *                     "stop-timeout" once stop gave up and sent SIGKILL. No policy restarts a
 *                     container the user stopped; a start removes the file.
 *   DIR/run.json      written atomically by the monitor at each (re)start and when it begins to
 *                     wait for a restart: {"pid","startTime","since","restartCount","restarting",
 *                     "exitCode"}; "since" is when the run began, or when it ended while
 *                     restarting (then "exitCode" is how it ended).
 *
 * DIR is the directory of the plan's exit file. Without a daemon, `always` and
 * `unless-stopped` differ in nothing: both differ from each other only when a daemon restarts.
 */
#define _GNU_SOURCE
#include "lifecycle.h"
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RESTART_FIRST_DELAY_MS 100u
#define RESTART_MAX_DELAY_MS (60u * 1000u)
#define RESTART_RESET_AFTER_MS (10u * 1000u)

bool container_file(const struct tsd_plan *p, const char *name, char *out, size_t len) {
  if (p->exit_file == NULL) return false;
  const char *slash = strrchr(p->exit_file, '/');
  int dir_len = slash == NULL ? 1 : (int)(slash - p->exit_file);
  const char *dir = slash == NULL ? "." : p->exit_file;
  return snprintf(out, len, "%.*s/%s", dir_len, dir, name) < (int)len;
}

/* The stop request's text ("stop", "stop-timeout"), or "" when there is none. */
static void read_stop_request(const struct tsd_plan *p, char *buf, size_t len) {
  char path[PATH_MAX];
  buf[0] = '\0';
  if (!container_file(p, "stop-request", path, sizeof(path))) return;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
}

bool stop_requested(const struct tsd_plan *p) {
  char req[32];
  read_stop_request(p, req, sizeof(req));
  return req[0] != '\0';
}

struct tsd_exit exit_of(const struct tsd_plan *p, int wstatus, bool oom) {
  struct tsd_exit x = {.signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0, .oom_killed = oom};
  x.exit_code = x.signal != 0 ? 128 + x.signal : WEXITSTATUS(wstatus);
  char req[32];
  read_stop_request(p, req, sizeof(req));
  if (oom)
    x.reason = "oom";
  else if (x.signal == SIGKILL && strcmp(req, "stop-timeout") == 0)
    x.reason = "stop-timeout";
  else
    x.reason = x.signal != 0 ? "signal" : "exited";
  return x;
}

bool should_restart(const struct tsd_lifecycle *lc, const struct tsd_exit *x, unsigned restarts) {
  switch (lc->restart) {
  case TSD_RESTART_ALWAYS:
  case TSD_RESTART_UNLESS_STOPPED:
    return true;
  case TSD_RESTART_ON_FAILURE:
    return x->exit_code != 0 && (lc->max_retries == 0 || restarts < lc->max_retries);
  case TSD_RESTART_NO:
    break;
  }
  return false;
}

uint64_t restart_delay_ms(uint64_t previous_ms, uint64_t ran_ms) {
  if (previous_ms == 0 || ran_ms >= RESTART_RESET_AFTER_MS) return RESTART_FIRST_DELAY_MS;
  return previous_ms * 2 > RESTART_MAX_DELAY_MS ? RESTART_MAX_DELAY_MS : previous_ms * 2;
}

void start_time_of(pid_t pid, char *out, size_t len) {
  char path[64], buf[1024];
  snprintf(out, len, "0");
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = '\0';
  /* The command name (field 2) may hold spaces and parentheses: count from the last ')'. */
  char *at = strrchr(buf, ')');
  for (int field = 2; at != NULL && field < 22; field++)
    at = strchr(at + 1, ' ');
  if (at == NULL) return;
  snprintf(out, len, "%.*s", (int)strcspn(at + 1, " "), at + 1);
}

int write_run_file(const struct tsd_plan *p, pid_t pid, unsigned restarts,
                   const struct tsd_exit *last) {
  bool restarting = last != NULL;
  char path[PATH_MAX], tmp[PATH_MAX + 16], start[32], date[32], json[512];
  if (!container_file(p, "run.json", path, sizeof(path))) return 0;
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
  start_time_of(pid, start, sizeof(start));
  int n = snprintf(json, sizeof(json),
                   "{\"pid\":%d,\"startTime\":\"%s\",\"since\":\"%s.%03ldZ\","
                   "\"restartCount\":%u,\"restarting\":%s,\"exitCode\":%d}\n",
                   restarting ? 0 : (int)pid, restarting ? "" : start, date, ts.tv_nsec / 1000000,
                   restarts, restarting ? "true" : "false", restarting ? last->exit_code : 0);
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  /* No fsync: the file names this boot's processes, stale after a machine crash whatever it
   * holds; the rename keeps it whole for readers (an empty one after a crash reads as none). */
  bool ok = write(fd, json, (size_t)n) == n;
  if (close(fd) < 0 || !ok || rename(tmp, path) < 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}
