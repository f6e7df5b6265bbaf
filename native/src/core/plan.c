/*
 * Decoder of the spawn plan wire format (include/plan.h). Every read is bounds-checked against
 * the record it belongs to; anything the encoder in src/runtime/plan-codec.ts cannot produce is
 * rejected with a reason, because a plan that decodes "mostly" would start a different container.
 */
#define _GNU_SOURCE
#include "spawn_plan.h"

#include "plan.h"

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define NS_FLAGS                                                                                   \
  (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |       \
   CLONE_NEWCGROUP)
#define OP_FLAGS                                                                                   \
  (TSD_OPF_MKDIR_TARGET | TSD_OPF_MKFILE_TARGET | TSD_OPF_READONLY | TSD_OPF_NO_SYMLINKS |         \
   TSD_OPF_IDMAP)
#define BIT(tag) (1ull << (tag))
#define REPEATED_TAGS                                                                              \
  (BIT(TSD_TAG_ARG) | BIT(TSD_TAG_ENV) | BIT(TSD_TAG_NS_JOIN) | BIT(TSD_TAG_ADDITIONAL_GID) |      \
   BIT(TSD_TAG_RLIMIT) | BIT(TSD_TAG_CGROUP_PROCS) | BIT(TSD_TAG_ROOTFS_OP) |                      \
   BIT(TSD_TAG_CONTAINER_OP) | BIT(TSD_TAG_CGROUP_DIR) | BIT(TSD_TAG_HOOK) |                       \
   BIT(TSD_TAG_MOUNT_IDMAP))

/* The unread rest of one record's payload. */
struct cursor {
  const uint8_t *p;
  size_t left;
};

struct decoder {
  struct tsd_plan *plan;
  uint64_t seen; /* BIT(tag) of every tag met so far */
  uint32_t tag;  /* the record being decoded, for messages */
  size_t offset;
  char *err;
  size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct decoder *d, const char *fmt, ...) {
  int n = 0;
  if (d->tag != 0)
    n = snprintf(d->err, d->errlen, "record tag %u at offset %zu: ", d->tag, d->offset);
  if (n < 0 || (size_t)n >= d->errlen) n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->err + n, d->errlen - n, fmt, ap);
  va_end(ap);
  return -1;
}

static int need(struct decoder *d, const struct cursor *c, size_t n) {
  if (c->left < n) return fail(d, "truncated record: need %zu more bytes, have %zu", n, c->left);
  return 0;
}

static int take_u32(struct decoder *d, struct cursor *c, uint32_t *v) {
  if (need(d, c, 4) < 0) return -1;
  const uint8_t *b = c->p;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  c->p += 4;
  c->left -= 4;
  return 0;
}

static int take_u64(struct decoder *d, struct cursor *c, uint64_t *v) {
  uint32_t lo, hi;
  if (take_u32(d, c, &lo) < 0 || take_u32(d, c, &hi) < 0) return -1;
  *v = (uint64_t)hi << 32 | lo;
  return 0;
}

static int take_bool(struct decoder *d, struct cursor *c, bool *v) {
  uint32_t u;
  if (take_u32(d, c, &u) < 0) return -1;
  if (u > 1) return fail(d, "boolean is %u, not 0 or 1", u);
  *v = u;
  return 0;
}

/* Copies n bytes of the cursor as a NUL-terminated string. */
static int take_string_n(struct decoder *d, struct cursor *c, size_t n, char **out) {
  if (n > c->left)
    return fail(d, "string length %zu overflows the record (%zu bytes left)", n, c->left);
  if (memchr(c->p, '\0', n) != NULL) return fail(d, "string contains a NUL byte");
  char *s = malloc(n + 1);
  if (s == NULL) return fail(d, "out of memory");
  memcpy(s, c->p, n);
  s[n] = '\0';
  c->p += n;
  c->left -= n;
  *out = s;
  return 0;
}

/* A string that fills the rest of the record. */
static int take_string(struct decoder *d, struct cursor *c, char **out) {
  return take_string_n(d, c, c->left, out);
}

/* A string inside a record: u32 length, then the bytes. */
static int take_prefixed_string(struct decoder *d, struct cursor *c, char **out) {
  uint32_t n;
  if (take_u32(d, c, &n) < 0) return -1;
  return take_string_n(d, c, n, out);
}

/* Appends one zeroed element of size bytes to the array *v of *n elements. */
static void *grow(struct decoder *d, void **v, size_t *n, size_t size) {
  void *bigger = realloc(*v, (*n + 1) * size);
  if (bigger == NULL) {
    fail(d, "out of memory");
    return NULL;
  }
  *v = bigger;
  void *slot = (char *)bigger + *n * size;
  memset(slot, 0, size);
  (*n)++;
  return slot;
}

