import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cleanupTempDatabases } from '../../test/support/db.js';
import { startEmulator, type RunningEmulator } from '../../test/support/emulator.js';
import { createTestEngine, type TestEngine } from '../../test/support/engine.js';
import type { RefundEvent } from '../domain/events.js';
import { RefundHubError } from '../errors.js';
import { createEndpoint } from '../notify/endpoints.js';
import { getProvider } from '../providers/registry.js';
import { getHistory, getRefundRow, getTracked } from '../store/refunds.js';
import { createPoller } from '../poller/poller.js';
import { rejectionOf } from '../../test/support/errors.js';
import type { RefundClient } from '../client.js';
import type { Logger } from '../logger.js';
import { KeyedLock } from './lock.js';
import { applyCurrencyHint, syncRefund } from './sync-refund.js';
import { recordingLogger } from '../../test/support/logger.js';

const M = 60_000;
const D = 24 * 60 * M;

let emu: RunningEmulator;
let eng: TestEngine;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
  cleanupTempDatabases();
});
beforeEach(async () => {
  emu.emulator.reset();
  eng = await createTestEngine(emu.config());
});
afterEach(async () => {
  await eng.close();
});

async function storedEvents(): Promise<RefundEvent[]> {
  const rows = await eng.store.db.selectFrom('events').select('payload').orderBy('sequence').execute();
  return rows.map((r) => JSON.parse(r.payload) as RefundEvent);
}

