/*
 * tsdock-init -- COMMAND [ARG...]: a tiny pid 1 for `run --init`. The init of a pid namespace
 * gets only the signals it handles and must reap every orphan (pid_namespaces(7)); a shell or a
 * server as pid 1 often does neither. This one runs COMMAND as its child, forwards every signal
 * it can catch to it, reaps all zombies, and exits as COMMAND did (128+N for signal N) — the
 * kernel then kills whatever is left in the namespace. Statically linked: it runs in any image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int status_of(int wstatus) {
  return WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus) : WEXITSTATUS(wstatus);
}

int main(int argc, char **argv) {
  if (argc < 3 || strcmp(argv[1], "--") != 0) {
    fprintf(stderr, "tsdock-init: usage: tsdock-init -- COMMAND [ARG...]\n");
    return 2;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = fork();
  if (child < 0) {
    perror("tsdock-init: fork");
    return 1;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    execvp(argv[2], argv + 2);
    fprintf(stderr, "tsdock-init: %s: %s\n", argv[2], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  for (;;) {
    siginfo_t si;
    if (sigwaitinfo(&all, &si) < 0) continue;
    if (si.si_signo != SIGCHLD) {
      kill(child, si.si_signo);
      continue;
    }
    int wstatus;
    pid_t pid;
    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
      if (pid == child) return status_of(wstatus);
  }
}
