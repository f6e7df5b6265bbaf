/*
 * A tsdock-runtime container's state.json, as src/oci/state.ts writes it, and the runtime-spec
 * state document `state` prints. The status is derived, never stored: stopped once the init (pid
 * and start time) is gone, created while the start socket is there, paused while the cgroup is
 * frozen, else running. Pure.
 */
#ifndef TSDOCK_RUNTIME_STATE_H
#define TSDOCK_RUNTIME_STATE_H

#include "json.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define STATE_FILE "state.json"
#define START_SOCKET "start.sock"
#define SPEC_VERSION "1.0.2"
#define MAX_STATE_TOKENS 1024
#define MAX_CGROUP_PATHS 16

enum oci_status { OCI_CREATED, OCI_RUNNING, OCI_PAUSED, OCI_STOPPED };

/* A list of paths from the state file. */
struct path_list {
  int count;
  char path[MAX_CGROUP_PATHS][PATH_MAX];
};

struct oci_state {
  char id[NAME_MAX + 1];
  char bundle[PATH_MAX];
  char rootfs[PATH_MAX];
  long long pid; /* the init's, host view; 0 while creating */
  char start_time[32];
  char created[64];
  /* Every cgroup.procs file, the container's own cgroup dirs (deepest first) and the shared
   * parents delete removes once unused. */
  struct path_list procs, dirs, parents;
  /* Whether start (poststart) and delete (poststop) have hooks to run, which Node does. */
  bool start_hooks, delete_hooks;
  /* The parsed text, for the annotations, which `state` prints as they were stored. */
  struct json_doc doc;
  int annotations;
  struct json_token tokens[MAX_STATE_TOKENS];
};

/*
 * Reads state.json's text (kept by s->doc: it must outlive s); -1 when it is not what this
 * front end knows how to act on, and the TypeScript runtime is left to handle the call.
 */
int oci_state_parse(struct oci_state *s, const char *text, size_t len);

enum oci_status oci_status_of(bool init_alive, bool start_socket, bool frozen);
const char *oci_status_name(enum oci_status status);

/* The state document, as JSON.stringify(doc, null, 2) + "\n" prints it; the length it needs. */
size_t oci_state_render(const struct oci_state *s, enum oci_status status, char *out, size_t cap);

/* Container ids as runc takes them: [A-Za-z0-9_+.-]+, not "." or "..". */
bool oci_id_valid(const char *id);

#endif
