/** Catching the TsdockError a call must fail with; each helper fails the test when it does not. */
import { expect } from 'vitest';
import { TsdockError } from '../../src/errors.js';

export function failure(fn: () => unknown): TsdockError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TsdockError);
    return err as TsdockError;
  }
  throw new Error('did not throw');
}

export async function rejection(promise: Promise<unknown>): Promise<TsdockError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TsdockError);
  return err as TsdockError;
}
