/** What a build reports while it runs; the CLI renders these as `docker build` does. */
export type BuildEvent =
  /** `Step 3/9 : RUN make` */
  | { type: 'step'; step: number; total: number; instruction: string }
  /** The base image's ONBUILD triggers are about to run. */
  | { type: 'triggers'; count: number }
  /** The step's result came from the cache. */
  | { type: 'cached' }
  /** A RUN's container started. */
  | { type: 'running'; containerId: string }
  /** A RUN's output, as it comes. */
  | { type: 'output'; stream: 'stdout' | 'stderr'; chunk: Buffer }
  /** The step is done; `id` is its short cache key (stable across cached rebuilds). */
  | { type: 'step-done'; id: string }
  | { type: 'warning'; message: string };

export type BuildListener = (event: BuildEvent) => void;
