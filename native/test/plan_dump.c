/*
 * plan_dump PLAN_FILE: decodes a plan with the monitor's decoder and prints every field, one per
 * line, in a canonical text form. test/unit/plan-codec.test.ts encodes plans in TypeScript and
 * compares this dump with what it meant to say, so the two sides of plan.h cannot drift apart.
 */
#include "plan.h"
#include "spawn_plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* A C-style quoted string; bytes >= 0x80 pass through so UTF-8 reads back as written. */
static void quoted(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\')
      printf("\\%c", *p);
    else if (*p == '\n')
      printf("\\n");
    else if (*p < 0x20 || *p == 0x7f)
      printf("\\x%02x", *p);
    else
      putchar(*p);
  }
  putchar('"');
}

static void line(const char *key, const char *value) {
  if (value == NULL) return;
  printf("%s ", key);
  quoted(value);
  putchar('\n');
}

static void lines(const char *key, const struct tsd_strv *sv) {
  for (size_t i = 0; i < sv->n; i++)
    line(key, sv->v[i]);
}

static void ops(const char *key, const struct tsd_fs_ops *ops) {
  static const char *const kinds[] = {
      [TSD_OP_MOUNT] = "mount",     [TSD_OP_MKDIR] = "mkdir", [TSD_OP_MKNOD] = "mknod",
      [TSD_OP_SYMLINK] = "symlink", [TSD_OP_MASK] = "mask",   [TSD_OP_READONLY] = "readonly",
      [TSD_OP_CHDIR] = "chdir",     [TSD_OP_WRITE] = "write",
  };
  for (size_t i = 0; i < ops->n; i++) {
    const struct tsd_fs_op *o = &ops->v[i];
    printf("%s %s flags=0x%" PRIx32 " mount_flags=0x%" PRIx64 " mode=0%" PRIo32 " dev=%" PRIu32
           ":%" PRIu32,
           key, kinds[o->kind], o->flags, o->mount_flags, o->mode, o->major, o->minor);
    printf(" source=");
    quoted(o->source);
    printf(" target=");
    quoted(o->target);
    printf(" fstype=");
    quoted(o->fstype);
    printf(" data=");
    quoted(o->data);
    if (o->uid_map != NULL) {
      printf(" uid_map=");
      quoted(o->uid_map);
      printf(" gid_map=");
      quoted(o->gid_map);
    }
    putchar('\n');
  }
}

static void dump(const struct tsd_plan *p) {
  lines("arg", &p->args);
  lines("env", &p->env);
  line("cwd", p->cwd);
  line("hostname", p->hostname);
  line("rootfs", p->rootfs);
  printf("namespaces 0x%" PRIx32 "\n", p->namespaces);
  for (size_t i = 0; i < p->n_ns_joins; i++) {
    printf("ns_join 0x%" PRIx32 " ", p->ns_joins[i].type);
    quoted(p->ns_joins[i].path);
    putchar('\n');
  }
  printf("uid %u\ngid %u\n", (unsigned)p->uid, (unsigned)p->gid);
  for (size_t i = 0; i < p->n_additional_gids; i++)
    printf("additional_gid %u\n", (unsigned)p->additional_gids[i]);
  line("uid_map", p->uid_map);
  line("gid_map", p->gid_map);
  if (p->has_caps) {
    const struct tsd_caps *k = &p->caps;
    printf("caps bounding=0x%" PRIx64 " effective=0x%" PRIx64 " permitted=0x%" PRIx64
           " inheritable=0x%" PRIx64 " ambient=0x%" PRIx64 "\n",
           k->bounding, k->effective, k->permitted, k->inheritable, k->ambient);
  }
  printf("no_new_privs %d\n", p->no_new_privs);
  for (size_t i = 0; i < p->n_rlimits; i++)
    printf("rlimit %" PRIu32 " %" PRIu64 " %" PRIu64 "\n", p->rlimits[i].resource,
           p->rlimits[i].soft, p->rlimits[i].hard);
  if (p->has_oom_score_adj) printf("oom_score_adj %" PRId32 "\n", p->oom_score_adj);
  lines("cgroup_procs", &p->cgroup_procs);
  ops("rootfs_op", &p->rootfs_ops);
  ops("container_op", &p->container_ops);
  printf("readonly_rootfs %d\nloopback_up %d\n", p->readonly_rootfs, p->loopback_up);
  printf("propagation 0x%" PRIx64 "\n", p->propagation);
  lines("cgroup_dir", &p->cgroup_dirs);
  if (p->oom_driver != 0) {
    printf("oom v%" PRIu32 " ", p->oom_driver);
    quoted(p->oom_path);
    putchar('\n');
  }
  line("exit_file", p->exit_file);
  line("start_socket", p->start_socket);
  if (p->preserve_fds != 0) printf("preserve_fds %" PRIu32 "\n", p->preserve_fds);
  for (size_t i = 0; i < p->n_seccomp; i++)
    printf("seccomp code=0x%x jt=%u jf=%u k=0x%" PRIx32 "\n", p->seccomp[i].code, p->seccomp[i].jt,
           p->seccomp[i].jf, p->seccomp[i].k);
  if (p->terminal.enabled) printf("terminal %u %u\n", p->terminal.rows, p->terminal.cols);
  for (size_t i = 0; i < p->n_hooks; i++) {
    const struct tsd_hook *h = &p->hooks[i];
    printf("hook %" PRIu32 " timeout=%" PRIu32 " ", h->kind, h->timeout);
    quoted(h->path);
    fputs(" argv", stdout);
    for (size_t a = 0; a < h->args.n; a++) {
      putchar(' ');
      quoted(h->args.v[a]);
    }
    fputs(" env", stdout);
    for (size_t e = 0; e < h->env.n; e++) {
      putchar(' ');
      quoted(h->env.v[e]);
    }
    putchar('\n');
  }
  line("hook_state", p->hook_state);
  if (p->runtime_hooks) printf("runtime_hooks 1\n");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: plan_dump PLAN_FILE\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) {
    perror(argv[1]);
    return 2;
  }
  size_t cap = 1 << 16, len = 0, n;
  uint8_t *buf = malloc(cap);
  while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);

  struct tsd_plan plan;
  char err[256];
  int rc = tsd_plan_decode(buf, len, &plan, err, sizeof(err));
  free(buf);
  if (rc < 0) {
    fprintf(stderr, "plan_dump: %s\n", err);
    return 1;
  }
  dump(&plan);
  tsd_plan_free(&plan);
  return 0;
}
