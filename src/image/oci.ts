/**
 * The OCI image documents (image-spec v1: index, manifest, config) and their Docker v2
 * equivalents, parsed from untrusted bytes into checked types. Every field that tsdock uses is
 * validated here; a wrong type anywhere is one `INVALID_IMAGE` line naming the document.
 */
import { TsdockError } from '../errors.js';
import { parseDigest, type Digest } from './digest.js';

export const MEDIA_TYPE = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

const INDEX_TYPES = new Set<string>([MEDIA_TYPE.ociIndex, MEDIA_TYPE.dockerManifestList]);
const MANIFEST_TYPES = new Set<string>([MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest]);
const CONFIG_TYPES = new Set<string>([MEDIA_TYPE.ociConfig, MEDIA_TYPE.dockerConfig]);
const LAYER_TYPES = new Set<string>([
  MEDIA_TYPE.ociLayer,
  MEDIA_TYPE.ociLayerGzip,
  MEDIA_TYPE.ociLayerZstd,
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  MEDIA_TYPE.dockerLayerGzip,
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

export const isIndexMediaType = (type: string): boolean => INDEX_TYPES.has(type);
export const isManifestMediaType = (type: string): boolean => MANIFEST_TYPES.has(type);

/** The annotation that names an image in an OCI layout's index (often just a tag). */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
/** containerd's (and Docker's) annotation with the full image name. */
export const IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

/** A reference to a blob: what it is, its digest and its size. */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** Docker's health check (nanosecond durations), as in the image config. */
export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The execution parameters of an image: the `config` object of an image config file. */
export interface ImageConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: HealthConfig;
  /** Docker's extension (SHELL): what a `CMD-SHELL` health check runs under; `/bin/sh -c` when absent. */
  Shell?: string[];
}

/** An image config file: the blob whose digest is the image ID. */
export interface ImageConfigFile {
  created?: string;
  architecture: string;
  os: string;
  config: ImageConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
}

// ---- checking untrusted JSON ----

class Checker {
  constructor(private readonly where: string) {}

  fail(path: string, what: string): never {
    throw new TsdockError('INVALID_IMAGE', `${this.where}: ${path === '' ? '' : `${path}: `}${what}`);
  }

  object(v: unknown, path: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'not an object');
    return v as Record<string, unknown>;
  }

  string(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, 'not a string');
    return v;
  }

  integer(v: unknown, path: string): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(path, 'not a non-negative integer');
    return v;
  }

  array(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'not an array');
    return v as unknown[];
  }

  strings(v: unknown, path: string): string[] {
    return this.array(v, path).map((s, i) => this.string(s, `${path}[${i}]`));
  }

  stringMap(v: unknown, path: string): Record<string, string> {
    const o = this.object(v, path);
    return Object.fromEntries(Object.entries(o).map(([k, s]) => [k, this.string(s, `${path}.${k}`)]));
  }

  objectMap(v: unknown, path: string): Record<string, object> {
    const o = this.object(v, path);
    return Object.fromEntries(Object.entries(o).map(([k, s]) => [k, this.object(s, `${path}.${k}`)]));
  }

  /** `fn(v)` when `v` is present; `null` counts as absent (Docker writes `"Cmd": null`). */
  optional<T>(v: unknown, fn: (v: unknown) => T): T | undefined {
    return v === undefined || v === null ? undefined : fn(v);
  }

  schemaVersion2(o: Record<string, unknown>): 2 {
    if (o.schemaVersion !== 2) this.fail('schemaVersion', 'not 2');
    return 2;
  }

  descriptor(v: unknown, path: string): Descriptor {
    const o = this.object(v, path);
    const desc: Descriptor = {
      mediaType: this.string(o.mediaType, `${path}.mediaType`),
      digest: parseDigest(o.digest, 'INVALID_IMAGE', `${this.where}: ${path}.digest`),
      size: this.integer(o.size, `${path}.size`),
    };
    const platform = this.optional(o.platform, (p) => this.object(p, `${path}.platform`));
    if (platform !== undefined) {
      desc.platform = {
        architecture: this.string(platform.architecture, `${path}.platform.architecture`),
        os: this.string(platform.os, `${path}.platform.os`),
      };
      const variant = this.optional(platform.variant, (s) => this.string(s, `${path}.platform.variant`));
      if (variant !== undefined) desc.platform.variant = variant;
    }
    const annotations = this.optional(o.annotations, (a) => this.stringMap(a, `${path}.annotations`));
    if (annotations !== undefined) desc.annotations = annotations;
    return desc;
  }
}

function parseJson(bytes: Buffer, where: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new TsdockError('INVALID_IMAGE', `${where}: not valid JSON`, { cause: err });
  }
}

