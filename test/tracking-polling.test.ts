import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRefundClient } from '../src/client.js';
import { systemClock } from '../src/clock.js';
import type { ProviderId } from '../src/domain/refund.js';
import { silentLogger } from '../src/logger.js';
import { createPoller, type Poller } from '../src/poller/poller.js';
import { getProvider } from '../src/providers/registry.js';
import { getHistory, getRefundRow, getTracked, rescheduleCheck } from '../src/store/refunds.js';
import { syncRefund, type SyncDeps } from '../src/sync/sync-refund.js';
import { worstCaseSendMs } from '../src/transport/http.js';
import { cleanupTempDatabases } from './support/db.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { createTestEngine, type TestEngine } from './support/engine.js';
import { pollUntil } from './support/wait.js';

/**
 * Polling alone (no notifications: the emulator has no notify URL) follows refunds to their final
 * status, against the real emulator over HTTP and a real SQLite file; the schedule runs on a
 * ManualClock, driven by `poller.tick()` after `clock.advance(...)`.
 */

const M = 60_000;
const H = 60 * M;
const D = 24 * H;

/** Native statuses per provider: a first pending one, an intermediate one, a final one, and what the final maps to. */
const LIFECYCLES: Record<ProviderId, { start: string; middle: string; middleStatus: string; final: string; finalStatus: string }> = {
  ziina: { start: 'pending', middle: 'pending', middleStatus: 'pending', final: 'completed', finalStatus: 'succeeded' },
  tazapay: { start: 'requested', middle: 'processing', middleStatus: 'pending', final: 'succeeded', finalStatus: 'succeeded' },
  gr4vy: { start: 'processing', middle: 'processing', middleStatus: 'pending', final: 'declined', finalStatus: 'failed' },
  stan: { start: 'payment_holding', middle: 'payment_pending', middleStatus: 'pending', final: 'payment_cancelled', finalStatus: 'canceled' },
  onekey: { start: 'PENDING', middle: 'INCORRECT_DETAILS', middleStatus: 'requires_action', final: 'COMPLETED', finalStatus: 'succeeded' },
};

let emu: RunningEmulator;
let eng: TestEngine;
let poller: Poller;

beforeAll(async () => {
  emu = await startEmulator();
  expect(emu.emulator.notifyUrl).toBeUndefined();
});
afterAll(async () => {
  await emu.close();
  cleanupTempDatabases();
});
beforeEach(async () => {
  emu.emulator.reset();
  eng = await createTestEngine(emu.config());
  poller = createPoller({ syncDeps: eng.deps });
});
afterEach(async () => {
  await poller.stop();
  await eng.close();
});

function createNative(provider: ProviderId, status: string): string {
  return getProvider(provider).emulator.idOf(emu.emulator.createRefund(provider, { status }));
}

async function nextCheckAt(provider: ProviderId, id: string): Promise<number | null> {
  const row = await getRefundRow(eng.store.db, { provider, account: 'default', id });
  return row!.next_check_at === null ? null : Number(row!.next_check_at);
}

