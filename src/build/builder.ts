/**
 * `tsdock build`: a parsed Dockerfile and a context directory to an image in the store.
 *
 * Three phases, for the store's locks: first every base image is made present (pulled when
 * missing, by the host's policy) — a pull takes the store's exclusive lock at its end, so it
 * cannot run inside the next phase; then the stages are built under the store's *shared* lock
 * (no `rmi` can collect a layer a later step stands on); last the image is named under the
 * exclusive lock, after re-checking that its layers are all there. A build that fails leaves
 * images.json as it was; the layers it made stay as cache.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import dockerignore from '@balena/dockerignore';
import { TsdockError } from '../errors.js';
import { chainIds } from '../image/digest.js';
import { hostPlatform, type Platform } from '../image/oci.js';
import { TransferStore } from '../image/registry/transfer-store.js';
import { nameForImport } from '../image/oci-layout-reader.js';
import { globalArgValues, PROXY_ARGS, type Expand } from './build-args.js';
import { BuildCache } from './build-cache.js';
import { buildsLock } from './cache-prune.js';
import { DockerfileError } from './dockerfile/errors.js';
import type { Dockerfile, Instruction, SourceLocation } from './dockerfile/types.js';
import { LayeredTree } from './file-tree.js';
import { imageBytes } from './image-output.js';
import type { BuildListener } from './progress.js';
import { StageBuilder, type BuildSession } from './stage-builder.js';
import { planStages, stageNamed, type PlannedStage } from './stage-plan.js';
import { scratchState, stateFromImage, stateFromStage, type StageState } from './stage-state.js';

/** The outside world a build needs: the store's root and a way to get base images. */
export interface BuildHost {
  root: string;
  containersRoot: string;
  /** Makes sure `ref` is in the store (pulling as the build's `--pull` says); returns its ID. */
  ensureImage(ref: string, platform: Platform | undefined): Promise<string>;
}

export interface BuildRequest {
  contextDir: string;
  dockerfile: Dockerfile;
  /** Expands a word (dockerfile/expand.ts), with the file's escape character. */
  expandWord: (raw: string, lookup: (name: string) => string | undefined, escape: '\\' | '`') => string;
  /** Parses the ONBUILD triggers of a base image (one instruction each). */
  parseTrigger: (text: string) => Instruction;
  tags: string[];
  buildArgs: ReadonlyMap<string, string>;
  target?: string | undefined;
  noCache?: boolean;
  network?: 'bridge' | 'host' | 'none';
  platform?: Platform | undefined;
  onEvent?: BuildListener;
  signal?: AbortSignal | undefined;
}

export interface BuildResult {
  /** `sha256:…` */
  id: string;
  /** The names given, canonical (`docker.io/library/app:latest`). */
  names: string[];
}

