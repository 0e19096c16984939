import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cleanupTempDatabases } from '../../test/support/db.js';
import { startEmulator, type RunningEmulator } from '../../test/support/emulator.js';
import { pollUntil } from '../../test/support/wait.js';
import { createTestEngine, type TestEngine } from '../../test/support/engine.js';
import type { RefundClient } from '../client.js';
import type { ProviderId } from '../domain/refund.js';
import { getProvider } from '../providers/registry.js';
import { countDue, getRefundRow } from '../store/refunds.js';
import { syncRefund, type SyncDeps } from '../sync/sync-refund.js';
import { createPoller } from './poller.js';

const M = 60_000;

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

/** The real client, observed: counts calls and the most in flight at once per provider. */
function observed(client: RefundClient) {
  const inflight = new Map<string, number>();
  const max = new Map<string, number>();
  const calls = new Map<string, number>();
  const wrapped: RefundClient = {
    config: client.config,
    validate: (p, id) => client.validate(p, id),
    accounts: () => client.accounts(),
    close: () => client.close(),
    getVoucher: (p, id, opts) => client.getVoucher(p, id, opts),
    async getRefund(provider, id, opts) {
      calls.set(provider, (calls.get(provider) ?? 0) + 1);
      inflight.set(provider, (inflight.get(provider) ?? 0) + 1);
      max.set(provider, Math.max(max.get(provider) ?? 0, inflight.get(provider)!));
      try {
        return await client.getRefund(provider, id, opts);
      } finally {
        inflight.set(provider, inflight.get(provider)! - 1);
      }
    },
  };
  return { wrapped, max, calls };
}

async function track(provider: ProviderId, status: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = getProvider(provider).emulator.idOf(emu.emulator.createRefund(provider, { status }));
    await syncRefund(eng.deps, { provider, account: 'default', id, source: 'api' });
    ids.push(id);
  }
  return ids;
}

