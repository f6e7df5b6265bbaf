/** Host id ranges for `--userns auto`: subuid(5) parsing, picking, and allocation under a lock. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allocateIdRanges,
  AUTO_POOL,
  autoPool,
  parseSubordinateIds,
  pickRange,
  PRIVATE_RANGE,
  releaseIdRanges,
  type AutoPools,
  type IdRange,
} from '../../src/runtime/userns.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsdock-userns-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('subuid(5)', () => {
  it('takes the lines of the user, by name or id, and skips malformed ones', () => {
    const text = 'alice:100000:65536\nroot:200000:131072\n0:500000:65536\nroot:x:1\nroot:1:0\nroot:4294967295:2\n';
    expect(parseSubordinateIds(text, { name: 'root', id: 0 })).toEqual([
      { start: 200000, count: 131072 },
      { start: 500000, count: 65536 },
    ]);
  });

  it('falls back to the built-in pool without a file or an entry', async () => {
    expect(await autoPool(join(dir, 'none'))).toEqual([AUTO_POOL]);
    await writeFile(join(dir, 'subuid'), 'alice:1:2\n');
    expect(await autoPool(join(dir, 'subuid'))).toEqual([AUTO_POOL]);
    await writeFile(join(dir, 'subuid'), 'root:300000:65536\n');
    expect(await autoPool(join(dir, 'subuid'))).toEqual([{ start: 300000, count: 65536 }]);
    // A tsdock entry wins over root's.
    await writeFile(join(dir, 'subuid'), 'root:300000:65536\ntsdock:400000:131072\n');
    expect(await autoPool(join(dir, 'subuid'))).toEqual([{ start: 400000, count: 131072 }]);
  });
});

describe('pickRange', () => {
  const pool = [
    { start: 1000, count: 100 },
    { start: 5000, count: 300 },
  ];
  it.each([
    [[], { start: 1000, count: 100 }],
    [[{ start: 1000, count: 100 }], { start: 5000, count: 100 }],
    [
      [
        { start: 1050, count: 1 },
        { start: 5000, count: 100 },
      ],
      { start: 5100, count: 100 },
    ],
    [
      [
        { start: 5000, count: 100 },
        { start: 1000, count: 100 },
        { start: 5180, count: 50 },
      ],
      undefined,
    ],
  ])('taken %j -> %j', (taken, expected) => {
    expect(pickRange(pool, taken, 100)).toEqual(expected);
  });
});

describe('allocation', () => {
  const pools = (uid: IdRange[], gid = uid): AutoPools => ({ uid, gid });
  const gone = (): boolean => false;

  it('gives concurrent containers disjoint ranges, the same one again to the same id, and frees them', async () => {
    const file = join(dir, 'ranges.json');
    const pool = pools([{ start: 100000, count: 65536 * 40 }]);
    const ids = Array.from({ length: 30 }, (_, i) => `c${String(i)}`);
    const ranges = await Promise.all(ids.map((id) => allocateIdRanges(file, id, pool, () => true)));
    const starts = new Set(ranges.map((r) => r.uid.start));
    expect(starts.size).toBe(30);
    // Never the shared `private` range, whatever the pool says.
    expect(starts.has(PRIVATE_RANGE.start)).toBe(false);
    for (const r of ranges) expect(r.uid).toEqual(r.gid);
    for (const r of ranges) expect(r.uid.count).toBe(65536);
    expect(await allocateIdRanges(file, 'c7', pool, () => true)).toEqual(ranges[7]);
    await releaseIdRanges(file, 'c0');
    expect(await allocateIdRanges(file, 'new', pool, () => true)).toEqual(ranges[0]);
  });

  it('takes uids and gids from their own pools', async () => {
    const file = join(dir, 'split.json');
    const r = await allocateIdRanges(
      file,
      'a',
      pools([{ start: 200000, count: 65536 }], [{ start: 900000, count: 65536 }]),
      gone,
    );
    expect(r).toEqual({ uid: { start: 200000, count: 65536 }, gid: { start: 900000, count: 65536 } });
  });

  it('frees what a crash left: no container directory and no live creator', async () => {
    const file = join(dir, 'stale.json');
    const pool = pools([{ start: 200000, count: 65536 }]);
    await writeFile(file, JSON.stringify({ old: { uid: pool.uid[0], gid: pool.gid[0], pid: 2 ** 22 + 1 } }));
    await expect(allocateIdRanges(file, 'b', pool, (id) => id === 'old')).rejects.toThrow(/no free range/);
    expect((await allocateIdRanges(file, 'b', pool, gone)).uid.start).toBe(200000);
    // An allocation whose creator still runs stays, container directory or not.
    await expect(allocateIdRanges(file, 'c', pool, gone)).rejects.toThrow(/no free range/);
  });

  it('says so when the pool is exhausted', async () => {
    const file = join(dir, 'small.json');
    const pool = pools([{ start: 200000, count: 65536 }]);
    await allocateIdRanges(file, 'a', pool, gone);
    await expect(allocateIdRanges(file, 'b', pool, gone)).rejects.toThrow(
      /no free range of 65536 host uids left for --userns auto \(add ranges for tsdock to \/etc\/subuid\)/,
    );
  });
});
