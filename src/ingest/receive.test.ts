import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cleanupTempDatabases } from '../../test/support/db.js';
import { startEmulator, type RunningEmulator } from '../../test/support/emulator.js';
import { createTestEngine, type TestEngine } from '../../test/support/engine.js';
import type { ProviderId } from '../domain/refund.js';
import { createPoller } from '../poller/poller.js';
import { getProvider } from '../providers/registry.js';
import { getHistory, getRefundRow, getTracked, refundKeyString, type RefundKey } from '../store/refunds.js';
import { syncRefund } from '../sync/sync-refund.js';
import { createBackgroundTracker, MAX_STORED_BODY_BYTES, receiveNotification, recoverPendingNotifications, type BackgroundTracker, type IngestDeps } from './receive.js';

/**
 * Notification intake against a real emulator (one that does NOT post notifications by itself, so
 * each test decides exactly which notification arrives) and a real SQLite file.
 */

let emu: RunningEmulator;
let eng: TestEngine;
let background: BackgroundTracker;
let deps: IngestDeps;
const others: TestEngine[] = [];

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
  deps = { ...eng.deps, config: emu.config(), background: background.track };
});
afterEach(async () => {
  await background.drain();
  for (const o of others.splice(0)) await o.close();
  await eng.close();
});

/** The provider's native notification for `native` (signed like the provider would). */
function notificationFor(provider: ProviderId, native: Record<string, unknown>) {
  const n = getProvider(provider).emulator.notification(native, getProvider(provider).config.resolve(emu.settings[provider]), Date.now());
  if (!n) throw new Error(`${provider} sends no notification`);
  return { provider, rawBody: Buffer.from(n.body), headers: n.headers as Record<string, string | undefined> };
}

/**
 * Simulates a process killed right after answering 202: the re-fetch never gets past the refund's
 * lock (held forever here), exactly as if the process had died there.
 */
function crashedDeps(key: RefundKey): IngestDeps {
  void eng.deps.locks.run(refundKeyString(key), () => new Promise<never>(() => {}));
  return { ...deps, background: () => {} };
}

const rows = () => eng.store.db.selectFrom('notifications').selectAll().orderBy('id').execute();

describe('durable notifications (crash after the 202)', () => {
  it('a notification for an untracked refund survives the crash: recovery tracks it', async () => {
    const native = emu.emulator.createRefund('ziina', { status: 'completed' });
    const key: RefundKey = { provider: 'ziina', account: 'default', id: String(native.id) };
    const r = await receiveNotification(crashedDeps(key), notificationFor('ziina', native));
    expect(r.status).toBe(202);
    expect((await rows()).map((n) => n.outcome)).toEqual(['pending']);
    expect(await getTracked(eng.store.db, key)).toBeNull();

    // Restart: a new process on the same file.
    const next = await createTestEngine(emu.config(), { url: eng.url });
    others.push(next);
    next.clock.set(eng.clock.now());
    // Too recent: it may still be in the hands of the process that received it.
    expect(await recoverPendingNotifications(next.deps)).toBe(0);
    next.clock.advance(10_000);
    expect(await recoverPendingNotifications(next.deps)).toBe(1);

    const tracked = await getTracked(next.store.db, key);
    expect(tracked?.status).toBe('succeeded');
    expect((await getHistory(next.store.db, key)).map((h) => [h.kind, h.to, h.source])).toEqual([['tracked', 'succeeded', 'notification']]);
    expect((await rows()).map((n) => n.outcome)).toEqual(['synced']);
    // Nothing left to recover.
    next.clock.advance(10_000);
    expect(await recoverPendingNotifications(next.deps)).toBe(0);
  });

  it('a notification for a tracked refund makes it due now in the same transaction; the poller picks it up', async () => {
    const native = emu.emulator.createRefund('gr4vy', { status: 'processing' });
    const key: RefundKey = { provider: 'gr4vy', account: 'default', id: String(native.id) };
    await syncRefund(eng.deps, { ...key, source: 'api' });
    const before = await getRefundRow(eng.store.db, key);
    expect(Number(before!.next_check_at)).toBeGreaterThan(eng.clock.now());

    const changed = emu.emulator.setStatus('gr4vy', key.id, 'succeeded')!;
    eng.clock.advance(1000);
    expect((await receiveNotification(crashedDeps(key), notificationFor('gr4vy', changed))).status).toBe(202);
    expect(Number((await getRefundRow(eng.store.db, key))!.next_check_at)).toBe(eng.clock.now());

    // Restart: the poller finds it due at once, recovery closes the notification.
    const next = await createTestEngine(emu.config(), { url: eng.url });
    others.push(next);
    next.clock.set(eng.clock.now());
    expect(await createPoller({ syncDeps: next.deps }).tick()).toBe(1);
    expect((await getTracked(next.store.db, key))?.status).toBe('succeeded');
    next.clock.advance(10_000);
    expect(await recoverPendingNotifications(next.deps)).toBe(1);
    expect((await rows()).map((n) => n.outcome)).toEqual(['synced']);
    const history = await getHistory(next.store.db, key);
    expect(history.map((h) => [h.kind, h.to, h.source])).toEqual([
      ['tracked', 'pending', 'api'],
      ['change', 'succeeded', 'poll'],
    ]);
  });

  it('a re-fetch of an untracked refund that fails for a passing reason stays pending for recovery', async () => {
    const native = emu.emulator.createRefund('tazapay', { status: 'succeeded' });
    const key: RefundKey = { provider: 'tazapay', account: 'default', id: String(native.id) };
    emu.emulator.injectFault('tazapay', { kind: 'error', status: 503, count: 1 });
    expect((await receiveNotification(deps, notificationFor('tazapay', native))).status).toBe(202);
    await background.drain();
    const [row] = await rows();
    expect(row).toMatchObject({ outcome: 'pending', processed_at: null });
    expect(row!.error).toMatch(/^provider_error/);
    eng.clock.advance(10_000);
    expect(await recoverPendingNotifications(eng.deps)).toBe(1);
    expect((await getTracked(eng.store.db, key))?.status).toBe('succeeded');
    expect((await rows()).map((n) => [n.outcome, n.error])).toEqual([['synced', null]]);
  });
});

