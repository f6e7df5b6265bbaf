/*
 * Tries the system calls a container must not make and prints one line per call: its name, then
 * "ok" or the errno name. Built static by the security tests and run inside containers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *name_of(int err) {
  static char buf[16];
  switch (err) {
  case EPERM:
    return "EPERM";
  case ENOSYS:
    return "ENOSYS";
  case EINVAL:
    return "EINVAL";
  case EFAULT:
    return "EFAULT";
  case EACCES:
    return "EACCES";
  case EAFNOSUPPORT:
    return "EAFNOSUPPORT";
  case ENOKEY:
    return "ENOKEY";
  case ENOENT:
    return "ENOENT";
  }
  snprintf(buf, sizeof(buf), "errno%d", err);
  return buf;
}

static void report(const char *name, long rc) {
  printf("%s %s\n", name, rc < 0 ? name_of(errno) : "ok");
}

/* clone(2) with flags; a child that got through exits at once. */
static long try_clone(unsigned long flags) {
  long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid((pid_t)pid, NULL, 0);
  return pid;
}

int main(void) {
  report("mount", mount("none", "/mnt", "tmpfs", 0, NULL));
  report("unshare", unshare(CLONE_NEWUSER));
  report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0));
  report("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0));
  report("userfaultfd", syscall(SYS_userfaultfd, 0));
  report("clone_newns", try_clone(CLONE_NEWNS));
  report("clone_thread_flags", try_clone(CLONE_FILES));
  report("clone3", syscall(SYS_clone3, NULL, 0));
  report("socket_vsock", socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
  report("socket_alg", socket(38 /* AF_ALG */, SOCK_SEQPACKET, 0));
  report("socket_unix", socket(AF_UNIX, SOCK_STREAM, 0));
  report("personality_exec", personality(0x0400000 /* READ_IMPLIES_EXEC */));
  report("syscall_1000", syscall(1000));
  return 0;
}
