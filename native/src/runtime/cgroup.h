/*
 * The container's cgroup from the paths create recorded: the v2 directory is the one with
 * cgroup.events, the v1 freezer the one with freezer.state. Freeze, thaw and kill prefer v2 (its
 * freezer never sticks half-way and cgroup.kill reaches every task at once), as
 * src/runtime/cgroups/index.ts does.
 */
#ifndef TSDOCK_RUNTIME_CGROUP_H
#define TSDOCK_RUNTIME_CGROUP_H

#include "cgroup_limits.h"
#include "hierarchy.h"
#include "state.h"

#include <stdbool.h>
#include <sys/types.h>

/* Whether any of the directories is frozen (v2 cgroup.freeze 1, v1 freezer.state FROZEN). */
bool cgroup_frozen(const struct oci_state *s);

/* Freezes or thaws every task and waits until the kernel reports it done. */
int cgroup_freeze(const struct oci_state *s, bool frozen, char *err);

/* The pids of the first cgroup.procs file that lists any (every task is in all hierarchies). */
int cgroup_pids(const struct oci_state *s, pid_t *pids, int max);

/* SIGKILLs what is left, removes the container's directories, then the parents nothing uses. */
int cgroup_destroy(const struct oci_state *s, char *err);

/*
 * Makes the container's directory in every hierarchy of the layout (the parents as needed, the
 * container's own new) and writes its limits, as runtime/cgroups/index.ts createContainerCgroup
 * does where v1 serves every controller (the only hosts native create runs on: the cgroup2 tree
 * is then only the core tree, and v2's device program stays TypeScript's). On failure it removes
 * what it made.
 */
int cgroup_create(const struct layout *l, const char *parent, const struct cgroup_limits *limits,
                  char *err);

#endif