describe('polling without notifications', () => {
  it('follows every provider to its final status on the 1m, 5m, 15m schedule, then late checks at 1d and 7d', async () => {
    const t0 = eng.clock.now();
    const ids = {} as Record<ProviderId, string>;
    for (const [provider, lc] of Object.entries(LIFECYCLES) as Array<[ProviderId, (typeof LIFECYCLES)[ProviderId]]>) {
      ids[provider] = createNative(provider, lc.start);
      const r = await syncRefund(eng.deps, { provider, account: 'default', id: ids[provider], source: 'api', currency: provider === 'onekey' ? 'EUR' : undefined });
      expect(r.refund.status).toBe('pending');
      expect(await nextCheckAt(provider, ids[provider])).toBe(t0 + M);
    }

    // Not due yet: nothing is taken, no provider is called.
    const requestsBefore = (Object.keys(LIFECYCLES) as ProviderId[]).map((p) => emu.emulator.requests(p).length);
    eng.clock.advance(M - 1);
    expect(await poller.tick()).toBe(0);
    expect((Object.keys(LIFECYCLES) as ProviderId[]).map((p) => emu.emulator.requests(p).length)).toEqual(requestsBefore);

    // 1 min: the first check; lifecycle moves to the intermediate status meanwhile.
    for (const [p, lc] of Object.entries(LIFECYCLES) as Array<[ProviderId, (typeof LIFECYCLES)[ProviderId]]>) emu.emulator.setStatus(p, ids[p], lc.middle);
    eng.clock.advance(1);
    expect(await poller.tick()).toBe(5);
    for (const [p, lc] of Object.entries(LIFECYCLES) as Array<[ProviderId, (typeof LIFECYCLES)[ProviderId]]>) {
      expect((await getTracked(eng.store.db, { provider: p, account: 'default', id: ids[p] }))?.status).toBe(lc.middleStatus);
      expect(await nextCheckAt(p, ids[p])).toBe(t0 + M + 5 * M);
    }

    // 5 min later: second check, still nothing final; then 15 min.
    eng.clock.advance(5 * M);
    expect(await poller.tick()).toBe(5);
    for (const p of Object.keys(LIFECYCLES) as ProviderId[]) expect(await nextCheckAt(p, ids[p])).toBe(t0 + 6 * M + 15 * M);

    for (const [p, lc] of Object.entries(LIFECYCLES) as Array<[ProviderId, (typeof LIFECYCLES)[ProviderId]]>) emu.emulator.setStatus(p, ids[p], lc.final);
    eng.clock.advance(15 * M);
    expect(await poller.tick()).toBe(5);
    const finalAt = eng.clock.now();
    for (const [p, lc] of Object.entries(LIFECYCLES) as Array<[ProviderId, (typeof LIFECYCLES)[ProviderId]]>) {
      const t = await getTracked(eng.store.db, { provider: p, account: 'default', id: ids[p] });
      expect(t?.status).toBe(lc.finalStatus);
      expect(t?.tracking.finalAt).toBe(new Date(finalAt).toISOString());
      expect(await nextCheckAt(p, ids[p])).toBe(finalAt + D);
      const history = await getHistory(eng.store.db, { provider: p, account: 'default', id: ids[p] });
      expect(history.filter((h) => h.kind !== 'change' || h.from !== h.to).map((h) => [h.kind, h.from, h.to, h.source])).toEqual([
        ['tracked', null, 'pending', 'api'],
        ...(lc.middleStatus !== 'pending' ? [['change', 'pending', lc.middleStatus, 'poll']] : []),
        ['change', lc.middleStatus, lc.finalStatus, 'poll'],
      ]);
    }
    const onekey = await getTracked(eng.store.db, { provider: 'onekey', account: 'default', id: ids.onekey });
    expect(onekey?.currency).toBe('EUR');
    expect(onekey?.amount).not.toBeNull();

    // Late checks: 1 day after final, then 7 days after final, then none.
    eng.clock.advance(D - 1);
    expect(await poller.tick()).toBe(0);
    eng.clock.advance(1);
    expect(await poller.tick()).toBe(5);
    for (const p of Object.keys(LIFECYCLES) as ProviderId[]) expect(await nextCheckAt(p, ids[p])).toBe(finalAt + 7 * D);
    eng.clock.advance(6 * D);
    expect(await poller.tick()).toBe(5);
    for (const p of Object.keys(LIFECYCLES) as ProviderId[]) expect(await nextCheckAt(p, ids[p])).toBeNull();
    eng.clock.advance(365 * D);
    expect(await poller.tick()).toBe(0);
  });

  it('catches a reversal at a late check, keeps a final status on a stale read', async () => {
    const id = createNative('tazapay', 'succeeded');
    await syncRefund(eng.deps, { provider: 'tazapay', account: 'default', id, source: 'api' });
    emu.emulator.setStatus('tazapay', id, 'processing');
    eng.clock.advance(D);
    expect(await poller.tick()).toBe(1);
    expect((await getTracked(eng.store.db, { provider: 'tazapay', account: 'default', id }))?.status).toBe('succeeded');
    emu.emulator.setStatus('tazapay', id, 'rejected');
    eng.clock.advance(6 * D);
    expect(await poller.tick()).toBe(1);
    const t = await getTracked(eng.store.db, { provider: 'tazapay', account: 'default', id });
    expect(t?.status).toBe('failed');
    const history = await getHistory(eng.store.db, { provider: 'tazapay', account: 'default', id });
    expect(history.map((h) => h.kind)).toEqual(['tracked', 'anomaly', 'reversal']);
    const events = await eng.store.db.selectFrom('events').select(['type', 'sequence']).where('refund_id', '=', id).orderBy('sequence').execute();
    expect(events).toEqual([
      { type: 'refund.succeeded', sequence: 1 },
      { type: 'refund.reversed', sequence: 2 },
    ]);
  });

  it('marks a refund stuck after 30 days and keeps checking it daily; per-provider schedules apply', async () => {
    await eng.close();
    const config = emu.config();
    config.providers.stan = { schedule: ['10m', '2h'] };
    eng = await createTestEngine(config);
    poller = createPoller({ syncDeps: eng.deps });
    const stan = createNative('stan', 'payment_pending');
    const ziina = createNative('ziina', 'pending');
    await syncRefund(eng.deps, { provider: 'stan', account: 'default', id: stan, source: 'api' });
    await syncRefund(eng.deps, { provider: 'ziina', account: 'default', id: ziina, source: 'api' });
    const t0 = eng.clock.now();
    expect(await nextCheckAt('stan', stan)).toBe(t0 + 10 * M);
    eng.clock.advance(10 * M);
    // Both are due (ziina since 1 min); each is checked once.
    expect(await poller.tick()).toBe(2);
    expect(await nextCheckAt('stan', stan)).toBe(eng.clock.now() + 2 * H);
    eng.clock.advance(2 * H);
    await poller.tick();
    expect(await nextCheckAt('stan', stan)).toBe(eng.clock.now() + 2 * H);

    // Run the clock 31 days, ticking whenever something is due.
    let ticks = 0;
    while (eng.clock.now() < t0 + 31 * D) {
      eng.clock.advance(H);
      ticks += await poller.tick();
    }
    expect(ticks).toBeGreaterThan(30);
    const t = await getTracked(eng.store.db, { provider: 'ziina', account: 'default', id: ziina });
    expect(t?.tracking.stuck).toBe(true);
    expect(t?.status).toBe('pending');
    const next = await nextCheckAt('ziina', ziina);
    expect(next! - eng.clock.now()).toBeGreaterThan(0);
    expect(next! - eng.clock.now()).toBeLessThanOrEqual(D);
    const stuckEvents = await eng.store.db.selectFrom('events').select('type').where('type', '=', 'refund.stuck').execute();
    expect(stuckEvents).toHaveLength(2);
    const history = await getHistory(eng.store.db, { provider: 'ziina', account: 'default', id: ziina });
    expect(history.map((h) => h.kind)).toEqual(['tracked', 'stuck']);
  }, 120_000); // 744 hourly ticks and ~400 syncs over HTTP: 18 s on a loaded 2-core machine

  it('retries provider errors on the schedule and recovers', async () => {
    const id = createNative('ziina', 'pending');
    await syncRefund(eng.deps, { provider: 'ziina', account: 'default', id, source: 'api' });
    emu.emulator.injectFault('ziina', { kind: 'reset', count: 3 });
    eng.clock.advance(M);
    expect(await poller.tick()).toBe(1);
    let row = await getRefundRow(eng.store.db, { provider: 'ziina', account: 'default', id });
    expect(row).toMatchObject({ error_count: 1, last_error_code: 'provider_error', status: 'pending' });
    emu.emulator.setStatus('ziina', id, 'failed');
    eng.clock.advance(5 * M);
    expect(await poller.tick()).toBe(1);
    eng.clock.advance(15 * M);
    expect(await poller.tick()).toBe(1);
    row = await getRefundRow(eng.store.db, { provider: 'ziina', account: 'default', id });
    expect(row).toMatchObject({ error_count: 3 });
    eng.clock.advance(H);
    expect(await poller.tick()).toBe(1);
    row = await getRefundRow(eng.store.db, { provider: 'ziina', account: 'default', id });
    expect(row).toMatchObject({ error_count: 0, last_error_code: null, status: 'failed' });
  });

  it('jittered schedules stay within +-10% and polling still reaches the end', async () => {
    await eng.close();
    eng = await createTestEngine(emu.config(), { scheduler: { jitter: 0.1 } });
    poller = createPoller({ syncDeps: eng.deps });
    const id = createNative('gr4vy', 'processing');
    await syncRefund(eng.deps, { provider: 'gr4vy', account: 'default', id, source: 'api' });
    const delays = [M, 5 * M, 15 * M, H];
    for (const d of delays) {
      const due = (await nextCheckAt('gr4vy', id))! - eng.clock.now();
      expect(due).toBeGreaterThanOrEqual(0.9 * d);
      expect(due).toBeLessThanOrEqual(1.1 * d);
      eng.clock.advance(due);
      expect(await poller.tick()).toBe(1);
    }
    emu.emulator.setStatus('gr4vy', id, 'succeeded');
    eng.clock.advance(1.1 * 6 * H);
    expect(await poller.tick()).toBe(1);
    expect((await getTracked(eng.store.db, { provider: 'gr4vy', account: 'default', id }))?.status).toBe('succeeded');
  });
});

