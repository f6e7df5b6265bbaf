/**
 * `stats` and `top` from a running container's cgroup. CPU % needs two readings; all containers
 * are read, then read again after one short interval, so a one-shot `stats` answers in about
 * that interval whatever the number of containers (Docker waits a second per container).
 */
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { openContainerCgroup, type CgroupStats, type ContainerCgroup } from './cgroups/index.js';
import type { IoBytes } from './cgroups/io-stats.js';
import type { ContainerRecord } from './container-record.js';

export interface ContainerStats {
  id: string;
  name: string;
  /** Bytes received and sent on the container's interfaces (its network namespace, lo excluded). */
  netRx: number;
  netTx: number;
  /** Bytes read from and written to block devices by the container's processes. */
  blockRead: number;
  blockWrite: number;
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

/**
 * Receive and transmit bytes of every interface but `lo` in `/proc/net/dev` format (proc(5):
 * after "name:", field 1 is received bytes and field 9 transmitted bytes).
 */
export function parseNetDev(text: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim() === 'lo') continue;
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    rx += Number(fields[0] ?? 0);
    tx += Number(fields[8] ?? 0);
  }
  return { rx, tx };
}

/** The network counters of the namespace `pid` is in; none when it is gone or shares the host's. */
function netIo(pid: number): { rx: number; tx: number } {
  if (pid <= 0) return { rx: 0, tx: 0 };
  try {
    if (statSync(`/proc/${pid}/ns/net`).ino === statSync('/proc/self/ns/net').ino) return { rx: 0, tx: 0 };
    return parseNetDev(readFileSync(`/proc/${pid}/net/dev`, 'utf8'));
  } catch {
    return { rx: 0, tx: 0 };
  }
}

/**
 * Storage bytes the processes caused (proc(5) `/proc/<pid>/io`: read_bytes, write_bytes). A
 * process's counters include its reaped children, and a pid namespace's init reaps every orphan,
 * so the live processes account for the exited ones too.
 */
function processIo(pids: number[]): IoBytes {
  const out: IoBytes = { readBytes: 0, writeBytes: 0 };
  for (const pid of pids) {
    try {
      const text = readFileSync(`/proc/${pid}/io`, 'utf8');
      out.readBytes += Number(/^read_bytes: (\d+)$/m.exec(text)?.[1] ?? 0);
      out.writeBytes += Number(/^write_bytes: (\d+)$/m.exec(text)?.[1] ?? 0);
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}

/**
 * Block I/O from the cgroup (v2 io.stat, v1 blkio.throttle.io_service_bytes). Recent kernels count
 * v1 blkio only while blk-throttle is active on a device (a limit set somewhere), so a cgroup that
 * reports nothing falls back to its processes' own counters.
 */
function blockIo(stats: CgroupStats | undefined, cgroup: ContainerCgroup | undefined): IoBytes {
  const io = stats?.io;
  if (io !== undefined && io.readBytes + io.writeBytes > 0) return io;
  return processIo(cgroup === undefined ? [] : pidsIn(cgroup));
}

/** A running container to sample: its record and its init's host pid. */
export interface StatsTarget {
  record: ContainerRecord;
  pid: number;
}

/** One reading per container, a pause, a second reading; CPU % from the difference. */
export async function sampleStats(targets: StatsTarget[], intervalMs = 200): Promise<ContainerStats[]> {
  const records = targets.map((t) => t.record);
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
    const net = netIo(targets[i]?.pid ?? 0);
    const io = blockIo(b?.stats, cgroups[i]);
    return {
      id: r.id,
      name: r.name,
      netRx: net.rx,
      netTx: net.tx,
      blockRead: io.readBytes,
      blockWrite: io.writeBytes,
      cpuPercent: elapsedUsec > 0 ? Math.min((usedUsec / elapsedUsec) * 100, availableParallelism() * 100) : 0,
      memoryUsage: b?.stats.memory?.usage ?? 0,
      memoryLimit: typeof limit === 'number' && limit < memTotal ? limit : memTotal,
      pids: b?.stats.pids?.current ?? 0,
      raw: b?.stats ?? {},
    };
  });
}

function pidsIn(cgroup: ContainerCgroup): number[] {
  const file = cgroup.procsFiles[0];
  if (file === undefined) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .sort((x, y) => x - y);
}

/** Host pids of every process in the container's cgroup. */
export async function containerPids(record: ContainerRecord): Promise<number[]> {
  return pidsIn(await openContainerCgroup({ name: record.id, parent: record.options.cgroupParent }));
}
