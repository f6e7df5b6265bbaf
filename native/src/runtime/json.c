#include "json.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting deeper than this is not something tsdock writes. */
#define MAX_DEPTH 32

struct parser {
  const char *text;
  size_t len, pos;
  struct json_token *tokens;
  int max, count;
};

static void skip_space(struct parser *p) {
  while (p->pos < p->len && strchr(" \t\r\n", p->text[p->pos]) != NULL && p->text[p->pos] != '\0')
    p->pos++;
}

static int add(struct parser *p, enum json_type type, size_t start) {
  if (p->count == p->max) return -1;
  p->tokens[p->count] = (struct json_token){.type = type, .start = start, .end = start};
  return p->count++;
}

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string token; p->pos is at its opening quote. */
static int parse_string(struct parser *p) {
  int t = add(p, JSON_STRING, ++p->pos);
  if (t < 0) return -1;
  while (p->pos < p->len) {
    unsigned char c = (unsigned char)p->text[p->pos];
    if (c == '"') {
      p->tokens[t].end = p->pos++;
      p->tokens[t].next = p->count;
      return t;
    }
    if (c < 0x20) return -1;
    if (c == '\\') {
      if (++p->pos >= p->len) return -1;
      char e = p->text[p->pos];
      if (e == 'u') {
        for (int i = 1; i <= 4; i++)
          if (p->pos + i >= p->len || !is_hex(p->text[p->pos + i])) return -1;
        p->pos += 4;
      } else if (strchr("\"\\/bfnrt", e) == NULL || e == '\0') {
        return -1;
      }
    }
    p->pos++;
  }
  return -1;
}

static int parse_literal(struct parser *p) {
  static const struct {
    const char *word;
    enum json_type type;
  } words[] = {{"true", JSON_TRUE}, {"false", JSON_FALSE}, {"null", JSON_NULL}};
  for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
    size_t n = strlen(words[i].word);
    if (p->len - p->pos >= n && memcmp(p->text + p->pos, words[i].word, n) == 0) {
      int t = add(p, words[i].type, p->pos);
      if (t < 0) return -1;
      p->pos += n;
      p->tokens[t].end = p->pos;
      p->tokens[t].next = p->count;
      return t;
    }
  }
  return -1;
}

static size_t digits(struct parser *p) {
  size_t from = p->pos;
  while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
    p->pos++;
  return p->pos - from;
}

/* RFC 8259's number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(struct parser *p) {
  int t = add(p, JSON_NUMBER, p->pos);
  if (t < 0) return -1;
  if (p->text[p->pos] == '-') p->pos++;
  size_t first = p->pos;
  size_t n = digits(p);
  if (n == 0 || (n > 1 && p->text[first] == '0')) return -1;
  if (p->pos < p->len && p->text[p->pos] == '.') {
    p->pos++;
    if (digits(p) == 0) return -1;
  }
  if (p->pos < p->len && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E')) {
    p->pos++;
    if (p->pos < p->len && (p->text[p->pos] == '+' || p->text[p->pos] == '-')) p->pos++;
    if (digits(p) == 0) return -1;
  }
  p->tokens[t].end = p->pos;
  p->tokens[t].next = p->count;
  return t;
}

static int parse_value(struct parser *p, int depth);

/* An object or array; p->pos is at its opening bracket. */
static int parse_container(struct parser *p, int depth) {
  bool object = p->text[p->pos] == '{';
  char close = object ? '}' : ']';
  int t = add(p, object ? JSON_OBJECT : JSON_ARRAY, p->pos);
  if (t < 0 || depth >= MAX_DEPTH) return -1;
  p->pos++;
  skip_space(p);
  if (p->pos < p->len && p->text[p->pos] == close) {
    p->pos++;
  } else {
    for (;;) {
      skip_space(p);
      if (object) {
        if (p->pos >= p->len || p->text[p->pos] != '"' || parse_string(p) < 0) return -1;
        skip_space(p);
        if (p->pos >= p->len || p->text[p->pos++] != ':') return -1;
      }
      if (parse_value(p, depth + 1) < 0) return -1;
      p->tokens[t].size++;
      skip_space(p);
      if (p->pos >= p->len) return -1;
      char c = p->text[p->pos++];
      if (c == close) break;
      if (c != ',') return -1;
    }
  }
  p->tokens[t].end = p->pos;
  p->tokens[t].next = p->count;
  return t;
}

static int parse_value(struct parser *p, int depth) {
  skip_space(p);
  if (p->pos >= p->len) return -1;
  char c = p->text[p->pos];
  if (c == '{' || c == '[') return parse_container(p, depth);
  if (c == '"') return parse_string(p);
  if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p);
  return parse_literal(p);
}

