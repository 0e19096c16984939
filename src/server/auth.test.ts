import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDatabases, tempDatabaseUrl } from '../../test/support/db.js';
import { ManualClock } from '../clock.js';
import { createStore, type Store } from '../store/index.js';
import { API_KEY_RE, ApiKeyVerifier, createApiKey, revokeApiKey } from './auth.js';

let store: Store;
beforeAll(async () => {
  store = await createStore(tempDatabaseUrl('auth'));
});
afterAll(async () => {
  await store.close();
  cleanupTempDatabases();
});

describe('ApiKeyVerifier', () => {
  it('issues keys of the documented shape, verifies them, and stores only a hash', async () => {
    const key = await createApiKey(store.db, ['refunds:read'], 'test');
    expect(key).toMatch(API_KEY_RE);
    const v = new ApiKeyVerifier(store.db);
    expect(await v.verify(key)).toMatchObject({ scopes: ['refunds:read'] });
    const rows = await store.db.selectFrom('api_keys').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(key);
  });

  it('answers a cached key synchronously, and sees a revocation once the cache lifetime passes', async () => {
    const clock = new ManualClock();
    const key = await createApiKey(store.db, ['refunds:read'], 'revocable');
    const v = new ApiKeyVerifier(store.db, () => clock.now(), 5_000);
    expect(v.cached(key)).toBeUndefined();
    const verified = await v.verify(key);
    expect(v.cached(key)).toEqual(verified);
    const id = verified!.id;
    expect(await revokeApiKey(store.db, id, clock.now())).toBe(true);
    expect(v.cached(key)).toEqual(verified); // still within the lifetime
    clock.advance(5_001);
    expect(v.cached(key)).toBeUndefined();
    expect(await v.verify(key)).toBeNull();
  });

  it('refuses keys not shaped like ours without caching them, so junk cannot fill memory', async () => {
    const v = new ApiKeyVerifier(store.db);
    const junk = `refundhub_${'A'.repeat(15_000)}`;
    expect(v.cached(junk)).toBeNull();
    expect(await v.verify(junk)).toBeNull();
    expect(await v.verify('Basic abc')).toBeNull();
    expect((v as unknown as { cache: Map<string, unknown> }).cache.size).toBe(0);
  });
});
