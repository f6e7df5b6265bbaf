/*
 * Paths inside the container's root before pivot_root. An image controls every name under its
 * root, and a symlink there ("/etc -> /", "dev -> ../../../tmp") must not make a mount, mkdir or
 * mknod land on the host. So every component is resolved with openat2(2) RESOLVE_IN_ROOT: ".."
 * and absolute symlinks stop at the container's root, as they will after pivot_root; missing
 * directories are made one component at a time, each with mkdirat(2) relative to a parent that
 * was itself resolved in the root (mkdirat never follows a symlink in its last component).
 */
#define _GNU_SOURCE
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Magic links (/proc/self/fd/N) would jump out of the root whatever RESOLVE_IN_ROOT says. */
#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

static int open_in(int root, const char *rel, uint64_t flags, uint64_t resolve) {
  struct open_how how = {.flags = flags | O_PATH | O_CLOEXEC, .resolve = IN_ROOT | resolve};
  return (int)syscall(SYS_openat2, root, rel[0] == '\0' ? "." : rel, &how, sizeof(how));
}

const char *tsd_in_root(const char *root, const char *target) {
  size_t n = strlen(root);
  if (strncmp(target, root, n) != 0 || target[n] != '/') return NULL;
  while (target[n] == '/')
    n++;
  return target + n;
}

/*
 * Makes every directory of rel above its last component and returns the parent's O_PATH fd.
 * Each missing component is made in the directory its prefix resolved to, then the prefix is
 * resolved again from the root, so a symlink met on the way is followed inside the root only.
 */
static int parent_of(int root, char *rel, const char **name, uint64_t resolve) {
  char *slash = strrchr(rel, '/');
  *name = slash == NULL ? rel : slash + 1;
  int dir = open_in(root, "", O_DIRECTORY, resolve);
  for (char *p = rel; dir >= 0 && slash != NULL && p <= slash;) {
    char *end = strchr(p, '/');
    *end = '\0';
    int fd = open_in(root, rel, O_DIRECTORY, resolve);
    if (fd < 0 && errno == ENOENT) {
      if (mkdirat(dir, p, 0755) == 0 || errno == EEXIST)
        fd = open_in(root, rel, O_DIRECTORY, resolve);
    }
    *end = '/';
    int saved = errno;
    close(dir);
    errno = saved;
    dir = fd;
    p = end + 1;
  }
  return dir;
}

int tsd_in_root_parent(const char *root, const char *rel, char *buf, size_t buflen,
                       const char **name, uint64_t resolve) {
  size_t len = strlen(rel);
  if (len == 0 || len >= buflen) {
    errno = len == 0 ? EINVAL : ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, rel, len + 1);
  int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return -1;
  int fd = parent_of(root_fd, buf, name, resolve);
  int saved = errno;
  close(root_fd);
  errno = saved;
  return fd;
}

int tsd_in_root_open(const char *root, const char *rel, uint64_t flags, uint64_t resolve) {
  int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return -1;
  int fd = open_in(root_fd, rel, flags, resolve);
  int saved = errno;
  close(root_fd);
  errno = saved;
  return fd;
}
