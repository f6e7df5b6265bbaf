#!/usr/bin/env node
// tsdock-runtime, the OCI runtime command line: its own small bundle (dist/oci; see Makefile).
import module from 'node:module';

// Node 22+: cache the compiled bundle between calls (every containerd operation is a new process).
module.enableCompileCache?.();
import('../dist/oci/main.js').then(({ main }) => main(process.argv.slice(2)));
