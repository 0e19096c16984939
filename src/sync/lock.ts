/**
 * Serializes work per key in this process: two syncs of the same refund never run at once,
 * different refunds run in parallel. Waiters run in arrival order.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every earlier holder of `key` has finished. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      // Forget the key once nobody queued behind us, so the map does not grow forever.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** True while some holder or waiter exists for `key`. */
  isLocked(key: string): boolean {
    return this.tails.has(key);
  }

  /** Number of keys currently held. */
  get size(): number {
    return this.tails.size;
  }
}

export function createKeyedLock(): KeyedLock {
  return new KeyedLock();
}
