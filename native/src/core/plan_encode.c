/*
 * Encoder of the spawn plan wire format (include/plan.h): the C twin of
 * src/runtime/plan-codec.ts, record for record and in the same order, so that a plan built
 * natively (tsdock-runtime's create) is byte for byte the plan TypeScript would have written.
 * test/unit/oci-native-plan.test.ts holds the two to that.
 */
#include "plan_encode.h"

#include "plan.h"

#include <stdlib.h>
#include <string.h>

struct writer {
  uint8_t *buf;
  size_t len, cap;
  bool failed;
};

static void put(struct writer *w, const void *bytes, size_t n) {
  if (w->failed) return;
  if (w->len + n > w->cap) {
    size_t cap = w->cap == 0 ? 4096 : w->cap;
    while (cap < w->len + n)
      cap *= 2;
    uint8_t *grown = realloc(w->buf, cap);
    if (grown == NULL) {
      w->failed = true;
      return;
    }
    w->buf = grown;
    w->cap = cap;
  }
  if (n > 0) memcpy(w->buf + w->len, bytes, n);
  w->len += n;
}

static void put_u32(struct writer *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  put(w, b, 4);
}

static void put_u64(struct writer *w, uint64_t v) {
  put_u32(w, (uint32_t)v);
  put_u32(w, (uint32_t)(v >> 32));
}

static void head(struct writer *w, uint32_t tag, size_t len) {
  put_u32(w, tag);
  put_u32(w, (uint32_t)len);
}

static void string(struct writer *w, uint32_t tag, const char *s) {
  head(w, tag, strlen(s));
  put(w, s, strlen(s));
}

static void u32(struct writer *w, uint32_t tag, uint32_t v) {
  head(w, tag, 4);
  put_u32(w, v);
}

static void prefixed(struct writer *w, const char *s) {
  put_u32(w, (uint32_t)strlen(s));
  put(w, s, strlen(s));
}

static void op(struct writer *w, uint32_t tag, const struct tsd_fs_op *o) {
  const char *strings[] = {o->source, o->target, o->fstype, o->data};
  size_t len = 4 * 5 + 8 + 4 * 4;
  for (int i = 0; i < 4; i++)
    len += strlen(strings[i]);
  head(w, tag, len);
  put_u32(w, o->kind);
  put_u32(w, o->flags);
  put_u64(w, o->mount_flags);
  put_u32(w, o->mode);
  put_u32(w, o->major);
  put_u32(w, o->minor);
  for (int i = 0; i < 4; i++)
    prefixed(w, strings[i]);
}

static void hook(struct writer *w, const struct tsd_hook *h) {
  size_t len = 4 * 4 + 4 + strlen(h->path);
  for (size_t i = 0; i < h->args.n; i++)
    len += 4 + strlen(h->args.v[i]);
  for (size_t i = 0; i < h->env.n; i++)
    len += 4 + strlen(h->env.v[i]);
  head(w, TSD_TAG_HOOK, len);
  put_u32(w, h->kind);
  put_u32(w, h->timeout);
  put_u32(w, (uint32_t)h->args.n);
  put_u32(w, (uint32_t)h->env.n);
  prefixed(w, h->path);
  for (size_t i = 0; i < h->args.n; i++)
    prefixed(w, h->args.v[i]);
  for (size_t i = 0; i < h->env.n; i++)
    prefixed(w, h->env.v[i]);
}

