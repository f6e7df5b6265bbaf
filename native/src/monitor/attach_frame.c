/* Frames of the attach protocol (attach_frame.h): parsing what clients send, headers for replies.
 */
#include "attach_frame.h"

static uint32_t le32(const uint8_t *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint16_t le16(const uint8_t *b) {
  return (uint16_t)(b[0] | b[1] << 8);
}

long attach_frame_parse(const uint8_t *buf, size_t len, struct attach_frame *f) {
  if (len < ATTACH_FRAME_HEADER) return 0;
  f->type = buf[0];
  f->length = le32(buf + 1);
  if (f->type != ATTACH_FRAME_INPUT && f->type != ATTACH_FRAME_WINSIZE &&
      f->type != ATTACH_FRAME_CLOSE_STDIN)
    return -1;
  if (f->length > ATTACH_FRAME_MAX) return -1;
  if (f->type == ATTACH_FRAME_WINSIZE && f->length != 4) return -1;
  if (f->type == ATTACH_FRAME_CLOSE_STDIN && f->length != 0) return -1;
  if (len - ATTACH_FRAME_HEADER < f->length) return 0;
  f->payload = buf + ATTACH_FRAME_HEADER;
  f->rows = f->cols = 0;
  if (f->type == ATTACH_FRAME_WINSIZE) {
    f->rows = le16(f->payload);
    f->cols = le16(f->payload + 2);
  }
  return (long)(ATTACH_FRAME_HEADER + f->length);
}

void attach_frame_header(uint8_t out[ATTACH_FRAME_HEADER], uint8_t type, uint32_t length) {
  out[0] = type;
  for (int i = 0; i < 4; i++)
    out[1 + i] = (uint8_t)(length >> (8 * i));
}
