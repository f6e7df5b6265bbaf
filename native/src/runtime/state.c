#include "state.h"

#include <stdio.h>
#include <string.h>

static bool string_at(const struct oci_state *s, int obj, const char *key, char *out, size_t cap) {
  return json_string(&s->doc, json_get(&s->doc, obj, key), out, cap);
}

static int paths_at(const struct oci_state *s, int obj, const char *key, struct path_list *list) {
  int a = json_get(&s->doc, obj, key);
  if (a < 0 || s->doc.tokens[a].type != JSON_ARRAY || s->doc.tokens[a].size > MAX_CGROUP_PATHS)
    return -1;
  list->count = 0;
  for (int i = a + 1; i < s->doc.tokens[a].next; i = s->doc.tokens[i].next)
    if (!json_string(&s->doc, i, list->path[list->count++], PATH_MAX)) return -1;
  return 0;
}

/* Whether hooks (an object of arrays, or absent) has a non-empty list of any of the kinds. */
static bool has_hooks(const struct oci_state *s, int hooks, const char *const *kinds) {
  for (; *kinds != NULL; kinds++) {
    int list = json_get(&s->doc, hooks, *kinds);
    if (list >= 0 && (s->doc.tokens[list].type != JSON_ARRAY || s->doc.tokens[list].size > 0))
      return true;
  }
  return false;
}

int oci_state_parse(struct oci_state *s, const char *text, size_t len) {
  static const char *const start_kinds[] = {"poststart", NULL};
  static const char *const delete_kinds[] = {"poststop", NULL};
  if (json_parse(&s->doc, text, len, s->tokens, MAX_STATE_TOKENS) < 0 ||
      s->doc.tokens[0].type != JSON_OBJECT)
    return -1;
  int cgroup = json_get(&s->doc, 0, "cgroupPaths");
  int hooks = json_get(&s->doc, 0, "hooks");
  s->annotations = json_get(&s->doc, 0, "annotations");
  if (!string_at(s, 0, "id", s->id, sizeof(s->id)) ||
      !string_at(s, 0, "bundle", s->bundle, sizeof(s->bundle)) ||
      !string_at(s, 0, "rootfs", s->rootfs, sizeof(s->rootfs)) ||
      !json_long(&s->doc, json_get(&s->doc, 0, "pid"), &s->pid) || s->pid < 0 ||
      !string_at(s, 0, "startTime", s->start_time, sizeof(s->start_time)) ||
      !string_at(s, 0, "created", s->created, sizeof(s->created)) || s->annotations < 0 ||
      s->doc.tokens[s->annotations].type != JSON_OBJECT ||
      paths_at(s, cgroup, "procs", &s->procs) || paths_at(s, cgroup, "dirs", &s->dirs) ||
      paths_at(s, cgroup, "parents", &s->parents))
    return -1;
  /* Annotations are printed as stored: only string values keep the document's shape. */
  for (int k = s->annotations + 1; k < s->doc.tokens[s->annotations].next;
       k = s->doc.tokens[k + 1].next)
    if (s->doc.tokens[k + 1].type != JSON_STRING) return -1;
  if (hooks >= 0 && s->doc.tokens[hooks].type != JSON_OBJECT) return -1;
  s->start_hooks = has_hooks(s, hooks, start_kinds);
  s->delete_hooks = has_hooks(s, hooks, delete_kinds);
  return 0;
}

enum oci_status oci_status_of(bool init_alive, bool start_socket, bool frozen) {
  if (!init_alive) return OCI_STOPPED;
  if (start_socket) return OCI_CREATED;
  return frozen ? OCI_PAUSED : OCI_RUNNING;
}

const char *oci_status_name(enum oci_status status) {
  static const char *const names[] = {"created", "running", "paused", "stopped"};
  return names[status];
}

struct writer {
  char *out;
  size_t cap, n;
};

static void emit(struct writer *w, const char *fmt, const char *s) {
  int len =
      snprintf(w->n < w->cap ? w->out + w->n : NULL, w->n < w->cap ? w->cap - w->n : 0, fmt, s);
  w->n += (size_t)len;
}

/* `  "key": "value",` with the value escaped as JSON.stringify does. */
static void field(struct writer *w, const char *key, const char *value) {
  emit(w, "  \"%s\": ", key);
  w->n +=
      json_quote(value, w->n < w->cap ? w->out + w->n : NULL, w->n < w->cap ? w->cap - w->n : 0);
  emit(w, "%s\n", ",");
}

/* The stored token's text, quotes included: JSON.stringify wrote it, so it reads as it would. */
static void raw_string(struct writer *w, const struct oci_state *s, int t) {
  const struct json_token *tok = &s->doc.tokens[t];
  size_t len = tok->end - tok->start + 2;
  if (w->n + len < w->cap) memcpy(w->out + w->n, s->doc.text + tok->start - 1, len);
  w->n += len;
}

size_t oci_state_render(const struct oci_state *s, enum oci_status status, char *out, size_t cap) {
  struct writer w = {.out = out, .cap = cap};
  char pid[24];
  snprintf(pid, sizeof(pid), "%lld", status == OCI_STOPPED ? 0 : s->pid);
  emit(&w, "%s", "{\n");
  field(&w, "ociVersion", SPEC_VERSION);
  field(&w, "id", s->id);
  field(&w, "status", oci_status_name(status));
  emit(&w, "  \"pid\": %s,\n", pid);
  field(&w, "bundle", s->bundle);
  field(&w, "rootfs", s->rootfs);
  field(&w, "created", s->created);
  field(&w, "owner", "");
  const struct json_token *a = &s->doc.tokens[s->annotations];
  emit(&w, "%s", a->size == 0 ? "  \"annotations\": {}" : "  \"annotations\": {\n");
  for (int m = 0, k = s->annotations + 1; m < a->size; m++, k = s->doc.tokens[k + 1].next) {
    emit(&w, "%s", "    ");
    raw_string(&w, s, k);
    emit(&w, "%s", ": ");
    raw_string(&w, s, k + 1);
    emit(&w, "%s\n", m + 1 < a->size ? "," : "");
  }
  emit(&w, "%s", a->size == 0 ? "\n}\n" : "  }\n}\n");
  if (cap > 0 && w.n >= cap) out[cap - 1] = '\0';
  return w.n;
}

bool oci_id_valid(const char *id) {
  if (id[0] == '\0' || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) return false;
  for (const char *c = id; *c != '\0'; c++)
    if (strchr("_+.-", *c) == NULL &&
        !((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
      return false;
  return true;
}
