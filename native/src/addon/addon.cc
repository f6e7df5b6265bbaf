// tsdock.node: the few syscalls Node lacks, exactly the NativeAddon interface of src/native.ts.
// Built without C++ exceptions: failures are thrown into JavaScript and the function returns.
// Errors and argument checks are shared with spawn.cc through addon.h.
#include "addon.h"
#include "network_namespace.h"
#include "overlay_mount.h"
#include "remove_tree.h"
#include "spawn.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/openat2.h>
#include <string>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <termios.h>
#include <unistd.h>
#include <vector>

namespace tsdock {

Napi::Error ErrnoError(Napi::Env env, int err, const char *syscall, const std::string &path) {
  // libuv's wording is Node's; strerrorname_np(3) names errnos libuv does not know.
  char text[128];
  uv_strerror_r(-err, text, sizeof(text));
  const char *name = strerrorname_np(err);
  std::string code = name != nullptr ? name : "E" + std::to_string(err);
  std::string message = code + ": " + text + ", " + syscall;
  if (!path.empty()) message += " '" + path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("code", code);
  error.Set("syscall", syscall);
  if (!path.empty()) error.Set("path", path);
  return error;
}

Napi::Value ThrowErrno(Napi::Env env, const char *syscall, const std::string &path) {
  ErrnoError(env, errno, syscall, path).ThrowAsJavaScriptException();
  return env.Undefined();
}

// Argument checks: each returns false after throwing a TypeError.
bool TypeFail(Napi::Env env, const char *name, const char *type) {
  std::string message = std::string("The \"") + name + "\" argument must be of type " + type;
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return false;
}

bool ArgString(const Napi::CallbackInfo &info, size_t i, const char *name, std::string *out) {
  if (!info[i].IsString()) return TypeFail(info.Env(), name, "string");
  *out = info[i].As<Napi::String>().Utf8Value();
  if (out->find('\0') != std::string::npos)
    return TypeFail(info.Env(), name, "string without null bytes");
  return true;
}

bool ArgStrings(const Napi::CallbackInfo &info, size_t i, const char *name,
                std::vector<std::string> *out) {
  if (!info[i].IsArray()) return TypeFail(info.Env(), name, "string[]");
  Napi::Array strings = info[i].As<Napi::Array>();
  for (uint32_t at = 0; at < strings.Length(); at++) {
    Napi::Value s = strings.Get(at);
    if (!s.IsString()) return TypeFail(info.Env(), name, "string[]");
    out->push_back(s.As<Napi::String>().Utf8Value());
    if (out->back().find('\0') != std::string::npos)
      return TypeFail(info.Env(), name, "string[] without null bytes");
  }
  return true;
}

bool ArgUint32(const Napi::CallbackInfo &info, size_t i, const char *name, uint32_t *out) {
  if (!info[i].IsNumber()) return TypeFail(info.Env(), name, "number");
  *out = info[i].As<Napi::Number>().Uint32Value();
  return true;
}

} // namespace tsdock

