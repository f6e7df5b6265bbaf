/**
 * `node dist/images/busybox/build.js --out DIR [--archive FILE.tar]`: builds the demo image from
 * the host's static busybox. `SOURCE_DATE_EPOCH` overrides the recorded time.
 */
import { parseArgs } from 'node:util';
import { buildBusyboxImage } from './image.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, archive: { type: 'string' } } });
  if (values.out === undefined) throw new Error('usage: build.js --out DIR [--archive FILE.tar]');
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const written = await buildBusyboxImage({
    out: values.out,
    archive: values.archive,
    ...(epoch === undefined ? {} : { mtime: Number(epoch) }),
  });
  process.stdout.write(
    `busybox:latest ${written.config} -> ${values.out}${values.archive ? `, ${values.archive}` : ''}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`build busybox: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
