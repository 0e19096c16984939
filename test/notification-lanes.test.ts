import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProviderId } from '../src/domain/refund.js';
import { createBackgroundTracker, receiveNotification, recoverPendingNotifications, type BackgroundTracker, type IngestDeps } from '../src/ingest/receive.js';
import { createPoller, type Poller } from '../src/poller/poller.js';
import { getProvider } from '../src/providers/registry.js';
import { getHistory, getTracked } from '../src/store/refunds.js';
import { syncRefund } from '../src/sync/sync-refund.js';
import { cleanupTempDatabases } from './support/db.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { createTestEngine, type TestEngine } from './support/engine.js';
import { pollUntil } from './support/wait.js';

/**
 * Notification re-fetches go through the provider's lane (the poller's requestSync): one GET per
 * notification at most, none while the provider is paused after a 429, a bounded queue whose
 * overflow stays `pending` for recovery. Real emulator (it posts nothing by itself), real SQLite file.
 */

let emu: RunningEmulator;
let eng: TestEngine;
let background: BackgroundTracker;
let poller: Poller;
let deps: IngestDeps;

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
  background = createBackgroundTracker();
});
afterEach(async () => {
  await poller.stop();
  await background.drain();
  await eng.close();
});

function withPoller(options: Parameters<typeof createPoller>[0] extends infer O ? Omit<O, 'syncDeps'> : never = {}): void {
  poller = createPoller({ syncDeps: eng.deps, intervalMs: 20, ...options });
  deps = { ...eng.deps, config: emu.config(), background: background.track, requestSync: poller.requestSync };
}

function notificationFor(provider: ProviderId, native: Record<string, unknown>) {
  const n = getProvider(provider).emulator.notification(native, getProvider(provider).config.resolve(emu.settings[provider]), Date.now());
  if (!n) throw new Error(`${provider} sends no notification`);
  return { provider, rawBody: Buffer.from(n.body), headers: n.headers as Record<string, string | undefined> };
}

const gets = () => emu.emulator.requests('gr4vy').filter((r) => r.method === 'GET').length;
const outcomes = async () => (await eng.store.db.selectFrom('notifications').select('outcome').orderBy('id').execute()).map((r) => r.outcome);

async function trackGr4vy(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = getProvider('gr4vy').emulator.idOf(emu.emulator.createRefund('gr4vy', { status: 'processing' }));
    await syncRefund(eng.deps, { provider: 'gr4vy', account: 'default', id, source: 'api' });
    ids.push(id);
  }
  return ids;
}

