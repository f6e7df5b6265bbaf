/*
 * Unit tests of the plan decoder: a table of hand-built buffers, valid and malformed, run under
 * AddressSanitizer and UBSan (make -C native test). Every buffer is decoded from an allocation of
 * exactly its size, so a read one byte too far is caught.
 */
#define _GNU_SOURCE
#include "plan.h"
#include "spawn_plan.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

struct buf {
  uint8_t b[32768];
  size_t n;
};

static void put(struct buf *b, const void *p, size_t n) {
  memcpy(b->b + b->n, p, n);
  b->n += n;
}

static void put_u32(struct buf *b, uint32_t v) {
  uint8_t le[4] = {v, v >> 8, v >> 16, v >> 24};
  put(b, le, 4);
}

static void put_u64(struct buf *b, uint64_t v) {
  put_u32(b, (uint32_t)v);
  put_u32(b, (uint32_t)(v >> 32));
}

static void put_lp(struct buf *b, const char *s) {
  put_u32(b, strlen(s));
  put(b, s, strlen(s));
}

static void magic(struct buf *b) {
  put(b, TSD_PLAN_MAGIC, TSD_PLAN_MAGIC_LEN);
}

static void rec(struct buf *b, uint32_t tag, const void *payload, size_t n) {
  put_u32(b, tag);
  put_u32(b, n);
  put(b, payload, n);
}

static void rec_str(struct buf *b, uint32_t tag, const char *s) {
  rec(b, tag, s, strlen(s));
}

static void rec_u32(struct buf *b, uint32_t tag, uint32_t v) {
  struct buf p = {.n = 0};
  put_u32(&p, v);
  rec(b, tag, p.b, p.n);
}

/* A record whose payload another buf holds. */
static void rec_buf(struct buf *b, uint32_t tag, const struct buf *payload) {
  rec(b, tag, payload->b, payload->n);
}

/* The three records every plan needs. */
static void minimal(struct buf *b) {
  magic(b);
  rec_str(b, TSD_TAG_ARG, "sh");
  rec_str(b, TSD_TAG_CWD, "/");
  rec_str(b, TSD_TAG_ROOTFS, "/rootfs");
}

static void op(struct buf *p, uint32_t kind, uint32_t flags, const char *source,
               const char *target) {
  put_u32(p, kind);
  put_u32(p, flags);
  put_u64(p, MS_NOSUID | MS_NODEV);
  put_u32(p, 0755);
  put_u32(p, 1);
  put_u32(p, 3);
  put_lp(p, source);
  put_lp(p, target);
  put_lp(p, "proc");
  put_lp(p, "hidepid=2");
}

