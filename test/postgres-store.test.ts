import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ProviderId } from '../src/domain/refund.js';
import { PROVIDER_IDS } from '../src/domain/refund.js';
import { silentLogger } from '../src/logger.js';
import { createRefundHub, type RefundHub } from '../src/service.js';
import { claimDue, getHistory } from '../src/store/refunds.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { describeStores } from './support/stores.js';

/**
 * The spine on each store: SQLite (a temp file) and a real PostgreSQL server (127.0.0.1:5432,
 * trust auth; .ci/run starts it when it is down), in a database made for this run and dropped
 * after: migrations, tracking, a status change with its history and event, and the poller's due
 * query with its lease. The same tests, the same expectations, on both.
 */

const FINAL: Record<ProviderId, string> = { ziina: 'completed', tazapay: 'succeeded', gr4vy: 'succeeded', stan: 'payment_success', onekey: 'COMPLETED' };

describeStores('the store under the spine', (backend) => {
  let em: RunningEmulator;
  let hub: RefundHub;

  beforeAll(async () => {
    em = await startEmulator();
    hub = await createRefundHub({ databaseUrl: await backend.newDatabaseUrl(), config: em.config(), logger: silentLogger, env: {}, allowPrivateWebhookUrls: true });
  });

  afterAll(async () => {
    await hub?.stop();
    await em?.close();
    await backend.cleanup();
  });

  it('runs the migrations and reports its dialect without credentials', () => {
    expect(hub.store.dialect).toBe(backend.name);
    // PostgreSQL has several writers on other machines: no response caching against a local token.
    if (backend.name === 'postgres') expect(hub.store.changeToken()).toBeNull();
    else expect(hub.store.changeToken()).toEqual(expect.any(String));
  });

  it.each(PROVIDER_IDS)('%s: tracks, applies a change with history and one event, and keeps sequences', async (provider) => {
    const native = em.emulator.createRefund(provider, {});
    const id = String(native.id ?? native.refund_id);
    const tracked = await hub.track(provider, id);
    expect(tracked).toMatchObject({ created: true, refund: { provider, id, status: 'pending' } });
    expect((await hub.track(provider, id)).created).toBe(false);

    em.emulator.setStatus(provider, id, FINAL[provider]);
    const synced = await hub.refresh(provider, id);
    expect(synced.refund.status).toBe('succeeded');
    expect(synced.events.map((e) => [e.type, e.sequence])).toEqual([['refund.succeeded', 2]]);

    const history = await getHistory(hub.db, { provider, account: 'default', id });
    expect(history.map((h) => [h.kind, h.from, h.to])).toEqual([
      ['tracked', null, 'pending'],
      ['change', 'pending', 'succeeded'],
    ]);
    const events = await hub.db.selectFrom('events').select(['type', 'sequence']).where('provider', '=', provider).where('refund_id', '=', id).orderBy('sequence').execute();
    expect(events).toEqual([
      { type: 'refund.updated', sequence: 1 },
      { type: 'refund.succeeded', sequence: 2 },
    ]);
  });

  it('claims due refunds once: the lease hides them from a second claim', async () => {
    const now = Date.now();
    await hub.db.updateTable('refunds').set({ next_check_at: now - 1000 }).execute();
    const first = await claimDue(hub.db, now, 3, 60_000);
    const second = await claimDue(hub.db, now, 10, 60_000);
    expect(first).toHaveLength(3);
    expect(second).toHaveLength(PROVIDER_IDS.length - 3);
    const ids = new Set([...first, ...second].map((c) => `${c.provider}/${c.id}`));
    expect(ids.size).toBe(PROVIDER_IDS.length);
    expect(await claimDue(hub.db, now, 10, 60_000)).toHaveLength(0);
  });
});
