// What the addon's source files share (defined in addon.cc). A failed syscall throws an Error
// shaped like Node's own fs errors:
//   message "EEXIST: file already exists, mknod '/x'", code 'EEXIST', errno -17 (negative, as
//   Node's), syscall 'mknod', path '/x'.
#pragma once

#include <napi.h>
#include <uv.h>

#include <string>
#include <vector>

namespace tsdock {

Napi::Error ErrnoError(Napi::Env env, int err, const char *syscall, const std::string &path);
// ErrnoError of errno, thrown; returns undefined.
Napi::Value ThrowErrno(Napi::Env env, const char *syscall, const std::string &path);
// Argument checks: each returns false after throwing a TypeError.
bool TypeFail(Napi::Env env, const char *name, const char *type);
bool ArgString(const Napi::CallbackInfo &info, size_t i, const char *name, std::string *out);
bool ArgStrings(const Napi::CallbackInfo &info, size_t i, const char *name,
                std::vector<std::string> *out);
bool ArgUint32(const Napi::CallbackInfo &info, size_t i, const char *name, uint32_t *out);

} // namespace tsdock
