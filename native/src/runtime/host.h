/*
 * What create reads of the host before it decides anything: the cgroup mounts and hierarchies
 * (as runtime/cgroups/detect.ts detectHierarchy) and this process's capability bounding set (as
 * runtime/host.ts hostBoundingSet).
 */
#ifndef TSDOCK_RUNTIME_HOST_H
#define TSDOCK_RUNTIME_HOST_H

#include "hierarchy.h"

#include <stdint.h>

struct host {
  struct cgroup_mounts mounts;
  struct hierarchy hierarchy;
  uint64_t caps;
};

/* -1 when a file cannot be read or holds what these readers do not expect. */
int host_read(struct host *h);

#endif
