/*
 * The decoded spawn plan: flat C structures filled from the wire format of include/plan.h before
 * clone, so that the child only reads memory and makes syscalls. Strings are NUL-terminated
 * copies; string vectors end with a NULL entry so that argv and envp go to execve(2) as they are.
 */
#ifndef TSDOCK_SPAWN_PLAN_H
#define TSDOCK_SPAWN_PLAN_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tsd_strv {
  char **v; /* n entries, then NULL */
  size_t n;
};

struct tsd_fs_op {
  uint32_t kind;  /* enum tsd_op_kind */
  uint32_t flags; /* enum tsd_op_flag */
  uint64_t mount_flags;
  uint32_t mode, major, minor;
  char *source, *target, *fstype, *data; /* "" when unused */
  char *uid_map, *gid_map; /* TSD_OPF_IDMAP to maps of its own (TSD_TAG_MOUNT_IDMAP); NULL: the
                              child's user namespace */
};

struct tsd_fs_ops {
  struct tsd_fs_op *v;
  size_t n;
};

struct tsd_ns_join {
  uint32_t type; /* one CLONE_NEW* flag */
  char *path;
};

struct tsd_rlimit {
  uint32_t resource;
  uint64_t soft, hard;
};

struct tsd_caps {
  uint64_t bounding, effective, permitted, inheritable, ambient;
};

/* OCI's process.terminal and process.consoleSize. */
struct tsd_terminal {
  bool enabled;
  uint16_t rows, cols; /* 0 0: left as the kernel makes it */
};

/* An OCI createContainer or startContainer hook. */
struct tsd_hook {
  uint32_t kind;    /* enum tsd_hook_kind */
  uint32_t timeout; /* seconds; 0: none */
  char *path;
  struct tsd_strv args, env; /* args: [path] when the spec gives none */
};

struct tsd_plan {
  struct tsd_strv args, env;
  char *cwd, *rootfs;
  char *hostname; /* NULL: leave the hostname alone */
  uint32_t namespaces;
  struct tsd_ns_join *ns_joins;
  size_t n_ns_joins;
  uid_t uid;
  gid_t gid;
  gid_t *additional_gids;
  size_t n_additional_gids;
  char *uid_map, *gid_map; /* NULL: no mapping */
  bool has_caps;           /* false: capabilities are left as inherited */
  struct tsd_caps caps;
  bool no_new_privs;
  struct tsd_rlimit *rlimits;
  size_t n_rlimits;
  bool has_oom_score_adj;
  int32_t oom_score_adj;
  struct tsd_strv cgroup_procs;
  struct tsd_fs_ops rootfs_ops, container_ops;
  size_t n_idmap_mounts; /* rootfs ops with TSD_OPF_IDMAP */
  bool readonly_rootfs;
  bool loopback_up;
  uint64_t propagation;
  struct tsd_strv cgroup_dirs;
  uint32_t oom_driver; /* 0 (none) or enum tsd_oom_driver */
  char *oom_path;
  char *exit_file;             /* NULL: no exit file */
  struct sock_filter *seccomp; /* NULL: no seccomp filter */
  size_t n_seccomp;
  char *start_socket;    /* NULL: exec as soon as set up */
  uint32_t preserve_fds; /* fds 3 .. 3+preserve_fds-1 stay open across execve */
  struct tsd_terminal terminal;
  struct tsd_hook *hooks;
  size_t n_hooks;
  char *hook_state;   /* NULL: no hooks */
  bool runtime_hooks; /* pause for the caller's hooks before the createContainer ones */
};

/*
 * Decodes len bytes of buf into *plan. On failure returns -1, leaves *plan empty and writes a
 * one-line reason to err (never longer than errlen). Pure: no I/O, only malloc.
 */
int tsd_plan_decode(const uint8_t *buf, size_t len, struct tsd_plan *plan, char *err,
                    size_t errlen);

/* Frees what tsd_plan_decode allocated; safe on a zeroed or partly filled plan. */
void tsd_plan_free(struct tsd_plan *plan);

#endif
