import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProviderId } from '../src/domain/refund.js';
import { PROVIDER_IDS } from '../src/domain/refund.js';
import { createBackgroundTracker, receiveNotification, type BackgroundTracker, type IngestDeps } from '../src/ingest/receive.js';
import { getProvider } from '../src/providers/registry.js';
import { getHistory, getTracked } from '../src/store/refunds.js';
import { syncRefund } from '../src/sync/sync-refund.js';
import { cleanupTempDatabases } from './support/db.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { createTestEngine, type TestEngine } from './support/engine.js';
import { pollUntil } from './support/wait.js';

/**
 * Inbound notifications end to end: an emulator lifecycle step makes the emulator POST the
 * provider's native, signed notification over HTTP to a small receiver that hands the raw bytes to
 * `receiveNotification`; the refund is re-fetched through the spine and a history row appears.
 */

const STEPS: Record<ProviderId, { start: string; final: string; finalStatus: string }> = {
  ziina: { start: 'pending', final: 'completed', finalStatus: 'succeeded' },
  tazapay: { start: 'processing', final: 'succeeded', finalStatus: 'succeeded' },
  gr4vy: { start: 'processing', final: 'failed', finalStatus: 'failed' },
  stan: { start: 'payment_pending', final: 'payment_success', finalStatus: 'succeeded' },
  onekey: { start: 'PENDING', final: 'COMPLETED', finalStatus: 'succeeded' },
};

let emu: RunningEmulator;
let eng: TestEngine;
let background: BackgroundTracker;
let deps: IngestDeps;
let receiver: Server;
const received: Array<{ provider: string; status: number }> = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [, provider = '', account] = (req.url ?? '').split('/').filter(Boolean);
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      receiveNotification(deps, { provider, account, rawBody: Buffer.concat(chunks), headers }).then(
        (r) => {
          received.push({ provider, status: r.status });
          res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body));
        },
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  emu = await startEmulator({ notifyUrl: `http://127.0.0.1:${port}/notifications` });
});
afterAll(async () => {
  await emu.close();
  await new Promise((r) => receiver.close(r));
  cleanupTempDatabases();
});
beforeEach(async () => {
  emu.emulator.reset();
  received.length = 0;
  eng = await createTestEngine(emu.config());
  background = createBackgroundTracker();
  deps = { ...eng.deps, config: emu.config(), background: background.track };
});
afterEach(async () => {
  await emu.emulator.drainNotifications();
  await background.drain();
  await eng.close();
});

const idOf = (provider: ProviderId, native: Record<string, unknown>) => getProvider(provider).emulator.idOf(native);

async function notificationRows(provider?: ProviderId) {
  let q = eng.store.db.selectFrom('notifications').selectAll().orderBy('id');
  if (provider) q = q.where('provider', '=', provider);
  return q.execute();
}

describe.each(PROVIDER_IDS)('%s notifications', (provider) => {
  const step = STEPS[provider];

  it('a lifecycle step -> signed native notification -> re-fetch -> history row and event', async () => {
    const id = idOf(provider, emu.emulator.createRefund(provider, { status: step.start }));
    const key = { provider, account: 'default', id };
    await syncRefund(deps, { ...key, source: 'api', currency: provider === 'onekey' ? 'EUR' : undefined });

    emu.emulator.setStatus(provider, id, step.final);
    const history = await pollUntil(async () => {
      const h = await getHistory(eng.store.db, key);
      return h.find((e) => e.source === 'notification' && e.to === step.finalStatus) ? h : null;
    }, { what: `${provider} notification to be applied` });
    expect(received).toEqual([{ provider, status: 202 }]);
    expect(history.map((h) => [h.kind, h.from, h.to, h.source])).toEqual([
      ['tracked', null, 'pending', 'api'],
      ['change', 'pending', step.finalStatus, 'notification'],
    ]);
    await background.drain();
    const rows = await notificationRows(provider);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider, account: 'default', refund_id: id, outcome: 'synced' });
    const tracked = await getTracked(eng.store.db, key);
    expect(tracked?.status).toBe(step.finalStatus);
    const events = await eng.store.db.selectFrom('events').select(['type', 'sequence']).where('refund_id', '=', id).orderBy('sequence').execute();
    expect(events.map((e) => e.sequence)).toEqual([1, 2]);
  });

  it('a notification for a refund not yet tracked starts tracking it', async () => {
    const id = idOf(provider, emu.emulator.createRefund(provider, { status: step.start }));
    emu.emulator.setStatus(provider, id, step.final);
    const t = await pollUntil(() => getTracked(eng.store.db, { provider, account: 'default', id }), { what: `${provider} refund to be tracked` });
    expect(t.status).toBe(step.finalStatus);
    const history = await getHistory(eng.store.db, { provider, account: 'default', id });
    expect(history.map((h) => [h.kind, h.to, h.source])).toEqual([['tracked', step.finalStatus, 'notification']]);
  });

  it('a duplicate notification is recorded as such and changes nothing', async () => {
    const native = emu.emulator.createRefund(provider, { status: step.start });
    const id = idOf(provider, native);
    const n = getProvider(provider).emulator.notification(emu.emulator.getRefund(provider, id)!, getProvider(provider).config.resolve(emu.settings[provider]), Date.now());
    expect(n).not.toBeNull();
    const input = { provider, rawBody: Buffer.from(n!.body), headers: n!.headers };
    expect((await receiveNotification(deps, input)).status).toBe(202);
    await background.drain();
    const again = await receiveNotification(deps, input);
    expect(again.status).toBe(202);
    await background.drain();
    const rows = await notificationRows(provider);
    const history = await getHistory(eng.store.db, { provider, account: 'default', id });
    expect(history).toHaveLength(1);
    const events = await eng.store.db.selectFrom('events').select('id').where('refund_id', '=', id).execute();
    expect(events).toHaveLength(1);
    if (provider === 'ziina' || provider === 'gr4vy' || provider === 'tazapay') {
      // Signed, with the status in the body: the same event, already processed, claiming the
      // provider status we hold is marked a duplicate (kept for audit) and not re-fetched.
      expect(rows.map((r) => r.outcome)).toEqual(['synced', 'duplicate']);
      expect(again.body).toMatchObject({ duplicate: true });
    } else {
      // Stan and OneKey are unsigned: nothing in the body is trustworthy, so it is re-fetched
      // again, still harmless.
      expect(rows.map((r) => r.outcome)).toEqual(['synced', 'synced']);
      expect(again.body).toMatchObject({ duplicate: false });
    }
  });
});

