import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { pollUntil } from '../../../test/support/wait.js';
import { RefundHubError } from '../../errors.js';
import type { TazapaySettings } from './config.js';
import { tazapayEmulator } from './emulator.js';
import { tazapayNotifications } from './notifications.js';
import type { IgnoredNotification, ParsedNotification } from '../types.js';

const settings: TazapaySettings = { apiKey: 'k', apiSecret: 's', baseUrl: 'http://127.0.0.1', webhookSecret: 'demo-tazapay-webhook-secret' };
const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

function notificationFor(status: string, input: Record<string, unknown> = {}) {
  const refund = tazapayEmulator.withStatus(tazapayEmulator.create({ id: 'rfd_notify_test', ...input }, NOW), status, NOW);
  const n = tazapayEmulator.notification(refund, settings, NOW);
  if (!n) throw new Error('expected a notification');
  return n;
}

function parse(body: string | Buffer, headers: Record<string, string | undefined>, s: TazapaySettings = settings) {
  return tazapayNotifications.parse({ rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body), headers, settings: s, now: NOW }) as ParsedNotification & Partial<IgnoredNotification>;
}

function rejection(fn: () => unknown): RefundHubError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RefundHubError);
    return e as RefundHubError;
  }
  throw new Error('expected a rejection');
}

describe('tazapay notifications', () => {
  it('emits the native event shape with an RFC3339Nano created_at', () => {
    const n = notificationFor('succeeded');
    const event = JSON.parse(n.body);
    expect(event).toMatchObject({ type: 'refund.succeeded', object: 'event', data: { id: 'rfd_notify_test', status: 'succeeded' } });
    expect(event.id).toMatch(/^evt_[a-z0-9]{20}$/);
    expect(event.created_at).toMatch(/^2026-01-02T03:04:05\.678\d{6}Z$/);
  });

  it('signs Base64(HMAC-SHA256(secret, id + body + created_at)), checked independently', () => {
    const n = notificationFor('pending');
    const event = JSON.parse(n.body);
    const expected = createHmac('sha256', settings.webhookSecret!).update(`${event.id}${n.body}${event.created_at}`).digest('base64');
    expect(n.headers.signature).toBe(expected);
  });

  it.each([
    ['pending', 'refund.pending'],
    ['processing', 'refund.pending'],
    ['succeeded', 'refund.succeeded'],
    ['failed', 'refund.failed'],
    ['rejected', 'refund.failed'],
  ])('a %s refund verifies as %s', (status, type) => {
    const n = notificationFor(status);
    const parsed = parse(n.body, n.headers);
    expect(parsed).toEqual({ refundId: 'rfd_notify_test', eventId: JSON.parse(n.body).id, eventType: type, claimedStatus: status });
  });

  it('sends nothing for a status it has no event for', () => {
    const refund = tazapayEmulator.withStatus(tazapayEmulator.create({}, NOW), 'mystery', NOW);
    expect(tazapayEmulator.notification(refund, settings, NOW)).toBeNull();
  });

  it('rejects a tampered body', () => {
    const n = notificationFor('failed');
    const tampered = n.body.replace('"status":"failed"', '"status":"succeeded"');
    expect(tampered).not.toBe(n.body);
    expect(rejection(() => parse(tampered, n.headers)).code).toBe('invalid_signature');
  });

  it('rejects a signature that re-serialized created_at (only the raw 9-digit string verifies)', () => {
    const n = notificationFor('succeeded');
    const event = JSON.parse(n.body);
    const reserialized = new Date(event.created_at).toISOString();
    expect(reserialized).not.toBe(event.created_at);
    const wrong = createHmac('sha256', settings.webhookSecret!).update(`${event.id}${n.body}${reserialized}`).digest('base64');
    expect(rejection(() => parse(n.body, { signature: wrong })).code).toBe('invalid_signature');
  });

  it('rejects a wrong secret, a missing header and a malformed header', () => {
    const n = notificationFor('succeeded');
    expect(rejection(() => parse(n.body, n.headers, { ...settings, webhookSecret: 'other-secret' })).code).toBe('invalid_signature');
    expect(rejection(() => parse(n.body, {})).code).toBe('invalid_signature');
    expect(rejection(() => parse(n.body, { signature: '' })).code).toBe('invalid_signature');
    expect(rejection(() => parse(n.body, { signature: 'not base64 !!' })).code).toBe('invalid_signature');
    expect(rejection(() => parse(n.body, { signature: n.headers.signature!.slice(0, -4) })).code).toBe('invalid_signature');
  });

  it('rejects everything when no webhook secret is configured, saying so without leaking anything', () => {
    const n = notificationFor('succeeded');
    const e = rejection(() => parse(n.body, n.headers, { ...settings, webhookSecret: undefined }));
    expect(e.code).toBe('invalid_signature');
    expect(e.message).toMatch(/not configured/);
  });

  it('rejects garbage and non-refund bodies as invalid_input', () => {
    const sig = { signature: 'c2lnbmF0dXJl' };
    expect(rejection(() => parse('not json at all', sig)).code).toBe('invalid_input');
    expect(rejection(() => parse('[1,2]', sig)).code).toBe('invalid_input');
    expect(rejection(() => parse('{"type":"refund.succeeded"}', sig)).code).toBe('invalid_input');
    // Correctly signed, but not about a refund.
    const id = 'evt_abc';
    const createdAt = '2026-01-02T03:04:05.678901234Z';
    for (const body of [
      JSON.stringify({ type: 'refund.succeeded', id, object: 'event', created_at: createdAt, data: {} }),
      JSON.stringify({ type: 'refund.succeeded', id, object: 'event', created_at: createdAt, data: { id: 'rfd/../x' } }),
    ]) {
      const signature = createHmac('sha256', settings.webhookSecret!).update(id + body + createdAt).digest('base64');
      expect(rejection(() => parse(body, { signature })).code).toBe('invalid_input');
    }
  });

  it('a correctly signed event that is not about a refund (payin.succeeded) is ignored, not refused', () => {
    const id = 'evt_payin';
    const createdAt = '2026-01-02T03:04:05.678901234Z';
    const body = JSON.stringify({ type: 'payin.succeeded', id, object: 'event', created_at: createdAt, data: { id: 'chk_1' } });
    const signature = createHmac('sha256', settings.webhookSecret!).update(id + body + createdAt).digest('base64');
    expect(parse(body, { signature })).toEqual({ ignored: true, reason: 'event "payin.succeeded" is not about a refund', eventId: id, eventType: 'payin.succeeded' });
    // Signature first: the same body signed with another secret is still refused.
    const forged = createHmac('sha256', 'not-the-secret').update(id + body + createdAt).digest('base64');
    expect(rejection(() => parse(body, { signature: forged })).code).toBe('invalid_signature');
  });
});

