import { describe, expect, it } from 'vitest';
import { parseBind, parseEnv, parseTmpfs, parseVolumeFlag } from '../../src/runtime/options.js';

describe('parseBind', () => {
  it.each([
    ['/data:/data', { source: '/data', target: '/data', readonly: false }],
    ['/data:/mnt/x/:ro', { source: '/data', target: '/mnt/x', readonly: true }],
    ['/data:/mnt:rw', { source: '/data', target: '/mnt', readonly: false }],
    ['/data:/mnt:idmap', { source: '/data', target: '/mnt', readonly: false, idmap: true }],
    ['/data:/mnt:ro,idmap', { source: '/data', target: '/mnt', readonly: true, idmap: true }],
    ['/data:/mnt:U', { source: '/data', target: '/mnt', readonly: false, chown: true }],
    ['/data:/mnt:rw,U,idmap', { source: '/data', target: '/mnt', readonly: false, idmap: true, chown: true }],
  ])('%s', (spec, expected) => {
    expect(parseBind(spec)).toEqual(expected);
  });

  it.each([
    ['/data', /expected -v \/host\/path:\/container\/path/],
    ['data:/data', /host path "data" must be absolute/],
    ['/data:data', /container path "data" must be absolute/],
    ['/data:/', /cannot mount over the container's \//],
    ['/data:/x:rx', /expected -v/],
    ['/a:/b:ro:extra', /expected -v/],
    ['/a:/b:ro,u', /expected -v .*\[,idmap\]\[,U\]/],
    ['/a:/b:ro,rw', /ro and rw conflict/],
    ['/a:/b:idmap=uids=0-1-2', /idmap takes no mappings here/],
    ['/a:/b:', /expected -v/],
  ])('rejects %s', (spec, message) => {
    expect(() => parseBind(spec)).toThrow(message);
  });
});

describe('parseVolumeFlag', () => {
  it.each([
    ['/data:/data', { bind: { source: '/data', target: '/data', readonly: false } }],
    ['/data:/mnt:ro,U', { bind: { source: '/data', target: '/mnt', readonly: true, chown: true } }],
    ['data:/data', { volume: { name: 'data', target: '/data', readonly: false } }],
    ['my_vol.1-x:/mnt/x/:ro', { volume: { name: 'my_vol.1-x', target: '/mnt/x', readonly: true } }],
    ['data:/d:nocopy', { volume: { name: 'data', target: '/d', readonly: false, nocopy: true } }],
    ['data:/d:rw,idmap,U', { volume: { name: 'data', target: '/d', readonly: false, idmap: true, chown: true } }],
    ['/data', { volume: { target: '/data', readonly: false } }],
    ['/var/lib//db/', { volume: { target: '/var/lib/db', readonly: false } }],
  ])('%s', (spec, expected) => {
    expect(parseVolumeFlag(spec)).toEqual(expected);
  });

  it.each([
    ['data', /expected -v .* or -v \/container\/path/],
    ['/data:rw', /container path "rw" must be absolute/],
    ['x:/data', /"x" includes invalid characters for a local volume name/],
    ['-x:/data', /invalid characters/],
    ['a b:/data', /invalid characters/],
    ['data:rel', /container path "rel" must be absolute/],
    ['data:/', /cannot mount over the container's \//],
    ['data:/d:ro,rw', /ro and rw conflict/],
    ['data:/d:rx', /expected -v/],
    ['/host:/d:nocopy', /expected -v \/host\/path/],
    ['data:/d:ro:x', /expected -v/],
    ['/', /cannot mount over the container's \//],
  ])('rejects %s', (spec, message) => {
    expect(() => parseVolumeFlag(spec)).toThrow(message);
  });
});

describe('parseTmpfs', () => {
  it.each([
    ['/run', ['noexec', 'nosuid', 'nodev']],
    ['/run:size=64m', ['noexec', 'nosuid', 'nodev', 'size=64m']],
    ['/run:exec,mode=1777', ['nosuid', 'nodev', 'exec', 'mode=1777']],
  ])('%s', (spec, options) => {
    expect(parseTmpfs(spec).options).toEqual(options);
  });

  it('rejects a relative path', () => {
    expect(() => parseTmpfs('run')).toThrow(/invalid --tmpfs "run"/);
  });
});

describe('parseEnv', () => {
  it('passes KEY=value through and takes KEY from the host', () => {
    expect(parseEnv('A=1=2', {})).toEqual(['A=1=2']);
    expect(parseEnv('HOME', { HOME: '/h' })).toEqual(['HOME=/h']);
    expect(parseEnv('UNSET', {})).toEqual([]);
  });

  it('rejects an empty key', () => {
    expect(() => parseEnv('=x', {})).toThrow(/invalid environment variable "=x"/);
  });
});
