#include "host.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A whole procfs or cgroupfs file, NUL-terminated; -1 when it cannot be read or is too big. */
static int slurp(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = 0;
  ssize_t r;
  while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
    n += (size_t)r;
  close(fd);
  if (n == cap - 1) return -1;
  buf[n] = '\0';
  return 0;
}

int host_read(struct host *h) {
  static char mountinfo[1 << 20], cgroup[16384], status[16384];
  char controllers[256] = "", path[PATH_MAX];
  if (slurp("/proc/self/mountinfo", mountinfo, sizeof(mountinfo)) < 0 ||
      slurp("/proc/self/cgroup", cgroup, sizeof(cgroup)) < 0 ||
      slurp("/proc/self/status", status, sizeof(status)) < 0 ||
      cgroup_mounts_parse(mountinfo, &h->mounts) < 0)
    return -1;
  for (int i = 0; i < h->mounts.count; i++)
    if (h->mounts.m[i].v2) {
      snprintf(path, sizeof(path), "%s/cgroup.controllers", h->mounts.m[i].mount_point);
      if (slurp(path, controllers, sizeof(controllers)) < 0) return -1;
      break;
    }
  if (hierarchy_build(&h->mounts, cgroup, controllers, &h->hierarchy) < 0) return -1;
  const char *bnd = strstr(status, "\nCapBnd:");
  if (bnd == NULL) return -1;
  h->caps = strtoull(bnd + 8, NULL, 16);
  return 0;
}