static void rich(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  rec_str(b, TSD_TAG_ARG, "-c");
  rec_str(b, TSD_TAG_ARG, "");
  rec_str(b, TSD_TAG_ENV, "PATH=/bin");
  rec_str(b, TSD_TAG_ENV, "HOME=/root");
  rec_str(b, TSD_TAG_HOSTNAME, "box");
  rec_u32(b, TSD_TAG_NAMESPACES, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUSER | CLONE_NEWCGROUP);
  put_u32(&p, CLONE_NEWNET);
  put(&p, "/proc/1/ns/net", 14);
  rec_buf(b, TSD_TAG_NS_JOIN, &p);
  rec_u32(b, TSD_TAG_UID, 1000);
  rec_u32(b, TSD_TAG_GID, 1001);
  rec_u32(b, TSD_TAG_ADDITIONAL_GID, 10);
  rec_u32(b, TSD_TAG_ADDITIONAL_GID, 20);
  rec_str(b, TSD_TAG_UID_MAP, "0 100000 65536\n");
  rec_str(b, TSD_TAG_GID_MAP, "0 200000 65536\n");
  p.n = 0;
  for (uint64_t mask = 1; mask <= 5; mask++)
    put_u64(&p, mask << 60 | mask);
  rec_buf(b, TSD_TAG_CAPS, &p);
  rec_u32(b, TSD_TAG_NO_NEW_PRIVS, 1);
  p.n = 0;
  put_u32(&p, RLIMIT_NOFILE);
  put_u64(&p, 1024);
  put_u64(&p, UINT64_MAX);
  rec_buf(b, TSD_TAG_RLIMIT, &p);
  rec_u32(b, TSD_TAG_OOM_SCORE_ADJ, (uint32_t)-500);
  rec_str(b, TSD_TAG_CGROUP_PROCS, "/sys/fs/cgroup/memory/x/cgroup.procs");
  p.n = 0;
  op(&p, TSD_OP_MOUNT, TSD_OPF_MKDIR_TARGET | TSD_OPF_READONLY | TSD_OPF_NO_SYMLINKS, "proc",
     "/rootfs/proc");
  rec_buf(b, TSD_TAG_ROOTFS_OP, &p);
  p.n = 0;
  op(&p, TSD_OP_SYMLINK, 0, "/proc/self/fd", "/dev/fd");
  rec_buf(b, TSD_TAG_CONTAINER_OP, &p);
  rec_u32(b, TSD_TAG_READONLY_ROOTFS, 1);
  rec_u32(b, TSD_TAG_LOOPBACK_UP, 0);
  p.n = 0;
  put_u64(&p, MS_REC | MS_SLAVE);
  rec_buf(b, TSD_TAG_PROPAGATION, &p);
  rec_str(b, TSD_TAG_CGROUP_DIR, "/sys/fs/cgroup/memory/x");
  rec_str(b, TSD_TAG_CGROUP_DIR, "/sys/fs/cgroup/pids/x");
  p.n = 0;
  put_u32(&p, TSD_OOM_V2);
  put(&p, "/x/memory.events", 16);
  rec_buf(b, TSD_TAG_OOM, &p);
  rec_str(b, TSD_TAG_EXIT_FILE, "/run/x/exit.json");
  p.n = 0;
  put(&p, "\x20\x00\x00\x00\x04\x00\x00\x00", 8); /* ld [4] */
  put(&p, "\x06\x00\x01\x02\x00\x00\xff\x7f", 8); /* ret ALLOW (jt/jf kept as they are) */
  rec_buf(b, TSD_TAG_SECCOMP, &p);
  rec_str(b, TSD_TAG_START_SOCKET, "/run/x/start.sock");
  rec_u32(b, TSD_TAG_PRESERVE_FDS, 2);
  p.n = 0;
  put_u32(&p, 24);
  put_u32(&p, 65535);
  rec_buf(b, TSD_TAG_TERMINAL, &p);
}

static int failures;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                   \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

static void check_minimal(const struct tsd_plan *p) {
  CHECK(p->args.n == 1 && strcmp(p->args.v[0], "sh") == 0 && p->args.v[1] == NULL);
  CHECK(p->env.n == 0 && p->env.v == NULL);
  CHECK(strcmp(p->cwd, "/") == 0 && strcmp(p->rootfs, "/rootfs") == 0);
  CHECK(p->hostname == NULL && p->uid_map == NULL && p->exit_file == NULL);
  CHECK(p->seccomp == NULL && p->n_seccomp == 0);
  CHECK(p->start_socket == NULL && p->preserve_fds == 0);
  CHECK(!p->terminal.enabled);
  CHECK(!p->has_caps && !p->has_oom_score_adj && p->oom_driver == 0);
  CHECK(p->namespaces == 0 && p->propagation == 0 && p->rootfs_ops.n == 0);
}

static void check_op(const struct tsd_fs_op *o, uint32_t kind, uint32_t flags, const char *source,
                     const char *target) {
  CHECK(o->kind == kind && o->flags == flags);
  CHECK(o->mount_flags == (MS_NOSUID | MS_NODEV));
  CHECK(o->mode == 0755 && o->major == 1 && o->minor == 3);
  CHECK(strcmp(o->source, source) == 0 && strcmp(o->target, target) == 0);
  CHECK(strcmp(o->fstype, "proc") == 0 && strcmp(o->data, "hidepid=2") == 0);
}

