// The addon's network namespaces made ahead of a container's start (network_namespace.cc).
#pragma once

#include <napi.h>

namespace tsdock {

// newNetworkNamespace(): a promise of an fd of a new network namespace (see
// network_namespace.cc).
Napi::Value NewNetworkNamespace(const Napi::CallbackInfo &info);

} // namespace tsdock
