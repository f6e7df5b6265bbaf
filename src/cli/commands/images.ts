/** `tsdock images`. */
import { Runtime } from '../../index.js';
import { humanSize, since, table } from '../render.js';
import type { GlobalOptions } from '../main.js';

/** Docker shows the first 12 hex digits of the config digest. */
const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

export async function images(globals: GlobalOptions, flags: { quiet?: boolean }): Promise<void> {
  const runtime = await Runtime.open({ root: globals.root });
  const list = await runtime.listImages();
  if (flags.quiet) {
    process.stdout.write([...new Set(list.map((i) => shortId(i.id)))].map((id) => `${id}\n`).join(''));
    return;
  }
  const rows = list.map((i) => [i.repository, i.tag, shortId(i.id), since(i.created), humanSize(i.size)]);
  process.stdout.write(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], rows));
}