namespace {

using namespace tsdock;

// "" means "none", which mount(2) spells NULL.
const char *OrNull(const std::string &s) {
  return s.empty() ? nullptr : s.c_str();
}

Napi::Value Mknod(const Napi::CallbackInfo &info) {
  std::string path;
  uint32_t mode, major, minor;
  if (!ArgString(info, 0, "path", &path) || !ArgUint32(info, 1, "mode", &mode) ||
      !ArgUint32(info, 2, "major", &major) || !ArgUint32(info, 3, "minor", &minor))
    return info.Env().Undefined();
  if (mknod(path.c_str(), mode, makedev(major, minor)) < 0)
    return ThrowErrno(info.Env(), "mknod", path);
  return info.Env().Undefined();
}

Napi::Value Lsetxattr(const Napi::CallbackInfo &info) {
  std::string path, name;
  if (!ArgString(info, 0, "path", &path) || !ArgString(info, 1, "name", &name))
    return info.Env().Undefined();
  if (!info[2].IsBuffer()) {
    TypeFail(info.Env(), "value", "Buffer");
    return info.Env().Undefined();
  }
  auto value = info[2].As<Napi::Buffer<char>>();
  if (lsetxattr(path.c_str(), name.c_str(), value.Data(), value.Length(), 0) < 0)
    return ThrowErrno(info.Env(), "lsetxattr", path);
  return info.Env().Undefined();
}

// Runs a size-then-fill xattr call until the value stops growing between the two (ERANGE).
template <typename Call> ssize_t ReadSized(std::vector<char> *buf, Call call) {
  for (;;) {
    ssize_t size = call(nullptr, 0);
    if (size <= 0) return size;
    buf->resize(size);
    ssize_t n = call(buf->data(), buf->size());
    if (n >= 0 || errno != ERANGE) return n;
  }
}

Napi::Value Lgetxattr(const Napi::CallbackInfo &info) {
  std::string path, name;
  if (!ArgString(info, 0, "path", &path) || !ArgString(info, 1, "name", &name))
    return info.Env().Undefined();
  std::vector<char> buf;
  ssize_t n = ReadSized(&buf, [&](char *data, size_t size) {
    return lgetxattr(path.c_str(), name.c_str(), data, size);
  });
  if (n < 0 && errno == ENODATA) return info.Env().Undefined();
  if (n < 0) return ThrowErrno(info.Env(), "lgetxattr", path);
  return Napi::Buffer<char>::Copy(info.Env(), buf.data(), n);
}

Napi::Value Llistxattr(const Napi::CallbackInfo &info) {
  std::string path;
  if (!ArgString(info, 0, "path", &path)) return info.Env().Undefined();
  std::vector<char> buf;
  ssize_t n = ReadSized(
      &buf, [&](char *data, size_t size) { return llistxattr(path.c_str(), data, size); });
  if (n < 0) return ThrowErrno(info.Env(), "llistxattr", path);
  // The names come NUL-terminated, one after the other (listxattr(2)).
  Napi::Array names = Napi::Array::New(info.Env());
  for (ssize_t at = 0; at < n; at += std::strlen(buf.data() + at) + 1)
    names.Set(names.Length(), std::string(buf.data() + at));
  return names;
}

// flock(2) may wait for another holder, so it runs on the libuv pool, never on the loop.
class FlockWorker : public Napi::AsyncWorker {
public:
  FlockWorker(Napi::Env env, int fd, int operation)
      : Napi::AsyncWorker(env), fd_(fd), operation_(operation),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() {
    return deferred_.Promise();
  }

protected:
  void Execute() override {
    while (flock(fd_, operation_) < 0) {
      if (errno != EINTR) {
        errno_ = errno;
        return;
      }
    }
  }

