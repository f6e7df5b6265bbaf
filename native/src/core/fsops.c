/*
 * The filesystem steps of a plan, run in the child's own mount namespace. Each op fails through
 * tsd_child_fail with the op's target as the path, so the user reads "mount /proc: ...".
 */
#define _GNU_SOURCE
#include "child.h"

#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PROPAGATION_FLAGS (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)

/*
 * The per-mount flags a remount must repeat: in a user namespace, nosuid/nodev/noexec and the
 * atime mode of a mount inherited from a more privileged namespace are locked, and a remount
 * that leaves any of them out fails with EPERM (mount(2), "EPERM"; mount_namespaces(7)).
 */
static int locked_flags(const char *path, unsigned long *flags) {
  struct statvfs sv;
  if (statvfs(path, &sv) < 0) return -1;
  static const struct {
    unsigned long st, ms;
  } map[] = {
      {ST_NOSUID, MS_NOSUID},   {ST_NODEV, MS_NODEV},           {ST_NOEXEC, MS_NOEXEC},
      {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
  };
  *flags = 0;
  for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
    if (sv.f_flag & map[i].st) *flags |= map[i].ms;
  /* Neither noatime nor relatime: strictatime, which mount(2) must be told explicitly. */
  if (!(sv.f_flag & (ST_NOATIME | ST_RELATIME))) *flags |= MS_STRICTATIME;
  return 0;
}

int tsd_remount_readonly(const char *path, unsigned long extra_flags) {
  unsigned long flags;
  if (locked_flags(path, &flags) < 0) return -1;
  return mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | flags | extra_flags, NULL);
}

