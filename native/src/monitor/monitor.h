/* The monitor's parts; the protocol they speak is described at the top of main.c. */
#ifndef TSDOCK_MONITOR_H
#define TSDOCK_MONITOR_H

#include "child.h"
#include "spawn_plan.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* restart.c: field 22 of /proc/PID/stat (the start time in clock ticks), as proc-stat.ts
 * compares it; "0" when it cannot be read. */
void start_time_of(pid_t pid, char *out, size_t len);

/* status.c: JSON status lines on the status fd (if it was open at start) and the exit file. */
void status_init(int fd);
void status_started(pid_t pid);
void status_error(const struct tsd_child_error *e);
/* {"type":"runtime-hooks","pid":P}, then one byte back on the status fd (a socket): the caller
 * ran them. -1 when it closed the fd instead (a hook failed). */
int status_runtime_hooks(pid_t pid);
/* --await-cgroup: one byte on the status fd once the caller made the cgroup; -1 when it closed
 * the fd instead (it failed, or died). */
int status_await_cgroup(void);
void status_exited(int exit_code, int signal, bool oom_killed, bool cgroup_removed);
/*
 * restarts: how often the restart policy restarted it; reason: see lifecycle.h. durable: fsync
 * it (not for a container removed once it is over: nothing of it outlives a machine crash).
 */
int write_exit_file(const char *path, int exit_code, int signal, bool oom_killed,
                    const char *reason, unsigned restarts, bool durable);

/* What one start of the container has besides its plan. */
struct tsd_spawn {
  int console_fd; /* where a plan with a terminal sends the pty master, or -1 */
  /* NULL, or how to wait for the caller to make the cgroup (status_await_cgroup); its failure is
   * the step "cgroup" with ECANCELED. */
  int (*await_cgroup)(void);
  /* A network namespace the caller made for a plan that makes its own (and no user namespace),
   * which the child joins instead; -1, or ignored for any other plan. */
  int netns_fd;
  /* The rootfs's own mount (the one onto plan.rootfs), made by the caller as a detached mount,
   * which the child attaches instead of mounting; -1, or ignored in a user namespace. */
  int rootfs_fd;
};

/*
 * spawn.c: joins namespaces, clones the child, places it and lets it run. Returns the child's
 * pid once it has exec'd; on failure fills *e, leaves no child behind and returns -1.
 */
pid_t spawn_container(const struct tsd_plan *plan, unsigned cap_last_cap,
                      const struct tsd_spawn *how, struct tsd_child_error *e);

/* Fills *e with (step, errno, path); returns -1 for the caller to return. */
int set_error(struct tsd_child_error *e, const char *step, const char *path);

/* spawn.c: writes data to /proc/<pid>/<name> in one write(2); on failure *e names step. */
int write_proc_file(pid_t pid, const char *name, const char *data, const char *step,
                    struct tsd_child_error *e);

/* spawn.c: closes n fds. */
void close_all(const int *fds, size_t n);

/*
 * idmap.c: the plan's TSD_OPF_IDMAP binds as detached mounts idmapped to child pid's user
 * namespace, into fds (plan->n_idmap_mounts of them); on failure none stay open, *e says why.
 */
int idmap_make_mounts(const struct tsd_plan *p, pid_t pid, int *fds, struct tsd_child_error *e);

/* idmap.c: the "go" byte on the sync socket, with n fds as SCM_RIGHTS when n > 0. */
int send_go(int sync_fd, const int *fds, size_t n);

/* log.c: the container's stdout and stderr, through pipes, to a json-file log (see log.c). */
#define LOG_CHUNK 16384
struct tsd_log_buf {
  char data[LOG_CHUNK];
  size_t len;
};
struct tsd_log {
  const char *path;
  uint64_t max_size; /* 0: unbounded */
  unsigned max_files;
  int fd;
  uint64_t size;
  int pipes[2];   /* read ends, stdout and stderr; -1 once at EOF */
  int writers[2]; /* write ends, until the container has them */
  struct tsd_log_buf bufs[2];
  /* Where each read of a pipe goes besides the file (the attach clients), or NULL. */
  void (*tee)(void *ctx, int stream, const char *data, size_t len);
  void *tee_ctx;
};
enum log_read { LOG_READ_DATA, LOG_READ_NONE, LOG_READ_EOF };
int log_open(struct tsd_log *l, const char *path, uint64_t max_size, unsigned max_files);
int log_give_stdio(struct tsd_log *l);
void log_drop_stdio(struct tsd_log *l);
/* One read of stream s (0 stdout, 1 stderr), of at most LOG_CHUNK bytes. */
enum log_read log_drain(struct tsd_log *l, int s);
/* Takes len bytes of stream s from elsewhere (the pty master: a terminal has one stream). */
void log_write(struct tsd_log *l, int s, const char *data, size_t len);
/* A restart: the last run's output flushed, fresh pipes given as stdio for the next. */
int log_renew_stdio(struct tsd_log *l);
void log_close(struct tsd_log *l);

/* cgroups.c: what is left to do about the container's cgroups once it is gone. */
/* The cgroup's OOM kill counter (it only grows: a run compares it with its value at start). */
uint64_t oom_kill_count(const struct tsd_plan *plan);
int remove_cgroup_dirs(const struct tsd_plan *plan);
/* Whether `pause` froze the container's cgroup. */
bool cgroup_frozen(const struct tsd_plan *plan);

#endif