describe('de-duplication never drops a real change', () => {
  it('signed (Ziina): the same event is re-fetched until the stored status equals what it claims', async () => {
    const native = emu.emulator.createRefund('ziina', { status: 'pending' });
    const key: RefundKey = { provider: 'ziina', account: 'default', id: String(native.id) };
    // Ziina says "completed" while its API still answers "pending" (read lag).
    const claim = notificationFor('ziina', { ...native, status: 'completed' });
    expect(await receiveNotification(deps, claim)).toMatchObject({ status: 202, body: { duplicate: false } });
    await background.drain();
    expect((await getTracked(eng.store.db, key))?.status).toBe('pending');

    // Ziina redelivers the same event (same event id): we still hold "pending", so re-fetch.
    emu.emulator.setStatus('ziina', key.id, 'completed');
    expect(await receiveNotification(deps, claim)).toMatchObject({ status: 202, body: { duplicate: false } });
    await background.drain();
    expect((await getTracked(eng.store.db, key))?.status).toBe('succeeded');

    // Once more: processed already and we hold what it claims: a duplicate, recorded, not re-fetched.
    const requestsBefore = emu.emulator.requests('ziina').length;
    expect(await receiveNotification(deps, claim)).toMatchObject({ status: 202, body: { duplicate: true } });
    await background.drain();
    expect(emu.emulator.requests('ziina').length).toBe(requestsBefore);
    expect((await rows()).map((n) => [n.event_id, n.outcome])).toEqual([
      [`${key.id}:completed`, 'synced'],
      [`${key.id}:completed`, 'synced'],
      [`${key.id}:completed`, 'duplicate'],
    ]);
  });

  it('unsigned (Stan): a status word repeating (pending -> holding -> pending) is re-fetched every time', async () => {
    const native = emu.emulator.createRefund('stan', { status: 'payment_pending' });
    const id = getProvider('stan').emulator.idOf(native);
    const key: RefundKey = { provider: 'stan', account: 'default', id };
    for (const status of ['payment_pending', 'payment_holding', 'payment_pending']) {
      const current = emu.emulator.setStatus('stan', id, status) ?? native;
      expect(await receiveNotification(deps, notificationFor('stan', current))).toMatchObject({ status: 200, body: { duplicate: false } });
      await background.drain();
    }
    expect((await rows()).map((n) => [n.event_id, n.outcome])).toEqual([
      [null, 'synced'],
      [null, 'synced'],
      [null, 'synced'],
    ]);
    expect((await getHistory(eng.store.db, key)).map((h) => [h.kind, h.providerStatus])).toEqual([
      ['tracked', 'payment_pending'],
      ['change', 'payment_holding'],
      ['change', 'payment_pending'],
    ]);
  });

  it('caps the stored body of a signed notification at 64 KiB and says so', async () => {
    // A Gr4vy event carries the whole refund; a long reason makes it bigger than what is kept.
    const native = emu.emulator.createRefund('gr4vy', { status: 'processing', reason: 'é'.repeat(50_000) });
    const { rawBody, headers } = notificationFor('gr4vy', native);
    expect(rawBody.length).toBeGreaterThan(MAX_STORED_BODY_BYTES);
    expect((await receiveNotification(deps, { provider: 'gr4vy', rawBody, headers })).status).toBe(202);
    await background.drain();
    const [row] = await rows();
    expect(Buffer.byteLength(row!.body, 'utf8')).toBeLessThanOrEqual(MAX_STORED_BODY_BYTES);
    expect(row!.body.startsWith(rawBody.subarray(0, 1000).toString('utf8').slice(0, 500))).toBe(true);
    expect(row!.body).toMatch(new RegExp(`\\[truncated by RefundHub: ${rawBody.length} bytes received`));
    expect(row!.body).not.toContain('\uFFFD');
    expect(row!.outcome).toBe('synced');
  });
});
