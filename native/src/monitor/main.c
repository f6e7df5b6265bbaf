/*
 * tsdock-monitor [--log FILE [--log-max-size BYTES] [--log-max-file N]] [--attach SOCKET]
 * [--attach-fd FD] [--open-stdin] [--stdin-once] [--leave] [--auto-remove] [--await-cgroup]
 * [--console-socket PATH] [--status-fd FD] [--netns-fd FD] [--rootfs-fd FD]
 * [--events FILE --event-actor FIELDS] [--restart POLICY]
 * [--exit-command ARG]... [--health-plan FILE --health-interval MS --health-timeout MS
 * --health-retries N --health-start-period MS --health-start-interval MS [--health-on-failure
 * ACTION] [--stop-signal N] [--stop-timeout S]] PLAN_FILE: starts one container from a spawn plan
 * (include/plan.h), stays with it as its subreaper, forwards signals to it, restarts it as POLICY
 * says (restart.c), records how it ended, and exits.
 *
 * --events appends start, die and oom events to FILE (events.c), naming the container with
 * FIELDS (`"id":…,"name":…,"image":…`). --restart is Docker's no, on-failure[:N], always or
 * unless-stopped. --exit-command, repeated, is an argv started once the container is over for
 * good (exit.c). --auto-remove says the container is removed once it is over (`--rm`): its exit
 * file is written without fsync, as nothing of it is meant to outlive a machine crash.
 *
 * --health-plan is the exec plan of a health check, run every interval in the container's
 * namespaces (health.c), its state kept in health.json beside the exit file. ACTION (none, kill,
 * restart, stop) is what becoming unhealthy does; stop and restart send signal N first (SIGTERM
 * unless given) and SIGKILL 10 s later.
 *
 * With --await-cgroup the caller is still making the container's cgroup while the monitor starts:
 * before its first run places anything in that cgroup, the monitor waits for one byte on the
 * status fd (a child that needs nothing else made by the caller is cloned and starts its mounts
 * meanwhile; see spawn.c). The caller closing that fd instead (it failed, or died) ends the
 * monitor with an error line, its command never run.
 *
 * --netns-fd is a network namespace the caller made for the container (its plan makes one, and
 * no user namespace): its first run joins it rather than making one; restarts make their own.
 * --rootfs-fd is the mount onto the plan's rootfs, made by the caller as a detached mount (no
 * user namespace): the first run attaches it rather than mounting; restarts mount their own.
 *
 * With --leave (the OCI runtime's create and exec), the monitor exits as soon as the process has
 * exec'd, or, for a plan with a start socket, is set up and waiting for start: the process is
 * reparented to the caller's subreaper (containerd's shim), which reaps it. Nothing is forwarded,
 * recorded or removed then; the "started" line is the last one. A plan with a terminal sends its
 * pty master to the unix socket at PATH (runc's --console-socket), not to the monitor; without
 * --leave (a foreground `exec -t`) the monitor then stays as usual, only without the master.
 *
 * With --log, the container's stdout and stderr are pipes the monitor drains into FILE as
 * Docker json-file lines, rotated at BYTES (default: never) keeping N files (default 1); see
 * log.c. Without it, the container's stdout and stderr are the monitor's.
 *
 * A plan with a terminal gives the process a pty instead (core/terminal.c); the monitor holds
 * its master and logs what it prints (stream stdout). With a terminal, or with --log and
 * --attach or --attach-fd, it serves attach clients (attach.h): those that connect to SOCKET,
 * and the one already connected on FD. --open-stdin (without a terminal) makes the container's
 * stdin a pipe the clients write to; otherwise it is the monitor's. With --stdin-once, the end of
 * a client's input closes that pipe (Docker's StdinOnce); without it, the pipe stays open.
 *
 * Protocol. fds 0, 1 and 2 are the container's (a closed one is replaced by /dev/null first), and
 * so are the plan's preserved fds from 3 on. If the status fd (3 unless --status-fd) is open at
 * start, the monitor writes one JSON object per line to it (and never lets
 * the container inherit it):
 *
 *   line                                                      when
 *   {"type":"runtime-hooks","pid":P}                          a plan with runtime_hooks: the
 *                                                             child's namespaces exist; the
 *                                                             monitor waits for one byte back
 *                                                             on the status fd (EOF: give up)
 *   {"type":"started","pid":P,"startTime":T,                  the container exec'd; P is its
 *    "monitorStartTime":M}                                    pid in the monitor's namespace,
 *                                                             T and M its and the monitor's
 *                                                             /proc stat start times ("0":
 *                                                             unreadable)
 *   {"type":"error","step":S,"errno":N,"path":F,"message":M}  set-up failed; nothing is left
 *                                                             running and the cgroup dirs are
 *                                                             removed; then exit 1
 *   {"type":"exited","exitCode":C,"signal":G,"oomKilled":B,   the container exited (G is 0
 *    "cgroupRemoved":R}                                       unless a signal killed it, then
 *                                                             C is 128+G); after the exit file
 *                                                             is written and the cgroup dirs
 *                                                             are removed (R: all of them, so
 *                                                             the caller need not); then exit
 *
 *   S (the step that failed): start_socket setns clone uid_map gid_map cgroup oom_score_adj idmap
 *   sync runtime_hooks createContainer startContainer
 * userns unshare setsid propagation mount mkdir mknod symlink mask readonly chdir pivot_root
 *   sethostname loopback rlimit setgroups setgid setuid capabilities no_new_privs cwd exec,
 *   or monitor (its own set-up). "sync" means the child vanished during the handshake.
 *   F is what the step acted on (a mount's target, argv[0] for exec, "RLIMIT_NOFILE"), or "".
 *
 *   exit status   2: usage or undecodable plan (one "tsdock-monitor: ..." line on stderr);
 *                 1: set-up failed, or the exit file or a cgroup dir could not be written or
 *                    removed after the container exited; 0: otherwise.
 *
 * SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to the monitor are forwarded to the
 * container process. Note that the init of a pid namespace receives only the signals it handles
 * (pid_namespaces(7)); SIGKILL it always does.
 */
