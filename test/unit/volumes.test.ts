import { describe, expect, it } from 'vitest';
import { volumesFor } from '../../src/runtime/volume-mounts.js';
import { parseVolumeFilters } from '../../src/cli/commands/volume.js';

describe('volumesFor', () => {
  it('adds an anonymous volume per image VOLUME no mount covers', () => {
    const options = {
      binds: [{ source: '/host', target: '/a', readonly: false }],
      volumes: [{ name: 'named', target: '/b', readonly: true }],
      tmpfs: [{ target: '/c', options: [] }],
    };
    expect(volumesFor(options, ['/a', '/b/', '/c', '/d', '/e//f/', 'relative', '/'])).toEqual([
      { name: 'named', target: '/b', readonly: true },
      { target: '/d', readonly: false },
      { target: '/e/f', readonly: false },
    ]);
  });

  it('keeps the volumes asked for, in order, without image volumes', () => {
    const volumes = [
      { target: '/x', readonly: false },
      { name: 'v1', target: '/y', readonly: false, nocopy: true },
    ];
    expect(volumesFor({ volumes }, [])).toEqual(volumes);
  });

  it('refuses two mounts on one container path', () => {
    const options = {
      binds: [{ source: '/host', target: '/a', readonly: false }],
      volumes: [{ name: 'named', target: '/a', readonly: false }],
    };
    expect(() => volumesFor(options, [])).toThrow('duplicate mount point: /a');
    expect(() =>
      volumesFor(
        {
          volumes: [
            { target: '/a', readonly: false },
            { target: '/a', readonly: true },
          ],
        },
        [],
      ),
    ).toThrow('duplicate mount point: /a');
  });
});

describe('parseVolumeFilters', () => {
  it.each([
    [[], {}],
    [['name=db'], { name: ['db'] }],
    [['name=db', 'name=web'], { name: ['db', 'web'] }],
    [['label=team'], { label: ['team'] }],
    [['label=team=a', 'dangling=true'], { label: ['team=a'], dangling: true }],
    [['dangling=0'], { dangling: false }],
  ])('%j', (filters, expected) => {
    expect(parseVolumeFilters(filters)).toEqual(expected);
  });

  it.each([['driver=local'], ['dangling=maybe'], ['label='], ['name']])('rejects %s', (filter) => {
    expect(() => parseVolumeFilters([filter])).toThrow(`invalid --filter "${filter}"`);
  });
});
