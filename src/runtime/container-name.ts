/** Container names: Docker's allowed form, and a readable default when none is given. */
import { randomInt } from 'node:crypto';
import { TsdockError } from '../errors.js';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const ADJECTIVES = [
  'brave',
  'calm',
  'clever',
  'eager',
  'fancy',
  'gentle',
  'happy',
  'jolly',
  'keen',
  'lucid',
  'merry',
  'nimble',
  'proud',
  'quiet',
  'rapid',
  'sharp',
  'tender',
  'vivid',
  'witty',
  'zesty',
];
const NOUNS = [
  'babbage',
  'curie',
  'dijkstra',
  'euler',
  'fermat',
  'gauss',
  'hopper',
  'knuth',
  'lamport',
  'lovelace',
  'noether',
  'pascal',
  'ritchie',
  'shannon',
  'thompson',
  'turing',
  'wirth',
  'yonath',
];

/** @throws TsdockError `INVALID_ARGUMENT` for a name Docker would refuse. */
export function checkName(name: string): string {
  const bare = name.startsWith('/') ? name.slice(1) : name;
  if (!NAME.test(bare)) {
    throw new TsdockError(
      'INVALID_ARGUMENT',
      `invalid container name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
    );
  }
  return bare;
}

/** `adjective_scientist`, with a number appended until it is not `taken`. */
export function defaultName(taken: (name: string) => boolean): string {
  const pick = <T>(list: T[]): T => list[randomInt(list.length)] as T;
  const base = `${pick(ADJECTIVES)}_${pick(NOUNS)}`;
  let name = base;
  for (let n = 2; taken(name); n++) name = `${base}${n}`;
  return name;
}
