/**
 * Dockerfile text -> the model in `types.ts`, with Docker's grammar: parser directives, comments,
 * continuation lines, heredocs, the JSON and shell forms, ARGs before the first FROM, stages.
 * Pure: it reads no files and expands no variables (the build engine does, per step).
 */
import { DockerfileError } from './errors.js';
import { parseInstruction } from './instructions.js';
import { LineReader, parseDirectives } from './lines.js';
import { splitKeyword } from './words.js';
import type { ArgInstruction, Dockerfile, FromInstruction, Heredoc, Instruction, Stage } from './types.js';

/**
 * Parses a Dockerfile. `file` names it in error messages (`Dockerfile:3: …`) and locations.
 *
 * @example
 * const dockerfile = parseDockerfile('FROM busybox AS base\nRUN echo hi\n', 'Dockerfile');
 * dockerfile.stages[0]?.from.alias; // 'base'
 *
 * @throws {DockerfileError} when the text is not a valid Dockerfile; the message names the line.
 */
export function parseDockerfile(text: string, file: string): Dockerfile {
  const directives = parseDirectives(text, file);
  const reader = new LineReader(text, file, directives.escape);
  const globalArgs: ArgInstruction[] = [];
  const stages: { from: FromInstruction; instructions: Instruction[] }[] = [];
  let seenInstruction = false;

  for (let next = reader.nextInstruction(); next !== undefined; next = reader.nextInstruction()) {
    const location = { file, line: next.line };
    const startLine = next.line;
    const instruction = parseInstruction(next.text, {
      location,
      escape: directives.escape,
      readHeredocs: (markers) =>
        markers.map((marker): Heredoc => ({
          name: marker.name,
          content: reader.readHeredoc(marker.name, marker.stripTabs, startLine),
          expand: marker.expand,
        })),
    });
    const stage = stages.at(-1);
    if (instruction.kind === 'FROM') stages.push({ from: instruction, instructions: [] });
    else if (stage !== undefined) stage.instructions.push(instruction);
    else if (instruction.kind === 'ARG') globalArgs.push(instruction);
    else {
      const keyword = splitKeyword(next.text).keyword.toUpperCase();
      throw new DockerfileError(location, `${keyword} comes before the first FROM (only ARG may)`);
    }
    seenInstruction = true;
  }

  if (stages.length === 0) {
    throw new DockerfileError(
      { file, line: Math.max(1, reader.lineNumber) },
      seenInstruction
        ? 'no FROM instruction (a Dockerfile starts with FROM IMAGE, after optional ARGs)'
        : 'the Dockerfile has no instructions (it needs at least FROM IMAGE)',
    );
  }
  return {
    escape: directives.escape,
    ...(directives.syntax !== undefined && { syntax: directives.syntax }),
    globalArgs,
    stages: stages.map((stage, index): Stage => ({ index, ...stage })),
  };
}
