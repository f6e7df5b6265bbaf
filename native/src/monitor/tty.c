/* The pty master and the attach clients of a container with a terminal (see tty.h). */
#define _GNU_SOURCE
#include "tty.h"

#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* How long the last output and the exit frame may wait for a client that does not read. */
#define CLOSE_TIMEOUT_MS 2000

static void drop_client(struct tty_client *c) {
  close(c->fd);
  c->fd = -1;
  c->in_len = c->in_done = c->out_len = 0;
  c->blocked = false;
}

static int add_client(struct tsd_tty *t, int fd) {
  for (int i = 0; i < TTY_MAX_CLIENTS; i++) {
    struct tty_client *c = &t->clients[i];
    if (c->fd < 0) {
      drop_client(c);
      c->fd = fd;
      return 0;
    }
  }
  close(fd);
  return -1;
}

/*
 * A unix socket path holds at most 107 bytes; a longer one (a deep --root) is reached through
 * an fd of its directory, as clients do too (src/runtime/attach-socket.ts).
 */
static int bind_at(int sock, const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  int dir = -1;
  if (strlen(path) < sizeof(addr.sun_path)) {
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
  } else {
    const char *slash = strrchr(path, '/');
    char parent[PATH_MAX];
    if (slash == NULL || (size_t)(slash - path) >= sizeof(parent)) {
      errno = ENAMETOOLONG;
      return -1;
    }
    snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
    dir = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return -1;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", dir, slash + 1);
  }
  unlink(addr.sun_path);
  /* Only root may attach: the socket is born 0600. */
  mode_t old = umask(0177);
  int rc = bind(sock, (struct sockaddr *)&addr, sizeof(addr));
  umask(old);
  int saved = errno;
  if (dir >= 0) close(dir);
  errno = saved;
  return rc;
}

int tty_open(struct tsd_tty *t, const char *path, int client_fd, struct tsd_log *log) {
  memset(t, 0, sizeof(*t));
  t->master = t->listen_fd = -1;
  t->log = log;
  for (int i = 0; i < TTY_MAX_CLIENTS; i++)
    t->clients[i].fd = -1;
  if (client_fd >= 0) {
    if (fcntl(client_fd, F_SETFL, O_NONBLOCK) < 0) return -1;
    add_client(t, client_fd);
  }
  if (path == NULL) return 0;
  t->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (t->listen_fd < 0 || bind_at(t->listen_fd, path) < 0 || listen(t->listen_fd, 8) < 0) return -1;
  t->path = path;
  return 0;
}

int tty_console_pair(int sv[2]) {
  return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
}

int tty_receive_master(struct tsd_tty *t, int sock) {
  char name[64];
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
  struct msghdr msg = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof(control)};
  ssize_t n;
  do
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
  if (cm == NULL || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
      cm->cmsg_len != CMSG_LEN(sizeof(int))) {
    errno = n < 0 ? errno : EPROTO;
    return -1;
  }
  memcpy(&t->master, CMSG_DATA(cm), sizeof(int));
  return fcntl(t->master, F_SETFL, O_NONBLOCK);
}

/* Sends what fits now; a client that went away is dropped. */
static void flush_client(struct tty_client *c) {
  while (c->out_len > 0) {
    ssize_t n = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      drop_client(c);
      return;
    }
    memmove(c->out, c->out + n, c->out_len - (size_t)n);
    c->out_len -= (size_t)n;
  }
}

static void queue_frame(struct tty_client *c, uint8_t type, const void *data, size_t len) {
  if (TTY_OUT_MAX - c->out_len < TTY_FRAME_HEADER + len) {
    drop_client(c); /* never reached: the master is read only when there is room */
    return;
  }
  tty_frame_header(c->out + c->out_len, type, (uint32_t)len);
  memcpy(c->out + c->out_len + TTY_FRAME_HEADER, data, len);
  c->out_len += TTY_FRAME_HEADER + len;
  flush_client(c);
}

/* The master is read only while every client has room for a whole chunk. */
static bool clients_have_room(const struct tsd_tty *t) {
  for (int i = 0; i < TTY_MAX_CLIENTS; i++) {
    const struct tty_client *c = &t->clients[i];
    if (c->fd >= 0 && TTY_OUT_MAX - c->out_len < TTY_FRAME_HEADER + TTY_CHUNK) return false;
  }
  return true;
}

