import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../../src/image/digest.js';
import { mappingSuffix, mapId } from '../../src/image/id-mapping.js';
import { nameFromAnnotations } from '../../src/image/oci-layout-reader.js';
import {
  hostPlatform,
  MEDIA_TYPE,
  parseImageConfigFile,
  parseIndex,
  parseManifest,
  runsOnHost,
} from '../../src/image/oci.js';
import { failure } from '../helpers/errors.js';

const D = sha256Digest('x');
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const desc = (mediaType: string, extra: object = {}): object => ({ mediaType, digest: D, size: 1, ...extra });
const manifest = (over: object = {}): Buffer =>
  json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociManifest,
    config: desc(MEDIA_TYPE.ociConfig),
    layers: [desc(MEDIA_TYPE.ociLayerGzip), desc(MEDIA_TYPE.dockerLayerGzip)],
    ...over,
  });
const config = (over: object = {}): Buffer =>
  json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [D] }, ...over });

describe('parseManifest', () => {
  it('accepts OCI and Docker schema 2 manifests', () => {
    expect(parseManifest(manifest(), 'm').layers).toHaveLength(2);
    const docker = manifest({ mediaType: MEDIA_TYPE.dockerManifest, config: desc(MEDIA_TYPE.dockerConfig) });
    expect(parseManifest(docker, 'm').config.mediaType).toBe(MEDIA_TYPE.dockerConfig);
  });

  it.each([
    ['not JSON', Buffer.from('{'), 'not valid JSON'],
    ['schema 1', manifest({ schemaVersion: 1 }), 'schemaVersion: not 2'],
    ['an index', manifest({ mediaType: MEDIA_TYPE.ociIndex }), 'is not a manifest'],
    [
      'a bad digest',
      manifest({ config: { ...desc(MEDIA_TYPE.ociConfig), digest: 'sha256:../../etc' } }),
      'invalid digest',
    ],
    ['a negative size', manifest({ config: { ...desc(MEDIA_TYPE.ociConfig), size: -1 } }), 'config.size'],
    [
      'a helm chart',
      manifest({ config: desc('application/vnd.cncf.helm.config.v1+json') }),
      'not a container image config',
    ],
    ['a non-layer', manifest({ layers: [desc('application/json')] }), 'layers[0].mediaType'],
    ['layers not a list', manifest({ layers: {} }), 'layers: not an array'],
  ])('refuses %s', (_what, bytes, message) => {
    const err = failure(() => parseManifest(bytes, 'busybox.tar: manifest'));
    expect(err.code).toBe('INVALID_IMAGE');
    expect(err.message).toMatch(/^busybox\.tar: manifest: /);
    expect(err.message).toContain(message);
  });
});

