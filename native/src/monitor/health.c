/*
 * The health check. Every interval (start interval during the start period, until the first
 * success) the monitor forks a probe process that does what `tsdock exec` does — joins the
 * init's namespaces and cgroup and clones the check's exec plan (spawn.c) — with stdout and
 * stderr on a pipe back to the monitor, then waits for the check and exits with its status:
 *
 *   monitor                      probe (forked)                  check (in the container)
 *   fork, keeps the pipe's  ---> joins namespaces, clone   --->  execve(test)
 *   read end, polls it           waits: SIGCHLD -> _exit(status)
 *   timeout: SIGTERM        ---> SIGKILL to the check's process group, _exit
 *   reaps the probe: result
 *
 * The probe and not the monitor joins: setns(2) of a mount or pid namespace cannot be undone.
 * The check leads its own session and process group (child.c's setsid), so a timeout kills what
 * it started too, as long as that did not leave the group (setsid, setpgid).
 * A check that could not be started (not found, not executable) is no exit of the check: the
 * probe says why on a pipe of its own, and the result is Docker's for an exec that failed to
 * start, exit -1 with the reason as output.
 * A paused container is not checked (the check would freeze with it); a check it froze midway
 * is discarded at its timeout.
 * The result goes into DIR/health.json (Docker's State.Health: Status, FailingStreak, the last
 * 5 results with 4 KiB of output each), written atomically after every check. Status moves as
 * Docker's: a success is healthy and resets the streak; a failure counts unless the container
 * is still starting within its start period; `retries` failures in a row are unhealthy. A change
 * is a health_status event; becoming unhealthy applies --health-on-failure once per run.
 */
#define _GNU_SOURCE
#include "health.h"
#include "json.h"
#include "monitor.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Where the probe says why it could not start the check (fds 0-2 are the check's). */
#define PROBE_FAILURE_FD 3

static const char *const status_names[] = {"starting", "healthy", "unhealthy"};

static uint64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int health_open(struct tsd_health *h, const struct tsd_lifecycle *lc, const struct tsd_plan *plan,
                const struct tsd_plan *container, unsigned cap_last_cap) {
  memset(h, 0, sizeof(*h));
  h->lc = lc;
  h->plan = plan;
  h->container = container;
  h->cap_last_cap = cap_last_cap;
  h->out_fd = h->failure_fd = -1;
  if (!container_file(container, "health.json", h->file, sizeof(h->file))) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

/* Docker's json: {"Status":…,"FailingStreak":N,"Log":[{"Start","End","ExitCode","Output"}]}. */
static void save(const struct tsd_health *h) {
  /* Each output escaped at worst as \u00XX; freed at once, so an idle monitor stays small. */
  size_t cap = 512 + HEALTH_LOG_MAX * (6 * sizeof(h->log[0].output) + 256);
  struct json j = {.buf = malloc(cap), .cap = cap, .len = 0};
  if (j.buf == NULL) return;
  json_printf(&j, "{\"Status\":\"%s\",\"FailingStreak\":%u,\"Log\":[", status_names[h->status],
              h->failing_streak);
  for (unsigned i = 0; i < h->n_log; i++) {
    const struct tsd_health_result *r = &h->log[i];
    json_printf(&j, "%s{\"Start\":", i == 0 ? "" : ",");
    json_time(&j, &r->start, 9);
    json_printf(&j, ",\"End\":");
    json_time(&j, &r->end, 9);
    json_printf(&j, ",\"ExitCode\":%d,\"Output\":", r->exit_code);
    json_string_n(&j, r->output, r->len);
    json_printf(&j, "}");
  }
  json_printf(&j, "]}\n");
  /* A state that cannot be saved is seen as the last one saved; the check goes on. */
  json_write_file(&j, h->file, true);
  free(j.buf);
}

static void schedule(struct tsd_health *h, uint64_t now) {
  const struct tsd_health_config *c = &h->lc->health;
  bool in_start_period =
      h->status == TSD_HEALTH_STARTING && now - h->run_started_ms < c->start_period_ms;
  h->next_ms = now + (in_start_period ? c->start_interval_ms : c->interval_ms);
}

void health_begin(struct tsd_health *h, pid_t init) {
  h->init = init;
  h->status = TSD_HEALTH_STARTING;
  h->failing_streak = 0;
  h->n_log = 0;
  h->acted = TSD_HEALTH_NONE;
  h->kill_at_ms = 0;
  h->escalated = false;
  h->run_started_ms = monotonic_ms();
  schedule(h, h->run_started_ms);
  save(h);
}

int health_poll_timeout(const struct tsd_health *h) {
  uint64_t now = monotonic_ms();
  uint64_t at = UINT64_MAX;
  if (h->kill_at_ms != 0) at = h->kill_at_ms;
  if (h->acted == TSD_HEALTH_NONE) {
    uint64_t next = h->probe == 0 ? h->next_ms : h->timed_out ? UINT64_MAX : h->deadline_ms;
    if (next < at) at = next;
  }
  if (at == UINT64_MAX) return -1;
  return at <= now ? 0 : (int)(at - now);
}

int health_fd(const struct tsd_health *h) {
  return h->out_fd;
}

/* Keeps the first HEALTH_OUTPUT_MAX bytes; the rest is read and dropped. */
static void read_output(struct tsd_health *h) {
  struct tsd_health_result *r = &h->current;
  for (;;) {
    char scratch[512];
    bool room = r->len < HEALTH_OUTPUT_MAX;
    ssize_t n = room ? read(h->out_fd, r->output + r->len, HEALTH_OUTPUT_MAX - r->len)
                     : read(h->out_fd, scratch, sizeof(scratch));
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      if (room)
        r->len += (size_t)n;
      else
        h->truncated = true;
      continue;
    }
    if (n == 0 || errno != EAGAIN) {
      close(h->out_fd);
      h->out_fd = -1;
    }
    return;
  }
}

