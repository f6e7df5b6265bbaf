/*
 * The attach protocol: what flows between a container's monitor and a client of its attach
 * socket (src/runtime/attach-protocol.ts is the other side). Both directions are frames:
 *
 *   u8 type | u32 length (little-endian) | length bytes of payload (at most ATTACH_FRAME_MAX)
 *
 *   client -> monitor   'i'  bytes for the terminal or the container's stdin (what the user typed)
 *                       'w'  u16 rows, u16 cols: the window size (TIOCSWINSZ on the master)
 *                       'c'  no payload: close the container's stdin (the client's input ended)
 *   monitor -> client   'o'  bytes the terminal or the container's stdout printed
 *                       'e'  bytes the container's stderr printed (none with a terminal)
 *                       'x'  i32 exit code: the process exited; the last frame before EOF
 *
 * Closing the connection detaches. Pure: no I/O, unit-tested under ASan (native/test).
 */
#ifndef TSDOCK_ATTACH_FRAME_H
#define TSDOCK_ATTACH_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define ATTACH_FRAME_HEADER 5
#define ATTACH_FRAME_MAX 16384

enum attach_frame_type {
  ATTACH_FRAME_INPUT = 'i',
  ATTACH_FRAME_WINSIZE = 'w',
  ATTACH_FRAME_CLOSE_STDIN = 'c',
  ATTACH_FRAME_OUTPUT = 'o',
  ATTACH_FRAME_ERROR_OUTPUT = 'e',
  ATTACH_FRAME_EXIT = 'x',
};

struct attach_frame {
  uint8_t type;
  const uint8_t *payload; /* points into the parsed buffer */
  uint32_t length;
  uint16_t rows, cols; /* ATTACH_FRAME_WINSIZE */
};

/*
 * Parses the client frame at the start of buf: the bytes it took (> 0), 0 while it is
 * incomplete, or -1 when it is malformed (unknown type, oversized, a bad window size, a close
 * with a payload).
 */
long attach_frame_parse(const uint8_t *buf, size_t len, struct attach_frame *f);

/* Writes a frame header for a payload of length bytes into out. */
void attach_frame_header(uint8_t out[ATTACH_FRAME_HEADER], uint8_t type, uint32_t length);

#endif