describe('poller', () => {
  it('takes only what is due', async () => {
    await track('ziina', 'pending', 3);
    const poller = createPoller({ syncDeps: eng.deps });
    const before = emu.emulator.requests('ziina').length;
    expect(await poller.tick()).toBe(0);
    eng.clock.advance(M - 1);
    expect(await poller.tick()).toBe(0);
    expect(emu.emulator.requests('ziina').length).toBe(before);
    eng.clock.advance(1);
    expect(await poller.tick()).toBe(3);
    expect(emu.emulator.requests('ziina').length).toBe(before + 3);
    // Rescheduled 5 minutes on: nothing due right after.
    expect(await poller.tick()).toBe(0);
  });

  it('limits concurrent provider calls per provider', async () => {
    await track('ziina', 'pending', 8);
    await track('gr4vy', 'processing', 3);
    const { wrapped, max, calls } = observed(eng.client);
    const deps: SyncDeps = { ...eng.deps, client: wrapped };
    emu.emulator.injectFault('ziina', { kind: 'latency', delayMs: 60, count: 8 });
    const poller = createPoller({ syncDeps: deps, concurrency: { ziina: 2 } });
    eng.clock.advance(M);
    expect(await poller.tick()).toBe(11);
    expect(calls.get('ziina')).toBe(8);
    expect(max.get('ziina')).toBe(2);
    expect(calls.get('gr4vy')).toBe(3);
    expect(max.get('gr4vy')).toBeLessThanOrEqual(4);
  });

  it('a rate limit pauses that provider only, by Retry-After: nothing more is claimed until it ends', async () => {
    const ziina = await track('ziina', 'pending', 4);
    await track('gr4vy', 'processing', 2);
    const { wrapped, calls } = observed(eng.client);
    const poller = createPoller({ syncDeps: { ...eng.deps, client: wrapped }, concurrency: { ziina: 1 } });
    emu.emulator.injectFault('ziina', { kind: 'rate_limit', retryAfterS: 120, count: 1 });
    eng.clock.advance(M);
    const t = eng.clock.now();
    // One ziina refund claimed (one free slot), answered 429; the other three are never claimed.
    expect(await poller.tick()).toBe(3);
    expect(calls.get('ziina')).toBe(1);
    expect(calls.get('gr4vy')).toBe(2);
    expect(poller.notBefore('ziina')).toBe(t + 120_000);
    expect(poller.notBefore('gr4vy')).toBeUndefined();
    const nextChecks = await Promise.all(ziina.map(async (id) => Number((await getRefundRow(eng.store.db, { provider: 'ziina', account: 'default', id }))!.next_check_at)));
    // The one that got the 429 is parked until the pause ends; the rest stay due, unleased.
    expect(nextChecks.filter((n) => n === t + 120_000)).toHaveLength(1);
    expect(nextChecks.filter((n) => n <= t)).toHaveLength(3);
    eng.clock.advance(119_000);
    expect(await poller.tick()).toBe(0);
    expect(calls.get('ziina')).toBe(1);
    eng.clock.advance(1000);
    expect(await poller.tick()).toBe(4);
    expect(calls.get('ziina')).toBe(5);
    expect(poller.notBefore('ziina')).toBeUndefined();
  });

  it('caps a huge Retry-After: the transport parks the refund at most an hour, the poller pauses at most its own cap', async () => {
    const [id] = await track('ziina', 'pending', 1);
    const poller = createPoller({ syncDeps: eng.deps, maxRetryAfterMs: 10 * M });
    emu.emulator.injectFault('ziina', { kind: 'rate_limit', retryAfterS: 3_000_000_000, count: 1 });
    eng.clock.advance(M);
    const t = eng.clock.now();
    expect(await poller.tick()).toBe(1);
    expect(poller.notBefore('ziina')).toBe(t + 10 * M);
    const row = await getRefundRow(eng.store.db, { provider: 'ziina', account: 'default', id: id! });
    expect(Number(row!.next_check_at)).toBe(t + 60 * M);
    eng.clock.advance(10 * M);
    expect(poller.notBefore('ziina')).toBeUndefined();
  });

  it('claims only as many as it has free slots: a claimed refund is never waiting under its lease', async () => {
    const ids = await track('ziina', 'pending', 6);
    emu.emulator.injectFault('ziina', { kind: 'latency', delayMs: 300, count: 6 });
    const poller = createPoller({ syncDeps: eng.deps, concurrency: { ziina: 2 }, leaseMs: 7 * M });
    eng.clock.advance(M);
    const t = eng.clock.now();
    const done = poller.tick();
    // Leased and not yet synced (next check at the lease's end) is never more than the two slots.
    await pollUntil(() => emu.emulator.requests('ziina').length >= 6 + 2, { what: 'two ziina calls in flight' });
    const leased = async () => {
      const rows = await Promise.all(ids.map((id) => getRefundRow(eng.store.db, { provider: 'ziina', account: 'default', id })));
      return rows.filter((r) => Number(r!.next_check_at) === t + 7 * M).length;
    };
    expect(await leased()).toBeLessThanOrEqual(2);
    expect(await done).toBe(6);
    expect(emu.emulator.requests('ziina')).toHaveLength(12);
  });

  it('records provider errors and keeps going', async () => {
    const [id] = await track('ziina', 'pending', 1);
    const [other] = await track('gr4vy', 'processing', 1);
    const poller = createPoller({ syncDeps: eng.deps });
    emu.emulator.injectFault('ziina', { kind: 'error', status: 500, count: 1 });
    emu.emulator.setStatus('gr4vy', other!, 'succeeded');
    eng.clock.advance(M);
    expect(await poller.tick()).toBe(2);
    const row = await getRefundRow(eng.store.db, { provider: 'ziina', account: 'default', id: id! });
    expect(row).toMatchObject({ error_count: 1, last_error_code: 'provider_error', status: 'pending' });
    expect(Number(row!.next_check_at)).toBe(eng.clock.now() + 5 * M);
    expect((await getRefundRow(eng.store.db, { provider: 'gr4vy', account: 'default', id: other! }))?.status).toBe('succeeded');
    const malformedRow = await (async () => {
      emu.emulator.injectFault('ziina', { kind: 'malformed', count: 1 });
      eng.clock.advance(5 * M);
      expect(await poller.tick()).toBe(1);
      return getRefundRow(eng.store.db, { provider: 'ziina', account: 'default', id: id! });
    })();
    expect(malformedRow).toMatchObject({ error_count: 2, last_error_code: 'invalid_response' });
    expect(eng.metrics.registry.getSingleMetric('refundhub_syncs_total')).toBeDefined();
    const text = await eng.metrics.registry.metrics();
    expect(text).toMatch(/refundhub_syncs_total\{provider="ziina",outcome="error:provider_error"\} 1/);
  });

  it('start() polls in the background and stop() waits for the tick in progress', async () => {
    const [id] = await track('ziina', 'pending', 1);
    emu.emulator.setStatus('ziina', id!, 'completed');
    eng.clock.advance(M);
    const poller = createPoller({ syncDeps: eng.deps, intervalMs: 10 });
    poller.start();
    await pollUntil(async () => (await getRefundRow(eng.store.db, { provider: 'ziina', account: 'default', id: id! }))?.status === 'succeeded', { what: 'poller to apply the change' });
    await poller.stop();
    // Stopped: a refund due now is left alone until someone ticks.
    eng.clock.advance(10 * 24 * 60 * M);
    expect(await countDue(eng.store.db, eng.clock.now())).toBe(1);
  });
});
