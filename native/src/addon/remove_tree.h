// The addon's background removal of a directory tree (remove_tree.cc).
#pragma once

#include <napi.h>

namespace tsdock {

// removeTree(path): a promise settled once the tree at path is gone (see remove_tree.cc).
Napi::Value RemoveTree(const Napi::CallbackInfo &info);

} // namespace tsdock
