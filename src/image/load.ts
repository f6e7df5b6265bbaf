/**
 * `tsdock load -i FILE` (or from stdin): an OCI archive (a tar of an OCI image layout) or a
 * `docker save` archive, plain or gzip-compressed. The archive is extracted into the store's
 * scratch space (same file system, so verified blobs are moved, not copied), imported, and the
 * scratch removed.
 */
import { TsdockError } from '../errors.js';
import { extractArchive } from './archive-extract.js';
import { readDockerSave } from './docker-save.js';
import type { ImportPlan } from './import.js';
import { readLayout } from './oci-layout-reader.js';
import type { ImageStore, ImportOptions } from './store.js';

/** An archive read from a stream rather than a file: `name` stands for it in messages (`stdin`). */
export interface ArchiveStream {
  name: string;
  content: AsyncIterable<Buffer>;
}

/**
 * Extracts `source` (a file, or a stream) into `scratch` and plans its import. A `docker save` archive is recognised by
 * its `manifest.json` (Docker 25+ archives also hold an OCI layout; `RepoTags` carry full names,
 * so they win), an OCI archive by `oci-layout` / `index.json`.
 *
 * @throws TsdockError `INVALID_IMAGE`: one line naming `file` and what is wrong.
 */
export async function readArchive(
  source: string | ArchiveStream,
  scratch: string,
  options: ImportOptions,
): Promise<ImportPlan> {
  const file = typeof source === 'string' ? source : source.name;
  const archive = await extractArchive(file, scratch, typeof source === 'string' ? undefined : source.content);
  const files = (path: string): string | undefined => archive.lookup(path);
  if (files('manifest.json') !== undefined) return readDockerSave(files, file, options);
  if (files('oci-layout') !== undefined || files('index.json') !== undefined) {
    return readLayout(files, file, { name: options.name, move: true });
  }
  throw new TsdockError(
    'INVALID_IMAGE',
    `${file}: neither an OCI archive (no oci-layout, index.json) nor a docker save archive (no manifest.json)`,
  );
}

/**
 * Loads an archive into `store`; returns what to call the loaded images: their names
 * (`busybox:latest`), or the ID of an image that has none.
 *
 * @example for (const name of await loadArchive(store, 'busybox.tar')) console.log(`Loaded image: ${name}`);
 */
export async function loadArchive(
  store: ImageStore,
  source: string | ArchiveStream,
  options: ImportOptions = {},
): Promise<string[]> {
  const images = await store.load(source, options);
  return images.flatMap((image) => (image.names.length > 0 ? image.names : [image.id]));
}
