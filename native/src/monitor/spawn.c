/*
 * Starting the container process: the parent's half of the handshake with child.c.
 *
 *   monitor (parent)                        child
 *   setns() into the plan's namespaces
 *   clone(NAMESPACES minus cgroup,
 *   into the cgroup2 cgroup)        ---->   blocks reading the sync pipe
 *   uid_map, gid_map, idmapped mounts
 *   "go" (+ the mounts' fds) on the
 *   sync socket                     ---->   mounts, up to the first cgroupfs one
 *   cgroup.procs, oom_score_adj
 *   "placed" on the sync socket     ---->   unshare(CLONE_NEWCGROUP), the rest ... execve
 *   reads the error pipe            <----   EOF (exec'd) or one struct tsd_child_error
 *
 * The child makes its mounts while it is being placed: the first move into a v1 cgroup after a
 * quiet moment waits out an RCU grace period (cgroup_threadgroup_rwsem), several milliseconds.
 *
 * When the caller is still making the cgroup (--await-cgroup), the wait for it comes before the
 * clone if the child is to be born in a cgroup2 cgroup or joins namespaces (the caller may be
 * making those too). Otherwise the child is cloned and let go first, and the wait comes right
 * before its placement: the clone (new namespaces) and its first mounts overlap the caller's
 * work instead of following it.
 *
 * With runtime hooks (OCI prestart, createRuntime), the child pauses once more after its mounts
 * (an empty struct tsd_child_error naming TSD_RUNTIME_HOOKS_PAUSE) until the caller ran them and
 * the parent says go again, and then runs its createContainer hooks.
 *
 * With a start socket (OCI create), the child stops right before execve and sends an empty
 * struct tsd_child_error ("ready"); the parent returns then, and `start` later connects to the
 * socket to let the child go (exec.c).
 */
#define _GNU_SOURCE
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

int set_error(struct tsd_child_error *e, const char *step, const char *path) {
  memset(e, 0, sizeof(*e));
  e->err = errno;
  snprintf(e->step, sizeof(e->step), "%s", step);
  snprintf(e->path, sizeof(e->path), "%s", path);
  return -1;
}

/*
 * All paths are opened first: once we are in another mount namespace, the rest would be
 * resolved there. A namespace is joined before the user namespace when it can be (we hold
 * capabilities over it while still in ours: a network namespace pinned by the host is owned by
 * the host's user namespace, which we leave when joining the container's, setns(2)); one that
 * refuses us then (EPERM) is joined after it, with the capabilities the user namespace gives.
 */
static int join_namespaces(const struct tsd_plan *p, struct tsd_child_error *e) {
  int fds[p->n_ns_joins + 1];
  bool deferred[p->n_ns_joins + 1];
  int rc = 0;
  size_t opened;
  for (opened = 0; opened < p->n_ns_joins; opened++) {
    deferred[opened] = false;
    fds[opened] = open(p->ns_joins[opened].path, O_RDONLY | O_CLOEXEC);
    if (fds[opened] < 0) {
      rc = set_error(e, "setns", p->ns_joins[opened].path);
      break;
    }
  }
  /* Pass 0 joins what it can but the user namespace, pass 1 that, pass 2 what pass 0 could not. */
  for (int pass = 0; pass < 3 && rc == 0; pass++) {
    for (size_t i = 0; i < p->n_ns_joins && rc == 0; i++) {
      const struct tsd_ns_join *j = &p->ns_joins[i];
      bool user = j->type == CLONE_NEWUSER;
      if (user != (pass == 1) || (pass == 2 && !deferred[i])) continue;
      if (setns(fds[i], (int)j->type) == 0) continue;
      if (pass == 0 && errno == EPERM)
        deferred[i] = true;
      else
        rc = set_error(e, "setns", j->path);
    }
  }
  for (size_t i = 0; i < opened; i++)
    close(fds[i]);
  return rc;
}

/* Writes data in one write(2): uid_map and gid_map accept nothing else (user_namespaces(7)). */
int write_proc_file(pid_t pid, const char *name, const char *data, const char *step,
                    struct tsd_child_error *e) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  size_t len = strlen(data);
  if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
    set_error(e, step, path);
    if (fd >= 0) close(fd);
    return -1;
  }
  return close(fd) < 0 ? set_error(e, step, path) : 0;
}