int json_parse(struct json_doc *doc, const char *text, size_t len, struct json_token *tokens,
               int max) {
  struct parser p = {.text = text, .len = len, .tokens = tokens, .max = max};
  if (parse_value(&p, 0) < 0) return -1;
  skip_space(&p);
  if (p.pos != len) return -1;
  *doc = (struct json_doc){.text = text, .tokens = tokens, .count = p.count};
  return 0;
}

static bool key_is(const struct json_doc *doc, int k, const char *key) {
  char buf[256];
  return json_string(doc, k, buf, sizeof(buf)) && strcmp(buf, key) == 0;
}

int json_get(const struct json_doc *doc, int obj, const char *key) {
  if (obj < 0 || obj >= doc->count || doc->tokens[obj].type != JSON_OBJECT) return -1;
  int k = obj + 1;
  for (int m = 0; m < doc->tokens[obj].size; m++) {
    int v = k + 1;
    if (key_is(doc, k, key)) return v;
    k = doc->tokens[v].next;
  }
  return -1;
}

static unsigned hex4(const char *s) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}

/* Appends code point cp as UTF-8; false when it does not fit. */
static bool put_utf8(char *out, size_t cap, size_t *n, uint32_t cp) {
  char b[4];
  size_t len;
  if (cp < 0x80) {
    b[0] = (char)cp;
    len = 1;
  } else if (cp < 0x800) {
    b[0] = (char)(0xc0 | cp >> 6);
    b[1] = (char)(0x80 | (cp & 0x3f));
    len = 2;
  } else if (cp < 0x10000) {
    b[0] = (char)(0xe0 | cp >> 12);
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[2] = (char)(0x80 | (cp & 0x3f));
    len = 3;
  } else {
    b[0] = (char)(0xf0 | cp >> 18);
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[3] = (char)(0x80 | (cp & 0x3f));
    len = 4;
  }
  if (*n + len >= cap) return false;
  memcpy(out + *n, b, len);
  *n += len;
  return true;
}

bool json_string(const struct json_doc *doc, int i, char *out, size_t cap) {
  if (i < 0 || i >= doc->count || doc->tokens[i].type != JSON_STRING || cap == 0) return false;
  const char *s = doc->text;
  size_t n = 0;
  for (size_t pos = doc->tokens[i].start; pos < doc->tokens[i].end; pos++) {
    uint32_t cp = (unsigned char)s[pos];
    if (cp == '\\') {
      char e = s[++pos];
      static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
      if (e == 'u') {
        cp = hex4(s + pos + 1);
        pos += 4;
        /* A surrogate pair is one code point; a lone surrogate becomes U+FFFD. */
        if (cp >= 0xd800 && cp < 0xdc00 && pos + 6 < doc->tokens[i].end && s[pos + 1] == '\\' &&
            s[pos + 2] == 'u' && hex4(s + pos + 3) >= 0xdc00 && hex4(s + pos + 3) < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(s + pos + 3) - 0xdc00);
          pos += 6;
        } else if (cp >= 0xd800 && cp < 0xe000) {
          cp = 0xfffd;
        }
        if (!put_utf8(out, cap, &n, cp)) return false;
        continue;
      }
      cp = (unsigned char)to[strchr(from, e) - from];
    }
    if (n + 1 >= cap) return false;
    out[n++] = (char)cp;
  }
  out[n] = '\0';
  return true;
}

bool json_long(const struct json_doc *doc, int i, long long *out) {
  if (i < 0 || i >= doc->count || doc->tokens[i].type != JSON_NUMBER) return false;
  const struct json_token *t = &doc->tokens[i];
  char buf[24];
  size_t len = t->end - t->start;
  if (len >= sizeof(buf)) return false;
  memcpy(buf, doc->text + t->start, len);
  buf[len] = '\0';
  if (strpbrk(buf, ".eE") != NULL) return false;
  char *end;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

/* Appends len bytes of b at *n when they fit (one byte stays for the NUL); counts them anyway. */
static void put(char *out, size_t cap, size_t *n, const char *b, size_t len) {
  if (*n + len < cap) memcpy(out + *n, b, len);
  *n += len;
}

size_t json_quote(const char *s, char *out, size_t cap) {
  size_t n = 0;
  put(out, cap, &n, "\"", 1);
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    const char *named = c == '"'    ? "\\\""
                        : c == '\\' ? "\\\\"
                        : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f"
                        : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t"
                                    : NULL;
    if (named != NULL) {
      put(out, cap, &n, named, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof(esc), "\\u%04x", c);
      put(out, cap, &n, esc, 6);
    } else {
      put(out, cap, &n, (const char *)&c, 1);
    }
  }
  put(out, cap, &n, "\"", 1);
  if (cap > 0) out[n < cap ? n : cap - 1] = '\0';
  return n;
}