#define _GNU_SOURCE
#include "attach.h"
#include "health.h"
#include "lifecycle.h"
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PLAN_SIZE (64u << 20)
#define CAP_LAST_CAP_PATH "/proc/sys/kernel/cap_last_cap"

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

/* Without this, the pipes we open below could become the container's stdio. */
static void keep_stdio_open(void) {
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0) exit(2);
}

/* The plan file's bytes, or NULL with errno set. */
static uint8_t *read_file(const char *path, size_t *len) {
  struct stat st;
  uint8_t *buf = NULL;
  int saved;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  if (fstat(fd, &st) < 0) goto out;
  if (st.st_size > MAX_PLAN_SIZE) {
    errno = EFBIG;
    goto out;
  }
  buf = malloc((size_t)st.st_size + 1);
  if (buf == NULL) goto out;
  /* One byte more than its size: a plan that changes while we read it is not trusted. */
  ssize_t n = read(fd, buf, (size_t)st.st_size + 1);
  if (n != st.st_size) {
    errno = n < 0 ? errno : EIO;
    free(buf);
    buf = NULL;
  }
  *len = (size_t)st.st_size;
out:
  saved = errno;
  close(fd);
  errno = saved;
  return buf;
}

static int load_plan(const char *path, struct tsd_plan *plan) {
  size_t len = 0;
  char err[256];
  uint8_t *buf = read_file(path, &len);
  if (buf == NULL) {
    fprintf(stderr, "tsdock-monitor: %s: %s\n", path, strerror(errno));
    return -1;
  }
  int rc = tsd_plan_decode(buf, len, plan, err, sizeof(err));
  free(buf);
  if (rc < 0) fprintf(stderr, "tsdock-monitor: %s: %s\n", path, err);
  return rc;
}

