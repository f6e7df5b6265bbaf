#define _GNU_SOURCE
#include "spec.h"

#include "plan.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

/* A walk over the untrusted document: any surprise clears ok, and the call goes to Node. */
struct rd {
  const struct json_doc *d;
  bool ok;
};

static bool no(struct rd *r) {
  r->ok = false;
  return false;
}

static const struct json_token *tok(const struct rd *r, int i) {
  return &r->d->tokens[i];
}

/* Whether the string at k reads as s, escapes decoded as JSON.parse decodes them. */
static bool key_equals(const struct rd *r, int k, const char *s) {
  char buf[PATH_MAX];
  return tok(r, k)->type == JSON_STRING && json_string(r->d, k, buf, sizeof(buf)) &&
         strcmp(buf, s) == 0;
}

/* The value under key in object obj (the last one, as JSON.parse keeps it); -1 when absent. A
 * null is no value tsdock reads natively. */
static int get(struct rd *r, int obj, const char *key) {
  if (obj < 0) return -1;
  int found = -1;
  for (int m = 0, k = obj + 1; m < tok(r, obj)->size; m++, k = tok(r, k + 1)->next)
    if (key_equals(r, k, key)) found = k + 1;
  if (found >= 0 && tok(r, found)->type == JSON_NULL) no(r);
  return found;
}

static int object(struct rd *r, int i) {
  if (i >= 0 && tok(r, i)->type != JSON_OBJECT) no(r);
  return r->ok ? i : -1;
}

static int array(struct rd *r, int i) {
  if (i >= 0 && tok(r, i)->type != JSON_ARRAY) no(r);
  return r->ok ? i : -1;
}

static unsigned hex4(const char *s) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++)
    v = v * 16 + (unsigned)(s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10);
  return v;
}

/* A malloc'd copy of the string at i; NULL (and !ok) for anything else, and for an escaped NUL
 * (the plan cannot carry it) or surrogate (JSON.stringify would keep it escaped). */
static char *str(struct rd *r, int i) {
  if (i < 0 || !r->ok || tok(r, i)->type != JSON_STRING) return no(r), NULL;
  const struct json_token *t = tok(r, i);
  for (size_t p = t->start; p < t->end; p++)
    if (r->d->text[p] == '\\') {
      p++;
      if (r->d->text[p] == 'u') {
        unsigned cp = hex4(r->d->text + p + 1);
        if (cp == 0 || (cp >= 0xd800 && cp < 0xe000)) return no(r), NULL;
        p += 4;
      }
    }
  size_t cap = t->end - t->start + 1;
  char *out = malloc(cap);
  if (out == NULL || !json_string(r->d, i, out, cap)) {
    free(out);
    return no(r), NULL;
  }
  return out;
}

/* The optional string under key; NULL when absent. */
static char *opt_str(struct rd *r, int obj, const char *key) {
  int i = get(r, obj, key);
  return i < 0 ? NULL : str(r, i);
}

/* spec.ts Reader.int: a safe integer (non-negative with uint) written without fraction or
 * exponent. */
static long long num(struct rd *r, int i, bool uint) {
  long long v;
  const long long safe = (1ll << 53) - 1;
  if (i < 0 || !r->ok || !json_long(r->d, i, &v) || v > safe || v < -safe || (uint && v < 0))
    return no(r), 0;
  return v;
}

static long long opt_num(struct rd *r, int obj, const char *key, bool uint, long long dflt) {
  int i = get(r, obj, key);
  return i < 0 ? dflt : num(r, i, uint);
}

static bool opt_bool(struct rd *r, int obj, const char *key) {
  int i = get(r, obj, key);
  if (i < 0) return false;
  if (tok(r, i)->type != JSON_TRUE && tok(r, i)->type != JSON_FALSE) return no(r);
  return tok(r, i)->type == JSON_TRUE;
}

