/* The attach clients of a container, its pty master or its stdin pipe (see attach.h). */
#define _GNU_SOURCE
#include "attach.h"

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

static void drop_client(struct attach_client *c) {
  close(c->fd);
  c->fd = -1;
  c->in_len = c->in_done = c->out_len = 0;
  c->blocked = c->primary = false;
}

static int add_client(struct tsd_attach *a, int fd, bool primary) {
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    struct attach_client *c = &a->clients[i];
    if (c->fd < 0) {
      drop_client(c);
      c->fd = fd;
      c->primary = primary;
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

/* Sends what fits now; a client that went away is dropped. */
static void flush_client(struct attach_client *c) {
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

/* A client with no room for the frame loses it (the primary has room: output waits for it). */
static void queue_frame(struct attach_client *c, uint8_t type, const void *data, size_t len) {
  if (ATTACH_OUT_MAX - c->out_len < ATTACH_FRAME_HEADER + len) return;
  attach_frame_header(c->out + c->out_len, type, (uint32_t)len);
  memcpy(c->out + c->out_len + ATTACH_FRAME_HEADER, data, len);
  c->out_len += ATTACH_FRAME_HEADER + len;
  flush_client(c);
}

/* Output of stream s (0 stdout, 1 stderr) to every client. */
static void broadcast(struct tsd_attach *a, int s, const char *data, size_t len) {
  uint8_t type = s == 0 ? ATTACH_FRAME_OUTPUT : ATTACH_FRAME_ERROR_OUTPUT;
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++)
    if (a->clients[i].fd >= 0) queue_frame(&a->clients[i], type, data, len);
}

/* The log's tee: what the container's stdout and stderr pipes gave. */
static void tee_output(void *ctx, int s, const char *data, size_t len) {
  broadcast(ctx, s, data, len);
}

static struct attach_client *primary_of(struct tsd_attach *a) {
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++)
    if (a->clients[i].fd >= 0 && a->clients[i].primary) return &a->clients[i];
  return NULL;
}

bool attach_output_room(const struct tsd_attach *a) {
  size_t chunk = a->terminal ? ATTACH_CHUNK : LOG_CHUNK;
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    const struct attach_client *c = &a->clients[i];
    if (c->fd >= 0 && c->primary && ATTACH_OUT_MAX - c->out_len < ATTACH_FRAME_HEADER + chunk)
      return false;
  }
  return true;
}

int attach_open(struct tsd_attach *a, bool terminal, bool open_stdin, bool stdin_once,
                const char *path, int client_fd, struct tsd_log *log) {
  /*
   * Field by field, not memset: the clients' buffers are most of the struct (~640 KiB), and the
   * monitor's static one stays unmapped, out of its idle RSS, until a client uses them.
   */
  a->terminal = terminal;
  a->stdin_once = stdin_once;
  a->master = a->stdin_writer = a->stdin_reader = a->listen_fd = -1;
  a->path = NULL;
  a->log = log;
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    struct attach_client *c = &a->clients[i];
    c->fd = -1;
    c->primary = c->blocked = false;
    c->in_len = c->in_done = c->out_len = 0;
  }
  if (!terminal) {
    if (log == NULL) {
      errno = EINVAL;
      return -1;
    }
    log->tee = tee_output;
    log->tee_ctx = a;
  }
  if (!terminal && open_stdin) {
    int p[2];
    /* Our end never blocks: input the container does not read waits in its client. */
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    a->stdin_reader = p[0];
    a->stdin_writer = p[1];
    if (fcntl(a->stdin_writer, F_SETFL, O_NONBLOCK) < 0) return -1;
  }
  if (client_fd >= 0) {
    if (fcntl(client_fd, F_SETFL, O_NONBLOCK) < 0) return -1;
    add_client(a, client_fd, true);
  }
  if (path == NULL) return 0;
  a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (a->listen_fd < 0 || bind_at(a->listen_fd, path) < 0 || listen(a->listen_fd, 8) < 0) return -1;
  a->path = path;
  return 0;
}

