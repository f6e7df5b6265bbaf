/**
 * Runs `work` with a signal that Ctrl-C (SIGINT) or SIGTERM aborts, so that a pull, push, build,
 * `logs -f` or `events` ends through its own cancellation path (a transfer leaves the store as it
 * was) rather than by Node's default exit on the signal. The handlers go when `work` settles.
 */
export async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const cancel = new AbortController();
  const onSignal = (): void => {
    cancel.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work(cancel.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