void health_on_readable(struct tsd_health *h) {
  if (h->out_fd >= 0) read_output(h);
}

/* The file under /proc/<pid>/ns/ of a CLONE_NEW* flag. */
static const char *ns_file(uint32_t type) {
  switch (type) {
  case CLONE_NEWUSER:
    return "user";
  case CLONE_NEWNS:
    return "mnt";
  case CLONE_NEWPID:
    return "pid";
  case CLONE_NEWNET:
    return "net";
  case CLONE_NEWIPC:
    return "ipc";
  case CLONE_NEWUTS:
    return "uts";
  case CLONE_NEWCGROUP:
    return "cgroup";
  }
  return "";
}

/* Why the check could not start, as Docker records an exec that failed to (exit -1). */
static void report_start_failure(int fd, const struct tsd_child_error *e) {
  char why[64];
  snprintf(why, sizeof(why), "%s", strerror(e->err));
  why[0] = (char)tolower((unsigned char)why[0]);
  if (strcmp(e->step, "exec") != 0)
    dprintf(fd, "unable to start health check process: %s %s: %s", e->step, e->path, why);
  else if (e->err == ENOENT && strchr(e->path, '/') == NULL)
    dprintf(fd, "exec: \"%s\": executable file not found in $PATH", e->path);
  else
    dprintf(fd, "exec: \"%s\": %s", e->path, why);
}

/* The probe process (see the top): never returns. */
static _Noreturn void probe_main(struct tsd_health *h, int out, int failure) {
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(125);
  if (failure != PROBE_FAILURE_FD && dup3(failure, PROBE_FAILURE_FD, O_CLOEXEC) < 0) _exit(125);
  /* The monitor's logs, terminal and status fd are not the probe's to hold (a paused check's
   * probe may live long). The check closes them anyway; failing here only leaves them open. */
  syscall(SYS_close_range, PROBE_FAILURE_FD + 1, ~0u, 0);
  /* The plan names the init of its creation; this run's init may be another process. */
  struct tsd_plan plan = *h->plan;
  struct tsd_ns_join joins[plan.n_ns_joins + 1];
  char paths[plan.n_ns_joins + 1][64];
  for (size_t i = 0; i < plan.n_ns_joins; i++) {
    snprintf(paths[i], sizeof(paths[i]), "/proc/%d/ns/%s", (int)h->init,
             ns_file(plan.ns_joins[i].type));
    joins[i] = (struct tsd_ns_join){.type = plan.ns_joins[i].type, .path = paths[i]};
  }
  plan.ns_joins = joins;
  struct tsd_child_error e;
  pid_t pid =
      spawn_container(&plan, h->cap_last_cap,
                      &(struct tsd_spawn){.console_fd = -1, .netns_fd = -1, .rootfs_fd = -1}, &e);
  if (pid < 0) {
    report_start_failure(PROBE_FAILURE_FD, &e);
    _exit(125);
  }
  /* SIGCHLD and SIGTERM are blocked (inherited from the monitor): wait for either. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  for (;;) {
    int sig = sigwaitinfo(&set, NULL);
    int st;
    if (sig == SIGTERM) {
      /* Its group: what the check started goes with it. Not waited for: a check frozen with its
       * container's cgroup is reaped by the monitor. */
      if (kill(-pid, SIGKILL) < 0) kill(pid, SIGKILL);
      _exit(137);
    }
    if (sig == SIGCHLD && waitpid(pid, &st, WNOHANG) == pid)
      _exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
  }
}

