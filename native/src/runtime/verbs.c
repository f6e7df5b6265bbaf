#define _GNU_SOURCE
#include "verbs.h"
#include "cgroup.h"
#include "child.h"
#include "container.h"
#include "create.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct container ct;

static int require_status(const struct container *c, unsigned allowed, const char *action,
                          char *err) {
  if ((allowed & (1u << c->status)) != 0) return 0;
  return failf(err, "cannot %s container \"%s\": it is %s", action, c->state.id,
               oci_status_name(c->status));
}

#define ONLY(s) (1u << (s))

static int do_state(char *err) {
  static char out[MAX_STATE_FILE + 4096];
  (void)err;
  size_t n = oci_state_render(&ct.state, ct.status, out, sizeof(out));
  if (n >= sizeof(out)) return TO_NODE;
  fwrite(out, 1, n, stdout);
  return 0;
}

/* The init's verdict, as on the monitor's error pipe: nothing once execve succeeded, else one
 * struct tsd_child_error; worded as src/runtime/spawn.ts startError words it. */
static int verdict(const struct tsd_child_error *e, size_t len, char *err) {
  if (len == 0) return 0;
  char step[sizeof(e->step) + 1] = "", path[sizeof(e->path) + 1] = "";
  int errnum = len >= sizeof(e->step) + sizeof(e->err) ? e->err : 0;
  memcpy(step, e->step, sizeof(e->step));
  if (len > sizeof(e->step) + sizeof(e->err))
    memcpy(path, e->path, len - sizeof(e->step) - sizeof(e->err));
  return start_failure(err, step, errnum, path);
}

/* Connects to the start socket (the init goes), removes it (no second start), reads the verdict. */
static int do_start(char *err) {
  if (require_status(&ct, ONLY(OCI_CREATED), "start", err) < 0) return FAILED;
  /* poststart hooks are Node's to run (startContainer ones the init runs itself). */
  if (ct.state.start_hooks) return TO_NODE;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if ((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", ct.dir, START_SOCKET) >=
      sizeof(addr.sun_path))
    return TO_NODE;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    int saved = errno;
    if (fd >= 0) close(fd);
    return failf(err, "connect %s %s", errno_name(saved), addr.sun_path);
  }
  unlink(addr.sun_path);
  struct tsd_child_error e;
  size_t len = 0;
  ssize_t n;
  while (len < sizeof(e) && (n = read(fd, (char *)&e + len, sizeof(e) - len)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      close(fd);
      return failf(err, "read %s %s", errno_name(saved), addr.sun_path);
    }
    len += (size_t)n;
  }
  close(fd);
  return verdict(&e, len, err);
}

static int do_kill(const struct cli *c, char *err) {
  static pid_t pids[4096];
  if (c->all) {
    /* The shim kills --all after the init exited too (a container sharing the host's pid ns). */
    if (ct.status == OCI_PAUSED && cgroup_freeze(&ct.state, false, err) < 0) return FAILED;
    int n = cgroup_pids(&ct.state, pids, (int)(sizeof(pids) / sizeof(pids[0])));
    for (int i = 0; i < n; i++)
      if (send_signal(pids[i], c->signal, err) < 0) return FAILED;
    return 0;
  }
  /* containerd's shim reads "container not running" as "already finished". */
  if (ct.status == OCI_STOPPED)
    return failf(err, "cannot kill \"%s\": container not running", ct.state.id);
  return send_signal((pid_t)ct.state.pid, c->signal, err);
}

static int do_delete(const struct cli *c, char *err) {
  if ((ct.status == OCI_RUNNING || ct.status == OCI_PAUSED) && !c->force)
    return failf(err, "cannot delete container \"%s\" that is not stopped: %s", ct.state.id,
                 oci_status_name(ct.status));
  if (ct.state.delete_hooks) return TO_NODE;
  /* A frozen task would take the SIGKILL only once thawed. */
  if (ct.status == OCI_PAUSED && cgroup_freeze(&ct.state, false, err) < 0) return FAILED;
  if (ct.status != OCI_STOPPED) {
    if (send_signal((pid_t)ct.state.pid, SIGKILL, err) < 0) return FAILED;
    /* Until it is gone; a zombie counts, as the shim reaps it. */
    struct timespec tick = {.tv_nsec = 1000000};
    while (init_alive(&ct.state))
      nanosleep(&tick, NULL);
  }
  if (cgroup_destroy(&ct.state, err) < 0) return FAILED;
  return remove_state_dir(ct.dir, err);
}

static int do_ps(char *err) {
  static pid_t pids[4096];
  (void)err;
  int n = cgroup_pids(&ct.state, pids, (int)(sizeof(pids) / sizeof(pids[0])));
  putchar('[');
  for (int i = 0; i < n; i++)
    printf(i > 0 ? ",%d" : "%d", (int)pids[i]);
  puts("]");
  return 0;
}

int verb_run(const struct cli *c, char *err) {
  if (c->verb == VERB_CREATE) return create_run(c, err);
  int rc = container_load(c->root, c->id, &ct, err);
  /* delete --force of what is not there succeeds, as runc's does. */
  if (rc == MISSING) return c->verb == VERB_DELETE && c->force ? 0 : FAILED;
  if (rc != 0) return rc;
  switch (c->verb) {
  case VERB_CREATE:
    break;
  case VERB_STATE:
    return do_state(err);
  case VERB_START:
    return do_start(err);
  case VERB_KILL:
    return do_kill(c, err);
  case VERB_DELETE:
    return do_delete(c, err);
  case VERB_PAUSE:
    if (require_status(&ct, ONLY(OCI_RUNNING) | ONLY(OCI_CREATED), "pause", err) < 0) return FAILED;
    return cgroup_freeze(&ct.state, true, err);
  case VERB_RESUME:
    if (require_status(&ct, ONLY(OCI_PAUSED), "resume", err) < 0) return FAILED;
    return cgroup_freeze(&ct.state, false, err);
  case VERB_PS:
    return do_ps(err);
  }
  return TO_NODE;
}