  void OnOK() override {
    if (errno_ != 0)
      deferred_.Reject(ErrnoError(Env(), errno_, "flock", "").Value());
    else
      deferred_.Resolve(Env().Undefined());
  }

private:
  int fd_;
  int operation_;
  int errno_ = 0;
  Napi::Promise::Deferred deferred_;
};

Napi::Value Flock(const Napi::CallbackInfo &info) {
  uint32_t fd;
  std::string operation;
  if (!ArgUint32(info, 0, "fd", &fd) || !ArgString(info, 1, "operation", &operation))
    return info.Env().Undefined();
  int op;
  if (operation == "exclusive")
    op = LOCK_EX;
  else if (operation == "shared")
    op = LOCK_SH;
  else if (operation == "unlock")
    op = LOCK_UN;
  else {
    TypeFail(info.Env(), "operation", "'exclusive', 'shared' or 'unlock'");
    return info.Env().Undefined();
  }
  // A lock nobody holds is taken here and now: a thread-pool round trip costs more than the
  // flock itself, twice on every container start. Only a wait goes to the pool.
  if (flock(static_cast<int>(fd), op | LOCK_NB) == 0) {
    auto taken = Napi::Promise::Deferred::New(info.Env());
    taken.Resolve(info.Env().Undefined());
    return taken.Promise();
  }
  auto *worker = new FlockWorker(info.Env(), static_cast<int>(fd), op);
  Napi::Promise promise = worker->Promise();
  worker->Queue(); // the worker deletes itself when done
  return promise;
}

Napi::Value Mount(const Napi::CallbackInfo &info) {
  std::string source, target, fstype, data;
  if (!ArgString(info, 0, "source", &source) || !ArgString(info, 1, "target", &target) ||
      !ArgString(info, 2, "fstype", &fstype) || !ArgString(info, 4, "data", &data))
    return info.Env().Undefined();
  if (!info[3].IsBigInt()) {
    TypeFail(info.Env(), "flags", "bigint");
    return info.Env().Undefined();
  }
  bool lossless;
  uint64_t flags = info[3].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) {
    Napi::RangeError::New(info.Env(), "The \"flags\" argument must fit in 64 bits")
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (mount(OrNull(source), target.c_str(), OrNull(fstype), flags, OrNull(data)) < 0)
    return ThrowErrno(info.Env(), "mount", target);
  return info.Env().Undefined();
}

// Loads a BPF_PROG_TYPE_CGROUP_DEVICE program (bpf(2), BPF_PROG_LOAD) and attaches it to a
// cgroup v2 directory (BPF_PROG_ATTACH, BPF_F_ALLOW_MULTI: it runs with its ancestors' programs
// and can only narrow what they allow). The attachment keeps the program alive after our fds
// are closed, until the cgroup is removed.
Napi::Value AttachDeviceProgram(const Napi::CallbackInfo &info) {
  std::string dir;
  if (!ArgString(info, 0, "cgroupDir", &dir)) return info.Env().Undefined();
  if (!info[1].IsBuffer()) {
    TypeFail(info.Env(), "program", "Buffer");
    return info.Env().Undefined();
  }
  Napi::Buffer<uint8_t> program = info[1].As<Napi::Buffer<uint8_t>>();
  if (program.Length() == 0 || program.Length() % sizeof(struct bpf_insn) != 0) {
    Napi::RangeError::New(info.Env(), "The \"program\" argument must be whole bpf_insn records")
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  static const char license[] = "Apache-2.0";
  union bpf_attr load;
  memset(&load, 0, sizeof(load));
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(program.Data());
  load.insn_cnt = program.Length() / sizeof(struct bpf_insn);
  load.license = reinterpret_cast<uint64_t>(license);
  int prog = static_cast<int>(syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof(load)));
  if (prog < 0) return ThrowErrno(info.Env(), "bpf", dir);
  int cgroup = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgroup < 0) {
    int err = errno;
    close(prog);
    errno = err;
    return ThrowErrno(info.Env(), "open", dir);
  }
  union bpf_attr attach;
  memset(&attach, 0, sizeof(attach));
  attach.target_fd = static_cast<uint32_t>(cgroup);
  attach.attach_bpf_fd = static_cast<uint32_t>(prog);
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  long rc = syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof(attach));
  int err = errno;
  close(cgroup);
  close(prog);
  errno = err;
  if (rc < 0) return ThrowErrno(info.Env(), "bpf", dir);
  return info.Env().Undefined();
}

long Bpf(int cmd, union bpf_attr *attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int BpfObjGet(const std::string &path) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.pathname = reinterpret_cast<uint64_t>(path.c_str());
  return static_cast<int>(Bpf(BPF_OBJ_GET, &attr));
}

int BpfObjPin(int fd, const std::string &path) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.bpf_fd = static_cast<uint32_t>(fd);
  attr.pathname = reinterpret_cast<uint64_t>(path.c_str());
  return static_cast<int>(Bpf(BPF_OBJ_PIN, &attr));
}

