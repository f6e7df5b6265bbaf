/**
 * A bounded hand-off from one producer to one async-iterating consumer: the download writes
 * each chunk to disk and also pushes it here for the unpacker, waiting when the unpacker is
 * behind (backpressure). A consumer that stops early (the tar ended before the gzip trailer) does
 * not stop the producer: later pushes are dropped, and the producer still reads to the end, so
 * the whole blob is stored and its digest checked.
 */
export class Channel implements AsyncIterable<Buffer> {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private abandoned = false;
  private failure: { error: unknown } | undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  /** @param limit bytes queued before `push` waits. */
  constructor(private readonly limit = 4 * 1024 * 1024) {}

  /** Queues a chunk; resolves once there is room for more. */
  async push(chunk: Buffer): Promise<void> {
    if (this.abandoned) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.wake();
    while (this.queued > this.limit && !this.isAbandoned()) {
      await new Promise<void>((resolve) => (this.wakeProducer = resolve));
    }
  }

  /** A method, not the field: the consumer changes it while `push` waits. */
  private isAbandoned(): boolean {
    return this.abandoned;
  }

  /** No more chunks. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  /** Ends the stream with an error the consumer will see. */
  fail(error: unknown): void {
    this.failure = { error };
    this.wake();
  }

  private wake(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const chunk = this.queue.shift();
        if (chunk !== undefined) {
          this.queued -= chunk.length;
          const wake = this.wakeProducer;
          this.wakeProducer = undefined;
          wake?.();
          yield chunk;
          continue;
        }
        if (this.failure !== undefined) throw this.failure.error;
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      }
    } finally {
      this.abandoned = true;
      this.queue.length = 0;
      this.queued = 0;
      this.wakeProducer?.();
    }
  }
}
