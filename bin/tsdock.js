#!/usr/bin/env node
import('../dist/src/cli/main.js').then(({ main }) => main(process.argv.slice(2)));
