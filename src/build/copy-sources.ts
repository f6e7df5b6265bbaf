/**
 * The sources of one COPY/ADD as plan items: context globs (minus `.dockerignore`), paths in
 * another stage or image (`--from`), heredocs, remote URLs (ADD, downloaded first) and local
 * archives (ADD, extracted). Returns the items and the attributes the step applies.
 */
import { posix } from 'node:path';
import { TsdockError } from '../errors.js';
import { readLayeredFile } from '../runtime/layer-files.js';
import { resolveUser } from '../runtime/user.js';
import { collectTree, matchSource, resolveDestination, type CopyAttributes, type CopyItem } from './copy-plan.js';
import { isTarArchive } from './copy-step.js';
import { parseHeredocMarker } from './dockerfile/heredoc.js';
import type { CopyInstruction } from './dockerfile/types.js';
import { LayeredTree, type FileTree } from './file-tree.js';
import type { DownloadedFile } from './download.js';

export interface CopyContext {
  /** The tree sources are read from (the context, or the `--from` stage or image). */
  tree: FileTree;
  /** Whether a path of `tree` is excluded (`.dockerignore`; nothing for `--from`). */
  excluded: (components: readonly string[]) => boolean;
  /** The image so far. */
  rootfs: FileTree;
  layerDirs: string[];
  workdir: string | undefined;
  /** Downloads an ADD URL into scratch space. */
  download: (url: string) => Promise<DownloadedFile>;
}

const isUrl = (word: string): boolean => /^https?:\/\//i.test(word);

/** `--chown` (names through the image's /etc/passwd and /etc/group) and `--chmod` (octal). */
export async function copyAttributes(
  chown: string | undefined,
  chmod: string | undefined,
  layerDirs: string[],
): Promise<CopyAttributes> {
  const attrs: CopyAttributes = { uid: 0, gid: 0 };
  if (chown !== undefined && chown !== '') {
    const [user = '', group] = chown.split(':', 2);
    if (/^\d+$/.test(user) && group === undefined) {
      attrs.uid = attrs.gid = Number(user); // Docker: a bare numeric uid is also the gid
    } else {
      const text = async (p: string): Promise<string> => (await readLayeredFile(layerDirs, p))?.toString() ?? '';
      const resolved = resolveUser(chown, await text('/etc/passwd'), await text('/etc/group'));
      attrs.uid = resolved.uid;
      attrs.gid = resolved.gid;
    }
  }
  if (chmod !== undefined && chmod !== '') {
    if (!/^[0-7]{3,4}$/.test(chmod)) {
      throw new TsdockError('INVALID_ARGUMENT', `--chmod=${chmod}: expected octal permission bits, e.g. 755`);
    }
    attrs.mode = parseInt(chmod, 8);
  }
  return attrs;
}

/** What each source word stands for, before the destination is known. */
type Source =
  | { kind: 'tree'; tree: FileTree; components: string[]; isDir: boolean; excluded: CopyContext['excluded'] }
  | { kind: 'bytes'; name: string; data: Buffer; mode: number; mtime: number }
  | { kind: 'archive'; hostPath: string };

async function sourcesOf(instruction: CopyInstruction, words: string[], ctx: CopyContext): Promise<Source[]> {
  const out: Source[] = [];
  for (const word of words) {
    const marker = parseHeredocMarker(word);
    const doc = marker === undefined ? undefined : instruction.heredocs.find((h) => h.name === marker.name);
    if (doc !== undefined) {
      out.push({ kind: 'bytes', name: doc.name, data: Buffer.from(doc.content), mode: 0o644, mtime: 0 });
      continue;
    }
    if (isUrl(word)) {
      if (instruction.kind !== 'ADD') {
        throw new TsdockError('BUILD_FAILED', `COPY ${word}: source can't be a URL for COPY (use ADD)`);
      }
      const file = await ctx.download(word);
      out.push({
        kind: 'tree',
        tree: new LayeredTree([file.dir]),
        components: [file.name],
        isDir: false,
        excluded: () => false,
      });
      continue;
    }
    const matches = await matchSource(ctx.tree, word, ctx.excluded);
    if (matches.length === 0) {
      throw new TsdockError(
        'BUILD_FAILED',
        `${instruction.kind} failed: file not found in build context or excluded by .dockerignore: stat ${word}: file does not exist`,
      );
    }
    for (const components of matches) {
      const entry = await ctx.tree.lstat(components);
      const isDir = entry?.stat.isDirectory() === true;
      if (instruction.kind === 'ADD' && instruction.from === undefined && entry?.stat.isFile() === true) {
        if (await isTarArchive(entry.hostPath)) {
          out.push({ kind: 'archive', hostPath: entry.hostPath });
          continue;
        }
      }
      out.push({ kind: 'tree', tree: ctx.tree, components, isDir, excluded: ctx.excluded });
    }
  }
  return out;
}

/** The items of one COPY/ADD (sources expanded by the caller). */
export async function copyItems(
  instruction: CopyInstruction,
  words: string[],
  destination: string,
  ctx: CopyContext,
): Promise<CopyItem[]> {
  const sources = await sourcesOf(instruction, words, ctx);
  const anyDir = sources.some((s) => s.kind === 'archive' || (s.kind === 'tree' && s.isDir));
  const { dest, into } = await resolveDestination(ctx.rootfs, destination, ctx.workdir, sources.length, anyDir);
  const items: CopyItem[] = [];
  for (const source of sources) {
    if (source.kind === 'archive') items.push({ dest, source });
    else if (source.kind === 'bytes') {
      const to = into ? [...dest, source.name] : dest;
      items.push({ dest: to, source: { kind: 'bytes', data: source.data, mode: source.mode, mtime: source.mtime } });
    } else if (source.isDir) {
      items.push(...(await collectTree(source.tree, source.components, dest, source.excluded)));
    } else {
      const name = source.components.at(-1) ?? posix.basename(destination);
      items.push(...(await collectTree(source.tree, source.components, into ? [...dest, name] : dest, () => false)));
    }
  }
  return items;
}
