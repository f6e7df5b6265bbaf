/**
 * One suite, both drivers (the youki / containerd-snapshotter way): a temp directory stands in
 * for cgroupfs, holding the files the kernel would create with their default contents; each case
 * writes limits, reads the files back, and checks that v1 and v2 mean the same thing.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TsdockError } from '../../src/errors.js';
import type { Controller } from '../../src/runtime/cgroups/detect.js';
import type { AppliedLimits, CgroupDriver, CgroupStats } from '../../src/runtime/cgroups/driver.js';
import type { CgroupLimits } from '../../src/runtime/cgroups/limits.js';
import { writeCgroupValues } from '../../src/runtime/cgroups/cgroupfs.js';
import { V1Cgroup } from '../../src/runtime/cgroups/v1.js';
import { V2Cgroup } from '../../src/runtime/cgroups/v2.js';

const MiB = 1024 * 1024;
/** v1's "no limit" for page counters: PAGE_COUNTER_MAX * PAGE_SIZE on 64-bit. */
const V1_UNLIMITED = '9223372036854771712';

/** What a fixture's cgroup has been doing, to be written in each driver's own format. */
interface Usage {
  memory: number;
  peak: number;
  oomKills: number;
  cpuUsec: number;
  periods: number;
  throttledPeriods: number;
  throttledUsec: number;
  pids: number;
  readBytes: number;
  writeBytes: number;
}

interface Fixture {
  driver: CgroupDriver;
  /** The path of a file by its name in this driver's layout. */
  file(name: string): string;
  /** The files each limit lands in, by CgroupLimits field. */
  limitFiles: Record<'memory' | 'swap' | 'cpuQuota' | 'cpuShares' | 'cpuset' | 'pids', string>;
  setUsage(usage: Usage): Promise<void>;
}

async function populate(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
}

/** A v1 layout: one directory per hierarchy, cpu and cpuacct comounted as on most v1 hosts. */
async function v1Fixture(root: string): Promise<Fixture> {
  const dirs: Partial<Record<Controller, string>> = {
    memory: join(root, 'memory/c'),
    cpu: join(root, 'cpu,cpuacct/c'),
    cpuacct: join(root, 'cpu,cpuacct/c'),
    cpuset: join(root, 'cpuset/c'),
    pids: join(root, 'pids/c'),
    freezer: join(root, 'freezer/c'),
    blkio: join(root, 'blkio/c'),
  };
  const at = (controller: Controller, name: string): string => join(dirs[controller] ?? '', name);
  await populate(dirs.memory ?? '', {
    'cgroup.procs': '',
    'memory.limit_in_bytes': `${V1_UNLIMITED}\n`,
    'memory.memsw.limit_in_bytes': `${V1_UNLIMITED}\n`,
    'memory.usage_in_bytes': '0\n',
    'memory.max_usage_in_bytes': '0\n',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
  });
  await populate(dirs.cpu ?? '', {
    'cgroup.procs': '',
    'cpu.cfs_quota_us': '-1\n',
    'cpu.cfs_period_us': '100000\n',
    'cpu.shares': '1024\n',
    'cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\nnr_bursts 0\nburst_time 0\n',
    'cpuacct.usage': '0\n',
  });
  // As after the cpuset hook: the parent's cpus and mems copied down.
  await populate(dirs.cpuset ?? '', { 'cgroup.procs': '', 'cpuset.cpus': '0-1\n', 'cpuset.mems': '0\n' });
  await populate(dirs.pids ?? '', { 'cgroup.procs': '', 'pids.max': 'max\n', 'pids.current': '0\n' });
  await populate(dirs.freezer ?? '', { 'cgroup.procs': '', 'freezer.state': 'THAWED\n' });
  await populate(dirs.blkio ?? '', { 'cgroup.procs': '', 'blkio.throttle.io_service_bytes': 'Total 0\n' });
  return {
    driver: new V1Cgroup(dirs),
    file: (name) => {
      const controller = name.startsWith('cpuacct') ? 'cpuacct' : (name.split('.')[0] as Controller);
      return at(controller, name);
    },
    limitFiles: {
      memory: 'memory.limit_in_bytes',
      swap: 'memory.memsw.limit_in_bytes',
      cpuQuota: 'cpu.cfs_quota_us',
      cpuShares: 'cpu.shares',
      cpuset: 'cpuset.cpus',
      pids: 'pids.max',
    },
    async setUsage(u) {
      await writeFile(at('memory', 'memory.usage_in_bytes'), `${u.memory}\n`);
      await writeFile(at('memory', 'memory.max_usage_in_bytes'), `${u.peak}\n`);
      await writeFile(at('memory', 'memory.oom_control'), `oom_kill_disable 0\nunder_oom 0\noom_kill ${u.oomKills}\n`);
      await writeFile(at('cpuacct', 'cpuacct.usage'), `${u.cpuUsec * 1000 + 999}\n`);
      await writeFile(
        at('cpu', 'cpu.stat'),
        `nr_periods ${u.periods}\nnr_throttled ${u.throttledPeriods}\nthrottled_time ${u.throttledUsec * 1000}\n`,
      );
      await writeFile(at('pids', 'pids.current'), `${u.pids}\n`);
      const devices = (read: number, write: number): string[] =>
        ['8:0', '8:16'].flatMap((d) => [`${d} Read ${read}`, `${d} Write ${write}`, `${d} Sync 0`, `${d} Total 0`]);
      await writeFile(
        at('blkio', 'blkio.throttle.io_service_bytes'),
        [...devices(u.readBytes / 2, u.writeBytes / 2), 'Total 0', ''].join('\n'),
      );
    },
  };
}

