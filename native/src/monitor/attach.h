/*
 * The monitor's attach server: it copies what the container prints (a terminal's master, or the
 * stdout and stderr the log drains) to every attached client, and passes the clients' input to
 * the terminal or to the container's stdin pipe. Clients speak attach_frame.h, over the attach
 * socket or over an fd the monitor was started with.
 *
 * Nothing here ever blocks the monitor, and only the primary client (the caller that started the
 * container, on --attach-fd: `run`, `start -a`) holds the container's output, as a pipe to it
 * would: what it has no room for waits in the pty or the pipes. Any other client that falls
 * behind by more than its buffer loses output (whole frames); the log never does.
 */
#ifndef TSDOCK_ATTACH_H
#define TSDOCK_ATTACH_H

#include "attach_frame.h"

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tsd_log;

#define ATTACH_MAX_CLIENTS 8
/* What one read of the master takes; the log's pipes are read LOG_CHUNK at a time. */
#define ATTACH_CHUNK 4096
#define ATTACH_OUT_MAX (4 * ATTACH_FRAME_MAX)
/* The pollfds attach_poll_fds fills: the input fd, the attach socket, then one per client slot. */
#define ATTACH_POLL_FDS (2 + ATTACH_MAX_CLIENTS)

/* The scalars first: a free slot touches one page, never its buffers (see attach_open). */
struct attach_client {
  int fd;                 /* -1: a free slot */
  bool primary;           /* holds the output rather than lose it */
  bool blocked;           /* waits for the input fd to take input */
  size_t in_len, in_done; /* in_done: input bytes already passed on */
  size_t out_len;
  uint8_t in[ATTACH_FRAME_HEADER + ATTACH_FRAME_MAX]; /* received, not yet handled */
  uint8_t out[ATTACH_OUT_MAX];                        /* frames not yet sent */
};

struct tsd_attach {
  bool terminal;
  int master;       /* terminal: -1 until the child sent it, and after it hung up */
  int stdin_writer; /* no terminal, open stdin: our end of the container's stdin; -1 once closed */
  bool stdin_once;  /* a client's end of input closes the container's stdin (Docker's StdinOnce) */
  int stdin_reader; /* its other end, the container's fd 0 at every start */
  int listen_fd;    /* the attach socket, or -1 */
  const char *path; /* where it is bound, unlinked at the end */
  struct tsd_log *log; /* a terminal's output goes there as stdout; without one, it is the source */
  struct attach_client clients[ATTACH_MAX_CLIENTS];
};

/*
 * Binds the attach socket at path (when not NULL) and takes client_fd (when >= 0) as the primary
 * client. Without a terminal, the output is what log drains (log must not be NULL), and with
 * open_stdin the container's stdin is a pipe the clients write to; with stdin_once too, the end
 * of a client's input closes it (otherwise it stays open for the next client, as Docker's).
 */
int attach_open(struct tsd_attach *a, bool terminal, bool open_stdin, bool stdin_once,
                const char *path, int client_fd, struct tsd_log *log);

/* Before a start: the stdin pipe's read end becomes fd 0 (nothing to do without one). */
int attach_give_stdin(struct tsd_attach *a);
/* After it: ours goes back to /dev/null. */
void attach_drop_stdin(struct tsd_attach *a);

/* A connected pair: [0] stays with the monitor, [1] is the child's console_fd. */
int attach_console_pair(int sv[2]);

/* Takes the master the child sent over sock (SCM_RIGHTS, see core/terminal.c). */
int attach_receive_master(struct tsd_attach *a, int sock);

/* Whether the container's output may be read now: the primary client has room for a chunk. */
bool attach_output_room(const struct tsd_attach *a);

/* Fills fds[0..ATTACH_POLL_FDS) (fd -1 where there is nothing to wait for). */
void attach_poll_fds(const struct tsd_attach *a, struct pollfd *fds);

/* Acts on what poll reported for the fds attach_poll_fds filled. */
void attach_on_poll(struct tsd_attach *a, const struct pollfd *fds);

/* After the process exited: what the terminal or the pipes still hold goes to the clients. */
void attach_drain(struct tsd_attach *a);

/*
 * Sends every client what it still has to read and the exit frame (none for an exit_code < 0: the
 * process never ran), then closes everything and unlinks the attach socket.
 */
void attach_close(struct tsd_attach *a, int exit_code);

#endif
