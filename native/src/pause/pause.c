/*
 * tsdock-pause: the process that holds a pod's namespaces. It sleeps until SIGTERM or SIGINT,
 * then exits 0. As pid 1 of a shared pid namespace it is every orphan's parent
 * (pid_namespaces(7)), so it reaps them on SIGCHLD. Statically linked: a pod's infra container
 * has no image, only this file.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_stop(int sig) {
  (void)sig;
  stopping = 1;
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction stop = {.sa_handler = on_stop};
  struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  sigemptyset(&stop.sa_mask);
  sigemptyset(&child.sa_mask);
  sigaction(SIGTERM, &stop, NULL);
  sigaction(SIGINT, &stop, NULL);
  sigaction(SIGCHLD, &child, NULL);
  while (!stopping)
    pause();
  return 0;
}
