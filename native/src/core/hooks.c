/*
 * OCI createContainer and startContainer hooks, run by the container child itself so that they
 * are in the container's namespaces (runtime-spec config.md, "POSIX-platform Hooks"): each is
 * forked and exec'd with the state on stdin, its stdout and stderr collected; one that fails or
 * outlives its timeout fails the child, with the hook's kind as the step, "hook PATH failed:
 * WHY: OUTPUT" as the path and errno 0 (an exec or fork failure keeps its errno).
 *
 * The child is a fork-like clone of the single-threaded monitor, so fork(2) is safe here; like
 * the rest of the child this uses no allocation and no stdio, only static buffers.
 */
#define _GNU_SOURCE
#include "child.h"

#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STATE_MAX 65536
#define OUTPUT_MAX 1024

static char state[STATE_MAX];
static char why[PATH_MAX];

/* Appends s to buf (of cap bytes, NUL-terminated), cutting what does not fit. */
static void append(char *buf, size_t cap, const char *s) {
  size_t n = strlen(buf);
  size_t len = strnlen(s, cap - 1 - n);
  memcpy(buf + n, s, len);
  buf[n + len] = '\0';
}

static void append_uint(char *buf, size_t cap, unsigned long v) {
  char digits[24];
  size_t i = sizeof(digits) - 1;
  digits[i] = '\0';
  do
    digits[--i] = (char)('0' + v % 10);
  while ((v /= 10) != 0 && i > 0);
  append(buf, cap, digits + i);
}

/* {"status":"S","pid":P, then the plan's state without its opening brace. */
static size_t state_for(const struct tsd_plan *p, const char *status) {
  state[0] = '\0';
  append(state, sizeof(state), "{\"status\":\"");
  append(state, sizeof(state), status);
  append(state, sizeof(state), "\",\"pid\":");
  append_uint(state, sizeof(state), (unsigned long)getpid());
  append(state, sizeof(state), p->hook_state[1] == '}' ? "" : ",");
  append(state, sizeof(state), p->hook_state + 1);
  return strlen(state);
}

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* In the forked hook: stdin, stdout and stderr from the pipes, nothing else, default signals. */
_Noreturn static void exec_hook(const struct tsd_hook *h, int in, int out) {
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(126);
  syscall(SYS_close_range, 3, ~0u, 0);
  tsd_reset_signals();
  execve(h->path, h->args.v, h->env.v);
  _exit(errno == ENOENT ? 127 : 126);
}

/* Collects the hook's output until it exits or its time is up; its wait status. */
static int wait_hook(pid_t pid, int out, unsigned timeout, char *output, bool *timed_out) {
  long long deadline = timeout > 0 ? now_ms() + (long long)timeout * 1000 : -1;
  size_t n = 0;
  int status;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    long long left = deadline < 0 ? 100 : deadline - now_ms();
    if (left <= 0) {
      *timed_out = true;
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    /* The output, or a tick to look at the hook again (it may have closed its stdout). */
    struct pollfd pfd = {.fd = out, .events = POLLIN};
    if (out >= 0 && poll(&pfd, 1, left < 100 ? (int)left : 100) > 0) {
      char discard[256];
      ssize_t r = read(out, n < OUTPUT_MAX - 1 ? output + n : discard,
                       n < OUTPUT_MAX - 1 ? OUTPUT_MAX - 1 - n : sizeof(discard));
      if (r > 0 && n < OUTPUT_MAX - 1) n += (size_t)r;
      if (r == 0) out = -1;
    } else if (out < 0) {
      struct timespec tick = {.tv_nsec = 10 * 1000000};
      nanosleep(&tick, NULL);
    }
  }
  /* What it wrote last, once it is gone (the pipe is non-blocking). */
  while (out >= 0 && n < OUTPUT_MAX - 1) {
    ssize_t r = read(out, output + n, OUTPUT_MAX - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  output[n] = '\0';
  return status;
}

/* The reason a hook failed, into why: "hook PATH failed: exit status N: OUTPUT". */
static void describe(const struct tsd_hook *h, int status, bool timed_out, char *output) {
  why[0] = '\0';
  append(why, sizeof(why), "hook ");
  append(why, sizeof(why), h->path);
  append(why, sizeof(why), " failed: ");
  if (timed_out) {
    append(why, sizeof(why), "killed by SIGKILL (timeout ");
    append_uint(why, sizeof(why), h->timeout);
    append(why, sizeof(why), "s)");
  } else if (WIFSIGNALED(status)) {
    append(why, sizeof(why), "killed by signal ");
    append_uint(why, sizeof(why), (unsigned long)WTERMSIG(status));
  } else {
    append(why, sizeof(why), "exit status ");
    append_uint(why, sizeof(why), (unsigned long)WEXITSTATUS(status));
  }
  size_t len = strlen(output);
  while (len > 0 && (output[len - 1] == '\n' || output[len - 1] == ' '))
    output[--len] = '\0';
  if (len > 0) {
    append(why, sizeof(why), ": ");
    append(why, sizeof(why), output);
  }
}

static void run_hook(const struct tsd_child *c, const struct tsd_hook *h, const char *step,
                     size_t state_len) {
  static char output[OUTPUT_MAX];
  int in[2], out[2];
  why[0] = '\0';
  append(why, sizeof(why), "hook ");
  append(why, sizeof(why), h->path);
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0)
    tsd_child_fail(c, step, why);
  /* Written whole before the fork (a pipe holds 64 KiB), so a hook that never reads its stdin
   * cannot block us, nor its early exit raise SIGPIPE. */
  if (fcntl(in[1], F_SETFL, O_NONBLOCK) < 0 ||
      write(in[1], state, state_len) != (ssize_t)state_len) {
    errno = errno == EAGAIN ? E2BIG : errno;
    tsd_child_fail(c, step, why);
  }
  close(in[1]);
  pid_t pid = fork();
  if (pid < 0) tsd_child_fail(c, step, why);
  if (pid == 0) exec_hook(h, in[0], out[1]);
  close(in[0]);
  close(out[1]);
  bool timed_out = false;
  output[0] = '\0';
  int status = wait_hook(pid, out[0], h->timeout, output, &timed_out);
  close(out[0]);
  if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    describe(h, status, timed_out, output);
    errno = 0;
    tsd_child_fail(c, step, why);
  }
}

void tsd_run_hooks(const struct tsd_child *c, uint32_t kind) {
  const struct tsd_plan *p = c->plan;
  const char *step = kind == TSD_HOOK_CREATE_CONTAINER ? "createContainer" : "startContainer";
  size_t state_len = 0;
  for (size_t i = 0; i < p->n_hooks; i++) {
    if (p->hooks[i].kind != kind) continue;
    if (state_len == 0)
      state_len = state_for(p, kind == TSD_HOOK_CREATE_CONTAINER ? "creating" : "created");
    run_hook(c, &p->hooks[i], step, state_len);
  }
}