static int push_string(struct decoder *d, struct cursor *c, struct tsd_strv *sv) {
  char **v = realloc(sv->v, (sv->n + 2) * sizeof(*v));
  if (v == NULL) return fail(d, "out of memory");
  sv->v = v;
  v[sv->n] = NULL;
  v[sv->n + 1] = NULL;
  if (take_string(d, c, &v[sv->n]) < 0) return -1;
  sv->n++;
  return 0;
}

static int decode_ns_join(struct decoder *d, struct cursor *c) {
  struct tsd_plan *p = d->plan;
  struct tsd_ns_join *j = grow(d, (void **)&p->ns_joins, &p->n_ns_joins, sizeof(*j));
  if (j == NULL || take_u32(d, c, &j->type) < 0) return -1;
  /* Exactly one namespace flag: setns(2) with several would accept any of them. */
  if ((j->type & NS_FLAGS) != j->type || __builtin_popcount(j->type) != 1)
    return fail(d, "namespace to join has type 0x%x, not one CLONE_NEW* flag", j->type);
  return take_string(d, c, &j->path);
}

static int decode_additional_gid(struct decoder *d, struct cursor *c) {
  struct tsd_plan *p = d->plan;
  gid_t *g = grow(d, (void **)&p->additional_gids, &p->n_additional_gids, sizeof(*g));
  return g == NULL ? -1 : take_u32(d, c, g);
}

static int decode_caps(struct decoder *d, struct cursor *c) {
  struct tsd_caps *k = &d->plan->caps;
  d->plan->has_caps = true;
  if (take_u64(d, c, &k->bounding) < 0 || take_u64(d, c, &k->effective) < 0 ||
      take_u64(d, c, &k->permitted) < 0 || take_u64(d, c, &k->inheritable) < 0)
    return -1;
  return take_u64(d, c, &k->ambient);
}

static int decode_rlimit(struct decoder *d, struct cursor *c) {
  struct tsd_plan *p = d->plan;
  struct tsd_rlimit *r = grow(d, (void **)&p->rlimits, &p->n_rlimits, sizeof(*r));
  if (r == NULL || take_u32(d, c, &r->resource) < 0) return -1;
  if (r->resource >= RLIMIT_NLIMITS) return fail(d, "unknown rlimit resource %u", r->resource);
  if (take_u64(d, c, &r->soft) < 0) return -1;
  return take_u64(d, c, &r->hard);
}

static int decode_op(struct decoder *d, struct cursor *c, struct tsd_fs_ops *ops) {
  struct tsd_fs_op *op = grow(d, (void **)&ops->v, &ops->n, sizeof(*op));
  if (op == NULL || take_u32(d, c, &op->kind) < 0 || take_u32(d, c, &op->flags) < 0 ||
      take_u64(d, c, &op->mount_flags) < 0 || take_u32(d, c, &op->mode) < 0 ||
      take_u32(d, c, &op->major) < 0 || take_u32(d, c, &op->minor) < 0)
    return -1;
  if (op->kind < TSD_OP_MOUNT || op->kind > TSD_OP_WRITE)
    return fail(d, "fs op has unknown kind %u", op->kind);
  if (op->flags & ~OP_FLAGS) return fail(d, "fs op has unknown flags 0x%x", op->flags);
  if (take_prefixed_string(d, c, &op->source) < 0 || take_prefixed_string(d, c, &op->target) < 0 ||
      take_prefixed_string(d, c, &op->fstype) < 0 || take_prefixed_string(d, c, &op->data) < 0)
    return -1;
  if (op->target[0] == '\0') return fail(d, "fs op has an empty target");
  return 0;
}

static int decode_mount_idmap(struct decoder *d, struct cursor *c) {
  struct tsd_fs_ops *ops = &d->plan->rootfs_ops;
  uint32_t index;
  if (take_u32(d, c, &index) < 0) return -1;
  if (index >= ops->n) return fail(d, "mount idmap names rootfs op %u of %zu", index, ops->n);
  struct tsd_fs_op *op = &ops->v[index];
  if (!(op->flags & TSD_OPF_IDMAP)) return fail(d, "mount idmap names an op without idmap");
  if (op->uid_map != NULL) return fail(d, "mount idmap names rootfs op %u twice", index);
  if (take_prefixed_string(d, c, &op->uid_map) < 0 || take_prefixed_string(d, c, &op->gid_map) < 0)
    return -1;
  if (op->uid_map[0] == '\0' || op->gid_map[0] == '\0')
    return fail(d, "mount idmap has an empty uid_map or gid_map");
  return 0;
}

