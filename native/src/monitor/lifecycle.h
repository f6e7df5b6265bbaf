/*
 * What a container's monitor does beyond running it once: events (events.c), the restart
 * policy and the exit's reason (restart.c), and the command run once it is over (exit.c).
 * Set by the flags described in main.c.
 */
#ifndef TSDOCK_LIFECYCLE_H
#define TSDOCK_LIFECYCLE_H

#include "spawn_plan.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum tsd_restart {
  TSD_RESTART_NO = 0,
  TSD_RESTART_ON_FAILURE,
  TSD_RESTART_ALWAYS,
  TSD_RESTART_UNLESS_STOPPED,
};

#define TSD_EXIT_COMMAND_MAX 16

/* --health-on-failure: what the monitor does once the check says unhealthy (Podman's). */
enum tsd_health_action {
  TSD_HEALTH_NONE = 0,
  TSD_HEALTH_KILL,
  TSD_HEALTH_RESTART,
  TSD_HEALTH_STOP,
};

/* The health check (health.c); every duration in milliseconds, defaults already applied. */
struct tsd_health_config {
  const char *plan; /* --health-plan FILE: an exec plan of the check; NULL: no check */
  uint64_t interval_ms, timeout_ms, start_period_ms, start_interval_ms;
  unsigned retries;
  enum tsd_health_action on_failure;
  int stop_signal;        /* --stop-signal N: what stop and restart send first */
  uint64_t stop_grace_ms; /* --stop-timeout SECONDS: how long before SIGKILL follows it */
};

struct tsd_lifecycle {
  const char *events_file; /* NULL: no events */
  const char *actor; /* "id":"…","name":"…","image":"…": the fields naming the container */
  enum tsd_restart restart;
  unsigned max_retries;                               /* on-failure:N; 0: unlimited */
  const char *exit_command[TSD_EXIT_COMMAND_MAX + 1]; /* argv run once it is over; NULL-ended */
  unsigned n_exit_command;
  bool auto_remove; /* --auto-remove: removed once it is over, so its exit file needs no fsync */
  struct tsd_health_config health;
};

/* Takes one "--flag value" pair if it is ours: 1 taken, 0 not ours, -1 a bad value. */
int lifecycle_arg(struct tsd_lifecycle *lc, const char *flag, const char *value);

/* Whether the flags make sense together: events need an actor, a health check its timing. */
bool lifecycle_complete(const struct tsd_lifecycle *lc);

/* events.c: one JSON line appended with a single write; `extra` is ",\"key\":value…" or "". */
void event_emit(const struct tsd_lifecycle *lc, const char *action, const char *extra);

/* How one run ended. */
struct tsd_exit {
  int exit_code; /* 128+N for signal N */
  int signal;
  bool oom_killed;
  const char *reason; /* exited, signal, oom, stop-timeout */
};

/* restart.c */
/* The exit of wait status `wstatus`; oom: the OOM killer took a process during this run. */
struct tsd_exit exit_of(const struct tsd_plan *p, int wstatus, bool oom);
/* Whether the user asked it to stop (`tsdock stop`, `kill`): then no policy restarts it. */
bool stop_requested(const struct tsd_plan *p);
/* Whether the policy restarts a container that ended so, after `restarts` restarts. */
bool should_restart(const struct tsd_lifecycle *lc, const struct tsd_exit *x, unsigned restarts);
/* Docker's backoff: 100 ms doubling up to 1 min, back to 100 ms after a run of 10 s or more. */
uint64_t restart_delay_ms(uint64_t previous_ms, uint64_t ran_ms);
/* Records the live state for `ps` and `inspect` (restart.c): running as pid, or, with `last`,
 * waiting to restart after that exit. */
int write_run_file(const struct tsd_plan *p, pid_t pid, unsigned restarts,
                   const struct tsd_exit *last);

/* DIR/name, DIR being the directory of the plan's exit file; false without one (restart.c). */
bool container_file(const struct tsd_plan *p, const char *name, char *out, size_t len);

/* exit.c: starts the exit command, detached; the monitor does not wait for it. */
void run_exit_command(const struct tsd_lifecycle *lc);

#endif