describe('syncRefund', () => {
  it('starts tracking, applies changes, writes history and events with increasing sequence', async () => {
    const native = emu.emulator.createRefund('ziina', { status: 'pending' });
    const id = String(native.id);
    const t0 = eng.clock.now();

    const first = await syncRefund(eng.deps, { provider: 'ziina', account: 'default', id, source: 'api' });
    expect(first).toMatchObject({ created: true, changed: true, kind: 'tracked' });
    expect(first.refund.status).toBe('pending');
    expect(first.refund.tracking).toMatchObject({ checkCount: 1, stuck: false, finalAt: null, lastError: null });
    expect(first.refund.tracking.nextCheckAt).toBe(new Date(t0 + M).toISOString());
    expect(first.events.map((e) => [e.type, e.sequence])).toEqual([['refund.updated', 1]]);

    // Same status again: nothing new.
    eng.clock.advance(M);
    const same = await syncRefund(eng.deps, { provider: 'ziina', account: 'default', id, source: 'poll' });
    expect(same).toMatchObject({ created: false, changed: false, kind: 'none', events: [] });
    expect(same.refund.tracking.nextCheckAt).toBe(new Date(t0 + M + 5 * M).toISOString());

    emu.emulator.setStatus('ziina', id, 'completed');
    eng.clock.advance(5 * M);
    const done = await syncRefund(eng.deps, { provider: 'ziina', account: 'default', id, source: 'poll' });
    expect(done).toMatchObject({ changed: true, kind: 'change' });
    expect(done.refund.status).toBe('succeeded');
    expect(done.refund.tracking.finalAt).toBe(new Date(eng.clock.now()).toISOString());
    // Final: the next check is the first late check, a day later.
    expect(done.refund.tracking.nextCheckAt).toBe(new Date(eng.clock.now() + D).toISOString());
    expect(done.events).toHaveLength(1);
    expect(done.events[0]).toMatchObject({ type: 'refund.succeeded', sequence: 2, data: { previousStatus: 'pending', refund: { status: 'succeeded' } } });

    const key = { provider: 'ziina' as const, account: 'default', id };
    const history = await getHistory(eng.store.db, key);
    expect(history.map((h) => [h.kind, h.from, h.to, h.source])).toEqual([
      ['tracked', null, 'pending', 'api'],
      ['change', 'pending', 'succeeded', 'poll'],
    ]);
    expect((history[1]!.raw as { status: string }).status).toBe('completed');
    const stored = await storedEvents();
    expect(stored.map((e) => e.id)).toEqual([first.events[0]!.id, done.events[0]!.id]);
    expect(stored[1]).toEqual(done.events[0]);
  });

  it('keeps a final status on a stale read (anomaly, no event) and applies a reversal', async () => {
    const native = emu.emulator.createRefund('tazapay', { status: 'succeeded' });
    const id = String(native.id);
    const key = { provider: 'tazapay' as const, account: 'default', id };
    await syncRefund(eng.deps, { ...key, source: 'api' });

    emu.emulator.setStatus('tazapay', id, 'pending');
    eng.clock.advance(D);
    const stale = await syncRefund(eng.deps, { ...key, source: 'poll' });
    expect(stale).toMatchObject({ kind: 'anomaly', changed: false, events: [] });
    expect(stale.refund.status).toBe('succeeded');
    expect(stale.refund.providerStatus).toBe('succeeded');

    emu.emulator.setStatus('tazapay', id, 'failed');
    eng.clock.advance(D);
    const rev = await syncRefund(eng.deps, { ...key, source: 'poll' });
    expect(rev).toMatchObject({ kind: 'reversal', changed: true });
    expect(rev.refund.status).toBe('failed');
    expect(rev.events.map((e) => [e.type, e.sequence, e.data.previousStatus])).toEqual([['refund.reversed', 2, 'succeeded']]);
    // Late checks restart from the reversal.
    expect(rev.refund.tracking.finalAt).toBe(new Date(eng.clock.now()).toISOString());

    const history = await getHistory(eng.store.db, key);
    expect(history.map((h) => [h.kind, h.from, h.to])).toEqual([
      ['tracked', null, 'succeeded'],
      ['anomaly', 'succeeded', 'pending'],
      ['reversal', 'succeeded', 'failed'],
    ]);
    expect(history[1]!.note).toMatch(/stale read/);
    expect((await storedEvents()).map((e) => e.type)).toEqual(['refund.succeeded', 'refund.reversed']);
  });

  it('an unknown provider status becomes unknown, not final, and raises refund.unknown_status', async () => {
    const native = emu.emulator.createRefund('gr4vy', { status: 'processing' });
    const id = String(native.id);
    const key = { provider: 'gr4vy' as const, account: 'default', id };
    await syncRefund(eng.deps, { ...key, source: 'api' });
    emu.emulator.setStatus('gr4vy', id, 'teleported');
    const r = await syncRefund(eng.deps, { ...key, source: 'poll' });
    expect(r.refund.status).toBe('unknown');
    expect(r.refund.providerStatus).toBe('teleported');
    expect(r.refund.tracking.finalAt).toBeNull();
    expect(r.refund.tracking.nextCheckAt).not.toBeNull();
    expect(r.events.map((e) => e.type)).toEqual(['refund.unknown_status']);
  });

  it('fills in OneKey amount and currency from the currency hint, and remembers the hint', async () => {
    const native = emu.emulator.createRefund('onekey', { status: 'PENDING', amount: 12.5 });
    const id = String(native.refund_id);
    const r = await syncRefund(eng.deps, { provider: 'onekey', account: 'default', id, source: 'api', currency: 'usd' });
    expect(r.refund).toMatchObject({ amount: 1250, currency: 'USD', amountDecimal: '12.50' });
    emu.emulator.setStatus('onekey', id, 'COMPLETED');
    const again = await syncRefund(eng.deps, { provider: 'onekey', account: 'default', id, source: 'poll' });
    expect(again.refund).toMatchObject({ status: 'succeeded', amount: 1250, currency: 'USD' });
    const row = await getRefundRow(eng.store.db, { provider: 'onekey', account: 'default', id });
    expect(row?.currency_hint).toBe('USD');
  });

  it('records provider errors on a tracked refund and rethrows; stores nothing for an untracked one', async () => {
    const native = emu.emulator.createRefund('stan', { status: 'payment_pending' });
    const id = getProvider('stan').emulator.idOf(native);
    const key = { provider: 'stan' as const, account: 'default', id };
    await syncRefund(eng.deps, { ...key, source: 'api' });

    emu.emulator.injectFault('stan', { kind: 'error', status: 503, count: 1 });
    eng.clock.advance(M);
    await expect(syncRefund(eng.deps, { ...key, source: 'poll' })).rejects.toMatchObject({ code: 'provider_error' });
    let row = await getRefundRow(eng.store.db, key);
    expect(row).toMatchObject({ error_count: 1, last_error_code: 'provider_error', check_count: 2, status: 'pending' });
    // Retries on the schedule (second delay: 5 min).
    expect(Number(row!.next_check_at)).toBe(eng.clock.now() + 5 * M);

    emu.emulator.injectFault('stan', { kind: 'rate_limit', retryAfterS: 120, count: 1 });
    await expect(syncRefund(eng.deps, { ...key, source: 'poll' })).rejects.toMatchObject({ code: 'rate_limited', retryAfterMs: 120_000 });
    row = await getRefundRow(eng.store.db, key);
    expect(row).toMatchObject({ error_count: 2, last_error_code: 'rate_limited' });
    expect(Number(row!.next_check_at)).toBe(eng.clock.now() + 120_000);

    // The provider account is paused for every process on the store: refused with the time left,
    // nothing more recorded, until the pause ends.
    eng.clock.advance(119_000);
    const calls = emu.emulator.requests('stan').length;
    await expect(syncRefund(eng.deps, { ...key, source: 'api' })).rejects.toMatchObject({ code: 'rate_limited', retryAfterMs: 1000 });
    expect(emu.emulator.requests('stan').length).toBe(calls);
    expect(await getRefundRow(eng.store.db, key)).toMatchObject({ error_count: 2 });
    eng.clock.advance(1000);

    // Success clears the error.
    const ok = await syncRefund(eng.deps, { ...key, source: 'poll' });
    expect(ok.refund.tracking.lastError).toBeNull();
    expect((await getRefundRow(eng.store.db, key))?.error_count).toBe(0);

    const before = await eng.store.db.selectFrom('refunds').select('refund_id').execute();
    await expect(syncRefund(eng.deps, { provider: 'stan', account: 'default', id: '8a5b2f5e-0000-4000-8000-000000000000', source: 'api' })).rejects.toMatchObject({
      code: 'not_found',
    });
    expect(await eng.store.db.selectFrom('refunds').select('refund_id').execute()).toEqual(before);
    expect(await eng.store.db.selectFrom('refund_history').selectAll().where('refund_id', '=', '8a5b2f5e-0000-4000-8000-000000000000').execute()).toEqual([]);
    await expect(syncRefund(eng.deps, { provider: 'stan', account: 'default', id: 'not-a-uuid', source: 'api' })).rejects.toBeInstanceOf(RefundHubError);
  });

  it('serializes concurrent syncs of the same refund: one tracked row, one event', async () => {
    const native = emu.emulator.createRefund('ziina', { status: 'completed' });
    const id = String(native.id);
    const results = await Promise.all(Array.from({ length: 5 }, () => syncRefund(eng.deps, { provider: 'ziina', account: 'default', id, source: 'api' })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect((await storedEvents()).map((e) => [e.type, e.sequence])).toEqual([['refund.succeeded', 1]]);
    expect(eng.deps.locks).toBeInstanceOf(KeyedLock);
    expect((eng.deps.locks as KeyedLock).size).toBe(0);
  });

  it('marks a refund stuck once after 30 days not final, with a refund.stuck event', async () => {
    const native = emu.emulator.createRefund('ziina', { status: 'pending' });
    const id = String(native.id);
    const key = { provider: 'ziina' as const, account: 'default', id };
    await syncRefund(eng.deps, { ...key, source: 'api' });
    eng.clock.advance(30 * D);
    const r = await syncRefund(eng.deps, { ...key, source: 'poll' });
    expect(r.refund.tracking.stuck).toBe(true);
    expect(r.events.map((e) => e.type)).toEqual(['refund.stuck']);
    eng.clock.advance(D);
    const again = await syncRefund(eng.deps, { ...key, source: 'poll' });
    expect(again.events).toEqual([]);
    expect(Number(new Date(again.refund.tracking.nextCheckAt!)) - eng.clock.now()).toBe(D);
    expect((await getHistory(eng.store.db, key)).map((h) => h.kind)).toEqual(['tracked', 'stuck']);
  });
});

describe('syncRefund and the outbox', () => {
  it('writes one delivery per subscribed endpoint in the same transaction as the event', async () => {
    const allowLocal = { allowPrivateWebhookUrls: true };
    const all = await createEndpoint(eng.store.db, { url: 'http://127.0.0.1:9/all' }, Date.now(), allowLocal);
    const onlyFailed = await createEndpoint(eng.store.db, { url: 'http://127.0.0.1:9/failed', events: ['refund.failed'] }, Date.now(), allowLocal);
    const native = emu.emulator.createRefund('ziina', { status: 'pending' });
    const id = String(native.id);
    const first = await syncRefund(eng.deps, { provider: 'ziina', account: 'default', id, source: 'api' });
    emu.emulator.setStatus('ziina', id, 'failed');
    const second = await syncRefund(eng.deps, { provider: 'ziina', account: 'default', id, source: 'poll' });
    const deliveries = await eng.store.db.selectFrom('deliveries').select(['event_id', 'endpoint_id', 'status']).orderBy('created_at').execute();
    const pairs = deliveries.map((d) => [d.event_id, d.endpoint_id]).sort();
    expect(pairs).toEqual(
      [
        [first.events[0]!.id, all.id],
        [second.events[0]!.id, all.id],
        [second.events[0]!.id, onlyFailed.id],
      ].sort(),
    );
    expect(deliveries.every((d) => d.status === 'pending')).toBe(true);
  });
});

describe('applyCurrencyHint', () => {
  const base = { provider: 'onekey', account: 'default', id: '1', paymentId: null, status: 'pending', providerStatus: 'PENDING', reason: null, createdAt: null, updatedAt: null, failure: null, merchantReference: null, customerReceives: null, metadata: null, providerReference: null, raw: {} } as const;
  it('leaves refunds with a currency alone and ignores a hint that does not fit', () => {
    const withCurrency = { ...base, amount: 100, currency: 'EUR', amountDecimal: '1.00' };
    expect(applyCurrencyHint(withCurrency, 'USD')).toBe(withCurrency);
    const tooPrecise = { ...base, amount: null, currency: null, amountDecimal: '1.005' };
    expect(applyCurrencyHint(tooPrecise, 'USD')).toBe(tooPrecise);
    expect(applyCurrencyHint({ ...base, amount: null, currency: null, amountDecimal: '100' }, 'JPY')).toMatchObject({ amount: 100, currency: 'JPY' });
  });
});


describe('syncRefund: unknown status on a final refund', () => {
  it('keeps the final status (anomaly) but alerts: error log and a refund.unknown_status event', async () => {
    const native = emu.emulator.createRefund('gr4vy', { status: 'succeeded' });
    const id = String(native.id);
    const key = { provider: 'gr4vy' as const, account: 'default', id };
    await syncRefund(eng.deps, { ...key, source: 'api' });
    emu.emulator.setStatus('gr4vy', id, 'teleported');
    eng.clock.advance(D);
    const logger = recordingLogger();
    const r = await syncRefund({ ...eng.deps, logger }, { ...key, source: 'poll' });
    expect(r).toMatchObject({ kind: 'anomaly', changed: false });
    expect(r.refund.status).toBe('succeeded');
    expect(r.events.map((e) => [e.type, e.sequence, e.data.previousStatus, e.data.refund.status])).toEqual([['refund.unknown_status', 2, 'succeeded', 'succeeded']]);
    expect((await storedEvents()).map((e) => [e.type, e.sequence])).toEqual([
      ['refund.succeeded', 1],
      ['refund.unknown_status', 2],
    ]);
    const history = await getHistory(eng.store.db, key);
    expect(history.map((h) => [h.kind, h.from, h.to])).toEqual([
      ['tracked', null, 'succeeded'],
      ['anomaly', 'succeeded', 'unknown'],
    ]);
    expect(history[1]!.note).toMatch(/unknown provider status teleported/);
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([expect.stringMatching(/status we do not know/)]);
    // A plain stale read (pending) stays quiet: no event, a warning.
    emu.emulator.setStatus('gr4vy', id, 'processing');
    const stale = await syncRefund({ ...eng.deps, logger }, { ...key, source: 'poll' });
    expect(stale).toMatchObject({ kind: 'anomaly', events: [] });
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
  });
});

describe('syncRefund: the refund.unknown_status event of a final refund', () => {
  it('carries the observation that raised it (data.observed), since data.refund keeps the stored final word', async () => {
    const native = emu.emulator.createRefund('gr4vy', { status: 'succeeded' });
    const id = String(native.id);
    const key = { provider: 'gr4vy' as const, account: 'default', id };
    await syncRefund(eng.deps, { ...key, source: 'api' });
    emu.emulator.setStatus('gr4vy', id, 'teleported');
    eng.clock.advance(D);
    await syncRefund(eng.deps, { ...key, source: 'poll' });
    emu.emulator.setStatus('gr4vy', id, 'warped');
    eng.clock.advance(D);
    await syncRefund(eng.deps, { ...key, source: 'poll' });

    // As delivered: the stored payload is the signed body.
    const events = await storedEvents();
    expect(events.map((e) => [e.type, e.data.refund.providerStatus, e.data.observed])).toEqual([
      ['refund.succeeded', 'succeeded', undefined],
      ['refund.unknown_status', 'succeeded', { status: 'unknown', providerStatus: 'teleported' }],
      ['refund.unknown_status', 'succeeded', { status: 'unknown', providerStatus: 'warped' }],
    ]);
    // Events whose refund is the observation itself carry no `observed`.
    expect(Object.keys(events[0]!.data).sort()).toEqual(['previousStatus', 'refund']);
  });
});

describe('syncRefund: the schedule follows time, not the number of syncs', () => {
  it('frequent notification syncs do not move a refund to daily polling early', async () => {
    const native = emu.emulator.createRefund('ziina', { status: 'pending' });
    const id = String(native.id);
    const key = { provider: 'ziina' as const, account: 'default', id };
    await syncRefund(eng.deps, { ...key, source: 'api' });
    for (let i = 0; i < 20; i++) {
      eng.clock.advance(1000);
      const r = await syncRefund(eng.deps, { ...key, source: 'notification' });
      expect(Number(new Date(r.refund.tracking.nextCheckAt!)) - eng.clock.now()).toBe(M);
    }
    eng.clock.advance(2 * M);
    const polled = await syncRefund(eng.deps, { ...key, source: 'poll' });
    expect(polled.refund.tracking.checkCount).toBe(22);
    expect(Number(new Date(polled.refund.tracking.nextCheckAt!)) - eng.clock.now()).toBe(5 * M);
  });
});

describe('syncRefund across processes (two stores on one SQLite file)', () => {
  /**
   * Two processes each fetch the same refund, and both fetches come back at the same moment, so
   * their write transactions interleave statement by statement (as two processes would). Each
   * store has its own connection, lock map and client: nothing in-process serializes them.
   */
  function releasedTogether(client: RefundClient, gate: { waiting: Array<() => void>; parties: number }): RefundClient {
    const wrapped = Object.create(client) as RefundClient;
    wrapped.getRefund = async (...args: Parameters<RefundClient['getRefund']>) => {
      const refund = await client.getRefund(...args);
      await new Promise<void>((resolve) => {
        gate.waiting.push(resolve);
        if (gate.waiting.length === gate.parties) for (const r of gate.waiting.splice(0)) r();
      });
      return refund;
    };
    return wrapped;
  }

  it('two syncs of the same refund at once: one tracked row, contiguous sequences, no error', async () => {
    const other = await createTestEngine(emu.config(), { url: eng.url });
    try {
      // Short lock waits keep the test fast: both "processes" share this thread, so a wait blocks both.
      for (const db of [eng.store.db, other.store.db]) await sql`PRAGMA busy_timeout = 100`.execute(db);
      const native = emu.emulator.createRefund('ziina', { status: 'pending' });
      const id = String(native.id);
      const key = { provider: 'ziina' as const, account: 'default', id };
      const run = async () => {
        const gate = { waiting: [] as Array<() => void>, parties: 2 };
        const depsA = { ...eng.deps, client: releasedTogether(eng.client, gate) };
        const depsB = { ...other.deps, client: releasedTogether(other.client, gate) };
        return Promise.all([syncRefund(depsA, { ...key, source: 'api' }), syncRefund(depsB, { ...key, source: 'manual' })]);
      };

      const first = await run();
      expect(first.filter((r) => r.created)).toHaveLength(1);
      emu.emulator.setStatus('ziina', id, 'completed');
      const second = await run();
      expect(second.filter((r) => r.kind === 'change')).toHaveLength(1);

      const history = await getHistory(eng.store.db, key);
      expect(history.map((h) => [h.kind, h.from, h.to])).toEqual([
        ['tracked', null, 'pending'],
        ['change', 'pending', 'succeeded'],
      ]);
      expect((await storedEvents()).map((e) => [e.type, e.sequence])).toEqual([
        ['refund.updated', 1],
        ['refund.succeeded', 2],
      ]);
      expect((await getRefundRow(other.store.db, key))?.sequence).toBe(2);
    } finally {
      await other.close();
    }
  });
});

describe('syncRefund: a final refund that keeps reading with a status we do not know', () => {
  it('alerts once per provider word, not on every re-read; a new word (or the word returning) alerts again', async () => {
    const native = emu.emulator.createRefund('gr4vy', { status: 'succeeded' });
    const id = String(native.id);
    const key = { provider: 'gr4vy' as const, account: 'default', id };
    await syncRefund(eng.deps, { ...key, source: 'api' });
    const logger = recordingLogger();
    const read = async (word: string) => {
      emu.emulator.setStatus('gr4vy', id, word);
      eng.clock.advance(D);
      return syncRefund({ ...eng.deps, logger }, { ...key, source: 'poll' });
    };

    expect((await read('teleported')).events.map((e) => e.type)).toEqual(['refund.unknown_status']);
    // The late checks, notifications and refreshes re-read it: the same word says nothing new.
    for (let i = 0; i < 3; i++) {
      const again = await read('teleported');
      expect(again).toMatchObject({ kind: 'anomaly', events: [], recorded: false });
      expect(again.refund.status).toBe('succeeded');
    }
    expect((await read('warped')).events.map((e) => e.type)).toEqual(['refund.unknown_status']);
    expect((await read('warped')).events).toEqual([]);
    // Back to its final word, then the unknown one again: a new episode, a new alert.
    expect((await read('succeeded')).kind).toBe('none');
    expect((await read('teleported')).events.map((e) => e.type)).toEqual(['refund.unknown_status']);

    expect((await storedEvents()).map((e) => [e.type, e.sequence])).toEqual([
      ['refund.succeeded', 1],
      ['refund.unknown_status', 2],
      ['refund.unknown_status', 3],
      ['refund.unknown_status', 4],
    ]);
    const history = await getHistory(eng.store.db, key);
    expect(history.map((h) => [h.kind, h.to, h.providerStatus])).toEqual([
      ['tracked', 'succeeded', 'succeeded'],
      ['anomaly', 'unknown', 'teleported'],
      ['anomaly', 'unknown', 'warped'],
      ['anomaly', 'unknown', 'teleported'],
    ]);
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(3);
    // The stored refund still shows its final word; the anomaly's word is kept apart.
    const row = await getRefundRow(eng.store.db, key);
    expect(row).toMatchObject({ status: 'succeeded', provider_status: 'succeeded', anomaly_provider_status: 'teleported' });
  });

  it('records a repeated stale read once', async () => {
    const native = emu.emulator.createRefund('tazapay', { status: 'succeeded' });
    const id = String(native.id);
    const key = { provider: 'tazapay' as const, account: 'default', id };
    await syncRefund(eng.deps, { ...key, source: 'api' });
    emu.emulator.setStatus('tazapay', id, 'processing');
    for (let i = 0; i < 3; i++) {
      eng.clock.advance(D);
      expect(await syncRefund(eng.deps, { ...key, source: 'poll' })).toMatchObject({ kind: 'anomaly', events: [] });
    }
    expect((await getHistory(eng.store.db, key)).map((h) => h.kind)).toEqual(['tracked', 'anomaly']);
  });
});

describe('syncRefund: a new provider word for the same status', () => {
  it('is recorded and sent as refund.updated (pending -> pending, processing), through the outbox', async () => {
    const endpoint = await createEndpoint(eng.store.db, { url: 'http://127.0.0.1:9/all' }, Date.now(), { allowPrivateWebhookUrls: true });
    const native = emu.emulator.createRefund('tazapay', { status: 'requested' });
    const id = String(native.id);
    const key = { provider: 'tazapay' as const, account: 'default', id };
    await syncRefund(eng.deps, { ...key, source: 'api' });
    emu.emulator.setStatus('tazapay', id, 'processing');
    eng.clock.advance(M);
    const r = await syncRefund(eng.deps, { ...key, source: 'poll' });
    expect(r).toMatchObject({ kind: 'provider_status', changed: false, recorded: true });
    expect(r.events.map((e) => [e.type, e.sequence, e.data.previousStatus, e.data.refund.status, e.data.refund.providerStatus])).toEqual([
      ['refund.updated', 2, 'pending', 'pending', 'processing'],
    ]);
    const history = await getHistory(eng.store.db, key);
    expect(history.map((h) => [h.kind, h.from, h.to, h.providerStatus])).toEqual([
      ['tracked', null, 'pending', 'requested'],
      ['change', 'pending', 'pending', 'processing'],
    ]);
    const deliveries = await eng.store.db.selectFrom('deliveries').select(['event_id', 'endpoint_id']).where('event_id', '=', r.events[0]!.id).execute();
    expect(deliveries).toEqual([{ event_id: r.events[0]!.id, endpoint_id: endpoint.id }]);
    // The same word again is nothing.
    eng.clock.advance(5 * M);
    expect(await syncRefund(eng.deps, { ...key, source: 'poll' })).toMatchObject({ kind: 'none', events: [], recorded: false });
  });

  it('a second unknown word on a not-final refund raises refund.unknown_status again', async () => {
    const native = emu.emulator.createRefund('gr4vy', { status: 'teleported' });
    const id = String(native.id);
    const key = { provider: 'gr4vy' as const, account: 'default', id };
    expect((await syncRefund(eng.deps, { ...key, source: 'api' })).events.map((e) => e.type)).toEqual(['refund.unknown_status']);
    emu.emulator.setStatus('gr4vy', id, 'warped');
    const r = await syncRefund(eng.deps, { ...key, source: 'poll' });
    expect(r.events.map((e) => [e.type, e.data.refund.providerStatus])).toEqual([['refund.unknown_status', 'warped']]);
  });
});

describe('syncRefund: a store failure during a poll', () => {
  /** Makes the database itself refuse one provider word, the way a real constraint would. */
  async function refuseProviderStatus(word: string): Promise<void> {
    await sql`CREATE TRIGGER h6_refuse BEFORE UPDATE OF provider_status ON refunds WHEN NEW.provider_status = ${sql.lit(word)} BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END`.execute(eng.store.db);
  }

  it('is recorded on the refund (store_error) and retried on its schedule, not at every lease expiry', async () => {
    const native = emu.emulator.createRefund('tazapay', { status: 'requested' });
    const id = String(native.id);
    const key = { provider: 'tazapay' as const, account: 'default', id };
    await syncRefund(eng.deps, { ...key, source: 'api' });
    await refuseProviderStatus('processing');
    emu.emulator.setStatus('tazapay', id, 'processing');
    const logger = recordingLogger();
    const leaseMs = 30 * M;
    const poller = createPoller({ syncDeps: { ...eng.deps, logger }, leaseMs });

    eng.clock.advance(M);
    expect(await poller.tick()).toBe(1);
    let row = await getRefundRow(eng.store.db, key);
    expect(row).toMatchObject({ status: 'pending', provider_status: 'requested', error_count: 1, last_error_code: 'store_error', check_count: 2 });
    expect(row!.last_error_message).toMatch(/refused by the test trigger/);
    // The schedule's next step (5 min), not the poller's 30-minute lease.
    expect(Number(row!.next_check_at)).toBe(eng.clock.now() + 5 * M);
    expect(logger.lines.some((l) => l.level === 'error' && /refused by the test trigger/.test(String(l.msg)))).toBe(true);
    const tracked = await getTracked(eng.store.db, key);
    expect(tracked?.tracking.lastError).toMatchObject({ code: 'store_error' });

    eng.clock.advance(5 * M);
    expect(await poller.tick()).toBe(1);
    row = await getRefundRow(eng.store.db, key);
    expect(row).toMatchObject({ error_count: 2, last_error_code: 'store_error' });
    expect(Number(row!.next_check_at)).toBe(eng.clock.now() + 15 * M);

    // Once the store takes the value, the next scheduled check applies it and clears the error.
    await sql`DROP TRIGGER h6_refuse`.execute(eng.store.db);
    eng.clock.advance(15 * M);
    expect(await poller.tick()).toBe(1);
    row = await getRefundRow(eng.store.db, key);
    expect(row).toMatchObject({ provider_status: 'processing', error_count: 0, last_error_code: null });
    await poller.stop();
  });

  it('a direct sync gets store_error (not a raw driver error) and the refund records it', async () => {
    const native = emu.emulator.createRefund('tazapay', { status: 'requested' });
    const id = String(native.id);
    const key = { provider: 'tazapay' as const, account: 'default', id };
    await syncRefund(eng.deps, { ...key, source: 'api' });
    await refuseProviderStatus('initiated');
    emu.emulator.setStatus('tazapay', id, 'initiated');
    const err = await rejectionOf(syncRefund(eng.deps, { ...key, source: 'api' }));
    expect(err).toBeInstanceOf(RefundHubError);
    expect(err).toMatchObject({ code: 'store_error', retryable: true, exitCode: 6 });
    expect((await getRefundRow(eng.store.db, key))?.last_error_code).toBe('store_error');
  });

  it('a tracked refund whose stored id no longer passes the provider check records the error instead of coming back at every lease', async () => {
    const native = emu.emulator.createRefund('ziina', { status: 'pending' });
    const id = String(native.id);
    await syncRefund(eng.deps, { provider: 'ziina', account: 'default', id, source: 'api' });
    // As if stored under an older, looser id rule.
    const badId = `${id} old`;
    await eng.store.db.updateTable('refunds').set({ refund_id: badId }).where('refund_id', '=', id).execute();
    const poller = createPoller({ syncDeps: eng.deps, leaseMs: 30 * M });
    eng.clock.advance(M);
    expect(await poller.tick()).toBe(1);
    const row = await getRefundRow(eng.store.db, { provider: 'ziina', account: 'default', id: badId });
    expect(row).toMatchObject({ error_count: 1, last_error_code: 'invalid_input' });
    expect(Number(row!.next_check_at)).toBe(eng.clock.now() + 5 * M);
    await poller.stop();
  });
});
