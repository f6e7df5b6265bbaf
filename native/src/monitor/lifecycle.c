/*
 * The lifecycle flags of tsdock-monitor (see main.c): events, restart policy, exit command and
 * health check. Pure parsing: unit-tested in test/lifecycle_test.c.
 */
#define _GNU_SOURCE
#include "lifecycle.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* "no", "always", "unless-stopped", "on-failure" or "on-failure:N" (N >= 0). */
static int parse_restart(struct tsd_lifecycle *lc, const char *v) {
  static const char on_failure[] = "on-failure";
  if (strcmp(v, "no") == 0)
    lc->restart = TSD_RESTART_NO;
  else if (strcmp(v, "always") == 0)
    lc->restart = TSD_RESTART_ALWAYS;
  else if (strcmp(v, "unless-stopped") == 0)
    lc->restart = TSD_RESTART_UNLESS_STOPPED;
  else if (strncmp(v, on_failure, sizeof(on_failure) - 1) == 0) {
    const char *rest = v + sizeof(on_failure) - 1;
    lc->restart = TSD_RESTART_ON_FAILURE;
    lc->max_retries = 0;
    if (*rest == ':') {
      char *end;
      unsigned long n = strtoul(rest + 1, &end, 10);
      if (rest[1] == '\0' || *end != '\0' || n > 1000000) return -1;
      lc->max_retries = (unsigned)n;
    } else if (*rest != '\0') {
      return -1;
    }
  } else {
    return -1;
  }
  return 1;
}

/* A decimal number in [min, max]; -1 for anything else. */
static int parse_number(const char *v, uint64_t min, uint64_t max, uint64_t *out) {
  char *end;
  if (*v < '0' || *v > '9') return -1;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (errno != 0 || *end != '\0' || n < min || n > max) return -1;
  *out = n;
  return 1;
}

static int parse_health_action(enum tsd_health_action *a, const char *v) {
  static const char *const names[] = {"none", "kill", "restart", "stop"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strcmp(v, names[i]) == 0) {
      *a = (enum tsd_health_action)i;
      return 1;
    }
  }
  return -1;
}

/* About 24 days: what a poll(2) timeout in milliseconds can wait at once. */
#define DURATION_MAX_MS ((uint64_t)INT32_MAX)

static int health_arg(struct tsd_health_config *h, const char *flag, const char *value) {
  const struct {
    const char *flag;
    uint64_t *field;
    uint64_t min;
  } durations[] = {
      {"--health-interval", &h->interval_ms, 1},
      {"--health-timeout", &h->timeout_ms, 1},
      {"--health-start-period", &h->start_period_ms, 0},
      {"--health-start-interval", &h->start_interval_ms, 1},
  };
  for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++)
    if (strcmp(flag, durations[i].flag) == 0)
      return parse_number(value, durations[i].min, DURATION_MAX_MS, durations[i].field);
  uint64_t n;
  if (strcmp(flag, "--health-plan") == 0) {
    h->plan = value;
    return 1;
  }
  if (strcmp(flag, "--health-retries") == 0) {
    if (parse_number(value, 1, 1000000, &n) < 0) return -1;
    h->retries = (unsigned)n;
    return 1;
  }
  if (strcmp(flag, "--health-on-failure") == 0) return parse_health_action(&h->on_failure, value);
  if (strcmp(flag, "--stop-signal") == 0) {
    if (parse_number(value, 1, 64, &n) < 0) return -1;
    h->stop_signal = (int)n;
    return 1;
  }
  if (strcmp(flag, "--stop-timeout") == 0) {
    if (parse_number(value, 0, DURATION_MAX_MS / 1000, &n) < 0) return -1;
    h->stop_grace_ms = n * 1000;
    return 1;
  }
  return 0;
}

int lifecycle_arg(struct tsd_lifecycle *lc, const char *flag, const char *value) {
  if (strcmp(flag, "--events") == 0) {
    lc->events_file = value;
  } else if (strcmp(flag, "--event-actor") == 0) {
    lc->actor = value;
  } else if (strcmp(flag, "--restart") == 0) {
    return parse_restart(lc, value);
  } else if (strcmp(flag, "--exit-command") == 0) {
    if (lc->n_exit_command >= TSD_EXIT_COMMAND_MAX) return -1;
    lc->exit_command[lc->n_exit_command++] = value;
    lc->exit_command[lc->n_exit_command] = NULL;
  } else {
    return health_arg(&lc->health, flag, value);
  }
  return 1;
}

bool lifecycle_complete(const struct tsd_lifecycle *lc) {
  const struct tsd_health_config *h = &lc->health;
  if (lc->events_file != NULL && lc->actor == NULL) return false;
  return h->plan == NULL ||
         (h->interval_ms > 0 && h->timeout_ms > 0 && h->start_interval_ms > 0 && h->retries > 0);
}
