/**
 * Building one stage, step by step: each instruction either changes the config (an empty-layer
 * history entry) or makes a layer (RUN, COPY, ADD, WORKDIR of a missing directory). Every step
 * has a cache key chained from the one before; a layer step whose key the cache knows, and
 * whose layer the store still has, is reused without running anything.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TsdockError } from '../errors.js';
import { digestHex, type Digest } from '../image/digest.js';
import type { Descriptor } from '../image/oci.js';
import type { TransferStore } from '../image/registry/transfer-store.js';
import type { TarWriterEntry } from '../image/tar-writer.js';
import { ArgScope, PROXY_ARGS, type Expand } from './build-args.js';
import { BuildCache, stepKey, type CachedStep } from './build-cache.js';
import type { CopyItem } from './copy-plan.js';
import { copyAttributes, copyItems } from './copy-sources.js';
import { contentHash, copyEntries, directoryEntries } from './copy-step.js';
import { expandHeredoc } from './dockerfile/expand.js';
import { parseHeredocMarker } from './dockerfile/heredoc.js';
import type { CopyInstruction, Instruction, RunInstruction } from './dockerfile/types.js';
import { LayeredTree, resolveInTree, type FileTree } from './file-tree.js';
import { applyMetadata, commandArgs, envMap } from './image-config.js';
import { commitLayer, nextChainId } from './layer-commit.js';
import { diffUpperDir } from './layer-diff.js';
import type { BuildListener } from './progress.js';
import { commandLine, runStep } from './run-step.js';
import { topChainId, type StageState } from './stage-state.js';

/** What every stage of one build shares. */
export interface BuildSession {
  store: TransferStore;
  cache: BuildCache;
  noCache: boolean;
  containersRoot: string;
  /** Scratch space for downloads (under the store's ingest/, cleared by the caller). */
  scratch: string;
  expand: Expand;
  buildArgs: ReadonlyMap<string, string>;
  globals: ReadonlyMap<string, string | undefined>;
  network: 'bridge' | 'host' | 'none';
  context: { tree: FileTree; excluded: (components: readonly string[]) => boolean };
  /** The tree `COPY --from=WORD` reads: an earlier stage's rootfs or an image's. */
  fromTree(word: string, stageIndex: number): { tree: FileTree; key: string };
  onEvent: BuildListener;
  signal?: AbortSignal | undefined;
}