describe('notification re-fetches through the provider lane', () => {
  it('20 notifications for 5 refunds, poller running: at most one GET per notification, every change applied once', async () => {
    withPoller({ concurrency: { gr4vy: 2 } });
    const ids = await trackGr4vy(5);
    poller.start();
    const before = gets();
    const logBefore = emu.emulator.requests('gr4vy').length;
    emu.emulator.injectFault('gr4vy', { kind: 'latency', delayMs: 150, count: 20 });
    const steps = ['processing', 'processing', 'processing', 'succeeded'];
    for (const step of steps) {
      // A round of notifications arriving together, as a provider's retries and bursts do.
      const round = ids.map((id) => notificationFor('gr4vy', emu.emulator.setStatus('gr4vy', id, step)!));
      for (const r of await Promise.all(round.map((n) => receiveNotification(deps, n)))) expect(r.status).toBeLessThan(300);
    }
    await background.drain();
    const fetched = gets() - before;
    expect(fetched).toBeGreaterThan(0);
    expect(fetched).toBeLessThanOrEqual(20);
    // Per refund too: no more GETs than the 4 notifications about it.
    const paths = emu.emulator.requests('gr4vy').slice(logBefore).map((r) => r.path);
    for (const id of ids) expect(paths.filter((p) => p.includes(id)).length).toBeLessThanOrEqual(steps.length);
    expect(await outcomes()).toEqual(Array(20).fill('synced'));
    for (const id of ids) {
      const key = { provider: 'gr4vy' as const, account: 'default', id };
      expect((await getTracked(eng.store.db, key))?.status).toBe('succeeded');
      expect((await getHistory(eng.store.db, key)).map((h) => h.kind)).toEqual(['tracked', 'change']);
    }
  });

  it('no GET while the provider is paused after a 429; the queue runs once the pause ends', async () => {
    withPoller({ concurrency: { gr4vy: 1 } });
    const ids = await trackGr4vy(4);
    emu.emulator.injectFault('gr4vy', { kind: 'rate_limit', retryAfterS: 60, count: 1 });
    const first = emu.emulator.setStatus('gr4vy', ids[0]!, 'succeeded')!;
    await receiveNotification(deps, notificationFor('gr4vy', first));
    await pollUntil(() => poller.notBefore('gr4vy'), { what: 'the pause' });
    const pausedAt = gets();
    for (const id of ids.slice(1)) {
      const native = emu.emulator.setStatus('gr4vy', id, 'succeeded')!;
      await receiveNotification(deps, notificationFor('gr4vy', native));
    }
    // The poller's due claims are paused too: a tick takes nothing from this lane.
    expect(await poller.tick()).toBe(0);
    expect(gets()).toBe(pausedAt);
    expect(await outcomes()).toEqual(['failed', 'pending', 'pending', 'pending']);

    eng.clock.advance(60_000);
    expect(await poller.tick()).toBeGreaterThanOrEqual(3);
    await background.drain();
    expect(gets() - pausedAt).toBeLessThanOrEqual(4);
    expect(await outcomes()).toEqual(['failed', 'synced', 'synced', 'synced']);
    for (const id of ids) expect((await getTracked(eng.store.db, { provider: 'gr4vy', account: 'default', id }))?.status).toBe('succeeded');
  });

  it('a full lane leaves the notification pending; recovery fetches it later, once, through the lane', async () => {
    withPoller({ concurrency: { gr4vy: 1 }, maxQueued: 1 });
    const ids = await trackGr4vy(3);
    // Hold the lane: the first re-fetch hangs in the emulator while two more arrive. 3 s (under the
    // engine's 5 s transport timeout) so a loaded machine receiving the next two notifications slowly
    // still finds the lane held; at 400 ms the first re-fetch could end before the third arrived.
    emu.emulator.injectFault('gr4vy', { kind: 'latency', delayMs: 3000, count: 1 });
    const before = gets();
    for (const id of ids) {
      const native = emu.emulator.setStatus('gr4vy', id, 'succeeded')!;
      await receiveNotification(deps, notificationFor('gr4vy', native));
    }
    await background.drain();
    // One ran, one waited in the queue, the third found the queue full.
    expect(gets() - before).toBe(2);
    expect(await outcomes()).toEqual(['synced', 'synced', 'pending']);
    eng.clock.advance(10_000);
    expect(await recoverPendingNotifications(deps)).toBe(1);
    expect(gets() - before).toBe(3);
    expect(await outcomes()).toEqual(['synced', 'synced', 'synced']);
  });

  it('a refund not yet tracked is fetched once through the lane and starts tracking', async () => {
    withPoller();
    const native = emu.emulator.createRefund('ziina', { status: 'completed' });
    const key = { provider: 'ziina' as const, account: 'default', id: String(native.id) };
    const before = emu.emulator.requests('ziina').length;
    await receiveNotification(deps, notificationFor('ziina', native));
    await background.drain();
    expect(emu.emulator.requests('ziina').length - before).toBe(1);
    expect((await getHistory(eng.store.db, key)).map((h) => [h.kind, h.to, h.source])).toEqual([['tracked', 'succeeded', 'notification']]);
    expect(await outcomes()).toEqual(['synced']);
  });
});
