import { describe, expect, it } from 'vitest';
import { TsdockError } from '../../src/errors.js';
import {
  cpuSharesToWeight,
  formatCpuList,
  memorySwapTotal,
  parseCgroupLimits,
  parseCpuList,
  type CgroupLimits,
  type HostCpus,
  type LimitFlags,
} from '../../src/runtime/cgroups/limits.js';

const twoCpus: HostCpus = { online: new Set([0, 1]) };
const sparse: HostCpus = { online: new Set([0, 1, 2, 3, 8, 9]) };

const MiB = 1024 * 1024;

describe('parseCgroupLimits accepts Docker flag values', () => {
  const cases: [string, LimitFlags, CgroupLimits, HostCpus?][] = [
    ['no flags', {}, {}],
    ['--memory 32m', { memory: '32m' }, { memory: 32 * MiB }],
    ['--memory 1g', { memory: '1g' }, { memory: 1024 * MiB }],
    ['--memory 1G (any case)', { memory: '1G' }, { memory: 1024 * MiB }],
    ['--memory 6144k', { memory: '6144k' }, { memory: 6 * MiB }],
    ['--memory 65536k', { memory: '65536k' }, { memory: 64 * MiB }],
    ['--memory in bytes with b', { memory: `${8 * MiB}b` }, { memory: 8 * MiB }],
    ['--memory in plain bytes', { memory: '10485760' }, { memory: 10 * MiB }],
    ['--memory 64mb', { memory: '64mb' }, { memory: 64 * MiB }],
    ['--memory 64MiB', { memory: '64MiB' }, { memory: 64 * MiB }],
    ['--memory 1.5g', { memory: '1.5g' }, { memory: 1536 * MiB }],
    ['--memory exactly 6m', { memory: '6m' }, { memory: 6 * MiB }],
    ['--memory 0 means no limit', { memory: '0' }, {}],
    ['--memory-swap larger', { memory: '32m', memorySwap: '64m' }, { memory: 32 * MiB, memorySwap: 64 * MiB }],
    ['--memory-swap equal (no swap)', { memory: '32m', memorySwap: '32m' }, { memory: 32 * MiB, memorySwap: 32 * MiB }],
    ['--memory-swap -1', { memory: '32m', memorySwap: '-1' }, { memory: 32 * MiB, memorySwap: 'max' }],
    ['--memory-swap 0 means default', { memory: '32m', memorySwap: '0' }, { memory: 32 * MiB }],
    ['--cpus 0.5', { cpus: '0.5' }, { cpuQuota: 50_000, cpuPeriod: 100_000 }],
    ['--cpus .5', { cpus: '.5' }, { cpuQuota: 50_000, cpuPeriod: 100_000 }],
    ['--cpus 2 (all)', { cpus: '2' }, { cpuQuota: 200_000, cpuPeriod: 100_000 }],
    ['--cpus 1.25', { cpus: '1.25' }, { cpuQuota: 125_000, cpuPeriod: 100_000 }],
    ['--cpus 0.01 (1 ms)', { cpus: '0.01' }, { cpuQuota: 1000, cpuPeriod: 100_000 }],
    ['--cpus truncates below 1 us', { cpus: '0.1234567' }, { cpuQuota: 12_345, cpuPeriod: 100_000 }],
    ['--cpu-shares 512', { cpuShares: '512' }, { cpuShares: 512 }],
    ['--cpu-shares 2', { cpuShares: '2' }, { cpuShares: 2 }],
    ['--cpu-shares 262144', { cpuShares: '262144' }, { cpuShares: 262_144 }],
    ['--cpu-shares 0 means default', { cpuShares: '0' }, {}],
    ['--cpuset-cpus 0-1', { cpusetCpus: '0-1' }, { cpusetCpus: '0-1' }],
    ['--cpuset-cpus 0,1 is printed as the kernel does', { cpusetCpus: '0,1' }, { cpusetCpus: '0-1' }],
    ['--cpuset-cpus 1', { cpusetCpus: '1' }, { cpusetCpus: '1' }],
    ['--cpuset-cpus 0-1,3', { cpusetCpus: '0-1,3' }, { cpusetCpus: '0-1,3' }, sparse],
    ['--cpuset-cpus 9,8,0-2', { cpusetCpus: '9,8,0-2' }, { cpusetCpus: '0-2,8-9' }, sparse],
    ['--pids-limit 20', { pidsLimit: '20' }, { pidsLimit: 20 }],
    ['--pids-limit -1', { pidsLimit: '-1' }, { pidsLimit: 'max' }],
    ['--pids-limit 0', { pidsLimit: '0' }, { pidsLimit: 'max' }],
    [
      'all together',
      { memory: '64m', memorySwap: '-1', cpus: '1.5', cpuShares: '1024', cpusetCpus: '1', pidsLimit: '100' },
      {
        memory: 64 * MiB,
        memorySwap: 'max',
        cpuQuota: 150_000,
        cpuPeriod: 100_000,
        cpuShares: 1024,
        cpusetCpus: '1',
        pidsLimit: 100,
      },
    ],
  ];
  it.each(cases)('%s', (_, flags, expected, host = twoCpus) => {
    expect(parseCgroupLimits(flags, host)).toStrictEqual(expected);
  });
});