/** A v2 layout: one directory with every controller enabled, as on a pure v2 host. */
async function v2Fixture(root: string): Promise<Fixture> {
  const dir = join(root, 'unified/c');
  await populate(dir, {
    'cgroup.procs': '',
    'cgroup.events': 'populated 0\nfrozen 0\n',
    'cgroup.freeze': '0\n',
    'cgroup.kill': '',
    'memory.max': 'max\n',
    'memory.swap.max': 'max\n',
    'memory.current': '0\n',
    'memory.peak': '0\n',
    'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n',
    'cpu.max': 'max 100000\n',
    'cpu.weight': '100\n',
    'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n',
    'cpuset.cpus': '\n',
    'pids.max': 'max\n',
    'pids.current': '0\n',
    'io.stat': '',
  });
  const serves = new Set<Controller>(['memory', 'cpu', 'cpuacct', 'cpuset', 'pids', 'freezer', 'devices', 'blkio']);
  return {
    driver: new V2Cgroup(dir, serves),
    file: (name) => join(dir, name),
    limitFiles: {
      memory: 'memory.max',
      swap: 'memory.swap.max',
      cpuQuota: 'cpu.max',
      cpuShares: 'cpu.weight',
      cpuset: 'cpuset.cpus',
      pids: 'pids.max',
    },
    async setUsage(u) {
      await writeFile(join(dir, 'memory.current'), `${u.memory}\n`);
      await writeFile(join(dir, 'memory.peak'), `${u.peak}\n`);
      await writeFile(join(dir, 'memory.events'), `low 0\nhigh 0\nmax 3\noom 2\noom_kill ${u.oomKills}\n`);
      await writeFile(
        join(dir, 'cpu.stat'),
        `usage_usec ${u.cpuUsec}\nuser_usec 1\nsystem_usec 2\nnr_periods ${u.periods}\nnr_throttled ${u.throttledPeriods}\nthrottled_usec ${u.throttledUsec}\n`,
      );
      await writeFile(join(dir, 'pids.current'), `${u.pids}\n`);
      await writeFile(
        join(dir, 'io.stat'),
        `8:16 rbytes=${u.readBytes / 2} wbytes=${u.writeBytes / 2} rios=1 wios=1 dbytes=0 dios=0\n` +
          `8:0 rbytes=${u.readBytes / 2} wbytes=${u.writeBytes / 2} rios=1 wios=1 dbytes=0 dios=0\n`,
      );
    },
  };
}

/**
 * Each case: the limits, the raw content each driver must write (by `limitFiles` key), and
 * what both must read back.
 */
interface Case {
  name: string;
  limits: CgroupLimits;
  v1: Partial<Record<keyof Fixture['limitFiles'], string>>;
  v2: Partial<Record<keyof Fixture['limitFiles'], string>>;
  applied: AppliedLimits;
}

