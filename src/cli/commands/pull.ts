/** `tsdock pull [--platform os/arch[/variant]] [--tls-verify=false] [--max-concurrent-downloads N] [-q] REF`. */
import { TsdockError } from '../../errors.js';
import { Runtime } from '../../index.js';
import { parsePlatform } from '../../image/registry/manifest.js';
import { familiarReference, formatReference, parseReference } from '../../image/reference.js';
import { parseLayerLimits } from '../layer-limits.js';
import type { GlobalOptions } from '../main.js';
import { interruptible } from '../interruptible.js';
import { TransferProgress } from '../transfer-progress.js';
import { parseTlsVerify } from './login.js';

export interface PullFlags {
  platform?: string;
  tlsVerify?: string | boolean;
  quiet?: boolean;
  maxConcurrentDownloads?: string;
}

/** `--max-concurrent-downloads N`: layers fetched (and unpacked) at once, Docker's flag. */
function parseConcurrency(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 64) {
    throw new TsdockError('INVALID_ARGUMENT', `invalid --max-concurrent-downloads "${value}": expected 1 to 64`);
  }
  return n;
}

export async function pull(globals: GlobalOptions, reference: string, flags: PullFlags): Promise<void> {
  const ref = parseReference(reference);
  const platform = flags.platform === undefined ? undefined : parsePlatform(flags.platform);
  const quiet = flags.quiet === true;
  const concurrency = parseConcurrency(flags.maxConcurrentDownloads);
  const runtime = await Runtime.open({ root: globals.root, layerLimits: parseLayerLimits(globals.layerLimits) });
  const progress = new TransferProgress(process.stdout, quiet);
  await interruptible(async (signal) => {
    if (!quiet) process.stdout.write(`${ref.tag ?? ref.digest ?? 'latest'}: Pulling from ${ref.path}\n`);
    const seen = { fetched: false };
    const result = await runtime.pullImage(reference, {
      platform,
      concurrency,
      tlsVerify: parseTlsVerify(flags.tlsVerify),
      onProgress: (event) => {
        if (event.type === 'layer' && event.status === 'complete') seen.fetched = true;
        progress.listener(event);
      },
      signal,
    });
    progress.finish();
    const name = familiarReference(ref);
    if (quiet) process.stdout.write(`${formatReference(ref)}\n`);
    else {
      const status = seen.fetched ? `Downloaded newer image for ${name}` : `Image is up to date for ${name}`;
      process.stdout.write(`Digest: ${result.digest}\nStatus: ${status}\n${formatReference(ref)}\n`);
    }
  });
}
