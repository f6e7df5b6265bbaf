/*
 * The container child, step by step, in the order the kernel needs them. Only syscalls and reads
 * of the decoded plan from here on: no allocation, no stdio.
 */
#define _GNU_SOURCE
#include "child.h"

#include "plan.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const rlimit_names[RLIMIT_NLIMITS] = {
    [RLIMIT_CPU] = "RLIMIT_CPU",           [RLIMIT_FSIZE] = "RLIMIT_FSIZE",
    [RLIMIT_DATA] = "RLIMIT_DATA",         [RLIMIT_STACK] = "RLIMIT_STACK",
    [RLIMIT_CORE] = "RLIMIT_CORE",         [RLIMIT_RSS] = "RLIMIT_RSS",
    [RLIMIT_NPROC] = "RLIMIT_NPROC",       [RLIMIT_NOFILE] = "RLIMIT_NOFILE",
    [RLIMIT_MEMLOCK] = "RLIMIT_MEMLOCK",   [RLIMIT_AS] = "RLIMIT_AS",
    [RLIMIT_LOCKS] = "RLIMIT_LOCKS",       [RLIMIT_SIGPENDING] = "RLIMIT_SIGPENDING",
    [RLIMIT_MSGQUEUE] = "RLIMIT_MSGQUEUE", [RLIMIT_NICE] = "RLIMIT_NICE",
    [RLIMIT_RTPRIO] = "RLIMIT_RTPRIO",     [RLIMIT_RTTIME] = "RLIMIT_RTTIME",
};

_Noreturn void tsd_child_fail(const struct tsd_child *c, const char *step, const char *path) {
  struct tsd_child_error e = {.err = errno};
  strncpy(e.step, step, sizeof(e.step) - 1);
  strncpy(e.path, path, sizeof(e.path) - 1);
  /* One write of a few KiB to an empty pipe completes whole (pipe(7): capacity 64 KiB). */
  if (write(c->err_fd, &e, sizeof(e)) < 0) {
    /* The parent is gone; nobody is left to tell. */
  }
  _exit(1);
}

/*
 * Blocks until the parent says go; EOF means it gave up on us. The first "go" (id maps written)
 * carries the idmapped mounts (SCM_RIGHTS), in the order of the plan's TSD_OPF_IDMAP ops; want is
 * how many, 0 for a later "go" (placed in the cgroups, or the runtime's hooks done).
 */
static void wait_for_go(const struct tsd_child *c, size_t want) {
  char go;
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * TSD_MAX_IDMAP_MOUNTS)];
  } control;
  struct iovec iov = {.iov_base = &go, .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof(control)};
  ssize_t n;
  do
    n = recvmsg(c->sync_fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(1);
  if (want == 0) return;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  if ((msg.msg_flags & MSG_CTRUNC) || cm == NULL || cm->cmsg_type != SCM_RIGHTS ||
      cm->cmsg_len != CMSG_LEN(sizeof(int) * want)) {
    errno = EPROTO;
    tsd_child_fail(c, "idmap", "");
  }
  memcpy(c->idmap_fds, CMSG_DATA(cm), sizeof(int) * want);
}

/*
 * The OCI prestart and createRuntime hooks run in the runtime's namespaces before the
 * createContainer ones run in ours: tell the parent (an empty step, path "runtime-hooks") and
 * wait until it says go again.
 */
static void wait_for_runtime_hooks(const struct tsd_child *c) {
  struct tsd_child_error pause;
  memset(&pause, 0, sizeof(pause));
  strcpy(pause.path, TSD_RUNTIME_HOOKS_PAUSE);
  if (write(c->err_fd, &pause, sizeof(pause)) != (ssize_t)sizeof(pause)) _exit(1);
  wait_for_go(c, 0);
}

/*
 * In a new user namespace we run as an unmapped uid until we switch to the namespace's root
 * (now mapped): only then are the files and mounts we create owned by it (user_namespaces(7)).
 */
static void become_userns_root(const struct tsd_child *c) {
  if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) tsd_child_fail(c, "userns", "");
}

/*
 * The parent puts us in our cgroups while we make our mounts: moving a task between v1 cgroups
 * can wait out an RCU grace period, milliseconds the mounts need not wait for. What depends on
 * the cgroups waits here for the parent's word: the cgroup namespace (rooted where we are put),
 * and with it every cgroupfs mount, the hooks and execve.
 */
