/**
 * Which stages a build runs: the target (the last stage by default) and, transitively, every
 * stage it builds on (`FROM <stage>`) or copies from (`COPY --from=<stage>`). Docker's classic
 * builder runs them all; BuildKit, like this, skips the rest.
 */
import { TsdockError } from '../errors.js';
import type { Expand } from './build-args.js';
import { DockerfileError } from './dockerfile/errors.js';
import type { CopyInstruction, Dockerfile, Stage } from './dockerfile/types.js';

/** What a stage starts from. */
export type StageBase =
  { kind: 'scratch' } | { kind: 'stage'; index: number } | { kind: 'image'; ref: string; platform: string | undefined };

export interface PlannedStage {
  stage: Stage;
  base: StageBase;
}

export interface StagePlan {
  /** The stages to build, in file order (dependencies always come first). */
  stages: PlannedStage[];
  /** The index of the stage whose result is the image. */
  target: number;
}

/**
 * The stage a `--from` or FROM word names among the stages before `before`: an `AS` name, or
 * (for `--from`) a stage number. `undefined`: it names an image.
 */
export function stageNamed(
  dockerfile: Dockerfile,
  word: string,
  before: number,
  allowIndex: boolean,
): number | undefined {
  const lower = word.toLowerCase();
  const named = dockerfile.stages.find((s) => s.index < before && s.from.alias === lower);
  if (named !== undefined) return named.index;
  if (allowIndex && /^\d+$/.test(word)) {
    const index = Number(word);
    if (index >= before) {
      throw new TsdockError('INVALID_ARGUMENT', `COPY --from=${word}: stage ${word} does not come before this one`);
    }
    return index;
  }
  return undefined;
}

function copiesFrom(stage: Stage): CopyInstruction[] {
  return stage.instructions.filter((i): i is CopyInstruction => i.kind === 'COPY' && i.from !== undefined);
}

/**
 * Plans the build of `target` (an `AS` name; the last stage when undefined). FROM words and
 * `--from` values are expanded with the global ARGs (`globals`).
 *
 * @throws TsdockError `INVALID_ARGUMENT` when the target names no stage or the file has none.
 */
export function planStages(
  dockerfile: Dockerfile,
  target: string | undefined,
  globals: (name: string) => string | undefined,
  expand: Expand,
): StagePlan {
  const { stages } = dockerfile;
  const last = stages.at(-1);
  if (last === undefined) throw new TsdockError('INVALID_ARGUMENT', 'the Dockerfile has no FROM instruction');
  let targetIndex = last.index;
  if (target !== undefined) {
    const found = stages.find((s) => s.from.alias === target.toLowerCase());
    if (found === undefined) {
      throw new TsdockError('INVALID_ARGUMENT', `target stage "${target}" could not be found in the Dockerfile`);
    }
    targetIndex = found.index;
  }

  const bases = new Map<number, StageBase>();
  const needed = new Set<number>();
  const visit = (index: number): void => {
    if (needed.has(index)) return;
    needed.add(index);
    const stage = stages[index];
    if (stage === undefined) return;
    const { from } = stage;
    const image = DockerfileError.placingSync(from.location, () => expand(from.image, globals));
    if (image === '') throw new DockerfileError(from.location, 'FROM names no image (an ARG without a value?)');
    const fromStage = stageNamed(dockerfile, image, index, false);
    const platform = DockerfileError.placingSync(from.location, () =>
      from.platform === undefined ? undefined : expand(from.platform, globals),
    );
    if (fromStage !== undefined) {
      bases.set(index, { kind: 'stage', index: fromStage });
      visit(fromStage);
    } else if (image.toLowerCase() === 'scratch') {
      bases.set(index, { kind: 'scratch' });
    } else {
      bases.set(index, { kind: 'image', ref: image, platform });
    }
    for (const copy of copiesFrom(stage)) {
      const source = DockerfileError.placingSync(copy.location, () =>
        stageNamed(dockerfile, expand(copy.from ?? '', globals), index, true),
      );
      if (source !== undefined) visit(source);
    }
  };
  visit(targetIndex);

  return {
    stages: stages
      .filter((s) => needed.has(s.index))
      .map((stage) => ({ stage, base: bases.get(stage.index) ?? { kind: 'scratch' } })),
    target: targetIndex,
  };
}