/** `.dockerignore` of the context, as a matcher of context paths. */
async function contextExclusions(contextDir: string): Promise<(components: readonly string[]) => boolean> {
  let text: string;
  try {
    text = await readFile(join(contextDir, '.dockerignore'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return () => false;
    throw err;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  // A CommonJS module: its factory is also its own `default`, which is what the types describe.
  const matcher = dockerignore.default().add(lines);
  return (components) => components.length > 0 && matcher.ignores(components.join('/'));
}

/** An image a build needs, and the instruction that names it (for errors). */
interface ImageNeed {
  ref: string;
  platform: Platform | undefined;
  location: SourceLocation;
}

/** Every image the planned stages name (bases, `COPY --from` images), expanded. */
function imagesNamed(
  request: BuildRequest,
  planned: PlannedStage[],
  expand: Expand,
  globals: (name: string) => string | undefined,
): ImageNeed[] {
  const out: ImageNeed[] = [];
  for (const { stage, base } of planned) {
    if (base.kind === 'image') out.push({ ref: base.ref, platform: request.platform, location: stage.from.location });
    for (const i of stage.instructions) {
      if (i.kind !== 'COPY' || i.from === undefined) continue;
      const raw = i.from;
      const word = DockerfileError.placingSync(i.location, () => expand(raw, globals));
      if (stageNamed(request.dockerfile, word, stage.index, true) === undefined) {
        out.push({ ref: word, platform: request.platform, location: i.location });
      }
    }
  }
  return out;
}

/** Build args no ARG of the file's globals or built stages declares (Docker warns about them). */
function unconsumedArgs(
  buildArgs: ReadonlyMap<string, string>,
  dockerfile: Dockerfile,
  built: PlannedStage[],
): string[] {
  const declared = new Set<string>(PROXY_ARGS);
  const arg = (i: Instruction): void => {
    if (i.kind === 'ARG') for (const a of i.args) declared.add(a.name);
  };
  dockerfile.globalArgs.forEach(arg);
  for (const { stage } of built) stage.instructions.forEach(arg);
  return [...buildArgs.keys()].filter((name) => !declared.has(name));
}

/**
 * Builds the image; resolves with its ID once it is in the store under every tag.
 *
 * @throws TsdockError `BUILD_FAILED` for a failing step (the store's images unchanged).
 */
export async function buildImage(host: BuildHost, request: BuildRequest): Promise<BuildResult> {
  // Held from the first pull to the image's name: `builder prune` waits rather than take a
  // layer this build made and has not named yet.
  return buildsLock(host.root).run('shared', () => buildHeld(host, request));
}

async function buildHeld(host: BuildHost, request: BuildRequest): Promise<BuildResult> {
  const { dockerfile } = request;
  const onEvent = request.onEvent ?? (() => undefined);
  const names = request.tags.map(nameForImport);
  const expand: Expand = (raw, lookup) => request.expandWord(raw, lookup, dockerfile.escape);
  const globals = globalArgValues(dockerfile.globalArgs, request.buildArgs, expand);
  const globalLookup = (name: string): string | undefined => globals.get(name);
  const plan = planStages(dockerfile, request.target, globalLookup, expand);

  const imageIds = new Map<string, string>();
  for (const { ref, platform, location } of imagesNamed(request, plan.stages, expand, globalLookup)) {
    if (!imageIds.has(ref))
      imageIds.set(ref, await DockerfileError.placing(location, () => host.ensureImage(ref, platform)));
  }

  const store = new TransferStore(host.root);
  const total = plan.stages.reduce((n, p) => n + 1 + p.stage.instructions.length, 0);
  let step = 0;
  const results = new Map<number, StageState>();
  /** The layer directories of the images `COPY --from` names, read under the shared lock. */
  const fromImageLayers = new Map<string, string[]>();
  const scratch = await mkdtemp(join(host.root, 'ingest', 'build-'));
  const session: BuildSession = {
    store,
    cache: new BuildCache(host.root),
    noCache: request.noCache === true,
    containersRoot: host.containersRoot,
    scratch,
    expand,
    buildArgs: request.buildArgs,
    globals,
    network: request.network ?? 'bridge',
    context: { tree: new LayeredTree([request.contextDir]), excluded: await contextExclusions(request.contextDir) },
    fromTree: (word, stageIndex) => {
      const index = stageNamed(dockerfile, word, stageIndex, true);
      const state = index === undefined ? undefined : results.get(index);
      if (state !== undefined) return { tree: new LayeredTree(state.layerDirs), key: state.key };
      const id = imageIds.get(word);
      if (id === undefined) throw new TsdockError('BUILD_FAILED', `COPY --from=${word}: no such stage or image`);
      const layers = fromImageLayers.get(id);
      return { tree: new LayeredTree(layers ?? []), key: `image ${id}` };
    },
    onEvent,
    signal: request.signal,
  };
  let final: StageState | undefined;
  try {
    await store.shared(async () => {
      for (const id of imageIds.values()) fromImageLayers.set(id, (await stateFromImage(store, id)).state.layerDirs);
      for (const { stage, base } of plan.stages) {
        onEvent({ type: 'step', step: ++step, total, instruction: stage.from.original });
        let state: StageState;
        let triggers: string[] = [];
        if (base.kind === 'image') {
          const loaded = await stateFromImage(store, imageIds.get(base.ref) ?? base.ref);
          state = loaded.state;
          triggers = loaded.onBuild;
        } else if (base.kind === 'stage') {
          const built = results.get(base.index);
          if (built === undefined) throw new TsdockError('BUILD_FAILED', `stage ${base.index} was not built`);
          state = stateFromStage(built);
        } else {
          state = scratchState(request.platform ?? hostPlatform());
        }
        if (base.kind !== 'scratch')
          onEvent({ type: 'step-done', id: state.key.replace(/^image sha256:/, '').slice(0, 12) });
        const builder = new StageBuilder(session, state, stage.index);
        if (triggers.length > 0) {
          onEvent({ type: 'triggers', count: triggers.length });
          // A base image's trigger fails at the FROM that brought it in, as Docker reports it.
          for (const trigger of triggers) {
            await DockerfileError.placing(stage.from.location, () => builder.run(request.parseTrigger(trigger)));
          }
        }
        for (const instruction of stage.instructions) {
          onEvent({ type: 'step', step: ++step, total, instruction: instruction.original });
          await DockerfileError.placing(instruction.location, () => builder.run(instruction));
        }
        results.set(stage.index, builder.result);
      }
      final = results.get(plan.target);
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  if (final === undefined) throw new TsdockError('BUILD_FAILED', 'the target stage was not built');
  const unused = unconsumedArgs(request.buildArgs, dockerfile, plan.stages);
  if (unused.length > 0) {
    onEvent({ type: 'warning', message: `One or more build-args [${unused.join(' ')}] were not consumed` });
  }
  const bytes = imageBytes(final);
  const committed = await store.commit(
    bytes.manifest,
    bytes.config,
    { blobs: final.layers.map((l) => l.digest), chains: chainIds(final.diffIds) },
    names,
    bytes.created,
  );
  if (!committed) {
    throw new TsdockError('BUILD_FAILED', 'a layer of the image was removed while it was built (rmi); build again');
  }
  return { id: bytes.id, names };
}