static void check_rich(const struct tsd_plan *p) {
  CHECK(p->args.n == 3 && strcmp(p->args.v[1], "-c") == 0 && strcmp(p->args.v[2], "") == 0);
  CHECK(p->args.v[3] == NULL);
  CHECK(p->env.n == 2 && strcmp(p->env.v[1], "HOME=/root") == 0 && p->env.v[2] == NULL);
  CHECK(strcmp(p->hostname, "box") == 0);
  CHECK(p->namespaces == (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUSER | CLONE_NEWCGROUP));
  CHECK(p->n_ns_joins == 1 && p->ns_joins[0].type == CLONE_NEWNET);
  CHECK(strcmp(p->ns_joins[0].path, "/proc/1/ns/net") == 0);
  CHECK(p->uid == 1000 && p->gid == 1001);
  CHECK(p->n_additional_gids == 2 && p->additional_gids[0] == 10 && p->additional_gids[1] == 20);
  CHECK(strcmp(p->uid_map, "0 100000 65536\n") == 0);
  CHECK(strcmp(p->gid_map, "0 200000 65536\n") == 0);
  CHECK(p->has_caps && p->caps.bounding == (1ull << 60 | 1) &&
        p->caps.effective == (2ull << 60 | 2));
  CHECK(p->caps.permitted == (3ull << 60 | 3) && p->caps.inheritable == (4ull << 60 | 4));
  CHECK(p->caps.ambient == (5ull << 60 | 5));
  CHECK(p->no_new_privs && p->readonly_rootfs && !p->loopback_up);
  CHECK(p->n_rlimits == 1 && p->rlimits[0].resource == RLIMIT_NOFILE);
  CHECK(p->rlimits[0].soft == 1024 && p->rlimits[0].hard == UINT64_MAX);
  CHECK(p->has_oom_score_adj && p->oom_score_adj == -500);
  CHECK(p->cgroup_procs.n == 1 && p->cgroup_procs.v[1] == NULL);
  CHECK(p->rootfs_ops.n == 1 && p->container_ops.n == 1);
  check_op(&p->rootfs_ops.v[0], TSD_OP_MOUNT,
           TSD_OPF_MKDIR_TARGET | TSD_OPF_READONLY | TSD_OPF_NO_SYMLINKS, "proc", "/rootfs/proc");
  check_op(&p->container_ops.v[0], TSD_OP_SYMLINK, 0, "/proc/self/fd", "/dev/fd");
  CHECK(p->propagation == (MS_REC | MS_SLAVE));
  CHECK(p->cgroup_dirs.n == 2 && strcmp(p->cgroup_dirs.v[1], "/sys/fs/cgroup/pids/x") == 0);
  CHECK(p->oom_driver == TSD_OOM_V2 && strcmp(p->oom_path, "/x/memory.events") == 0);
  CHECK(strcmp(p->exit_file, "/run/x/exit.json") == 0);
  CHECK(p->n_seccomp == 2 && p->seccomp[0].code == 0x20 && p->seccomp[0].k == 4);
  CHECK(p->seccomp[1].code == 6 && p->seccomp[1].jt == 1 && p->seccomp[1].jf == 2);
  CHECK(p->seccomp[1].k == 0x7fff0000);
  CHECK(strcmp(p->start_socket, "/run/x/start.sock") == 0 && p->preserve_fds == 2);
  CHECK(p->terminal.enabled && p->terminal.rows == 24 && p->terminal.cols == 65535);
}