static void enter_cgroups(const struct tsd_child *c, bool *placed) {
  if (*placed) return;
  wait_for_go(c, 0);
  if ((c->plan->namespaces & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
    tsd_child_fail(c, "unshare", "cgroup");
  *placed = true;
}

static bool mounts_cgroupfs(const struct tsd_fs_op *op) {
  return op->kind == TSD_OP_MOUNT && strncmp(op->fstype, "cgroup", 6) == 0;
}

/* A mount onto the rootfs: the first is the one the caller may have made ahead (c->rootfs_fd). */
static bool mounts_rootfs(const struct tsd_child *c, const struct tsd_fs_op *op) {
  return op->kind == TSD_OP_MOUNT && c->plan->rootfs != NULL &&
         strcmp(op->target, c->plan->rootfs) == 0;
}

/* root: resolve targets below this path inside it (the host's before pivot_root, then "/"). */
static void run_ops(const struct tsd_child *c, const struct tsd_fs_ops *ops, const char *root,
                    bool *placed) {
  struct tsd_root r = {.path = root, .fd = -1};
  size_t idmapped = 0;
  bool attached = false;
  for (size_t i = 0; i < ops->n; i++) {
    if (mounts_cgroupfs(&ops->v[i])) enter_cgroups(c, placed);
    bool idmap = (ops->v[i].flags & TSD_OPF_IDMAP) != 0;
    bool made = !idmap && !attached && c->rootfs_fd >= 0 && mounts_rootfs(c, &ops->v[i]);
    attached = attached || made;
    int mount_fd = idmap ? c->idmap_fds[idmapped++] : made ? c->rootfs_fd : -1;
    tsd_fs_op_run(c, &ops->v[i], &r, mount_fd);
    if (idmap || made) close(mount_fd);
  }
  tsd_root_forget(&r);
}

/*
 * pivot_root(".", ".") stacks the old root on top of the new one at "/"; detaching it leaves only
 * the new root, with no directory to keep the old one in (pivot_root(2), NOTES).
 */
static void pivot_into(const struct tsd_child *c, const char *rootfs) {
  if (chdir(rootfs) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
      chdir("/") < 0)
    tsd_child_fail(c, "pivot_root", rootfs);
}

static void loopback_up(const struct tsd_child *c) {
  struct ifreq ifr = {.ifr_name = "lo"};
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) tsd_child_fail(c, "loopback", "lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) tsd_child_fail(c, "loopback", "lo");
  close(fd);
}

static void set_rlimits(const struct tsd_child *c) {
  for (size_t i = 0; i < c->plan->n_rlimits; i++) {
    const struct tsd_rlimit *r = &c->plan->rlimits[i];
    struct rlimit rl = {.rlim_cur = r->soft, .rlim_max = r->hard};
    if (setrlimit(r->resource, &rl) < 0) tsd_child_fail(c, "rlimit", rlimit_names[r->resource]);
  }
}

_Noreturn void tsd_child_main(const struct tsd_child *c) {
  const struct tsd_plan *p = c->plan;
  /* The parent has written our id maps; it places us in our cgroups meanwhile. */
  wait_for_go(c, p->n_idmap_mounts);
  /* Its network namespace was made ahead of the clone, which made none. */
  if (c->netns_fd >= 0) {
    if (setns(c->netns_fd, CLONE_NEWNET) < 0) tsd_child_fail(c, "setns", "network");
    close(c->netns_fd);
  }
  bool placed = false;
  if (p->namespaces & CLONE_NEWUSER) become_userns_root(c);
  if (setsid() < 0) tsd_child_fail(c, "setsid", "");
  /* Plan modes are meant literally; the process gets the inherited umask back before exec. */
  mode_t umask_before = umask(0);
  /* Before any mount: a shared "/" would propagate ours to the host, and pivot_root refuses it. */
  if (p->propagation != 0 && mount(NULL, "/", NULL, p->propagation, NULL) < 0)
    tsd_child_fail(c, "propagation", "/");
  /* No rootfs: the mount namespace joined (exec) is the container's, already pivoted. */
  if (p->rootfs != NULL) run_ops(c, &p->rootfs_ops, p->rootfs, &placed);
  enter_cgroups(c, &placed);
  if (p->rootfs != NULL) {
    if (p->runtime_hooks) wait_for_runtime_hooks(c);
    /* In the container's namespaces, its mounts made, the host's paths still reachable. */
    tsd_run_hooks(c, TSD_HOOK_CREATE_CONTAINER);
    pivot_into(c, p->rootfs);
  }
  /* After pivot_root, "/" is the container's root; still no magic links (/proc/self/fd/N). */
  run_ops(c, &p->container_ops, "/", &placed);
  if (p->readonly_rootfs && tsd_remount_readonly("/", 0) < 0) tsd_child_fail(c, "readonly", "/");
  umask(umask_before);
  if (p->hostname != NULL && sethostname(p->hostname, strlen(p->hostname)) < 0)
    tsd_child_fail(c, "sethostname", p->hostname);
  if (p->loopback_up) loopback_up(c);
  set_rlimits(c);
  close(c->sync_fd);
  /* After the mounts (the container's /dev/pts), before the ids change (chown of the pty). */
  if (p->terminal.enabled) tsd_setup_terminal(c);
  tsd_set_credentials(c);
  tsd_exec(c);
}
