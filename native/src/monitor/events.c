/*
 * The monitor's half of the root's event log (src/runtime/events.ts reads it): one JSON line per
 * event, appended with a single O_APPEND write(2), so lines from several writers never mix. The
 * file is opened for each event: the library may rotate it between two.
 */
#define _GNU_SOURCE
#include "lifecycle.h"

#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

void event_emit(const struct tsd_lifecycle *lc, const char *action, const char *extra) {
  if (lc->events_file == NULL) return;
  struct timespec ts;
  struct tm tm;
  char date[32];
  char line[4096];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
  int n = snprintf(line, sizeof(line),
                   "{\"type\":\"container\",\"time\":\"%s.%09ldZ\",%s,\"action\":\"%s\"%s}\n", date,
                   ts.tv_nsec, lc->actor, action, extra);
  if (n < 0 || (size_t)n >= sizeof(line)) return;
  int fd = open(lc->events_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  /* An event that cannot be written is lost; the container is not held up for it. */
  if (write(fd, line, (size_t)n) < 0) {
  }
  close(fd);
}
