/**
 * Checking the paths of archive members before anything is built from them. A layer or image
 * archive is untrusted input: `/etc/passwd` or `../../etc/passwd` must never reach the host.
 */
import { TsdockError } from '../errors.js';

/**
 * The components of a member's path, relative to the extraction root; `[]` is the root itself.
 * `.` components and empty ones (`a//b`, a trailing `/`) are dropped.
 *
 * @throws TsdockError `INVALID_IMAGE` for an absolute path, a `..` component or a NUL byte.
 * @example entryComponents('./usr/bin/') // ['usr', 'bin']
 */
export function entryComponents(path: string): string[] {
  const refuse = (why: string): TsdockError =>
    new TsdockError('INVALID_IMAGE', `archive member ${JSON.stringify(path)}: ${why}`);
  if (path.startsWith('/')) throw refuse('absolute path');
  if (path.includes('\0')) throw refuse('NUL in path');
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw refuse('".." in path');
  return parts;
}