describe('rejected notifications', () => {
  it.each(['ziina', 'tazapay', 'gr4vy'] as const)('%s: a bad signature gets 401 and changes nothing', async (provider) => {
    const id = idOf(provider, emu.emulator.createRefund(provider, { status: STEPS[provider].start }));
    await syncRefund(deps, { provider, account: 'default', id, source: 'api' });
    const native = emu.emulator.setStatus(provider, id, STEPS[provider].final)!;
    await emu.emulator.drainNotifications();
    await background.drain();
    const countBefore = (await notificationRows()).length;
    const historyBefore = await getHistory(eng.store.db, { provider, account: 'default', id });

    const n = getProvider(provider).emulator.notification(native, getProvider(provider).config.resolve(emu.settings[provider]), Date.now())!;
    // Same signature, one byte of the body changed.
    const tampered = Buffer.from(n.body.replace(/"}$|}$/, (m) => ` ${m}`));
    expect(tampered.equals(Buffer.from(n.body))).toBe(false);
    const bad = await receiveNotification(deps, { provider, rawBody: tampered, headers: n.headers });
    expect(bad).toMatchObject({ status: 401, body: { error: { code: 'invalid_signature' } } });
    // Signed with another secret.
    const other = getProvider(provider).config.resolve({ ...emu.settings[provider], webhookSecret: 'not-the-secret' });
    const forged = getProvider(provider).emulator.notification(native, other, Date.now())!;
    expect((await receiveNotification(deps, { provider, rawBody: Buffer.from(forged.body), headers: forged.headers })).status).toBe(401);
    // No signature at all.
    expect((await receiveNotification(deps, { provider, rawBody: Buffer.from(n.body), headers: {} })).status).toBe(401);

    expect(background.pending).toBe(0);
    expect((await notificationRows()).length).toBe(countBefore);
    expect(await getHistory(eng.store.db, { provider, account: 'default', id })).toEqual(historyBefore);
    // The untampered one is accepted.
    expect((await receiveNotification(deps, { provider, rawBody: Buffer.from(n.body), headers: n.headers })).status).toBe(202);
  });

  it('unknown provider or account -> 404, a body that is not a notification -> 400', async () => {
    expect((await receiveNotification(deps, { provider: 'paypal', rawBody: Buffer.from('{}'), headers: {} })).status).toBe(404);
    expect((await receiveNotification(deps, { provider: 'stan', account: 'nobody', rawBody: Buffer.from('{}'), headers: {} })).status).toBe(404);
    expect(await receiveNotification(deps, { provider: 'stan', rawBody: Buffer.from('not json'), headers: {} })).toMatchObject({ status: 400, body: { error: { code: 'invalid_input' } } });
    expect((await receiveNotification(deps, { provider: 'onekey', rawBody: Buffer.from('{"refund_id": "x"}'), headers: {} })).status).toBe(400);
    expect(await notificationRows()).toEqual([]);
  });

  it('a notification for a refund the provider does not know is recorded as failed, nothing tracked', async () => {
    const r = await receiveNotification(deps, { provider: 'onekey', rawBody: Buffer.from('{"refund_id": 99999999}'), headers: {} });
    expect(r.status).toBe(202);
    await background.drain();
    const rows = await notificationRows('onekey');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'failed' });
    expect(rows[0]!.error).toMatch(/^not_found/);
    expect(await eng.store.db.selectFrom('refunds').selectAll().execute()).toEqual([]);
  });
});