/* mkdir -p of every directory above path (not path itself); existing ones are fine. */
static int make_parents(const char *path) {
  char buf[PATH_MAX];
  size_t len = strlen(path);
  if (len >= sizeof(buf)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, path, len + 1);
  for (char *slash = strchr(buf + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
    *slash = '/';
  }
  return 0;
}

static int make_dir(const char *path, mode_t mode) {
  if (make_parents(path) < 0) return -1;
  return mkdir(path, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static int make_file(const char *path) {
  if (make_parents(path) < 0) return -1;
  return mknod(path, S_IFREG | 0644, 0) < 0 && errno != EEXIST ? -1 : 0;
}

/* "" in a plan string stands for the NULL that mount(2) takes for "none". */
static const char *or_null(const char *s) {
  return s[0] == '\0' ? NULL : s;
}

/*
 * mount_fd: a detached mount (TSD_OPF_IDMAP) to attach instead; target may be a /proc/self/fd
 * link, which move_mount(2) follows only when told to.
 */
static int mount_at(const struct tsd_fs_op *op, const char *target, int mount_fd) {
  if (mount_fd >= 0)
    return move_mount(mount_fd, "", AT_FDCWD, target,
                      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS);
  /* A propagation flag makes mount(2) change the type only, ignoring the rest: do it after. */
  unsigned long flags = op->mount_flags & ~PROPAGATION_FLAGS;
  return mount(or_null(op->source), target, or_null(op->fstype), flags, or_null(op->data));
}

/* What follows the mount itself, on the path that now names the new mount. */
static int after_mount(const struct tsd_fs_op *op, const char *target) {
  unsigned long prop = op->mount_flags & PROPAGATION_FLAGS;
  unsigned long flags = op->mount_flags & ~PROPAGATION_FLAGS;
  if (prop && mount(NULL, target, NULL, prop | (flags & MS_REC), NULL) < 0) return -1;
  /* A new bind mount ignores MS_RDONLY and friends; only a remount applies them (mount(2)). */
  if (op->flags & TSD_OPF_READONLY)
    return tsd_remount_readonly(target, flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC));
  return 0;
}

static int do_mount(const struct tsd_fs_op *op, int mount_fd) {
  if ((op->flags & TSD_OPF_MKDIR_TARGET) && make_dir(op->target, 0755) < 0) return -1;
  if ((op->flags & TSD_OPF_MKFILE_TARGET) && make_file(op->target) < 0) return -1;
  if (mount_at(op, op->target, mount_fd) < 0) return -1;
  return after_mount(op, op->target);
}

/* The /proc/self/fd path of fd: mount(2) on it acts on what fd resolved to, not on a name. */
static void fd_path(char *buf, size_t len, int fd) {
  snprintf(buf, len, "/proc/self/fd/%d", fd);
}

static int close_keep_errno(int fd, int rc) {
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

/* Creates the target of op at rel in the root (parents too): a directory, file, node or link. */
static int create_in_root(int root, const char *rel, const struct tsd_fs_op *op, uint64_t resolve) {
  if (op->kind == TSD_OP_MOUNT && (op->flags & TSD_OPF_MKFILE_TARGET))
    return tsd_in_root_mkfile(root, rel, resolve);
  if (op->kind == TSD_OP_MOUNT) {
    int fd = tsd_in_root_mkdirs(root, rel, resolve);
    return fd < 0 ? -1 : close_keep_errno(fd, 0);
  }
  char buf[PATH_MAX];
  const char *name;
  int parent = tsd_in_root_parent(root, rel, buf, sizeof(buf), &name, resolve);
  if (parent < 0) return -1;
  int rc;
  if (op->kind == TSD_OP_MKDIR) {
    rc = mkdirat(parent, name, op->mode);
    if (rc < 0 && errno == EEXIST) {
      /* A directory, or a symlink to one (made now if need be, inside the root). */
      int fd = tsd_in_root_mkdirs(root, rel, resolve);
      rc = fd < 0 ? -1 : close_keep_errno(fd, 0);
    }
  } else if (op->kind == TSD_OP_MKNOD) {
    rc = mknodat(parent, name, op->mode, makedev(op->major, op->minor));
  } else {
    rc = symlinkat(op->source, parent, name);
  }
  return close_keep_errno(parent, rc < 0 && errno != EEXIST ? -1 : 0);
}

/*
 * An op on a path inside the container's root (before pivot_root): everything resolved there
 * (inroot.c), the mount made on the fd of what was resolved, never on a name a symlink could
 * redirect between the check and the use.
 */
static int run_in_root(int root, const char *rel, const struct tsd_fs_op *op, int mount_fd) {
  uint64_t resolve = (op->flags & TSD_OPF_NO_SYMLINKS) ? RESOLVE_NO_SYMLINKS : 0;
  bool creates =
      op->kind != TSD_OP_MOUNT || (op->flags & (TSD_OPF_MKDIR_TARGET | TSD_OPF_MKFILE_TARGET)) != 0;
  if (creates && create_in_root(root, rel, op, resolve) < 0) return -1;
  if (op->kind != TSD_OP_MOUNT) return 0;
  char path[64];
  uint64_t dir = (op->flags & TSD_OPF_MKDIR_TARGET) ? O_DIRECTORY : 0;
  int fd = tsd_in_root_open(root, rel, dir, resolve);
  if (fd < 0) return -1;
  fd_path(path, sizeof(path), fd);
  if (close_keep_errno(fd, mount_at(op, path, mount_fd)) < 0) return -1;
  /* The old fd names what the mount now covers: resolve again to reach the mount itself. */
  if ((op->mount_flags & PROPAGATION_FLAGS) == 0 && !(op->flags & TSD_OPF_READONLY)) return 0;
  fd = tsd_in_root_open(root, rel, 0, resolve);
  if (fd < 0) return -1;
  fd_path(path, sizeof(path), fd);
  return close_keep_errno(fd, after_mount(op, path));
}

/* An empty read-only tmpfs over a directory, /dev/null over anything else. */
static int mask(const char *target) {
  struct stat st;
  if (stat(target, &st) < 0) return errno == ENOENT ? 0 : -1;
  if (S_ISDIR(st.st_mode))
    return mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  return mount("/dev/null", target, NULL, MS_BIND, NULL);
}

static int make_readonly(const char *target) {
  if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0) return errno == ENOENT ? 0 : -1;
  return tsd_remount_readonly(target, 0);
}

/* One write(2) of the whole value, as sysctl(8) does: /proc/sys takes a value in one write. */
static int write_file(const char *target, const char *data) {
  int fd = open(target, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -1;
  size_t len = strlen(data);
  ssize_t n = write(fd, data, len);
  if (n >= 0 && (size_t)n != len) errno = EIO;
  return close_keep_errno(fd, n >= 0 && (size_t)n == len ? 0 : -1);
}

void tsd_fs_op_run(const struct tsd_child *c, const struct tsd_fs_op *op, struct tsd_root *root,
                   int mount_fd) {
  static const char *const steps[] = {
      [TSD_OP_MOUNT] = "mount",     [TSD_OP_MKDIR] = "mkdir", [TSD_OP_MKNOD] = "mknod",
      [TSD_OP_SYMLINK] = "symlink", [TSD_OP_MASK] = "mask",   [TSD_OP_READONLY] = "readonly",
      [TSD_OP_CHDIR] = "chdir",     [TSD_OP_WRITE] = "write",
  };
  int rc = 0;
  const char *rel = root == NULL ? NULL : tsd_in_root(root->path, op->target);
  bool in_root = rel != NULL && rel[0] != '\0' &&
                 (op->kind == TSD_OP_MOUNT || op->kind == TSD_OP_MKDIR ||
                  op->kind == TSD_OP_MKNOD || op->kind == TSD_OP_SYMLINK);
  if (in_root) {
    int root_fd = tsd_root_fd(root);
    if (root_fd < 0 || run_in_root(root_fd, rel, op, mount_fd) < 0)
      tsd_child_fail(c, steps[op->kind], op->target);
    return;
  }
  /* A mount at or above the root (the overlay on it, a remount of "/") changes what it names. */
  if (root != NULL && (op->kind == TSD_OP_MOUNT || op->kind == TSD_OP_READONLY))
    tsd_root_forget(root);
  switch (op->kind) {
  case TSD_OP_MOUNT:
    rc = do_mount(op, mount_fd);
    break;
  case TSD_OP_MKDIR:
    rc = make_dir(op->target, op->mode);
    break;
  case TSD_OP_MKNOD:
    rc = mknod(op->target, op->mode, makedev(op->major, op->minor)) < 0 && errno != EEXIST ? -1 : 0;
    break;
  case TSD_OP_SYMLINK:
    rc = symlink(op->source, op->target) < 0 && errno != EEXIST ? -1 : 0;
    break;
  case TSD_OP_MASK:
    rc = mask(op->target);
    break;
  case TSD_OP_READONLY:
    rc = make_readonly(op->target);
    break;
  case TSD_OP_CHDIR:
    rc = chdir(op->target);
    break;
  case TSD_OP_WRITE:
    rc = write_file(op->target, op->data);
    break;
  }
  if (rc < 0) tsd_child_fail(c, steps[op->kind], op->target);
}
