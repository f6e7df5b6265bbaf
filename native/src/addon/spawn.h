// The addon's process spawning (spawn.cc).
#pragma once

#include <napi.h>

namespace tsdock {

// spawnProcess(path, argv, childFds, onExit): posix_spawn(3), then a pidfd on Node's loop.
Napi::Value SpawnProcess(const Napi::CallbackInfo &info);
// socketpair(): a connected AF_UNIX stream pair, both ends close-on-exec.
Napi::Value Socketpair(const Napi::CallbackInfo &info);

} // namespace tsdock
