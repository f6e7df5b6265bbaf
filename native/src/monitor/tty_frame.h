/*
 * The attach protocol: what flows between a terminal container's monitor and a client of its
 * attach socket (src/runtime/attach-protocol.ts is the other side). Both directions are frames:
 *
 *   u8 type | u32 length (little-endian) | length bytes of payload (at most TTY_FRAME_MAX)
 *
 *   client -> monitor   'i'  bytes for the terminal (what the user typed)
 *                       'w'  u16 rows, u16 cols: the window size (TIOCSWINSZ on the master)
 *   monitor -> client   'o'  bytes the terminal printed
 *                       'x'  i32 exit code: the process exited; the last frame before EOF
 *
 * Closing the connection detaches. Pure: no I/O, unit-tested under ASan (native/test).
 */
#ifndef TSDOCK_TTY_FRAME_H
#define TSDOCK_TTY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define TTY_FRAME_HEADER 5
#define TTY_FRAME_MAX 16384

enum tty_frame_type {
  TTY_FRAME_INPUT = 'i',
  TTY_FRAME_WINSIZE = 'w',
  TTY_FRAME_OUTPUT = 'o',
  TTY_FRAME_EXIT = 'x',
};

struct tty_frame {
  uint8_t type;
  const uint8_t *payload; /* points into the parsed buffer */
  uint32_t length;
  uint16_t rows, cols; /* TTY_FRAME_WINSIZE */
};

/*
 * Parses the client frame at the start of buf: the bytes it took (> 0), 0 while it is
 * incomplete, or -1 when it is malformed (unknown type, oversized, a bad window size).
 */
long tty_frame_parse(const uint8_t *buf, size_t len, struct tty_frame *f);

/* Writes a frame header for a payload of length bytes into out. */
void tty_frame_header(uint8_t out[TTY_FRAME_HEADER], uint8_t type, uint32_t length);

#endif
