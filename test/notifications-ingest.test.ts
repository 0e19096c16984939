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
import { hmacSha256Base64, hmacSha256Hex } from '../src/signing/hmac.js';
import { startHub, tempDir, type RunningHub } from './support/hub.js';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';

/**
 * Inbound notifications end to end: an emulator lifecycle step makes the emulator POST the
 * provider's native, signed notification over HTTP to a small receiver that hands the raw bytes to
 * `receiveNotification`; the refund is re-fetched through the spine and a history row appears.
 */

// `ack`: what each provider counts as delivered (docs/providers.md): OneKey retries anything but
// exactly 200; Stan documents nothing, so it gets 200 too; the others take any 2xx.
const STEPS: Record<ProviderId, { start: string; final: string; finalStatus: string; ack: number }> = {
  ziina: { start: 'pending', final: 'completed', finalStatus: 'succeeded', ack: 202 },
  tazapay: { start: 'processing', final: 'succeeded', finalStatus: 'succeeded', ack: 202 },
  gr4vy: { start: 'processing', final: 'failed', finalStatus: 'failed', ack: 202 },
  stan: { start: 'payment_pending', final: 'payment_success', finalStatus: 'succeeded', ack: 200 },
  onekey: { start: 'PENDING', final: 'COMPLETED', finalStatus: 'succeeded', ack: 200 },
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
    expect(received).toEqual([{ provider, status: step.ack }]);
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
    expect((await receiveNotification(deps, input)).status).toBe(step.ack);
    await background.drain();
    const again = await receiveNotification(deps, input);
    expect(again.status).toBe(step.ack);
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

  it('unknown provider -> 400 invalid_input and unknown account -> 400 not_configured (as on the refunds routes), a body that is not a notification -> 400', async () => {
    for (const name of ['paypal', '__proto__', 'constructor']) {
      expect(await receiveNotification(deps, { provider: name, rawBody: Buffer.from('{}'), headers: {} })).toMatchObject({ status: 400, body: { error: { code: 'invalid_input' } } });
    }
    expect(await receiveNotification(deps, { provider: 'stan', account: 'nobody', rawBody: Buffer.from('{}'), headers: {} })).toMatchObject({ status: 400, body: { error: { code: 'not_configured' } } });
    expect(await receiveNotification(deps, { provider: 'stan', rawBody: Buffer.from('not json'), headers: {} })).toMatchObject({ status: 400, body: { error: { code: 'invalid_input' } } });
    expect((await receiveNotification(deps, { provider: 'onekey', rawBody: Buffer.from('{"refund_id": "x"}'), headers: {} })).status).toBe(400);
    expect(await notificationRows()).toEqual([]);
  });

  it('a notification for a refund the provider does not know is recorded as failed, nothing tracked', async () => {
    const r = await receiveNotification(deps, { provider: 'onekey', rawBody: Buffer.from('{"refund_id": 99999999}'), headers: {} });
    expect(r.status).toBe(200);
    await background.drain();
    const rows = await notificationRows('onekey');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'failed' });
    expect(rows[0]!.error).toMatch(/^not_found/);
    expect(await eng.store.db.selectFrom('refunds').selectAll().execute()).toEqual([]);
  });
});

/** A natively signed event that is not about a refund, signed with the emulator's (demo) secret the way the provider signs. */
function signedNonRefundEvent(provider: 'ziina' | 'tazapay' | 'gr4vy', secret: string): { body: string; headers: Record<string, string> } {
  if (provider === 'ziina') {
    const body = JSON.stringify({ event: 'payment_intent.status.updated', data: { id: 'pi_1', status: 'completed', amount: 1000 } });
    return { body, headers: { 'x-hmac-signature': hmacSha256Hex(secret, body) } };
  }
  if (provider === 'tazapay') {
    const id = 'evt_payin_1';
    const createdAt = '2026-01-02T03:04:05.678901234Z';
    const body = JSON.stringify({ type: 'payin.succeeded', id, object: 'event', created_at: createdAt, data: { id: 'chk_1', status: 'succeeded' } });
    return { body, headers: { signature: hmacSha256Base64(secret, id, body, createdAt) } };
  }
  const ts = String(Math.floor(Date.now() / 1000));
  const body = JSON.stringify({ type: 'event', id: 'e-1', name: 'transaction.captured', target: { type: 'transaction', id: '6a1d4e46-14ed-4fe1-a45f-eff4e025d211', status: 'capture_succeeded' } });
  return { body, headers: { 'x-gr4vy-webhook-timestamp': ts, 'x-gr4vy-webhook-signatures': hmacSha256Hex(secret, ts, '.', body), 'x-gr4vy-webhook-id': 'wh-1' } };
}

