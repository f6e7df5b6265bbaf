/*
 * spec_plan BUNDLE ROOT ID CREATED [PRESERVE_FDS]: the plan tsdock-runtime's native create would
 * write for the bundle (src/runtime/spec.c, plan_encode.c), on stdout, its cgroup placed as
 * create places it but not made. Exit 3 when the call would go to the TypeScript runtime.
 * test/unit/oci-native-plan.test.ts compares it byte for byte with TypeScript's plan.
 */
#include "host.h"
#include "plan_encode.h"
#include "spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char text[1 << 20];
static struct oci_spec spec;
static struct host host;
static struct layout layout;

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: spec_plan BUNDLE ROOT ID CREATED [PRESERVE_FDS]\n");
    return 2;
  }
  char file[PATH_MAX], dir[PATH_MAX], parent[PATH_MAX], name[NAME_MAX + 1];
  snprintf(file, sizeof(file), "%s/config.json", argv[1]);
  snprintf(dir, sizeof(dir), "%s/%s", argv[2], argv[3]);
  FILE *f = fopen(file, "r");
  size_t len = f == NULL ? 0 : fread(text, 1, sizeof(text), f);
  if (f == NULL || host_read(&host) < 0) return perror(file), 2;
  fclose(f);
  struct spec_host facts = {argv[1], &host.mounts, host.caps};
  struct tsd_plan plan;
  struct spec_info info;
  if (spec_plan(&spec, text, len, &facts, &plan, &info) < 0) return 3;
  int rc = 3;
  if (cgroup_place(info.has_cgroups_path ? info.cgroups_path : NULL, argv[3], parent,
                   sizeof(parent), name, sizeof(name)) == 0 &&
      hierarchy_layout(&host.hierarchy, parent, name, &layout) == 0) {
    char procs[N_CONTROLLERS + 1][PATH_MAX];
    const char *p[N_CONTROLLERS + 1];
    for (int i = 0; i < layout.count; i++)
      snprintf(procs[i], PATH_MAX, "%s/cgroup.procs", layout.p[i].dir), p[i] = procs[i];
    struct create_args a = {
        argv[3], argv[1], argv[4], dir, p, layout.count, argc > 5 ? (unsigned)atoi(argv[5]) : 0};
    uint8_t *bytes;
    size_t n;
    if (spec_finish_plan(&plan, &info, &a) == 0 && tsd_plan_encode(&plan, &bytes, &n) == 0) {
      fwrite(bytes, 1, n, stdout);
      free(bytes);
      rc = 0;
    }
  }
  tsd_plan_free(&plan);
  free(info.annotations);
  return rc;
}
