import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore } from '../src/store/index.js';
import { getTracked, listTracked } from '../src/store/refunds.js';
import { MAX_PAYMENT_ID_CHARS } from '../src/store/text.js';
import { syncRefund } from '../src/sync/sync-refund.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { createTestEngine, type TestEngine } from './support/engine.js';
import { tempDir } from './support/hub.js';
import { createTestDatabase, postgresAvailable } from './support/postgres.js';
import { runCli } from './support/run-cli.js';
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
    // Incompressible: PostgreSQL compresses a long repetitive value below its index limit.
    const paymentId = `pay_é${randomBytes(4500).toString('base64')}`;
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

describe.skipIf(!postgresAvailable)('a SQLite store written before the bound', () => {
  it('is cut by migration 010, so migrate-store to PostgreSQL copies it', async () => {
    const dir = tempDir('refundhub-long-copy-');
    const pgdb = await createTestDatabase('refundhub_long_copy');
    try {
      const file = join(dir.dir, 'old.db');
      const eng = await createTestEngine(em.config(), { url: `sqlite:${file}` });
      const id = String(em.emulator.createRefund('stan', {}).refund_id);
      await syncRefund(eng.deps, { provider: 'stan', account: 'default', id, source: 'api' });
      // As an earlier version stored it: the whole value, and migration 010 not yet run.
      const long = randomBytes(4500).toString('base64');
      await sql`UPDATE refunds SET payment_id = ${long}`.execute(eng.store.db);
      await sql`DELETE FROM kysely_migration WHERE name = '010-payment-id-bound'`.execute(eng.store.db);
      await eng.close();

      const run = await runCli(['migrate-store', '--from', `sqlite:${file}`, '--to', pgdb.url]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const target = await createStore(pgdb.url);
      try {
        const row = await target.db.selectFrom('refunds').select('payment_id').executeTakeFirstOrThrow();
        expect(row.payment_id).toBe(long.slice(0, MAX_PAYMENT_ID_CHARS));
      } finally {
        await target.close();
      }
    } finally {
      await pgdb.drop();
      dir.cleanup();
    }
  });
});
