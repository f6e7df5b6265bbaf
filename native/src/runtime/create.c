#define _GNU_SOURCE
#include "create.h"
#include "cgroup.h"
#include "container.h"
#include "host.h"
#include "log.h"
#include "plan_encode.h"
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SPEC_FILE (1u << 20)
#define MAX_PRESERVE_FDS 1024

/* What create decided before doing anything. */
struct decided {
  char bundle[PATH_MAX], dir[PATH_MAX], root[PATH_MAX], console[PATH_MAX], pid_file[PATH_MAX];
  char monitor[PATH_MAX], parent[PATH_MAX], name[NAME_MAX + 1];
  unsigned preserve_fds;
  struct tsd_plan plan;
  struct spec_info info;
  struct layout layout;
};

static struct oci_spec spec;
static struct host host;
static struct decided d;
/* The cgroup as the verbs know it: cgroup_destroy undoes a create that failed late. */
static struct oci_state made;

/* posix.resolve(process.cwd(), p); false when it does not fit. */
static bool resolve_cwd(const char *p, char *out) {
  char cwd[PATH_MAX], both[PATH_MAX * 2];
  if (p[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL) return false;
  snprintf(both, sizeof(both), "%s/%s", p[0] == '/' ? "" : cwd, p);
  if (path_normalize(both, out, PATH_MAX) < 0) return false;
  size_t n = strlen(out);
  if (n > 1 && out[n - 1] == '/') out[n - 1] = '\0';
  return true;
}

static ssize_t read_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = 0;
  ssize_t r;
  while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
    n += (size_t)r;
  close(fd);
  return n == cap ? -1 : (ssize_t)n;
}

/* Everything create.ts checks before its first mkdir, and what this front end needs to take the
 * call: any doubt is TO_NODE. */
static int decide(const struct cli *c) {
  static char text[MAX_SPEC_FILE];
  char file[PATH_MAX + 16], exe[PATH_MAX];
  const char *fds = c->preserve_fds != NULL ? c->preserve_fds : "0";
  if (!oci_id_valid(c->id) || fds[0] == '\0' || strspn(fds, "0123456789") != strlen(fds) ||
      strlen(fds) > 5 || atoi(fds) > MAX_PRESERVE_FDS || c->root[0] != '/' ||
      (c->console_socket != NULL && c->console_socket[0] == '\0') ||
      (c->pid_file != NULL && c->pid_file[0] == '\0'))
    return TO_NODE;
  d.preserve_fds = (unsigned)atoi(fds);
  snprintf(file, sizeof(file), "%s/%s", c->root, c->id);
  if (path_normalize(c->root, d.root, sizeof(d.root)) < 0 ||
      path_normalize(file, d.dir, sizeof(d.dir)) < 0 ||
      !resolve_cwd(c->bundle != NULL ? c->bundle : ".", d.bundle) ||
      (c->console_socket != NULL && !resolve_cwd(c->console_socket, d.console)) ||
      (c->pid_file != NULL && !resolve_cwd(c->pid_file, d.pid_file)))
    return TO_NODE;
  /* The monitor beside this executable, as src/native.ts finds it. */
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n < 0) return TO_NODE;
  exe[n] = '\0';
  snprintf(d.monitor, sizeof(d.monitor), "%s/tsdock-monitor", dirname(exe));
  snprintf(file, sizeof(file), "%s/config.json", d.bundle);
  ssize_t len = read_file(file, text, sizeof(text));
  if (len < 0 || access(d.monitor, X_OK) < 0 || host_read(&host) < 0) return TO_NODE;
  struct spec_host facts = {d.bundle, &host.mounts, host.caps};
  if (spec_plan(&spec, text, (size_t)len, &facts, &d.plan, &d.info) < 0) return TO_NODE;
  const struct cgroup_limits *l = &d.info.limits;
  bool served = true;
  for (int k = 0; k < N_CONTROLLERS; k++)
    served = served && host.hierarchy.v1_of[k] >= 0;
  if (d.info.terminal != (c->console_socket != NULL) || !served ||
      l->n_devices + 12 > MAX_DEVICE_RULES ||
      cgroup_place(d.info.has_cgroups_path ? d.info.cgroups_path : NULL, c->id, d.parent,
                   sizeof(d.parent), d.name, sizeof(d.name)) < 0 ||
      hierarchy_layout(&host.hierarchy, d.parent, d.name, &d.layout) < 0 ||
      d.layout.count > MAX_CGROUP_PATHS)
    return TO_NODE;
  return 0;
}

