#!/usr/bin/env node
// The CLI bundle built by `make build` (dist/cli); see Makefile.
import('../dist/cli/main.js').then(({ main }) => main(process.argv.slice(2)));
