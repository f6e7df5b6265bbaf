/*
 * Idmapped binds (TSD_OPF_IDMAP), the parent's half. mount_setattr(2) asks for CAP_SYS_ADMIN in
 * the user namespace of the filesystem's superblock (the host's) and over the idmapping's user
 * namespace, so the monitor makes each mount, detached (open_tree(OPEN_TREE_CLONE)), idmapped
 * to the child's own user namespace once its uid_map and gid_map are written. The fds go to the
 * child with "go"; the child attaches them in its own mount namespace (fsops.c), so the host's
 * namespace never holds one and a crash leaves none behind: a detached mount dies with its fds.
 */
#define _GNU_SOURCE
#include "monitor.h"

#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
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

int idmap_make_mounts(const struct tsd_plan *p, pid_t pid, int *fds, struct tsd_child_error *e) {
  if (p->n_idmap_mounts == 0) return 0;
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
  int userns_fd = open(path, O_RDONLY | O_CLOEXEC);
  if (userns_fd < 0) return set_error(e, "idmap", path);
  size_t made = 0;
  for (size_t i = 0; i < p->rootfs_ops.n && made < p->n_idmap_mounts; i++) {
    const struct tsd_fs_op *op = &p->rootfs_ops.v[i];
    if (!(op->flags & TSD_OPF_IDMAP)) continue;
    fds[made] = idmapped_mount(op->source, userns_fd);
    if (fds[made] < 0) {
      set_error(e, "idmap", op->source);
      close_all(fds, made);
      close(userns_fd);
      return -1;
    }
    made++;
  }
  close(userns_fd);
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
