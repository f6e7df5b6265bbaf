// The addon's rootfs mounts made ahead of a container's start (overlay_mount.cc).
#pragma once

#include <napi.h>

namespace tsdock {

// mountOverlay(lower, upper, work, options): a promise of an fd of a detached overlay mount
// (see overlay_mount.cc).
Napi::Value MountOverlay(const Napi::CallbackInfo &info);

} // namespace tsdock
