/*
 * The runtime's log, as src/oci/log.ts writes it: with --log FILE, lines are appended there in
 * logrus's text form or, with --log-format json, as {"level":"error","msg":"…","time":"…"};
 * containerd shows the last error line of that file when a call fails.
 */
#ifndef TSDOCK_RUNTIME_LOG_H
#define TSDOCK_RUNTIME_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* One line for the log at time t (UTC, milliseconds as Date.toISOString); the length it needs. */
size_t log_line(const char *level, const char *msg, bool json, const struct timespec *t, char *out,
                size_t cap);

/* Appends a line to file (nothing when file is NULL); a log that cannot be written is skipped. */
void log_write(const char *file, bool json, const char *level, const char *msg);

#endif
