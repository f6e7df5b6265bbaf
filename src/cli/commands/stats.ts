/** `tsdock stats --no-stream [CONTAINER...]`: one reading of CPU, memory, I/O and pids per container. */
import { TsdockError } from '../../errors.js';
import { Runtime } from '../../index.js';
import type { GlobalOptions } from '../main.js';
import { humanSize, table } from '../render.js';

/** `12.5MiB`: Docker prints memory in powers of 1024. */
export function binarySize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(2)}${units[unit] ?? ''}`;
}

export async function stats(
  globals: GlobalOptions,
  refs: string[],
  flags: { stream?: boolean; format?: string },
): Promise<void> {
  if (flags.stream !== false) throw new TsdockError('INVALID_ARGUMENT', 'only stats --no-stream is supported yet');
  const runtime = await Runtime.open({ root: globals.root });
  const all = await runtime.stats(refs);
  if (flags.format === 'json') {
    for (const s of all) {
      const line = { ID: s.id.slice(0, 12), Name: s.name, CPUPerc: s.cpuPercent, MemUsage: s.memoryUsage };
      const io = { NetRx: s.netRx, NetTx: s.netTx, BlockRead: s.blockRead, BlockWrite: s.blockWrite };
      process.stdout.write(JSON.stringify({ ...line, MemLimit: s.memoryLimit, ...io, PIDs: s.pids }) + '\n');
    }
    return;
  }
  const rows = all.map((s) => [
    s.id.slice(0, 12),
    s.name,
    `${s.cpuPercent.toFixed(2)}%`,
    `${binarySize(s.memoryUsage)} / ${binarySize(s.memoryLimit)}`,
    `${s.memoryLimit > 0 ? ((s.memoryUsage / s.memoryLimit) * 100).toFixed(2) : '0.00'}%`,
    `${humanSize(s.netRx)} / ${humanSize(s.netTx)}`,
    `${humanSize(s.blockRead)} / ${humanSize(s.blockWrite)}`,
    String(s.pids),
  ]);
  const header = ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS'];
  process.stdout.write(table(header, rows));
}
