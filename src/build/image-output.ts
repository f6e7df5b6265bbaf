/**
 * A finished stage as an OCI image: its config file (execution config, diff_ids, history) and
 * its manifest, as the bytes that go into the store. Field order is fixed, so that the same
 * build gives the same bytes and so the same image ID.
 */
import { sha256Digest, type Digest } from '../image/digest.js';
import { MEDIA_TYPE } from '../image/oci.js';
import type { StageState } from './stage-state.js';

export interface ImageBytes {
  config: Buffer;
  manifest: Buffer;
  /** The image ID (the config's digest). */
  id: Digest;
  created: string;
}

export function imageBytes(state: StageState): ImageBytes {
  const created = state.history.at(-1)?.created ?? new Date(0).toISOString();
  const config = Buffer.from(
    JSON.stringify({
      ...state.extra,
      created,
      architecture: state.platform.architecture,
      os: state.platform.os,
      config: state.config.config,
      rootfs: { type: 'layers', diff_ids: state.diffIds },
      history: state.history,
    }),
  );
  const id = sha256Digest(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.ociManifest,
      config: { mediaType: MEDIA_TYPE.ociConfig, digest: id, size: config.length },
      layers: state.layers,
    }),
  );
  return { config, manifest, id, created };
}
