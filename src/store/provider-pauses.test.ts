import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeStores } from '../../test/support/stores.js';
import { pollUntil } from '../../test/support/wait.js';
import { createStore, type Store } from './index.js';
import { PAUSE_CACHE_MS, pausedUntil, pauseProvider } from './provider-pauses.js';

/**
 * The shared 429 pause on each store. Two stores opened on one database stand for two worker
 * processes: each has its own handle, its own pool and its own in-process cache.
 */
describeStores('provider pauses', (backend) => {
  let a: Store;
  let b: Store;

  beforeAll(async () => {
    const url = await backend.newDatabaseUrl();
    a = await createStore(url);
    b = await createStore(url);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await backend.cleanup();
  });

  const rowUntil = async (store: Store, provider: string, account: string) =>
    (await (store.db as any).selectFrom('provider_pauses').select('until_ms').where('provider', '=', provider).where('account', '=', account).executeTakeFirst())?.until_ms;

  it('is not paused until someone pauses it; then paused until the end, and not after', async () => {
    const now = Date.now();
    expect(await pausedUntil(a.db, 'ziina', 'default', now)).toBeNull();
    await pauseProvider(a.db, 'ziina', 'default', now + 30_000);
    expect(await pausedUntil(a.db, 'ziina', 'default', now)).toBe(now + 30_000);
    expect(await pausedUntil(a.db, 'ziina', 'default', now + 29_999)).toBe(now + 30_000);
    expect(await pausedUntil(a.db, 'ziina', 'default', now + 30_000)).toBeNull();
    expect(Number(await rowUntil(a, 'ziina', 'default'))).toBe(now + 30_000);
  });

  it('only ever extends: a shorter pause after a longer one keeps the longer one, a longer one replaces it', async () => {
    const now = Date.now();
    await pauseProvider(a.db, 'stan', 'default', now + 60_000);
    await pauseProvider(b.db, 'stan', 'default', now + 5_000);
    expect(Number(await rowUntil(a, 'stan', 'default'))).toBe(now + 60_000);
    expect(await pausedUntil(b.db, 'stan', 'default', now, { maxStaleMs: 0 })).toBe(now + 60_000);
    await pauseProvider(b.db, 'stan', 'default', now + 90_000);
    expect(Number(await rowUntil(a, 'stan', 'default'))).toBe(now + 90_000);
  });

  it('is per provider and per account', async () => {
    const now = Date.now();
    await pauseProvider(a.db, 'gr4vy', 'eu', now + 10_000);
    expect(await pausedUntil(a.db, 'gr4vy', 'eu', now)).toBe(now + 10_000);
    expect(await pausedUntil(a.db, 'gr4vy', 'us', now)).toBeNull();
    expect(await pausedUntil(a.db, 'onekey', 'eu', now)).toBeNull();
  });

  it('another process sees a pause within the cache bound, even after caching "not paused"', async () => {
    const now = Date.now();
    // b reads first, so it holds a cached "not paused" when a records the pause.
    expect(await pausedUntil(b.db, 'tazapay', 'default', now)).toBeNull();
    await pauseProvider(a.db, 'tazapay', 'default', now + 120_000);
    const started = performance.now();
    await pollUntil(async () => (await pausedUntil(b.db, 'tazapay', 'default', Date.now())) === now + 120_000, { timeoutMs: 1000, intervalMs: 20, what: 'b to see the pause' });
    // The bound is one second from the 429 to the last call anywhere; the cache spends at most half of it.
    expect(performance.now() - started).toBeLessThan(1000);
    expect(PAUSE_CACHE_MS).toBeLessThanOrEqual(500);
  });

  it('refuses a pause end that is not a number, and writes nothing', async () => {
    await expect(pauseProvider(a.db, 'ziina', 'bad', Number.NaN)).rejects.toThrow(/finite epoch-ms/);
    expect(await rowUntil(a, 'ziina', 'bad')).toBeUndefined();
  });
});
