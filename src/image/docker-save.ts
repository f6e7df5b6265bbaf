/**
 * `docker save` archives: `manifest.json` lists each image's config file, layer files and
 * `RepoTags`. The store keeps images in OCI form, so each gets an OCI manifest written for it:
 * the config as it is (its digest stays the image ID Docker showed), each layer file as an
 * OCI layer blob with the media type its magic bytes call for.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { TsdockError } from '../errors.js';
import { detectCompression } from './compression.js';
import { digestStream, sha256Digest, type Digest } from './digest.js';
import { MAX_JSON_BLOB, nameTheOnlyImage, type ImageCandidate, type ImportPlan } from './import.js';
import { nameForImport, type LayoutFiles } from './oci-layout-reader.js';
import { MEDIA_TYPE, type Descriptor } from './oci.js';

const LAYER_MEDIA_TYPES = {
  none: MEDIA_TYPE.ociLayer,
  gzip: MEDIA_TYPE.ociLayerGzip,
  zstd: MEDIA_TYPE.ociLayerZstd,
} as const;

interface SaveEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function parseSaveManifest(bytes: Buffer, where: string): SaveEntry[] {
  const invalid = (what: string): TsdockError => new TsdockError('INVALID_IMAGE', `${where}: ${what}`);
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new TsdockError('INVALID_IMAGE', `${where}: not valid JSON`, { cause: err });
  }
  if (!Array.isArray(data)) throw invalid('not an array');
  const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
  return data.map((item: unknown, i) => {
    const o = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    if (typeof o.Config !== 'string') throw invalid(`[${i}].Config: not a string`);
    if (!isStrings(o.Layers)) throw invalid(`[${i}].Layers: not a list of strings`);
    const tags = o.RepoTags ?? [];
    if (!isStrings(tags)) throw invalid(`[${i}].RepoTags: not a list of strings`);
    return { Config: o.Config, RepoTags: tags, Layers: o.Layers };
  });
}

/** A file's digest, size and media type as an OCI layer. */
async function describeLayer(path: string, where: string): Promise<Descriptor> {
  const head = Buffer.alloc(6);
  const handle = await open(path, 'r');
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  const compression = detectCompression(head);
  if (compression === 'bzip2' || compression === 'xz') {
    throw new TsdockError('INVALID_IMAGE', `${where}: ${compression}-compressed layers are not supported`);
  }
  const { digest, size } = await digestStream(createReadStream(path));
  return { mediaType: LAYER_MEDIA_TYPES[compression], digest, size };
}

/**
 * Plans the import of a `docker save` archive's images; `files` finds its members. `name`, when
 * given, names the one image the archive must then hold, instead of its `RepoTags`.
 *
 * @throws TsdockError `INVALID_IMAGE` naming `where` and the member at fault.
 */
export async function readDockerSave(
  files: LayoutFiles,
  where: string,
  options: { name?: string | undefined },
): Promise<ImportPlan> {
  const givenName = options.name === undefined ? undefined : nameForImport(options.name);
  const member = (path: string, what: string): string => {
    const file = files(path);
    if (file === undefined)
      throw new TsdockError('INVALID_IMAGE', `${where}: ${what} ${JSON.stringify(path)} is missing`);
    return file;
  };
  const read = async (path: string, what: string): Promise<Buffer> => {
    const handle = await open(member(path, what), 'r');
    try {
      if ((await handle.stat()).size > MAX_JSON_BLOB)
        throw new TsdockError('INVALID_IMAGE', `${where}: ${what} is too large`);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  };

  const entries = parseSaveManifest(await read('manifest.json', 'manifest.json'), `${where}: manifest.json`);
  const blobs = new Map<Digest, string>();
  const images: ImageCandidate[] = [];
  for (const [i, entry] of entries.entries()) {
    const config = await read(entry.Config, `image ${i + 1} config`);
    const configDigest = sha256Digest(config);
    blobs.set(configDigest, member(entry.Config, 'config'));
    const layers: Descriptor[] = [];
    for (const path of entry.Layers) {
      const file = member(path, `image ${i + 1} layer`);
      const layer = await describeLayer(file, `${where}: ${path}`);
      blobs.set(layer.digest, file);
      layers.push(layer);
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociManifest,
      config: { mediaType: MEDIA_TYPE.ociConfig, digest: configDigest, size: config.length },
      layers,
    };
    const names = entry.RepoTags.map((tag) => {
      try {
        return nameForImport(tag);
      } catch (err) {
        throw new TsdockError('INVALID_IMAGE', `${where}: manifest.json: bad RepoTag ${JSON.stringify(tag)}`, {
          cause: err,
        });
      }
    });
    images.push({ manifest: Buffer.from(JSON.stringify(manifest)), names });
  }
  if (images.length === 0) throw new TsdockError('INVALID_IMAGE', `${where}: manifest.json lists no images`);
  nameTheOnlyImage(images, givenName, where);
  return { source: { path: (digest) => blobs.get(digest), move: true }, images };
}