/* Node's message for a failed fs call: "EACCES: permission denied, mkdir '/x'". */
static int call_failed(char *err, const char *call, const char *path) {
  return failf(err, "%s: %s, %s '%s'", errno_name(errno), reason(errno), call, path);
}

/* mkdirSync(root, { recursive: true, mode: 0o711 }). */
static int mkdir_all(const char *dir, char *err) {
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s", dir);
  for (char *p = path + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char saved = *p;
    *p = '\0';
    if (mkdir(path, 0711) < 0 && errno != EEXIST) return call_failed(err, "mkdir", dir);
    *p = saved;
    if (saved == '\0') return 0;
  }
}

/* record-file.ts writeFileAtomic: a temp file beside it, fsync'd, renamed over it. */
static int write_atomic(const char *path, const char *data, size_t len, char *err) {
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return call_failed(err, "open", tmp);
  if (write(fd, data, len) != (ssize_t)len || fsync(fd) < 0) {
    int saved = errno;
    close(fd);
    unlink(tmp);
    errno = saved;
    return call_failed(err, "write", tmp);
  }
  close(fd);
  if (rename(tmp, path) < 0) return call_failed(err, "rename", tmp);
  return 0;
}

/* Date.prototype.toISOString of now. */
static void iso_now(char *out, size_t cap) {
  struct timespec t;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &t);
  gmtime_r(&t.tv_sec, &tm);
  size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, cap - n, ".%03ldZ", t.tv_nsec / 1000000);
}

/* The cgroup's files, as create.ts records them and the verbs read them. */
static void record_cgroup(void) {
  made.procs.count = made.dirs.count = made.parents.count = 0;
  for (int i = 0; i < d.layout.count; i++) {
    const struct placement *p = &d.layout.p[i];
    snprintf(made.procs.path[made.procs.count++], PATH_MAX, "%s/cgroup.procs", p->dir);
    snprintf(made.dirs.path[made.dirs.count++], PATH_MAX, "%s", p->dir);
    /* index.ts: only the default parent is tsdock's to remove. */
    for (int k = p->n_parents - 1; strcmp(d.parent, "/tsdock") == 0 && k >= 0; k--)
      if (made.parents.count < MAX_CGROUP_PATHS)
        snprintf(made.parents.path[made.parents.count++], PATH_MAX, "%s", p->parents[k]);
  }
}

struct text {
  char *buf;
  size_t cap, n;
};

static void add(struct text *t, const char *s) {
  size_t len = strlen(s);
  if (t->n + len < t->cap) memcpy(t->buf + t->n, s, len + 1);
  t->n += len;
}

static void add_quoted(struct text *t, const char *s) {
  t->n += json_quote(s, t->n < t->cap ? t->buf + t->n : NULL, t->n < t->cap ? t->cap - t->n : 0);
}

static void add_paths(struct text *t, const char *key, const struct path_list *l, bool last) {
  add(t, "\"");
  add(t, key);
  add(t, "\":[");
  for (int i = 0; i < l->count; i++) {
    if (i > 0) add(t, ",");
    add_quoted(t, l->path[i]);
  }
  add(t, last ? "]" : "],");
}

