#include "cli.h"

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct flag {
  const char *name;
  char alias; /* 0: none */
  bool value; /* takes a value; else a boolean */
};

enum { MAX_FLAGS = 10, MAX_ARGS = 2 };

/* The global flags, in args.ts's order; their index in struct given is their enum value. */
enum {
  G_ROOT,
  G_LOG,
  G_LOG_FORMAT,
  G_DEBUG,
  G_SYSTEMD_CGROUP,
  G_ROOTLESS,
  G_CRIU,
  G_VERSION,
  G_HELP
};

static const struct flag global_flags[] = {[G_ROOT] = {"root", 0, true},
                                           [G_LOG] = {"log", 0, true},
                                           [G_LOG_FORMAT] = {"log-format", 0, true},
                                           [G_DEBUG] = {"debug", 0, false},
                                           [G_SYSTEMD_CGROUP] = {"systemd-cgroup", 0, false},
                                           [G_ROOTLESS] = {"rootless", 0, true},
                                           [G_CRIU] = {"criu", 0, true},
                                           [G_VERSION] = {"version", 'v', false},
                                           [G_HELP] = {"help", 'h', false},
                                           {NULL, 0, false}};

static const struct {
  const char *name;
  enum verb verb;
  struct flag flags[7];
} verbs[] = {
    {"create",
     VERB_CREATE,
     {{"bundle", 'b', true},
      {"pid-file", 0, true},
      {"console-socket", 0, true},
      {"preserve-fds", 0, true},
      {"no-pivot", 0, false},
      {"no-new-keyring", 0, false},
      {NULL, 0, false}}},
    {"start", VERB_START, {{NULL, 0, false}}},
    {"state", VERB_STATE, {{NULL, 0, false}}},
    {"kill", VERB_KILL, {{"all", 'a', false}, {NULL, 0, false}}},
    {"delete", VERB_DELETE, {{"force", 'f', false}, {NULL, 0, false}}},
    {"pause", VERB_PAUSE, {{NULL, 0, false}}},
    {"resume", VERB_RESUME, {{NULL, 0, false}}},
    {"ps", VERB_PS, {{"format", 'f', true}, {NULL, 0, false}}},
};

/* What a flag was given: a value, or "true" for a boolean that is set; NULL when not given. */
struct given {
  const char *value[MAX_FLAGS];
};

/*
 * Parses argv[*i..argc) against flags, as parseFlags in args.ts does: with stop_at_first, up to
 * the first word that is not a flag (returned through *i); otherwise all of it, the other words
 * collected into args. False on anything args.ts would reject.
 */
static bool parse_flags(int argc, char *const *argv, int *i, const struct flag *flags,
                        bool stop_at_first, struct given *g, const char **args, int *nargs) {
  for (; *i < argc; (*i)++) {
    const char *word = argv[*i];
    if (strcmp(word, "--") == 0) {
      for ((*i)++; *i < argc; (*i)++)
        if (*nargs < MAX_ARGS) args[(*nargs)++] = argv[*i];
      return true;
    }
    if (word[0] != '-' || word[1] == '\0') {
      if (stop_at_first) return true;
      if (*nargs < MAX_ARGS) args[(*nargs)++] = word;
      continue;
    }
    const char *name = word + (word[1] == '-' ? 2 : 1);
    const char *eq = strchr(word, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    if (eq != NULL && eq < name) return false;
    int f = 0;
    for (; flags[f].name != NULL; f++) {
      bool by_alias = len == 1 && flags[f].alias == name[0];
      bool by_name =
          len > 1 && strlen(flags[f].name) == len && strncmp(flags[f].name, name, len) == 0;
      if (by_alias || by_name) break;
    }
    if (flags[f].name == NULL) return false;
    if (!flags[f].value) {
      const char *v = eq != NULL ? eq + 1 : "true";
      if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) return false;
      g->value[f] = strcmp(v, "true") == 0 ? "true" : NULL;
    } else if (eq != NULL) {
      g->value[f] = eq + 1;
    } else {
      if (*i + 1 >= argc) return false;
      g->value[f] = argv[++(*i)];
    }
  }
  return true;
}