static int read_cap_last_cap(unsigned *last) {
  char buf[16] = "";
  int fd = open(CAP_LAST_CAP_PATH, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return -1;
  unsigned long v = strtoul(buf, NULL, 10);
  /* The plan's masks are 64 bits wide. */
  *last = v < 63 ? (unsigned)v : 63;
  return 0;
}

/* Subreaper, SIGPIPE ignored, and the forwarded signals plus SIGCHLD taken by a signalfd. */
static int become_monitor(int *sfd) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
    sigaddset(&set, forwarded[i]);
  /* A status reader that went away must not kill the container's monitor. */
  signal(SIGPIPE, SIG_IGN);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 || sigprocmask(SIG_BLOCK, &set, NULL) < 0)
    return -1;
  *sfd = signalfd(-1, &set, SFD_CLOEXEC);
  return *sfd < 0 ? -1 : 0;
}

/*
 * Reaps every child that is done (orphans reparent to us; a health check's probe is ours); true
 * once pid is among them.
 */
static bool reap(pid_t pid, int *wstatus, struct tsd_health *health) {
  bool done = false;
  int st;
  pid_t got;
  while ((got = waitpid(-1, &st, WNOHANG)) > 0) {
    if (got == pid) {
      *wstatus = st;
      done = true;
    } else if (health != NULL) {
      health_reaped(health, got, st);
    }
  }
  return done;
}

/*
 * Forwards signals, drains the log pipes (when there is a log) and runs the health check (when
 * there is one) until the container process exits; returns its wait status.
 */
static int supervise(int sfd, pid_t pid, struct tsd_log *log, struct tsd_attach *attach,
                     struct tsd_health *health) {
  int wstatus = 0;
  for (;;) {
    /* 0: signals, 1-2: log pipes, 3: the health check's output, then the attach server's. */
    struct pollfd fds[4 + ATTACH_POLL_FDS] = {
        {.fd = sfd, .events = POLLIN}, {.fd = -1}, {.fd = -1}, {.fd = -1}};
    /* The primary attach client holds the output while it has no room for it. */
    bool room = attach == NULL || attach_output_room(attach);
    for (int s = 0; log != NULL && room && s < 2; s++)
      fds[s + 1] = (struct pollfd){.fd = log->pipes[s], .events = POLLIN};
    if (health != NULL) fds[3] = (struct pollfd){.fd = health_fd(health), .events = POLLIN};
    if (attach != NULL) attach_poll_fds(attach, fds + 4);
    int timeout = health != NULL ? health_poll_timeout(health) : -1;
    if (poll(fds, attach != NULL ? 4 + ATTACH_POLL_FDS : 4, timeout) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int s = 0; s < 2; s++)
      if (fds[s + 1].revents != 0) log_drain(log, s);
    if (fds[3].revents != 0) health_on_readable(health);
    if (attach != NULL) attach_on_poll(attach, fds + 4);
    if (health != NULL) health_tick(health);
    if (fds[0].revents == 0) continue;
    struct signalfd_siginfo si;
    ssize_t n = read(sfd, &si, sizeof(si));
    if (n < 0 && errno == EINTR) continue;
    if (n != sizeof(si)) break;
    if (si.ssi_signo == SIGCHLD) {
      if (reap(pid, &wstatus, health)) return wstatus;
    } else {
      kill(pid, (int)si.ssi_signo);
    }
  }
  /* The signalfd broke (it should not): still wait, without forwarding. */
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  return wstatus;
}

static void emit_die(const struct tsd_lifecycle *lc, const struct tsd_exit *x) {
  char extra[128];
  snprintf(extra, sizeof(extra), ",\"exitCode\":%d,\"signal\":%d,\"reason\":\"%s\"", x->exit_code,
           x->signal, x->reason);
  event_emit(lc, "die", extra);
}