/* What only the parent can do for the child before it may run at all. */
static int write_id_maps(const struct tsd_plan *p, pid_t pid, struct tsd_child_error *e) {
  if (p->uid_map != NULL && write_proc_file(pid, "uid_map", p->uid_map, "uid_map", e) < 0)
    return -1;
  if (p->gid_map != NULL && write_proc_file(pid, "gid_map", p->gid_map, "gid_map", e) < 0)
    return -1;
  return 0;
}

/*
 * cgroup.procs files are opened before the namespaces are joined: in a container's mount
 * namespace (exec) these host paths name nothing, or the container's read-only view. (A child
 * cloned before its cgroup was made joins none: they are opened after the clone then.)
 */
static int open_procs_files(const struct tsd_plan *p, int *fds, struct tsd_child_error *e) {
  for (size_t i = 0; i < p->cgroup_procs.n; i++) {
    fds[i] = open(p->cgroup_procs.v[i], O_WRONLY | O_CLOEXEC);
    if (fds[i] < 0) {
      set_error(e, "cgroup", p->cgroup_procs.v[i]);
      while (i-- > 0) {
        close(fds[i]);
        fds[i] = -1;
      }
      return -1;
    }
  }
  return 0;
}

/* What only the parent can do for the child before it may use its cgroups or execve. */
static int place_child(const struct tsd_plan *p, const int *procs_fds, pid_t pid,
                       struct tsd_child_error *e) {
  char num[16];
  snprintf(num, sizeof(num), "%d", (int)pid);
  for (size_t i = 0; i < p->cgroup_procs.n; i++) {
    if (procs_fds[i] < 0) continue; /* born there (clone3) */
    ssize_t n = write(procs_fds[i], num, strlen(num));
    if (n != (ssize_t)strlen(num)) return set_error(e, "cgroup", p->cgroup_procs.v[i]);
  }
  if (p->has_oom_score_adj) {
    snprintf(num, sizeof(num), "%d", (int)p->oom_score_adj);
    if (write_proc_file(pid, "oom_score_adj", num, "oom_score_adj", e) < 0) return -1;
  }
  return 0;
}

static void reap(pid_t pid) {
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
}

/* Reads the child's verdict: 0 on EOF (it exec'd) or ready, 1 when it paused for the runtime's
 * hooks, else -1 with *e filled. */