bool cli_parse(int argc, char *const *argv, struct cli *c) {
  struct given g = {{NULL}}, vg = {{NULL}};
  const char *args[MAX_ARGS] = {NULL};
  int nargs = 0;
  int i = 1;
  if (!parse_flags(argc, argv, &i, global_flags, true, &g, args, &nargs) || nargs > 0 || i >= argc)
    return false;
  /* --systemd-cgroup, --version and --help are answered by the TypeScript runtime. */
  if (g.value[G_SYSTEMD_CGROUP] != NULL || g.value[G_VERSION] != NULL || g.value[G_HELP] != NULL)
    return false;
  const char *format = g.value[G_LOG_FORMAT] != NULL ? g.value[G_LOG_FORMAT] : "text";
  if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) return false;
  size_t v = 0;
  for (; v < sizeof(verbs) / sizeof(verbs[0]) && strcmp(verbs[v].name, argv[i]) != 0; v++) {
  }
  if (v == sizeof(verbs) / sizeof(verbs[0])) return false;
  i++;
  if (!parse_flags(argc, argv, &i, verbs[v].flags, false, &vg, args, &nargs)) return false;
  *c = (struct cli){
      .root = g.value[G_ROOT] != NULL ? g.value[G_ROOT] : DEFAULT_ROOT,
      .log = g.value[G_LOG],
      .log_json = strcmp(format, "json") == 0,
      .debug = g.value[G_DEBUG] != NULL,
      .verb = verbs[v].verb,
      .verb_name = verbs[v].name,
      .all = verbs[v].verb == VERB_KILL && vg.value[0] != NULL,
      .force = verbs[v].verb == VERB_DELETE && vg.value[0] != NULL,
      .id = nargs > 0 ? args[0] : "",
      .signal = SIGTERM,
  };
  if (c->verb == VERB_CREATE) {
    c->bundle = vg.value[0];
    c->pid_file = vg.value[1];
    c->console_socket = vg.value[2];
    c->preserve_fds = vg.value[3];
  }
  /* ps prints a table by running ps(1): the TypeScript runtime does that. */
  if (c->verb == VERB_PS && (vg.value[0] == NULL || strcmp(vg.value[0], "json") != 0)) return false;
  if (c->verb == VERB_KILL && nargs > 1 && (c->signal = cli_signal(args[1])) == 0) return false;
  return true;
}

int cli_signal(const char *text) {
  static const struct {
    const char *name;
    int number;
  } names[] = {{"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},     {"ILL", SIGILL},
               {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"IOT", SIGIOT},       {"BUS", SIGBUS},
               {"FPE", SIGFPE},     {"KILL", SIGKILL},     {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
               {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},     {"TERM", SIGTERM},
               {"CHLD", SIGCHLD},   {"STKFLT", SIGSTKFLT}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
               {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},     {"URG", SIGURG},
               {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
               {"WINCH", SIGWINCH}, {"IO", SIGIO},         {"POLL", SIGPOLL},     {"PWR", SIGPWR},
               {"SYS", SIGSYS}};
  if (text[0] == '\0') return 0;
  if (strspn(text, "0123456789") == strlen(text)) {
    if (strlen(text) > 3) return 0;
    int n = atoi(text);
    return n >= 1 && n <= 64 ? n : 0;
  }
  char name[16];
  size_t len = strlen(text);
  if (len >= sizeof(name)) return 0;
  for (size_t k = 0; k <= len; k++)
    name[k] = (char)toupper((unsigned char)text[k]);
  const char *bare = strncmp(name, "SIG", 3) == 0 ? name + 3 : name;
  /* The real-time signals by glibc's numbering (SIGRTMIN is 34: glibc keeps 32 and 33). */
  if (strncmp(bare, "RTMIN", 5) == 0 || strncmp(bare, "RTMAX", 5) == 0) {
    int base = bare[4] == 'N' ? 34 : 64;
    const char *off = bare + 5;
    int n = base;
    if (*off != '\0') {
      if ((*off != '+' && *off != '-') || off[1] == '\0' ||
          strspn(off + 1, "0123456789") != strlen(off + 1) || strlen(off + 1) > 2)
        return 0;
      n = base + (*off == '-' ? -1 : 1) * atoi(off + 1);
    }
    return n >= 34 && n <= 64 ? n : 0;
  }
  for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
    if (strcmp(bare, names[k].name) == 0) return names[k].number;
  return 0;
}
