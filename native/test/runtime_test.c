/*
 * Unit tests of tsdock-runtime's native front end, its pure parts (src/runtime: the command line,
 * the JSON reader, state.json and the state document, log lines), under AddressSanitizer and
 * UBSan. Each text is parsed from an allocation of exactly its size.
 */
#include "cli.h"
#include "json.h"
#include "log.h"
#include "state.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__, name, #cond);           \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

/* A heap copy of exactly strlen(s) bytes, no NUL: a read past the end is an ASan error. */
static char *exact(const char *s) {
  size_t len = strlen(s);
  char *copy = malloc(len > 0 ? len : 1);
  memcpy(copy, s, len);
  return copy;
}

static bool parse_cli(const char *const *words, struct cli *c) {
  int argc = 0;
  while (words[argc] != NULL)
    argc++;
  return cli_parse(argc, (char *const *)words, c);
}

static void test_cli(void) {
  static const struct {
    const char *name;
    const char *argv[10];
    bool native;
    enum verb verb;
    const char *root, *id;
    int signal;
  } cases[] = {
      {"state", {"rt", "state", "c1", NULL}, true, VERB_STATE, DEFAULT_ROOT, "c1", SIGTERM},
      {"globals as containerd passes them",
       {"rt", "--root", "/r", "--log", "/l", "--log-format", "json", "delete", "c1", NULL},
       true,
       VERB_DELETE,
       "/r",
       "c1",
       SIGTERM},
      {"--name=value",
       {"rt", "--root=/r", "start", "c1", NULL},
       true,
       VERB_START,
       "/r",
       "c1",
       SIGTERM},
      {"kill with a name",
       {"rt", "kill", "c1", "KILL", NULL},
       true,
       VERB_KILL,
       DEFAULT_ROOT,
       "c1",
       SIGKILL},
      {"kill --all after the id",
       {"rt", "kill", "c1", "9", "--all", NULL},
       true,
       VERB_KILL,
       DEFAULT_ROOT,
       "c1",
       SIGKILL},
      {"ps json",
       {"rt", "ps", "-f", "json", "c1", NULL},
       true,
       VERB_PS,
       DEFAULT_ROOT,
       "c1",
       SIGTERM},
      {"no id", {"rt", "pause", NULL}, true, VERB_PAUSE, DEFAULT_ROOT, "", SIGTERM},
      {"-- ends the flags",
       {"rt", "resume", "--", "-x", NULL},
       true,
       VERB_RESUME,
       DEFAULT_ROOT,
       "-x",
       SIGTERM},
      {"create is parsed here (spec.c decides)",
       {"rt", "create", "-b", "b", "--pid-file=p", "--no-pivot", "c1", NULL},
       true,
       VERB_CREATE,
       DEFAULT_ROOT,
       "c1",
       SIGTERM},
      {"create's unknown flag", {"rt", "create", "--nope", "c1", NULL}, false, 0, NULL, NULL, 0},
      {"exec is Node's", {"rt", "exec", "c1", "sh", NULL}, false, 0, NULL, NULL, 0},
      {"--version is Node's", {"rt", "--version", NULL}, false, 0, NULL, NULL, 0},
      {"-v is Node's", {"rt", "-v", NULL}, false, 0, NULL, NULL, 0},
      {"no verb", {"rt", "--root", "/r", NULL}, false, 0, NULL, NULL, 0},
      {"--systemd-cgroup is refused by Node",
       {"rt", "--systemd-cgroup", "state", "c1", NULL},
       false,
       0,
       NULL,
       NULL,
       0},
      {"--systemd-cgroup=false is no flag",
       {"rt", "--systemd-cgroup=false", "state", "c1", NULL},
       true,
       VERB_STATE,
       DEFAULT_ROOT,
       "c1",
       SIGTERM},
      {"unknown flag", {"rt", "--nope", "state", "c1", NULL}, false, 0, NULL, NULL, 0},
      {"unknown verb flag", {"rt", "state", "--all", "c1", NULL}, false, 0, NULL, NULL, 0},
      {"value missing", {"rt", "--root", NULL}, false, 0, NULL, NULL, 0},
      {"bad boolean", {"rt", "delete", "--force=yes", "c1", NULL}, false, 0, NULL, NULL, 0},
      {"bad log format",
       {"rt", "--log-format", "xml", "state", "c1", NULL},
       false,
       0,
       NULL,
       NULL,
       0},
      {"bad signal", {"rt", "kill", "c1", "NOPE", NULL}, false, 0, NULL, NULL, 0},
      {"ps table runs ps(1)", {"rt", "ps", "c1", NULL}, false, 0, NULL, NULL, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *name = cases[i].name;
    struct cli c;
    bool native = parse_cli(cases[i].argv, &c);
    CHECK(native == cases[i].native);
    if (!native || !cases[i].native) continue;
    CHECK(c.verb == cases[i].verb);
    CHECK(strcmp(c.root, cases[i].root) == 0);
    CHECK(strcmp(c.id, cases[i].id) == 0);
    CHECK(c.signal == cases[i].signal);
  }
  const char *name = "flags read";
  struct cli c;
  const char *argv[] = {"rt",     "--debug", "--log", "/l", "--log-format=json",
                        "delete", "-f",      "c",     NULL};
  CHECK(parse_cli(argv, &c) && c.debug && c.force && c.log_json && strcmp(c.log, "/l") == 0);
}

static void test_signals(void) {
  static const struct {
    const char *text;
    int want;
  } cases[] = {{"9", 9},
               {"KILL", SIGKILL},
               {"SIGKILL", SIGKILL},
               {"sigterm", SIGTERM},
               {"hup", SIGHUP},
               {"RTMIN", 34},
               {"SIGRTMIN+2", 36},
               {"RTMAX-1", 63},
               {"64", 64},
               {"0", 0},
               {"65", 0},
               {"RTMAX+1", 0},
               {"", 0},
               {"SIG", 0},
               {"KILLX", 0},
               {"99999999999999", 0}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *name = cases[i].text;
    CHECK(cli_signal(cases[i].text) == cases[i].want);
  }
}

static void test_json(void) {
  static const struct {
    const char *name, *text;
    bool ok;
  } cases[] = {
      {"object", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}", true},
      {"spaces", " { \"a\" : [ 1 , -2.5e3 ] } ", true},
      {"empty containers", "{\"a\":{},\"b\":[]}", true},
      {"escapes", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"", true},
      {"cut short", "{\"a\":1", false},
      {"trailing comma", "[1,]", false},
      {"missing colon", "{\"a\" 1}", false},
      {"bare word", "{\"a\":nope}", false},
      {"leading zero", "01", false},
      {"bad escape", "\"\\x\"", false},
      {"short unicode escape", "\"\\u12\"", false},
      {"control character", "\"a\nb\"", false},
      {"two values", "1 2", false},
      {"empty", "", false},
      {"unterminated string", "\"abc", false},
      {"deep", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
       false},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const char *name = cases[i].name;
    struct json_token tokens[64];
    struct json_doc doc;
    char *text = exact(cases[i].text);
    CHECK((json_parse(&doc, text, strlen(cases[i].text), tokens, 64) == 0) == cases[i].ok);
    free(text);
  }

  const char *name = "lookups";
  const char *src =
      "{\"s\":\"a\\u00e9\\ud83d\\ude00\\n\",\"n\":-42,\"f\":1.5,\"o\":{\"k\":[1,2]},\"z\":0}";
  char *text = exact(src);
  struct json_token tokens[32];
  struct json_doc doc;
  char out[64];
  long long v;
  CHECK(json_parse(&doc, text, strlen(src), tokens, 32) == 0);
  CHECK(json_string(&doc, json_get(&doc, 0, "s"), out, sizeof(out)) &&
        strcmp(out, "a\xc3\xa9\xf0\x9f\x98\x80\n") == 0);
  CHECK(!json_string(&doc, json_get(&doc, 0, "s"), out, 4));
  CHECK(json_long(&doc, json_get(&doc, 0, "n"), &v) && v == -42);
  CHECK(!json_long(&doc, json_get(&doc, 0, "f"), &v));
  CHECK(json_long(&doc, json_get(&doc, 0, "z"), &v) && v == 0);
  int o = json_get(&doc, 0, "o");
  CHECK(o > 0 && doc.tokens[json_get(&doc, o, "k")].size == 2);
  CHECK(json_get(&doc, 0, "k") == -1);
  CHECK(json_get(&doc, 0, "missing") == -1);
  CHECK(json_parse(&doc, text, strlen(src), tokens, 3) == -1);
  free(text);

  name = "quote";
  char q[64];
  CHECK(json_quote("a\"b\\c\n\x01\xc3\xa9", q, sizeof(q)) ==
            strlen("\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"") &&
        strcmp(q, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"") == 0);
  CHECK(json_quote("abcdef", q, 4) == 8 && strlen(q) == 3);
}

static const char *const STATE =
    "{\"id\":\"c1\",\"bundle\":\"/b/c1\",\"rootfs\":\"/b/c1/rootfs\",\"pid\":4242,"
    "\"startTime\":\"123456\",\"created\":\"2026-11-26T00:00:00.000Z\","
    "\"annotations\":{\"k\":\"v "
    "\\\"q\\\"\",\"x\":\"y\"},\"cgroup\":{\"parent\":\"/p\",\"name\":\"c1\"},"
    "\"cgroupPaths\":{\"procs\":[\"/sys/fs/cgroup/pids/p/c1/cgroup.procs\"],"
    "\"dirs\":[\"/sys/fs/cgroup/pids/p/c1\",\"/sys/fs/cgroup/unified/p/c1\"],\"parents\":[]},"
    "\"hooks\":{\"poststop\":[{\"path\":\"/bin/true\"}]}}\n";

static void test_state(void) {
  const char *name = "parse";
  static struct oci_state s;
  char *text = exact(STATE);
  CHECK(oci_state_parse(&s, text, strlen(STATE)) == 0);
  CHECK(strcmp(s.id, "c1") == 0 && s.pid == 4242 && strcmp(s.start_time, "123456") == 0);
  CHECK(s.procs.count == 1 && s.dirs.count == 2 && s.parents.count == 0);
  CHECK(strcmp(s.dirs.path[1], "/sys/fs/cgroup/unified/p/c1") == 0);
  CHECK(!s.start_hooks && s.delete_hooks);

  name = "render";
  char out[2048];
  const char *want = "{\n"
                     "  \"ociVersion\": \"1.0.2\",\n"
                     "  \"id\": \"c1\",\n"
                     "  \"status\": \"running\",\n"
                     "  \"pid\": 4242,\n"
                     "  \"bundle\": \"/b/c1\",\n"
                     "  \"rootfs\": \"/b/c1/rootfs\",\n"
                     "  \"created\": \"2026-11-26T00:00:00.000Z\",\n"
                     "  \"owner\": \"\",\n"
                     "  \"annotations\": {\n"
                     "    \"k\": \"v \\\"q\\\"\",\n"
                     "    \"x\": \"y\"\n"
                     "  }\n"
                     "}\n";
  CHECK(oci_state_render(&s, OCI_RUNNING, out, sizeof(out)) == strlen(want));
  CHECK(strcmp(out, want) == 0);
  CHECK(oci_state_render(&s, OCI_STOPPED, out, sizeof(out)) < sizeof(out));
  CHECK(strstr(out, "\"pid\": 0,\n") != NULL && strstr(out, "\"status\": \"stopped\"") != NULL);
  CHECK(oci_state_render(&s, OCI_RUNNING, out, 16) == strlen(want) && strlen(out) == 15);
  free(text);

  name = "render without annotations";
  const char *bare = "{\"id\":\"c\",\"bundle\":\"/b\",\"rootfs\":\"\",\"pid\":0,\"startTime\":\"\","
                     "\"created\":\"t\",\"annotations\":{},\"cgroupPaths\":{\"procs\":[],"
                     "\"dirs\":[],\"parents\":[]},\"hooks\":{}}";
  text = exact(bare);
  CHECK(oci_state_parse(&s, text, strlen(bare)) == 0);
  CHECK(oci_state_render(&s, OCI_CREATED, out, sizeof(out)) < sizeof(out));
  CHECK(strstr(out, "  \"owner\": \"\",\n  \"annotations\": {}\n}\n") != NULL);
  CHECK(!s.start_hooks && !s.delete_hooks);
  free(text);

  static const struct {
    const char *name, *text;
  } refused[] = {
      {"no cgroupPaths",
       "{\"id\":\"c\",\"bundle\":\"/b\",\"rootfs\":\"\",\"pid\":0,\"startTime\":\"\","
       "\"created\":\"t\",\"annotations\":{}}"},
      {"annotation not a string",
       "{\"id\":\"c\",\"bundle\":\"/"
       "b\",\"rootfs\":\"\",\"pid\":0,\"startTime\":\"\",\"created\":\"t\","
       "\"annotations\":{\"a\":1},\"cgroupPaths\":{\"procs\":[],\"dirs\":[],\"parents\":[]}}"},
      {"negative pid",
       "{\"id\":\"c\",\"bundle\":\"/"
       "b\",\"rootfs\":\"\",\"pid\":-1,\"startTime\":\"\",\"created\":\"t\","
       "\"annotations\":{},\"cgroupPaths\":{\"procs\":[],\"dirs\":[],\"parents\":[]}}"},
      {"not an object", "[]"},
      {"not JSON", "{"},
  };
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    name = refused[i].name;
    text = exact(refused[i].text);
    CHECK(oci_state_parse(&s, text, strlen(refused[i].text)) == -1);
    free(text);
  }

  name = "status";
  CHECK(oci_status_of(false, true, true) == OCI_STOPPED);
  CHECK(oci_status_of(true, true, false) == OCI_CREATED);
  CHECK(oci_status_of(true, false, true) == OCI_PAUSED);
  CHECK(oci_status_of(true, false, false) == OCI_RUNNING);

  name = "ids";
  CHECK(oci_id_valid("abc-1.2_x+y"));
  CHECK(!oci_id_valid("") && !oci_id_valid(".") && !oci_id_valid("..") && !oci_id_valid("a/b") &&
        !oci_id_valid("a b"));
  CHECK(oci_id_valid("..."));
}

static void test_log(void) {
  const char *name = "log lines";
  struct timespec t = {.tv_sec = 1795651200, .tv_nsec = 7000000}; /* 2026-11-26T00:00:00.007Z */
  char out[256];
  log_line("error", "a \"b\"\n", true, &t, out, sizeof(out));
  CHECK(strcmp(out, "{\"level\":\"error\",\"msg\":\"a "
                    "\\\"b\\\"\\n\",\"time\":\"2026-11-26T00:00:00.007Z\"}\n") == 0);
  log_line("error", "x", false, &t, out, sizeof(out));
  CHECK(strcmp(out, "time=\"2026-11-26T00:00:00.007Z\" level=error msg=\"x\"\n") == 0);
}

int main(void) {
  test_cli();
  test_signals();
  test_json();
  test_state();
  test_log();
  if (failures > 0) {
    fprintf(stderr, "runtime_test: %d failures\n", failures);
    return 1;
  }
  printf("runtime_test: ok\n");
  return 0;
}
