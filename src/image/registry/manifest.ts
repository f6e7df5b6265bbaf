/**
 * Fetching manifests and choosing a platform. A tag resolves to an index (OCI index or Docker
 * manifest list) or to a manifest (OCI or Docker schema 2); an index names one manifest per
 * platform. Each document's bytes are checked: size capped, digest verified when the reference
 * or the index gave one, and its media type (header and body) one we understand. Docker's
 * schema 1 (signed JWS manifests, removed from Docker in 2019+) is refused by name.
 */
import { TsdockError } from '../../errors.js';
import { sha256Digest, type Digest } from '../digest.js';
import {
  MEDIA_TYPE,
  isIndexMediaType,
  isManifestMediaType,
  type Descriptor,
  type ImageIndex,
  type Platform,
} from '../oci.js';
import { readLimited } from './auth.js';
import type { RegistryClient } from './client.js';

/** Manifests larger than this are refused (distribution's own limit is 4 MiB). */
export const MAX_MANIFEST = 4 * 1024 * 1024;

const ACCEPT = [MEDIA_TYPE.ociIndex, MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifestList, MEDIA_TYPE.dockerManifest];
const SCHEMA1 = /^application\/vnd\.docker\.distribution\.manifest\.v1(\+prettyjws|\+json)?$/;

/** A manifest or index, as fetched. */
export interface FetchedManifest {
  bytes: Buffer;
  digest: Digest;
  mediaType: string;
}

function schema1Error(what: string): TsdockError {
  return new TsdockError(
    'INVALID_IMAGE',
    `${what}: Docker image manifest schema 1 is not supported (deprecated and removed from Docker); ` +
      'push the image again with a current client',
  );
}

/** The media type stated in a manifest's body, or `undefined`; also catches schema 1 by its `schemaVersion`. */
function bodyMediaType(bytes: Buffer, what: string): string | undefined {
  let doc: { mediaType?: unknown; schemaVersion?: unknown; manifests?: unknown; config?: unknown };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch (err) {
    throw new TsdockError('INVALID_IMAGE', `${what}: manifest is not valid JSON`, { cause: err });
  }
  if (doc.schemaVersion === 1) throw schema1Error(what);
  if (typeof doc.mediaType === 'string') return doc.mediaType;
  // OCI documents may omit mediaType; their shape then tells.
  if (Array.isArray(doc.manifests)) return MEDIA_TYPE.ociIndex;
  if (doc.config !== undefined) return MEDIA_TYPE.ociManifest;
  return undefined;
}

/**
 * Fetches the manifest `reference` (a tag or a digest) of `repository`.
 *
 * @throws TsdockError `IMAGE_NOT_FOUND` when there is none; `INVALID_IMAGE` for schema 1, a
 *   digest mismatch, an unknown or inconsistent media type, or a manifest over the size cap.
 */
export async function fetchManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  scopes: string[],
  signal?: AbortSignal,
): Promise<FetchedManifest> {
  const what = `${client.domain}/${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
  const res = await client.request({
    method: 'GET',
    path: `/v2/${repository}/manifests/${reference}`,
    scopes,
    headers: { accept: ACCEPT.join(', ') },
    signal,
  });
  if (res.status === 404) {
    await res.body.dump();
    throw new TsdockError('IMAGE_NOT_FOUND', `${what}: manifest unknown`);
  }
  if (res.status !== 200) throw await client.failure(res, what);
  const length = Number(res.headers['content-length'] ?? '0');
  if (length > MAX_MANIFEST) {
    await res.body.dump();
    throw new TsdockError(
      'INVALID_IMAGE',
      `${what}: manifest of ${length} bytes is over the ${MAX_MANIFEST}-byte limit`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = Buffer.from(await readLimited(res.body, MAX_MANIFEST), 'utf8');
  } catch (err) {
    throw new TsdockError('INVALID_IMAGE', `${what}: manifest over the ${MAX_MANIFEST}-byte limit`, { cause: err });
  }
  const digest = sha256Digest(bytes);
  const expected = reference.startsWith('sha256:') ? reference : res.headers['docker-content-digest'];
  if (expected !== undefined && expected.startsWith('sha256:') && expected !== digest) {
    throw new TsdockError('INVALID_IMAGE', `${what}: manifest digest mismatch: expected ${expected}, got ${digest}`);
  }
  const headerType = (res.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
  if (SCHEMA1.test(headerType)) throw schema1Error(what);
  const mediaType = bodyMediaType(bytes, what);
  if (mediaType === undefined || !(isIndexMediaType(mediaType) || isManifestMediaType(mediaType))) {
    throw new TsdockError('INVALID_IMAGE', `${what}: unsupported manifest type ${mediaType ?? headerType}`);
  }
  const known = isIndexMediaType(headerType) || isManifestMediaType(headerType);
  if (known && headerType !== mediaType) {
    throw new TsdockError('INVALID_IMAGE', `${what}: served as ${headerType} but the body says ${mediaType}`);
  }
  return { bytes, digest, mediaType };
}

/** `linux/arm64/v8` */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== '').join('/');
}

/**
 * Parses `os/arch[/variant]`.
 *
 * @throws TsdockError `INVALID_ARGUMENT` when malformed.
 */
export function parsePlatform(value: string): Platform {
  const parts = value.split('/');
  const [os, architecture, variant] = parts;
  if (parts.length < 2 || parts.length > 3 || parts.some((s) => !/^[a-z0-9_.-]+$/i.test(s))) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid platform "${value}": expected os/arch[/variant]`);
  }
  return variant === undefined
    ? { os: os ?? '', architecture: architecture ?? '' }
    : { os: os ?? '', architecture: architecture ?? '', variant };
}

/** The variant an architecture has when none is stated (as Go's and containerd's defaults). */
function defaultVariant(architecture: string): string | undefined {
  if (architecture === 'arm64') return 'v8';
  if (architecture === 'arm') return 'v7';
  return undefined;
}

/** Whether an index entry's platform is `wanted`; a missing variant matches the default one. */
export function platformMatches(entry: Platform | undefined, wanted: Platform): boolean {
  if (entry === undefined) return false;
  if (entry.os !== wanted.os || entry.architecture !== wanted.architecture) return false;
  const a = entry.variant ?? defaultVariant(entry.architecture);
  const b = wanted.variant ?? defaultVariant(wanted.architecture);
  // An architecture without variants by default (amd64) takes the first entry of any variant.
  return a === b || b === undefined;
}

/**
 * The index entry for `platform`.
 *
 * @throws TsdockError `IMAGE_NOT_FOUND` listing the platforms the index has.
 */
export function selectPlatform(index: ImageIndex, platform: Platform, what: string): Descriptor {
  const manifests = index.manifests.filter((m) => isManifestMediaType(m.mediaType));
  const chosen = manifests.find((m) => platformMatches(m.platform, platform));
  if (chosen !== undefined) return chosen;
  const available = manifests.flatMap((m) => (m.platform === undefined ? [] : [formatPlatform(m.platform)]));
  throw new TsdockError(
    'IMAGE_NOT_FOUND',
    `${what}: no image for ${formatPlatform(platform)} (the index has ${available.join(', ') || 'none'})`,
  );
}
