/* Frames of the attach protocol (tty_frame.h): parsing what clients send, headers for replies. */
#include "tty_frame.h"

static uint32_t le32(const uint8_t *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint16_t le16(const uint8_t *b) {
  return (uint16_t)(b[0] | b[1] << 8);
}

long tty_frame_parse(const uint8_t *buf, size_t len, struct tty_frame *f) {
  if (len < TTY_FRAME_HEADER) return 0;
  f->type = buf[0];
  f->length = le32(buf + 1);
  if (f->type != TTY_FRAME_INPUT && f->type != TTY_FRAME_WINSIZE) return -1;
  if (f->length > TTY_FRAME_MAX) return -1;
  if (f->type == TTY_FRAME_WINSIZE && f->length != 4) return -1;
  if (len - TTY_FRAME_HEADER < f->length) return 0;
  f->payload = buf + TTY_FRAME_HEADER;
  f->rows = f->cols = 0;
  if (f->type == TTY_FRAME_WINSIZE) {
    f->rows = le16(f->payload);
    f->cols = le16(f->payload + 2);
  }
  return (long)(TTY_FRAME_HEADER + f->length);
}

void tty_frame_header(uint8_t out[TTY_FRAME_HEADER], uint8_t type, uint32_t length) {
  out[0] = type;
  for (int i = 0; i < 4; i++)
    out[1 + i] = (uint8_t)(length >> (8 * i));
}