/* Builders of malformed buffers, each appending to a plan that is otherwise fine. */
static void empty(struct buf *b) {
  (void)b;
}
static void short_magic(struct buf *b) {
  put(b, "TSDPLAN", 7);
}
static void wrong_magic(struct buf *b) {
  put(b, "TSDPLAN2", 8);
  rec_str(b, TSD_TAG_ARG, "sh");
}
static void truncated_header(struct buf *b) {
  minimal(b);
  put_u32(b, TSD_TAG_ENV);
  put(b, "\x01", 1);
}
static void length_overflow(struct buf *b) {
  minimal(b);
  put_u32(b, TSD_TAG_ENV);
  put_u32(b, 5);
  put(b, "A=1", 3);
}
static void length_huge(struct buf *b) {
  minimal(b);
  put_u32(b, TSD_TAG_ENV);
  put_u32(b, UINT32_MAX);
  put(b, "A=1", 3);
}
static void tag_zero(struct buf *b) {
  minimal(b);
  rec_u32(b, 0, 0);
}
static void tag_past_end(struct buf *b) {
  minimal(b);
  rec_u32(b, TSD_TAG_MOUNT_IDMAP + 1, 0);
}
static void tag_huge(struct buf *b) {
  minimal(b);
  rec_u32(b, UINT32_MAX, 0);
}
static void nul_in_arg(struct buf *b) {
  minimal(b);
  rec(b, TSD_TAG_ARG, "a\0b", 3);
}
static void nul_in_ns_path(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  put_u32(&p, CLONE_NEWNET);
  put(&p, "/x\0", 3);
  rec_buf(b, TSD_TAG_NS_JOIN, &p);
}
static void nul_in_op_string(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  op(&p, TSD_OP_MOUNT, 0, "proc", "/proc");
  p.b[p.n - 2] = '\0'; /* inside "hidepid=2" */
  rec_buf(b, TSD_TAG_CONTAINER_OP, &p);
}
static void duplicate_cwd(struct buf *b) {
  minimal(b);
  rec_str(b, TSD_TAG_CWD, "/tmp");
}
static void duplicate_propagation(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  put_u64(&p, MS_PRIVATE);
  rec_buf(b, TSD_TAG_PROPAGATION, &p);
  rec_buf(b, TSD_TAG_PROPAGATION, &p);
}
static void op_kind_zero(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  op(&p, 0, 0, "", "/x");
  rec_buf(b, TSD_TAG_ROOTFS_OP, &p);
}
static void op_kind_past_end(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  op(&p, TSD_OP_WRITE + 1, 0, "", "/x");
  rec_buf(b, TSD_TAG_ROOTFS_OP, &p);
}
static void op_unknown_flag(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  op(&p, TSD_OP_MOUNT, 1u << 5, "", "/x");
  rec_buf(b, TSD_TAG_ROOTFS_OP, &p);
}
/* An idmapped bind of a layer onto itself, with or without a user namespace of its own. */
static void idmap_plan(struct buf *b, uint32_t namespaces, uint32_t tag, uint32_t kind) {
  struct buf p = {.n = 0};
  minimal(b);
  rec_u32(b, TSD_TAG_NAMESPACES, namespaces);
  op(&p, kind, TSD_OPF_IDMAP, "/layers/a", "/layers/a");
  rec_buf(b, tag, &p);
}
static void idmap_bind(struct buf *b) {
  idmap_plan(b, CLONE_NEWNS | CLONE_NEWUSER, TSD_TAG_ROOTFS_OP, TSD_OP_MOUNT);
}
static void check_idmap_bind(const struct tsd_plan *p) {
  CHECK(p->n_idmap_mounts == 1 && p->rootfs_ops.n == 1);
  CHECK(p->rootfs_ops.v[0].flags == TSD_OPF_IDMAP);
}
static void idmap_without_userns(struct buf *b) {
  idmap_plan(b, CLONE_NEWNS, TSD_TAG_ROOTFS_OP, TSD_OP_MOUNT);
}
static void idmap_container_op(struct buf *b) {
  idmap_plan(b, CLONE_NEWNS | CLONE_NEWUSER, TSD_TAG_CONTAINER_OP, TSD_OP_MOUNT);
}
static void idmap_mkdir(struct buf *b) {
  idmap_plan(b, CLONE_NEWNS | CLONE_NEWUSER, TSD_TAG_ROOTFS_OP, TSD_OP_MKDIR);
}
static void idmap_too_many(struct buf *b) {
  minimal(b);
  rec_u32(b, TSD_TAG_NAMESPACES, CLONE_NEWNS | CLONE_NEWUSER);
  for (int i = 0; i <= TSD_MAX_IDMAP_MOUNTS; i++) {
    struct buf p = {.n = 0};
    op(&p, TSD_OP_MOUNT, TSD_OPF_IDMAP, "/l", "/l");
    rec_buf(b, TSD_TAG_ROOTFS_OP, &p);
  }
}
/* An idmapped bind with maps of its own (an OCI mount's uidMappings) names op `index`. */
static void own_maps_plan(struct buf *b, uint32_t flags, uint32_t index) {
  struct buf p = {.n = 0}, m = {.n = 0};
  minimal(b);
  rec_u32(b, TSD_TAG_NAMESPACES, CLONE_NEWNS);
  op(&p, TSD_OP_MOUNT, flags, "/srv/data", "/r/data");
  rec_buf(b, TSD_TAG_ROOTFS_OP, &p);
  put_u32(&m, index);
  put_lp(&m, "0 100000 65536\n");
  put_lp(&m, "0 200000 10\n");
  rec_buf(b, TSD_TAG_MOUNT_IDMAP, &m);
}
static void idmap_own_maps(struct buf *b) {
  own_maps_plan(b, TSD_OPF_IDMAP, 0);
}
static void check_idmap_own_maps(const struct tsd_plan *p) {
  CHECK(p->n_idmap_mounts == 1 && p->rootfs_ops.n == 1);
  CHECK(strcmp(p->rootfs_ops.v[0].uid_map, "0 100000 65536\n") == 0);
  CHECK(strcmp(p->rootfs_ops.v[0].gid_map, "0 200000 10\n") == 0);
}
static void idmap_maps_later_op(struct buf *b) {
  own_maps_plan(b, TSD_OPF_IDMAP, 1);
}
static void idmap_maps_plain_op(struct buf *b) {
  own_maps_plan(b, 0, 0);
}
static void op_string_overflow(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  op(&p, TSD_OP_MOUNT, 0, "", "/x");
  p.n -= 4 + 9; /* drop data and its length: then claim 9 bytes that are not there */
  put_u32(&p, 9);
  rec_buf(b, TSD_TAG_CONTAINER_OP, &p);
}
static void op_truncated_head(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  op(&p, TSD_OP_MOUNT, 0, "", "/x");
  p.n = 20; /* ends inside the fixed-size part */
  rec_buf(b, TSD_TAG_CONTAINER_OP, &p);
}
static void op_trailing(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  op(&p, TSD_OP_MOUNT, 0, "", "/x");
  put(&p, "!", 1);
  rec_buf(b, TSD_TAG_CONTAINER_OP, &p);
}
static void op_empty_target(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  op(&p, TSD_OP_MKDIR, 0, "", "");
  rec_buf(b, TSD_TAG_CONTAINER_OP, &p);
}
static void u32_short(struct buf *b) {
  minimal(b);
  rec(b, TSD_TAG_UID, "\x01\x02\x03", 3);
}
static void preserve_too_many(struct buf *b) {
  minimal(b);
  rec_u32(b, TSD_TAG_PRESERVE_FDS, 1025);
}
static void u32_long(struct buf *b) {
  minimal(b);
  rec(b, TSD_TAG_UID, "\x01\x02\x03\x04\x05", 5);
}
static void caps_short(struct buf *b) {
  static const uint8_t zeros[39];
  minimal(b);
  rec(b, TSD_TAG_CAPS, zeros, sizeof(zeros));
}
static void bool_two(struct buf *b) {
  minimal(b);
  rec_u32(b, TSD_TAG_NO_NEW_PRIVS, 2);
}
static void ns_unknown_bits(struct buf *b) {
  minimal(b);
  rec_u32(b, TSD_TAG_NAMESPACES, CLONE_NEWNS | CLONE_VM);
}
static void ns_join_two_types(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  put_u32(&p, CLONE_NEWNET | CLONE_NEWUTS);
  put(&p, "/x", 2);
  rec_buf(b, TSD_TAG_NS_JOIN, &p);
}
static void rlimit_unknown(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  put_u32(&p, RLIMIT_NLIMITS);
  put_u64(&p, 1);
  put_u64(&p, 1);
  rec_buf(b, TSD_TAG_RLIMIT, &p);
}
static void oom_unknown_driver(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  put_u32(&p, 3);
  put(&p, "/x", 2);
  rec_buf(b, TSD_TAG_OOM, &p);
}
static void seccomp_partial(struct buf *b) {
  minimal(b);
  rec(b, TSD_TAG_SECCOMP, "\x06\x00\x00\x00\x00\x00\xff\x7f\x06", 9);
}
static void seccomp_empty(struct buf *b) {
  minimal(b);
  rec(b, TSD_TAG_SECCOMP, "", 0);
}
static void seccomp_twice(struct buf *b) {
  minimal(b);
  rec(b, TSD_TAG_SECCOMP, "\x06\x00\x00\x00\x00\x00\xff\x7f", 8);
  rec(b, TSD_TAG_SECCOMP, "\x06\x00\x00\x00\x00\x00\xff\x7f", 8);
}
static void terminal_too_wide(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  put_u32(&p, 24);
  put_u32(&p, 65536);
  rec_buf(b, TSD_TAG_TERMINAL, &p);
}
static void terminal_no_cols(struct buf *b) {
  minimal(b);
  rec_u32(b, TSD_TAG_TERMINAL, 24);
}
static void terminal_unsized(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  put_u64(&p, 0);
  rec_buf(b, TSD_TAG_TERMINAL, &p);
}
static void check_terminal_unsized(const struct tsd_plan *p) {
  CHECK(p->terminal.enabled && p->terminal.rows == 0 && p->terminal.cols == 0);
}
static void no_argv(struct buf *b) {
  magic(b);
  rec_str(b, TSD_TAG_CWD, "/");
  rec_str(b, TSD_TAG_ROOTFS, "/r");
}
static void no_cwd(struct buf *b) {
  magic(b);
  rec_str(b, TSD_TAG_ARG, "sh");
  rec_str(b, TSD_TAG_ROOTFS, "/r");
}
static void no_rootfs(struct buf *b) {
  magic(b);
  rec_str(b, TSD_TAG_ARG, "sh");
  rec_str(b, TSD_TAG_CWD, "/");
}

