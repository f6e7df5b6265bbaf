/** `tsdock image inspect IMAGE...` and `tsdock image prune [-a] [-f]`. */
import { Runtime, type ImageInspect } from '../../index.js';
import { familiarReference, familiarRepository, parseReference } from '../../image/reference.js';
import { TsdockError } from '../../errors.js';
import { humanSize } from '../render.js';
import type { GlobalOptions } from '../main.js';
import { confirmPrune } from '../confirm-prune.js';

/** Docker's `image inspect` JSON for one image (RepoDigests: each repository with the stored manifest). */
function dockerShape(image: ImageInspect): Record<string, unknown> {
  const refs = image.names.map((n) => parseReference(n));
  return {
    Id: image.id,
    RepoTags: refs.map((r) => familiarReference(r)),
    RepoDigests: [...new Set(refs.map((r) => `${familiarRepository(r)}@${image.digest}`))],
    Created: image.created ?? '',
    Architecture: image.architecture,
    Os: image.os,
    Config: image.config,
    RootFS: { Type: 'layers', Layers: image.layers },
    Size: image.size,
  };
}

/** Prints a JSON array of every image found; exits 1 if one was not (Docker's `image inspect`). */
export async function imageInspect(globals: GlobalOptions, refs: string[]): Promise<number> {
  const runtime = await Runtime.open({ root: globals.root });
  const found = [];
  let status = 0;
  for (const ref of refs) {
    try {
      found.push(dockerShape(await runtime.inspectImage(ref)));
    } catch (err) {
      if (!(err instanceof TsdockError) || err.code !== 'IMAGE_NOT_FOUND') throw err;
      process.stderr.write(`tsdock: ${err.message}\n`);
      status = 1;
    }
  }
  process.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
  return status;
}

export async function imagePrune(globals: GlobalOptions, flags: { all?: boolean; force?: boolean }): Promise<void> {
  const all = flags.all === true;
  if (
    flags.force !== true &&
    !(await confirmPrune(all ? 'all images without at least one container associated to them' : 'all dangling images'))
  )
    return;
  const runtime = await Runtime.open({ root: globals.root });
  const { lines, reclaimed } = await runtime.pruneImages({ all });
  const deleted = lines.length > 0 ? `Deleted Images:\n${lines.map((l) => `${l}\n`).join('')}\n` : '';
  process.stdout.write(`${deleted}Total reclaimed space: ${humanSize(reclaimed)}\n`);
}
