/*
 * The spawn plan's wire format: the one definition TypeScript (src/runtime/plan-codec.ts) and
 * the native monitor agree on.
 *
 * A plan is the 8-byte magic "TSDPLAN1" followed by records until the end of the buffer:
 *
 *   u32 tag | u32 length | length bytes of payload
 *
 * All integers are little-endian and unaligned (read them with memcpy). A "string" payload is
 * the raw bytes without a terminating NUL; a string may not contain NUL. Records marked
 * "repeated" may occur many times and keep their order; the others occur at most once.
 * An unknown tag is an error: the two sides are built from one tree and must agree.
 */
#ifndef TSDOCK_PLAN_H
#define TSDOCK_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define TSD_PLAN_MAGIC "TSDPLAN1"
#define TSD_PLAN_MAGIC_LEN 8

enum tsd_plan_tag {
  TSD_TAG_ARG = 1,             /* string, repeated: argv in order */
  TSD_TAG_ENV = 2,             /* string, repeated: "KEY=value" */
  TSD_TAG_CWD = 3,             /* string */
  TSD_TAG_HOSTNAME = 4,        /* string */
  TSD_TAG_ROOTFS = 5,          /* string: host path pivoted to */
  TSD_TAG_NAMESPACES = 6,      /* u32: CLONE_NEW* flags to create */
  TSD_TAG_NS_JOIN = 7,         /* u32 CLONE_NEW* type, then string path; repeated */
  TSD_TAG_UID = 8,             /* u32 */
  TSD_TAG_GID = 9,             /* u32 */
  TSD_TAG_ADDITIONAL_GID = 10, /* u32, repeated */
  TSD_TAG_UID_MAP = 11,        /* string: the exact uid_map content */
  TSD_TAG_GID_MAP = 12,        /* string: the exact gid_map content */
  TSD_TAG_CAPS = 13,           /* 5 x u64: bounding, effective, permitted, inheritable, ambient */
  TSD_TAG_NO_NEW_PRIVS = 14,   /* u32 0|1 */
  TSD_TAG_RLIMIT = 15,         /* u32 resource, u64 soft, u64 hard; repeated */
  TSD_TAG_OOM_SCORE_ADJ = 16,  /* i32 */
  TSD_TAG_CGROUP_PROCS = 17,   /* string, repeated: cgroup.procs file to write the child's pid to */
  TSD_TAG_ROOTFS_OP = 18,      /* fs op (below), repeated: before pivot_root, host paths */
  TSD_TAG_CONTAINER_OP = 19,   /* fs op, repeated: after pivot_root, container paths */
  TSD_TAG_READONLY_ROOTFS = 20, /* u32 0|1 */
  TSD_TAG_LOOPBACK_UP = 21,     /* u32 0|1 */
  TSD_TAG_PROPAGATION = 22,     /* u64 MS_* flags applied to "/" first */
  TSD_TAG_CGROUP_DIR = 23,      /* string, repeated: removed after exit, in order */
  TSD_TAG_OOM = 24,             /* u32 driver (enum tsd_oom_driver), then string path */
  TSD_TAG_EXIT_FILE = 25,       /* string: where the exit status JSON is written atomically */
  TSD_TAG_SECCOMP = 26,         /* struct sock_filter[] as-is (8 bytes each, u16 code, u8 jt,
                                   u8 jf, u32 k): a classic BPF program, loaded last before exec */
  TSD_TAG_START_SOCKET = 27,    /* string: a unix socket path the monitor listens on; the child,
                                   once set up, reports ready and waits for a connection to it
                                   before execve (the OCI create/start split) */
  TSD_TAG_PRESERVE_FDS = 28,    /* u32 N: fds 3 .. 3+N-1 are passed on to the process */
  TSD_TAG_TERMINAL = 29,        /* u32 rows, u32 cols (each <= 65535; 0 0: the kernel's 0x0): the
                                   process gets a new pty of the container's devpts as its
                                   controlling terminal and stdio; the master goes to the
                                   monitor's console socket (terminal.c) */
  TSD_TAG_HOOK = 30,            /* hook (below), repeated: an OCI hook the child runs itself, in
                                   the container's namespaces, in order (hooks.c) */
  TSD_TAG_HOOK_STATE = 31,      /* string: the OCI state the hooks get on stdin, a JSON object
                                   without "status" and "pid", which the child adds */
  TSD_TAG_RUNTIME_HOOKS = 32,   /* u32 0|1: the caller runs hooks in the runtime's namespaces
                                   (OCI prestart, createRuntime) once the child's exist and
                                   before its createContainer hooks: the child pauses there and
                                   the monitor asks (status.c status_runtime_hooks) */
  TSD_TAG_MOUNT_IDMAP = 33,     /* u32 index of an earlier TSD_TAG_ROOTFS_OP record (0-based among
                                   them) with TSD_OPF_IDMAP, then 2 strings, each u32 length +
                                   bytes: uid_map and gid_map content; repeated: that mount is
                                   idmapped to a user namespace made with these maps (an OCI
                                   mount's uidMappings/gidMappings), not to the child's own */
};