static int read_verdict(int fd, struct tsd_child_error *e) {
  size_t got = 0;
  while (got < sizeof(*e)) {
    ssize_t n = read(fd, (char *)e + got, sizeof(*e) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return set_error(e, "sync", "");
    if (n == 0) break;
    got += (size_t)n;
  }
  if (got == 0) return 0;
  if (got < sizeof(*e)) {
    errno = EPROTO;
    return set_error(e, "sync", "");
  }
  if (e->step[0] == '\0') {
    e->path[sizeof(e->path) - 1] = '\0';
    return strcmp(e->path, TSD_RUNTIME_HOOKS_PAUSE) == 0 ? 1 : 0; /* else ready: waits for start */
  }
  e->step[sizeof(e->step) - 1] = '\0';
  e->path[sizeof(e->path) - 1] = '\0';
  return -1;
}

/*
 * A placement that fails while the child sets itself up may be the child's doing: it failed and
 * exited (ESRCH, or EPIPE on "placed"). Its own report, when it sent one, says why.
 */
static int placement_failed(pid_t pid, int err_fd, struct tsd_child_error *e) {
  struct tsd_child_error own;
  kill(pid, SIGKILL);
  if (read_verdict(err_fd, &own) < 0 && strcmp(own.step, "sync") != 0) *e = own;
  return -1;
}

/*
 * Lets the child go, with its idmapped mounts, places it while it makes its mounts, and waits
 * for its verdict, letting it go again after the caller ran the runtime's hooks when it pauses
 * for them.
 */
static int release(pid_t pid, int sync_fd, int err_fd, const struct tsd_plan *p, int *procs_fds,
                   int (*await_cgroup)(void), struct tsd_child_error *e) {
  int idmap_fds[p->n_idmap_mounts + 1];
  if (write_id_maps(p, pid, e) < 0) return -1;
  /* After the maps: an idmapping takes the namespace's mapping as it is at mount_setattr. */
  if (idmap_make_mounts(p, pid, idmap_fds, e) < 0) return -1;
  int sent = send_go(sync_fd, idmap_fds, p->n_idmap_mounts);
  close_all(idmap_fds, p->n_idmap_mounts);
  if (sent < 0) return set_error(e, "sync", "");
  if (await_cgroup != NULL && await_cgroup() < 0) {
    errno = ECANCELED;
    set_error(e, "cgroup", "");
    return placement_failed(pid, err_fd, e);
  }
  if (await_cgroup != NULL && open_procs_files(p, procs_fds, e) < 0)
    return placement_failed(pid, err_fd, e);
  if (place_child(p, procs_fds, pid, e) < 0) return placement_failed(pid, err_fd, e);
  if (send(sync_fd, "p", 1, MSG_NOSIGNAL) != 1) {
    set_error(e, "sync", "");
    return placement_failed(pid, err_fd, e);
  }
  int rc = read_verdict(err_fd, e);
  if (rc == 1) {
    if (status_runtime_hooks(pid) < 0) return set_error(e, "runtime_hooks", "");
    if (write(sync_fd, "g", 1) != 1) return set_error(e, "sync", "");
    rc = read_verdict(err_fd, e);
  }
  return rc == 1 ? set_error(e, "sync", "") : rc;
}

/*
 * The directory of the plan's cgroup2 procs file, if it has one (its index in *index), for
 * clone3(CLONE_INTO_CGROUP); -1 when there is none or it cannot be opened.
 */
static int open_v2_cgroup(const struct tsd_plan *p, const int *procs_fds, size_t *index) {
  for (size_t i = 0; i < p->cgroup_procs.n; i++) {
    struct statfs sf;
    if (fstatfs(procs_fds[i], &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC) continue;
    const char *path = p->cgroup_procs.v[i];
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (slash == NULL || slash - path >= (ptrdiff_t)sizeof(dir)) return -1;
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    *index = i;
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  return -1;
}

/*
 * fork-like: no new stack, SIGCHLD on exit. Born in its cgroup2 cgroup when the kernel can
 * (5.7+): a task never moved waits for no RCU grace period, which on a pure v2 host is the whole
 * placement. Else, or when the kernel refuses that cgroup, the write to cgroup.procs places it.
 */
static pid_t clone_child(unsigned long flags, int cgroup_fd, bool *born_in_cgroup) {
  *born_in_cgroup = false;
  if (cgroup_fd >= 0) {
    struct clone_args args = {
        .flags = flags | CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)cgroup_fd};
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
    if (pid >= 0) {
      *born_in_cgroup = true;
      return pid;
    }
  }
  return (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
}

/*
 * The socket `start` connects to, made before any namespace is joined: its path is the host's.
 * A socket file left by an earlier attempt is replaced.
 */
static int listen_for_start(const char *path, struct tsd_child_error *e) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(addr.sun_path)) {
    errno = ENAMETOOLONG;
    return set_error(e, "start_socket", path);
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return set_error(e, "start_socket", path);
  unlink(path);
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
    set_error(e, "start_socket", path);
    close(fd);
    return -1;
  }
  return fd;
}

void close_all(const int *fds, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (fds[i] >= 0) close(fds[i]);
}

/* Undoes what spawn_container opened before the clone. */
static pid_t abandon(const struct tsd_plan *p, const int *procs_fds, int start_fd) {
  close_all(procs_fds, p->cgroup_procs.n);
  if (start_fd >= 0) {
    close(start_fd);
    unlink(p->start_socket);
  }
  return -1;
}

/* Whether the cgroup2 hierarchy holds path: judged by its nearest ancestor that exists yet. */
static bool on_cgroup2(const char *path) {
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) return false;
  for (char *slash = strrchr(dir, '/'); slash != NULL && slash != dir; slash = strrchr(dir, '/')) {
    *slash = '\0';
    struct statfs sf;
    if (statfs(dir, &sf) == 0) return sf.f_type == CGROUP2_SUPER_MAGIC;
    if (errno != ENOENT) return false;
  }
  return false;
}

/* See the top: whether the child can be cloned while the caller still makes its cgroup. */
static bool clones_before_cgroup(const struct tsd_plan *p) {
  if (p->n_ns_joins > 0) return false;
  for (size_t i = 0; i < p->cgroup_procs.n; i++)
    if (on_cgroup2(p->cgroup_procs.v[i])) return false;
  return true;
}