describe('parseIndex', () => {
  it('keeps platforms and annotations', () => {
    const index = parseIndex(
      json({
        schemaVersion: 2,
        manifests: [
          desc(MEDIA_TYPE.ociManifest, {
            platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
            annotations: { a: 'b' },
          }),
        ],
      }),
      'index.json',
    );
    expect(index.manifests[0]?.platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(index.manifests[0]?.annotations).toEqual({ a: 'b' });
  });

  it.each([
    [{ schemaVersion: 2 }, 'manifests: not an array'],
    [
      { schemaVersion: 2, manifests: [desc(MEDIA_TYPE.ociManifest, { annotations: { a: 1 } })] },
      'annotations.a: not a string',
    ],
    [{ schemaVersion: 2, mediaType: MEDIA_TYPE.ociManifest, manifests: [] }, 'is not an index'],
  ])('refuses %j', (doc, message) => {
    expect(failure(() => parseIndex(json(doc), 'index.json')).message).toContain(message);
  });
});

describe('parseImageConfigFile', () => {
  it('keeps the execution fields and treats null as absent', () => {
    const file = parseImageConfigFile(
      config({
        created: '2024-01-02T03:04:05Z',
        config: {
          Env: ['PATH=/bin'],
          Cmd: ['sh'],
          Entrypoint: null,
          WorkingDir: '/w',
          User: '1:2',
          ExposedPorts: { '80/tcp': {} },
          Labels: { a: 'b' },
          StopSignal: 'SIGINT',
          Volumes: { '/data': {} },
          Healthcheck: { Test: ['CMD', 'true'], Interval: 1_000_000_000, Retries: 3 },
          Shell: ['/bin/bash', '-c'],
          Hostname: 'ignored',
        },
      }),
      'config',
    );
    expect(file.created).toBe('2024-01-02T03:04:05Z');
    expect(file.config).toEqual({
      Env: ['PATH=/bin'],
      Cmd: ['sh'],
      WorkingDir: '/w',
      User: '1:2',
      ExposedPorts: { '80/tcp': {} },
      Labels: { a: 'b' },
      StopSignal: 'SIGINT',
      Volumes: { '/data': {} },
      Healthcheck: { Test: ['CMD', 'true'], Interval: 1_000_000_000, Retries: 3 },
      Shell: ['/bin/bash', '-c'],
    });
    expect(file.rootfs.diff_ids).toEqual([D]);
  });

  it.each([
    [{ config: { Cmd: 'sh' } }, 'config.Cmd: not an array'],
    [{ config: { Env: [1] } }, 'config.Env[0]: not a string'],
    [{ config: { Shell: '/bin/sh' } }, 'config.Shell: not an array'],
    [{ config: { Labels: { a: 1 } } }, 'config.Labels.a: not a string'],
    [{ rootfs: { type: 'layers', diff_ids: ['nope'] } }, 'rootfs.diff_ids[0]: invalid digest'],
    [{ rootfs: { type: 'other', diff_ids: [] } }, 'rootfs.type'],
    [{ os: 7 }, 'os: not a string'],
  ])('refuses %j', (over, message) => {
    expect(failure(() => parseImageConfigFile(config(over), 'config')).message).toContain(message);
  });
});

describe('platforms', () => {
  it('matches only this host', () => {
    const host = hostPlatform();
    expect(host.os).toBe('linux');
    expect(runsOnHost(undefined)).toBe(true);
    expect(runsOnHost(host)).toBe(true);
    expect(runsOnHost({ ...host, os: 'windows' })).toBe(false);
    expect(runsOnHost({ ...host, architecture: host.architecture === 's390x' ? 'amd64' : 's390x' })).toBe(false);
  });
});

describe('names from index annotations', () => {
  it.each([
    [
      { 'io.containerd.image.name': 'docker.io/library/busybox:latest', 'org.opencontainers.image.ref.name': 'latest' },
      'docker.io/library/busybox:latest',
    ],
    [{ 'org.opencontainers.image.ref.name': 'busybox:1.36' }, 'docker.io/library/busybox:1.36'],
    [{ 'org.opencontainers.image.ref.name': 'localhost:5000/app' }, 'localhost:5000/app:latest'],
    [{ 'org.opencontainers.image.ref.name': 'latest' }, undefined],
    [{ 'org.opencontainers.image.ref.name': 'Bad:Name:x' }, undefined],
    [{ 'io.containerd.image.name': `busybox@${D}` }, undefined],
    [undefined, undefined],
  ])('%j -> %s', (annotations, name) => {
    expect(nameFromAnnotations(annotations)).toBe(name);
  });
});

describe('id mappings', () => {
  const range = { hostID: 100000, size: 65536 };
  it.each([
    [{ uid: range, gid: range }, '-100000-65536'],
    [{ uid: range, gid: { hostID: 200000, size: 1000 } }, '-100000-65536-200000-1000'],
    [undefined, ''],
  ])('%j -> %j', (mapping, suffix) => {
    expect(mappingSuffix(mapping)).toBe(suffix);
  });

  it.each([[{ hostID: -1, size: 1 }], [{ hostID: 1.5, size: 1 }], [{ hostID: 1, size: 0 }]])('refuses %j', (bad) => {
    expect(failure(() => mappingSuffix({ uid: bad, gid: range })).code).toBe('INVALID_ARGUMENT');
  });

  it('maps ids inside the range and refuses the rest', () => {
    expect(mapId(range, 0, 'x')).toBe(100000);
    expect(mapId(range, 65535, 'x')).toBe(165535);
    expect(mapId(undefined, 7, 'x')).toBe(7);
    expect(failure(() => mapId(range, 65536, 'file /a')).message).toMatch(/file \/a is owned by id 65536/);
  });
});