int attach_give_stdin(struct tsd_attach *a) {
  return a->stdin_reader < 0 ? 0 : dup2(a->stdin_reader, 0) < 0 ? -1 : 0;
}

void attach_drop_stdin(struct tsd_attach *a) {
  if (a->stdin_reader < 0) return;
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    close(null);
  }
}

int attach_console_pair(int sv[2]) {
  return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
}

int attach_receive_master(struct tsd_attach *a, int sock) {
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
  /* A restart's new pty; the last run's master is closed once its slave side hung up. */
  if (a->master >= 0) close(a->master);
  memcpy(&a->master, CMSG_DATA(cm), sizeof(int));
  return fcntl(a->master, F_SETFL, O_NONBLOCK);
}

/* One read of the master to the log and the clients; false when there was nothing (more). */
static bool read_master(struct tsd_attach *a) {
  char buf[ATTACH_CHUNK];
  ssize_t n = read(a->master, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return false;
  if (n <= 0) {
    /* EIO: every slave fd is closed (pty(7)); poll would report POLLHUP for ever. */
    close(a->master);
    a->master = -1;
    return false;
  }
  if (a->log != NULL) log_write(a->log, 0, buf, (size_t)n);
  broadcast(a, 0, buf, (size_t)n);
  return true;
}

static void consume(struct attach_client *c, size_t n) {
  memmove(c->in, c->in + n, c->in_len - n);
  c->in_len -= n;
  c->in_done = 0;
}

/* Where input goes: the terminal, or the container's stdin (-1: nowhere, it is dropped). */
static int input_fd(const struct tsd_attach *a) {
  return a->terminal ? a->master : a->stdin_writer;
}

/* Input goes in as far as it is taken; the rest waits for POLLOUT. */
static bool write_input(struct tsd_attach *a, struct attach_client *c,
                        const struct attach_frame *f) {
  while (c->in_done < f->length) {
    int fd = input_fd(a);
    if (fd < 0) return true; /* nobody reads it any more */
    ssize_t n = write(fd, f->payload + c->in_done, f->length - c->in_done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return false;
    if (n < 0) return true;
    c->in_done += (size_t)n;
  }
  return true;
}

/* The container reads EOF once what was written before is read (a terminal has no such end). */
static void close_stdin(struct tsd_attach *a) {
  if (a->stdin_writer < 0) return;
  close(a->stdin_writer);
  a->stdin_writer = -1;
}

/* Handles the complete frames a client sent; drops a client that breaks the protocol. */
static void handle_frames(struct tsd_attach *a, struct attach_client *c) {
  c->blocked = false;
  for (;;) {
    struct attach_frame f;
    long n = attach_frame_parse(c->in, c->in_len, &f);
    if (n < 0) {
      drop_client(c);
      return;
    }
    if (n == 0) return;
    if (f.type == ATTACH_FRAME_WINSIZE) {
      struct winsize ws = {.ws_row = f.rows, .ws_col = f.cols};
      /* The kernel sends SIGWINCH to the terminal's foreground process group. */
      if (a->master >= 0) ioctl(a->master, TIOCSWINSZ, &ws);
    } else if (f.type == ATTACH_FRAME_CLOSE_STDIN) {
      /* Without StdinOnce, a client's input ended, not the container's: the next may write. */
      if (a->stdin_once) close_stdin(a);
    } else if (!write_input(a, c, &f)) {
      c->blocked = true;
      return;
    }
    consume(c, (size_t)n);
  }
}

static void read_client(struct tsd_attach *a, struct attach_client *c) {
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
  handle_frames(a, c);
}

void attach_poll_fds(const struct tsd_attach *a, struct pollfd *fds) {
  bool blocked = false, room = false;
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    const struct attach_client *c = &a->clients[i];
    struct pollfd *p = &fds[2 + i];
    *p = (struct pollfd){.fd = c->fd};
    room = room || c->fd < 0;
    if (c->fd < 0) continue;
    blocked = blocked || c->blocked;
    if (!c->blocked && c->in_len < sizeof(c->in)) p->events |= POLLIN;
    if (c->out_len > 0) p->events |= POLLOUT;
  }
  fds[0] = (struct pollfd){.fd = input_fd(a)};
  /* Without a terminal, the output comes from the log's pipes (polled by the caller). */
  if (a->terminal && attach_output_room(a)) fds[0].events |= POLLIN;
  if (blocked) fds[0].events |= POLLOUT;
  /* Not even POLLHUP while the primary client has no room for what the master has. */
  if (fds[0].events == 0) fds[0].fd = -1;
  fds[1] = (struct pollfd){.fd = room ? a->listen_fd : -1, .events = POLLIN};
}

static void accept_clients(struct tsd_attach *a) {
  int fd;
  while ((fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
    add_client(a, fd, false);
}

void attach_on_poll(struct tsd_attach *a, const struct pollfd *fds) {
  if ((fds[0].events & POLLIN) && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) read_master(a);
  if (fds[0].fd >= 0 && (fds[0].revents & POLLOUT)) {
    for (int i = 0; i < ATTACH_MAX_CLIENTS; i++)
      if (a->clients[i].fd >= 0 && a->clients[i].blocked) handle_frames(a, &a->clients[i]);
  }
  if (fds[1].fd >= 0 && (fds[1].revents & POLLIN)) accept_clients(a);
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    struct attach_client *c = &a->clients[i];
    short ev = fds[2 + i].revents;
    if (c->fd < 0 || fds[2 + i].fd != c->fd || ev == 0) continue;
    if (ev & POLLOUT) flush_client(c);
    if (c->fd >= 0 && (ev & (POLLIN | POLLHUP | POLLERR))) read_client(a, c);
  }
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits (up to the deadline) until the client sent what it has queued; drops it after that. */
static void flush_by(struct attach_client *c, long deadline) {
  while (c->fd >= 0 && c->out_len > 0) {
    long left = deadline - now_ms();
    struct pollfd p = {.fd = c->fd, .events = POLLOUT};
    if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
      drop_client(c);
      return;
    }
    flush_client(c);
  }
}

static void flush_all(struct tsd_attach *a, long deadline) {
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++)
    flush_by(&a->clients[i], deadline);
}

void attach_drain(struct tsd_attach *a) {
  long deadline = now_ms() + CLOSE_TIMEOUT_MS;
  for (int s = 0; s < (a->terminal ? 1 : 2); s++) {
    for (;;) {
      struct attach_client *primary = primary_of(a);
      if (!attach_output_room(a) && primary != NULL) flush_by(primary, deadline);
      if (a->terminal ? !read_master(a) : log_drain(a->log, s) != LOG_READ_DATA) break;
    }
  }
}

void attach_close(struct tsd_attach *a, int exit_code) {
  uint8_t code[4];
  for (int i = 0; i < 4; i++)
    code[i] = (uint8_t)((uint32_t)exit_code >> (8 * i));
  long deadline = now_ms() + CLOSE_TIMEOUT_MS;
  flush_all(a, deadline);
  for (int i = 0; exit_code >= 0 && i < ATTACH_MAX_CLIENTS; i++)
    if (a->clients[i].fd >= 0) queue_frame(&a->clients[i], ATTACH_FRAME_EXIT, code, sizeof(code));
  flush_all(a, deadline);
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++)
    if (a->clients[i].fd >= 0) drop_client(&a->clients[i]);
  if (a->log != NULL && a->log->tee_ctx == a) a->log->tee = NULL;
  int fds[] = {a->master, a->stdin_writer, a->stdin_reader, a->listen_fd};
  for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
    if (fds[i] >= 0) close(fds[i]);
  if (a->path != NULL) unlink(a->path);
  a->master = a->stdin_writer = a->stdin_reader = a->listen_fd = -1;
}