/* state.ts StoredState as JSON.stringify writes it, key for key. */
static size_t state_json(const struct cli *c, pid_t pid, const char *start_time,
                         const char *created, char *out, size_t cap) {
  struct text t = {out, cap, 0};
  char number[24];
  snprintf(number, sizeof(number), "%d", (int)pid);
  const char *keys[] = {"{\"id\":", ",\"bundle\":", ",\"rootfs\":"};
  const char *values[] = {c->id, d.bundle, d.info.rootfs};
  for (int i = 0; i < 3; i++)
    add(&t, keys[i]), add_quoted(&t, values[i]);
  add(&t, ",\"pid\":"), add(&t, number);
  add(&t, ",\"startTime\":"), add_quoted(&t, start_time);
  add(&t, ",\"created\":"), add_quoted(&t, created);
  add(&t, ",\"annotations\":"), add(&t, d.info.annotations);
  add(&t, ",\"cgroup\":{\"parent\":"), add_quoted(&t, d.parent);
  add(&t, ",\"name\":"), add_quoted(&t, d.name);
  add(&t, "},\"cgroupPaths\":{");
  add_paths(&t, "procs", &made.procs, false);
  add_paths(&t, "dirs", &made.dirs, false);
  add_paths(&t, "parents", &made.parents, true);
  add(&t, "},\"hooks\":{}}\n");
  return t.n;
}

/* The monitor's `error` line as src/runtime/spawn.ts startError words it. */
static int status_error(const struct json_doc *doc, char *err) {
  char step[64] = "", path[PATH_MAX] = "";
  long long errnum = 0;
  json_string(doc, json_get(doc, 0, "step"), step, sizeof(step));
  json_string(doc, json_get(doc, 0, "path"), path, sizeof(path));
  json_long(doc, json_get(doc, 0, "errno"), &errnum);
  return start_failure(err, step, (int)errnum, path);
}

/*
 * launch.ts: `tsdock-monitor --leave [--console-socket S] --status-fd N PLAN` with this
 * process's stdio and preserved fds; the init's pid once it waits for start.
 */
static int launch(const char *plan_file, pid_t *init, char *err) {
  int sp[2];
  int status_fd = 3 + (int)d.preserve_fds;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
    return failf(err, "cannot start tsdock-monitor: socketpair %s", errno_name(errno));
  char fd_text[16];
  snprintf(fd_text, sizeof(fd_text), "%d", status_fd);
  char *argv[8];
  int n = 0;
  argv[n++] = d.monitor;
  argv[n++] = "--leave";
  if (d.console[0] != '\0') argv[n++] = "--console-socket", argv[n++] = d.console;
  argv[n++] = "--status-fd";
  argv[n++] = fd_text;
  argv[n++] = (char *)plan_file;
  argv[n] = NULL;
  pid_t monitor = fork();
  if (monitor < 0) {
    close(sp[0]), close(sp[1]);
    return failf(err, "cannot start tsdock-monitor: fork %s", errno_name(errno));
  }
  if (monitor == 0) {
    /* dup2 leaves the copy without FD_CLOEXEC; the fd already in place needs it cleared. */
    if (sp[1] == status_fd ? fcntl(sp[1], F_SETFD, 0) < 0 : dup2(sp[1], status_fd) < 0) _exit(127);
    execv(d.monitor, argv);
    _exit(127);
  }
  close(sp[1]);
  static char buf[65536];
  static struct json_token tokens[64];
  size_t have = 0;
  int rc = 1;
  while (rc > 0) {
    char *nl = memchr(buf, '\n', have);
    if (nl == NULL) {
      ssize_t r = have < sizeof(buf) ? read(sp[0], buf + have, sizeof(buf) - have) : 0;
      if (r < 0 && errno == EINTR) continue;
      if (r > 0) {
        have += (size_t)r;
        continue;
      }
      /* EOF before the init was set up: why the monitor ended. */
      int ws = 0;
      waitpid(monitor, &ws, 0);
      rc = WIFSIGNALED(ws)
               ? failf(err, "tsdock-monitor ended unexpectedly (SIG%s)", sigabbrev_np(WTERMSIG(ws)))
               : failf(err, "tsdock-monitor ended unexpectedly (exit %d)", WEXITSTATUS(ws));
      break;
    }
    struct json_doc doc;
    char type[32] = "";
    long long pid = 0;
    if (json_parse(&doc, buf, (size_t)(nl - buf), tokens, 64) == 0 &&
        json_string(&doc, json_get(&doc, 0, "type"), type, sizeof(type))) {
      if (strcmp(type, "error") == 0) rc = status_error(&doc, err);
      if (strcmp(type, "started") == 0 && json_long(&doc, json_get(&doc, 0, "pid"), &pid)) {
        *init = (pid_t)pid, rc = 0;
        /* The monitor leaves once the init is set up: reap it, as Node's child handle does. */
        waitpid(monitor, NULL, 0);
      }
    }
    have -= (size_t)(nl + 1 - buf);
    memmove(buf, nl + 1, have);
  }
  close(sp[0]);
  return rc;
}

