/**
 * Serialized API responses kept against the store's change token (`Store.changeToken()`): a read
 * is answered from here only when nothing was written to the database since the entry was made
 * (by this process; another process's write shows within 50 ms). Without a token (PostgreSQL,
 * several writers) nothing is cached.
 */
export class ResponseCache {
  private readonly entries = new Map<string, { token: string; body: Buffer }>();

  constructor(private readonly maxEntries = 10_000) {}

  get(key: string, token: string | null): Buffer | undefined {
    if (token === null) return undefined;
    const e = this.entries.get(key);
    return e && e.token === token ? e.body : undefined;
  }

  /** `token` must be read BEFORE the data the body was made from. */
  set(key: string, token: string | null, body: Buffer): void {
    if (token === null) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { token, body });
  }
}
