#!/usr/bin/env bash
# Installs what building and testing tsdock needs on a fresh Debian host: the Debian packages
# (only those missing, so a ready machine pays nothing) and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# Test and demo tools: iproute2, nftables and util-linux (unshare, nsenter) set up container
# networks; busybox-static is the demo image's content; skopeo and umoci check that
# tsdock's images are standard OCI; clang-format lints the native code; g++/make/python3 build it.
# docker-registry serves the registry tests, with htpasswd (apache2-utils) and openssl for their
# Basic-auth and TLS set-ups; oci-image-tool validates what tsdock pushes; buildah builds the same
# Dockerfiles for the build comparison test; containerd (with ctr and containerd-shim-runc-v2)
# drives tsdock-runtime in the OCI runtime tests. bzip2 and xz-utils decode ADD's bzip2 and xz archives.
packages=(busybox-static skopeo umoci clang-format g++ make python3 iproute2 util-linux nftables docker-registry bzip2 xz-utils
  apache2-utils openssl oci-image-tool buildah containerd)
[ "${TSDOCK_BENCH:-0}" = 1 ] && packages+=(runc crun hyperfine time bc conmon podman)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