/* Whether the caller's network namespace stands in for the one the plan's clone would make. */
static bool joins_made_netns(const struct tsd_plan *p, int netns_fd) {
  return netns_fd >= 0 && (p->namespaces & CLONE_NEWNET) && !(p->namespaces & CLONE_NEWUSER) &&
         p->n_ns_joins == 0;
}

/* Whether the caller's detached mount stands in for the plan's own mount onto its rootfs. */
static bool attaches_made_rootfs(const struct tsd_plan *p, int rootfs_fd) {
  return rootfs_fd >= 0 && p->rootfs != NULL && !(p->namespaces & CLONE_NEWUSER);
}

pid_t spawn_container(const struct tsd_plan *p, unsigned cap_last_cap, const struct tsd_spawn *how,
                      struct tsd_child_error *e) {
  int (*await_cgroup)(void) = how->await_cgroup;
  int netns_fd = joins_made_netns(p, how->netns_fd) ? how->netns_fd : -1;
  int rootfs_fd = attaches_made_rootfs(p, how->rootfs_fd) ? how->rootfs_fd : -1;
  int sync[2], err[2];
  int procs_fds[p->cgroup_procs.n + 1];
  int idmap_slots[p->n_idmap_mounts + 1];
  int start_fd = -1;
  /* Non-NULL: the wait that is left for release(), right before the placement. */
  int (*await_later)(void) = NULL;
  for (size_t i = 0; i < p->cgroup_procs.n; i++)
    procs_fds[i] = -1;
  if (await_cgroup != NULL && clones_before_cgroup(p)) {
    await_later = await_cgroup;
  } else {
    if (await_cgroup != NULL && await_cgroup() < 0) {
      errno = ECANCELED;
      return set_error(e, "cgroup", "");
    }
    if (open_procs_files(p, procs_fds, e) < 0) return -1;
  }
  size_t v2_index = 0;
  int v2_fd = await_later != NULL ? -1 : open_v2_cgroup(p, procs_fds, &v2_index);
  if (p->start_socket != NULL && (start_fd = listen_for_start(p->start_socket, e)) < 0) {
    if (v2_fd >= 0) close(v2_fd);
    return abandon(p, procs_fds, -1);
  }
  if (join_namespaces(p, e) < 0) {
    if (v2_fd >= 0) close(v2_fd);
    return abandon(p, procs_fds, start_fd);
  }
  /* A socket, not a pipe: "go" carries the idmapped mounts' fds. */
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0 || pipe2(err, O_CLOEXEC) < 0) {
    set_error(e, "clone", "pipe");
    if (v2_fd >= 0) close(v2_fd);
    return abandon(p, procs_fds, start_fd);
  }
  /* The cgroup namespace is the child's to create; a network namespace made ahead, to join. */
  bool born_in_cgroup;
  unsigned long made_elsewhere = CLONE_NEWCGROUP | (netns_fd >= 0 ? CLONE_NEWNET : 0);
  pid_t pid = clone_child(p->namespaces & ~made_elsewhere, v2_fd, &born_in_cgroup);
  if (v2_fd >= 0) close(v2_fd);
  if (pid < 0) {
    set_error(e, "clone", "");
    return abandon(p, procs_fds, start_fd);
  }
  if (pid > 0 && born_in_cgroup) {
    close(procs_fds[v2_index]);
    procs_fds[v2_index] = -1;
  }
  if (pid == 0) {
    close(sync[1]);
    close(err[0]);
    struct tsd_child c = {.plan = p,
                          .sync_fd = sync[0],
                          .idmap_fds = idmap_slots,
                          .err_fd = err[1],
                          .start_fd = start_fd,
                          .cap_last_cap = cap_last_cap,
                          .console_fd = how->console_fd,
                          .netns_fd = netns_fd,
                          .rootfs_fd = rootfs_fd};
    tsd_child_main(&c);
  }
  close(sync[0]);
  close(err[1]);
  int rc = release(pid, sync[1], err[0], p, procs_fds, await_later, e);
  close(sync[1]);
  close(err[0]);
  if (rc < 0) {
    /* Before "go" closing the sync pipe would do; after it, only a kill stops the child. */
    kill(pid, SIGKILL);
    reap(pid);
    return abandon(p, procs_fds, start_fd);
  }
  close_all(procs_fds, p->cgroup_procs.n);
  if (start_fd >= 0) close(start_fd);
  return pid;
}
