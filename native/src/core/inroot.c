/*
 * Paths inside the container's root. An image controls every name under its root, and a
 * symlink there ("/etc -> /", "dev -> ../../../tmp") must not make a mount, mkdir or mknod land
 * on the host. So every component is resolved with openat2(2) RESOLVE_IN_ROOT: ".." and absolute
 * symlinks stop at the container's root, as they will after pivot_root, and magic links
 * (/proc/self/fd/N, /proc/self/root) are refused. Missing directories are made one component at
 * a time with mkdirat(2), relative to a parent itself resolved in the root; a dangling symlink
 * on the way is followed by making its target, inside the root too.
 */
#define _GNU_SOURCE
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
/* Links followed while making one path, as the kernel's own limit (path_resolution(7)). */
#define MAX_LINKS 40

static int open_in(int root, const char *rel, uint64_t flags, uint64_t resolve) {
  struct open_how how = {.flags = flags | O_PATH | O_CLOEXEC, .resolve = IN_ROOT | resolve};
  return (int)syscall(SYS_openat2, root, rel[0] == '\0' ? "." : rel, &how, sizeof(how));
}

static int close_keep_errno(int fd, int rc) {
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

const char *tsd_in_root(const char *root, const char *target) {
  size_t n = strlen(root);
  if (strcmp(root, "/") == 0)
    n = 0;
  else if (strncmp(target, root, n) != 0)
    return NULL;
  if (target[n] != '/') return NULL;
  while (target[n] == '/')
    n++;
  return target + n;
}

/*
 * Where the symlink name in dir (whose path in the root is prefix) points, as a path in the
 * root: its target, relative to prefix unless absolute. Fails with ENOENT for a non-link.
 */
static int link_target(int dir, const char *prefix, const char *name, char *out, size_t len) {
  char target[PATH_MAX];
  ssize_t n = readlinkat(dir, name, target, sizeof(target) - 1);
  if (n < 0) {
    errno = ENOENT;
    return -1;
  }
  target[n] = '\0';
  int w = target[0] == '/' ? snprintf(out, len, "%s", target)
                           : snprintf(out, len, "%s%s%s", prefix, prefix[0] ? "/" : "", target);
  if (w < 0 || (size_t)w >= len) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

static int make_dirs(int root, const char *rel, uint64_t resolve, int links);

/* mkdir name in dir, or, for a dangling symlink there, mkdir -p of its target in the root. */
static int make_one(int root, int dir, char *path, char *name, uint64_t resolve, int links) {
  if (mkdirat(dir, name, 0755) == 0) return 0;
  if (errno != EEXIST) return -1;
  char target[PATH_MAX];
  char saved = name == path ? '\0' : name[-1];
  if (name != path) name[-1] = '\0';
  int rc = link_target(dir, name == path ? "" : path, name, target, sizeof(target));
  if (name != path) name[-1] = saved;
  if (rc < 0) return -1;
  int fd = make_dirs(root, target, resolve, links + 1);
  return fd < 0 ? -1 : close_keep_errno(fd, 0);
}

/* mkdir -p of rel inside the root; returns an O_PATH fd of the directory rel names. */
static int make_dirs(int root, const char *rel, uint64_t resolve, int links) {
  char path[PATH_MAX];
  size_t len = strlen(rel);
  if (links > MAX_LINKS || len >= sizeof(path)) {
    errno = links > MAX_LINKS ? ELOOP : ENAMETOOLONG;
    return -1;
  }
  memcpy(path, rel, len + 1);
  /* The root itself is the first parent: borrowed, not reopened. */
  int dir = root;
  for (char *name = path; dir >= 0 && *name != '\0';) {
    char *end = strchrnul(name, '/');
    char next = *end;
    *end = '\0';
    int fd = open_in(root, path, O_DIRECTORY, resolve);
    if (fd < 0 && errno == ENOENT && make_one(root, dir, path, name, resolve, links) == 0)
      fd = open_in(root, path, O_DIRECTORY, resolve);
    *end = next;
    if (dir != root) close_keep_errno(dir, 0);
    dir = fd;
    for (name = end; *name == '/'; name++) {
    }
  }
  return dir == root ? open_in(root, "", O_DIRECTORY, resolve) : dir;
}

int tsd_in_root_mkdirs(int root, const char *rel, uint64_t resolve) {
  return make_dirs(root, rel, resolve, 0);
}

int tsd_in_root_parent(int root, const char *rel, char *buf, size_t buflen, const char **name,
                       uint64_t resolve) {
  size_t len = strlen(rel);
  if (len == 0 || len >= buflen) {
    errno = len == 0 ? EINVAL : ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, rel, len + 1);
  char *slash = strrchr(buf, '/');
  *name = slash == NULL ? buf : slash + 1;
  if (slash != NULL) *slash = '\0';
  int fd = tsd_in_root_mkdirs(root, slash == NULL ? "" : buf, resolve);
  if (slash != NULL) *slash = '/';
  return fd;
}

int tsd_in_root_mkfile(int root, const char *rel, uint64_t resolve) {
  char path[PATH_MAX], buf[PATH_MAX], target[PATH_MAX];
  if (strlen(rel) >= sizeof(path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(path, rel);
  for (int links = 0; links <= MAX_LINKS; links++) {
    const char *name;
    int dir = tsd_in_root_parent(root, path, buf, sizeof(buf), &name, resolve);
    if (dir < 0) return -1;
    if (mknodat(dir, name, S_IFREG | 0644, 0) == 0) return close_keep_errno(dir, 0);
    if (errno != EEXIST) return close_keep_errno(dir, -1);
    int fd = tsd_in_root_open(root, path, 0, resolve);
    if (fd >= 0) {
      close(fd);
      return close_keep_errno(dir, 0);
    }
    if (errno != ENOENT) return close_keep_errno(dir, -1);
    /* A symlink to nothing yet: make its target instead. */
    char *slash = strrchr(buf, '/');
    if (slash != NULL) *slash = '\0';
    int rc = link_target(dir, slash == NULL ? "" : buf, name, target, sizeof(target));
    close(dir);
    if (rc < 0) return -1;
    memcpy(path, target, strlen(target) + 1);
  }
  errno = ELOOP;
  return -1;
}

int tsd_in_root_open(int root, const char *rel, uint64_t flags, uint64_t resolve) {
  return open_in(root, rel, flags, resolve);
}

int tsd_root_fd(struct tsd_root *root) {
  if (root->fd < 0) root->fd = open(root->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  return root->fd;
}

void tsd_root_forget(struct tsd_root *root) {
  if (root->fd >= 0) close(root->fd);
  root->fd = -1;
}
