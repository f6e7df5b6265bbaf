#define _GNU_SOURCE
#include "cgroup.h"
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long freeze, thaw and kill may take before the kernel is reported stuck (as v1.ts, v2.ts). */
#define SETTLE_MS 5000
/* How long rmdir may answer EBUSY: the last task leaves its css_set a moment after SIGKILL. */
#define RMDIR_MS 1000
#define POLL_MS 10
#define MAX_PIDS 4096

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
  while (nanosleep(&t, &t) < 0 && errno == EINTR) {
  }
}

static bool join(char *out, const char *dir, const char *file) {
  return (size_t)snprintf(out, PATH_MAX, "%s/%s", dir, file) < PATH_MAX;
}

/* A cgroupfs file's text without its trailing newline; -1 with errno set. */
static int read_file(const char *dir, const char *name, char *buf, size_t cap) {
  char path[PATH_MAX];
  if (!join(path, dir, name)) return errno = ENAMETOOLONG, -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, cap - 1);
  int saved = errno;
  close(fd);
  if (n < 0) return errno = saved, -1;
  buf[n] = '\0';
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
    buf[--n] = '\0';
  return 0;
}

/* One write(2) without O_CREAT, as cgroupfs takes each write as one request. */
static int write_file(const char *dir, const char *name, const char *value, char *err) {
  char path[PATH_MAX];
  if (!join(path, dir, name))
    return failf(err, "cannot write \"%s\" to %s/%s: %s", value, dir, name, reason(ENAMETOOLONG));
  int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0 || write(fd, value, strlen(value)) < 0) {
    int saved = errno;
    if (fd >= 0) close(fd);
    errno = saved;
    return failf(err, "cannot write \"%s\" to %s: %s", value, path, reason(saved));
  }
  close(fd);
  return 0;
}

static bool has_file(const char *dir, const char *name) {
  char path[PATH_MAX];
  return join(path, dir, name) && access(path, F_OK) == 0;
}

/* The v2 directory, or NULL on a host without the unified tree. */
static const char *v2_dir(const struct oci_state *s) {
  for (int i = 0; i < s->dirs.count; i++)
    if (has_file(s->dirs.path[i], "cgroup.events")) return s->dirs.path[i];
  return NULL;
}

static const char *v1_freezer(const struct oci_state *s) {
  for (int i = 0; i < s->dirs.count; i++)
    if (has_file(s->dirs.path[i], "freezer.state")) return s->dirs.path[i];
  return NULL;
}

/* The value of key in a flat-keyed file (cgroup.events); false when it cannot be read. */
static bool keyed(const char *dir, const char *file, const char *key, char *value, size_t cap) {
  char text[1024];
  if (read_file(dir, file, text, sizeof(text)) < 0) return false;
  size_t klen = strlen(key);
  for (char *line = text; line != NULL && *line != '\0';) {
    char *nl = strchr(line, '\n');
    if (nl != NULL) *nl = '\0';
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
      snprintf(value, cap, "%s", line + klen + 1);
      return true;
    }
    line = nl != NULL ? nl + 1 : NULL;
  }
  return false;
}

bool cgroup_frozen(const struct oci_state *s) {
  char value[32];
  for (int i = 0; i < s->dirs.count; i++) {
    if (read_file(s->dirs.path[i], "cgroup.freeze", value, sizeof(value)) == 0 &&
        strcmp(value, "1") == 0)
      return true;
    if (read_file(s->dirs.path[i], "freezer.state", value, sizeof(value)) == 0 &&
        strcmp(value, "FROZEN") == 0)
      return true;
  }
  return false;
}

int cgroup_freeze(const struct oci_state *s, bool frozen, char *err) {
  const char *v2 = v2_dir(s), *v1 = v1_freezer(s);
  if (v2 == NULL && v1 == NULL)
    return failf(err, "cannot freeze: neither a cgroup2 tree nor a v1 freezer is mounted");
  long long deadline = now_ms() + SETTLE_MS;
  char value[32];
  if (v2 != NULL) {
    const char *want = frozen ? "1" : "0";
    if (write_file(v2, "cgroup.freeze", want, err) < 0) return FAILED;
    /* Done when cgroup.events says so (cgroup-v2.rst, "Core Interface Files"). */
    while (!keyed(v2, "cgroup.events", "frozen", value, sizeof(value)) ||
           strcmp(value, want) != 0) {
      if (now_ms() >= deadline)
        return failf(err, "%s/cgroup.events did not report frozen %s within %d ms", v2, want,
                     SETTLE_MS);
      sleep_ms(POLL_MS);
    }
    return 0;
  }
  /* FREEZING means some task has not stopped yet; writing FROZEN again retries them
   * (freezer-subsystem.rst). */
  const char *want = frozen ? "FROZEN" : "THAWED";
  for (;;) {
    if (write_file(v1, "freezer.state", want, err) < 0) return FAILED;
    if (read_file(v1, "freezer.state", value, sizeof(value)) < 0)
      return failf(err, "cannot read %s/freezer.state: %s", v1, reason(errno));
    if (strcmp(value, want) == 0) return 0;
    if (now_ms() >= deadline)
      return failf(err, "%s/freezer.state did not reach %s within %d ms", v1, want, SETTLE_MS);
    sleep_ms(POLL_MS);
  }
}

