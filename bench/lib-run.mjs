// The library path of bench/run-latency: Runtime.run('busybox', ['true']) in one process,
// timed per call. Prints {"min","median","max","times"} in milliseconds.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Runtime } from '../dist/src/index.js';

const { values } = parseArgs({ options: { root: { type: 'string' }, runs: { type: 'string', default: '40' } } });
const runtime = await Runtime.open({ root: values.root });
const run = () =>
  runtime.run('busybox', { command: ['true'], network: 'none', stdio: { stdin: 'ignore', output: 'inherit' } });

for (let i = 0; i < 5; i++) await run(); // warm-up, as hyperfine's --warmup
const times = [];
for (let i = 0; i < Number(values.runs); i++) {
  const start = performance.now();
  const { exitCode } = await run();
  times.push(performance.now() - start);
  if (exitCode !== 0) throw new Error(`run exited ${exitCode}`);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
process.stdout.write(JSON.stringify({ min: times[0], median, max: times[times.length - 1], times }) + '\n');
