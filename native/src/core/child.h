/*
 * The container child: what runs between clone and execve. It only reads the decoded plan and
 * makes syscalls; on the first failure it writes one struct tsd_child_error to its CLOEXEC error
 * pipe and exits, so that EOF on that pipe means execve succeeded.
 */
#ifndef TSDOCK_CHILD_H
#define TSDOCK_CHILD_H

#include "spawn_plan.h"

#include <limits.h>
#include <stdint.h>

/*
 * The one message the child ever sends; fixed size so the parent reads it whole or not at all.
 * An empty step is not an error: the child is set up and waits for start (plan.start_socket).
 */
struct tsd_child_error {
  char step[32];       /* "mount", "exec", ... (NUL-terminated) */
  int32_t err;         /* errno */
  char path[PATH_MAX]; /* what the step acted on (NUL-terminated, may be empty) */
};

/* The path of an empty-step message: paused for the caller's runtime hooks (plan.h). */
#define TSD_RUNTIME_HOOKS_PAUSE "runtime-hooks"

struct tsd_child {
  const struct tsd_plan *plan;
  int sync_fd;           /* unix socket: one byte from the parent means "go", EOF "die" */
  int *idmap_fds;        /* plan->n_idmap_mounts slots, filled with the mounts sent with "go" */
  int err_fd;            /* write end, O_CLOEXEC */
  int start_fd;          /* listening socket to wait on before execve, or -1 */
  unsigned cap_last_cap; /* from /proc/sys/kernel/cap_last_cap, read before clone */
  int console_fd;        /* a connected unix socket for the pty master (plan->terminal), or -1 */
  int netns_fd;          /* the plan's new network namespace, made ahead: joined, or -1 */
  int rootfs_fd;         /* the mount onto plan->rootfs, made ahead (detached): attached, or -1 */
};

/* Runs the plan in the freshly cloned child; never returns. */
_Noreturn void tsd_child_main(const struct tsd_child *c);

/* Reports (step, errno, path) on the error pipe and exits 1. */
_Noreturn void tsd_child_fail(const struct tsd_child *c, const char *step, const char *path);

/*
 * The container's root while a list of ops runs: its path ("/" after pivot_root) and an O_PATH
 * fd of it, opened on first use and forgotten when an op mounts over it (the overlay), so that
 * each op resolves its target from the fd instead of walking the root's path again.
 */
struct tsd_root {
  const char *path;
  int fd; /* -1 until opened */
};

/* inroot.c: the root's fd, opened now if need be; -1 with errno on failure. */
int tsd_root_fd(struct tsd_root *root);

/* inroot.c: closes the root's fd: what the path names has changed. */
void tsd_root_forget(struct tsd_root *root);

/*
 * fsops.c: one ROOTFS_OP or CONTAINER_OP; fails through tsd_child_fail. With root (the
 * container's root: its host path for ROOTFS_OPs, "/" for CONTAINER_OPs), targets below it are
 * resolved inside it. mount_fd is the detached mount an idmapped bind (TSD_OPF_IDMAP) attaches,
 * else -1.
 */
void tsd_fs_op_run(const struct tsd_child *c, const struct tsd_fs_op *op, struct tsd_root *root,
                   int mount_fd);

/*
 * inroot.c: the part of target below root ("" for root itself), or NULL when not below it. A
 * root of "/" (after pivot_root) holds every absolute path.
 */
const char *tsd_in_root(const char *root, const char *target);

/*
 * inroot.c, where root is an O_PATH fd of the container's root: the O_PATH fd of the directory
 * above rel (inside root), creating missing ones; the last component's name is left in *name
 * (pointing into buf). resolve adds RESOLVE_* flags.
 */
int tsd_in_root_parent(int root, const char *rel, char *buf, size_t buflen, const char **name,
                       uint64_t resolve);

/* inroot.c: mkdir -p of rel inside root; an O_PATH fd of the directory. */
int tsd_in_root_mkdirs(int root, const char *rel, uint64_t resolve);

/* inroot.c: creates rel inside root as an empty file unless something is there; 0 or -1. */
int tsd_in_root_mkfile(int root, const char *rel, uint64_t resolve);

/* inroot.c: an O_PATH fd of rel resolved inside root (flags: e.g. O_DIRECTORY). */
int tsd_in_root_open(int root, const char *rel, uint64_t flags, uint64_t resolve);

/* fsops.c: remounts the mount at path read-only, keeping the flags a user namespace locks. */
int tsd_remount_readonly(const char *path, unsigned long extra_flags);

/*
 * terminal.c: a new pty in the devpts at /dev/pts becomes the controlling terminal and stdio;
 * its master is sent over console_fd. Fails through tsd_child_fail.
 */
void tsd_setup_terminal(const struct tsd_child *c);

/* creds.c: supplementary groups, gid, uid, capabilities, no_new_privs, in that order. */
void tsd_set_credentials(const struct tsd_child *c);

/*
 * hooks.c: runs the plan's hooks of one kind (enum tsd_hook_kind) in order, each with the state
 * on stdin; fails through tsd_child_fail.
 */
void tsd_run_hooks(const struct tsd_child *c, uint32_t kind);

/* exec.c: every signal to its default disposition, none blocked (before an execve). */
void tsd_reset_signals(void);

/* seccomp.c: loads the plan's seccomp filter (the plan has one); fails through tsd_child_fail. */
void tsd_load_seccomp(const struct tsd_child *c);

/* exec.c: resets what the monitor set up for itself, enters the working directory and execs argv.
 */
_Noreturn void tsd_exec(const struct tsd_child *c);

#endif
