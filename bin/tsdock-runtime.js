#!/usr/bin/env node
// tsdock-runtime's TypeScript half without the native front end (bin/tsdock-runtime): one
// CommonJS bundle, dist/oci/main.cjs (see Makefile).
import module from 'node:module';

// Node 22+: cache the compiled bundle between calls (every containerd operation is a new process).
module.enableCompileCache?.();
const { main } = module.createRequire(import.meta.url)('../dist/oci/main.cjs');
main(process.argv.slice(2));
