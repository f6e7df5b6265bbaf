/** Retries `fn` every 100 ms while a server the test started comes up; the last failure is thrown. */
export async function eventually<T>(fn: () => Promise<T>, tries = 50): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