static int decode_oom(struct decoder *d, struct cursor *c) {
  struct tsd_plan *p = d->plan;
  if (take_u32(d, c, &p->oom_driver) < 0) return -1;
  if (p->oom_driver != TSD_OOM_V1 && p->oom_driver != TSD_OOM_V2)
    return fail(d, "unknown OOM driver %u", p->oom_driver);
  return take_string(d, c, &p->oom_path);
}

/*
 * A classic BPF program for seccomp(2): whole instructions, no more than the kernel takes
 * (BPF_MAXINSNS). The kernel verifies the instructions themselves when the child loads them.
 */
static int decode_seccomp(struct decoder *d, struct cursor *c) {
  struct tsd_plan *p = d->plan;
  size_t n = c->left / sizeof(struct sock_filter);
  if (c->left % sizeof(struct sock_filter) != 0)
    return fail(d, "seccomp filter of %zu bytes is not whole instructions", c->left);
  if (n == 0 || n > BPF_MAXINSNS)
    return fail(d, "seccomp filter has %zu instructions, not 1 to %d", n, BPF_MAXINSNS);
  p->seccomp = calloc(n, sizeof(*p->seccomp));
  if (p->seccomp == NULL) return fail(d, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const uint8_t *b = c->p + i * sizeof(struct sock_filter);
    p->seccomp[i].code = (uint16_t)(b[0] | b[1] << 8);
    p->seccomp[i].jt = b[2];
    p->seccomp[i].jf = b[3];
    p->seccomp[i].k =
        (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
  }
  p->n_seccomp = n;
  c->p += c->left;
  c->left = 0;
  return 0;
}

static int decode_terminal(struct decoder *d, struct cursor *c) {
  struct tsd_terminal *t = &d->plan->terminal;
  uint32_t rows, cols;
  if (take_u32(d, c, &rows) < 0 || take_u32(d, c, &cols) < 0) return -1;
  /* struct winsize has unsigned short fields. */
  if (rows > UINT16_MAX || cols > UINT16_MAX)
    return fail(d, "terminal size %ux%u does not fit a winsize", rows, cols);
  *t = (struct tsd_terminal){.enabled = true, .rows = (uint16_t)rows, .cols = (uint16_t)cols};
  return 0;
}

/* n length-prefixed strings appended to sv. */
static int take_strings(struct decoder *d, struct cursor *c, uint32_t n, struct tsd_strv *sv) {
  if (n > c->left / 4) return fail(d, "%u strings overflow the record", n);
  sv->v = calloc((size_t)n + 1, sizeof(*sv->v));
  if (sv->v == NULL) return fail(d, "out of memory");
  for (; sv->n < n; sv->n++)
    if (take_prefixed_string(d, c, &sv->v[sv->n]) < 0) return -1;
  return 0;
}

static int decode_hook(struct decoder *d, struct cursor *c) {
  struct tsd_plan *p = d->plan;
  uint32_t argc, envc;
  struct tsd_hook *h = grow(d, (void **)&p->hooks, &p->n_hooks, sizeof(*h));
  if (h == NULL || take_u32(d, c, &h->kind) < 0 || take_u32(d, c, &h->timeout) < 0 ||
      take_u32(d, c, &argc) < 0 || take_u32(d, c, &envc) < 0)
    return -1;
  if (h->kind != TSD_HOOK_CREATE_CONTAINER && h->kind != TSD_HOOK_START_CONTAINER)
    return fail(d, "hook has unknown kind %u", h->kind);
  if (argc == 0) return fail(d, "hook has no argv");
  if (take_prefixed_string(d, c, &h->path) < 0 || take_strings(d, c, argc, &h->args) < 0 ||
      take_strings(d, c, envc, &h->env) < 0)
    return -1;
  if (h->path[0] != '/') return fail(d, "hook path %s is not absolute", h->path);
  return 0;
}

static int decode_record(struct decoder *d, struct cursor *c) {
  struct tsd_plan *p = d->plan;
  switch (d->tag) {
  case TSD_TAG_ARG:
    return push_string(d, c, &p->args);
  case TSD_TAG_ENV:
    return push_string(d, c, &p->env);
  case TSD_TAG_CWD:
    return take_string(d, c, &p->cwd);
  case TSD_TAG_HOSTNAME:
    return take_string(d, c, &p->hostname);
  case TSD_TAG_ROOTFS:
    return take_string(d, c, &p->rootfs);
  case TSD_TAG_NAMESPACES:
    if (take_u32(d, c, &p->namespaces) < 0) return -1;
    if (p->namespaces & ~NS_FLAGS)
      return fail(d, "unknown namespace flags 0x%x", p->namespaces & ~NS_FLAGS);
    return 0;
  case TSD_TAG_NS_JOIN:
    return decode_ns_join(d, c);
  case TSD_TAG_UID:
    return take_u32(d, c, &p->uid);
  case TSD_TAG_GID:
    return take_u32(d, c, &p->gid);
  case TSD_TAG_ADDITIONAL_GID:
    return decode_additional_gid(d, c);
  case TSD_TAG_UID_MAP:
    return take_string(d, c, &p->uid_map);
  case TSD_TAG_GID_MAP:
    return take_string(d, c, &p->gid_map);
  case TSD_TAG_CAPS:
    return decode_caps(d, c);
  case TSD_TAG_NO_NEW_PRIVS:
    return take_bool(d, c, &p->no_new_privs);
  case TSD_TAG_RLIMIT:
    return decode_rlimit(d, c);
  case TSD_TAG_OOM_SCORE_ADJ:
    p->has_oom_score_adj = true;
    return take_u32(d, c, (uint32_t *)&p->oom_score_adj);
  case TSD_TAG_CGROUP_PROCS:
    return push_string(d, c, &p->cgroup_procs);
  case TSD_TAG_ROOTFS_OP:
    return decode_op(d, c, &p->rootfs_ops);
  case TSD_TAG_CONTAINER_OP:
    return decode_op(d, c, &p->container_ops);
  case TSD_TAG_READONLY_ROOTFS:
    return take_bool(d, c, &p->readonly_rootfs);
  case TSD_TAG_LOOPBACK_UP:
    return take_bool(d, c, &p->loopback_up);
  case TSD_TAG_PROPAGATION:
    return take_u64(d, c, &p->propagation);
  case TSD_TAG_CGROUP_DIR:
    return push_string(d, c, &p->cgroup_dirs);
  case TSD_TAG_OOM:
    return decode_oom(d, c);
  case TSD_TAG_EXIT_FILE:
    return take_string(d, c, &p->exit_file);
  case TSD_TAG_SECCOMP:
    return decode_seccomp(d, c);
  case TSD_TAG_START_SOCKET:
    return take_string(d, c, &p->start_socket);
  case TSD_TAG_PRESERVE_FDS:
    if (take_u32(d, c, &p->preserve_fds) < 0) return -1;
    /* Far below any fd limit, and far above what a caller passes (containerd: a few). */
    if (p->preserve_fds > 1024)
      return fail(d, "%u fds to preserve, more than 1024", p->preserve_fds);
    return 0;
  case TSD_TAG_TERMINAL:
    return decode_terminal(d, c);
  case TSD_TAG_HOOK:
    return decode_hook(d, c);
  case TSD_TAG_RUNTIME_HOOKS:
    return take_bool(d, c, &p->runtime_hooks);
  case TSD_TAG_MOUNT_IDMAP:
    return decode_mount_idmap(d, c);
  case TSD_TAG_HOOK_STATE:
    if (take_string(d, c, &p->hook_state) < 0) return -1;
    if (p->hook_state[0] != '{') return fail(d, "hook state is not a JSON object");
    return 0;
  }
  return fail(d, "unknown tag");
}

/* Decodes the record at *offset and advances past it. */
static int decode_next(struct decoder *d, const uint8_t *buf, size_t len, size_t *offset) {
  struct cursor head = {buf + *offset, len - *offset};
  uint32_t tag, n;
  if (head.left < 8)
    return fail(d, "truncated record header at offset %zu (%zu bytes)", *offset, head.left);
  take_u32(d, &head, &tag);
  take_u32(d, &head, &n);
  d->tag = tag;
  d->offset = *offset;
  if (n > head.left)
    return fail(d, "length %u overflows the buffer (%zu bytes left)", n, head.left);
  if (tag < TSD_TAG_ARG || tag > TSD_TAG_MOUNT_IDMAP) return fail(d, "unknown tag");
  if ((d->seen & BIT(tag)) && !(REPEATED_TAGS & BIT(tag))) return fail(d, "duplicate record");
  d->seen |= BIT(tag);

  struct cursor c = {head.p, n};
  if (decode_record(d, &c) < 0) return -1;
  if (c.left != 0) return fail(d, "%zu unexpected trailing bytes", c.left);
  *offset += 8 + (size_t)n;
  d->tag = 0;
  return 0;
}

/*
 * Idmapped binds: rootfs mounts only, few enough, and those idmapped to the child's user
 * namespace only when the plan makes one.
 */
static int check_idmap_mounts(struct decoder *d) {
  struct tsd_plan *p = d->plan;
  for (size_t i = 0; i < p->container_ops.n; i++)
    if (p->container_ops.v[i].flags & TSD_OPF_IDMAP) return fail(d, "idmap on a container op");
  for (size_t i = 0; i < p->rootfs_ops.n; i++) {
    const struct tsd_fs_op *op = &p->rootfs_ops.v[i];
    if (!(op->flags & TSD_OPF_IDMAP)) continue;
    if (op->kind != TSD_OP_MOUNT || op->source[0] == '\0')
      return fail(d, "idmap on an op that is not a bind mount");
    if (op->uid_map == NULL && !(p->namespaces & CLONE_NEWUSER))
      return fail(d, "idmapped mounts without a user namespace of the container's own");
    p->n_idmap_mounts++;
  }
  if (p->n_idmap_mounts > TSD_MAX_IDMAP_MOUNTS)
    return fail(d, "more than %d idmapped mounts", TSD_MAX_IDMAP_MOUNTS);
  return 0;
}

static int check_required(struct decoder *d) {
  if (d->plan->args.n == 0) return fail(d, "plan has no argv");
  if (d->plan->cwd == NULL) return fail(d, "plan has no cwd");
  /* Without a rootfs the process runs in a mount namespace it joins (exec into a container). */
  bool joins_mnt = false;
  for (size_t i = 0; i < d->plan->n_ns_joins; i++)
    joins_mnt = joins_mnt || d->plan->ns_joins[i].type == CLONE_NEWNS;
  if (d->plan->rootfs == NULL && !joins_mnt) return fail(d, "plan has no rootfs");
  if (d->plan->n_hooks > 0 && d->plan->hook_state == NULL)
    return fail(d, "plan has hooks but no hook state");
  return check_idmap_mounts(d);
}

int tsd_plan_decode(const uint8_t *buf, size_t len, struct tsd_plan *plan, char *err,
                    size_t errlen) {
  struct decoder d = {.plan = plan, .err = err, .errlen = errlen};
  memset(plan, 0, sizeof(*plan));
  if (len < TSD_PLAN_MAGIC_LEN || memcmp(buf, TSD_PLAN_MAGIC, TSD_PLAN_MAGIC_LEN) != 0) {
    fail(&d, "bad magic: not a spawn plan");
    return -1;
  }
  size_t offset = TSD_PLAN_MAGIC_LEN;
  while (offset < len) {
    if (decode_next(&d, buf, len, &offset) < 0) {
      tsd_plan_free(plan);
      return -1;
    }
  }
  if (check_required(&d) < 0) {
    tsd_plan_free(plan);
    return -1;
  }
  return 0;
}

static void free_strv(struct tsd_strv *sv) {
  for (size_t i = 0; i < sv->n; i++)
    free(sv->v[i]);
  free(sv->v);
}

static void free_ops(struct tsd_fs_ops *ops) {
  for (size_t i = 0; i < ops->n; i++) {
    free(ops->v[i].source);
    free(ops->v[i].target);
    free(ops->v[i].fstype);
    free(ops->v[i].data);
    free(ops->v[i].uid_map);
    free(ops->v[i].gid_map);
  }
  free(ops->v);
}

void tsd_plan_free(struct tsd_plan *p) {
  free_strv(&p->args);
  free_strv(&p->env);
  free_strv(&p->cgroup_procs);
  free_strv(&p->cgroup_dirs);
  free_ops(&p->rootfs_ops);
  free_ops(&p->container_ops);
  for (size_t i = 0; i < p->n_ns_joins; i++)
    free(p->ns_joins[i].path);
  free(p->ns_joins);
  free(p->additional_gids);
  free(p->rlimits);
  free(p->cwd);
  free(p->rootfs);
  free(p->hostname);
  free(p->uid_map);
  free(p->gid_map);
  free(p->oom_path);
  free(p->exit_file);
  free(p->seccomp);
  free(p->start_socket);
  for (size_t i = 0; i < p->n_hooks; i++) {
    free(p->hooks[i].path);
    free_strv(&p->hooks[i].args);
    free_strv(&p->hooks[i].env);
  }
  free(p->hooks);
  free(p->hook_state);
  memset(p, 0, sizeof(*p));
}
