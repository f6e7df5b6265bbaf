// The addon's process spawning (spawn.cc).
#pragma once

#include <napi.h>

namespace tsdock {

// spawnProcess(path, argv, childFds, onExit): a promise of the process, spawned with
// posix_spawn(3) on a thread-pool thread, then watched through a pidfd on Node's loop.
Napi::Value SpawnProcess(const Napi::CallbackInfo &info);
// socketpair(): a connected AF_UNIX stream pair, both ends close-on-exec.
Napi::Value Socketpair(const Napi::CallbackInfo &info);

} // namespace tsdock
