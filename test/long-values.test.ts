import { afterAll, beforeAll, expect, it } from 'vitest';
import { getTracked, listTracked } from '../src/store/refunds.js';
import { MAX_PAYMENT_ID_CHARS } from '../src/store/text.js';
import { syncRefund } from '../src/sync/sync-refund.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { createTestEngine, type TestEngine } from './support/engine.js';
import { describeStores } from './support/stores.js';

/**
 * A provider's indexed text fields hold whatever the provider sends. PostgreSQL refuses an index
 * entry over about 2,700 bytes, SQLite does not: a payment id that long must be stored the same way
 * on both (cut to MAX_PAYMENT_ID_CHARS, the full value kept in `raw`) and still be found by it.
 */

let em: RunningEmulator;
beforeAll(async () => {
  em = await startEmulator();
});
afterAll(async () => {
  await em?.close();
});

describeStores('a 6,000-character payment id from a provider', (backend) => {
  let eng: TestEngine;
  beforeAll(async () => {
    eng = await createTestEngine(em.config(), { url: await backend.newDatabaseUrl() });
  });
  afterAll(async () => {
    await eng?.close();
    await backend.cleanup();
  });

  it('is stored cut to the bound, found by its full value, and kept whole in raw', async () => {
    const paymentId = `pay_${'é9'.repeat(2998)}`;
    const r = em.emulator.createRefund('stan', { payment_id: paymentId });
    const id = String(r.refund_id);
    await syncRefund(eng.deps, { provider: 'stan', account: 'default', id, source: 'api' });
    const tracked = await getTracked(eng.store.db, { provider: 'stan', account: 'default', id });
    expect(tracked!.paymentId).toBe(paymentId.slice(0, MAX_PAYMENT_ID_CHARS));
    expect(JSON.stringify(tracked!.raw)).toContain(paymentId);
    const page = await listTracked(eng.store.db, { q: paymentId });
    expect(page.data.map((x) => x.id)).toEqual([id]);
  });
});