static void start_probe(struct tsd_health *h, uint64_t now) {
  int p[2] = {-1, -1}, f[2] = {-1, -1};
  struct tsd_health_result *r = &h->current;
  r->len = 0;
  clock_gettime(CLOCK_REALTIME, &r->start);
  h->probe_started_ms = now;
  h->deadline_ms = now + h->lc->health.timeout_ms;
  h->timed_out = false;
  h->discarded = false;
  h->truncated = false;
  if (pipe2(p, O_CLOEXEC) < 0 || pipe2(f, O_CLOEXEC | O_NONBLOCK) < 0) {
    r->len = (size_t)snprintf(r->output, sizeof(r->output), "tsdock: health check: pipe: %s",
                              strerror(errno));
    if (f[0] < 0 && p[0] >= 0) {
      close(p[0]);
      close(p[1]);
    }
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    close(f[0]);
    probe_main(h, p[1], f[1]);
  }
  close(p[1]);
  close(f[1]);
  if (pid < 0) {
    r->len = (size_t)snprintf(r->output, sizeof(r->output), "tsdock: health check: fork: %s",
                              strerror(errno));
    close(p[0]);
    close(f[0]);
    return;
  }
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  h->probe = pid;
  h->out_fd = p[0];
  h->failure_fd = f[0];
}

/* Go's time.Duration text for whole milliseconds, as Docker prints one: 500ms, 30s, 1.5s, 1m30s,
 * 1h0m0s. */
static void duration_text(uint64_t ms, char *out, size_t len) {
  /* Durations are checked to fit poll(2)'s int of milliseconds (src/runtime/healthcheck.ts). */
  uint32_t t = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
  unsigned h = t / 3600000u, m = t / 60000u % 60u, s = t / 1000u % 60u, frac = t % 1000u;
  if (t < 1000) {
    snprintf(out, len, "%ums", frac);
    return;
  }
  char sec[24];
  int digits = 3;
  for (; digits > 0 && frac % 10 == 0; digits--)
    frac /= 10;
  if (digits == 0)
    snprintf(sec, sizeof(sec), "%us", s);
  else
    snprintf(sec, sizeof(sec), "%u.%0*us", s, digits, frac);
  if (h > 0)
    snprintf(out, len, "%uh%um%s", h, m, sec);
  else if (m > 0)
    snprintf(out, len, "%um%s", m, sec);
  else
    snprintf(out, len, "%s", sec);
}

/* --health-on-failure, on becoming unhealthy. */
static void act(struct tsd_health *h, uint64_t now) {
  enum tsd_health_action a = h->lc->health.on_failure;
  if (a == TSD_HEALTH_NONE) return;
  h->acted = a;
  if (a == TSD_HEALTH_KILL) {
    kill(h->init, SIGKILL);
    return;
  }
  kill(h->init, h->lc->health.stop_signal > 0 ? h->lc->health.stop_signal : SIGTERM);
  h->kill_at_ms = now + h->lc->health.stop_grace_ms;
}