const cases: Case[] = [
  {
    name: 'nothing asked: the defaults stay',
    limits: {},
    v1: { memory: V1_UNLIMITED, swap: V1_UNLIMITED, cpuQuota: '-1', pids: 'max' },
    v2: { memory: 'max', swap: 'max', cpuQuota: 'max 100000', pids: 'max' },
    applied: { memory: 'max', memorySwap: 'max', cpuQuota: 'max', cpuPeriod: 100_000, pidsLimit: 'max' },
  },
  {
    name: 'memory 32m, swap by Docker default (twice the memory)',
    limits: { memory: 32 * MiB },
    v1: { memory: `${32 * MiB}`, swap: `${64 * MiB}` },
    v2: { memory: `${32 * MiB}`, swap: `${32 * MiB}` },
    applied: { memory: 32 * MiB, memorySwap: 64 * MiB },
  },
  {
    name: 'memory 32m, swap 48m total',
    limits: { memory: 32 * MiB, memorySwap: 48 * MiB },
    v1: { memory: `${32 * MiB}`, swap: `${48 * MiB}` },
    v2: { memory: `${32 * MiB}`, swap: `${16 * MiB}` },
    applied: { memory: 32 * MiB, memorySwap: 48 * MiB },
  },
  {
    name: 'memory-swap equal to memory: no swap',
    limits: { memory: 32 * MiB, memorySwap: 32 * MiB },
    v1: { swap: `${32 * MiB}` },
    v2: { swap: '0' },
    applied: { memory: 32 * MiB, memorySwap: 32 * MiB },
  },
  {
    name: 'memory-swap -1: unlimited swap',
    limits: { memory: 32 * MiB, memorySwap: 'max' },
    v1: { memory: `${32 * MiB}`, swap: '-1' },
    v2: { memory: `${32 * MiB}`, swap: 'max' },
    applied: { memory: 32 * MiB, memorySwap: 'max' },
  },
  {
    name: 'cpus 0.5',
    limits: { cpuQuota: 50_000, cpuPeriod: 100_000 },
    v1: { cpuQuota: '50000' },
    v2: { cpuQuota: '50000 100000' },
    applied: { cpuQuota: 50_000, cpuPeriod: 100_000 },
  },
  {
    name: 'cpu-shares 512 (v2 weight by the OCI formula)',
    limits: { cpuShares: 512 },
    v1: { cpuShares: '512' },
    v2: { cpuShares: '20' },
    applied: { cpuWeight: 20 },
  },
  {
    name: 'cpuset-cpus 1',
    limits: { cpusetCpus: '1' },
    v1: { cpuset: '1' },
    v2: { cpuset: '1' },
    applied: { cpusetCpus: '1' },
  },
  {
    name: 'pids-limit 20',
    limits: { pidsLimit: 20 },
    v1: { pids: '20' },
    v2: { pids: '20' },
    applied: { pidsLimit: 20 },
  },
  {
    name: 'pids-limit unlimited',
    limits: { pidsLimit: 'max' },
    v1: { pids: 'max' },
    v2: { pids: 'max' },
    applied: { pidsLimit: 'max' },
  },
];

const fixtures = [
  ['v1', v1Fixture],
  ['v2', v2Fixture],
] as const;