/* exec into a running container: no rootfs, the container's mount namespace joined. */
static void exec_plan(struct buf *b) {
  struct buf p = {.n = 0};
  magic(b);
  rec_str(b, TSD_TAG_ARG, "sh");
  rec_str(b, TSD_TAG_CWD, "/");
  put_u32(&p, CLONE_NEWNS);
  put(&p, "/proc/42/ns/mnt", 15);
  rec_buf(b, TSD_TAG_NS_JOIN, &p);
}
/* A hook record: kind, timeout, path, argv, env. */
static void hook(struct buf *b, uint32_t kind, uint32_t timeout, const char *path, uint32_t argc,
                 const char *const *argv, uint32_t envc, const char *const *env) {
  static struct buf p;
  p.n = 0;
  put_u32(&p, kind);
  put_u32(&p, timeout);
  put_u32(&p, argc);
  put_u32(&p, envc);
  put_lp(&p, path);
  for (uint32_t i = 0; i < argc; i++)
    put_lp(&p, argv[i]);
  for (uint32_t i = 0; i < envc; i++)
    put_lp(&p, env[i]);
  rec_buf(b, TSD_TAG_HOOK, &p);
}
static const char *const hook_argv[] = {"sh", "-c", "cat"};
static const char *const hook_env[] = {"A=1"};
static void hooks(struct buf *b) {
  minimal(b);
  hook(b, TSD_HOOK_CREATE_CONTAINER, 5, "/bin/sh", 3, hook_argv, 1, hook_env);
  hook(b, TSD_HOOK_START_CONTAINER, 0, "/bin/true", 1, hook_argv, 0, hook_env);
  rec_str(b, TSD_TAG_HOOK_STATE, "{\"id\":\"c\"}");
  rec_u32(b, TSD_TAG_RUNTIME_HOOKS, 1);
}
static void check_hooks(const struct tsd_plan *p) {
  CHECK(p->n_hooks == 2 && strcmp(p->hook_state, "{\"id\":\"c\"}") == 0 && p->runtime_hooks);
  CHECK(p->hooks[0].kind == TSD_HOOK_CREATE_CONTAINER && p->hooks[0].timeout == 5);
  CHECK(strcmp(p->hooks[0].path, "/bin/sh") == 0 && p->hooks[0].args.n == 3);
  CHECK(strcmp(p->hooks[0].args.v[2], "cat") == 0 && p->hooks[0].args.v[3] == NULL);
  CHECK(p->hooks[0].env.n == 1 && strcmp(p->hooks[0].env.v[0], "A=1") == 0);
  CHECK(p->hooks[1].kind == TSD_HOOK_START_CONTAINER && p->hooks[1].env.n == 0);
  CHECK(p->hooks[1].env.v != NULL && p->hooks[1].env.v[0] == NULL);
}
static void hook_without_state(struct buf *b) {
  minimal(b);
  hook(b, TSD_HOOK_CREATE_CONTAINER, 0, "/bin/true", 1, hook_argv, 0, hook_env);
}
static void hook_unknown_kind(struct buf *b) {
  minimal(b);
  hook(b, 3, 0, "/bin/true", 1, hook_argv, 0, hook_env);
  rec_str(b, TSD_TAG_HOOK_STATE, "{}");
}
static void hook_relative(struct buf *b) {
  minimal(b);
  hook(b, TSD_HOOK_START_CONTAINER, 0, "bin/true", 1, hook_argv, 0, hook_env);
  rec_str(b, TSD_TAG_HOOK_STATE, "{}");
}
static void hook_no_argv(struct buf *b) {
  minimal(b);
  hook(b, TSD_HOOK_START_CONTAINER, 0, "/bin/true", 0, hook_argv, 0, hook_env);
  rec_str(b, TSD_TAG_HOOK_STATE, "{}");
}
static void hook_argc_too_big(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  put_u32(&p, TSD_HOOK_START_CONTAINER);
  put_u32(&p, 0);
  put_u32(&p, UINT32_MAX);
  put_u32(&p, 0);
  put_lp(&p, "/bin/true");
  rec_buf(b, TSD_TAG_HOOK, &p);
  rec_str(b, TSD_TAG_HOOK_STATE, "{}");
}
static void hook_cut_short(struct buf *b) {
  struct buf p = {.n = 0};
  minimal(b);
  put_u32(&p, TSD_HOOK_START_CONTAINER);
  put_u32(&p, 0);
  put_u32(&p, 2);
  put_u32(&p, 0);
  put_lp(&p, "/bin/true");
  put_lp(&p, "true");
  rec_buf(b, TSD_TAG_HOOK, &p);
  rec_str(b, TSD_TAG_HOOK_STATE, "{}");
}
static void hook_state_not_object(struct buf *b) {
  minimal(b);
  rec_str(b, TSD_TAG_HOOK_STATE, "[]");
}
static void check_exec_plan(const struct tsd_plan *p) {
  CHECK(p->rootfs == NULL);
  CHECK(p->n_ns_joins == 1 && p->ns_joins[0].type == CLONE_NEWNS);
}

