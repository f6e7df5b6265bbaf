/**
 * `images.json`: which images the store holds and their names. Keyed by image ID (the config
 * digest), each image lists its manifest, creation time and names
 * (`docker.io/library/busybox:latest`). An image whose last name moves to another image stays,
 * nameless, like Docker's `<none>` images: re-tagging never deletes layers a running container
 * may be using; only `remove` does.
 *
 * The functions here are pure (they change the object they are given); the store reads the file,
 * changes it under its lock and writes it back atomically.
 */
import { TsdockError } from '../errors.js';
import { isDigest, parseDigest, type Digest } from './digest.js';
import {
  familiarReference,
  formatReference,
  parseReference,
  repositoryName,
  type ImageReference,
} from './reference.js';

export interface ImageRecord {
  /** Digest of the image's manifest in the blob store. */
  manifest: Digest;
  /** RFC 3339: the config's `created`, or when the image was first stored. */
  created: string;
  /** Canonical names, `docker.io/library/busybox:latest`; empty for a `<none>` image. */
  names: string[];
}

export interface ImagesFile {
  version: 1;
  /** By image ID. */
  images: Record<string, ImageRecord>;
}

export function emptyImagesFile(): ImagesFile {
  return { version: 1, images: {} };
}

/** Parses `images.json`, checking its shape (a corrupt file must not lead to deleting blobs). */
export function parseImagesFile(bytes: Buffer, where: string): ImagesFile {
  const corrupt = (): TsdockError => new TsdockError('STORE', `${where}: corrupt image index`);
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new TsdockError('STORE', `${where}: corrupt image index`, { cause: err });
  }
  const file = data as Partial<ImagesFile> | null;
  if (file?.version !== 1 || typeof file.images !== 'object' || Array.isArray(file.images)) throw corrupt();
  for (const [id, record] of Object.entries(file.images as Record<string, Partial<ImageRecord> | null>)) {
    const ok =
      isDigest(id) &&
      isDigest(record?.manifest) &&
      typeof record.created === 'string' &&
      Array.isArray(record.names) &&
      record.names.every((n) => typeof n === 'string');
    if (!ok) throw corrupt();
  }
  return file as ImagesFile;
}

/**
 * Records image `id` with `names`, taking each name away from any other image (a name means
 * one image). An image already present keeps its names and gets the new manifest.
 */
export function addImage(file: ImagesFile, id: Digest, manifest: Digest, created: string, names: string[]): void {
  for (const name of names) untag(file, name);
  const record = file.images[id] ?? { manifest, created, names: [] };
  record.manifest = manifest;
  record.names = [...new Set([...record.names, ...names])];
  file.images[id] = record;
}

/** Takes `name` away from whichever image has it; returns that image's ID. */
export function untag(file: ImagesFile, name: string): Digest | undefined {
  for (const [id, record] of Object.entries(file.images)) {
    if (record.names.includes(name)) {
      record.names = record.names.filter((n) => n !== name);
      return parseDigest(id, 'STORE', 'images.json');
    }
  }
  return undefined;
}

/** How {@link findImage} found an image. */
export interface FoundImage {
  id: Digest;
  record: ImageRecord;
  /** The canonical name the input named, when it named one (not for an ID or a digest). */
  name: string | undefined;
}

const FULL_ID = /^(?:sha256:)?([0-9a-f]{64})$/;
const ID_PREFIX = /^[0-9a-f]{1,63}$/;

/**
 * Finds the image that `input` names: a full image ID (`sha256:…` or 64 hex digits), a
 * reference (`busybox`, `busybox:1.36`, `busybox@sha256:<manifest digest>`), or failing those a
 * unique prefix of an image ID — Docker's order.
 *
 * @throws TsdockError `IMAGE_NOT_FOUND` (one line: what, and how to get it);
 *   `INVALID_ARGUMENT` for a malformed reference or an ambiguous ID prefix.
 */
export function findImage(file: ImagesFile, input: string): FoundImage {
  const images = Object.entries(file.images).map(([id, record]) => ({
    id: parseDigest(id, 'STORE', 'images.json'),
    record,
    name: undefined,
  }));
  const full = FULL_ID.exec(input);
  if (full !== null) {
    const found = images.find((image) => image.id === `sha256:${full[1] ?? ''}`);
    if (found !== undefined) return found;
    throw notFound(input);
  }

  let ref: ImageReference | undefined;
  let parseError: TsdockError | undefined;
  try {
    ref = parseReference(input);
  } catch (err) {
    if (!(err instanceof TsdockError)) throw err;
    parseError = err;
  }
  if (ref?.digest !== undefined) {
    const { digest } = ref;
    const repository = repositoryName(ref);
    const found = images.find(
      ({ record }) =>
        record.manifest === digest && record.names.some((n) => repositoryName(parseReference(n)) === repository),
    );
    if (found !== undefined) return found;
  } else if (ref !== undefined) {
    const name = formatReference(ref);
    const found = images.find(({ record }) => record.names.includes(name));
    if (found !== undefined) return { ...found, name };
  }

  if (ID_PREFIX.test(input)) {
    const matches = images.filter((image) => image.id.startsWith(`sha256:${input}`));
    if (matches.length > 1) {
      throw new TsdockError('INVALID_ARGUMENT', `image ID prefix ${input} is ambiguous (${matches.length} images)`);
    }
    if (matches[0] !== undefined) return matches[0];
  }
  if (parseError !== undefined) throw parseError;
  throw notFound(ref === undefined ? input : familiarReference(ref));
}

function notFound(what: string): TsdockError {
  return new TsdockError('IMAGE_NOT_FOUND', `image not found: ${what}; load or pull it first (tsdock load -i FILE)`);
}
