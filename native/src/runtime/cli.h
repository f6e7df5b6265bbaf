/*
 * tsdock-runtime's command line as src/oci/args.ts and main.ts read it (runc's shape: global
 * flags, a verb, its flags and arguments; `--name value`, `--name=value` or a one-letter alias),
 * narrowed to the calls this front end serves itself: create, start, state, kill, delete, pause,
 * resume and `ps --format json`. Everything else — other verbs, --version, --help,
 * --systemd-cgroup, and any flag or value it would have to reject — goes to the TypeScript runtime,
 * which answers and words its errors as it always has. Pure.
 */
#ifndef TSDOCK_RUNTIME_CLI_H
#define TSDOCK_RUNTIME_CLI_H

#include <stdbool.h>

#define DEFAULT_ROOT "/run/tsdock-runtime"

enum verb {
  VERB_CREATE,
  VERB_START,
  VERB_STATE,
  VERB_KILL,
  VERB_DELETE,
  VERB_PAUSE,
  VERB_RESUME,
  VERB_PS
};

struct cli {
  const char *root;
  const char *log; /* --log FILE, or NULL */
  bool log_json;   /* --log-format json */
  bool debug;
  enum verb verb;
  const char *verb_name;
  bool all, force; /* kill --all, delete --force */
  const char *id;  /* "" when not given */
  int signal;      /* kill's, SIGTERM when not given */
  /* create's flags; NULL when not given */
  const char *bundle, *pid_file, *console_socket, *preserve_fds;
};

/* Fills c and returns true when this front end serves the call; false: the TypeScript runtime. */
bool cli_parse(int argc, char *const *argv, struct cli *c);

/* A signal as runc's kill takes it (a number, or a name with or without SIG); 0 if unknown. */
int cli_signal(const char *text);

#endif