/*
 * The container is over for good: its output flushed, its cgroup removed, the die event, its
 * exit recorded (then told to attached clients), and the exit command started.
 */
static int finish(const struct tsd_plan *p, const struct tsd_lifecycle *lc, struct tsd_log *log,
                  struct tsd_attach *attach, const struct tsd_exit *x, unsigned restarts,
                  bool die_emitted) {
  if (log != NULL) log_close(log);
  bool cgroup_removed = remove_cgroup_dirs(p) == 0;
  int rc = cgroup_removed ? 0 : 1;
  /* Before the exit file, which ends `stop`: its stop event comes after the die. */
  if (!die_emitted) emit_die(lc, x);
  if (p->exit_file != NULL && write_exit_file(p->exit_file, x->exit_code, x->signal, x->oom_killed,
                                              x->reason, restarts, !lc->auto_remove) < 0)
    rc = 1;
  status_exited(x->exit_code, x->signal, x->oom_killed, cgroup_removed);
  /* Attached clients learn the exit once it is recorded. */
  if (attach != NULL) attach_close(attach, x->exit_code);
  run_exit_command(lc);
  return rc;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Waits out the restart delay. False when the restart is off: a forwarded signal (`tsdock stop`
 * of a restarting container signals the monitor) or a stop request came meanwhile.
 */
static bool wait_restart(int sfd, const struct tsd_plan *p, uint64_t delay_ms) {
  uint64_t deadline = now_ms() + delay_ms;
  for (uint64_t now = now_ms(); now < deadline; now = now_ms()) {
    struct pollfd fd = {.fd = sfd, .events = POLLIN};
    int n = poll(&fd, 1, (int)(deadline - now));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    struct signalfd_siginfo si;
    if (read(sfd, &si, sizeof(si)) != sizeof(si)) continue;
    if (si.ssi_signo != SIGCHLD) return false;
    /* Orphans of the last run. */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
  return !stop_requested(p);
}

/* Set-up failed: nothing runs any more; remove what was made for the container and say why. */
static int fail_setup(const struct tsd_plan *p, const struct tsd_child_error *e) {
  remove_cgroup_dirs(p);
  status_error(e);
  return 1;
}

struct args {
  const char *path; /* --log FILE, or NULL */
  uint64_t max_size;
  unsigned max_files;
  const char *attach; /* --attach SOCKET, or NULL */
  int attach_fd;      /* --attach-fd FD: a client from the start, or -1 */
  bool open_stdin;    /* --open-stdin */
  bool stdin_once;    /* --stdin-once */
  bool leave;
  bool await_cgroup;          /* --await-cgroup */
  const char *console_socket; /* --console-socket PATH, or NULL */
  int status_fd;
  int netns_fd;  /* --netns-fd FD, or -1 */
  int rootfs_fd; /* --rootfs-fd FD, or -1 */
  struct tsd_lifecycle lc;
  const char *plan;
  struct tsd_plan *health_plan; /* decoded from lc.health.plan, or NULL */
};

/* A stream connection to the unix socket at path, or -1. */
static int connect_unix(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(addr.sun_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

/* The child sends its pty master to the console socket at path (NULL: no terminal). */
static pid_t spawn_to_console(const struct tsd_plan *plan, unsigned cap_last_cap, const char *path,
                              struct tsd_spawn how, struct tsd_child_error *e) {
  if (path != NULL && (how.console_fd = connect_unix(path)) < 0)
    return set_error(e, "terminal", path);
  pid_t pid = spawn_container(plan, cap_last_cap, &how, e);
  if (how.console_fd >= 0) close(how.console_fd);
  return pid;
}

/* --leave: the process is set up (or running); its caller's subreaper takes it from here. */
static int leave(const struct tsd_plan *plan, const char *console_socket) {
  struct tsd_child_error e;
  unsigned cap_last_cap;
  if (read_cap_last_cap(&cap_last_cap) < 0) {
    set_error(&e, "monitor", CAP_LAST_CAP_PATH);
    return fail_setup(plan, &e);
  }
  struct tsd_spawn how = {.console_fd = -1, .await_cgroup = NULL, .netns_fd = -1, .rootfs_fd = -1};
  pid_t pid = spawn_to_console(plan, cap_last_cap, console_socket, how, &e);
  if (pid < 0) return fail_setup(plan, &e);
  status_started(pid);
  return 0;
}

/*
 * The pty master comes from the child before it execs; a child that exec'd without sending it
 * cannot be, so the container is killed rather than left without a terminal.
 */
static pid_t spawn_with_terminal(const struct tsd_plan *plan, unsigned cap_last_cap,
                                 struct tsd_attach *attach, struct tsd_spawn how,
                                 struct tsd_child_error *e) {
  int console[2];
  if (attach_console_pair(console) < 0) return set_error(e, "terminal", "socketpair");
  how.console_fd = console[1];
  pid_t pid = spawn_container(plan, cap_last_cap, &how, e);
  close(console[1]);
  if (pid >= 0 && attach_receive_master(attach, console[0]) < 0) {
    set_error(e, "terminal", "console socket");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    pid = -1;
  }
  close(console[0]);
  return pid;
}

/* Everything after the plan is loaded; returns the monitor's exit status. */
static int monitor(const struct tsd_plan *plan, const struct args *la) {
  struct tsd_child_error e;
  unsigned cap_last_cap;
  int sfd;
  static struct tsd_log log;
  static struct tsd_attach attach;
  struct tsd_log *lp = NULL;
  struct tsd_attach *ap = NULL;
  if (la->path != NULL) {
    if (log_open(&log, la->path, la->max_size, la->max_files) < 0 || log_give_stdio(&log) < 0) {
      set_error(&e, "monitor", la->path);
      return fail_setup(plan, &e);
    }
    lp = &log;
  }
  if (read_cap_last_cap(&cap_last_cap) < 0) {
    set_error(&e, "monitor", CAP_LAST_CAP_PATH);
    return fail_setup(plan, &e);
  }
  if (become_monitor(&sfd) < 0) {
    set_error(&e, "monitor", "");
    return fail_setup(plan, &e);
  }
  /* A terminal's master that goes to a console socket is not ours to serve. */
  bool terminal = plan->terminal.enabled && la->console_socket == NULL;
  if (terminal || (!plan->terminal.enabled && (la->attach != NULL || la->attach_fd >= 0))) {
    if (attach_open(&attach, terminal, la->open_stdin, la->stdin_once, la->attach, la->attach_fd,
                    lp) < 0) {
      set_error(&e, "monitor", la->attach != NULL ? la->attach : "");
      return fail_setup(plan, &e);
    }
    ap = &attach;
  }
  static struct tsd_health health;
  struct tsd_health *hp = NULL;
  if (la->health_plan != NULL) {
    if (health_open(&health, &la->lc, la->health_plan, plan, cap_last_cap) < 0) {
      set_error(&e, "monitor", la->lc.health.plan);
      return fail_setup(plan, &e);
    }
    hp = &health;
  }
  const struct tsd_lifecycle *lc = &la->lc;
  uint64_t delay_ms = 0;
  for (unsigned restarts = 0;; restarts++) {
    /* A cgroup the caller is still making has no OOM kills yet: its count reads as 0. */
    uint64_t ooms = oom_kill_count(plan);
    /* The first run's cgroup may still be in the making; its network namespace and rootfs made
     * ahead. */
    struct tsd_spawn how = {.console_fd = -1,
                            .await_cgroup =
                                restarts == 0 && la->await_cgroup ? status_await_cgroup : NULL,
                            .netns_fd = restarts == 0 ? la->netns_fd : -1,
                            .rootfs_fd = restarts == 0 ? la->rootfs_fd : -1};
    pid_t pid;
    if (ap != NULL && attach_give_stdin(ap) < 0)
      pid = set_error(&e, "monitor", "stdin");
    else
      pid = terminal ? spawn_with_terminal(plan, cap_last_cap, ap, how, &e)
            : la->console_socket != NULL
                ? spawn_to_console(plan, cap_last_cap, la->console_socket, how, &e)
                : spawn_container(plan, cap_last_cap, &how, &e);
    /* Restarts make their own. */
    if (how.netns_fd >= 0) close(how.netns_fd);
    if (how.rootfs_fd >= 0) close(how.rootfs_fd);
    if (ap != NULL) attach_drop_stdin(ap);
    if (lp != NULL) log_drop_stdio(lp);
    if (pid < 0 && restarts == 0) {
      if (ap != NULL) attach_close(ap, -1);
      return fail_setup(plan, &e);
    }
    if (pid < 0) {
      /* A restart that cannot start ends the container, as a command that is not there would. */
      struct tsd_exit x = {.exit_code = strcmp(e.step, "exec") == 0 ? 127 : 125,
                           .reason = "exited"};
      return finish(plan, lc, lp, ap, &x, restarts - 1, false);
    }
    /* The caller records the first run's init itself; run.json names a restart's. */
    if (restarts == 0)
      status_started(pid);
    else
      write_run_file(plan, pid, restarts, NULL);
    event_emit(lc, "start", "");
    if (hp != NULL) health_begin(hp, pid);
    uint64_t began = now_ms();
    int wstatus = supervise(sfd, pid, lp, ap, hp);
    if (hp != NULL) health_end(hp);
    /* What the container wrote before it ended is in the pipes still (its other processes died
     * with it). */
    if (ap != NULL) attach_drain(ap);
    struct tsd_exit x = exit_of(plan, wstatus, oom_kill_count(plan) > ooms);
    if (x.oom_killed) event_emit(lc, "oom", "");
    enum tsd_health_action acted = hp != NULL ? hp->acted : TSD_HEALTH_NONE;
    const char *health_reason = hp != NULL ? health_exit_reason(hp) : NULL;
    if (health_reason != NULL && !x.oom_killed) x.reason = health_reason;
    /* --health-on-failure restart restarts whatever the policy; kill and stop end it. */
    bool restart = acted == TSD_HEALTH_RESTART ||
                   (acted == TSD_HEALTH_NONE && should_restart(lc, &x, restarts));
    if (stop_requested(plan) || !restart) return finish(plan, lc, lp, ap, &x, restarts, false);
    emit_die(lc, &x);
    delay_ms = acted == TSD_HEALTH_RESTART ? 0 : restart_delay_ms(delay_ms, now_ms() - began);
    write_run_file(plan, 0, restarts + 1, &x);
    if (!wait_restart(sfd, plan, delay_ms) || (lp != NULL && log_renew_stdio(lp) < 0))
      return finish(plan, lc, lp, ap, &x, restarts, true);
  }
}

/* The options above, then PLAN_FILE; -1 on a usage error. */
static int parse_args(int argc, char **argv, struct args *a) {
  int i = 1;
  for (; i < argc - 1 && strncmp(argv[i], "--", 2) == 0; i++) {
    if (strcmp(argv[i], "--leave") == 0) {
      a->leave = true;
      continue;
    }
    if (strcmp(argv[i], "--open-stdin") == 0) {
      a->open_stdin = true;
      continue;
    }
    if (strcmp(argv[i], "--stdin-once") == 0) {
      a->stdin_once = true;
      continue;
    }
    if (strcmp(argv[i], "--auto-remove") == 0) {
      a->lc.auto_remove = true;
      continue;
    }
    if (strcmp(argv[i], "--await-cgroup") == 0) {
      a->await_cgroup = true;
      continue;
    }
    char *end;
    unsigned long long v = strtoull(argv[i + 1], &end, 10);
    bool number = argv[i + 1][0] != '\0' && *end == '\0';
    int taken = lifecycle_arg(&a->lc, argv[i], argv[i + 1]);
    if (taken < 0) return -1;
    if (taken > 0) {
      i++;
      continue;
    }
    if (strcmp(argv[i], "--log") == 0)
      a->path = argv[i + 1];
    else if (strcmp(argv[i], "--log-max-size") == 0 && number)
      a->max_size = v;
    else if (strcmp(argv[i], "--log-max-file") == 0 && number && v >= 1 && v <= 1000)
      a->max_files = (unsigned)v;
    else if (strcmp(argv[i], "--status-fd") == 0 && number && v >= 3 && v <= 1100)
      a->status_fd = (int)v;
    else if (strcmp(argv[i], "--console-socket") == 0)
      a->console_socket = argv[i + 1];
    else if (strcmp(argv[i], "--attach") == 0)
      a->attach = argv[i + 1];
    else if (strcmp(argv[i], "--attach-fd") == 0 && number && v >= 3 && v <= INT_MAX &&
             fcntl((int)v, F_SETFD, FD_CLOEXEC) == 0)
      a->attach_fd = (int)v;
    else if (strcmp(argv[i], "--netns-fd") == 0 && number && v >= 3 && v <= INT_MAX &&
             fcntl((int)v, F_SETFD, FD_CLOEXEC) == 0)
      a->netns_fd = (int)v;
    else if (strcmp(argv[i], "--rootfs-fd") == 0 && number && v >= 3 && v <= INT_MAX &&
             fcntl((int)v, F_SETFD, FD_CLOEXEC) == 0)
      a->rootfs_fd = (int)v;
    else
      return -1;
    i++;
  }
  if (i != argc - 1 || (a->console_socket != NULL && a->attach != NULL) ||
      !lifecycle_complete(&a->lc))
    return -1;
  a->plan = argv[i];
  return 0;
}

int main(int argc, char **argv) {
  struct tsd_plan plan;
  struct args a = {.path = NULL,
                   .max_size = 0,
                   .max_files = 1,
                   .attach_fd = -1,
                   .leave = false,
                   .status_fd = 3,
                   .netns_fd = -1,
                   .rootfs_fd = -1};
  if (parse_args(argc, argv, &a) < 0) {
    fprintf(stderr, "tsdock-monitor: usage: tsdock-monitor [--log FILE [--log-max-size BYTES] "
                    "[--log-max-file N]] [--attach SOCKET] [--attach-fd FD] [--open-stdin] "
                    "[--stdin-once] [--leave] [--auto-remove] [--await-cgroup] "
                    "[--console-socket PATH] [--status-fd FD] [--netns-fd FD] [--rootfs-fd FD] "
                    "[--events FILE --event-actor FIELDS] [--restart POLICY] "
                    "[--exit-command ARG]... [--health-plan FILE "
                    "--health-interval MS --health-timeout MS --health-retries N "
                    "--health-start-period MS --health-start-interval MS [--health-on-failure "
                    "ACTION] [--stop-signal N] [--stop-timeout S]] PLAN_FILE\n");
    return 2;
  }
  status_init(a.status_fd);
  keep_stdio_open();
  if (load_plan(a.plan, &plan) < 0) return 2;
  static struct tsd_plan health_plan;
  if (a.lc.health.plan != NULL) {
    if (load_plan(a.lc.health.plan, &health_plan) < 0) {
      tsd_plan_free(&plan);
      return 2;
    }
    a.health_plan = &health_plan;
  }
  int rc = a.leave ? leave(&plan, a.console_socket) : monitor(&plan, &a);
  if (a.health_plan != NULL) tsd_plan_free(a.health_plan);
  tsd_plan_free(&plan);
  return rc;
}
