// An in-process lock per key: callers with the same key run one after another, in call order; different keys run in
// parallel. Enough where one Ferry process owns the data it protects (its data directory).

export class KeyedMutex {
  /** Per key, a promise that settles when the last queued holder is done. */
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `work` once every earlier holder of `key` is done. */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let done!: () => void;
    const tail = previous.then(() => new Promise<void>((resolve) => (done = resolve)));
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      done();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** True while someone holds or waits for `key`. A caller that finds it free and calls run() at once gets it first. */
  isBusy(key: string): boolean {
    return this.tails.has(key);
  }
}
