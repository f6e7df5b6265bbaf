# tsdock: the two commands a new user needs are `make demo` and `make test`; each installs
# what it needs first. Everything runs as root (containers need it).

NATIVE_OUT := native/build/Release
NATIVE_SRC := $(shell find native/src native/include -type f) native/binding.gyp
TS_SRC     := $(shell find src images examples -name '*.ts') tsconfig.json tsconfig.build.json
TSDOCK     := node bin/tsdock.js

.PHONY: all deps build lint format test test-native demo bench clean

all: build

deps:
	@scripts/install-deps.sh

$(NATIVE_OUT)/tsdock-monitor $(NATIVE_OUT)/tsdock-runtime $(NATIVE_OUT)/tsdock.node &: $(NATIVE_SRC) | deps
	npx node-gyp rebuild --directory native -j 2 --silent

# The library (dist/src) is plain tsc output. The CLI is one CommonJS bundle (dist/cli/main.cjs;
# modules it imports dynamically are evaluated on first use, through require: a script compiled
# from a code cache loses Node 20's import() callback) that bin/tsdock.js runs through a V8
# code cache (src/cli/code-cache.ts): no per-module resolution, and no compiling after the first
# run of a command. The OCI runtime's Node half (dist/oci/main.cjs, run by bin/tsdock-runtime for
# create, exec and the rest) is one CommonJS file too: containerd starts it for every such
# operation, and one script compiles faster than ESM chunks resolve (a V8 startup snapshot of it
# measured no better).
dist/.built: $(TS_SRC) | deps
	npx tsc -p tsconfig.build.json
	rm -rf dist/cli
	npx esbuild src/cli/main.ts --bundle --format=cjs --platform=node --target=node20 \
	  --outfile=dist/cli/main.cjs --external:undici --external:fzstd --log-level=warning \
	  --supported:dynamic-import=false \
	  --define:import.meta.url=__tsdockUrl \
	  "--banner:js=const __tsdockUrl = require('node:url').pathToFileURL(__filename).href;"
	npx esbuild src/cli/code-cache.ts --bundle --format=cjs --platform=node --target=node20 \
	  --outfile=dist/cli/code-cache.cjs --log-level=warning
	rm -rf dist/oci
	npx esbuild src/oci/main.ts --bundle --format=cjs --platform=node --target=node20 \
	  --outfile=dist/oci/main.cjs --log-level=warning --define:import.meta.url=__tsdockUrl \
	  "--banner:js=const __tsdockUrl = require('node:url').pathToFileURL(__filename).href;" \
	  "--footer:js=if (require.main === module) module.exports.main(process.argv.slice(2));"
	@touch $@

build: deps $(NATIVE_OUT)/tsdock-monitor $(NATIVE_OUT)/tsdock-runtime dist/.built

lint: deps
	npx tsc -p tsconfig.json --noEmit
	npx eslint .
	npx prettier --check .
	$(MAKE) -C native lint

format: deps
	npx prettier --write .
	$(MAKE) -C native format

# The native decoder's unit tests, under AddressSanitizer and UBSan.
test-native:
	$(MAKE) -C native test

test: lint build test-native
	npx vitest run

# The demo: build the bundled busybox image from images/busybox/Dockerfile with `tsdock build`
# (its context, the rootfs, is prepared from the host's busybox-static first), then run it.
demo: build
	node dist/images/busybox/context.js images/busybox
	$(TSDOCK) build -t busybox images/busybox
	$(TSDOCK) images
	$(TSDOCK) run --rm busybox sh -c 'echo "hello from $$(hostname)"; id; ps; ip link; cat /proc/self/cgroup'
	$(TSDOCK) run --rm --memory 32m --pids-limit 20 --cpus 0.5 busybox sh -c '\
	  cd /sys/fs/cgroup; echo "memory limit: $$(cat memory/memory.limit_in_bytes 2>/dev/null || cat memory.max)"; \
	  echo "pids limit: $$(cat pids/pids.max 2>/dev/null || cat pids.max)"'

bench: build
	TSDOCK_BENCH=1 scripts/install-deps.sh
	bench/run-latency
	bench/build
	bench/oci
	bench/lifecycle
	bench/network
	bench/pull

clean:
	rm -rf dist native/build out