/* The pids a cgroup.procs file lists; 0 when it is gone, -1 on another error. */
static int read_procs(const char *file, pid_t *pids, int max) {
  static char text[MAX_PIDS * 8];
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  size_t n = 0;
  ssize_t r;
  while (n < sizeof(text) - 1 && (r = read(fd, text + n, sizeof(text) - 1 - n)) > 0)
    n += (size_t)r;
  close(fd);
  text[n] = '\0';
  int count = 0;
  for (char *p = text; *p != '\0' && count < max;) {
    char *end;
    long pid = strtol(p, &end, 10);
    if (end == p) break;
    pids[count++] = (pid_t)pid;
    p = end + strspn(end, "\n");
  }
  return count;
}

int cgroup_pids(const struct oci_state *s, pid_t *pids, int max) {
  for (int i = 0; i < s->procs.count; i++) {
    int n = read_procs(s->procs.path[i], pids, max);
    if (n > 0) return n;
  }
  return 0;
}

static int kill_listed(const char *procs, char *err) {
  static pid_t pids[MAX_PIDS];
  int n = read_procs(procs, pids, MAX_PIDS);
  for (int i = 0; i < n; i++)
    if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH)
      return failf(err, "cannot kill pid %d: %s", (int)pids[i], reason(errno));
  return n;
}

/* cgroup.kill (Linux 5.14) SIGKILLs the whole subtree at once, frozen tasks included; older
 * kernels get each listed pid until none is left. Done at `populated 0`. */
static int kill_v2(const char *dir, char *err) {
  char value[32], procs[PATH_MAX];
  bool has_kill = has_file(dir, "cgroup.kill");
  long long deadline = now_ms() + SETTLE_MS;
  join(procs, dir, "cgroup.procs");
  for (;;) {
    if (!keyed(dir, "cgroup.events", "populated", value, sizeof(value))) {
      /* Removed under us: nothing is left. */
      if (errno == ENOENT || errno == ENODEV) return 0;
      return failf(err, "cannot read %s/cgroup.events: %s", dir, reason(errno));
    }
    if (strcmp(value, "0") == 0) return 0;
    if (has_kill ? write_file(dir, "cgroup.kill", "1", err) < 0 : kill_listed(procs, err) < 0)
      return errno == ENOENT || errno == ENODEV ? 0 : FAILED;
    if (now_ms() >= deadline)
      return failf(err, "tasks of %s survived SIGKILL for %d ms", dir, SETTLE_MS);
    sleep_ms(POLL_MS);
  }
}

/* Without v2: each listed pid, frozen meanwhile when a freezer is there so that none can fork
 * (SIGKILL takes effect on thaw, freezer-subsystem.rst), until the list is empty. */
static int kill_v1(const struct oci_state *s, char *err) {
  static pid_t pids[MAX_PIDS];
  if (s->procs.count == 0) return 0;
  const char *procs = s->procs.path[0];
  bool can_freeze = v1_freezer(s) != NULL;
  long long deadline = now_ms() + SETTLE_MS;
  for (;;) {
    int n = read_procs(procs, pids, MAX_PIDS);
    if (n < 0) return failf(err, "cannot read %s: %s", procs, reason(errno));
    if (n == 0) return 0;
    if (can_freeze && cgroup_freeze(s, true, err) < 0) return FAILED;
    if (kill_listed(procs, err) < 0) return FAILED;
    if (can_freeze && cgroup_freeze(s, false, err) < 0) return FAILED;
    if (now_ms() >= deadline)
      return failf(err, "tasks of %s survived SIGKILL for %d ms", procs, SETTLE_MS);
    sleep_ms(POLL_MS);
  }
}

static int remove_dir(const char *dir, char *err) {
  long long deadline = now_ms() + RMDIR_MS;
  while (rmdir(dir) < 0) {
    if (errno == ENOENT) return 0;
    if (errno != EBUSY || now_ms() >= deadline)
      return failf(err, "cannot remove %s: %s", dir, reason(errno));
    sleep_ms(POLL_MS);
  }
  return 0;
}

int cgroup_destroy(const struct oci_state *s, char *err) {
  const char *v2 = v2_dir(s);
  if ((v2 != NULL ? kill_v2(v2, err) : kill_v1(s, err)) < 0) return FAILED;
  for (int i = 0; i < s->dirs.count; i++)
    if (remove_dir(s->dirs.path[i], err) < 0) return FAILED;
  /* A parent that still has children or tasks is someone else's to remove. */
  for (int i = 0; i < s->parents.count; i++)
    if (rmdir(s->parents.path[i]) < 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY)
      return failf(err, "cannot remove %s: %s", s->parents.path[i], reason(errno));
  return 0;
}
