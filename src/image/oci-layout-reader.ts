/**
 * Reading an OCI image layout (image-spec "image-layout.md": `oci-layout`, `index.json`,
 * `blobs/sha256/…`) into an import plan: which manifests to import and under which names.
 * The layout may be a directory or an extracted archive; files are found through a lookup.
 */
import { TsdockError } from '../errors.js';
import { readVerified } from './blob-store.js';
import { digestHex, type Digest } from './digest.js';
import { readIfExists } from './fs-util.js';
import { MAX_JSON_BLOB, nameTheOnlyImage, type ImageCandidate, type ImportPlan } from './import.js';
import {
  hostPlatform,
  IMAGE_NAME_ANNOTATION,
  isIndexMediaType,
  isManifestMediaType,
  parseIndex,
  REF_NAME_ANNOTATION,
  runsOnHost,
  type Descriptor,
} from './oci.js';
import { formatReference, parseReference } from './reference.js';

/** Maps a path inside the layout to a readable file, or `undefined` when there is none. */
export type LayoutFiles = (path: string) => string | undefined;

/**
 * The canonical name an index entry's annotations give, if any. `io.containerd.image.name`
 * holds a full name; `org.opencontainers.image.ref.name` is often only a tag (`latest`, as
 * `umoci` and `skopeo oci:DIR:latest` write it), which names no repository and is then ignored.
 */
export function nameFromAnnotations(annotations: Record<string, string> | undefined): string | undefined {
  for (const candidate of [annotations?.[IMAGE_NAME_ANNOTATION], annotations?.[REF_NAME_ANNOTATION]]) {
    if (candidate === undefined || !/[:/]/.test(candidate)) continue;
    try {
      const ref = parseReference(candidate);
      if (ref.digest === undefined) return formatReference(ref);
    } catch {
      // A malformed annotation names nothing; the image can still be loaded and named later.
    }
  }
  return undefined;
}

/**
 * The canonical form of a name given for an import.
 *
 * @throws TsdockError `INVALID_ARGUMENT` when malformed or holding a digest.
 */
export function nameForImport(name: string): string {
  const ref = parseReference(name);
  if (ref.digest !== undefined) throw new TsdockError('INVALID_ARGUMENT', `cannot name an image by digest: ${name}`);
  return formatReference(ref);
}

/**
 * Plans the import of the layout's images that run on this host. A nested index (a multi-platform
 * image) contributes its manifest for this platform. `name`, when given, names the one image
 * the layout must then hold, instead of its annotations.
 *
 * @throws TsdockError `INVALID_IMAGE` for a missing or malformed layout, or one with no image for
 *   this platform; `INVALID_ARGUMENT` for a `name` with several images.
 */
export async function readLayout(
  files: LayoutFiles,
  where: string,
  options: { name?: string | undefined; move: boolean },
): Promise<ImportPlan> {
  const invalid = (what: string): TsdockError => new TsdockError('INVALID_IMAGE', `${where}: ${what}`);
  const givenName = options.name === undefined ? undefined : nameForImport(options.name);
  const markerPath = files('oci-layout');
  const marker = markerPath === undefined ? undefined : await readIfExists(markerPath);
  if (marker === undefined) throw invalid('not an OCI image layout (no oci-layout file)');
  const indexPath = files('index.json');
  const indexBytes = indexPath === undefined ? undefined : await readIfExists(indexPath);
  if (indexBytes === undefined) throw invalid('OCI image layout without index.json');
  const index = parseIndex(indexBytes, `${where}: index.json`);

  const blob = (digest: Digest): string | undefined => files(`blobs/sha256/${digestHex(digest)}`);
  const read = (desc: Descriptor, what: string): Promise<Buffer> =>
    readVerified(blob(desc.digest), desc, `${where}: ${what} ${desc.digest}`, MAX_JSON_BLOB);

  const byManifest = new Map<Digest, ImageCandidate>();
  for (const desc of index.manifests) {
    let chosen: Descriptor | undefined;
    if (isIndexMediaType(desc.mediaType)) {
      const nested = parseIndex(await read(desc, 'index'), `${where}: index ${desc.digest}`);
      chosen = nested.manifests.find((m) => isManifestMediaType(m.mediaType) && runsOnHost(m.platform));
    } else if (isManifestMediaType(desc.mediaType) && runsOnHost(desc.platform)) {
      chosen = desc;
    }
    if (chosen === undefined) continue;
    const name = nameFromAnnotations(desc.annotations);
    const existing = byManifest.get(chosen.digest);
    if (existing !== undefined) {
      if (name !== undefined && !existing.names.includes(name)) existing.names.push(name);
      continue;
    }
    byManifest.set(chosen.digest, {
      manifest: await read(chosen, 'manifest'),
      names: name === undefined ? [] : [name],
    });
  }

  const images = [...byManifest.values()];
  if (images.length === 0) {
    const { os, architecture } = hostPlatform();
    throw invalid(`no image for ${os}/${architecture} in index.json`);
  }
  nameTheOnlyImage(images, givenName, where);
  return { source: { path: blob, move: options.move }, images };
}