describe('notifications that are not about a refund', () => {
  it.each(['ziina', 'tazapay', 'gr4vy'] as const)('%s: a signed non-refund event gets 202 ignored, a small ignored row, no provider call; a forged one 401 and nothing', async (provider) => {
    // The emulator's own notification is signed with this secret, so it is the provider's.
    const secret = String(emu.settings[provider].webhookSecret);
    const n = signedNonRefundEvent(provider, secret);
    const requestsBefore = emu.emulator.requests(provider).length;

    const forged = signedNonRefundEvent(provider, 'not-the-secret');
    expect(await receiveNotification(deps, { provider, rawBody: Buffer.from(forged.body), headers: forged.headers })).toMatchObject({ status: 401, body: { error: { code: 'invalid_signature' } } });
    expect(await notificationRows()).toEqual([]);

    const r = await receiveNotification(deps, { provider, rawBody: Buffer.from(n.body), headers: n.headers });
    expect(r).toEqual({ status: 202, body: { received: true, ignored: true, reason: expect.stringMatching(/is not about a refund$/) } });
    expect(background.pending).toBe(0);
    expect(emu.emulator.requests(provider).length).toBe(requestsBefore);
    const rows = await notificationRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ provider, refund_id: '', outcome: 'ignored' });
    expect(rows[0]!.event_type).toMatch(/^(payment_intent\.status\.updated|payin\.succeeded|transaction\.captured)$/);
    expect(Buffer.byteLength(rows[0]!.body)).toBeLessThanOrEqual(2048);
    expect(await eng.store.db.selectFrom('refunds').selectAll().execute()).toEqual([]);
  });

  it('stan: a well-formed payment notification gets 200 ignored and is not stored (unsigned: anyone can send it)', async () => {
    const r = await receiveNotification(deps, { provider: 'stan', rawBody: Buffer.from('{"payment_id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","status":"payment_success"}'), headers: {} });
    expect(r).toEqual({ status: 200, body: { received: true, ignored: true, reason: 'a payment notification, not about a refund' } });
    expect(background.pending).toBe(0);
    expect(await notificationRows()).toEqual([]);
  });
});

describe('unsigned notifications cost bounded work and storage', () => {
  it('150 posts of 900 KB bodies: 413 each, no row, no provider call (before: 12.8 MB and 150 calls)', async () => {
    const id = idOf('onekey', emu.emulator.createRefund('onekey', { status: 'PENDING' }));
    const rawBody = Buffer.from(JSON.stringify({ refund_id: Number(id), padding: 'x'.repeat(900_000) }));
    for (let i = 0; i < 150; i++) {
      expect(await receiveNotification(deps, { provider: 'onekey', rawBody, headers: {} })).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    }
    expect(background.pending).toBe(0);
    expect(await notificationRows()).toEqual([]);
    expect(emu.emulator.requests('onekey')).toEqual([]);
  });

  it('bodies that are not the documented shape are refused by a strict schema; accepted ones store under 2 KiB', async () => {
    const id = idOf('onekey', emu.emulator.createRefund('onekey', { status: 'PENDING' }));
    expect(await receiveNotification(deps, { provider: 'onekey', rawBody: Buffer.from(JSON.stringify({ refund_id: Number(id), note: 'x'.repeat(500) })), headers: {} })).toMatchObject({ status: 400, body: { error: { code: 'invalid_input' } } });
    expect(await notificationRows()).toEqual([]);
    expect((await receiveNotification(deps, { provider: 'onekey', rawBody: Buffer.from(`{"refund_id": ${id}}`), headers: {} })).status).toBe(200);
    await background.drain();
    const rows = await notificationRows('onekey');
    expect(rows.map((r) => [r.refund_id, r.outcome])).toEqual([[id, 'synced']]);
    expect(Buffer.byteLength(rows[0]!.body)).toBeLessThanOrEqual(2048);
  });
});

describe('the HTTP route: per-provider body limits and ack statuses', () => {
  let hubEmu: RunningEmulator;
  let h: RunningHub;
  const dir = tempDir();
  beforeAll(async () => {
    hubEmu = await startEmulator();
    h = await startHub(hubEmu, join(dir.dir, 'hub.db'), { app: { notificationRateLimit: false } });
  });
  afterAll(async () => {
    await h.close();
    await hubEmu.close();
    dir.cleanup();
  });
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    request(`${h.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('OneKey gets exactly 200 and Stan 200; an oversize unsigned body is 413 before it is read, announced or chunked', async () => {
    const oneId = getProvider('onekey').emulator.idOf(hubEmu.emulator.createRefund('onekey', { status: 'PENDING' }));
    const ok = await post('/v1/notifications/onekey', `{"refund_id": ${oneId}}`);
    expect(ok.statusCode).toBe(200);
    expect(await ok.body.json()).toEqual({ received: true, duplicate: false });
    const big = Buffer.from(JSON.stringify({ refund_id: Number(oneId), padding: 'x'.repeat(900_000) }));
    const announced = await post('/v1/notifications/onekey', big);
    expect(announced.statusCode).toBe(413);
    expect(await announced.body.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    // No Content-Length: counted while it streams.
    const chunked = await post('/v1/notifications/stan', Readable.from([big.subarray(0, 1000), big.subarray(1000)]) as unknown as Buffer);
    expect(chunked.statusCode).toBe(413);
    await chunked.body.dump();
    // A signed provider takes a body that size would refuse for an unsigned one (it is refused for its signature instead).
    const signedBig = await post('/v1/notifications/gr4vy', Buffer.from(JSON.stringify({ padding: 'x'.repeat(10_000) })));
    expect(signedBig.statusCode).toBe(401);
    await signedBig.body.dump();
    await h.hub.drain();
    const rows = await h.hub.db.selectFrom('notifications').select(['provider', 'refund_id']).execute();
    expect(rows).toEqual([{ provider: 'onekey', refund_id: oneId }]);
  });

  it('unknown provider on the route is 400 invalid_input, like the refunds routes', async () => {
    const r = await post('/v1/notifications/paypal', '{}');
    expect(r.statusCode).toBe(400);
    expect(await r.body.json()).toMatchObject({ error: { code: 'invalid_input' } });
    const key = await h.key(['refunds:read']);
    const refunds = await request(`${h.url}/v1/refunds/paypal/x`, { headers: { authorization: `Bearer ${key}` } });
    expect(refunds.statusCode).toBe(400);
    expect(await refunds.body.json()).toMatchObject({ error: { code: 'invalid_input' } });
  });
});
