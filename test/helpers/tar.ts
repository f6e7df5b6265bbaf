/** Tar members for tests: a plain 0644 root-owned empty file, with whatever a case overrides. */
import type { TarWriterEntry } from '../../src/image/tar-writer.js';

export function tarEntry(over: Partial<TarWriterEntry>): TarWriterEntry {
  return {
    path: 'f',
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 1_700_000_000,
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...over,
  };
}
