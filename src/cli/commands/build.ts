/**
 * `tsdock build [-t NAME]… [-f FILE] [--build-arg K=V]… [--target S] [--no-cache] [--pull]
 * [--network M] [-q] [--iidfile F] [--platform P] CONTEXT`, printed the way `docker build`'s
 * classic builder prints: `Step 3/9 : RUN …`, ` ---> Using cache`, the RUN's output, ` ---> id`.
 */
import { writeFile } from 'node:fs/promises';
import { Runtime, TsdockError, type BuildEvent } from '../../index.js';
import { parseBuildArgs } from '../../build/build-args.js';
import { parsePlatform } from '../../image/registry/manifest.js';
import { familiarReference, parseReference } from '../../image/reference.js';
import type { GlobalOptions } from '../main.js';
import { interruptible } from '../interruptible.js';
import { reportError } from '../render.js';

const NETWORKS = new Map([
  ['default', 'bridge'],
  ['bridge', 'bridge'],
  ['host', 'host'],
  ['none', 'none'],
] as const);

function render(event: BuildEvent): void {
  const out = process.stdout;
  switch (event.type) {
    case 'step':
      out.write(`Step ${event.step}/${event.total} : ${event.instruction.split('\n')[0] ?? ''}\n`);
      break;
    case 'triggers':
      out.write(`# Executing ${event.count} build trigger${event.count === 1 ? '' : 's'}\n`);
      break;
    case 'cached':
      out.write(' ---> Using cache\n');
      break;
    case 'running':
      out.write(` ---> Running in ${event.containerId.slice(0, 12)}\n`);
      break;
    case 'output':
      (event.stream === 'stdout' ? process.stdout : process.stderr).write(event.chunk);
      break;
    case 'step-done':
      out.write(` ---> ${event.id}\n`);
      break;
    case 'warning':
      process.stderr.write(`[Warning] ${event.message}\n`);
  }
}

export async function build(globals: GlobalOptions, context: string, flags: Record<string, unknown>): Promise<number> {
  const quiet = flags.quiet === true;
  const networkFlag = flags.network as string;
  const network = NETWORKS.get(networkFlag as 'default');
  try {
    if (network === undefined) {
      throw new TsdockError('INVALID_ARGUMENT', `--network ${networkFlag}: expected default, bridge, host or none`);
    }
    const runtime = await Runtime.open({ root: globals.root });
    return await interruptible(async (signal) => {
      const tags = flags.tag as string[];
      const result = await runtime.build(context, {
        file: flags.file as string | undefined,
        tags,
        buildArgs: parseBuildArgs(flags.buildArg as string[]),
        target: flags.target as string | undefined,
        noCache: flags.cache === false,
        pull: flags.pull === true,
        network,
        ...(typeof flags.platform === 'string' ? { platform: parsePlatform(flags.platform) } : {}),
        // -q silences the steps, not the warnings (stderr).
        onEvent: quiet
          ? (e) => {
              if (e.type === 'warning') render(e);
            }
          : render,
        signal,
      });
      if (typeof flags.iidfile === 'string') await writeFile(flags.iidfile, result.id);
      if (quiet) process.stdout.write(`${result.id}\n`);
      else {
        process.stdout.write(`Successfully built ${result.id.slice('sha256:'.length, 'sha256:'.length + 12)}\n`);
        for (const name of result.names) {
          process.stdout.write(`Successfully tagged ${familiarReference(parseReference(name))}\n`);
        }
      }
      return 0;
    });
  } catch (err) {
    return reportError(err);
  }
}
