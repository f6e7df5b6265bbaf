/*
 * The health check (Docker's HEALTHCHECK, Podman's --health-on-failure), run by the monitor so
 * that no other process stays with a detached container. See health.c.
 */
#ifndef TSDOCK_HEALTH_H
#define TSDOCK_HEALTH_H

#include "lifecycle.h"
#include "spawn_plan.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Docker keeps the last 5 results and 4 KiB of each one's output. */
#define HEALTH_LOG_MAX 5
#define HEALTH_OUTPUT_MAX 4096
/* Room around the output for a timeout's reason and the "..." of a cut one. */
#define HEALTH_OUTPUT_EXTRA 80

struct tsd_health_result {
  struct timespec start, end;
  int exit_code; /* -1: the check did not finish (timeout) or could not start */
  size_t len;
  char output[HEALTH_OUTPUT_MAX + HEALTH_OUTPUT_EXTRA];
};

enum tsd_health_status { TSD_HEALTH_STARTING, TSD_HEALTH_HEALTHY, TSD_HEALTH_UNHEALTHY };

struct tsd_health {
  const struct tsd_lifecycle *lc;
  const struct tsd_plan *plan;      /* the check's exec plan; its joins are pointed at the init */
  const struct tsd_plan *container; /* the container's: its cgroup */
  unsigned cap_last_cap;
  char file[PATH_MAX]; /* DIR/health.json */
  pid_t init;
  uint64_t run_started_ms; /* CLOCK_MONOTONIC, as every *_ms here */
  uint64_t next_ms;        /* when the next check starts */
  /* The check under way: the forked process that runs it, and the pipe of its output. */
  pid_t probe;
  int out_fd;
  int failure_fd; /* where the probe says why the check could not start */
  uint64_t deadline_ms;
  uint64_t probe_started_ms;
  bool timed_out;
  bool discarded; /* paused while it ran: its result is no result */
  bool truncated; /* output past HEALTH_OUTPUT_MAX was dropped */
  struct tsd_health_result current;
  /* What inspect shows. */
  enum tsd_health_status status;
  unsigned failing_streak;
  unsigned n_log;
  struct tsd_health_result log[HEALTH_LOG_MAX]; /* oldest first */
  /* --health-on-failure, once taken in this run; kill_at_ms: when stop's grace ends (0: none). */
  enum tsd_health_action acted;
  uint64_t kill_at_ms;
  bool escalated;
};

/* plan: the decoded --health-plan; the file goes beside the container plan's exit file. */
int health_open(struct tsd_health *h, const struct tsd_lifecycle *lc, const struct tsd_plan *plan,
                const struct tsd_plan *container, unsigned cap_last_cap);
/* A run of the container began: status starting, streak and log cleared, first check timed. */
void health_begin(struct tsd_health *h, pid_t init);
/* What supervise polls: milliseconds until health_tick has work (-1: none), the output fd. */
int health_poll_timeout(const struct tsd_health *h);
int health_fd(const struct tsd_health *h);
void health_on_readable(struct tsd_health *h);
/* Starts a check that is due, ends one past its timeout, escalates a stop past its grace. */
void health_tick(struct tsd_health *h);
/* A child was reaped: true if it was the check's, whose result is now recorded. */
bool health_reaped(struct tsd_health *h, pid_t pid, int wstatus);
/* The container's run ended: a check under way is abandoned (its process killed). */
void health_end(struct tsd_health *h);
/* The exit's reason when the health action ended the run ("health-kill", "stop-timeout"), or NULL.
 */
const char *health_exit_reason(const struct tsd_health *h);

#endif