static void record(struct tsd_health *h, int exit_code, uint64_t now) {
  struct tsd_health_result *r = &h->current;
  clock_gettime(CLOCK_REALTIME, &r->end);
  r->exit_code = h->timed_out ? -1 : exit_code;
  /* As Docker: output it cut ends in "...", and a timeout's reason comes before what was said. */
  if (h->truncated) r->len += (size_t)snprintf(r->output + r->len, 4, "...");
  if (h->timed_out) {
    char d[64], prefix[HEALTH_OUTPUT_EXTRA + 32];
    duration_text(h->lc->health.timeout_ms, d, sizeof(d));
    size_t n = (size_t)snprintf(prefix, sizeof(prefix), "Health check exceeded timeout (%s)%s", d,
                                r->len > 0 ? ": " : "");
    memmove(r->output + n, r->output, r->len);
    memcpy(r->output, prefix, n);
    r->len += n;
  }
  if (h->n_log == HEALTH_LOG_MAX) {
    memmove(&h->log[0], &h->log[1], sizeof(h->log[0]) * (HEALTH_LOG_MAX - 1));
    h->n_log--;
  }
  h->log[h->n_log++] = *r;

  enum tsd_health_status before = h->status;
  const struct tsd_health_config *c = &h->lc->health;
  if (r->exit_code == 0) {
    h->failing_streak = 0;
    h->status = TSD_HEALTH_HEALTHY;
  } else if (h->status != TSD_HEALTH_STARTING ||
             h->probe_started_ms - h->run_started_ms >= c->start_period_ms) {
    if (++h->failing_streak >= c->retries) h->status = TSD_HEALTH_UNHEALTHY;
  }
  save(h);
  if (h->status != before) {
    char extra[64];
    snprintf(extra, sizeof(extra), ",\"status\":\"%s\"", status_names[h->status]);
    event_emit(h->lc, "health_status", extra);
    if (h->status == TSD_HEALTH_UNHEALTHY) act(h, now);
  }
  schedule(h, now);
}

void health_tick(struct tsd_health *h) {
  uint64_t now = monotonic_ms();
  if (h->kill_at_ms != 0 && now >= h->kill_at_ms) {
    kill(h->init, SIGKILL);
    h->kill_at_ms = 0;
    h->escalated = true;
  }
  if (h->acted != TSD_HEALTH_NONE) return;
  if (h->probe != 0 && !h->timed_out && now >= h->deadline_ms) {
    h->timed_out = true;
    h->discarded = cgroup_frozen(h->container);
    kill(h->probe, SIGTERM);
  } else if (h->probe == 0 && now >= h->next_ms && cgroup_frozen(h->container)) {
    /* A check would freeze with a paused container: it is skipped, as its time. */
    schedule(h, now);
  } else if (h->probe == 0 && now >= h->next_ms) {
    start_probe(h, now);
    /* A check that could not even be forked is a failed one. */
    if (h->probe == 0) record(h, -1, now);
  }
}

/* Whether the probe could not start the check: its reason is then the output. */
static bool take_start_failure(struct tsd_health *h) {
  if (h->failure_fd < 0) return false;
  struct tsd_health_result *r = &h->current;
  ssize_t n;
  do
    n = read(h->failure_fd, r->output, HEALTH_OUTPUT_MAX);
  while (n < 0 && errno == EINTR);
  close(h->failure_fd);
  h->failure_fd = -1;
  if (n <= 0) return false;
  r->len = (size_t)n;
  h->truncated = false;
  return true;
}

bool health_reaped(struct tsd_health *h, pid_t pid, int wstatus) {
  if (h->probe == 0 || pid != h->probe) return false;
  h->probe = 0;
  if (h->out_fd >= 0) read_output(h);
  if (h->out_fd >= 0) {
    /* Something the check left behind holds the pipe open: what it wrote so far is the output. */
    close(h->out_fd);
    h->out_fd = -1;
  }
  int code = WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus) : WEXITSTATUS(wstatus);
  if (take_start_failure(h)) code = -1;
  if (h->discarded)
    schedule(h, monotonic_ms());
  else if (h->acted == TSD_HEALTH_NONE)
    record(h, code, monotonic_ms());
  return true;
}

void health_end(struct tsd_health *h) {
  if (h->probe != 0) kill(h->probe, SIGTERM);
  h->probe = 0;
  if (h->out_fd >= 0) close(h->out_fd);
  if (h->failure_fd >= 0) close(h->failure_fd);
  h->out_fd = h->failure_fd = -1;
  h->kill_at_ms = 0;
}

const char *health_exit_reason(const struct tsd_health *h) {
  if (h->acted == TSD_HEALTH_KILL) return "health-kill";
  if (h->escalated) return "stop-timeout";
  return NULL;
}
