#define _GNU_SOURCE
#include "cgroup.h"
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* layout.ts's default parent: the only one whose parents tsdock removes. */
#define DEFAULT_PARENT "/tsdock"

static int mkdir_error(const char *dir, char *err) {
  if (errno == EEXIST)
    return failf(err,
                 "cgroup %s already exists: a container with this name is running or left it "
                 "behind",
                 dir);
  return failf(err, "cannot create cgroup %s: %s", dir, reason(errno));
}

/* A new v1 cpuset takes no task until cpus and mems are set: copied down when empty (v1.ts). */
static int copy_cpuset(const char *dir, const char *parent, char *err) {
  static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
  for (int i = 0; i < 2; i++) {
    char value[4096];
    if (read_file(dir, files[i], value, sizeof(value)) < 0)
      return failf(err, "cannot read %s/%s: %s", dir, files[i], reason(errno));
    if (value[0] != '\0') continue;
    if (read_file(parent, files[i], value, sizeof(value)) < 0)
      return failf(err, "cannot read %s/%s: %s", parent, files[i], reason(errno));
    if (write_file(dir, files[i], value, err) < 0) return FAILED;
  }
  return 0;
}

/* layout.ts createOnce: existing parents are fine, an existing container directory is not. */
static int create_once(const struct placement *p, bool cpuset, char *err) {
  const char *above = p->base;
  for (int i = 0; i < p->n_parents; i++) {
    if (mkdir(p->parents[i], 0755) < 0 && errno != EEXIST) return mkdir_error(p->parents[i], err);
    if (cpuset && copy_cpuset(p->parents[i], above, err) < 0) return FAILED;
    above = p->parents[i];
  }
  if (mkdir(p->dir, 0755) < 0) return mkdir_error(p->dir, err);
  if (cpuset && copy_cpuset(p->dir, above, err) < 0) {
    rmdir(p->dir);
    return FAILED;
  }
  return 0;
}

/* Another container's removal may rmdir an empty shared parent under us: one more attempt. */
static int create_placement(const struct placement *p, bool cpuset, char *err) {
  if (create_once(p, cpuset, err) == 0) return 0;
  return errno == ENOENT ? create_once(p, cpuset, err) : FAILED;
}

/* The rule as devices.allow / devices.deny take it: `c 1:3 rwm`, `a *:* rwm`. */
static int write_device_rule(const char *dir, const struct device_rule *r, char *err) {
  char line[64], major[24] = "*", minor[24] = "*";
  if (r->major >= 0) snprintf(major, sizeof(major), "%lld", r->major);
  if (r->minor >= 0) snprintf(minor, sizeof(minor), "%lld", r->minor);
  snprintf(line, sizeof(line), "%c %s:%s %s", r->type, major, minor, r->access);
  return write_file(dir, r->allow ? "devices.allow" : "devices.deny", line, err);
}

/* devices.ts DEFAULT_DEVICE_RULES: any node may be made, these opened. */
static const struct device_rule default_rules[] = {
    {false, 'a', -1, -1, "rwm"}, {true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},
    {true, 'c', 1, 3, "rwm"},    {true, 'c', 1, 5, "rwm"}, {true, 'c', 1, 7, "rwm"},
    {true, 'c', 1, 8, "rwm"},    {true, 'c', 1, 9, "rwm"}, {true, 'c', 5, 0, "rwm"},
    {true, 'c', 5, 1, "rwm"},    {true, 'c', 5, 2, "rwm"}, {true, 'c', 136, -1, "rwm"}};
#define N_DEFAULT_RULES (int)(sizeof(default_rules) / sizeof(default_rules[0]))

/* v1.ts applyLimits, in its order: devices (always: a new cgroup inherits its parent's list),
 * memory, cpu (the period first), cpuset, pids. */
static int apply_v1(const struct layout *l, int i, const struct cgroup_limits *lim, char *err) {
  const char *dir = l->p[i].dir;
  unsigned c = l->controllers[i];
  char value[64];
  if (c & (1u << C_DEVICES)) {
    /* The spec's rules, then the defaults after their deny-all (create.ts limitsOf). */
    for (int k = 0; lim->has_devices && k < lim->n_devices; k++)
      if (write_device_rule(dir, &lim->devices[k], err) < 0) return FAILED;
    for (int k = lim->has_devices ? 1 : 0; k < N_DEFAULT_RULES; k++)
      if (write_device_rule(dir, &default_rules[k], err) < 0) return FAILED;
  }
  if (c & (1u << C_MEMORY)) {
    if (lim->has_memory) {
      snprintf(value, sizeof(value), "%lld", lim->memory);
      if (write_file(dir, "memory.limit_in_bytes", value, err) < 0) return FAILED;
    }
    /* Docker's default swap is twice the memory; without swap accounting only an explicit
     * request is an error. */
    if (lim->has_swap || lim->has_memory) {
      if (!has_file(dir, "memory.memsw.limit_in_bytes")) {
        if (lim->has_swap)
          return failf(err,
                       "--memory-swap needs swap accounting, and this kernel has no "
                       "%s/memory.memsw.limit_in_bytes (boot with swapaccount=1)",
                       dir);
      } else {
        long long total = lim->has_swap ? lim->swap : lim->memory * 2;
        snprintf(value, sizeof(value), "%lld", total);
        if (write_file(dir, "memory.memsw.limit_in_bytes", value, err) < 0) return FAILED;
      }
    }
  }
  if (c & (1u << C_CPU)) {
    if (lim->has_cpu_quota) {
      snprintf(value, sizeof(value), "%lld", lim->cpu_period);
      if (write_file(dir, "cpu.cfs_period_us", value, err) < 0) return FAILED;
      snprintf(value, sizeof(value), "%lld", lim->cpu_quota);
      if (write_file(dir, "cpu.cfs_quota_us", value, err) < 0) return FAILED;
    }
    snprintf(value, sizeof(value), "%lld", lim->cpu_shares);
    if (lim->has_cpu_shares && write_file(dir, "cpu.shares", value, err) < 0) return FAILED;
  }
  if ((c & (1u << C_CPUSET)) && lim->cpuset_cpus[0] != '\0' &&
      write_file(dir, "cpuset.cpus", lim->cpuset_cpus, err) < 0)
    return FAILED;
  if ((c & (1u << C_PIDS)) && lim->has_pids) {
    snprintf(value, sizeof(value), lim->pids < 0 ? "max" : "%lld", lim->pids);
    if (write_file(dir, "pids.max", value, err) < 0) return FAILED;
  }
  return 0;
}

int cgroup_create(const struct layout *l, const char *parent, const struct cgroup_limits *limits,
                  char *err) {
  int made = 0, rc = 0;
  for (; made < l->count && rc == 0; made++)
    rc = create_placement(&l->p[made], (l->controllers[made] & (1u << C_CPUSET)) != 0, err);
  if (rc < 0) made--;
  for (int i = 0; i < l->count && rc == 0; i++)
    if (!l->v2[i]) rc = apply_v1(l, i, limits, err);
  if (rc == 0) return 0;
  /* Undo only what this call made: an existing directory belongs to someone else. Why create
   * failed is the message; a directory that stays is seen by the next create of the name. */
  static char ignored[ERR_MAX];
  for (int i = 0; i < made; i++) {
    remove_dir(l->p[i].dir, ignored);
    for (int k = l->p[i].n_parents - 1; strcmp(parent, DEFAULT_PARENT) == 0 && k >= 0; k--)
      rmdir(l->p[i].parents[k]);
  }
  return FAILED;
}