/** Paths the runtime makes in a container's rootfs as mount points; not part of a RUN's change. */
const MOUNT_POINTS = ['proc', 'sys', 'dev', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf'];

export class StageBuilder {
  private args: ArgScope;

  constructor(
    private readonly session: BuildSession,
    private state: StageState,
    private readonly stageIndex: number,
  ) {
    this.args = ArgScope.forStage(session.buildArgs, session.globals);
  }

  get result(): StageState {
    return this.state;
  }

  /** The variables an instruction's words see: ENV over ARG. */
  private lookup = (name: string): string | undefined =>
    envMap(this.state.config.config).get(name) ?? this.args.get(name);

  private word = (raw: string): string => this.session.expand(raw, this.lookup);

  async run(instruction: Instruction): Promise<void> {
    this.session.signal?.throwIfAborted();
    switch (instruction.kind) {
      case 'FROM':
        throw new TsdockError('INVALID_ARGUMENT', 'FROM inside a stage'); // the parser splits stages
      case 'ARG':
        for (const arg of instruction.args) {
          const fallback = arg.rawDefault === undefined ? undefined : this.word(arg.rawDefault);
          this.args = this.args.declare(arg.name, fallback);
        }
        await this.metadataStep(instruction, { args: this.args.values() });
        return;
      case 'RUN':
        await this.runInstruction(instruction);
        return;
      case 'COPY':
      case 'ADD':
        await this.copyInstruction(instruction);
        return;
      case 'WORKDIR': {
        this.state = { ...this.state, config: applyMetadata(this.state.config, instruction, this.word) };
        await this.workdirStep(instruction);
        return;
      }
      default:
        this.state = { ...this.state, config: applyMetadata(this.state.config, instruction, this.word) };
        await this.metadataStep(instruction, {});
    }
  }

  private createdBy(instruction: Instruction): string {
    return `/bin/sh -c #(nop) ${instruction.original}`;
  }

  /** A step that changes only the config: cached for its time, so a rebuild gives the same ID. */
  private async metadataStep(instruction: Instruction, extra: object): Promise<void> {
    const key = stepKey(this.state.key, { instruction: instruction.kind, config: this.state.config.config, ...extra });
    const cached = this.session.noCache ? undefined : await this.session.cache.get(key);
    const created = cached?.created ?? new Date().toISOString();
    if (cached === undefined) await this.session.cache.put(key, { parent: this.state.key, created });
    this.state = {
      ...this.state,
      key,
      history: [...this.state.history, { created, created_by: this.createdBy(instruction), empty_layer: true }],
    };
    this.session.onEvent({ type: 'step-done', id: key.slice(0, 12) });
  }

  /** A cached layer step's result, if its layer is still in the store. */
  private async fromCache(key: string): Promise<CachedStep | undefined> {
    if (this.session.noCache) return undefined;
    const cached = await this.session.cache.get(key);
    const layer = cached?.layer;
    if (cached === undefined || layer === undefined) return undefined;
    const { store } = this.session;
    const chainId = nextChainId(topChainId(this.state), layer.diffId);
    if (!(await store.hasBlob(layer.descriptor.digest)) || !(await store.hasLayer(chainId))) return undefined;
    return cached;
  }

  private appendLayer(
    key: string,
    created: string,
    createdBy: string,
    layer: { descriptor: Descriptor; diffId: Digest },
  ): void {
    const chainId = nextChainId(topChainId(this.state), layer.diffId);
    this.state = {
      ...this.state,
      key,
      layers: [...this.state.layers, layer.descriptor],
      diffIds: [...this.state.diffIds, layer.diffId],
      layerDirs: [...this.state.layerDirs, join(this.session.store.root, 'layers', digestHex(chainId))],
      history: [...this.state.history, { created, created_by: createdBy }],
    };
    this.session.onEvent({ type: 'step-done', id: key.slice(0, 12) });
  }

  /** A layer step: from the cache, or by `make` (which returns the layer's members). */
  private async layerStep(
    key: string,
    createdBy: string,
    where: string,
    make: () => Promise<{ entries: AsyncIterable<TarWriterEntry>; done?: () => Promise<void> }>,
  ): Promise<void> {
    const cached = await this.fromCache(key);
    if (cached?.layer !== undefined) {
      this.session.onEvent({ type: 'cached' });
      this.appendLayer(key, cached.created, createdBy, cached.layer);
      return;
    }
    const made = await make();
    try {
      const layer = await commitLayer(this.session.store, topChainId(this.state), made.entries, where);
      const created = new Date().toISOString();
      const entry = { descriptor: layer.descriptor, diffId: layer.diffId };
      await this.session.cache.put(key, { parent: this.state.key, created, layer: entry });
      this.appendLayer(key, created, createdBy, entry);
    } finally {
      await made.done?.();
    }
  }

  private rootfs(): FileTree {
    return new LayeredTree(this.state.layerDirs);
  }

  private runArgv(instruction: RunInstruction): string[] {
    const { command, heredocs } = instruction;
    if (command.form === 'shell' && heredocs.length > 0) {
      const only = heredocs[0];
      if (heredocs.length === 1 && only !== undefined && parseHeredocMarker(command.script.trim()) !== undefined) {
        return commandArgs({ form: 'shell', script: only.content }, this.state.config.config);
      }
      // The shell reads the heredocs itself: hand it the script with their bodies after it.
      const bodies = heredocs.map((h) => `${h.content}${h.content.endsWith('\n') ? '' : '\n'}${h.name}\n`);
      return commandArgs({ form: 'shell', script: `${command.script}\n${bodies.join('')}` }, this.state.config.config);
    }
    return commandArgs(command, this.state.config.config);
  }

  private async runInstruction(instruction: RunInstruction): Promise<void> {
    const argv = this.runArgv(instruction);
    const config = this.state.config.config;
    const env = this.args.runEnv(new Set(envMap(config).keys()));
    const network = this.runNetwork(instruction.network);
    const keyedEnv = env.filter(([name]) => !PROXY_ARGS.has(name));
    const key = stepKey(this.state.key, { instruction: 'RUN', argv, env: keyedEnv, network });
    const shownArgs =
      keyedEnv.length === 0 ? '' : `|${keyedEnv.length} ${keyedEnv.map(([k, v]) => `${k}=${v}`).join(' ')} `;
    const createdBy = `${shownArgs}${commandLine(argv)}`;
    if (this.state.layerDirs.length === 0) {
      throw new TsdockError(
        'BUILD_FAILED',
        `${instruction.original}: the image has no files yet (FROM scratch), so nothing can run`,
      );
    }
    await this.layerStep(key, createdBy, instruction.original, async () => {
      const lower = this.rootfs();
      const fresh: string[] = [];
      for (const p of MOUNT_POINTS) if ((await lower.lstat(p.split('/'))) === undefined) fresh.push(p);
      const finished = await runStep(
        {
          containersRoot: this.session.containersRoot,
          layerDirs: this.state.layerDirs,
          config,
          argv,
          env: env.map(([k, v]) => `${k}=${v}`),
          network,
          onOutput: (chunk, stream) => {
            this.session.onEvent({ type: 'output', stream, chunk });
          },
          signal: this.session.signal,
        },
        (containerId) => {
          this.session.onEvent({ type: 'running', containerId });
        },
      );
      return { entries: diffUpperDir(finished.upper, new Set(fresh)), done: finished.remove };
    });
  }

  private runNetwork(flag: string | undefined): 'bridge' | 'host' | 'none' {
    if (flag === undefined || flag === 'default') return this.session.network;
    if (flag === 'none' || flag === 'host') return flag;
    throw new TsdockError('INVALID_ARGUMENT', `RUN --network=${flag}: expected default, none or host`);
  }

  private async copyInstruction(written: CopyInstruction): Promise<void> {
    // BuildKit expands a body at build time unless its delimiter was quoted (`<<"EOF"`).
    const heredocs = written.heredocs.map((h) =>
      h.expand ? { ...h, content: expandHeredoc(h.content, this.lookup) } : h,
    );
    const instruction = { ...written, heredocs };
    // A heredoc source stays as written: it names a body, not a path.
    const words = instruction.sources.map((w) => (parseHeredocMarker(w) === undefined ? this.word(w) : w));
    const destination = this.word(instruction.destination);
    const attrs = await copyAttributes(
      instruction.chown === undefined ? undefined : this.word(instruction.chown),
      instruction.chmod === undefined ? undefined : this.word(instruction.chmod),
      this.state.layerDirs,
    );
    const from =
      instruction.from === undefined ? undefined : this.session.fromTree(this.word(instruction.from), this.stageIndex);
    const source = from === undefined ? this.session.context : { tree: from.tree, excluded: () => false };
    const downloads: string[] = [];
    const items: CopyItem[] = await copyItems(instruction, words, destination, {
      ...source,
      rootfs: this.rootfs(),
      layerDirs: this.state.layerDirs,
      workdir: this.state.config.config.WorkingDir,
      download: async (url) => {
        // undici is loaded only for a build that downloads (it is most of a cached build's start-up).
        const { downloadUrl } = await import('./download.js');
        const file = await downloadUrl(url, this.session.scratch, this.session.signal);
        downloads.push(file.dir);
        return file;
      },
    });
    try {
      const hash = await contentHash(items, attrs);
      const key = stepKey(this.state.key, { instruction: instruction.kind, destination, from: from?.key, hash });
      const createdBy = `/bin/sh -c #(nop) ${instruction.kind} ${hash} in ${destination}`;
      const rootfs = this.rootfs();
      await this.layerStep(key, createdBy, instruction.original, () =>
        Promise.resolve({ entries: copyEntries(items, rootfs, attrs) }),
      );
    } finally {
      for (const dir of downloads) await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * WORKDIR makes its directory when the image lacks it (a layer); otherwise it is metadata.
   * Like BuildKit's `mkdir -p` with the stage's USER, every directory it makes is that user's
   * (a bare uid also as gid, a name through the image's /etc/passwd; a name it lacks is root,
   * as BuildKit has it); existing ones stay as they are.
   */
  private async workdirStep(instruction: Instruction): Promise<void> {
    const rootfs = this.rootfs();
    const dir = await resolveInTree(rootfs, this.state.config.config.WorkingDir ?? '/', true);
    if (dir.length === 0 || (await rootfs.lstat(dir))?.stat.isDirectory() === true) {
      await this.metadataStep(instruction, {});
      return;
    }
    const key = stepKey(this.state.key, { instruction: 'WORKDIR', dir, config: this.state.config.config });
    const chain = dir.map((_, i) => dir.slice(0, i + 1));
    const owner = await copyAttributes(this.state.config.config.User, undefined, this.state.layerDirs).catch(
      (err: unknown) => {
        if (err instanceof TsdockError && err.code === 'INVALID_ARGUMENT') return { uid: 0, gid: 0 };
        throw err;
      },
    );
    await this.layerStep(key, this.createdBy(instruction), instruction.original, async () => ({
      entries: toAsync(await directoryEntries(chain, rootfs, owner)),
    }));
  }
}

async function* toAsync<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}