struct test_case {
  const char *name;
  void (*build)(struct buf *);
  const char *error;                       /* a substring of the expected error, or NULL */
  void (*check)(const struct tsd_plan *p); /* for valid plans */
};

static const struct test_case cases[] = {
    {"minimal plan", minimal, NULL, check_minimal},
    {"every record", rich, NULL, check_rich},
    {"hooks", hooks, NULL, check_hooks},
    {"hooks without a state", hook_without_state, "no hook state", NULL},
    {"hook of an unknown kind", hook_unknown_kind, "unknown kind 3", NULL},
    {"hook with a relative path", hook_relative, "not absolute", NULL},
    {"hook without argv", hook_no_argv, "no argv", NULL},
    {"hook with 2^32-1 args", hook_argc_too_big, "overflow the record", NULL},
    {"hook cut short", hook_cut_short, "truncated record", NULL},
    {"hook state not an object", hook_state_not_object, "not a JSON object", NULL},
    {"empty buffer", empty, "bad magic", NULL},
    {"short magic", short_magic, "bad magic", NULL},
    {"wrong magic", wrong_magic, "bad magic", NULL},
    {"truncated record header", truncated_header, "truncated record header", NULL},
    {"length past the buffer", length_overflow, "overflows the buffer", NULL},
    {"length 2^32-1", length_huge, "overflows the buffer", NULL},
    {"tag 0", tag_zero, "unknown tag", NULL},
    {"tag after the last", tag_past_end, "unknown tag", NULL},
    {"tag 2^32-1", tag_huge, "unknown tag", NULL},
    {"NUL in a string record", nul_in_arg, "NUL", NULL},
    {"NUL in a namespace path", nul_in_ns_path, "NUL", NULL},
    {"NUL in an op string", nul_in_op_string, "NUL", NULL},
    {"duplicate cwd", duplicate_cwd, "duplicate record", NULL},
    {"duplicate propagation", duplicate_propagation, "duplicate record", NULL},
    {"op kind 0", op_kind_zero, "unknown kind 0", NULL},
    {"op kind after the last", op_kind_past_end, "unknown kind 9", NULL},
    {"op with an unknown flag", op_unknown_flag, "unknown flags 0x20", NULL},
    {"idmapped bind", idmap_bind, NULL, check_idmap_bind},
    {"idmap without a user namespace", idmap_without_userns, "without a user namespace", NULL},
    {"idmap on a container op", idmap_container_op, "idmap on a container op", NULL},
    {"idmap on a mkdir", idmap_mkdir, "not a bind mount", NULL},
    {"254 idmapped mounts", idmap_too_many, "more than 253 idmapped mounts", NULL},
    {"idmap with maps of its own", idmap_own_maps, NULL, check_idmap_own_maps},
    {"mount idmap before its op", idmap_maps_later_op, "names rootfs op 1 of 1", NULL},
    {"mount idmap on a plain op", idmap_maps_plain_op, "names an op without idmap", NULL},
    {"op string past the record", op_string_overflow, "overflows the record", NULL},
    {"op cut in its fixed part", op_truncated_head, "truncated record", NULL},
    {"op with trailing bytes", op_trailing, "1 unexpected trailing bytes", NULL},
    {"op with an empty target", op_empty_target, "empty target", NULL},
    {"u32 record of 3 bytes", u32_short, "truncated record", NULL},
    {"u32 record of 5 bytes", u32_long, "trailing bytes", NULL},
    {"too many fds to preserve", preserve_too_many, "more than 1024", NULL},
    {"caps record of 39 bytes", caps_short, "truncated record", NULL},
    {"boolean 2", bool_two, "not 0 or 1", NULL},
    {"unknown namespace flag", ns_unknown_bits, "unknown namespace flags 0x100", NULL},
    {"namespace join of two types", ns_join_two_types, "not one CLONE_NEW", NULL},
    {"unknown rlimit", rlimit_unknown, "unknown rlimit resource", NULL},
    {"unknown OOM driver", oom_unknown_driver, "unknown OOM driver 3", NULL},
    {"seccomp filter of 9 bytes", seccomp_partial, "not whole instructions", NULL},
    {"empty seccomp filter", seccomp_empty, "has 0 instructions", NULL},
    {"duplicate seccomp filter", seccomp_twice, "duplicate record", NULL},
    {"terminal 24x65536", terminal_too_wide, "does not fit a winsize", NULL},
    {"terminal without cols", terminal_no_cols, "truncated record", NULL},
    {"terminal of size 0x0", terminal_unsized, NULL, check_terminal_unsized},
    {"no argv", no_argv, "no argv", NULL},
    {"no cwd", no_cwd, "no cwd", NULL},
    {"no rootfs", no_rootfs, "no rootfs", NULL},
    {"exec plan: no rootfs, joins a mount namespace", exec_plan, NULL, check_exec_plan},
};

