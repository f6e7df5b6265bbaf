/*
 * Unit tests of the attach protocol's frame parser (src/monitor/attach_frame.c), under
 * AddressSanitizer and UBSan: each buffer is parsed from an allocation of exactly its size.
 */
#include "attach_frame.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
  const char *name;
  const char *bytes; /* the buffer, as a C string literal with escapes */
  size_t len;
  long want;       /* what attach_frame_parse returns */
  uint8_t type;    /* for want > 0 */
  uint32_t length; /* payload length, for want > 0 */
  uint16_t rows, cols;
};

#define BYTES(s) s, sizeof(s) - 1

static const struct test_case cases[] = {
    {"empty buffer", BYTES(""), 0, 0, 0, 0, 0},
    {"header cut short", BYTES("i\x01\x00\x00"), 0, 0, 0, 0, 0},
    {"input frame",
     BYTES("i\x02\x00\x00\x00"
           "ab"),
     7, 'i', 2, 0, 0},
    {"input frame and more",
     BYTES("i\x01\x00\x00\x00"
           "aw"),
     6, 'i', 1, 0, 0},
    {"empty input frame", BYTES("i\x00\x00\x00\x00"), 5, 'i', 0, 0, 0},
    {"payload cut short",
     BYTES("i\x03\x00\x00\x00"
           "ab"),
     0, 0, 0, 0, 0},
    {"window size", BYTES("w\x04\x00\x00\x00\x18\x00\x50\x01"), 9, 'w', 4, 24, 336},
    {"window size of 3 bytes", BYTES("w\x03\x00\x00\x00\x18\x00\x50"), -1, 0, 0, 0, 0},
    {"window size of 5 bytes", BYTES("w\x05\x00\x00\x00\x18\x00\x50\x00\x00"), -1, 0, 0, 0, 0},
    {"close stdin", BYTES("c\x00\x00\x00\x00"), 5, 'c', 0, 0, 0},
    {"close stdin and more", BYTES("c\x00\x00\x00\x00i"), 5, 'c', 0, 0, 0},
    {"close stdin with a payload",
     BYTES("c\x01\x00\x00\x00"
           "x"),
     -1, 0, 0, 0, 0},
    {"output frame from a client", BYTES("o\x00\x00\x00\x00"), -1, 0, 0, 0, 0},
    {"stderr frame from a client", BYTES("e\x00\x00\x00\x00"), -1, 0, 0, 0, 0},
    {"exit frame from a client", BYTES("x\x04\x00\x00\x00\x00\x00\x00\x00"), -1, 0, 0, 0, 0},
    {"unknown type", BYTES("\x00\x00\x00\x00\x00"), -1, 0, 0, 0, 0},
    {"oversized frame", BYTES("i\x01\x40\x00\x00"), -1, 0, 0, 0, 0},
    {"length 2^32-1", BYTES("i\xff\xff\xff\xff"), -1, 0, 0, 0, 0},
};

static bool run_case(const struct test_case *c) {
  uint8_t *copy = malloc(c->len ? c->len : 1);
  memcpy(copy, c->bytes, c->len);
  struct attach_frame f;
  long got = attach_frame_parse(copy, c->len, &f);
  bool ok = got == c->want;
  if (ok && got > 0) {
    ok = f.type == c->type && f.length == c->length && f.payload == copy + ATTACH_FRAME_HEADER &&
         f.rows == c->rows && f.cols == c->cols;
  }
  free(copy);
  if (!ok) fprintf(stderr, "  got %ld, want %ld\n", got, c->want);
  return ok;
}

/* The largest frame is whole; one byte more is refused before its payload arrives. */
static bool run_limits(void) {
  size_t len = ATTACH_FRAME_HEADER + ATTACH_FRAME_MAX;
  uint8_t *buf = calloc(1, len);
  struct attach_frame f;
  attach_frame_header(buf, ATTACH_FRAME_INPUT, ATTACH_FRAME_MAX);
  bool ok = attach_frame_parse(buf, len, &f) == (long)len && f.length == ATTACH_FRAME_MAX;
  ok = ok && attach_frame_parse(buf, len - 1, &f) == 0;
  attach_frame_header(buf, ATTACH_FRAME_INPUT, ATTACH_FRAME_MAX + 1);
  ok = ok && attach_frame_parse(buf, ATTACH_FRAME_HEADER, &f) == -1;
  free(buf);
  return ok;
}

static bool run_header(void) {
  uint8_t h[ATTACH_FRAME_HEADER];
  attach_frame_header(h, ATTACH_FRAME_EXIT, 0x01020304);
  return memcmp(h, "x\x04\x03\x02\x01", ATTACH_FRAME_HEADER) == 0;
}

int main(void) {
  int passed = 0, failed = 0;
  size_t n = sizeof(cases) / sizeof(cases[0]);
  for (size_t i = 0; i < n + 2; i++) {
    const char *name = i < n ? cases[i].name : i == n ? "frame size limits" : "reply header";
    bool ok = i < n ? run_case(&cases[i]) : i == n ? run_limits() : run_header();
    printf("%s - %s\n", ok ? "ok" : "FAIL", name);
    ok ? passed++ : failed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
