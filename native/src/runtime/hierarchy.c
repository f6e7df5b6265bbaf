#include "hierarchy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const v1_names[N_CONTROLLERS] = {"memory", "cpu",     "cpuacct", "cpuset",
                                                    "pids",   "freezer", "devices", "blkio"};
/* The cgroup2 name of each controller; NULL for the core features every v2 cgroup has. */
static const char *const v2_names[N_CONTROLLERS] = {"memory", "cpu", NULL, "cpuset",
                                                    "pids",   NULL,  NULL, "io"};

/* mountinfo escapes space, tab, newline and backslash as octal (proc(5)). */
static int unescape(const char *field, size_t len, char *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    char c = field[i];
    if (c == '\\' && i + 3 < len + 1 && field[i + 1] >= '0' && field[i + 1] <= '7' &&
        field[i + 2] >= '0' && field[i + 2] <= '7' && field[i + 3] >= '0' && field[i + 3] <= '7') {
      c = (char)((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
      i += 3;
    }
    if (n + 1 >= cap) return -1;
    out[n++] = c;
  }
  out[n] = '\0';
  return 0;
}

int cgroup_mounts_parse(const char *text, struct cgroup_mounts *out) {
  out->count = 0;
  for (const char *line = text; *line != '\0';) {
    size_t len = strcspn(line, "\n");
    const char *field[64];
    size_t flen[64];
    int n = 0;
    for (const char *p = line; p <= line + len && n < 64;) {
      size_t l = strcspn(p, " \n");
      if (p + l > line + len) l = (size_t)(line + len - p);
      field[n] = p;
      flen[n++] = l;
      p += l + 1;
    }
    int dash = -1;
    for (int i = 6; i < n && dash < 0; i++)
      if (flen[i] == 1 && field[i][0] == '-') dash = i;
    if (dash >= 0 && dash + 3 < n) {
      bool v1 = flen[dash + 1] == 6 && strncmp(field[dash + 1], "cgroup", 6) == 0;
      bool v2 = flen[dash + 1] == 7 && strncmp(field[dash + 1], "cgroup2", 7) == 0;
      if (v1 || v2) {
        if (out->count == MAX_CGROUP_MOUNTS) return -1;
        struct cgroup_mount *m = &out->m[out->count++];
        m->v2 = v2;
        if (unescape(field[3], flen[3], m->root, sizeof(m->root)) < 0 ||
            unescape(field[4], flen[4], m->mount_point, sizeof(m->mount_point)) < 0 ||
            flen[dash + 3] >= sizeof(m->super_options))
          return -1;
        memcpy(m->super_options, field[dash + 3], flen[dash + 3]);
        m->super_options[flen[dash + 3]] = '\0';
      }
    }
    line += len;
    if (*line == '\n') line++;
  }
  return 0;
}

/* Whether the comma-separated list has word. */
static bool has_word(const char *list, const char *word, const char *separators) {
  size_t wlen = strlen(word);
  for (const char *p = list; *p != '\0';) {
    size_t l = strcspn(p, separators);
    if (l == wlen && strncmp(p, word, l) == 0) return true;
    p += l;
    p += strspn(p, separators);
  }
  return false;
}

/* The path of a subsystem ("" for v2's 0:: line) in a /proc/self/cgroup text. */
static bool proc_path(const char *text, const char *subsystem, char *out, size_t cap) {
  for (const char *line = text; *line != '\0';) {
    size_t len = strcspn(line, "\n");
    const char *first = memchr(line, ':', len);
    const char *second =
        first == NULL ? NULL : memchr(first + 1, ':', len - (size_t)(first + 1 - line));
    if (second != NULL) {
      char subs[256];
      size_t slen = (size_t)(second - first - 1);
      bool v2 = slen == 0 && first - line == 1 && line[0] == '0';
      if (slen < sizeof(subs)) {
        memcpy(subs, first + 1, slen);
        subs[slen] = '\0';
        if (subsystem[0] == '\0' ? v2 : !v2 && has_word(subs, subsystem, ",")) {
          size_t plen = (size_t)(line + len - second - 1);
          if (plen >= cap) return false;
          memcpy(out, second + 1, plen);
          out[plen] = '\0';
          return true;
        }
      }
    }
    line += len;
    if (*line == '\n') line++;
  }
  return false;
}

/* A process's path as seen from a mount whose root is a sub-cgroup (detect.ts relativeToMount). */
static int relative_to_mount(const char *path, const char *root, char *out, size_t cap) {
  size_t rlen = strlen(root);
  const char *rel = path;
  if (strcmp(root, "/") != 0 && strncmp(path, root, rlen) == 0 &&
      (path[rlen] == '\0' || path[rlen] == '/'))
    rel = path[rlen] == '\0' ? "/" : path + rlen;
  return (size_t)snprintf(out, cap, "%s", rel) < cap ? 0 : -1;
}

int hierarchy_build(const struct cgroup_mounts *mounts, const char *proc_cgroup,
                    const char *v2_controllers, struct hierarchy *h) {
  memset(h, 0, sizeof(*h));
  for (int c = 0; c < N_CONTROLLERS; c++)
    h->v1_of[c] = -1;
  char path[PATH_MAX];
  for (int i = 0; i < mounts->count; i++) {
    const struct cgroup_mount *m = &mounts->m[i];
    if (m->v2) {
      if (h->has_v2 || !proc_path(proc_cgroup, "", path, sizeof(path))) continue;
      h->has_v2 = true;
      snprintf(h->v2.mount_point, sizeof(h->v2.mount_point), "%s", m->mount_point);
      if (relative_to_mount(path, m->root, h->v2.own_path, sizeof(h->v2.own_path)) < 0 ||
          (size_t)snprintf(h->v2_controllers, sizeof(h->v2_controllers), "%s", v2_controllers) >=
              sizeof(h->v2_controllers))
        return -1;
      continue;
    }
    /* The first controller the super options name, in their order, finds the membership. */
    unsigned set = 0;
    int first = -1;
    for (const char *p = m->super_options; *p != '\0';) {
      size_t l = strcspn(p, ",");
      for (int c = 0; c < N_CONTROLLERS; c++)
        if (strlen(v1_names[c]) == l && strncmp(p, v1_names[c], l) == 0) {
          if (first < 0) first = c;
          set |= 1u << c;
        }
      p += l;
      p += strspn(p, ",");
    }
    if (first < 0 || !proc_path(proc_cgroup, v1_names[first], path, sizeof(path))) continue;
    bool taken = false;
    for (int c = 0; c < N_CONTROLLERS; c++)
      if ((set & (1u << c)) != 0 && h->v1_of[c] >= 0) taken = true;
    if (taken) continue;
    struct hierarchy_dir *d = &h->v1[h->n_v1];
    snprintf(d->mount_point, sizeof(d->mount_point), "%s", m->mount_point);
    if (relative_to_mount(path, m->root, d->own_path, sizeof(d->own_path)) < 0) return -1;
    d->controllers = set;
    for (int c = 0; c < N_CONTROLLERS; c++)
      if ((set & (1u << c)) != 0) h->v1_of[c] = h->n_v1;
    h->n_v1++;
  }
  if (!h->has_v2 && h->n_v1 == 0) return -1;
  /* index.ts's layout takes the hierarchies in the order the controllers first name them. */
  struct hierarchy_dir sorted[N_CONTROLLERS];
  int order[N_CONTROLLERS], n = 0;
  for (int c = 0; c < N_CONTROLLERS; c++) {
    int k = h->v1_of[c];
    bool seen = false;
    for (int j = 0; j < n; j++)
      seen = seen || order[j] == k;
    if (k >= 0 && !seen) order[n++] = k;
  }
  for (int j = 0; j < n; j++)
    sorted[j] = h->v1[order[j]];
  for (int j = 0; j < n; j++) {
    h->v1[j] = sorted[j];
    for (int c = 0; c < N_CONTROLLERS; c++)
      if ((sorted[j].controllers & (1u << c)) != 0) h->v1_of[c] = j;
  }
  return 0;
}

bool hierarchy_v2_serves(const struct hierarchy *h, enum controller c) {
  if (h->v1_of[c] >= 0 || !h->has_v2) return false;
  return v2_names[c] == NULL || has_word(h->v2_controllers, v2_names[c], " \t\n");
}

/* dir + "/" + component, slashes collapsed, no trailing slash but for "/" itself. */
static int join(char *out, const char *dir, const char *component) {
  char tmp[PATH_MAX];
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", dir, component) >= sizeof(tmp)) return -1;
  size_t n = 0;
  for (const char *p = tmp; *p != '\0'; p++)
    if (!(*p == '/' && n > 0 && out[n - 1] == '/')) out[n++] = *p;
  if (n > 1 && out[n - 1] == '/') n--;
  out[n] = '\0';
  return 0;
}

int hierarchy_place(const struct hierarchy_dir *d, const char *parent, const char *name,
                    struct placement *p) {
  if (join(p->base, d->mount_point, parent[0] == '/' ? "" : d->own_path) < 0) return -1;
  char dir[PATH_MAX];
  snprintf(dir, sizeof(dir), "%s", p->base);
  p->n_parents = 0;
  for (const char *c = parent; *c != '\0';) {
    size_t l = strcspn(c, "/");
    if (l > 0) {
      char component[NAME_MAX + 1];
      if (l > NAME_MAX || p->n_parents == MAX_PARENT_DEPTH) return -1;
      memcpy(component, c, l);
      component[l] = '\0';
      if (join(p->parents[p->n_parents], dir, component) < 0) return -1;
      snprintf(dir, sizeof(dir), "%s", p->parents[p->n_parents++]);
    }
    c += l;
    c += strspn(c, "/");
  }
  return join(p->dir, dir, name);
}

int hierarchy_layout(const struct hierarchy *h, const char *parent, const char *name,
                     struct layout *l) {
  l->count = 0;
  for (int i = 0; i < h->n_v1; i++, l->count++) {
    l->controllers[l->count] = h->v1[i].controllers;
    l->v2[l->count] = false;
    if (hierarchy_place(&h->v1[i], parent, name, &l->p[l->count]) < 0) return -1;
  }
  if (h->has_v2) {
    l->controllers[l->count] = 0;
    l->v2[l->count] = true;
    if (hierarchy_place(&h->v2, parent, name, &l->p[l->count++]) < 0) return -1;
  }
  return 0;
}

/* layout.ts checkName: ^[A-Za-z0-9][A-Za-z0-9_.-]*$ */
static bool name_valid(const char *name) {
  if (!isalnum((unsigned char)name[0])) return false;
  for (const char *c = name; *c != '\0'; c++)
    if (!isalnum((unsigned char)*c) && strchr("_.-", *c) == NULL) return false;
  return true;
}

/* layout.ts checkParent: no empty, "." or ".." component but a leading or trailing slash. */
static bool parent_valid(const char *parent) {
  size_t len = strlen(parent);
  if (len == 0) return false;
  for (size_t i = 0; i <= len;) {
    size_t l = strcspn(parent + i, "/");
    bool edge = i == 0 || i + l == len;
    if ((l == 0 && !edge) || (l == 1 && parent[i] == '.') ||
        (l == 2 && strncmp(parent + i, "..", 2) == 0))
      return false;
    i += l + 1;
  }
  return true;
}

/* cgroups-path.ts expandSlice: a-b.slice lives at /a.slice/a-b.slice. */
static int expand_slice(const char *slice, char *out, size_t cap) {
  size_t len = strlen(slice);
  if (len < 6 || strcmp(slice + len - 6, ".slice") != 0 || strchr(slice, '/') != NULL) return -1;
  out[0] = '\0';
  if (strcmp(slice, "-.slice") == 0) return 0;
  size_t base = len - 6, n = 0;
  for (size_t i = 0; i <= base; i++) {
    if (i < base && slice[i] != '-') continue;
    if (i == 0 || slice[i - 1] == '-' || (i < base && i + 1 == base)) return -1;
    int w = snprintf(out + n, cap - n, "/%.*s.slice", (int)i, slice);
    if (w < 0 || (size_t)w >= cap - n) return -1;
    n += (size_t)w;
  }
  return 0;
}

int cgroup_place(const char *path, const char *id, char *parent, size_t parent_cap, char *name,
                 size_t name_cap) {
  int w;
  const char *colon = path == NULL ? NULL : strchr(path, ':');
  if (path == NULL || path[0] == '\0') {
    snprintf(parent, parent_cap, "/tsdock-runtime");
    w = snprintf(name, name_cap, "%s", id);
  } else if (colon != NULL) {
    /* slice:prefix:name, none of them with a slash, prefix and name not empty */
    const char *second = strchr(colon + 1, ':');
    if (strchr(path, '/') != NULL || second == NULL || strchr(second + 1, ':') != NULL ||
        second == colon + 1 || second[1] == '\0')
      return -1;
    char slice[NAME_MAX + 1];
    if (colon - path > NAME_MAX) return -1;
    snprintf(slice, sizeof(slice), "%.*s", colon == path ? 12 : (int)(colon - path),
             colon == path ? "system.slice" : path);
    if (expand_slice(slice, parent, parent_cap) < 0) return -1;
    if (parent[0] == '\0') snprintf(parent, parent_cap, "/");
    w = snprintf(name, name_cap, "%.*s-%s.scope", (int)(second - colon - 1), colon + 1, second + 1);
  } else {
    /* The last component is the name, the others the parent, absolute when the path is. */
    size_t n = 0, count = 0;
    const char *last = NULL;
    size_t last_len = 0;
    parent[0] = '\0';
    if (path[0] == '/') parent[n++] = '/', parent[n] = '\0';
    for (const char *c = path; *c != '\0';) {
      size_t l = strcspn(c, "/");
      if (l > 0) {
        if (last != NULL) {
          w = snprintf(parent + n, parent_cap - n, "%s%.*s", count > 1 ? "/" : "", (int)last_len,
                       last);
          if (w < 0 || (size_t)w >= parent_cap - n) return -1;
          n += (size_t)w;
        }
        last = c, last_len = l, count++;
      }
      c += l;
      c += strspn(c, "/");
    }
    if (last == NULL || (count == 1 && path[0] != '/')) return -1;
    w = snprintf(name, name_cap, "%.*s", (int)last_len, last);
  }
  if (w < 0 || (size_t)w >= name_cap || !name_valid(name) || !parent_valid(parent)) return -1;
  /* "/a/" is "/a" (index.ts resolve). */
  size_t len = strlen(parent);
  while (len > 1 && parent[len - 1] == '/')
    parent[--len] = '\0';
  return 0;
}
