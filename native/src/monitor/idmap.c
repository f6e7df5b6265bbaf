/*
 * Idmapped binds (TSD_OPF_IDMAP), the parent's half. mount_setattr(2) asks for CAP_SYS_ADMIN in
 * the user namespace of the filesystem's superblock (the host's) and over the idmapping's user
 * namespace, so the monitor makes each mount, detached (open_tree(OPEN_TREE_CLONE)), idmapped
 * to the child's own user namespace once its uid_map and gid_map are written. The fds go to the
 * child with "go"; the child attaches them in its own mount namespace (fsops.c), so the host's
 * namespace never holds one and a crash leaves none behind: a detached mount dies with its fds.
 * A mount with maps of its own (an OCI mount's uidMappings) is idmapped to a user namespace made
 * for it: a short-lived child of ours unshares it, we write its maps and keep an fd to it.
 */
#define _GNU_SOURCE
#include "monitor.h"

#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int idmapped_mount(const char *source, int userns_fd) {
  int fd = open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (fd < 0) return -1;
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd};
  if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

static int user_ns_of(pid_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
  return open(path, O_RDONLY | O_CLOEXEC);
}

/*
 * An fd of a new user namespace with these maps. The namespace outlives the child that made it
 * as long as the fd is open (user_namespaces(7)). The child only waits for EOF on a pipe.
 */
static int user_ns_with_maps(const char *uid_map, const char *gid_map, struct tsd_child_error *e) {
  int hold[2];
  if (pipe2(hold, O_CLOEXEC) < 0) return set_error(e, "idmap", "pipe");
  /* fork-like: no new stack, SIGCHLD on exit. */
  pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid == 0) {
    char c;
    close(hold[1]);
    while (read(hold[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  close(hold[0]);
  int fd = -1;
  if (pid < 0)
    set_error(e, "idmap", "clone");
  else if (write_proc_file(pid, "uid_map", uid_map, "idmap", e) == 0 &&
           write_proc_file(pid, "gid_map", gid_map, "idmap", e) == 0 && (fd = user_ns_of(pid)) < 0)
    set_error(e, "idmap", "user namespace");
  close(hold[1]);
  if (pid > 0)
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
  return fd;
}

/* One idmapped mount of op: to the child's namespace (child_ns) or to the op's own maps. */
static int op_mount(const struct tsd_fs_op *op, int child_ns, struct tsd_child_error *e) {
  int ns = op->uid_map == NULL ? child_ns : user_ns_with_maps(op->uid_map, op->gid_map, e);
  if (ns < 0) return -1;
  int fd = idmapped_mount(op->source, ns);
  if (fd < 0) set_error(e, "idmap", op->source);
  if (ns != child_ns) close(ns);
  return fd;
}

int idmap_make_mounts(const struct tsd_plan *p, pid_t pid, int *fds, struct tsd_child_error *e) {
  if (p->n_idmap_mounts == 0) return 0;
  int child_ns = -1;
  if ((p->namespaces & CLONE_NEWUSER) && (child_ns = user_ns_of(pid)) < 0) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
    return set_error(e, "idmap", path);
  }
  size_t made = 0;
  for (size_t i = 0; i < p->rootfs_ops.n && made < p->n_idmap_mounts; i++) {
    const struct tsd_fs_op *op = &p->rootfs_ops.v[i];
    if (!(op->flags & TSD_OPF_IDMAP)) continue;
    fds[made] = op_mount(op, child_ns, e);
    if (fds[made] < 0) {
      close_all(fds, made);
      if (child_ns >= 0) close(child_ns);
      return -1;
    }
    made++;
  }
  if (child_ns >= 0) close(child_ns);
  return 0;
}

int send_go(int sync_fd, const int *fds, size_t n) {
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * TSD_MAX_IDMAP_MOUNTS)];
  } control;
  struct iovec iov = {.iov_base = "g", .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (n > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
  }
  return sendmsg(sync_fd, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}