/* One read of the master to the log and the clients; false when there was nothing (more). */
static bool read_master(struct tsd_tty *t) {
  char buf[TTY_CHUNK];
  ssize_t n = read(t->master, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return false;
  if (n <= 0) {
    /* EIO: every slave fd is closed (pty(7)); poll would report POLLHUP for ever. */
    close(t->master);
    t->master = -1;
    return false;
  }
  if (t->log != NULL) log_write(t->log, 0, buf, (size_t)n);
  for (int i = 0; i < TTY_MAX_CLIENTS; i++)
    if (t->clients[i].fd >= 0) queue_frame(&t->clients[i], TTY_FRAME_OUTPUT, buf, (size_t)n);
  return true;
}

static void consume(struct tty_client *c, size_t n) {
  memmove(c->in, c->in + n, c->in_len - n);
  c->in_len -= n;
  c->in_done = 0;
}

/* Input goes to the master as far as it takes it; the rest waits for POLLOUT. */
static bool write_input(struct tsd_tty *t, struct tty_client *c, const struct tty_frame *f) {
  while (c->in_done < f->length) {
    if (t->master < 0) return true; /* nobody reads it any more */
    ssize_t n = write(t->master, f->payload + c->in_done, f->length - c->in_done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return false;
    if (n < 0) return true;
    c->in_done += (size_t)n;
  }
  return true;
}

/* Handles the complete frames a client sent; drops a client that breaks the protocol. */
static void handle_frames(struct tsd_tty *t, struct tty_client *c) {
  c->blocked = false;
  for (;;) {
    struct tty_frame f;
    long n = tty_frame_parse(c->in, c->in_len, &f);
    if (n < 0) {
      drop_client(c);
      return;
    }
    if (n == 0) return;
    if (f.type == TTY_FRAME_WINSIZE) {
      struct winsize ws = {.ws_row = f.rows, .ws_col = f.cols};
      /* The kernel sends SIGWINCH to the terminal's foreground process group. */
      if (t->master >= 0) ioctl(t->master, TIOCSWINSZ, &ws);
    } else if (!write_input(t, c, &f)) {
      c->blocked = true;
      return;
    }
    consume(c, (size_t)n);
  }
}

static void read_client(struct tsd_tty *t, struct tty_client *c) {
  ssize_t n;
  do
    n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    drop_client(c); /* detached */
    return;
  }
  c->in_len += (size_t)n;
  handle_frames(t, c);
}

void tty_poll_fds(const struct tsd_tty *t, struct pollfd *fds) {
  bool blocked = false, room = false;
  for (int i = 0; i < TTY_MAX_CLIENTS; i++) {
    const struct tty_client *c = &t->clients[i];
    struct pollfd *p = &fds[2 + i];
    *p = (struct pollfd){.fd = c->fd};
    room = room || c->fd < 0;
    if (c->fd < 0) continue;
    blocked = blocked || c->blocked;
    if (!c->blocked && c->in_len < sizeof(c->in)) p->events |= POLLIN;
    if (c->out_len > 0) p->events |= POLLOUT;
  }
  fds[0] = (struct pollfd){.fd = t->master};
  if (clients_have_room(t)) fds[0].events |= POLLIN;
  if (blocked) fds[0].events |= POLLOUT;
  /* Not even POLLHUP while the clients have no room for what the master has. */
  if (fds[0].events == 0) fds[0].fd = -1;
  fds[1] = (struct pollfd){.fd = room ? t->listen_fd : -1, .events = POLLIN};
}

static void accept_clients(struct tsd_tty *t) {
  int fd;
  while ((fd = accept4(t->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
    add_client(t, fd);
}

void tty_on_poll(struct tsd_tty *t, const struct pollfd *fds) {
  if ((fds[0].events & POLLIN) && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) read_master(t);
  if (fds[0].fd >= 0 && (fds[0].revents & POLLOUT)) {
    for (int i = 0; i < TTY_MAX_CLIENTS; i++)
      if (t->clients[i].fd >= 0 && t->clients[i].blocked) handle_frames(t, &t->clients[i]);
  }
  if (fds[1].fd >= 0 && (fds[1].revents & POLLIN)) accept_clients(t);
  for (int i = 0; i < TTY_MAX_CLIENTS; i++) {
    struct tty_client *c = &t->clients[i];
    short ev = fds[2 + i].revents;
    if (c->fd < 0 || fds[2 + i].fd != c->fd || ev == 0) continue;
    if (ev & POLLOUT) flush_client(c);
    if (c->fd >= 0 && (ev & (POLLIN | POLLHUP | POLLERR))) read_client(t, c);
  }
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits (up to the deadline) until every client sent what it has queued. */
static void flush_all(struct tsd_tty *t, long deadline) {
  for (int i = 0; i < TTY_MAX_CLIENTS; i++) {
    struct tty_client *c = &t->clients[i];
    while (c->fd >= 0 && c->out_len > 0) {
      long left = deadline - now_ms();
      struct pollfd p = {.fd = c->fd, .events = POLLOUT};
      if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
        drop_client(c);
        break;
      }
      flush_client(c);
    }
  }
}

void tty_drain(struct tsd_tty *t) {
  long deadline = now_ms() + CLOSE_TIMEOUT_MS;
  while (t->master >= 0) {
    if (!clients_have_room(t)) flush_all(t, deadline);
    if (!read_master(t)) break;
  }
}

void tty_close(struct tsd_tty *t, int exit_code) {
  uint8_t code[4];
  for (int i = 0; i < 4; i++)
    code[i] = (uint8_t)((uint32_t)exit_code >> (8 * i));
  long deadline = now_ms() + CLOSE_TIMEOUT_MS;
  flush_all(t, deadline);
  for (int i = 0; exit_code >= 0 && i < TTY_MAX_CLIENTS; i++)
    if (t->clients[i].fd >= 0) queue_frame(&t->clients[i], TTY_FRAME_EXIT, code, sizeof(code));
  flush_all(t, deadline);
  for (int i = 0; i < TTY_MAX_CLIENTS; i++)
    if (t->clients[i].fd >= 0) drop_client(&t->clients[i]);
  if (t->master >= 0) close(t->master);
  if (t->listen_fd >= 0) close(t->listen_fd);
  if (t->path != NULL) unlink(t->path);
  t->master = t->listen_fd = -1;
}
