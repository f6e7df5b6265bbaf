/**
 * The library's face of a build (`Runtime.build`): options as a caller gives them, the
 * Dockerfile read and parsed, then `builder.ts`.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { TsdockError } from '../errors.js';
import type { Platform } from '../image/oci.js';
import { buildImage, type BuildHost, type BuildResult } from './builder.js';
import { expandWord } from './dockerfile/expand.js';
import { parseDockerfile } from './dockerfile/parse.js';
import type { Instruction } from './dockerfile/types.js';
import type { BuildListener } from './progress.js';

export type { BuildResult } from './builder.js';

export interface BuildOptions {
  /** The Dockerfile: relative to the context (default `Dockerfile` there), or absolute. */
  file?: string;
  /** Names for the image (`app:1.0`); none leaves it nameless (`<none>`). */
  tags?: string[];
  /** `--build-arg`s, already resolved (`parseBuildArgs` for the CLI's forms). */
  buildArgs?: ReadonlyMap<string, string>;
  /** The stage to build (`AS` name); default the last. */
  target?: string;
  /** Run every step, ignoring (and then refreshing) the cache. */
  noCache?: boolean;
  /** Pull base images even when present. */
  pull?: boolean;
  /** RUN's network: `bridge` (default), `host` or `none`. */
  network?: 'bridge' | 'host' | 'none';
  /** The platform of base images (and of the image built). */
  platform?: Platform;
  onEvent?: BuildListener;
  signal?: AbortSignal;
}

export async function runBuild(host: BuildHost, contextDir: string, options: BuildOptions): Promise<BuildResult> {
  const context = resolve(contextDir);
  const file = options.file ?? 'Dockerfile';
  const path = isAbsolute(file) ? file : join(context, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TsdockError('INVALID_ARGUMENT', `cannot read the Dockerfile ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const dockerfile = parseDockerfile(text, file);
  const parseTrigger = (trigger: string): Instruction => {
    const [instruction] = parseDockerfile(`FROM scratch\n${trigger}\n`, 'ONBUILD').stages[0]?.instructions ?? [];
    if (instruction === undefined) throw new TsdockError('INVALID_IMAGE', `ONBUILD trigger "${trigger}" is empty`);
    return instruction;
  };
  return buildImage(host, {
    contextDir: context,
    dockerfile,
    expandWord,
    parseTrigger,
    tags: options.tags ?? [],
    buildArgs: options.buildArgs ?? new Map(),
    target: options.target,
    noCache: options.noCache,
    network: options.network,
    platform: options.platform,
    onEvent: options.onEvent,
    signal: options.signal,
  });
}
