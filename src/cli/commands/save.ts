/** `tsdock save [-o FILE] [--format docker|oci] IMAGE...`: to a file, or to stdout as Docker writes it. */
import { Runtime, TsdockError, type ArchiveFormat } from '../../index.js';
import type { GlobalOptions } from '../main.js';

const isFormat = (format: string): format is ArchiveFormat => format === 'docker' || format === 'oci';

export async function save(
  globals: GlobalOptions,
  images: string[],
  flags: { output?: string; format: string },
): Promise<void> {
  const { format } = flags;
  if (!isFormat(format)) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `unknown archive format "${format}" (use --format docker or --format oci)`,
    );
  }
  if (flags.output === undefined && process.stdout.isTTY) {
    throw new TsdockError('INVALID_ARGUMENT', 'refusing to write an archive to a terminal (use -o FILE or > FILE)');
  }
  const runtime = await Runtime.open({ root: globals.root });
  await runtime.saveImages(images, flags.output ?? process.stdout, { format });
}
