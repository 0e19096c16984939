import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ProviderId } from '../src/domain/refund.js';
import { PROVIDER_IDS } from '../src/domain/refund.js';
import { silentLogger } from '../src/logger.js';
import { createRefundHub, type RefundHub } from '../src/service.js';
import { sql } from 'kysely';
import { hmacSha256Base64 } from '../src/signing/hmac.js';
import { claimDue, getHistory, getRefundRow } from '../src/store/refunds.js';
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

/**
 * Values from providers must fit both stores alike (PostgreSQL enforces varchar lengths and refuses
 * NUL; SQLite does neither), and a write the store refuses anyway must be recorded on the refund,
 * not retried at every lease expiry without a trace.
 */
describeStores('provider values and store failures', (backend) => {
  let em: RunningEmulator;
  let hub: RefundHub;
  const leaseMs = 60 * 60_000;

  beforeAll(async () => {
    em = await startEmulator();
    hub = await createRefundHub({
      databaseUrl: await backend.newDatabaseUrl(),
      config: em.config(),
      logger: silentLogger,
      env: {},
      allowPrivateWebhookUrls: true,
      poller: { leaseMs },
    });
  });

  afterAll(async () => {
    await hub?.stop();
    await em?.close();
    await backend.cleanup();
  });

  it('stores the extreme values providers send, through the spine: a non-ISO currency, NUL in text, a long status word', async () => {
    // A Tazapay crypto currency (providers.md: `USDC-ERC20`; stored as normalization leaves it) and a reason with a NUL in it.
    const native = em.emulator.createRefund('tazapay', { currency: 'USDC-ERC20', reason: 'Damaged\u0000goods' });
    const id = String(native.id);
    const tracked = await hub.track('tazapay', id);
    const normalized = await hub.client.getRefund('tazapay', id);
    const row = await getRefundRow(hub.db, { provider: 'tazapay', account: 'default', id });
    expect(row).toMatchObject({ currency: normalized.currency, reason: 'Damagedgoods' });
    expect(tracked.refund.reason).toBe('Damagedgoods');

    // A status word we do not know, far longer than any column we had for it.
    const word = `settlement_${'x'.repeat(300)}`;
    em.emulator.setStatus('tazapay', id, word);
    const synced = await hub.refresh('tazapay', id);
    expect(synced.refund).toMatchObject({ status: 'unknown', providerStatus: word });
    expect(synced.events.map((e) => e.type)).toEqual(['refund.unknown_status']);
    expect((await getHistory(hub.db, { provider: 'tazapay', account: 'default', id })).at(-1)!.providerStatus).toBe(word);
  });

  it('keeps a notification whose event id and type are far longer than the old columns, or than an index entry', async () => {
    const native = em.emulator.createRefund('tazapay', { status: 'processing' });
    const id = String(native.id);
    // Over PostgreSQL's ~2,700-byte index entry, with a NUL (escaped in the JSON, so it parses).
    const eventId = `evt_\u0000${'a'.repeat(3000)}`;
    const eventType = `refund.${'b'.repeat(500)}`;
    const createdAt = new Date().toISOString();
    const body = JSON.stringify({ type: eventType, id: eventId, object: 'event', created_at: createdAt, data: { ...native, status: 'processing' } });
    const secret = em.config().accounts.get('tazapay')!.get('default')!.webhookSecret as string;
    const signature = hmacSha256Base64(secret, eventId, body, createdAt);
    const r = await hub.ingest({ provider: 'tazapay', rawBody: Buffer.from(body), headers: { 'content-type': 'application/json', signature } });
    expect(r.status).toBeGreaterThanOrEqual(200);
    expect(r.status).toBeLessThan(300);
    await hub.drain();
    const stored = await hub.db.selectFrom('notifications').select(['event_id', 'event_type']).where('refund_id', '=', id).execute();
    expect(stored).toHaveLength(1);
    // Cut to the bound the code owns, NUL dropped: the same on both stores.
    expect(stored[0]!.event_id).toBe(`evt_${'a'.repeat(251)}`);
    expect(stored[0]!.event_type).toBe(eventType.slice(0, 128));
  });

  it('a write the store refuses during a poll is recorded on the refund (store_error) and waits for its schedule, not the lease', async () => {
    const native = em.emulator.createRefund('tazapay', { status: 'requested' });
    const id = String(native.id);
    const key = { provider: 'tazapay' as const, account: 'default', id };
    await hub.track('tazapay', id);
    // The store itself refuses the next provider word, as a real constraint would.
    if (backend.name === 'postgres') {
      await sql`ALTER TABLE refunds ADD CONSTRAINT h6_refuse CHECK (provider_status <> 'initiated') NOT VALID`.execute(hub.db);
    } else {
      await sql`CREATE TRIGGER h6_refuse BEFORE UPDATE OF provider_status ON refunds WHEN NEW.provider_status = 'initiated' BEGIN SELECT RAISE(ABORT, 'h6_refuse'); END`.execute(hub.db);
    }
    try {
      em.emulator.setStatus('tazapay', id, 'initiated');
      // Only this refund is due.
      await hub.db.updateTable('refunds').set({ next_check_at: null }).execute();
      await hub.db.updateTable('refunds').set({ next_check_at: Date.now() - 1000 }).where('refund_id', '=', id).execute();
      expect(await hub.poller.tick()).toBe(1);
      const row = await getRefundRow(hub.db, key);
      expect(row).toMatchObject({ status: 'pending', provider_status: 'requested', error_count: 1, last_error_code: 'store_error' });
      expect(row!.last_error_message).toMatch(/h6_refuse/);
      // The schedule's next step (5 min, jittered), well before the one-hour lease.
      expect(Number(row!.next_check_at) - Date.now()).toBeLessThan(10 * 60_000);
      expect((await hub.get('tazapay', id)).tracking.lastError).toMatchObject({ code: 'store_error' });
    } finally {
      if (backend.name === 'postgres') await sql`ALTER TABLE refunds DROP CONSTRAINT h6_refuse`.execute(hub.db);
      else await sql`DROP TRIGGER h6_refuse`.execute(hub.db);
    }
    const ok = await hub.refresh('tazapay', id);
    expect(ok.refund).toMatchObject({ providerStatus: 'initiated', tracking: { lastError: null } });
  });
});
