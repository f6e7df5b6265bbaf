/*
 * Unit tests of the monitor's lifecycle flags (src/monitor/lifecycle.c): the restart policy and
 * the health check's, under AddressSanitizer and UBSan.
 */
#include "lifecycle.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct flag_case {
  const char *flag;
  const char *value;
  int want; /* what lifecycle_arg returns */
};

static const struct flag_case flag_cases[] = {
    {"--health-interval", "1000", 1},
    {"--health-interval", "0", -1},
    {"--health-interval", "", -1},
    {"--health-interval", "-5", -1},
    {"--health-interval", "+5", -1},
    {"--health-interval", "5s", -1},
    {"--health-interval", "2147483647", 1},
    {"--health-interval", "2147483648", -1},
    {"--health-interval", "99999999999999999999999", -1},
    {"--health-timeout", "1", 1},
    {"--health-timeout", "0", -1},
    {"--health-start-period", "0", 1},
    {"--health-start-interval", "0", -1},
    {"--health-retries", "3", 1},
    {"--health-retries", "0", -1},
    {"--health-retries", "1000001", -1},
    {"--health-on-failure", "none", 1},
    {"--health-on-failure", "kill", 1},
    {"--health-on-failure", "restart", 1},
    {"--health-on-failure", "stop", 1},
    {"--health-on-failure", "KILL", -1},
    {"--health-on-failure", "", -1},
    {"--stop-signal", "15", 1},
    {"--stop-signal", "0", -1},
    {"--stop-signal", "65", -1},
    {"--stop-timeout", "0", 1},
    {"--stop-timeout", "-1", -1},
    {"--stop-timeout", "3s", -1},
    {"--health-plan", "/x/health.plan", 1},
    {"--restart", "on-failure:3", 1},
    {"--restart", "sometimes", -1},
    {"--unknown", "1", 0},
};

static bool run_flag_cases(void) {
  bool ok = true;
  for (size_t i = 0; i < sizeof(flag_cases) / sizeof(flag_cases[0]); i++) {
    const struct flag_case *c = &flag_cases[i];
    struct tsd_lifecycle lc = {0};
    int got = lifecycle_arg(&lc, c->flag, c->value);
    if (got != c->want) {
      fprintf(stderr, "FAIL %s %s: got %d, want %d\n", c->flag, c->value, got, c->want);
      ok = false;
    }
  }
  return ok;
}

/* Every value lands in its field; a check without its timing is incomplete. */
static bool run_health_config(void) {
  struct tsd_lifecycle lc = {0};
  const char *args[][2] = {
      {"--health-plan", "/c/health.plan"},
      {"--health-interval", "30000"},
      {"--health-timeout", "200"},
      {"--health-start-period", "0"},
      {"--health-start-interval", "5000"},
      {"--health-retries", "3"},
      {"--health-on-failure", "restart"},
      {"--stop-signal", "2"},
      {"--stop-timeout", "7"},
  };
  bool ok = true;
  for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
    ok = ok && lifecycle_complete(&lc) == (i == 0 || i > 5);
    ok = ok && lifecycle_arg(&lc, args[i][0], args[i][1]) == 1;
  }
  const struct tsd_health_config *h = &lc.health;
  ok = ok && lifecycle_complete(&lc) && strcmp(h->plan, "/c/health.plan") == 0 &&
       h->interval_ms == 30000 && h->timeout_ms == 200 && h->start_period_ms == 0 &&
       h->start_interval_ms == 5000 && h->retries == 3 && h->on_failure == TSD_HEALTH_RESTART &&
       h->stop_signal == SIGINT && h->stop_grace_ms == 7000;
  struct tsd_lifecycle events = {.events_file = "/e"};
  ok = ok && !lifecycle_complete(&events);
  if (!ok) fprintf(stderr, "FAIL health config\n");
  return ok;
}

int main(void) {
  bool ok = run_flag_cases() & run_health_config();
  printf("lifecycle_test: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
