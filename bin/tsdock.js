#!/usr/bin/env node
// The CLI is one CommonJS bundle (dist/cli/main.cjs, built by `make build`), run through a V8
// code cache by dist/cli/code-cache.cjs (src/cli/code-cache.ts).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/cli/main.cjs', import.meta.url));
createRequire(import.meta.url)('../dist/cli/code-cache.cjs').runCached(bundle, process.argv.slice(2));