int tsd_plan_encode(const struct tsd_plan *p, uint8_t **out, size_t *len) {
  struct writer w = {0};
  put(&w, TSD_PLAN_MAGIC, TSD_PLAN_MAGIC_LEN);
  for (size_t i = 0; i < p->args.n; i++)
    string(&w, TSD_TAG_ARG, p->args.v[i]);
  for (size_t i = 0; i < p->env.n; i++)
    string(&w, TSD_TAG_ENV, p->env.v[i]);
  string(&w, TSD_TAG_CWD, p->cwd);
  if (p->hostname != NULL) string(&w, TSD_TAG_HOSTNAME, p->hostname);
  if (p->rootfs != NULL) string(&w, TSD_TAG_ROOTFS, p->rootfs);
  u32(&w, TSD_TAG_NAMESPACES, p->namespaces);
  for (size_t i = 0; i < p->n_ns_joins; i++) {
    head(&w, TSD_TAG_NS_JOIN, 4 + strlen(p->ns_joins[i].path));
    put_u32(&w, p->ns_joins[i].type);
    put(&w, p->ns_joins[i].path, strlen(p->ns_joins[i].path));
  }
  u32(&w, TSD_TAG_UID, p->uid);
  u32(&w, TSD_TAG_GID, p->gid);
  for (size_t i = 0; i < p->n_additional_gids; i++)
    u32(&w, TSD_TAG_ADDITIONAL_GID, p->additional_gids[i]);
  if (p->uid_map != NULL) string(&w, TSD_TAG_UID_MAP, p->uid_map);
  if (p->gid_map != NULL) string(&w, TSD_TAG_GID_MAP, p->gid_map);
  if (p->has_caps) {
    head(&w, TSD_TAG_CAPS, 40);
    put_u64(&w, p->caps.bounding);
    put_u64(&w, p->caps.effective);
    put_u64(&w, p->caps.permitted);
    put_u64(&w, p->caps.inheritable);
    put_u64(&w, p->caps.ambient);
  }
  u32(&w, TSD_TAG_NO_NEW_PRIVS, p->no_new_privs);
  for (size_t i = 0; i < p->n_rlimits; i++) {
    head(&w, TSD_TAG_RLIMIT, 20);
    put_u32(&w, p->rlimits[i].resource);
    put_u64(&w, p->rlimits[i].soft);
    put_u64(&w, p->rlimits[i].hard);
  }
  if (p->has_oom_score_adj) u32(&w, TSD_TAG_OOM_SCORE_ADJ, (uint32_t)p->oom_score_adj);
  for (size_t i = 0; i < p->cgroup_procs.n; i++)
    string(&w, TSD_TAG_CGROUP_PROCS, p->cgroup_procs.v[i]);
  head(&w, TSD_TAG_PROPAGATION, 8);
  put_u64(&w, p->propagation);
  for (size_t i = 0; i < p->rootfs_ops.n; i++)
    op(&w, TSD_TAG_ROOTFS_OP, &p->rootfs_ops.v[i]);
  for (size_t i = 0; i < p->container_ops.n; i++)
    op(&w, TSD_TAG_CONTAINER_OP, &p->container_ops.v[i]);
  u32(&w, TSD_TAG_READONLY_ROOTFS, p->readonly_rootfs);
  u32(&w, TSD_TAG_LOOPBACK_UP, p->loopback_up);
  for (size_t i = 0; i < p->cgroup_dirs.n; i++)
    string(&w, TSD_TAG_CGROUP_DIR, p->cgroup_dirs.v[i]);
  if (p->oom_driver != 0) {
    head(&w, TSD_TAG_OOM, 4 + strlen(p->oom_path));
    put_u32(&w, p->oom_driver);
    put(&w, p->oom_path, strlen(p->oom_path));
  }
  if (p->exit_file != NULL) string(&w, TSD_TAG_EXIT_FILE, p->exit_file);
  if (p->seccomp != NULL) {
    head(&w, TSD_TAG_SECCOMP, p->n_seccomp * 8);
    for (size_t i = 0; i < p->n_seccomp; i++) {
      const struct sock_filter *f = &p->seccomp[i];
      uint8_t b[4] = {(uint8_t)f->code, (uint8_t)(f->code >> 8), f->jt, f->jf};
      put(&w, b, 4);
      put_u32(&w, f->k);
    }
  }
  if (p->start_socket != NULL) string(&w, TSD_TAG_START_SOCKET, p->start_socket);
  if (p->preserve_fds > 0) u32(&w, TSD_TAG_PRESERVE_FDS, p->preserve_fds);
  if (p->terminal.enabled) {
    head(&w, TSD_TAG_TERMINAL, 8);
    put_u32(&w, p->terminal.rows);
    put_u32(&w, p->terminal.cols);
  }
  for (size_t i = 0; i < p->n_hooks; i++)
    hook(&w, &p->hooks[i]);
  if (p->hook_state != NULL) string(&w, TSD_TAG_HOOK_STATE, p->hook_state);
  if (p->runtime_hooks) u32(&w, TSD_TAG_RUNTIME_HOOKS, 1);
  if (w.failed) {
    free(w.buf);
    return -1;
  }
  *out = w.buf;
  *len = w.len;
  return 0;
}
