/* After the container: whether the OOM killer took it, then its cgroup directories removed. */
#define _GNU_SOURCE
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * v1 memory.oom_control and v2 memory.events both carry an "oom_kill N" line (cgroup-v1/memory,
 * cgroup-v2 docs); a missing or unreadable file means we cannot tell, so 0.
 */
uint64_t oom_kill_count(const struct tsd_plan *p) {
  if (p->oom_path == NULL) return 0;
  /* A leading newline lets one strstr find the key at the start of any line. */
  char buf[4096] = "\n";
  int fd = open(p->oom_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf + 1, sizeof(buf) - 2);
  close(fd);
  if (n <= 0) return 0;
  buf[n + 1] = '\0';
  const char *hit = strstr(buf, "\noom_kill ");
  return hit == NULL ? 0 : strtoull(hit + strlen("\noom_kill "), NULL, 10);
}

/*
 * A cgroup can be removed only once empty, and when a pid namespace dies its other processes
 * are still being torn down after its init was reaped: EBUSY is retried for about a second.
 */
static int remove_dir(const char *dir) {
  const struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
  for (int tries = 0; tries < 100; tries++) {
    if (rmdir(dir) == 0 || errno == ENOENT) return 0;
    if (errno != EBUSY) return -1;
    nanosleep(&pause, NULL);
  }
  return -1;
}

/* Whether the file at dir/name starts with `want`. */
static bool file_starts_with(const char *dir, const char *name, const char *want) {
  char path[PATH_MAX], buf[16] = "";
  if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) return false;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  return n > 0 && strncmp(buf, want, strlen(want)) == 0;
}

/* v1 freezer.state FROZEN or FREEZING (cgroup-v1/freezer-subsystem), v2 cgroup.freeze 1. */
bool cgroup_frozen(const struct tsd_plan *p) {
  for (size_t i = 0; i < p->cgroup_dirs.n; i++) {
    const char *dir = p->cgroup_dirs.v[i];
    if (file_starts_with(dir, "freezer.state", "FR") || file_starts_with(dir, "cgroup.freeze", "1"))
      return true;
  }
  return false;
}

int remove_cgroup_dirs(const struct tsd_plan *p) {
  int rc = 0;
  for (size_t i = 0; i < p->cgroup_dirs.n; i++)
    if (remove_dir(p->cgroup_dirs.v[i]) < 0) rc = -1;
  return rc;
}
