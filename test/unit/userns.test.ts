/** Host id ranges for `--userns auto`: subuid(5) parsing, picking, and allocation under a lock. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allocateIdRange,
  AUTO_POOL,
  autoPool,
  parseSubordinateIds,
  pickRange,
  releaseIdRange,
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
  it('gives concurrent containers disjoint ranges, the same one again to the same id, and frees them', async () => {
    const file = join(dir, 'ranges.json');
    const pool = [{ start: 100000, count: 65536 * 40 }];
    const ids = Array.from({ length: 30 }, (_, i) => `c${String(i)}`);
    const ranges = await Promise.all(ids.map((id) => allocateIdRange(file, id, pool)));
    const starts = new Set(ranges.map((r) => r.start));
    expect(starts.size).toBe(30);
    for (const r of ranges) expect(r.count).toBe(65536);
    expect(await allocateIdRange(file, 'c7', pool)).toEqual(ranges[7]);
    await releaseIdRange(file, 'c0');
    expect(await allocateIdRange(file, 'new', pool)).toEqual(ranges[0]);
  });

  it('says so when the pool is exhausted', async () => {
    const file = join(dir, 'small.json');
    const pool = [{ start: 100000, count: 65536 }];
    await allocateIdRange(file, 'a', pool);
    await expect(allocateIdRange(file, 'b', pool)).rejects.toThrow(/no free range of 65536 host ids/);
  });
});
