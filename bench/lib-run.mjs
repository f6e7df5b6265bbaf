// The library path of bench/run-latency: Runtime.run('busybox', ['true']) in one process.
// A library lives in a long-running process (an orchestrator), so it is measured warm: after
// --warmup calls, when V8 has compiled its hot code. The first calls of a fresh process pay for
// that compilation; they are timed too and reported as `early` (calls 2 to 11: the first one also
// loads the runtime's lazily imported modules).
// Prints {"min","median","max","times","early"} in milliseconds.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Runtime } from '../dist/src/index.js';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    runs: { type: 'string', default: '40' },
    warmup: { type: 'string', default: '100' },
  },
});
const runtime = await Runtime.open({ root: values.root });
const run = () =>
  runtime.run('busybox', { command: ['true'], network: 'none', stdio: { stdin: 'ignore', output: 'inherit' } });

async function timed(count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const { exitCode } = await run();
    times.push(performance.now() - start);
    if (exitCode !== 0) throw new Error(`run exited ${exitCode}`);
  }
  return times.sort((a, b) => a - b);
}

await run();
const early = await timed(10);
for (let i = 0; i < Number(values.warmup); i++) await run();
const times = await timed(Number(values.runs));
const median = times[Math.floor(times.length / 2)];
process.stdout.write(JSON.stringify({ min: times[0], median, max: times[times.length - 1], times, early }) + '\n');
