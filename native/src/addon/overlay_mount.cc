// mountOverlay(lower, upper, work, options): a container's overlay rootfs, made on a
// thread-pool thread while Node goes on, as an fd of a detached mount (fsopen, fsconfig,
// fsmount; close-on-exec). The container's child attaches it with move_mount(2) instead of
// mounting the overlay itself: the mount is mostly file-system work in the upper and work dirs
// (overlay checks and makes its work dir), 0.2-2 ms on this kind of host, and this way it
// overlaps the rest of the container's creation instead of following its clone.
// `lower`: absolute paths, top first, each passed on its own ("lowerdir+", Linux 6.8), so that
// no page limit applies; `options`: "key=value" or a flag name, as mount(8) takes them.
#include "overlay_mount.h"

#include "addon.h"

#include <errno.h>
#include <sys/mount.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace tsdock {
namespace {

struct OverlaySpec {
  std::vector<std::string> lower;
  std::string upper;
  std::string work;
  std::vector<std::string> options;
};

// fsconfig(2) of one "key=value" (a string) or "flag".
int SetOption(int fs, const std::string &option) {
  size_t eq = option.find('=');
  if (eq == std::string::npos) return fsconfig(fs, FSCONFIG_SET_FLAG, option.c_str(), nullptr, 0);
  std::string key = option.substr(0, eq);
  return fsconfig(fs, FSCONFIG_SET_STRING, key.c_str(), option.c_str() + eq + 1, 0);
}

int Configure(int fs, const OverlaySpec &spec) {
  // mountinfo's source, as mount(2) of the same overlay shows it.
  if (fsconfig(fs, FSCONFIG_SET_STRING, "source", "overlay", 0) < 0) return -1;
  for (const std::string &dir : spec.lower)
    if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", dir.c_str(), 0) < 0) return -1;
  if (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", spec.upper.c_str(), 0) < 0 ||
      fsconfig(fs, FSCONFIG_SET_STRING, "workdir", spec.work.c_str(), 0) < 0)
    return -1;
  for (const std::string &option : spec.options)
    if (SetOption(fs, option) < 0) return -1;
  return fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0);
}

class MountOverlayWorker : public Napi::AsyncWorker {
public:
  MountOverlayWorker(Napi::Env env, OverlaySpec spec)
      : Napi::AsyncWorker(env), spec_(std::move(spec)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() {
    return deferred_.Promise();
  }

protected:
  void Execute() override {
    int fs = fsopen("overlay", FSOPEN_CLOEXEC);
    if (fs < 0) {
      error_ = errno;
      return;
    }
    if (Configure(fs, spec_) == 0) fd_ = fsmount(fs, FSMOUNT_CLOEXEC, 0);
    if (fd_ < 0) error_ = errno;
    close(fs);
  }

  void OnOK() override {
    if (error_ != 0)
      deferred_.Reject(ErrnoError(Env(), error_, "mount", spec_.upper).Value());
    else
      deferred_.Resolve(Napi::Number::New(Env(), fd_));
  }

private:
  OverlaySpec spec_;
  int fd_ = -1;
  int error_ = 0;
  Napi::Promise::Deferred deferred_;
};

} // namespace

Napi::Value MountOverlay(const Napi::CallbackInfo &info) {
  OverlaySpec spec;
  if (!ArgStrings(info, 0, "lower", &spec.lower) || !ArgString(info, 1, "upper", &spec.upper) ||
      !ArgString(info, 2, "work", &spec.work) || !ArgStrings(info, 3, "options", &spec.options))
    return info.Env().Undefined();
  auto *worker = new MountOverlayWorker(info.Env(), std::move(spec));
  Napi::Promise promise = worker->Promise();
  worker->Queue(); // the worker deletes itself when done
  return promise;
}

} // namespace tsdock
