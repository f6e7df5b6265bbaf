// spawnProcess and socketpair (src/native.ts): starting a process without forking Node, and
// reaping it on Node's loop.
//
// libuv's spawn forks: the kernel copies the page tables of the whole Node process, and the loop
// waits until the child has exec'd. glibc's posix_spawn(3) clones with CLONE_VM | CLONE_VFORK:
// nothing is copied, and the child runs only the few steps it is told to before execve. Its
// vfork still holds the calling thread until then, so that runs on a thread-pool thread.
//
// The child is then ours to reap. libuv's SIGCHLD handler waits only for the pids it spawned,
// so nothing else takes it: its pidfd (pidfd_open(2)) becomes readable when it ends, a uv_poll_t
// watches for that on the loop, and waitid(P_PIDFD) reaps it.
#include "spawn.h"

#include "addon.h"

#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <memory>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char **environ;

namespace tsdock {
namespace {

// One spawned process until it is reaped. Two owners free it: the poll handle once closed and
// the JS `unref` function once collected, so that neither outlives the other's memory.
struct Child {
  uv_poll_t poll;
  napi_env env;
  pid_t pid;
  int pidfd;
  bool watching = true;
  int owners = 2;
  // Reset while the env is alive: their destructors call into it.
  Napi::FunctionReference onExit;
  std::unique_ptr<Napi::AsyncContext> context;
};

void Release(Child *child) {
  if (--child->owners == 0) delete child;
}

void ForgetEnvironment(void *arg);

// Ends the watch: the pidfd is closed once the handle no longer polls it (uv_poll_stop).
void StopWatching(Child *child) {
  child->watching = false;
  child->onExit.Reset();
  child->context.reset();
  napi_remove_env_cleanup_hook(child->env, ForgetEnvironment, child);
  uv_poll_stop(&child->poll);
  close(child->pidfd);
  uv_close(reinterpret_cast<uv_handle_t *>(&child->poll),
           [](uv_handle_t *handle) { Release(static_cast<Child *>(handle->data)); });
}

// The env is going away with the process still running (a detached monitor): stop watching,
// without a callback into JavaScript.
void ForgetEnvironment(void *arg) {
  StopWatching(static_cast<Child *>(arg));
}

// The pidfd is readable: the process has ended. Reaps it and tells JavaScript how it ended:
// (exitCode, null), (null, signal), or (null, null) if waitid failed.
void OnReadable(uv_poll_t *handle, int, int) {
  Child *child = static_cast<Child *>(handle->data);
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  int rc = waitid(static_cast<idtype_t>(P_PIDFD), child->pidfd, &info, WEXITED | WNOHANG);
  if ((rc == 0 && info.si_pid == 0) || (rc < 0 && (errno == EINTR || errno == EAGAIN))) return;

  Napi::Env env(child->env);
  Napi::HandleScope scope(env);
  Napi::Value code = env.Null(), signal = env.Null();
  if (rc == 0 && info.si_code == CLD_EXITED)
    code = Napi::Number::New(env, info.si_status);
  else if (rc == 0)
    signal = Napi::Number::New(env, info.si_status);
  Napi::FunctionReference onExit = std::move(child->onExit);
  std::unique_ptr<Napi::AsyncContext> context = std::move(child->context);
  StopWatching(child);
  // Raw N-API: while the env is being torn down (its last uv_run) JavaScript cannot run and the
  // call fails, which node-addon-api would turn into a fatal error.
  napi_value args[] = {code, signal};
  napi_make_callback(env, *context, env.Global(), onExit.Value(), 2, args, nullptr);
  if (env.IsExceptionPending())
    napi_fatal_exception(env, env.GetAndClearPendingException().Value());
}

Napi::Value Unref(const Napi::CallbackInfo &info) {
  Child *child = static_cast<Child *>(info.Data());
  if (child->watching) uv_unref(reinterpret_cast<uv_handle_t *>(&child->poll));
  return info.Env().Undefined();
}

// Copies of the child's fds, each above every target: dup2(2) onto a fd's own number would keep
// its FD_CLOEXEC, and one target must not overwrite a source that a later one still reads.
// The copies are close-on-exec themselves; the parent closes them once the child has exec'd.
class SpareFds {
public:
  ~SpareFds() {
    for (int fd : fds_)
      close(fd);
  }

  bool Copy(const std::vector<int> &from) {
    int above = std::max<int>(10, static_cast<int>(from.size()));
    for (int fd : from) {
      int copy = fcntl(fd, F_DUPFD_CLOEXEC, above);
      if (copy < 0) return false;
      fds_.push_back(copy);
    }
    return true;
  }

  const std::vector<int> &fds() const {
    return fds_;
  }

private:
  std::vector<int> fds_;
};

bool ArgFds(const Napi::CallbackInfo &info, size_t i, std::vector<int> *out) {
  if (!info[i].IsArray()) return TypeFail(info.Env(), "childFds", "number[]");
  Napi::Array fds = info[i].As<Napi::Array>();
  for (uint32_t at = 0; at < fds.Length(); at++) {
    Napi::Value fd = fds.Get(at);
    if (!fd.IsNumber() || fd.As<Napi::Number>().Int32Value() < 0)
      return TypeFail(info.Env(), "childFds", "number[] of open fds");
    out->push_back(fd.As<Napi::Number>().Int32Value());
  }
  return true;
}

// The environment, copied on Node's thread: a setenv(3) there (process.env) may free the
// strings and the array under a pool thread that reads `environ`.
class Environment {
public:
  Environment() {
    for (char **e = environ; *e != nullptr; e++)
      strings_.emplace_back(*e);
  }