describe('parseCgroupLimits refuses bad values with one line naming flag, value and form', () => {
  const cases: [LimitFlags, string, HostCpus?][] = [
    [{ memory: '12q' }, 'invalid --memory "12q": expected a number with an optional unit b, k, m or g (e.g. 64m)'],
    [{ memory: '' }, 'invalid --memory "": expected a number with an optional unit'],
    [{ memory: '-32m' }, 'invalid --memory "-32m": expected a number'],
    [{ memory: '32 m' }, 'invalid --memory "32 m": expected a number'],
    [{ memory: 'm' }, 'invalid --memory "m": expected a number'],
    [{ memory: '32mbb' }, 'invalid --memory "32mbb": expected a number'],
    [{ memory: '1e9' }, 'invalid --memory "1e9": expected a number'],
    [{ memory: '5m' }, 'invalid --memory "5m": expected at least 6m (6291456 bytes)'],
    [{ memory: '4096' }, 'invalid --memory "4096": expected at least 6m'],
    [{ memory: '512k' }, 'invalid --memory "512k": expected at least 6m'],
    [{ memory: '1024b' }, 'invalid --memory "1024b": expected at least 6m'],
    [
      { memory: '99999999g' },
      'invalid --memory "99999999g": expected a number with an optional unit b, k, m or g (e.g. 64m), below 8 PiB',
    ],
    [{ memorySwap: '64m' }, 'invalid --memory-swap "64m": expected --memory to be set as well'],
    [
      { memory: '64m', memorySwap: '32m' },
      'invalid --memory-swap "32m": expected a size no smaller than --memory (67108864 bytes), or -1 for unlimited swap',
    ],
    [{ memory: '64m', memorySwap: '-2' }, 'invalid --memory-swap "-2": expected a number'],
    [{ cpus: 'half' }, 'invalid --cpus "half": expected a number of CPUs from 0.01 to 2 (e.g. 0.5)'],
    [{ cpus: '0' }, 'invalid --cpus "0": expected a number of CPUs from 0.01 to 2'],
    [{ cpus: '0.001' }, 'invalid --cpus "0.001": expected a number of CPUs from 0.01 to 2'],
    [{ cpus: '-1' }, 'invalid --cpus "-1": expected a number of CPUs'],
    [{ cpus: '2.5' }, 'invalid --cpus "2.5": expected a number of CPUs from 0.01 to 2'],
    [{ cpus: '7' }, 'invalid --cpus "7": expected a number of CPUs from 0.01 to 6', sparse],
    [{ cpus: '' }, 'invalid --cpus "": expected a number of CPUs'],
    [{ cpus: '1.' }, 'invalid --cpus "1.": expected a number of CPUs'],
    [{ cpuShares: '1' }, 'invalid --cpu-shares "1": expected an integer from 2 to 262144'],
    [{ cpuShares: '262145' }, 'invalid --cpu-shares "262145": expected an integer from 2 to 262144'],
    [{ cpuShares: '-5' }, 'invalid --cpu-shares "-5": expected an integer from 2 to 262144'],
    [{ cpuShares: '1.5' }, 'invalid --cpu-shares "1.5": expected an integer'],
    [{ cpusetCpus: '0-2' }, 'invalid --cpuset-cpus "0-2": CPU 2 not online; expected a list of online CPUs (0-1)'],
    [
      { cpusetCpus: '4-7' },
      'invalid --cpuset-cpus "4-7": CPU 4-7 not online; expected a list of online CPUs (0-3,8-9)',
      sparse,
    ],
    [{ cpusetCpus: '1-0' }, 'invalid --cpuset-cpus "1-0": expected a CPU list such as 0-1,3'],
    [{ cpusetCpus: '0,,1' }, 'invalid --cpuset-cpus "0,,1": expected a CPU list'],
    [{ cpusetCpus: 'all' }, 'invalid --cpuset-cpus "all": expected a CPU list'],
    [{ cpusetCpus: '0-999999999' }, 'invalid --cpuset-cpus "0-999999999": expected a CPU list'],
    [{ pidsLimit: '-2' }, 'invalid --pids-limit "-2": expected a positive integer, or -1 or 0 for no limit'],
    [{ pidsLimit: 'ten' }, 'invalid --pids-limit "ten": expected a positive integer'],
    [{ pidsLimit: '10.5' }, 'invalid --pids-limit "10.5": expected a positive integer'],
  ];
  it.each(cases)('%o', (flags, message, host = twoCpus) => {
    let caught: unknown;
    try {
      parseCgroupLimits(flags, host);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TsdockError);
    expect((caught as TsdockError).code).toBe('INVALID_ARGUMENT');
    expect((caught as TsdockError).message).toContain(message);
    expect((caught as TsdockError).message).not.toContain('\n');
  });
});

