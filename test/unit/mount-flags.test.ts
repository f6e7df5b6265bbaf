import { describe, expect, it } from 'vitest';
import { MOUNT_OPTIONS, MS, parseMountOptions } from '../../src/runtime/mount-flags.js';

describe('parseMountOptions', () => {
  it('splits flags from filesystem data', () => {
    expect(parseMountOptions(['nosuid', 'size=64m', 'ro', 'exec', 'noatime'])).toEqual({
      flags: MS.NOSUID | MS.RDONLY | MS.NOATIME,
      propagation: 0n,
      data: 'size=64m',
    });
  });

  it('splits flags, propagation and data, later options winning, runc-only options dropped', () => {
    expect(parseMountOptions(['ro', 'rw', 'nosuid', 'rslave', 'size=1m', 'mode=755', 'tmpcopyup'])).toEqual({
      flags: MS.NOSUID,
      propagation: MS.SLAVE | MS.REC,
      data: 'size=1m,mode=755',
    });
  });

  it('lists every option it knows, sorted, for the OCI features document', () => {
    expect(MOUNT_OPTIONS).toEqual([...MOUNT_OPTIONS].sort());
    for (const option of MOUNT_OPTIONS) expect(parseMountOptions([option]).data).toBe('');
  });
});