/* Decodes the first len bytes from an allocation of exactly that size. */
static int decode(const struct buf *b, size_t len, struct tsd_plan *plan, char *err, size_t n) {
  uint8_t *copy = malloc(len ? len : 1);
  memcpy(copy, b->b, len);
  int rc = tsd_plan_decode(copy, len, plan, err, n);
  free(copy);
  return rc;
}

static bool is_empty(const struct tsd_plan *p) {
  static const struct tsd_plan zero;
  return memcmp(p, &zero, sizeof(zero)) == 0;
}

static void run_case(const struct test_case *t) {
  struct buf b = {.n = 0};
  struct tsd_plan plan;
  char err[256] = "";
  t->build(&b);
  int rc = decode(&b, b.n, &plan, err, sizeof(err));
  if (t->error == NULL) {
    CHECK(rc == 0);
    if (rc == 0)
      t->check(&plan);
    else
      fprintf(stderr, "  unexpected error: %s\n", err);
  } else {
    CHECK(rc == -1);
    CHECK(strstr(err, t->error) != NULL);
    CHECK(is_empty(&plan));
    if (strstr(err, t->error) == NULL) fprintf(stderr, "  error was: %s\n", err);
  }
  tsd_plan_free(&plan);
}

/* Every prefix and every single-byte change of a rich plan decodes or fails, never misreads. */
static void run_mutations(void) {
  struct buf b = {.n = 0};
  struct tsd_plan plan;
  char err[256];
  rich(&b);
  for (size_t len = 0; len <= b.n; len++) {
    if (decode(&b, len, &plan, err, sizeof(err)) == 0) tsd_plan_free(&plan);
  }
  for (size_t at = 0; at < b.n; at++) {
    struct buf m = b;
    m.b[at] ^= 0xff;
    if (decode(&m, m.n, &plan, err, sizeof(err)) == 0)
      tsd_plan_free(&plan);
    else
      CHECK(is_empty(&plan) && err[0] != '\0');
  }
}

/* A tiny error buffer truncates the message but never overruns it. */
static void run_small_error_buffer(void) {
  struct buf b = {.n = 0};
  struct tsd_plan plan;
  char err[8];
  duplicate_cwd(&b);
  CHECK(decode(&b, b.n, &plan, err, sizeof(err)) == -1);
  CHECK(strlen(err) == sizeof(err) - 1);
}

int main(void) {
  int passed = 0, failed = 0;
  struct {
    const char *name;
    void (*run)(void);
  } extra[] = {{"prefixes and byte flips", run_mutations},
               {"small error buffer", run_small_error_buffer}};
  size_t ncases = sizeof(cases) / sizeof(cases[0]);
  size_t nextra = sizeof(extra) / sizeof(extra[0]);
  for (size_t i = 0; i < ncases + nextra; i++) {
    int before = failures;
    const char *name = i < ncases ? cases[i].name : extra[i - ncases].name;
    if (i < ncases)
      run_case(&cases[i]);
    else
      extra[i - ncases].run();
    bool ok = failures == before;
    printf("%s - %s\n", ok ? "ok" : "FAIL", name);
    ok ? passed++ : failed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
