/*
 * The container's terminal (plan->terminal, OCI's process.terminal): a pty of the container's own
 * devpts instance, opened from inside the container after /dev/pts is mounted, so that `tty`
 * there names /dev/pts/N and the pty dies with that devpts. The slave becomes the controlling
 * terminal and fds 0-2; the master leaves over console_fd as SCM_RIGHTS, with the slave's path
 * as the message's bytes (what runc sends to a --console-socket), and is closed here.
 */
#define _GNU_SOURCE
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#define PTMX "/dev/ptmx"

/* One byte at least: a stream socket carries no ancillary data on an empty message. */
static int send_master(int sock, int master, const char *slave_path) {
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof(control));
  struct iovec iov = {.iov_base = (void *)slave_path, .iov_len = strlen(slave_path)};
  struct msghdr msg = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof(control)};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &master, sizeof(int));
  return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)iov.iov_len ? 0 : -1;
}

void tsd_setup_terminal(const struct tsd_child *c) {
  const struct tsd_plan *p = c->plan;
  char slave_path[32];
  unsigned n, unlock = 0;
  int master = open(PTMX, O_RDWR | O_NOCTTY | O_CLOEXEC);
  /* TIOCGPTN also proves that what the container calls /dev/ptmx is a pty master. */
  if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
    tsd_child_fail(c, "terminal", PTMX);
  snprintf(slave_path, sizeof(slave_path), "/dev/pts/%u", n);
  /* The peer of this very master, with no path lookup a container could redirect (Linux 4.13). */
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) tsd_child_fail(c, "terminal", slave_path);
  struct winsize ws = {.ws_row = p->terminal.rows, .ws_col = p->terminal.cols};
  if ((ws.ws_row != 0 || ws.ws_col != 0) && ioctl(master, TIOCSWINSZ, &ws) < 0)
    tsd_child_fail(c, "terminal", slave_path);
  /*
   * Still root here: the process's own user owns its terminal (the group stays devpts' gid=5),
   * as login(1) would leave it. setsid() ran before the mounts, so we lead a session without a
   * terminal and TIOCSCTTY makes this one ours.
   */
  if (fchown(slave, p->uid, (gid_t)-1) < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
    tsd_child_fail(c, "terminal", slave_path);
  if (c->console_fd < 0) {
    errno = EBADF;
    tsd_child_fail(c, "terminal", "console socket");
  }
  if (send_master(c->console_fd, master, slave_path) < 0)
    tsd_child_fail(c, "terminal", "console socket");
  close(master);
  close(c->console_fd);
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) tsd_child_fail(c, "terminal", slave_path);
  close(slave);
}
