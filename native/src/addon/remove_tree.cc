// removeTree(path): `rm -rf` of a directory on a thread-pool thread, at the lowest CPU and I/O
// priority, settled once with the first failure. A container's removal hands its directory here:
// freeing a dozen files is journal work that should yield to the next container's start, and one
// completion wakes Node's loop instead of one per file.
#include "remove_tree.h"

#include "addon.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tsdock {
namespace {

// ioprio_set(2) has no glibc wrapper; these are its uapi constants (linux/ioprio.h).
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassShift = 13;
constexpr int kIoprioClassIdle = 3;

// The first failure nftw's callback met: nftw itself only says that one happened.
thread_local int first_error;
thread_local char first_path[4096];

int RemoveEntry(const char *path, const struct stat *, int, struct FTW *) {
  if (remove(path) == 0 || errno == ENOENT) return 0;
  if (first_error == 0) {
    first_error = errno;
    snprintf(first_path, sizeof(first_path), "%s", path);
  }
  return 0; // the rest goes regardless
}

class RemoveTreeWorker : public Napi::AsyncWorker {
public:
  RemoveTreeWorker(Napi::Env env, std::string path)
      : Napi::AsyncWorker(env), path_(std::move(path)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() {
    return deferred_.Promise();
  }

protected:
  void Execute() override {
    // This pool thread runs Node's other work afterwards: its priorities are put back, which
    // takes CAP_SYS_NICE (root), so only root lowers them.
    pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
    bool lower = geteuid() == 0;
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    bool reniced =
        lower && errno == 0 && setpriority(PRIO_PROCESS, static_cast<id_t>(tid), 19) == 0;
    long ioprio = lower ? syscall(SYS_ioprio_get, kIoprioWhoProcess, tid) : -1;
    bool idled = ioprio >= 0 && syscall(SYS_ioprio_set, kIoprioWhoProcess, tid,
                                        kIoprioClassIdle << kIoprioClassShift) == 0;
    first_error = 0;
    first_path[0] = '\0';
    // Depth first, never following a symlink or crossing into another mount.
    if (nftw(path_.c_str(), RemoveEntry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0 &&
        errno != ENOENT && first_error == 0) {
      first_error = errno;
      snprintf(first_path, sizeof(first_path), "%s", path_.c_str());
    }
    error_ = first_error;
    error_path_ = first_path;
    if (idled) syscall(SYS_ioprio_set, kIoprioWhoProcess, tid, ioprio);
    if (reniced) setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice);
  }

  void OnOK() override {
    if (error_ != 0)
      deferred_.Reject(ErrnoError(Env(), error_, "remove", error_path_).Value());
    else
      deferred_.Resolve(Env().Undefined());
  }

private:
  std::string path_;
  int error_ = 0;
  std::string error_path_;
  Napi::Promise::Deferred deferred_;
};

} // namespace

Napi::Value RemoveTree(const Napi::CallbackInfo &info) {
  std::string path;
  if (!ArgString(info, 0, "path", &path)) return info.Env().Undefined();
  auto *worker = new RemoveTreeWorker(info.Env(), path);
  Napi::Promise promise = worker->Promise();
  worker->Queue(); // the worker deletes itself when done
  return promise;
}

} // namespace tsdock
