/*
 * A container as the verbs see it: its state file, its observed status, its cgroup. Signals go
 * to the init only while it is the very process create started (pid and start time), never to a
 * reused pid. Mirrors src/oci/container.ts.
 */
#ifndef TSDOCK_RUNTIME_CONTAINER_H
#define TSDOCK_RUNTIME_CONTAINER_H

#include "state.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * What a step returns besides 0: a failure (the message in err), the failure "no such container"
 * (delete --force takes it as success), or "leave this call to Node".
 */
enum { MISSING = -2, FAILED = -1, TO_NODE = 1 };

#define MAX_STATE_FILE (256u << 10)
#define ERR_MAX 8192

struct container {
  char dir[PATH_MAX];
  char text[MAX_STATE_FILE];
  struct oci_state state;
  enum oci_status status;
};

/* Formats err (ERR_MAX bytes) and returns FAILED. */
int failf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* strerror's text with a lower-case first letter, as Node and Go print it. */
const char *reason(int errnum);

/* "ECONNREFUSED": an errno named as Node names it in a failed call's message ("kill EPERM"). */
const char *errno_name(int errnum);

/* Loads root/id; MISSING or FAILED with err set, or TO_NODE. */
int container_load(const char *root, const char *id, struct container *c, char *err);

/* Whether the init is the process create started and it has not exited. */
bool init_alive(const struct oci_state *s);

/* proc(5): /proc/<pid>/stat field 22, the start time; false for a zombie or no such process. */
bool start_time_of(long long pid, char *out, size_t cap);

/* A failure the init reported (step, errno, path), worded as src/runtime/spawn.ts startError. */
int start_failure(char *err, const char *step, int errnum, const char *path);

/* rm -r of a container's state dir; one already gone is fine. */
int remove_state_dir(const char *dir, char *err);

/* Signals a pid; one already gone (ESRCH) is fine. */
int send_signal(pid_t pid, int signal, char *err);

#endif