/* Each element of the array at i (absent: none), checked to be a string when strings. */
#define EACH(r, i, e)                                                                              \
  for (int e##_n = 0, e = (i) + 1; (i) >= 0 && (r)->ok && e##_n < tok(r, i)->size;                 \
       e##_n++, e = tok(r, e)->next)

static bool push(void **v, size_t *n, size_t size, const void *item) {
  void *grown = realloc(*v, (*n + 1) * size);
  if (grown == NULL) return false;
  memcpy((char *)grown + *n * size, item, size);
  *v = grown;
  (*n)++;
  return true;
}

static void strv_push(struct rd *r, struct tsd_strv *sv, char *s) {
  if (s == NULL) return;
  /* One more slot for the NULL that ends an argv. */
  char **grown = realloc(sv->v, (sv->n + 2) * sizeof(char *));
  if (grown == NULL) {
    free(s);
    no(r);
    return;
  }
  sv->v = grown;
  sv->v[sv->n++] = s;
  sv->v[sv->n] = NULL;
}

/* The strings of an optional array under key. */
static void strings(struct rd *r, int obj, const char *key, struct tsd_strv *sv) {
  int a = array(r, get(r, obj, key));
  EACH(r, a, e) strv_push(r, sv, str(r, e));
}

static char *dup(struct rd *r, const char *s) {
  char *d = strdup(s);
  if (d == NULL) no(r);
  return d;
}

int path_normalize(const char *path, char *out, size_t cap) {
  size_t n = 0, len = strlen(path);
  if (cap < 2) return -1;
  out[n++] = '/';
  for (const char *p = path; *p != '\0';) {
    size_t l = strcspn(p, "/");
    if (l == 2 && strncmp(p, "..", 2) == 0) {
      while (n > 1 && out[n - 1] != '/')
        n--;
      if (n > 1) n--;
    } else if (l > 0 && !(l == 1 && p[0] == '.')) {
      if (n > 1) out[n++] = '/';
      if (n + l + 2 > cap) return -1;
      memcpy(out + n, p, l);
      n += l;
    }
    p += l;
    p += strspn(p, "/");
  }
  if (len > 0 && path[len - 1] == '/' && n > 1) out[n++] = '/';
  out[n] = '\0';
  return 0;
}

/* posix.join(a, b): normalised, a trailing slash of b kept. */
static char *join(struct rd *r, const char *a, const char *b) {
  char both[PATH_MAX * 2], out[PATH_MAX];
  snprintf(both, sizeof(both), "%s/%s", a, b);
  if (path_normalize(both, out, sizeof(out)) < 0) return no(r), NULL;
  return dup(r, out);
}

/* posix.resolve(base, p): absolute, normalised, no trailing slash. */
static bool resolve(struct rd *r, const char *base, const char *p, char *out) {
  char both[PATH_MAX * 2];
  snprintf(both, sizeof(both), "%s/%s", p[0] == '/' ? "" : base, p);
  if (path_normalize(both, out, PATH_MAX) < 0) return no(r);
  size_t n = strlen(out);
  if (n > 1 && out[n - 1] == '/') out[n - 1] = '\0';
  return true;
}

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* --- process ------------------------------------------------------------------------------ */

static const char *const cap_names[] = {"CHOWN",
                                        "DAC_OVERRIDE",
                                        "DAC_READ_SEARCH",
                                        "FOWNER",
                                        "FSETID",
                                        "KILL",
                                        "SETGID",
                                        "SETUID",
                                        "SETPCAP",
                                        "LINUX_IMMUTABLE",
                                        "NET_BIND_SERVICE",
                                        "NET_BROADCAST",
                                        "NET_ADMIN",
                                        "NET_RAW",
                                        "IPC_LOCK",
                                        "IPC_OWNER",
                                        "SYS_MODULE",
                                        "SYS_RAWIO",
                                        "SYS_CHROOT",
                                        "SYS_PTRACE",
                                        "SYS_PACCT",
                                        "SYS_ADMIN",
                                        "SYS_BOOT",
                                        "SYS_NICE",
                                        "SYS_RESOURCE",
                                        "SYS_TIME",
                                        "SYS_TTY_CONFIG",
                                        "MKNOD",
                                        "LEASE",
                                        "AUDIT_WRITE",
                                        "AUDIT_CONTROL",
                                        "SETFCAP",
                                        "MAC_OVERRIDE",
                                        "MAC_ADMIN",
                                        "SYSLOG",
                                        "WAKE_ALARM",
                                        "BLOCK_SUSPEND",
                                        "AUDIT_READ",
                                        "PERFMON",
                                        "BPF",
                                        "CHECKPOINT_RESTORE"};

/* capabilities.ts capabilityNumber, ASCII only: the mask of the named capability. */
static uint64_t capability(struct rd *r, int i) {
  char *name = str(r, i);
  if (name == NULL) return 0;
  for (char *c = name; *c != '\0'; c++) {
    if ((unsigned char)*c >= 0x80) no(r);
    *c = (char)toupper((unsigned char)*c);
  }
  const char *bare = starts_with(name, "CAP_") ? name + 4 : name;
  uint64_t mask = 0;
  for (size_t n = 0; n < sizeof(cap_names) / sizeof(cap_names[0]); n++)
    if (strcmp(bare, cap_names[n]) == 0) mask = 1ull << n;
  free(name);
  if (mask == 0) no(r);
  return mask;
}

static uint64_t cap_set(struct rd *r, int caps, const char *key, uint64_t host) {
  uint64_t mask = 0;
  int a = array(r, get(r, caps, key));
  EACH(r, a, e) mask |= capability(r, e);
  return mask & host;
}

static const char *const rlimit_names[] = {
    "CPU",     "FSIZE", "DATA",  "STACK",      "CORE",     "RSS",  "NPROC",  "NOFILE",
    "MEMLOCK", "AS",    "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"};

static void rlimits(struct rd *r, int process, struct tsd_plan *p) {
  int a = array(r, get(r, process, "rlimits"));
  EACH(r, a, e) {
    int o = object(r, e);
    char *type = opt_str(r, o, "type");
    long long soft = num(r, get(r, o, "soft"), true), hard = num(r, get(r, o, "hard"), true);
    if (type == NULL) return (void)no(r);
    int resource = -1;
    for (size_t n = 0; n < sizeof(rlimit_names) / sizeof(rlimit_names[0]); n++)
      if (starts_with(type, "RLIMIT_") && strcmp(type + 7, rlimit_names[n]) == 0) resource = (int)n;
    free(type);
    if (resource < 0 || soft > hard) return (void)no(r);
    struct tsd_rlimit l = {(uint32_t)resource, (uint64_t)soft, (uint64_t)hard};
    if (r->ok && !push((void **)&p->rlimits, &p->n_rlimits, sizeof(l), &l)) no(r);
  }
}

static void process_of(struct rd *r, int process, const struct spec_host *host, struct tsd_plan *p,
                       struct spec_info *info) {
  int user = object(r, get(r, process, "user"));
  int caps = object(r, get(r, process, "capabilities"));
  int size = object(r, get(r, process, "consoleSize"));
  strings(r, process, "args", &p->args);
  strings(r, process, "env", &p->env);
  if (p->args.n == 0) no(r);
  int cwd = get(r, process, "cwd");
  p->cwd = cwd < 0 ? dup(r, "/") : str(r, cwd);
  if (p->cwd == NULL || p->cwd[0] != '/') return (void)no(r);
  char cwd_norm[PATH_MAX];
  if (path_normalize(p->cwd, cwd_norm, sizeof(cwd_norm)) < 0) return (void)no(r);
  free(p->cwd);
  p->cwd = dup(r, cwd_norm);
  info->terminal = opt_bool(r, process, "terminal");
  long long rows = opt_num(r, size, "height", true, 0), cols = opt_num(r, size, "width", true, 0);
  if (info->terminal) {
    if (rows > 65535 || cols > 65535) no(r);
    p->terminal = (struct tsd_terminal){true, (uint16_t)rows, (uint16_t)cols};
  }
  p->uid = (uid_t)opt_num(r, user, "uid", true, 0);
  p->gid = (gid_t)opt_num(r, user, "gid", true, 0);
  int gids = array(r, get(r, user, "additionalGids"));
  EACH(r, gids, e) {
    gid_t gid = (gid_t)num(r, e, true);
    if (r->ok && !push((void **)&p->additional_gids, &p->n_additional_gids, sizeof(gid), &gid))
      no(r);
  }
  p->has_caps = true;
  if (caps < 0) {
    p->caps = (struct tsd_caps){host->caps, host->caps, host->caps, 0, 0};
  } else {
    p->caps.bounding = cap_set(r, caps, "bounding", host->caps);
    p->caps.effective = cap_set(r, caps, "effective", host->caps);
    p->caps.permitted = cap_set(r, caps, "permitted", host->caps);
    p->caps.inheritable = cap_set(r, caps, "inheritable", host->caps);
    p->caps.ambient = cap_set(r, caps, "ambient", host->caps);
  }
  rlimits(r, process, p);
  p->no_new_privs = opt_bool(r, process, "noNewPrivileges");
  int adj = get(r, process, "oomScoreAdj");
  if (adj >= 0) {
    long long v = num(r, adj, false);
    /* plan-codec.ts writes it with writeInt32LE, which refuses anything wider. */
    if (v < INT32_MIN || v > INT32_MAX) no(r);
    p->has_oom_score_adj = true;
    p->oom_score_adj = (int32_t)v;
  }
}

/* --- namespaces and ids ------------------------------------------------------------------- */

static const struct {
  const char *name;
  uint32_t flag;
} namespaces[] = {{"pid", CLONE_NEWPID},      {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
                  {"ipc", CLONE_NEWIPC},      {"uts", CLONE_NEWUTS},     {"user", CLONE_NEWUSER},
                  {"cgroup", CLONE_NEWCGROUP}};

static void namespaces_of(struct rd *r, int lx, struct tsd_plan *p) {
  uint32_t seen = 0;
  int a = array(r, get(r, lx, "namespaces"));
  EACH(r, a, e) {
    int o = object(r, e);
    char *type = opt_str(r, o, "type"), *path = opt_str(r, o, "path");
    uint32_t flag = 0;
    for (size_t n = 0; type != NULL && n < sizeof(namespaces) / sizeof(namespaces[0]); n++)
      if (strcmp(type, namespaces[n].name) == 0) flag = namespaces[n].flag;
    free(type);
    if (flag == 0 || (seen & flag) != 0) {
      free(path);
      return (void)no(r);
    }
    seen |= flag;
    if (path != NULL && path[0] != '\0') {
      struct tsd_ns_join j = {flag, path};
      if (!push((void **)&p->ns_joins, &p->n_ns_joins, sizeof(j), &j)) free(path), no(r);
    } else {
      free(path);
      p->namespaces |= flag;
    }
  }
  if ((p->namespaces & CLONE_NEWNS) == 0) no(r);
}

/* The mappings as uid_map takes them; NULL when there are none. */
static char *id_map(struct rd *r, int lx, const char *key) {
  int a = array(r, get(r, lx, key));
  if (a < 0 || tok(r, a)->size == 0) return NULL;
  size_t cap = (size_t)tok(r, a)->size * 64 + 1, n = 0;
  char *out = malloc(cap);
  if (out == NULL) return no(r), NULL;
  out[0] = '\0';
  EACH(r, a, e) {
    int o = object(r, e);
    long long c = num(r, get(r, o, "containerID"), true), h = num(r, get(r, o, "hostID"), true),
              s = num(r, get(r, o, "size"), true);
    n += (size_t)snprintf(out + n, cap - n, "%lld %lld %lld\n", c, h, s);
  }
  return out;
}

/* --- mounts ------------------------------------------------------------------------------- */

static const struct {
  const char *name;
  uint64_t set, clear;
} mount_flags[] = {
    {"ro", MS_RDONLY, 0},       {"rw", 0, MS_RDONLY},          {"nosuid", MS_NOSUID, 0},
    {"suid", 0, MS_NOSUID},     {"nodev", MS_NODEV, 0},        {"dev", 0, MS_NODEV},
    {"noexec", MS_NOEXEC, 0},   {"exec", 0, MS_NOEXEC},        {"sync", 16, 0},
    {"async", 0, 16},           {"dirsync", 128, 0},           {"mand", 64, 0},
    {"nomand", 0, 64},          {"noatime", 1024, 0},          {"atime", 0, 1024},
    {"nodiratime", 2048, 0},    {"diratime", 0, 2048},         {"relatime", 1 << 21, 0},
    {"norelatime", 0, 1 << 21}, {"strictatime", 1 << 24, 0},   {"nostrictatime", 0, 1 << 24},
    {"bind", MS_BIND, 0},       {"rbind", MS_BIND | MS_REC, 0}};

static const struct {
  const char *name;
  uint64_t flags;
} propagations[] = {{"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
                    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
                    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
                    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC}};

static bool propagation_of(const char *name, uint64_t *flags) {
  for (size_t n = 0; n < sizeof(propagations) / sizeof(propagations[0]); n++)
    if (strcmp(name, propagations[n].name) == 0) return *flags = propagations[n].flags, true;
  return false;
}

/* mount-flags.ts parseMountOptions: flags, propagation, the rest as filesystem data. */
static void mount_options(struct rd *r, int m, uint64_t *flags, uint64_t *prop, char **data) {
  size_t cap = 1, n = 0;
  int a = array(r, get(r, m, "options"));
  if (a >= 0) cap += r->d->tokens[a].end - r->d->tokens[a].start;
  *data = malloc(cap);
  if (*data == NULL) return (void)no(r);
  (*data)[0] = '\0';
  EACH(r, a, e) {
    char *o = str(r, e);
    if (o == NULL) return;
    bool known = propagation_of(o, prop);
    for (size_t k = 0; !known && k < sizeof(mount_flags) / sizeof(mount_flags[0]); k++)
      if (strcmp(o, mount_flags[k].name) == 0) {
        *flags = (*flags | mount_flags[k].set) & ~mount_flags[k].clear;
        known = true;
      }
    if (!known && strcmp(o, "tmpcopyup") != 0 && strcmp(o, "nosymfollow") != 0 &&
        strcmp(o, "defaults") != 0)
      n += (size_t)snprintf(*data + n, cap - n, "%s%s", n > 0 ? "," : "", o);
    free(o);
  }
}

static bool idmap_option(struct rd *r, int m) {
  bool found = false;
  int options = array(r, get(r, m, "options"));
  EACH(r, options, e) {
    found = found || key_equals(r, e, "idmap") || key_equals(r, e, "ridmap");
  }
  return found;
}

static void op_push(struct rd *r, struct tsd_fs_ops *ops, struct tsd_fs_op op) {
  const char *fields[] = {op.source, op.target, op.fstype, op.data};
  bool complete = r->ok;
  for (int i = 0; i < 4; i++)
    complete = complete && fields[i] != NULL;
  if (!complete || !push((void **)&ops->v, &ops->n, sizeof(op), &op)) {
    free(op.source), free(op.target), free(op.fstype), free(op.data);
    no(r);
  }
}

static struct tsd_fs_op mount_op(struct rd *r, const char *source, char *target, const char *fstype,
                                 uint64_t flags, const char *data, uint32_t op_flags) {
  return (struct tsd_fs_op){.kind = TSD_OP_MOUNT,
                            .flags = op_flags,
                            .mount_flags = flags,
                            .source = dup(r, source),
                            .target = target,
                            .fstype = dup(r, fstype),
                            .data = dup(r, data)};
}

#define CGROUP_ROOT "/sys/fs/cgroup"
#define RO_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)

static bool pure_v2(const struct cgroup_mounts *m) {
  for (int i = 0; i < m->count; i++)
    if (m->m[i].v2 && strcmp(m->m[i].mount_point, CGROUP_ROOT) == 0) return true;
  return false;
}

static bool tmpfs_layout(const struct cgroup_mounts *m) {
  for (int i = 0; i < m->count; i++)
    if (starts_with(m->m[i].mount_point, CGROUP_ROOT "/")) return true;
  return false;
}

/* cgroup-mounts.ts cgroupFsOps: the host's hierarchies again, in the container's namespace. */
static void cgroup_fs_ops(struct rd *r, const struct cgroup_mounts *m, const char *rootfs,
                          struct tsd_fs_ops *ops) {
  if (pure_v2(m))
    return op_push(
        r, ops, mount_op(r, "cgroup2", join(r, rootfs, CGROUP_ROOT), "cgroup2", RO_FLAGS, "", 0));
  if (!tmpfs_layout(m)) return;
  op_push(r, ops,
          mount_op(r, "tmpfs", join(r, rootfs, CGROUP_ROOT), "tmpfs",
                   MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755", 0));
  for (int i = 0; i < m->count; i++) {
    const struct cgroup_mount *c = &m->m[i];
    if (!starts_with(c->mount_point, CGROUP_ROOT "/")) continue;
    /* The super options that name a hierarchy: its controllers and name=. */
    char options[sizeof(c->super_options)] = "";
    size_t n = 0;
    for (const char *p = c->v2 ? "" : c->super_options; *p != '\0';) {
      size_t l = strcspn(p, ",");
      bool skip = starts_with(p, "release_agent=");
      static const char *const dropped[] = {"rw", "ro", "xattr", "clone_children", "noprefix"};
      for (size_t k = 0; k < sizeof(dropped) / sizeof(dropped[0]); k++)
        skip = skip || (strlen(dropped[k]) == l && strncmp(p, dropped[k], l) == 0);
      if (!skip)
        n += (size_t)snprintf(options + n, sizeof(options) - n, "%s%.*s", n > 0 ? "," : "", (int)l,
                              p);
      p += l;
      p += strspn(p, ",");
    }
    const char *type = c->v2 ? "cgroup2" : "cgroup";
    op_push(r, ops,
            mount_op(r, type, join(r, rootfs, c->mount_point), type, RO_FLAGS, options,
                     TSD_OPF_MKDIR_TARGET));
  }
}

static void mount_of(struct rd *r, int m, const char *rootfs, const struct spec_host *host,
                     struct tsd_plan *p) {
  char *dest = opt_str(r, m, "destination"), *type = opt_str(r, m, "type"),
       *source = opt_str(r, m, "source");
  uint64_t flags = 0, prop = 0;
  char *data = NULL;
  mount_options(r, m, &flags, &prop, &data);
  if (dest == NULL || dest[0] != '/') no(r);
  /* An idmapped mount (runtime-spec 1.1 uidMappings, gidMappings, idmap): Node plans those. */
  if (get(r, m, "uidMappings") >= 0 || get(r, m, "gidMappings") >= 0 || idmap_option(r, m)) no(r);
  const char *fstype = type != NULL ? type : "";
  if (!r->ok) {
  } else if (strcmp(fstype, "cgroup") == 0 || strcmp(fstype, "cgroup2") == 0) {
    cgroup_fs_ops(r, host->mounts, rootfs, &p->rootfs_ops);
  } else {
    uint32_t no_symlinks =
        is_under(dest, "/proc") || is_under(dest, "/sys") ? TSD_OPF_NO_SYMLINKS : 0;
    char *target = join(r, rootfs, dest);
    if ((flags & MS_BIND) != 0 || strcmp(fstype, "bind") == 0) {
      char src[PATH_MAX];
      struct stat st;
      bool found = false;
      if (source == NULL || source[0] == '\0' || !resolve(r, host->bundle, source, src)) {
        no(r);
      } else if ((found = stat(src, &st) == 0) == false && errno != ENOENT) {
        /* statSync throws for anything but a missing source: Node words it. */
        no(r);
      } else {
        /* A missing source is made a directory target; the mount then fails naming it. */
        bool file = found && !S_ISDIR(st.st_mode);
        uint32_t op_flags = no_symlinks | (file ? TSD_OPF_MKFILE_TARGET : TSD_OPF_MKDIR_TARGET) |
                            ((flags & MS_RDONLY) != 0 ? TSD_OPF_READONLY : 0);
        op_push(r, &p->rootfs_ops,
                mount_op(r, src, target, "", MS_BIND | (flags & MS_REC) | prop, "", op_flags));
        target = NULL;
      }
    } else {
      op_push(r, &p->rootfs_ops,
              mount_op(r, source != NULL ? source : fstype, target, fstype, flags | prop, data,
                       TSD_OPF_MKDIR_TARGET | no_symlinks));
      target = NULL;
    }
    free(target);
  }
  free(dest), free(type), free(source), free(data);
}

/* --- /dev --------------------------------------------------------------------------------- */

static void device_op(struct rd *r, const char *type, const char *path, long long major,
                      long long minor, long long mode, const char *rootfs, bool userns,
                      struct tsd_plan *p) {
  uint32_t ifmt = strcmp(type, "c") == 0 || strcmp(type, "u") == 0 ? S_IFCHR
                  : strcmp(type, "b") == 0                         ? S_IFBLK
                  : strcmp(type, "p") == 0                         ? S_IFIFO
                                                                   : 0;
  if (ifmt == 0 || !starts_with(path, "/dev/")) return (void)no(r);
  char *target = join(r, rootfs, path);
  if (userns)
    return op_push(r, &p->rootfs_ops,
                   mount_op(r, path, target, "", MS_BIND, "", TSD_OPF_MKFILE_TARGET));
  if (strcmp(type, "p") != 0 && (major < 0 || minor < 0)) {
    free(target);
    return (void)no(r);
  }
  op_push(r, &p->rootfs_ops,
          (struct tsd_fs_op){.kind = TSD_OP_MKNOD,
                             .mode = ifmt | (uint32_t)(mode < 0 ? 0666 : mode),
                             .major = (uint32_t)(major < 0 ? 0 : major),
                             .minor = (uint32_t)(minor < 0 ? 0 : minor),
                             .source = dup(r, ""),
                             .target = target,
                             .fstype = dup(r, ""),
                             .data = dup(r, "")});
}

static bool mounts_at(struct rd *r, int mounts, const char *dest) {
  bool found = false;
  EACH(r, mounts, e) {
    int d = get(r, e, "destination");
    found = found || (d >= 0 && key_equals(r, d, dest));
  }
  return found;
}

static void dev_ops(struct rd *r, int lx, int mounts, const char *rootfs, bool userns,
                    struct tsd_plan *p) {
  static const struct {
    const char *path;
    int major, minor;
  } defaults[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                  {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
  int devices = array(r, get(r, lx, "devices"));
  bool mounts_dev = mounts_at(r, mounts, "/dev");
  for (size_t n = 0; mounts_dev && n < sizeof(defaults) / sizeof(defaults[0]); n++) {
    bool given = false;
    EACH(r, devices, e) {
      int path = get(r, e, "path");
      given = given || (path >= 0 && key_equals(r, path, defaults[n].path));
    }
    if (!given)
      device_op(r, "c", defaults[n].path, defaults[n].major, defaults[n].minor, -1, rootfs, userns,
                p);
  }
  EACH(r, devices, e) {
    int o = object(r, e);
    char *type = opt_str(r, o, "type"), *path = opt_str(r, o, "path");
    long long major = opt_num(r, o, "major", true, -1), minor = opt_num(r, o, "minor", true, -1),
              mode = opt_num(r, o, "fileMode", true, -1);
    opt_num(r, o, "uid", true, 0), opt_num(r, o, "gid", true, 0);
    if (r->ok) device_op(r, type, path, major, minor, mode, rootfs, userns, p);
    free(type), free(path);
  }
  if (!mounts_dev) return;
  static const char *const links[][2] = {{"/proc/self/fd", "fd"},
                                         {"/proc/self/fd/0", "stdin"},
                                         {"/proc/self/fd/1", "stdout"},
                                         {"/proc/self/fd/2", "stderr"},
                                         {"pts/ptmx", "ptmx"}};
  size_t n_links = mounts_at(r, mounts, "/dev/pts") ? 5 : 4;
  for (size_t n = 0; n < n_links; n++) {
    char name[16];
    snprintf(name, sizeof(name), "dev/%s", links[n][1]);
    op_push(r, &p->rootfs_ops,
            (struct tsd_fs_op){.kind = TSD_OP_SYMLINK,
                               .source = dup(r, links[n][0]),
                               .target = join(r, rootfs, name),
                               .fstype = dup(r, ""),
                               .data = dup(r, "")});
  }
}

/* --- after pivot_root --------------------------------------------------------------------- */

/* A key JavaScript may order or merge differently from its text: all digits (integer-like keys
 * come first in a JS object), or written with escapes (two spellings, one key). */
static bool unusual_key(const struct rd *r, int k) {
  const struct json_token *t = tok(r, k);
  bool digits = true;
  for (size_t i = t->start; i < t->end; i++) {
    if (r->d->text[i] == '\\') return true;
    digits = digits && r->d->text[i] >= '0' && r->d->text[i] <= '9';
  }
  return digits;
}

/*
 * An object of strings whose members JavaScript keeps in insertion order: none integer-like
 * (those come first in a JS object) and no key twice.
 */
static int string_map(struct rd *r, int obj) {
  obj = object(r, obj);
  for (int m = 0, k = obj + 1; obj >= 0 && m < tok(r, obj)->size; m++, k = tok(r, k + 1)->next) {
    const struct json_token *key = tok(r, k);
    if (unusual_key(r, k) || tok(r, k + 1)->type != JSON_STRING) no(r);
    for (int j = obj + 1; j < k; j = tok(r, j + 1)->next)
      if (tok(r, j)->end - tok(r, j)->start == key->end - key->start &&
          memcmp(r->d->text + tok(r, j)->start, r->d->text + key->start, key->end - key->start) ==
              0)
        no(r);
  }
  return r->ok ? obj : -1;
}

static bool sysctl_key_valid(const char *key) {
  /* ^[A-Za-z0-9_-]+([./][A-Za-z0-9_-]+)*$ */
  bool in_word = false;
  for (const char *c = key; *c != '\0'; c++) {
    if (isalnum((unsigned char)*c) || *c == '_' || *c == '-')
      in_word = true;
    else if ((*c == '.' || *c == '/') && in_word)
      in_word = false;
    else
      return false;
  }
  return in_word;
}

static void container_ops(struct rd *r, int lx, int mounts, const struct spec_host *host,
                          struct tsd_plan *p) {
  op_push(r, &p->container_ops,
          (struct tsd_fs_op){.kind = TSD_OP_MKDIR,
                             .mode = 0755,
                             .source = dup(r, ""),
                             .target = dup(r, p->cwd),
                             .fstype = dup(r, ""),
                             .data = dup(r, "")});
  int sysctl = string_map(r, get(r, lx, "sysctl"));
  for (int m = 0, k = sysctl + 1; sysctl >= 0 && r->ok && m < tok(r, sysctl)->size;
       m++, k = tok(r, k + 1)->next) {
    char *key = str(r, k), *value = str(r, k + 1), target[PATH_MAX];
    if (key != NULL && sysctl_key_valid(key) &&
        (size_t)snprintf(target, sizeof(target), "/proc/sys/%s", key) < sizeof(target)) {
      for (char *c = target; *c != '\0'; c++)
        if (*c == '.') *c = '/';
      op_push(r, &p->container_ops,
              (struct tsd_fs_op){.kind = TSD_OP_WRITE,
                                 .source = dup(r, ""),
                                 .target = dup(r, target),
                                 .fstype = dup(r, ""),
                                 .data = value});
      value = NULL;
    } else {
      no(r);
    }
    free(key), free(value);
  }
  static const struct {
    const char *key;
    uint32_t kind;
  } lists[] = {{"maskedPaths", TSD_OP_MASK}, {"readonlyPaths", TSD_OP_READONLY}};
  for (size_t l = 0; l < 2; l++) {
    int a = array(r, get(r, lx, lists[l].key));
    EACH(r, a, e)
    op_push(r, &p->container_ops,
            (struct tsd_fs_op){.kind = lists[l].kind,
                               .source = dup(r, ""),
                               .target = str(r, e),
                               .fstype = dup(r, ""),
                               .data = dup(r, "")});
  }
  bool cgroup_fs = false;
  EACH(r, mounts, e) {
    int type = get(r, e, "type");
    cgroup_fs = cgroup_fs ||
                (type >= 0 && (key_equals(r, type, "cgroup") || key_equals(r, type, "cgroup2")));
  }
  if (cgroup_fs && tmpfs_layout(host->mounts) && !pure_v2(host->mounts))
    op_push(r, &p->container_ops,
            (struct tsd_fs_op){.kind = TSD_OP_READONLY,
                               .source = dup(r, ""),
                               .target = dup(r, CGROUP_ROOT),
                               .fstype = dup(r, ""),
                               .data = dup(r, "")});
}

/* --- resources ---------------------------------------------------------------------------- */

static void resources_of(struct rd *r, int lx, struct cgroup_limits *l) {
  int res = object(r, get(r, lx, "resources"));
  if (res < 0) return;
  int memory = object(r, get(r, res, "memory")), cpu = object(r, get(r, res, "cpu")),
      pids = object(r, get(r, res, "pids"));
  long long limit = opt_num(r, memory, "limit", false, 0),
            swap = opt_num(r, memory, "swap", false, 0);
  opt_num(r, memory, "reservation", false, 0);
  if ((l->has_memory = limit > 0)) l->memory = limit;
  if ((l->has_swap = swap != 0)) l->swap = swap < 0 ? -1 : swap;
  long long shares = opt_num(r, cpu, "shares", true, 0), quota = opt_num(r, cpu, "quota", false, 0),
            period = opt_num(r, cpu, "period", true, -1);
  if ((l->has_cpu_shares = shares > 0)) l->cpu_shares = shares;
  if ((l->has_cpu_quota = quota > 0)) {
    l->cpu_quota = quota;
    l->cpu_period = period < 0 ? 100000 : period;
  }
  char *cpus = opt_str(r, cpu, "cpus"), *mems = opt_str(r, cpu, "mems");
  if (cpus != NULL && strlen(cpus) >= sizeof(l->cpuset_cpus)) no(r);
  if (cpus != NULL && r->ok) snprintf(l->cpuset_cpus, sizeof(l->cpuset_cpus), "%s", cpus);
  free(cpus), free(mems);
  if (pids >= 0) {
    long long n = num(r, get(r, pids, "limit"), false);
    l->has_pids = true;
    l->pids = n > 0 ? n : -1;
  }
  int devices = array(r, get(r, res, "devices"));
  l->has_devices = devices >= 0;
  EACH(r, devices, e) {
    int o = object(r, e);
    if (l->n_devices == MAX_DEVICE_RULES) return (void)no(r);
    struct device_rule *d = &l->devices[l->n_devices++];
    d->allow = opt_bool(r, o, "allow");
    char *type = opt_str(r, o, "type"), *access = opt_str(r, o, "access");
    d->major = opt_num(r, o, "major", false, -1);
    d->minor = opt_num(r, o, "minor", false, -1);
    if (d->major < 0) d->major = -1;
    if (d->minor < 0) d->minor = -1;
    d->type = type == NULL ? 'a' : type[0];
    if (type != NULL && (strlen(type) != 1 || strchr("abc", type[0]) == NULL)) no(r);
    const char *a = access == NULL ? "rwm" : access;
    if (strlen(a) < 1 || strlen(a) > 3 || strspn(a, "rwm") != strlen(a)) no(r);
    if (r->ok) snprintf(d->access, sizeof(d->access), "%s", a);
    free(type), free(access);
  }
}

/* --- the spec ----------------------------------------------------------------------------- */

/* RFC 3629 UTF-8, as a TextDecoder accepts it: otherwise Node would have replaced bytes. */
static bool utf8_valid(const unsigned char *s, size_t len) {
  for (size_t i = 0; i < len;) {
    unsigned char c = s[i];
    size_t n = c < 0x80             ? 1
               : (c & 0xe0) == 0xc0 ? 2
               : (c & 0xf0) == 0xe0 ? 3
               : (c & 0xf8) == 0xf0 ? 4
                                    : 0;
    if (n == 0 || i + n > len) return false;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return false;
    i += n;
  }
  return true;
}

/* The annotations as JSON.stringify writes them: {"k":"v",...}. */
static char *annotations_json(struct rd *r, int obj) {
  size_t cap = 3, n = 0;
  for (int m = 0, k = obj + 1; obj >= 0 && m < tok(r, obj)->size; m++, k = tok(r, k + 1)->next)
    cap +=
        2 * 6 * (tok(r, k)->end - tok(r, k)->start + tok(r, k + 1)->end - tok(r, k + 1)->start) + 8;
  char *out = malloc(cap);
  if (out == NULL) return no(r), NULL;
  out[n++] = '{';
  for (int m = 0, k = obj + 1; obj >= 0 && r->ok && m < tok(r, obj)->size;
       m++, k = tok(r, k + 1)->next) {
    char *key = str(r, k), *value = str(r, k + 1);
    if (key != NULL && value != NULL) {
      if (m > 0) out[n++] = ',';
      n += json_quote(key, out + n, cap - n);
      out[n++] = ':';
      n += json_quote(value, out + n, cap - n);
    }
    free(key), free(value);
  }
  out[n++] = '}';
  out[n] = '\0';
  return out;
}

static void hooks_absent(struct rd *r, int top) {
  int hooks = object(r, get(r, top, "hooks"));
  /* Only an empty hooks object: the hooks themselves are run by Node (hooks.ts). */
  if (hooks >= 0 && tok(r, hooks)->size > 0) no(r);
}

int spec_plan(struct oci_spec *s, const char *text, size_t len, const struct spec_host *host,
              struct tsd_plan *p, struct spec_info *info) {
  memset(p, 0, sizeof(*p));
  memset(info, 0, sizeof(*info));
  if (!utf8_valid((const unsigned char *)text, len) ||
      json_parse(&s->doc, text, len, s->tokens, MAX_SPEC_TOKENS) < 0)
    return SPEC_TO_NODE;
  struct rd rd = {&s->doc, true}, *r = &rd;
  int top = object(r, 0);
  int root = object(r, get(r, top, "root"));
  int process = object(r, get(r, top, "process"));
  int lx = object(r, get(r, top, "linux"));
  int mounts = array(r, get(r, top, "mounts"));
  int annotations = string_map(r, get(r, top, "annotations"));
  free(opt_str(r, top, "ociVersion"));
  if (get(r, top, "ociVersion") < 0 || root < 0 || process < 0) no(r);
  hooks_absent(r, top);
  if (get(r, lx, "seccomp") >= 0) no(r);
  char *root_path = opt_str(r, root, "path");
  if (root_path == NULL) no(r);
  if (root_path != NULL && resolve(r, host->bundle, root_path, info->rootfs))
    p->rootfs = dup(r, info->rootfs);
  free(root_path);
  p->readonly_rootfs = opt_bool(r, root, "readonly");
  namespaces_of(r, lx, p);
  bool userns = (p->namespaces & CLONE_NEWUSER) != 0;
  char *hostname = opt_str(r, top, "hostname");
  if (hostname != NULL && hostname[0] != '\0' && (p->namespaces & CLONE_NEWUTS) == 0) no(r);
  if ((p->namespaces & CLONE_NEWUTS) != 0) {
    p->hostname = hostname;
    hostname = NULL;
  }
  free(hostname);
  if (r->ok) process_of(r, process, host, p, info);
  p->uid_map = id_map(r, lx, "uidMappings");
  p->gid_map = id_map(r, lx, "gidMappings");
  if (userns != (p->uid_map != NULL) || userns != (p->gid_map != NULL)) no(r);
  /* runc's order: "/" slave (or private), the rootfs bound onto itself, the spec's mounts. */
  char *given = opt_str(r, lx, "rootfsPropagation");
  uint64_t flags = 0, rootfs_prop = 0;
  p->propagation = MS_REC | MS_SLAVE;
  if (given != NULL && given[0] != '\0') {
    if (!propagation_of(given, &flags)) no(r);
    p->propagation = MS_REC | ((flags & MS_PRIVATE) != 0 ? MS_PRIVATE : MS_SLAVE);
    rootfs_prop = (flags & (MS_SHARED | MS_UNBINDABLE)) != 0 ? flags : 0;
  }
  free(given);
  if (r->ok)
    op_push(
        r, &p->rootfs_ops,
        mount_op(r, info->rootfs, dup(r, info->rootfs), "", MS_BIND | MS_REC | rootfs_prop, "", 0));
  EACH(r, mounts, e) mount_of(r, object(r, e), info->rootfs, host, p);
  if (r->ok) dev_ops(r, lx, mounts, info->rootfs, userns, p);
  if (r->ok) container_ops(r, lx, mounts, host, p);
  p->loopback_up = (p->namespaces & CLONE_NEWNET) != 0;
  resources_of(r, lx, &info->limits);
  char *cgroups_path = opt_str(r, lx, "cgroupsPath");
  if (cgroups_path != NULL && strlen(cgroups_path) >= sizeof(info->cgroups_path)) no(r);
  if (cgroups_path != NULL && r->ok) {
    info->has_cgroups_path = true;
    snprintf(info->cgroups_path, sizeof(info->cgroups_path), "%s", cgroups_path);
  }
  free(cgroups_path);
  if (r->ok) info->annotations = annotations_json(r, annotations);
  if (!r->ok) {
    tsd_plan_free(p);
    free(info->annotations);
    memset(info, 0, sizeof(*info));
    return SPEC_TO_NODE;
  }
  return 0;
}

/* JSON.stringify of the OCI state without status and pid, key for key as create.ts writes it. */
static char *hook_state(const struct spec_info *info, const struct create_args *a) {
  const char *keys[] = {"id", "bundle", "rootfs", "created"};
  const char *values[] = {a->id, a->bundle, info->rootfs, a->created};
  size_t cap = 128 + strlen(info->annotations), n;
  for (int i = 0; i < 4; i++)
    cap += 6 * strlen(values[i]) + 16;
  char *out = malloc(cap);
  if (out == NULL) return NULL;
  n = (size_t)snprintf(out, cap, "{\"ociVersion\":\"1.0.2\"");
  for (int i = 0; i < 4; i++) {
    n += (size_t)snprintf(out + n, cap - n, ",\"%s\":", keys[i]);
    n += json_quote(values[i], out + n, cap - n);
  }
  snprintf(out + n, cap - n, ",\"owner\":\"\",\"annotations\":%s}", info->annotations);
  return out;
}

int spec_finish_plan(struct tsd_plan *p, const struct spec_info *info,
                     const struct create_args *a) {
  struct rd r = {NULL, true};
  for (int i = 0; i < a->n_procs; i++)
    strv_push(&r, &p->cgroup_procs, dup(&r, a->procs[i]));
  p->start_socket = join(&r, a->dir, "start.sock");
  p->preserve_fds = a->preserve_fds;
  p->hook_state = hook_state(info, a);
  return r.ok && p->hook_state != NULL ? 0 : -1;
}
