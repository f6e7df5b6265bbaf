/*
 * The last steps before execve: undo what the monitor set up for itself (blocked signals, its
 * own descriptors), then search argv[0] in the container's PATH and exec it.
 */
#define _GNU_SOURCE
#include "child.h"

#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The kernel's struct sigaction for rt_sigaction(2) on x86_64 and most 64-bit ABIs. */
struct kernel_sigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)(void);
  unsigned long mask;
};

/*
 * Ignored signals stay ignored across execve (signal(7)), and whoever started the monitor may
 * have ignored some (Node ignores SIGPIPE); the mask we blocked for signalfd is inherited too.
 * The raw syscall, because glibc's sigaction() refuses the two real-time signals it keeps for
 * itself (32 and 33), which a parent can still have ignored.
 */
void tsd_reset_signals(void) {
  struct kernel_sigaction dfl = {.handler = SIG_DFL};
  for (int sig = 1; sig < NSIG; sig++) /* EINVAL for SIGKILL and SIGSTOP: nothing to do */
    syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Closes [lo, hi]; /proc may not be mounted in the container, so no walk of /proc/self/fd. */
static void close_fds(unsigned lo, unsigned hi) {
  if (lo > hi || syscall(SYS_close_range, lo, hi, 0) == 0) return;
  /*
   * close_range(2) is Linux 5.9+ (and a seccomp profile may refuse it); then every number the
   * fd limit allows, or, when getrlimit is refused too, a bound well above the plan's limits.
   */
  struct rlimit rl = {.rlim_max = 1 << 20};
  getrlimit(RLIMIT_NOFILE, &rl);
  for (unsigned long fd = lo; fd <= hi && fd < rl.rlim_max; fd++)
    close((int)fd);
}

/* Closes every fd from lo up but those in keep (ascending; -1 entries are skipped). */
static void close_fds_except(unsigned lo, const int *keep, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (keep[i] < 0 || (unsigned)keep[i] < lo) continue;
    close_fds(lo, (unsigned)keep[i] - 1);
    lo = (unsigned)keep[i] + 1;
  }
  close_fds(lo, ~0u);
}

static const char *getenv_in(char *const *env, const char *name) {
  size_t len = strlen(name);
  for (; env != NULL && *env != NULL; env++)
    if (strncmp(*env, name, len) == 0 && (*env)[len] == '=') return *env + len + 1;
  return NULL;
}

/* The errors after which execvp(3) goes on to the next PATH entry. */
static bool try_next(int err) {
  return err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV || err == ETIMEDOUT;
}

/* 0 when path is a regular file we may execute, else an errno (EACCES for any other file). */
static int check_executable(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) return errno;
  if (!S_ISREG(st.st_mode)) return EACCES;
  return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0 ? errno : 0;
}

/*
 * execvp(3)'s search, but over the container's PATH (glibc's execvpe reads the monitor's), and
 * without executing, so that a missing command fails before the process waits for start. Like
 * execvp, a file found but not executable (EACCES) wins over "not found" at the end. Returns the
 * path to execute (file itself, or buf) or NULL with errno set.
 */
static const char *find_executable(const char *file, char *const *envp, char *buf, size_t len) {
  if (file[0] == '\0') {
    errno = ENOENT;
    return NULL;
  }
  if (strchr(file, '/') != NULL) {
    errno = check_executable(file);
    return errno == 0 ? file : NULL;
  }
  const char *path = getenv_in(envp, "PATH");
  if (path == NULL) path = DEFAULT_PATH;
  bool denied = false;
  size_t flen = strlen(file);
  for (const char *dir = path, *end;; dir = end + 1) {
    end = strchrnul(dir, ':');
    size_t dlen = end - dir;
    /* An empty PATH entry is the working directory. */
    const char *prefix = dlen == 0 ? "." : dir;
    dlen = dlen == 0 ? 1 : dlen;
    if (dlen + 1 + flen < len) {
      memcpy(buf, prefix, dlen);
      buf[dlen] = '/';
      memcpy(buf + dlen + 1, file, flen + 1);
      int err = check_executable(buf);
      if (err == 0) return buf;
      if (err == EACCES)
        denied = true;
      else if (!try_next(err)) {
        errno = err;
        return NULL;
      }
    }
    if (*end == '\0') break;
  }
  errno = denied ? EACCES : ENOENT;
  return NULL;
}

/*
 * The OCI create/start split: tell the parent we are set up (an empty step on the error pipe),
 * then block until `start` connects. The connection becomes our error pipe, so a failure from
 * here on reaches `start`, and its EOF (CLOEXEC) tells it that execve succeeded.
 */
static void wait_for_start(const struct tsd_child *c) {
  struct tsd_child_error ready;
  memset(&ready, 0, sizeof(ready));
  if (write(c->err_fd, &ready, sizeof(ready)) != (ssize_t)sizeof(ready)) _exit(1);
  int conn;
  do
    conn = accept4(c->start_fd, NULL, NULL, SOCK_CLOEXEC);
  while (conn < 0 && errno == EINTR);
  if (conn < 0 || dup3(conn, c->err_fd, O_CLOEXEC) < 0) _exit(1);
  close(conn);
  close(c->start_fd);
}

_Noreturn void tsd_exec(const struct tsd_child *c) {
  static char *const no_env[] = {NULL};
  static char found[PATH_MAX];
  const struct tsd_plan *p = c->plan;
  char *const *envp = p->env.v != NULL ? p->env.v : no_env;
  tsd_reset_signals();
  /* Everything but stdio, the preserved fds and our own (execve closes those: O_CLOEXEC). */
  int keep[2] = {c->err_fd < c->start_fd ? c->err_fd : c->start_fd,
                 c->err_fd < c->start_fd ? c->start_fd : c->err_fd};
  close_fds_except(3 + p->preserve_fds, keep, 2);
  /*
   * After setresuid, so the container's user must reach it; after closing every inherited fd, so
   * a working directory of /proc/self/fd/N can only name stdio or the error pipe, never a
   * directory of the host (CVE-2024-21626 in runc).
   */
  if (chdir(p->cwd) < 0) tsd_child_fail(c, "cwd", p->cwd);
  const char *file = find_executable(p->args.v[0], envp, found, sizeof(found));
  if (file == NULL) tsd_child_fail(c, "exec", p->args.v[0]);
  if (c->start_fd >= 0) wait_for_start(c);
  /* After start, before the user's program, in the container (runtime-spec config.md). */
  tsd_run_hooks(c, TSD_HOOK_START_CONTAINER);
  /* Last: from here on only execve runs, and every profile worth running allows it. */
  if (p->seccomp != NULL && p->no_new_privs) tsd_load_seccomp(c);
  execve(file, p->args.v, envp);
  tsd_child_fail(c, "exec", p->args.v[0]);
}
