/* The lifecycle flags of tsdock-monitor (see main.c): events, restart policy, exit command. */
#define _GNU_SOURCE
#include "lifecycle.h"

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
    return 0;
  }
  return 1;
}