/** Parses an image index (OCI index or Docker manifest list). `where` names it in errors. */
export function parseIndex(bytes: Buffer, where: string): ImageIndex {
  const c = new Checker(where);
  const o = c.object(parseJson(bytes, where), '');
  const mediaType = c.optional(o.mediaType, (s) => c.string(s, 'mediaType'));
  if (mediaType !== undefined && !isIndexMediaType(mediaType)) c.fail('mediaType', `${mediaType} is not an index`);
  const index: ImageIndex = {
    schemaVersion: c.schemaVersion2(o),
    manifests: c.array(o.manifests, 'manifests').map((d, i) => c.descriptor(d, `manifests[${i}]`)),
  };
  if (mediaType !== undefined) index.mediaType = mediaType;
  return index;
}

/** Parses an image manifest (OCI or Docker v2 schema 2). */
export function parseManifest(bytes: Buffer, where: string): ImageManifest {
  const c = new Checker(where);
  const o = c.object(parseJson(bytes, where), '');
  const mediaType = c.optional(o.mediaType, (s) => c.string(s, 'mediaType'));
  if (mediaType !== undefined && !isManifestMediaType(mediaType)) c.fail('mediaType', `${mediaType} is not a manifest`);
  const config = c.descriptor(o.config, 'config');
  if (!CONFIG_TYPES.has(config.mediaType)) {
    c.fail('config.mediaType', `${config.mediaType} is not a container image config`);
  }
  const layers = c.array(o.layers, 'layers').map((d, i) => c.descriptor(d, `layers[${i}]`));
  layers.forEach((layer, i) => {
    if (!LAYER_TYPES.has(layer.mediaType)) c.fail(`layers[${i}].mediaType`, `${layer.mediaType} is not a layer`);
  });
  const manifest: ImageManifest = { schemaVersion: c.schemaVersion2(o), config, layers };
  if (mediaType !== undefined) manifest.mediaType = mediaType;
  return manifest;
}

function parseHealthcheck(c: Checker, v: unknown): HealthConfig {
  const o = c.object(v, 'config.Healthcheck');
  const h: HealthConfig = {};
  const test = c.optional(o.Test, (s) => c.strings(s, 'config.Healthcheck.Test'));
  if (test !== undefined) h.Test = test;
  for (const key of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
    const n = c.optional(o[key], (s) => c.integer(s, `config.Healthcheck.${key}`));
    if (n !== undefined) h[key] = n;
  }
  return h;
}

function parseExecConfig(c: Checker, v: unknown): ImageConfig {
  const o = c.object(v, 'config');
  const out: ImageConfig = {};
  const field = <K extends keyof ImageConfig>(key: K, parse: (v: unknown, path: string) => ImageConfig[K]): void => {
    const value = c.optional(o[key], (s) => parse(s, `config.${key}`));
    if (value !== undefined) out[key] = value;
  };
  const string = (s: unknown, path: string): string => c.string(s, path);
  const strings = (s: unknown, path: string): string[] => c.strings(s, path);
  const objectMap = (s: unknown, path: string): Record<string, object> => c.objectMap(s, path);
  field('User', string);
  field('ExposedPorts', objectMap);
  field('Env', strings);
  field('Entrypoint', strings);
  field('Cmd', strings);
  field('Volumes', objectMap);
  field('WorkingDir', string);
  field('Labels', (s, path) => c.stringMap(s, path));
  field('StopSignal', string);
  field('Healthcheck', (s) => parseHealthcheck(c, s));
  field('Shell', strings);
  return out;
}

/** Parses an image config file, keeping the fields tsdock uses. */
export function parseImageConfigFile(bytes: Buffer, where: string): ImageConfigFile {
  const c = new Checker(where);
  const o = c.object(parseJson(bytes, where), '');
  const rootfs = c.object(o.rootfs, 'rootfs');
  if (rootfs.type !== 'layers') c.fail('rootfs.type', 'not "layers"');
  const file: ImageConfigFile = {
    architecture: c.string(o.architecture, 'architecture'),
    os: c.string(o.os, 'os'),
    config: c.optional(o.config, (v) => parseExecConfig(c, v)) ?? {},
    rootfs: {
      type: 'layers',
      diff_ids: c
        .array(rootfs.diff_ids, 'rootfs.diff_ids')
        .map((d, i) => parseDigest(d, 'INVALID_IMAGE', `${where}: rootfs.diff_ids[${i}]`)),
    },
  };
  const created = c.optional(o.created, (s) => c.string(s, 'created'));
  if (created !== undefined && !Number.isNaN(Date.parse(created))) file.created = created;
  return file;
}

const GOARCH: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
};

/** This host's platform in OCI (Go) terms: `{ os: 'linux', architecture: 'amd64' }`. */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: GOARCH[process.arch] ?? process.arch };
}

/** Whether an image for `platform` runs here; an image that states none is assumed to. */
export function runsOnHost(platform: Platform | undefined): boolean {
  const host = hostPlatform();
  return platform === undefined || (platform.os === host.os && platform.architecture === host.architecture);
}
