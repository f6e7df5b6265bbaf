/** `tsdock push [--tls-verify=false] [-q] REF`. */
import { Runtime } from '../../index.js';
import { familiarReference, parseReference } from '../../image/reference.js';
import type { GlobalOptions } from '../main.js';
import { interruptible } from '../interruptible.js';
import { TransferProgress } from '../transfer-progress.js';
import { parseTlsVerify } from './login.js';

export interface PushFlags {
  tlsVerify?: string | boolean;
  quiet?: boolean;
}

export async function push(globals: GlobalOptions, reference: string, flags: PushFlags): Promise<void> {
  const ref = parseReference(reference);
  const quiet = flags.quiet === true;
  const runtime = await Runtime.open({ root: globals.root });
  const progress = new TransferProgress(process.stdout, quiet);
  if (!quiet) process.stdout.write(`The push refers to repository [${ref.domain}/${ref.path}]\n`);
  const result = await interruptible((signal) =>
    runtime.pushImage(reference, { tlsVerify: parseTlsVerify(flags.tlsVerify), onProgress: progress.listener, signal }),
  );
  progress.finish();
  if (quiet) process.stdout.write(`${familiarReference(ref)}\n`);
  else process.stdout.write(`${ref.tag ?? 'latest'}: digest: ${result.digest} size: ${result.size}\n`);
}