describe('memorySwapTotal follows Docker', () => {
  it.each<[CgroupLimits, number | 'max' | undefined]>([
    [{}, undefined],
    [{ memory: 32 * MiB }, 64 * MiB],
    [{ memory: 32 * MiB, memorySwap: 48 * MiB }, 48 * MiB],
    [{ memory: 32 * MiB, memorySwap: 'max' }, 'max'],
    [{ memorySwap: 'max' }, 'max'],
  ])('%o -> %s', (limits, total) => {
    expect(memorySwapTotal(limits)).toBe(total);
  });
});

describe('cpuSharesToWeight is the OCI conversion', () => {
  it.each([
    [2, 1],
    [512, 20],
    [1024, 39],
    [2048, 79],
    [262_144, 10_000],
  ])('%i shares -> weight %i', (shares, weight) => {
    expect(cpuSharesToWeight(shares)).toBe(weight);
  });
});

describe('CPU lists', () => {
  it.each<[string, number[]]>([
    ['0', [0]],
    ['0-3', [0, 1, 2, 3]],
    ['0-1,3', [0, 1, 3]],
    ['5,1-2', [1, 2, 5]],
  ])('parses %s', (text, cpus) => {
    expect([...parseCpuList('--cpuset-cpus', text)].sort((a, b) => a - b)).toStrictEqual(cpus);
  });

  it.each<[number[], string]>([
    [[], ''],
    [[0], '0'],
    [[0, 1], '0-1'],
    [[3, 0, 1], '0-1,3'],
    [[0, 2, 4], '0,2,4'],
    [[7, 6, 5, 1, 1], '1,5-7'],
  ])('formats %o as %s', (cpus, text) => {
    expect(formatCpuList(cpus)).toBe(text);
  });
});
