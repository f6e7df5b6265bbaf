#define _GNU_SOURCE
#include "container.h"
#include "cgroup.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int failf(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, ERR_MAX, fmt, ap);
  va_end(ap);
  return FAILED;
}

const char *reason(int errnum) {
  static char buf[128];
  snprintf(buf, sizeof(buf), "%s", strerror(errnum));
  buf[0] = (char)tolower((unsigned char)buf[0]);
  return buf;
}

const char *errno_name(int errnum) {
  const char *name = strerrorname_np(errnum);
  return name != NULL ? name : "EIO";
}

/* Reads a whole small file into buf (NUL-terminated); its length, or -1 with errno set. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = 0;
  ssize_t r;
  while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) != 0) {
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    n += (size_t)r;
  }
  close(fd);
  if (n == cap - 1) {
    errno = EFBIG;
    return -1;
  }
  buf[n] = '\0';
  return (ssize_t)n;
}

bool start_time_of(long long pid, char *out, size_t cap) {
  char path[64], stat[1024];
  snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
  if (read_small(path, stat, sizeof(stat)) < 0) return false;
  /* The command name (field 2) is in parentheses and may itself hold spaces and parentheses. */
  const char *p = strrchr(stat, ')');
  if (p == NULL || p[1] != ' ') return false;
  p += 2;
  if (*p == 'Z' || *p == 'X') return false;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (p == NULL) return false;
    p++;
  }
  size_t len = strcspn(p, " ");
  if (len >= cap) return false;
  memcpy(out, p, len);
  out[len] = '\0';
  return true;
}

bool init_alive(const struct oci_state *s) {
  char now[32];
  return s->pid > 0 && start_time_of(s->pid, now, sizeof(now)) && strcmp(now, s->start_time) == 0;
}

int container_load(const char *root, const char *id, struct container *c, char *err) {
  if (id[0] == '\0') return failf(err, "container id cannot be empty");
  if (!oci_id_valid(id))
    return failf(err, "invalid container id \"%s\": use letters, digits, '_', '+', '.' or '-'", id);
  char file[PATH_MAX];
  if ((size_t)snprintf(c->dir, sizeof(c->dir), "%s/%s", root, id) >= sizeof(c->dir) ||
      (size_t)snprintf(file, sizeof(file), "%s/%s", c->dir, STATE_FILE) >= sizeof(file))
    return TO_NODE;
  ssize_t len = read_small(file, c->text, sizeof(c->text));
  if (len < 0 && errno == ENOENT) {
    failf(err, "container \"%s\" does not exist", id);
    return MISSING;
  }
  /* Anything else unusual (unreadable, not ours, an older layout) is Node's to report. */
  if (len < 0 || oci_state_parse(&c->state, c->text, (size_t)len) < 0 ||
      strcmp(c->state.id, id) != 0)
    return TO_NODE;
  char sock[PATH_MAX];
  if ((size_t)snprintf(sock, sizeof(sock), "%s/%s", c->dir, START_SOCKET) >= sizeof(sock))
    return TO_NODE;
  bool alive = init_alive(&c->state);
  c->status = oci_status_of(alive, access(sock, F_OK) == 0, alive && cgroup_frozen(&c->state));
  return 0;
}

int send_signal(pid_t pid, int signal, char *err) {
  if (kill(pid, signal) < 0 && errno != ESRCH) return failf(err, "kill %s", errno_name(errno));
  return 0;
}

int start_failure(char *err, const char *step, int errnum, const char *path) {
  if (strcmp(step, "exec") == 0 && errnum == ENOENT)
    return failf(err, "exec: %s: executable file not found in $PATH", path);
  /* errno 0: the path says it all (a hook's "hook /x failed: exit status 1"). */
  if (errnum == 0) return failf(err, "%s%s%s", step, path[0] != '\0' ? " " : "", path);
  return failf(err, "%s%s%s: %s%s", step, path[0] != '\0' ? " " : "", path, reason(errnum),
               strcmp(step, "exec") == 0 && errnum == EACCES ? " (is it executable?)" : "");
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)type, (void)ftw;
  return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -r of the state dir (nftw(3): children first, symlinks not followed). */
int remove_state_dir(const char *dir, char *err) {
  if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
    return failf(err, "cannot remove %s: %s", dir, reason(errno));
  return 0;
}
