/*
 * The monitor's side of a container with a terminal (plan->terminal): it holds the pty master,
 * copies what the terminal prints into the log and to every attached client, and passes the
 * clients' keystrokes and window sizes to the master. Clients speak tty_frame.h, over the attach
 * socket or over an fd the monitor was started with. Nothing here ever blocks the monitor: a
 * client that does not read holds the terminal's output (as a slow `docker attach` does), never
 * the monitor's signal handling.
 */
#ifndef TSDOCK_TTY_H
#define TSDOCK_TTY_H

#include "tty_frame.h"

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tsd_log;

#define TTY_MAX_CLIENTS 8
#define TTY_CHUNK 4096
#define TTY_OUT_MAX (16 * TTY_CHUNK)
/* The pollfds tty_poll_fds fills: the master, the attach socket, then one per client slot. */
#define TTY_POLL_FDS (2 + TTY_MAX_CLIENTS)

struct tty_client {
  int fd;                                       /* -1: a free slot */
  uint8_t in[TTY_FRAME_HEADER + TTY_FRAME_MAX]; /* received, not yet handled */
  size_t in_len, in_done;                       /* in_done: input bytes already on the master */
  bool blocked;                                 /* waits for the master to take input */
  uint8_t out[TTY_OUT_MAX];                     /* frames not yet sent */
  size_t out_len;
};

struct tsd_tty {
  int master;          /* -1 until the child sent it, and after it hung up */
  int listen_fd;       /* the attach socket, or -1 */
  const char *path;    /* where it is bound, unlinked at the end */
  struct tsd_log *log; /* what the terminal prints goes there as stdout, or NULL */
  struct tty_client clients[TTY_MAX_CLIENTS];
};

/* Binds the attach socket at path (when not NULL) and takes client_fd (when >= 0) as a client. */
int tty_open(struct tsd_tty *t, const char *path, int client_fd, struct tsd_log *log);

/* A connected pair: [0] stays with the monitor, [1] is the child's console_fd. */
int tty_console_pair(int sv[2]);

/* Takes the master the child sent over sock (SCM_RIGHTS, see core/terminal.c). */
int tty_receive_master(struct tsd_tty *t, int sock);

/* Fills fds[0..TTY_POLL_FDS) (fd -1 where there is nothing to wait for). */
void tty_poll_fds(const struct tsd_tty *t, struct pollfd *fds);

/* Acts on what poll reported for the fds tty_poll_fds filled. */
void tty_on_poll(struct tsd_tty *t, const struct pollfd *fds);

/* After the process exited: what the terminal still holds goes to the log and the clients. */
void tty_drain(struct tsd_tty *t);

/*
 * Sends every client what it still has to read and the exit frame (none for an exit_code < 0: the
 * process never ran), then closes everything and unlinks the attach socket.
 */
void tty_close(struct tsd_tty *t, int exit_code);

#endif
