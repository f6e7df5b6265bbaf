/*
 * tsdock-runtime: the runc-compatible OCI runtime command line containerd's shim drives, once
 * per operation. This native front end serves the hot calls itself from the state files the
 * TypeScript side writes — start, state, kill, delete, pause, resume and `ps --format json` — so
 * they do not pay Node's start-up; everything else (create, exec, update, features, list, ps's
 * table, --version, --help, and any call it would have to reject or does not recognise) is
 * exec'd, argv unchanged, into the TypeScript runtime (dist/oci/main.cjs), which answers it.
 *
 * Errors are reported as the TypeScript runtime reports them: a line in the --log file (logrus
 * text, or JSON with --log-format json: containerd shows its msg), "tsdock-runtime: MESSAGE" on
 * stderr, exit status 1.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "container.h"
#include "log.h"
#include "verbs.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef TSDOCK_NODE
#define TSDOCK_NODE "/usr/bin/node"
#endif
/* From this executable (native/build/Release) to the TypeScript runtime, one CommonJS bundle. */
#define NODE_ENTRY "/../../../dist/oci/main.cjs"

static void report(const struct cli *c, const char *msg) {
  log_write(c != NULL ? c->log : NULL, c != NULL && c->log_json, "error", msg);
  fprintf(stderr, "tsdock-runtime: %s\n", msg);
}

/* Replaces this process with `node dist/oci/main.cjs ARGS…`; returns only on failure. */
static void exec_node(int argc, char **argv) {
  char exe[PATH_MAX], entry[PATH_MAX + sizeof(NODE_ENTRY)];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n < 0) return;
  exe[n] = '\0';
  snprintf(entry, sizeof(entry), "%s%s", dirname(exe), NODE_ENTRY);
  char *node_argv[argc + 2];
  node_argv[0] = TSDOCK_NODE;
  node_argv[1] = entry;
  for (int i = 1; i <= argc; i++)
    node_argv[i + 1] = argv[i];
  execv(TSDOCK_NODE, node_argv);
}

int main(int argc, char **argv) {
  static char err[ERR_MAX];
  struct cli c;
  int rc = cli_parse(argc, argv, &c) ? verb_run(&c, err) : TO_NODE;
  if (fflush(stdout) != 0 && rc == 0) rc = failf(err, "cannot write to stdout: %s", reason(errno));
  if (rc == 0) return 0;
  if (rc != TO_NODE) {
    report(&c, err);
    return 1;
  }
  exec_node(argc, argv);
  char msg[PATH_MAX + 64];
  snprintf(msg, sizeof(msg), "cannot run %s: %s", TSDOCK_NODE, reason(errno));
  report(NULL, msg);
  return 1;
}
