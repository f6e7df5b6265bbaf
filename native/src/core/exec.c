/*
 * The last steps before execve: undo what the monitor set up for itself (blocked signals, its
 * own descriptors), then search argv[0] in the container's PATH and exec it.
 */
#define _GNU_SOURCE
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
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
static void reset_signals(void) {
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

/*
 * execvp(3)'s search, but over the container's PATH: glibc's execvpe reads the monitor's. Like
 * execvp, a file found but not executable (EACCES) wins over "not found" at the end.
 */
static void exec_in_path(const char *file, char *const *argv, char *const *envp) {
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
    char buf[PATH_MAX];
    if (dlen + 1 + flen < sizeof(buf)) {
      memcpy(buf, prefix, dlen);
      buf[dlen] = '/';
      memcpy(buf + dlen + 1, file, flen + 1);
      execve(buf, argv, envp);
      if (errno == EACCES)
        denied = true;
      else if (!try_next(errno))
        return;
    }
    if (*end == '\0') break;
  }
  errno = denied ? EACCES : ENOENT;
}

_Noreturn void tsd_exec(const struct tsd_child *c) {
  static char *const no_env[] = {NULL};
  const struct tsd_plan *p = c->plan;
  char *const *envp = p->env.v != NULL ? p->env.v : no_env;
  const char *file = p->args.v[0];
  reset_signals();
  /* Everything but stdio and the error pipe, which execve closes for us (O_CLOEXEC). */
  close_fds(3, (unsigned)c->err_fd - 1);
  close_fds((unsigned)c->err_fd + 1, ~0u);
  /*
   * After setresuid, so the container's user must reach it; after closing every inherited fd, so
   * a working directory of /proc/self/fd/N can only name stdio or the error pipe, never a
   * directory of the host (CVE-2024-21626 in runc).
   */
  if (chdir(p->cwd) < 0) tsd_child_fail(c, "cwd", p->cwd);
  /* Last: from here on only execve runs, and every profile worth running allows it. */
  if (p->seccomp != NULL && p->no_new_privs) tsd_load_seccomp(c);
  if (file[0] == '\0')
    errno = ENOENT;
  else if (strchr(file, '/') != NULL)
    execve(file, p->args.v, envp);
  else
    exec_in_path(file, p->args.v, envp);
  tsd_child_fail(c, "exec", file);
}