  std::vector<char *> Pointers() {
    std::vector<char *> out;
    for (std::string &s : strings_)
      out.push_back(s.data());
    out.push_back(nullptr);
    return out;
  }

private:
  std::vector<std::string> strings_;
};

// What a spawn needs, all of it owned: it runs on a thread-pool thread.
struct SpawnRequest {
  std::string path;
  std::vector<std::string> argv;
  std::vector<int> childFds;
  Environment env;
};

// A spawned process and its pidfd, or the failed step and its errno.
struct Spawned {
  pid_t pid = -1;
  int pidfd = -1;
  int error = 0;
  const char *step = "";
};

// posix_spawn(3) of `path` in a session of its own, with every signal at its default and none
// blocked (Node ignores SIGPIPE and blocks some), and fd i of the child a copy of childFds[i];
// then its pidfd. Makes no call into Node: it runs off Node's thread.
Spawned Spawn(SpawnRequest &req) {
  Spawned out;
  SpareFds spare;
  if (!spare.Copy(req.childFds)) {
    out.error = errno;
    out.step = "fcntl";
    return out;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (size_t fd = 0; fd < spare.fds().size(); fd++)
    posix_spawn_file_actions_adddup2(&actions, spare.fds()[fd], static_cast<int>(fd));
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char *> args;
  for (std::string &arg : req.argv)
    args.push_back(arg.data());
  args.push_back(nullptr);
  std::vector<char *> envp = req.env.Pointers();
  int err = posix_spawn(&out.pid, req.path.c_str(), &actions, &attr, args.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    out.error = err;
    out.step = "posix_spawn";
    return out;
  }
  // Until it is reaped the pid is ours, so the pidfd cannot name another process.
  // (syscall(2): glibc 2.36 declares pidfd_open without C linkage for C++.)
  out.pidfd = static_cast<int>(syscall(SYS_pidfd_open, out.pid, 0));
  if (out.pidfd < 0) {
    out.error = errno;
    out.step = "pidfd_open";
    kill(out.pid, SIGKILL);
    waitpid(out.pid, nullptr, 0);
  }
  return out;
}

// Watches the spawned process on Node's loop: `onExit` once it has ended and been reaped.
// Returns the JS process object, or an empty value after throwing.
Napi::Value Watch(Napi::Env env, const Spawned &spawned, Napi::Function onExit) {
  uv_loop_t *loop;
  Child *child = new Child;
  child->env = env;
  child->pid = spawned.pid;
  child->pidfd = spawned.pidfd;
  child->poll.data = child;
  int err = napi_get_uv_event_loop(env, &loop) == napi_ok
                ? uv_poll_init(loop, &child->poll, spawned.pidfd)
                : UV_EINVAL;
  if (err != 0) {
    // It does not fail for a pidfd on a live loop; should it, the child is still reaped.
    kill(spawned.pid, SIGKILL);
    waitpid(spawned.pid, nullptr, 0);
    close(spawned.pidfd);
    delete child;
    Napi::Error::New(env, std::string("uv_poll_init: ") + uv_strerror(err))
        .ThrowAsJavaScriptException();
    return Napi::Value();
  }
  child->onExit = Napi::Persistent(onExit);
  child->context = std::make_unique<Napi::AsyncContext>(env, "tsdock:spawnProcess");
  uv_poll_start(&child->poll, UV_READABLE, OnReadable); // cannot fail on an initialized handle
  napi_add_env_cleanup_hook(env, ForgetEnvironment, child);

  Napi::Object process = Napi::Object::New(env);
  process.Set("pid", Napi::Number::New(env, spawned.pid));
  Napi::Function unref = Napi::Function::New(env, Unref, "unref", child);
  unref.AddFinalizer([](Napi::Env, Child *c) { Release(c); }, child);
  process.Set("unref", unref);
  return process;
}

// The spawn on a thread-pool thread: vfork(2) holds the calling thread until the child has
// exec'd (0.3-0.8 ms here), and Node's thread has other work meanwhile.
class SpawnWorker : public Napi::AsyncWorker {
public:
  SpawnWorker(Napi::Env env, SpawnRequest req, Napi::Function onExit)
      : Napi::AsyncWorker(env), req_(std::move(req)), onExit_(Napi::Persistent(onExit)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() {
    return deferred_.Promise();
  }

protected:
  void Execute() override {
    spawned_ = Spawn(req_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (spawned_.error != 0) {
      deferred_.Reject(ErrnoError(env, spawned_.error, spawned_.step, req_.path).Value());
      return;
    }
    Napi::Value process = Watch(env, spawned_, onExit_.Value());
    if (env.IsExceptionPending())
      deferred_.Reject(env.GetAndClearPendingException().Value());
    else
      deferred_.Resolve(process);
  }

private:
  SpawnRequest req_;
  Spawned spawned_;
  Napi::FunctionReference onExit_;
  Napi::Promise::Deferred deferred_;
};

} // namespace

Napi::Value SpawnProcess(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  SpawnRequest req;
  if (!ArgString(info, 0, "path", &req.path) || !ArgStrings(info, 1, "argv", &req.argv) ||
      !ArgFds(info, 2, &req.childFds))
    return env.Undefined();
  if (!info[3].IsFunction()) return TypeFail(env, "onExit", "function"), env.Undefined();
  auto *worker = new SpawnWorker(env, std::move(req), info[3].As<Napi::Function>());
  Napi::Promise promise = worker->Promise();
  worker->Queue(); // the worker deletes itself when done
  return promise;
}

Napi::Value Socketpair(const Napi::CallbackInfo &info) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    return ThrowErrno(info.Env(), "socketpair", "");
  Napi::Array pair = Napi::Array::New(info.Env(), 2);
  pair.Set(0u, fds[0]);
  pair.Set(1u, fds[1]);
  return pair;
}

} // namespace tsdock