// The map pinned at `path`, else a new one pinned there. -1 with errno on failure.
int PinnedMap(const std::string &path, bpf_map_type type, uint32_t key, uint32_t value,
              uint32_t max) {
  int fd = BpfObjGet(path);
  if (fd >= 0 || errno != ENOENT) return fd;
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_type = type;
  attr.key_size = key;
  attr.value_size = value;
  attr.max_entries = max;
  fd = static_cast<int>(Bpf(BPF_MAP_CREATE, &attr));
  if (fd < 0) return -1;
  if (BpfObjPin(fd, path) < 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// Loads a cgroup sock_addr program whose BPF_PSEUDO_MAP_FD loads name a map by its index in
// `maps`, links it to `cgroup` and pins the link at `path` (the pin, not our fd, keeps it
// attached). An existing pin is kept. False with errno (and the verifier's log) on failure.
bool PinnedSockAddrLink(const std::string &path, int cgroup, bpf_attach_type type,
                        const Napi::Buffer<uint8_t> &program, const int maps[2], std::string *log) {
  int existing = BpfObjGet(path);
  if (existing >= 0) return close(existing), true;
  if (errno != ENOENT) return false;
  std::vector<struct bpf_insn> insns(program.Length() / sizeof(struct bpf_insn));
  memcpy(insns.data(), program.Data(), insns.size() * sizeof(struct bpf_insn));
  for (auto &insn : insns) {
    if (insn.code != (BPF_LD | BPF_IMM | BPF_DW) || insn.src_reg != BPF_PSEUDO_MAP_FD) continue;
    if (insn.imm < 0 || insn.imm > 1) return errno = EINVAL, false;
    insn.imm = maps[insn.imm];
  }
  static const char license[] = "Apache-2.0";
  std::vector<char> verifier(16384);
  union bpf_attr load;
  memset(&load, 0, sizeof(load));
  load.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
  load.expected_attach_type = type;
  load.insns = reinterpret_cast<uint64_t>(insns.data());
  load.insn_cnt = static_cast<uint32_t>(insns.size());
  load.license = reinterpret_cast<uint64_t>(license);
  load.log_buf = reinterpret_cast<uint64_t>(verifier.data());
  load.log_size = static_cast<uint32_t>(verifier.size());
  load.log_level = 1;
  int prog = static_cast<int>(Bpf(BPF_PROG_LOAD, &load));
  if (prog < 0) {
    int err = errno;
    *log = std::string(verifier.data(), strnlen(verifier.data(), verifier.size()));
    return errno = err, false;
  }
  union bpf_attr link;
  memset(&link, 0, sizeof(link));
  link.link_create.prog_fd = static_cast<uint32_t>(prog);
  link.link_create.target_fd = static_cast<uint32_t>(cgroup);
  link.link_create.attach_type = type;
  int fd = static_cast<int>(Bpf(BPF_LINK_CREATE, &link));
  int err = errno;
  close(prog);
  if (fd < 0) return errno = err, false;
  bool pinned = BpfObjPin(fd, path) == 0;
  err = errno;
  close(fd);
  errno = err;
  return pinned;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

// The socket-level published ports (see src/network/socket-lb.ts): makes or reuses the maps
// and links pinned under `pinDir` and sets the services map to exactly `entries` (24-byte
// records: a 16-byte key whose first 8 bytes, the network namespace cookie, are ours to fill
// with this process's, and an 8-byte value).
Napi::Value SocketLbSync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string pinDir, cgroupDir;
  if (!ArgString(info, 0, "pinDir", &pinDir) || !ArgString(info, 1, "cgroupDir", &cgroupDir))
    return env.Undefined();
  for (size_t i = 2; i <= 4; i++)
    if (!info[i].IsBuffer()) return TypeFail(env, "program and entries", "Buffer"), env.Undefined();
  auto connect4 = info[2].As<Napi::Buffer<uint8_t>>();
  auto getpeername4 = info[3].As<Napi::Buffer<uint8_t>>();
  auto entries = info[4].As<Napi::Buffer<uint8_t>>();
  const size_t key = 16, value = 8;
  if (entries.Length() % (key + value) != 0) {
    Napi::RangeError::New(env, "The \"entries\" argument must be whole 24-byte records")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint64_t cookie = 0;
  socklen_t cookieLen = sizeof(cookie);
  int probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return ThrowErrno(env, "socket", "");
  int rc = getsockopt(probe, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &cookieLen);
  int err = errno;
  close(probe);
  if (rc < 0) return errno = err, ThrowErrno(env, "getsockopt SO_NETNS_COOKIE", "");

  int maps[2] = {PinnedMap(pinDir + "/services", BPF_MAP_TYPE_HASH, key, value, 4096), -1};
  if (maps[0] < 0) return ThrowErrno(env, "bpf", pinDir + "/services");
  maps[1] = PinnedMap(pinDir + "/peers", BPF_MAP_TYPE_LRU_HASH, 16, 8, 65536);
  if (maps[1] < 0) {
    err = errno;
    close(maps[0]);
    return errno = err, ThrowErrno(env, "bpf", pinDir + "/peers");
  }
  auto closeMaps = [&maps]() {
    int saved = errno;
    close(maps[0]);
    close(maps[1]);
    errno = saved;
  };
  int cgroup = open(cgroupDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgroup < 0) return closeMaps(), ThrowErrno(env, "open", cgroupDir);
  std::string log;
  const char *failed = nullptr;
  if (!PinnedSockAddrLink(pinDir + "/connect4", cgroup, BPF_CGROUP_INET4_CONNECT, connect4, maps,
                          &log))
    failed = "/connect4";
  else if (!PinnedSockAddrLink(pinDir + "/getpeername4", cgroup, BPF_CGROUP_INET4_GETPEERNAME,
                               getpeername4, maps, &log))
    failed = "/getpeername4";
  err = errno;
  close(cgroup);
  if (failed != nullptr) {
    closeMaps();
    Napi::Error error = ErrnoError(env, err, "bpf", pinDir + failed);
    error.Set("verifierLog", log);
    error.ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // Delete what is no longer wanted (keys gathered first: deleting while walking a hash map
  // restarts the walk), then write what is.
  std::vector<uint8_t> wanted(entries.Data(), entries.Data() + entries.Length());
  for (size_t at = 0; at < wanted.size(); at += key + value)
    memcpy(&wanted[at], &cookie, 8);
  std::vector<std::vector<uint8_t>> present;
  std::vector<uint8_t> cursor(key), next(key);
  union bpf_attr attr;
  for (bool first = true;; first = false) {
    memset(&attr, 0, sizeof(attr));
    attr.map_fd = static_cast<uint32_t>(maps[0]);
    attr.key = first ? 0 : reinterpret_cast<uint64_t>(cursor.data());
    attr.next_key = reinterpret_cast<uint64_t>(next.data());
    if (Bpf(BPF_MAP_GET_NEXT_KEY, &attr) < 0) break;
    present.push_back(next);
    cursor = next;
  }
  const char *step = nullptr;
  for (const auto &k : present) {
    bool keep = false;
    for (size_t at = 0; at < wanted.size() && !keep; at += key + value)
      keep = memcmp(&wanted[at], k.data(), key) == 0;
    if (keep) continue;
    memset(&attr, 0, sizeof(attr));
    attr.map_fd = static_cast<uint32_t>(maps[0]);
    attr.key = reinterpret_cast<uint64_t>(k.data());
    if (Bpf(BPF_MAP_DELETE_ELEM, &attr) < 0 && errno != ENOENT) step = "/services";
  }
  for (size_t at = 0; at < wanted.size() && step == nullptr; at += key + value) {
    memset(&attr, 0, sizeof(attr));
    attr.map_fd = static_cast<uint32_t>(maps[0]);
    attr.key = reinterpret_cast<uint64_t>(&wanted[at]);
    attr.value = reinterpret_cast<uint64_t>(&wanted[at + key]);
    attr.flags = BPF_ANY;
    if (Bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0) step = "/services";
  }
  closeMaps();
  if (step != nullptr) return ThrowErrno(env, "bpf", pinDir + step);
  return env.Undefined();
}

Napi::Value Umount2(const Napi::CallbackInfo &info) {
  std::string target;
  uint32_t flags;
  if (!ArgString(info, 0, "target", &target) || !ArgUint32(info, 1, "flags", &flags))
    return info.Env().Undefined();
  if (umount2(target.c_str(), static_cast<int>(flags)) < 0)
    return ThrowErrno(info.Env(), "umount2", target);
  return info.Env().Undefined();
}

// Node's setRawMode (libuv's raw mode) keeps ONLCR, so a container's bare "\n" (xterm's cursor
// down) would also return the cursor to column 0. After setRawMode(true) this turns all output
// processing off, as cfmakeraw(3) does; setRawMode(false) and Node's exit restore what libuv saved.
Napi::Value RawOutput(const Napi::CallbackInfo &info) {
  uint32_t fd = 0;
  if (!ArgUint32(info, 0, "fd", &fd)) return info.Env().Undefined();
  struct termios t;
  if (tcgetattr(static_cast<int>(fd), &t) < 0) return ThrowErrno(info.Env(), "tcgetattr", "");
  t.c_oflag &= ~OPOST;
  if (tcsetattr(static_cast<int>(fd), TCSADRAIN, &t) < 0)
    return ThrowErrno(info.Env(), "tcsetattr", "");
  return info.Env().Undefined();
}

// Reads a regular file of a container's root without ever leaving it: openat2(2) with
// RESOLVE_IN_ROOT makes ".." and absolute symlinks stop at `root`, as they would for a process
// inside, and RESOLVE_NO_MAGICLINKS refuses /proc/self/fd-style jumps. Reading
// /proc/<pid>/root/etc/passwd instead would follow an absolute symlink to the host's file.
// Returns undefined when there is no regular file there; at most `limit` bytes are read.
Napi::Value ReadFileInRoot(const Napi::CallbackInfo &info) {
  std::string root, path;
  uint32_t limit;
  if (!ArgString(info, 0, "root", &root) || !ArgString(info, 1, "path", &path) ||
      !ArgUint32(info, 2, "limit", &limit))
    return info.Env().Undefined();
  int dir = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return ThrowErrno(info.Env(), "open", root);
  struct open_how how;
  memset(&how, 0, sizeof(how));
  how.flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(syscall(SYS_openat2, dir, path.c_str(), &how, sizeof(how)));
  int err = errno;
  close(dir);
  if (fd < 0) {
    if (err == ENOENT || err == ENOTDIR) return info.Env().Undefined();
    errno = err;
    return ThrowErrno(info.Env(), "openat2", root + "/" + path);
  }
  // A fifo or device there must neither hang nor be read: only regular files count.
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return info.Env().Undefined();
  }
  std::vector<char> data(limit);
  size_t have = 0;
  while (have < data.size()) {
    ssize_t n = read(fd, data.data() + have, data.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      close(fd);
      errno = err;
      return ThrowErrno(info.Env(), "read", root + "/" + path);
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  close(fd);
  return Napi::Buffer<char>::Copy(info.Env(), data.data(), have);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("mknod", Napi::Function::New(env, Mknod, "mknod"));
  exports.Set("lsetxattr", Napi::Function::New(env, Lsetxattr, "lsetxattr"));
  exports.Set("lgetxattr", Napi::Function::New(env, Lgetxattr, "lgetxattr"));
  exports.Set("llistxattr", Napi::Function::New(env, Llistxattr, "llistxattr"));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("mount", Napi::Function::New(env, Mount, "mount"));
  exports.Set("umount2", Napi::Function::New(env, Umount2, "umount2"));
  exports.Set("attachDeviceProgram",
              Napi::Function::New(env, AttachDeviceProgram, "attachDeviceProgram"));
  exports.Set("socketLbSync", Napi::Function::New(env, SocketLbSync, "socketLbSync"));
  exports.Set("readFileInRoot", Napi::Function::New(env, ReadFileInRoot, "readFileInRoot"));
  exports.Set("rawOutput", Napi::Function::New(env, RawOutput, "rawOutput"));
  exports.Set("spawnProcess", Napi::Function::New(env, SpawnProcess, "spawnProcess"));
  exports.Set("socketpair", Napi::Function::New(env, Socketpair, "socketpair"));
  exports.Set("removeTree", Napi::Function::New(env, RemoveTree, "removeTree"));
  exports.Set("mountOverlay", Napi::Function::New(env, MountOverlay, "mountOverlay"));
  exports.Set("newNetworkNamespace",
              Napi::Function::New(env, NewNetworkNamespace, "newNetworkNamespace"));
  return exports;
}

} // namespace

NODE_API_MODULE(tsdock, Init)