describe.each(fixtures)('the %s driver', (kind, makeFixture) => {
  let root: string;
  let fixture: Fixture;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), `tsdock-cgroups-${process.pid}-`));
    fixture = await makeFixture(root);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function raw(key: keyof Fixture['limitFiles']): Promise<string> {
    return (await readFile(fixture.file(fixture.limitFiles[key]), 'utf8')).trim();
  }

  it.each(cases)('$name', async ({ limits, applied, ...expected }) => {
    await fixture.driver.applyLimits(limits);
    for (const [key, content] of Object.entries(expected[kind])) {
      expect(await raw(key as keyof Fixture['limitFiles']), key).toBe(content);
    }
    expect(await fixture.driver.readLimits()).toMatchObject(applied);
  });

  it('reports the same stats from its own files', async () => {
    const usage: Usage = {
      memory: 5 * MiB,
      peak: 7 * MiB,
      oomKills: 1,
      cpuUsec: 1_500_000,
      periods: 12,
      throttledPeriods: 4,
      throttledUsec: 25_000,
      pids: 3,
      readBytes: 8192,
      writeBytes: 4096,
    };
    await fixture.setUsage(usage);
    await fixture.driver.applyLimits({ memory: 32 * MiB, pidsLimit: 20 });
    const expected: CgroupStats = {
      memory: { usage: 5 * MiB, maxUsage: 7 * MiB, limit: 32 * MiB, oomKills: 1 },
      cpu: { usageUsec: 1_500_000 },
      cpuThrottling: { periods: 12, throttledPeriods: 4, throttledUsec: 25_000 },
      pids: { current: 3, limit: 20 },
      io: { readBytes: 8192, writeBytes: 4096 },
    };
    expect(await fixture.driver.stats()).toStrictEqual(expected);
  });

  it('names the OOM counter file the monitor reads', () => {
    expect(fixture.driver.oom).toStrictEqual({
      driver: kind,
      path: fixture.file(kind === 'v1' ? 'memory.oom_control' : 'memory.events'),
    });
  });

  it('lists one cgroup.procs per directory', () => {
    expect(new Set(fixture.driver.procsFiles)).toStrictEqual(
      new Set(fixture.driver.dirs.map((d) => join(d, 'cgroup.procs'))),
    );
    expect(fixture.driver.dirs.length).toBe(kind === 'v1' ? 6 : 1);
  });

  it('a write the kernel refuses names the file and the value', async () => {
    const file = fixture.file(fixture.limitFiles.pids);
    await rm(file);
    await mkdir(file); // EISDIR on open for writing, like any refusal
    const error = await fixture.driver.applyLimits({ pidsLimit: 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TsdockError);
    expect((error as TsdockError).message).toBe(`cannot write "20" to ${file}: illegal operation on a directory`);
  });

  it('a missing limit file fails instead of being created', async () => {
    await rm(fixture.file(fixture.limitFiles.cpuset));
    await expect(fixture.driver.applyLimits({ cpusetCpus: '0' })).rejects.toThrow(/no such file or directory/);
  });

  describe('without swap accounting (no swap file)', () => {
    beforeEach(async () => {
      await rm(fixture.file(fixture.limitFiles.swap));
    });

    it('drops the implicit default swap', async () => {
      await fixture.driver.applyLimits({ memory: 32 * MiB });
      expect(await raw('memory')).toBe(`${32 * MiB}`);
      expect((await fixture.driver.readLimits()).memorySwap).toBeUndefined();
    });

    it('refuses an explicit --memory-swap as unsupported by the host', async () => {
      const error = await fixture.driver
        .applyLimits({ memory: 32 * MiB, memorySwap: 64 * MiB })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TsdockError);
      expect((error as TsdockError).code).toBe('HOST_UNSUPPORTED');
      expect((error as TsdockError).message).toContain('--memory-swap needs swap accounting');
    });
  });
});

describe('a driver writes only the controllers it serves', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), `tsdock-cgroups-${process.pid}-`));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('v2 on a hybrid host (core features only) touches no limit file and reports only cpu usage', async () => {
    const dir = join(root, 'c');
    await populate(dir, { 'memory.max': 'max\n', 'pids.max': 'max\n', 'cpu.stat': 'usage_usec 42\n' });
    const driver = new V2Cgroup(dir, new Set<Controller>(['cpuacct', 'freezer', 'devices']));
    await driver.applyLimits({ memory: 32 * MiB, pidsLimit: 20 });
    expect(await readFile(join(dir, 'memory.max'), 'utf8')).toBe('max\n');
    expect(await readFile(join(dir, 'pids.max'), 'utf8')).toBe('max\n');
    expect(driver.oom).toBeUndefined();
    expect(await driver.readLimits()).toStrictEqual({});
    expect(await driver.stats()).toStrictEqual({ cpu: { usageUsec: 42 } });
  });

  it('v1 with only a pids hierarchy writes pids.max and nothing else', async () => {
    const dir = join(root, 'pids/c');
    await populate(dir, { 'pids.max': 'max\n', 'pids.current': '2\n' });
    const driver = new V1Cgroup({ pids: dir });
    await driver.applyLimits({ memory: 32 * MiB, pidsLimit: 5 });
    expect(await readFile(join(dir, 'pids.max'), 'utf8')).toBe('5');
    expect(driver.oom).toBeUndefined();
    expect(driver.canFreeze).toBe(false);
    expect(await driver.stats()).toStrictEqual({ pids: { current: 2, limit: 5 } });
    await expect(driver.freeze()).rejects.toMatchObject({ code: 'HOST_UNSUPPORTED' });
  });
});

describe('writeCgroupValues', () => {
  it('writes each value in order through one open, and names the value the kernel refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsdock-cgvalues-'));
    try {
      const file = join(dir, 'devices.allow');
      await writeFile(file, 'stale');
      writeCgroupValues(file, ['c 1:3 rwm', 'c 1:5 rwm']);
      // A regular file keeps both writes, one after the other, and nothing of what it held.
      expect(await readFile(file, 'utf8')).toBe('c 1:3 rwmc 1:5 rwm');
      expect(() => {
        writeCgroupValues('/dev/full', ['a', 'b']);
      }).toThrow('cannot write "a" to /dev/full: no space left on device');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
