/**
 * OCI whiteouts (image-spec "Representing Changes") and their overlayfs form. A layer tar marks
 * a deleted path with an empty `.wh.<name>` member and an opaque directory (one that hides
 * everything below it) with `.wh..wh..opq`; overlayfs wants a 0:0 character device at `<name>`
 * and the `trusted.overlay.opaque=y` xattr on the directory (kernel
 * Documentation/filesystems/overlayfs.rst, "whiteouts and opaque directories").
 */
import { TsdockError } from '../errors.js';

const WHITEOUT_PREFIX = '.wh.';
/** `.wh..wh.*` names are AUFS bookkeeping (`.wh..wh.plnk`), except the opaque marker. */
const META_PREFIX = '.wh..wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

/** The overlayfs xattr that makes a directory opaque, and its value. */
export const OPAQUE_XATTR = 'trusted.overlay.opaque';
/**
 * The same for an overlay mounted in a user namespace (`userxattr`), which reads only the
 * `user.overlay.*` names (trusted.* is out of its reach). Unpacked layers carry both.
 */
export const USER_OPAQUE_XATTR = 'user.overlay.opaque';
export const OPAQUE_VALUE = Buffer.from('y');

/** What a layer member means, given its path components. */
export type LayerEntryKind =
  { kind: 'entry' } | { kind: 'whiteout'; target: string[] } | { kind: 'opaque'; dir: string[] } | { kind: 'ignored' };

/**
 * Classifies a layer member by its path components (as returned by `entryComponents`).
 *
 * @example classifyLayerEntry(['etc', '.wh.motd']) // { kind: 'whiteout', target: ['etc', 'motd'] }
 */
export function classifyLayerEntry(components: readonly string[]): LayerEntryKind {
  const last = components.at(-1);
  const parents = components.slice(0, -1);
  if (last === undefined) return { kind: 'entry' };
  if (parents.some((c) => c.startsWith(META_PREFIX))) return { kind: 'ignored' };
  if (last === OPAQUE_MARKER) return { kind: 'opaque', dir: parents };
  if (last.startsWith(META_PREFIX)) return { kind: 'ignored' };
  if (!last.startsWith(WHITEOUT_PREFIX)) return { kind: 'entry' };
  const name = last.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') {
    throw new TsdockError('INVALID_IMAGE', `layer whiteout ${JSON.stringify(components.join('/'))} names nothing`);
  }
  return { kind: 'whiteout', target: [...parents, name] };
}
