/**
 * A RUN step is a real tsdock container: the image built so far as its overlay lower layers, a
 * fresh upper directory, the stage's Env (plus the ARGs in scope), WorkingDir, User and the
 * requested network. Its output streams to the caller; once it exits 0, its upper directory
 * is exactly the step's change, which the caller turns into a layer before the container is
 * removed. Nothing of the container stays after `remove` (directory, cgroup, network).
 */
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { TsdockError } from '../errors.js';
import { containerDirPaths, removeContainerDir } from '../runtime/container-dir.js';
import { releaseContainerName } from '../runtime/container-store.js';
import { startContainer, type StartedContainer } from '../runtime/container.js';
import type { ImageRuntimeConfig } from '../runtime/plan-builder.js';

export interface RunStepRequest {
  containersRoot: string;
  /** The image so far, bottom to top (unpacked layer directories, all under one parent). */
  layerDirs: string[];
  config: ImageRuntimeConfig;
  argv: string[];
  /** `KEY=value` entries over the config's Env (the ARGs in scope). */
  env: string[];
  network: 'bridge' | 'host' | 'none';
  onOutput: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  signal?: AbortSignal | undefined;
}

/** A RUN that exited 0: its change is in `upper` until `remove`. */
export interface FinishedRun {
  containerId: string;
  upper: string;
  remove: () => Promise<void>;
}

/** How the RUN was shown in errors and history: the command as one line. */
export function commandLine(argv: readonly string[]): string {
  return argv.join(' ');
}

async function drain(stream: Readable | null, name: 'stdout' | 'stderr', req: RunStepRequest): Promise<void> {
  if (stream === null) return;
  stream.on('data', (chunk: Buffer) => {
    req.onOutput(chunk, name);
  });
  await once(stream, 'end');
}

/**
 * Runs the command; resolves once it exited 0.
 *
 * @throws TsdockError `BUILD_FAILED`: `The command '/bin/sh -c false' returned a non-zero
 *   code: 1` (the container is gone by then); a start failure as the runtime reports it.
 */
export async function runStep(req: RunStepRequest, onStart: (id: string) => void): Promise<FinishedRun> {
  req.signal?.throwIfAborted();
  const started: StartedContainer = await startContainer({
    containersRoot: req.containersRoot,
    image: { config: req.config, layerDirs: req.layerDirs, name: 'build' },
    options: {
      entrypoint: req.argv,
      command: [],
      env: req.env,
      network: req.network,
      ...(req.config.WorkingDir === undefined ? {} : { workdir: req.config.WorkingDir }),
      ...(req.config.User === undefined ? {} : { user: req.config.User }),
    },
    autoRemove: true,
    stdio: { stdin: 'ignore', output: 'pipe' },
  });
  const paths = containerDirPaths(req.containersRoot, started.id);
  const remove = async (): Promise<void> => {
    removeContainerDir(paths);
    await releaseContainerName(req.containersRoot, started.name, started.id);
    await started.cgroup.destroy();
  };
  onStart(started.id);
  // The whole cgroup: a SIGKILL to the monitor would only orphan the command.
  const abort = (): void => {
    started.cgroup.kill().catch((err: unknown) => {
      req.onOutput(Buffer.from(`tsdock: cannot stop the step: ${(err as Error).message}\n`), 'stderr');
    });
  };
  req.signal?.addEventListener('abort', abort);
  try {
    const [exit] = await Promise.all([
      started.wait(),
      drain(started.monitor.stdout, 'stdout', req),
      drain(started.monitor.stderr, 'stderr', req),
    ]);
    req.signal?.throwIfAborted();
    if (exit.exitCode !== 0) {
      throw new TsdockError(
        'BUILD_FAILED',
        `The command '${commandLine(req.argv)}' returned a non-zero code: ${exit.exitCode}`,
      );
    }
  } catch (err) {
    await remove();
    throw err;
  } finally {
    req.signal?.removeEventListener('abort', abort);
  }
  return { containerId: started.id, upper: paths.upper, remove };
}
