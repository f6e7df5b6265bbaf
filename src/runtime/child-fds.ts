/**
 * The fds a process spawned by the addon starts with: fd i of the child is entry i of a list,
 * each the caller's own fd i (`inherit`), /dev/null (`ignore`), or one end of a unix socketpair
 * (`pipe`, as libuv makes them) whose other end stays with the caller.
 */
import { closeSync, openSync } from 'node:fs';
import { native } from '../native.js';

export type ChildFdMode = 'inherit' | 'pipe' | 'ignore';

export interface ChildFds {
  /** The parent fds the child's fds 0..N-1 are copies of. */
  readonly child: number[];
  /** The caller's end of each `pipe`, by the child's fd number. */
  readonly parent: (number | undefined)[];
  /** Closes what only the child needed, once it has its copies (or failed to start). */
  closeChildEnds(): void;
}

/** Opens the fds for `modes`; on a failure closes what it opened and throws. */
export function openChildFds(modes: ChildFdMode[]): ChildFds {
  const child: number[] = [];
  const parent: (number | undefined)[] = [];
  const childOnly: number[] = [];
  const close = (fds: (number | undefined)[]): void => {
    for (const fd of fds) if (fd !== undefined) closeSync(fd);
  };
  try {
    let devNull: number | undefined;
    modes.forEach((mode, fd) => {
      if (mode === 'inherit') {
        child.push(fd);
      } else if (mode === 'ignore') {
        if (devNull === undefined) childOnly.push((devNull = openSync('/dev/null', 'r+')));
        child.push(devNull);
      } else {
        const [ours, theirs] = native().socketpair();
        parent[fd] = ours;
        childOnly.push(theirs);
        child.push(theirs);
      }
    });
  } catch (err) {
    close([...parent, ...childOnly]);
    throw err;
  }
  return {
    child,
    parent,
    closeChildEnds: () => {
      close(childOnly.splice(0));
    },
  };
}
