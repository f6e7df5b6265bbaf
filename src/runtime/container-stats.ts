/**
 * `stats` and `top` from a running container's cgroup. CPU % needs two readings; all containers
 * are read, then read again after one short interval, so a one-shot `stats` answers in about
 * that interval whatever the number of containers (Docker waits a second per container).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { openContainerCgroup, type CgroupStats, type ContainerCgroup } from './cgroups/index.js';
import type { ContainerRecord } from './container-record.js';

export interface ContainerStats {
  id: string;
  name: string;
  /** Percent of one CPU over the sampling interval (200 = two CPUs busy), as Docker counts. */
  cpuPercent: number;
  memoryUsage: number;
  /** The cgroup's limit, or the host's memory when there is none. */
  memoryLimit: number;
  pids: number;
  raw: CgroupStats;
}

function hostMemory(): number {
  const match = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

/** One reading per container, a pause, a second reading; CPU % from the difference. */
export async function sampleStats(records: ContainerRecord[], intervalMs = 200): Promise<ContainerStats[]> {
  const cgroups = await Promise.all(
    records.map((r) => openContainerCgroup({ name: r.id, parent: r.options.cgroupParent })),
  );
  const read = (cgroups_: ContainerCgroup[]): Promise<{ at: number; stats: CgroupStats }[]> =>
    Promise.all(cgroups_.map(async (c) => ({ at: performance.now(), stats: await c.stats() })));
  const first = await read(cgroups);
  await sleep(intervalMs);
  const second = await read(cgroups);
  const memTotal = hostMemory();
  return records.map((r, i) => {
    const a = first[i];
    const b = second[i];
    const usedUsec = (b?.stats.cpu?.usageUsec ?? 0) - (a?.stats.cpu?.usageUsec ?? 0);
    const elapsedUsec = ((b?.at ?? 0) - (a?.at ?? 0)) * 1000;
    const limit = b?.stats.memory?.limit;
    return {
      id: r.id,
      name: r.name,
      cpuPercent: elapsedUsec > 0 ? Math.min((usedUsec / elapsedUsec) * 100, availableParallelism() * 100) : 0,
      memoryUsage: b?.stats.memory?.usage ?? 0,
      memoryLimit: typeof limit === 'number' && limit < memTotal ? limit : memTotal,
      pids: b?.stats.pids?.current ?? 0,
      raw: b?.stats ?? {},
    };
  });
}

/** Host pids of every process in the container's cgroup. */
export async function containerPids(record: ContainerRecord): Promise<number[]> {
  const cgroup = await openContainerCgroup({ name: record.id, parent: record.options.cgroupParent });
  const file = cgroup.procsFiles[0];
  if (file === undefined) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .sort((x, y) => x - y);
}
