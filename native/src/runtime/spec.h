/*
 * A bundle's config.json as a spawn plan, natively: the C twin of src/oci/spec.ts (the checks)
 * and spec-plan.ts (the plan), for the specs that stay within what this file knows. Anything
 * else — seccomp (compiled by the TypeScript compiler, the only one), hooks, a value spec.ts
 * would refuse, a field whose JSON reading could differ from JavaScript's (a duplicate key, an
 * integer-like map key, an escaped NUL or lone surrogate, a number written as 1.0) — makes
 * spec_plan answer SPEC_TO_NODE, before anything was done, and the TypeScript runtime takes the
 * call: it builds the plan, or words the error. What spec_plan builds is byte for byte the plan
 * TypeScript builds (test/unit/oci-native-plan.test.ts). Pure but for stat(2) of bind sources.
 */
#ifndef TSDOCK_RUNTIME_SPEC_H
#define TSDOCK_RUNTIME_SPEC_H

#include "cgroup_limits.h"
#include "hierarchy.h"
#include "json.h"
#include "spawn_plan.h"

#include <stdbool.h>
#include <stdint.h>

#define SPEC_TO_NODE (-1)
#define MAX_SPEC_TOKENS 16384
/* What create records and places besides the plan. */
struct spec_info {
  char rootfs[PATH_MAX];
  bool has_cgroups_path;
  char cgroups_path[PATH_MAX];
  bool terminal;
  char *annotations; /* the annotations object as JSON.stringify writes it; malloc'd */
  struct cgroup_limits limits;
};

struct spec_host {
  const char *bundle;                 /* absolute, normalised */
  const struct cgroup_mounts *mounts; /* the host's, for a cgroup mount */
  uint64_t caps;                      /* this process's bounding set */
};

struct oci_spec {
  struct json_doc doc;
  struct json_token tokens[MAX_SPEC_TOKENS];
};

/*
 * Reads text (which s keeps pointing to) and fills plan (free it with tsd_plan_free) and info
 * (free info->annotations); SPEC_TO_NODE with nothing left allocated when the TypeScript runtime
 * must take the call. The plan lacks what create adds: cgroup.procs files, start socket,
 * preserved fds and the hook state.
 */
int spec_plan(struct oci_spec *s, const char *text, size_t len, const struct spec_host *host,
              struct tsd_plan *plan, struct spec_info *info);

/* What create adds to the plan (create.ts planOfCreate): the cgroup.procs files, the start
 * socket in the state dir, the preserved fds and the state the hooks would read. -1: no memory. */
struct create_args {
  const char *id, *bundle, *created, *dir;
  const char *const *procs;
  int n_procs;
  unsigned preserve_fds;
};
int spec_finish_plan(struct tsd_plan *plan, const struct spec_info *info,
                     const struct create_args *a);

/* The path with ".", ".." and repeated slashes resolved, as Node's path.posix.normalize of an
 * absolute path (a trailing slash kept); -1 when it does not fit. */
int path_normalize(const char *path, char *out, size_t cap);

#endif
