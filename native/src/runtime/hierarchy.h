/*
 * The host's cgroup hierarchies and where a container's cgroup goes in each, as
 * src/runtime/cgroups/detect.ts and layout.ts decide it: which hierarchy serves each controller
 * (a v1 mount, else the cgroup2 tree when it offers it), and `<parent>/<name>` in each, an
 * absolute parent from the hierarchy's root, a relative one from this process's own cgroup.
 * Pure: the texts of /proc/self/mountinfo and /proc/self/cgroup come from the caller.
 */
#ifndef TSDOCK_RUNTIME_HIERARCHY_H
#define TSDOCK_RUNTIME_HIERARCHY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define MAX_CGROUP_MOUNTS 32
#define MAX_PARENT_DEPTH 16

/* detect.ts's CONTROLLERS, in its order. */
enum controller {
  C_MEMORY,
  C_CPU,
  C_CPUACCT,
  C_CPUSET,
  C_PIDS,
  C_FREEZER,
  C_DEVICES,
  C_BLKIO,
  N_CONTROLLERS
};

/* One cgroup or cgroup2 line of mountinfo, in mount order. */
struct cgroup_mount {
  bool v2;
  char root[PATH_MAX]; /* the cgroup at the mount's root */
  char mount_point[PATH_MAX];
  char super_options[256]; /* comma-separated, as mountinfo has them */
};

struct cgroup_mounts {
  int count;
  struct cgroup_mount m[MAX_CGROUP_MOUNTS];
};

/* A mounted hierarchy tsdock places containers in, and this process's cgroup in it. */
struct hierarchy_dir {
  char mount_point[PATH_MAX];
  char own_path[PATH_MAX];
  unsigned controllers; /* 1u << enum controller, for v1 */
};

struct hierarchy {
  int n_v1; /* v1 hierarchies in the order the controllers first name them */
  struct hierarchy_dir v1[N_CONTROLLERS];
  int v1_of[N_CONTROLLERS]; /* index into v1, or -1 */
  bool has_v2;
  struct hierarchy_dir v2;
  char v2_controllers[256]; /* the root's cgroup.controllers */
};

/* A container's directory in one hierarchy (layout.ts Placement). */
struct placement {
  char base[PATH_MAX];
  int n_parents;
  char parents[MAX_PARENT_DEPTH][PATH_MAX];
  char dir[PATH_MAX];
};

/* A container's directories: one per v1 hierarchy, in the hierarchies' order, then the v2 one. */
struct layout {
  int count;
  struct placement p[N_CONTROLLERS + 1];
  unsigned controllers[N_CONTROLLERS + 1]; /* the v1 controllers each serves; 0 for v2 */
  bool v2[N_CONTROLLERS + 1];
};

/* The cgroup mounts of a mountinfo text; -1 when there are too many or a line is too long. */
int cgroup_mounts_parse(const char *mountinfo, struct cgroup_mounts *out);

/* The hierarchies, as buildHierarchy; -1 when none is mounted or a path does not fit. */
int hierarchy_build(const struct cgroup_mounts *mounts, const char *proc_cgroup,
                    const char *v2_controllers, struct hierarchy *h);

/* Whether the cgroup2 tree serves controller c (it has no v1 mount and the tree offers it). */
bool hierarchy_v2_serves(const struct hierarchy *h, enum controller c);

/* <parent>/<name> below a hierarchy (layout.ts place); -1 when it does not fit. */
int hierarchy_place(const struct hierarchy_dir *d, const char *parent, const char *name,
                    struct placement *p);

/* Every hierarchy's placement of <parent>/<name> (index.ts layoutOf); -1 when it does not fit. */
int hierarchy_layout(const struct hierarchy *h, const char *parent, const char *name,
                     struct layout *l);

/*
 * linux.cgroupsPath as a parent and name (src/oci/cgroups-path.ts cgroupPlace, then the checks
 * and the trailing-slash trim of index.ts resolve); NULL or "" is /tsdock-runtime/<id>. -1 for
 * anything those refuse.
 */
int cgroup_place(const char *cgroups_path, const char *id, char *parent, size_t parent_cap,
                 char *name, size_t name_cap);

#endif
