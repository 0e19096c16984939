import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { createEndpoint } from '../src/notify/endpoints.js';
import { getProvider } from '../src/providers/registry.js';
import { buildReport } from '../src/store/report.js';
import { percentile } from '../src/store/refund-stats.js';
import { syncRefund } from '../src/sync/sync-refund.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { createTestEngine, type TestEngine } from './support/engine.js';
import { describeStores } from './support/stores.js';

/**
 * `refundhub report`'s queries, on SQLite and on PostgreSQL: the same refunds, history and
 * deliveries give the same report on both stores.
 */

const M = 60_000;
const H = 60 * M;
const D = 24 * H;

it('percentile is nearest-rank', () => {
  expect(percentile([], 50)).toBeNull();
  expect(percentile([5], 95)).toBe(5);
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  expect(percentile(xs, 50)).toBe(50);
  expect(percentile(xs, 95)).toBe(95);
});

describeStores('buildReport', (backend) => {
  let emu: RunningEmulator;
  let eng: TestEngine;
  beforeAll(async () => {
    emu = await startEmulator();
  });
  afterAll(async () => {
    await emu.close();
    await backend.cleanup();
  });
  beforeEach(async () => {
    const config = emu.config();
    config.providers.stan = { stuckAfter: '2d', stuckAfterMs: 2 * D };
    eng = await createTestEngine(config, { url: await backend.newDatabaseUrl() });
  });
  afterEach(async () => {
    await eng.close();
  });

  it('counts by status per provider and account, time to final p50/p95, stuck, anomalies, reversals and failing endpoints', async () => {
    const endpoint = await createEndpoint(eng.store.db, { url: 'http://127.0.0.1:9/hook' }, eng.clock.now(), { allowPrivateWebhookUrls: true });
    const ziinaDemo = getProvider('ziina').emulator.demoRefunds()[0]!;
    const ziinaFinal = ziinaDemo.lifecycle.at(-1)!.status;
    const stanSteps = getProvider('stan').emulator.demoRefunds()[1]!.lifecycle.map((s) => s.status);
    const ziina = (i: number) => ({ provider: 'ziina' as const, account: 'default', id: String(emu.emulator.createRefund('ziina', { status: 'pending' }).id), i });

    // Four Ziina refunds tracked an hour apart.
    const refunds = [ziina(0), ziina(1), ziina(2), ziina(3)];
    for (const r of refunds) {
      await syncRefund(eng.deps, { ...r, source: 'api' });
      eng.clock.advance(H);
    }
    // All three become final now: 4, 3 and 2 hours after their tracking started.
    for (const r of refunds.slice(0, 3)) {
      emu.emulator.setStatus('ziina', r.id, ziinaFinal);
      await syncRefund(eng.deps, { ...r, source: 'poll' });
    }
    // A stale read of a final refund (an anomaly), then a reversal of another.
    emu.emulator.setStatus('ziina', refunds[0]!.id, 'pending');
    await syncRefund(eng.deps, { ...refunds[0]!, source: 'poll' });
    emu.emulator.setStatus('ziina', refunds[1]!.id, 'failed');
    await syncRefund(eng.deps, { ...refunds[1]!, source: 'poll' });

    // A Stan refund stuck past its provider's 2 days.
    const stan = { provider: 'stan' as const, account: 'default', id: getProvider('stan').emulator.idOf(emu.emulator.createRefund('stan', { status: stanSteps[0]! })) };
    await syncRefund(eng.deps, { ...stan, source: 'api' });
    eng.clock.advance(2 * D);
    expect((await syncRefund(eng.deps, { ...stan, source: 'poll' })).refund.tracking.stuck).toBe(true);

    // Deliveries to the endpoint: two given up, one retrying after a failure, the rest never tried.
    const deliveries = await eng.store.db.selectFrom('deliveries').select('id').orderBy('created_at').execute();
    expect(deliveries.length).toBeGreaterThanOrEqual(4);
    const now = eng.clock.now();
    for (const [i, d] of deliveries.slice(0, 3).entries()) {
      await eng.store.db.updateTable('deliveries').set({ status: i < 2 ? 'failed' : 'pending', attempts: 3, updated_at: now }).where('id', '=', d.id).execute();
    }

    const report = await buildReport(eng.store.db, now, 7 * D);
    const z = report.groups.find((g) => g.provider === 'ziina')!;
    expect(z).toMatchObject({ account: 'default', total: 4, stuck: 0, anomalies: 1, reversals: 1 });
    expect(z.byStatus).toMatchObject({ pending: 1, succeeded: 2, failed: 1 });
    expect(z.timeToFinal.count).toBe(3);
    expect(z.timeToFinal).toEqual({ count: 3, p50Ms: 3 * H, p95Ms: 4 * H });
    const s = report.groups.find((g) => g.provider === 'stan')!;
    expect(s).toMatchObject({ total: 1, stuck: 1, anomalies: 0, reversals: 0, timeToFinal: { count: 0, p50Ms: null, p95Ms: null } });
    expect(s.byStatus.pending).toBe(1);
    expect(report.stuck).toEqual({ count: 1, refunds: [expect.objectContaining({ provider: 'stan', id: stan.id, status: 'pending' })] });
    expect(report.failingEndpoints).toEqual([{ id: endpoint.id, url: 'http://127.0.0.1:9/hook', failures: 3, lastFailureAt: new Date(now).toISOString() }]);

    // A period that ends before anything happened counts nothing but what is stuck now.
    const later = await buildReport(eng.store.db, now + 30 * D, 1 * D);
    expect(later.groups.map((g) => [g.provider, g.total, g.stuck])).toEqual([['stan', 0, 1]]);
    expect(later.failingEndpoints).toEqual([]);
  });
});