/*
 * hook payload:
 *   u32 kind (enum tsd_hook_kind) | u32 timeout in seconds (0: none) | u32 argc | u32 envc
 *   | then 1 + argc + envc strings, each u32 length + bytes: path, argv (argv[0] included), env
 */
enum tsd_hook_kind {
  TSD_HOOK_CREATE_CONTAINER = 1, /* after the rootfs ops, before pivot_root: host paths */
  TSD_HOOK_START_CONTAINER = 2,  /* after start, right before execve: container paths */
};

/*
 * fs op payload:
 *   u32 kind | u32 flags | u64 mount flags (MS_*) | u32 mode | u32 major | u32 minor
 *   | then 4 strings, each u32 length + bytes: source, target, fstype, data
 * Unused strings are empty. For TSD_OP_SYMLINK, source is the link's content.
 */
enum tsd_op_kind {
  TSD_OP_MOUNT = 1,
  TSD_OP_MKDIR = 2,
  TSD_OP_MKNOD = 3,
  TSD_OP_SYMLINK = 4,
  TSD_OP_MASK = 5,
  TSD_OP_READONLY = 6,
  TSD_OP_CHDIR = 7,
  TSD_OP_WRITE = 8, /* write data to the existing file target (a sysctl under /proc/sys) */
};

enum tsd_op_flag {
  TSD_OPF_MKDIR_TARGET = 1u << 0,  /* create the target directory (and parents) first */
  TSD_OPF_MKFILE_TARGET = 1u << 1, /* create the target as an empty file (and parent dirs) */
  TSD_OPF_READONLY = 1u << 2,      /* remount read-only after a bind mount */
  TSD_OPF_NO_SYMLINKS = 1u << 3,   /* the target may not be reached through any symlink */
  TSD_OPF_IDMAP = 1u << 4,         /* (rootfs ops, user namespace only) a bind mount of source
                                      idmapped to the child's user namespace: the parent makes it
                                      detached (open_tree + mount_setattr MOUNT_ATTR_IDMAP) and
                                      hands it over with "go"; the child attaches it at target.
                                      Without AT_RECURSIVE: mounts below source are left out.
                                      With a TSD_TAG_MOUNT_IDMAP record, that record's maps are
                                      used, and the child needs no user namespace */
};

/* At most this many TSD_OPF_IDMAP ops: their fds travel in one SCM_RIGHTS message (SCM_MAX_FD). */
#define TSD_MAX_IDMAP_MOUNTS 253

enum tsd_oom_driver {
  TSD_OOM_V1 = 1, /* path is a v1 memory.oom_control */
  TSD_OOM_V2 = 2, /* path is a v2 memory.events */
};

#endif
