/*
 * The exit command (conmon's --exit-command): once the container is over for good, the monitor
 * starts it — `tsdock rm` for a detached `--rm` container — in a session of its own, and exits
 * without waiting: the command waits for the monitor to be gone before it removes anything.
 */
#define _GNU_SOURCE
#include "lifecycle.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

void run_exit_command(const struct tsd_lifecycle *lc) {
  if (lc->n_exit_command == 0) return;
  pid_t pid = fork();
  if (pid != 0) return;
  /* The child: fresh signal state, no inherited stdio worth keeping, no tie to the monitor. */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  setsid();
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    for (int fd = 0; fd < 3; fd++)
      dup2(null, fd);
    if (null > 2) close(null);
  }
  execv(lc->exit_command[0], (char *const *)lc->exit_command);
  _exit(127);
}