describe('tazapay notifications from the running emulator', () => {
  let em: RunningEmulator;
  let receiver: Server;
  const received: Array<{ headers: Record<string, string | undefined>; body: Buffer; url: string }> = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers as Record<string, string | undefined>, body: Buffer.concat(chunks), url: req.url ?? '' });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', ok));
    const port = (receiver.address() as AddressInfo).port;
    em = await startEmulator({ notifyUrl: `http://127.0.0.1:${port}/v1/notifications` });
  });
  afterAll(async () => {
    await em.close();
    await new Promise<void>((ok) => receiver.close(() => ok()));
  });

  it('posts a signed event on each lifecycle change that verifies with the demo secret', async () => {
    const stored = em.emulator.createRefund('tazapay', {}, [
      { status: 'processing', afterMs: 10 },
      { status: 'succeeded', afterMs: 40 },
    ]);
    await pollUntil(() => received.length >= 2, { timeoutMs: 5000, what: 'two tazapay notifications' });
    const demoSettings = { ...settings, webhookSecret: String(em.settings.tazapay.webhookSecret) };
    const parsed = received.map((r) => {
      expect(r.url).toBe('/v1/notifications/tazapay');
      return parse(r.body, r.headers, demoSettings);
    });
    expect(parsed.map((p) => p.refundId)).toEqual([stored.id, stored.id]);
    // Deliveries run concurrently, so arrival order is not guaranteed.
    expect(parsed.map((p) => p.eventType).sort()).toEqual(['refund.pending', 'refund.succeeded']);
    expect(new Set(parsed.map((p) => p.eventId)).size).toBe(2);
  });
});
