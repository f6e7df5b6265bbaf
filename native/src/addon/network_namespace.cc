// newNetworkNamespace(): a new network namespace, made on a thread-pool thread while Node goes
// on, as an fd (close-on-exec). A container of its own network (--network none) joins it instead
// of making one in its clone: making one is most of a clone's cost (about 0.5 ms here), and this
// way it overlaps the container's creation. Docker's sandbox for --network none is the same idea.
#include "network_namespace.h"

#include "addon.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

namespace tsdock {
namespace {

struct Made {
  int fd = -1;
  int error = 0;
};

// unshare(2) moves its calling thread into the namespace: a thread of its own, which ends with
// it, so that no thread of Node's pool carries the namespace into later work (getaddrinfo).
void *MakeNamespace(void *arg) {
  auto *made = static_cast<Made *>(arg);
  if (unshare(CLONE_NEWNET) != 0) {
    made->error = errno;
    return nullptr;
  }
  made->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (made->fd < 0) made->error = errno;
  return nullptr;
}

class NewNetworkNamespaceWorker : public Napi::AsyncWorker {
public:
  explicit NewNetworkNamespaceWorker(Napi::Env env)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() {
    return deferred_.Promise();
  }

protected:
  void Execute() override {
    pthread_t thread;
    int rc = pthread_create(&thread, nullptr, MakeNamespace, &made_);
    if (rc != 0) {
      made_.error = rc;
      return;
    }
    pthread_join(thread, nullptr);
  }

  void OnOK() override {
    if (made_.error != 0)
      deferred_.Reject(ErrnoError(Env(), made_.error, "unshare", "network namespace").Value());
    else
      deferred_.Resolve(Napi::Number::New(Env(), made_.fd));
  }

private:
  Made made_;
  Napi::Promise::Deferred deferred_;
};

} // namespace

Napi::Value NewNetworkNamespace(const Napi::CallbackInfo &info) {
  auto *worker = new NewNetworkNamespaceWorker(info.Env());
  Napi::Promise promise = worker->Promise();
  worker->Queue(); // the worker deletes itself when done
  return promise;
}

} // namespace tsdock