describe('fair and bounded polling (real clock, real emulator, SQLite file)', () => {
  /** The engine's pieces on the real clock, with a client whose calls give up after `timeoutMs`. */
  function realTime(e: TestEngine, timeoutMs: number): { deps: SyncDeps; close(): Promise<void> } {
    const client = createRefundClient({ config: emu.config(), logger: silentLogger, transport: { maxAttempts: 1, timeoutMs } });
    return { deps: { ...e.deps, client, clock: systemClock }, close: () => client.close() };
  }

  it('a provider answering after its timeout does not delay another provider: Stan is polled while Ziina\'s only slot still hangs', async () => {
    // Ziina's calls time out after 3 s: the window Stan's check must land in. 1.5 s left a loaded
    // machine ~1 s after Stan fell due; the order asserted below is the same.
    const rt = realTime(eng, 3000);
    const ziina = Array.from({ length: 4 }, () => createNative('ziina', 'pending'));
    const stan = createNative('stan', 'payment_pending');
    for (const id of ziina) await syncRefund(rt.deps, { provider: 'ziina', account: 'default', id, source: 'api' });
    await syncRefund(rt.deps, { provider: 'stan', account: 'default', id: stan, source: 'api' });
    // Every Ziina call hangs past the client's timeout; one slot, so Ziina alone needs 4 x 3 s.
    emu.emulator.injectFault('ziina', { kind: 'latency', delayMs: 6000, count: 4 });
    const now = Date.now();
    for (const id of ziina) await rescheduleCheck(eng.store.db, { provider: 'ziina', account: 'default', id }, now);
    const stanDue = now + 500;
    await rescheduleCheck(eng.store.db, { provider: 'stan', account: 'default', id: stan }, stanDue);
    const stanBefore = emu.emulator.requests('stan').length;
    const ziinaBefore = emu.emulator.requests('ziina').length;
    poller = createPoller({ syncDeps: rt.deps, concurrency: { ziina: 1 }, intervalMs: 50 });
    try {
      poller.start();
      await pollUntil(() => emu.emulator.requests('ziina').length > ziinaBefore, { what: 'a ziina call in flight' });
      const polled = await pollUntil(() => emu.emulator.requests('stan')[stanBefore], { timeoutMs: 15_000, what: 'the stan check' });
      // Ordered by events, not a wall-clock window a loaded machine can stretch: Ziina's one slot
      // takes its next call only after the first has timed out (3 s), so Stan's check arriving
      // before Ziina's second call means it did not wait behind Ziina at all (serialized, it
      // would come after all four, 12 s).
      const secondZiina = await pollUntil(() => emu.emulator.requests('ziina')[ziinaBefore + 1], { timeoutMs: 15_000, what: 'the second ziina call' });
      expect(Date.parse(polled.time)).toBeGreaterThanOrEqual(stanDue);
      expect(Date.parse(polled.time)).toBeLessThan(Date.parse(secondZiina.time));
      expect((await getRefundRow(eng.store.db, { provider: 'stan', account: 'default', id: stan }))!.check_count).toBe(2);
    } finally {
      await poller.stop();
      await rt.close();
    }
  }, 30_000);

  it('two pollers on one SQLite file (two stores, as two processes): no refund is fetched twice for one due check', async () => {
    const other = await createTestEngine(emu.config(), { url: eng.url });
    const a = realTime(eng, 1500);
    const b = realTime(other, 1500);
    const ids = Array.from({ length: 12 }, () => createNative('ziina', 'pending'));
    for (const id of ids) await syncRefund(a.deps, { provider: 'ziina', account: 'default', id, source: 'api' });
    const before = emu.emulator.requests('ziina').length;
    emu.emulator.injectFault('ziina', { kind: 'latency', delayMs: 200, count: 12 });
    const now = Date.now();
    for (const id of ids) await rescheduleCheck(eng.store.db, { provider: 'ziina', account: 'default', id }, now);
    // A lease asked for far shorter than the work: the floor (twice the transport's worst case) holds.
    const opts = { concurrency: 2, intervalMs: 20, leaseMs: 100, callWorstCaseMs: worstCaseSendMs({ maxAttempts: 1, timeoutMs: 1500, maxDelayMs: 0 }) };
    const p1 = createPoller({ syncDeps: a.deps, ...opts });
    const p2 = createPoller({ syncDeps: b.deps, ...opts });
    try {
      p1.start();
      p2.start();
      await pollUntil(
        async () => {
          const rows = await eng.store.db.selectFrom('refunds').select(['check_count', 'next_check_at']).where('provider', '=', 'ziina').execute();
          return rows.length === ids.length && rows.every((r) => Number(r.check_count) >= 2 && Number(r.next_check_at) > Date.now() + 30_000);
        },
        { timeoutMs: 20_000, what: 'every refund checked once' },
      );
      await Promise.all([p1.stop(), p2.stop()]);
      expect(emu.emulator.requests('ziina').length - before).toBe(ids.length);
      const checks = await eng.store.db.selectFrom('refunds').select('check_count').where('provider', '=', 'ziina').execute();
      expect(checks.map((r) => Number(r.check_count))).toEqual(ids.map(() => 2));
    } finally {
      await Promise.all([p1.stop(), p2.stop()]);
      await a.close();
      await b.close();
      await other.close();
    }
  }, 30_000);
});