/* The cgroup made, the init launched, the state recorded: create.ts's try block. */
static int run(const struct cli *c, const char *created, pid_t *pid, char *err) {
  uint8_t *bytes = NULL;
  size_t len = 0;
  char plan_file[PATH_MAX + 16], start_time[32] = "";
  static char state[MAX_STATE_FILE];
  if (cgroup_create(&d.layout, d.parent, &d.info.limits, err) < 0) return FAILED;
  record_cgroup();
  const char *procs[MAX_CGROUP_PATHS];
  for (int i = 0; i < made.procs.count; i++)
    procs[i] = made.procs.path[i];
  struct create_args a = {c->id, d.bundle, created, d.dir, procs, made.procs.count, d.preserve_fds};
  if (spec_finish_plan(&d.plan, &d.info, &a) < 0 || tsd_plan_encode(&d.plan, &bytes, &len) < 0)
    return failf(err, "out of memory");
  snprintf(plan_file, sizeof(plan_file), "%s/plan", d.dir);
  int fd = open(plan_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool written = fd >= 0 && write(fd, bytes, len) == (ssize_t)len;
  free(bytes);
  if (fd >= 0) close(fd);
  if (!written) return call_failed(err, "open", plan_file);
  if (c->debug) {
    char msg[NAME_MAX + 64];
    snprintf(msg, sizeof(msg), "create %s: starting the init", c->id);
    log_write(c->log, c->log_json, "debug", msg);
  }
  if (launch(plan_file, pid, err) < 0) return FAILED;
  unlink(plan_file);
  start_time_of(*pid, start_time, sizeof(start_time));
  size_t n = state_json(c, *pid, start_time, created, state, sizeof(state));
  if (n >= sizeof(state)) return failf(err, "the state of %s does not fit", c->id);
  snprintf(plan_file, sizeof(plan_file), "%s/%s", d.dir, STATE_FILE);
  if (write_atomic(plan_file, state, n, err) < 0) return FAILED;
  char number[24];
  snprintf(number, sizeof(number), "%d", (int)*pid);
  if (c->pid_file != NULL && write_atomic(d.pid_file, number, strlen(number), err) < 0)
    return FAILED;
  return 0;
}

int create_run(const struct cli *c, char *err) {
  int rc = decide(c);
  if (rc != 0) {
    tsd_plan_free(&d.plan);
    free(d.info.annotations);
    return rc;
  }
  char created[40];
  pid_t pid = 0;
  if (mkdir_all(d.root, err) < 0) return FAILED;
  if (mkdir(d.dir, 0711) < 0) {
    if (errno == EEXIST) return failf(err, "container with id \"%s\" already exists", c->id);
    return call_failed(err, "mkdir", d.dir);
  }
  iso_now(created, sizeof(created));
  made.dirs.count = 0;
  rc = run(c, created, &pid, err);
  if (rc < 0) {
    /* Nothing is left: no init, no cgroup, no state dir. */
    static char ignored[ERR_MAX];
    if (pid > 0) kill(pid, SIGKILL);
    if (made.dirs.count > 0) cgroup_destroy(&made, ignored);
    remove_state_dir(d.dir, ignored);
  }
  tsd_plan_free(&d.plan);
  free(d.info.annotations);
  return rc;
}
