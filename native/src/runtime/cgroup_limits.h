/*
 * A container's cgroup limits, from linux.resources as src/oci/resources.ts resourcesToLimits
 * gives them (runtime/cgroups/limits.ts CgroupLimits).
 */
#ifndef TSDOCK_RUNTIME_CGROUP_LIMITS_H
#define TSDOCK_RUNTIME_CGROUP_LIMITS_H

#include <stdbool.h>

#define MAX_DEVICE_RULES 64

/* A device rule of linux.resources.devices (runtime/cgroups/devices.ts DeviceRule). */
struct device_rule {
  bool allow;
  char type;       /* a, b or c */
  long long major; /* -1: any */
  long long minor; /* -1: any */
  char access[4];
};

/* has_* false: not set. */
struct cgroup_limits {
  bool has_memory, has_swap, has_cpu_shares, has_cpu_quota, has_pids;
  long long memory;
  long long swap; /* -1: max */
  long long cpu_shares, cpu_quota, cpu_period;
  char cpuset_cpus[256]; /* "" not set */
  long long pids;        /* -1: max */
  bool has_devices;
  int n_devices;
  struct device_rule devices[MAX_DEVICE_RULES];
};

#endif
