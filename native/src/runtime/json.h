/*
 * A small JSON reader for the files tsdock-runtime's TypeScript side writes (state.json): the
 * text is split into a flat array of tokens, each subtree contiguous, so a value is found by key
 * and skipped by index. Strings stay escaped in the text until asked for. Pure; no allocation.
 */
#ifndef TSDOCK_RUNTIME_JSON_H
#define TSDOCK_RUNTIME_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum json_type {
  JSON_OBJECT,
  JSON_ARRAY,
  JSON_STRING,
  JSON_NUMBER,
  JSON_TRUE,
  JSON_FALSE,
  JSON_NULL
};

struct json_token {
  enum json_type type;
  size_t start, end; /* the value's bytes; a string's without its quotes */
  int size;          /* members of an object (key and value count as one), elements of an array */
  int next;          /* the index of the first token after this one's subtree */
};

struct json_doc {
  const char *text;
  struct json_token *tokens;
  int count;
};

/* Tokenises text[0..len) into tokens[0..max); 0, or -1 when it is not one JSON value or too big. */
int json_parse(struct json_doc *doc, const char *text, size_t len, struct json_token *tokens,
               int max);

/* The index of the value under key in the object at index obj, or -1. */
int json_get(const struct json_doc *doc, int obj, const char *key);

/* The string at index i unescaped into out (NUL-terminated); false unless it is a string that fits.
 */
bool json_string(const struct json_doc *doc, int i, char *out, size_t cap);

/* The integer at index i; false unless it is a number without fraction or exponent in range. */
bool json_long(const struct json_doc *doc, int i, long long *out);

/*
 * Writes s as a JSON string literal, quotes included, escaped as JavaScript's JSON.stringify
 * escapes it; returns the length it needs (as snprintf does), writing at most cap bytes.
 */
size_t json_quote(const char *s, char *out, size_t cap);

#endif
