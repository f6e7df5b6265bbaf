/**
 * What a stage has built so far: the image config, layers and history, the cache key of the
 * last step, and where its layers are unpacked. A stage starts from scratch, from an image in
 * the store, or from an earlier stage's final state.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chainIds, digestHex, type Digest } from '../image/digest.js';
import { hostPlatform, parseImageConfigFile, parseManifest, type Descriptor, type Platform } from '../image/oci.js';
import type { TransferStore } from '../image/registry/transfer-store.js';
import { inheritConfig, type BuildConfig, type ConfigState } from './image-config.js';

/** One entry of the config's `history`. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface StageState {
  /** The base config file's fields a build does not manage (`variant`, `author`…), kept. */
  extra: Record<string, unknown>;
  config: ConfigState;
  layers: Descriptor[];
  diffIds: Digest[];
  /** Unpacked layer directories, bottom to top. */
  layerDirs: string[];
  history: HistoryEntry[];
  /** The cache key of the last step (the base image's ID for a fresh stage). */
  key: string;
  platform: Platform;
}

/** The chain ID of a stage's top layer (undefined: no layers yet). */
export function topChainId(state: StageState): Digest | undefined {
  return chainIds(state.diffIds).at(-1);
}

export function scratchState(platform: Platform = hostPlatform()): StageState {
  return {
    extra: {},
    config: { config: {}, cmdSet: false },
    layers: [],
    diffIds: [],
    layerDirs: [],
    history: [],
    key: `scratch ${platform.os}/${platform.architecture}`,
    platform,
  };
}

/** A later stage built FROM an earlier one: its result, with this stage's own CMD bookkeeping. */
export function stateFromStage(base: StageState): StageState {
  return { ...base, config: { ...base.config, cmdSet: false } };
}

const MANAGED = new Set(['created', 'architecture', 'os', 'config', 'rootfs', 'history']);

/** A stored image as the start of a stage (call under the store's shared lock). */
export async function stateFromImage(
  store: TransferStore,
  id: string,
): Promise<{ state: StageState; onBuild: string[] }> {
  const image = await store.readImage(id);
  const manifest = parseManifest(image.manifest, `image ${id}: manifest`);
  const raw = await readFile(store.blobPath(manifest.config.digest));
  const file = parseImageConfigFile(raw, `image ${id}: config`);
  const json = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  const rawConfig = (json.config ?? {}) as Record<string, unknown>;
  const strings = (v: unknown): string[] | undefined =>
    Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : undefined;
  const config: BuildConfig = { ...file.config };
  const shell = strings(rawConfig.Shell);
  if (shell !== undefined) config.Shell = shell;
  const history = Array.isArray(json.history) ? (json.history as HistoryEntry[]) : [];
  const extra = Object.fromEntries(Object.entries(json).filter(([k]) => !MANAGED.has(k)));
  const layersDir = join(store.root, 'layers');
  const state: StageState = {
    extra,
    config: inheritConfig(config) satisfies ConfigState,
    layers: manifest.layers,
    diffIds: file.rootfs.diff_ids,
    layerDirs: chainIds(file.rootfs.diff_ids).map((c) => join(layersDir, digestHex(c))),
    history,
    key: `image ${image.id}`,
    platform: { os: file.os, architecture: file.architecture },
  };
  return { state, onBuild: strings(rawConfig.OnBuild) ?? [] };
}
