import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { pollUntil } from '../../../test/support/wait.js';
import { RefundHubError } from '../../errors.js';
import { hmacSha256Hex } from '../../signing/hmac.js';
import type { ZiinaSettings } from './config.js';
import { ziina } from './index.js';
import type { IgnoredNotification, ParsedNotification } from '../types.js';

const settings: ZiinaSettings = { token: 'demo-ziina-token', baseUrl: 'http://127.0.0.1', webhookSecret: 'demo-ziina-webhook-secret' };
const now = Date.UTC(2026, 0, 1);

function parse(body: string | Buffer, headers: Record<string, string | undefined>, s: ZiinaSettings = settings) {
  return ziina.notifications.parse({ rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body), headers, settings: s, now }) as ParsedNotification & Partial<IgnoredNotification>;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RefundHubError);
    return (e as RefundHubError).code;
  }
  return 'no error';
}

function signed(body: string, secret = settings.webhookSecret!) {
  return { 'x-hmac-signature': hmacSha256Hex(secret, body) };
}

const refund = ziina.emulator.create({ id: '3f1c9a52-7b4e-4d2a-9c61-5e8f0a7b2d14', status: 'completed' }, now);

describe('ziina notifications', () => {
  it('verifies the emulator notification and extracts the refund', () => {
    const n = ziina.emulator.notification(refund, settings, now)!;
    expect(ziina.notifications.signed).toBe(true);
    expect(JSON.parse(n.body)).toEqual({ event: 'refund.status.updated', data: refund });
    expect(n.headers['x-hmac-signature']).toMatch(/^[0-9a-f]{64}$/);
    expect(parse(n.body, n.headers)).toEqual({ refundId: refund.id, eventId: `${refund.id}:completed`, eventType: 'refund.status.updated', claimedStatus: 'completed' });
  });

  it('accepts an upper-case hex signature (same bytes)', () => {
    const n = ziina.emulator.notification(refund, settings, now)!;
    expect(parse(n.body, { 'x-hmac-signature': n.headers['x-hmac-signature']!.toUpperCase() }).refundId).toBe(refund.id);
  });

  it('event ids dedupe redeliveries of one change and separate different statuses', () => {
    const a = parse(ziina.emulator.notification(refund, settings, now)!.body, signed(ziina.emulator.notification(refund, settings, now)!.body));
    const failed = ziina.emulator.withStatus(refund, 'failed', now);
    const nf = ziina.emulator.notification(failed, settings, now + 1000)!;
    const b = parse(nf.body, nf.headers);
    expect(b.refundId).toBe(a.refundId);
    expect(b.eventId).not.toBe(a.eventId);
    expect(b.eventId).toBe(`${refund.id}:failed`);
  });

  it('rejects a tampered body', () => {
    const n = ziina.emulator.notification(refund, settings, now)!;
    expect(code(() => parse(n.body.replace('completed', 'failed'), n.headers))).toBe('invalid_signature');
  });

  it('rejects a signature made with another secret', () => {
    const n = ziina.emulator.notification(refund, { ...settings, webhookSecret: 'someone-else' }, now)!;
    expect(code(() => parse(n.body, n.headers))).toBe('invalid_signature');
  });

  it('rejects a missing, empty or non-hex signature', () => {
    const n = ziina.emulator.notification(refund, settings, now)!;
    expect(code(() => parse(n.body, {}))).toBe('invalid_signature');
    expect(code(() => parse(n.body, { 'x-hmac-signature': '' }))).toBe('invalid_signature');
    expect(code(() => parse(n.body, { 'x-hmac-signature': 'zz'.repeat(32) }))).toBe('invalid_signature');
    expect(code(() => parse(n.body, { 'x-hmac-signature': n.headers['x-hmac-signature']!.slice(0, 62) }))).toBe('invalid_signature');
  });

  it('refuses every notification when no secret is configured, without leaking anything', () => {
    const unsignedSettings: ZiinaSettings = { token: 't', baseUrl: 'http://127.0.0.1' };
    const n = ziina.emulator.notification(refund, unsignedSettings, now)!;
    expect(n.headers['x-hmac-signature']).toBeUndefined();
    try {
      parse(n.body, n.headers, unsignedSettings);
      expect.unreachable();
    } catch (e) {
      expect((e as RefundHubError).code).toBe('invalid_signature');
      expect((e as Error).message).toMatch(/not configured/);
      expect((e as Error).message).toContain('REFUNDHUB_ZIINA_WEBHOOK_SECRET');
    }
  });

  it('never puts the secret in an error message', () => {
    const n = ziina.emulator.notification(refund, settings, now)!;
    try {
      parse(n.body + ' ', n.headers);
    } catch (e) {
      expect((e as Error).message).not.toContain(settings.webhookSecret);
    }
  });

  it('a correctly signed garbage body is invalid_input', () => {
    for (const body of ['not json', '[]', '{}', '{"event":"refund.status.updated"}', '{"event":"refund.status.updated","data":{"id":"x"}}', '{"event":"refund.status.updated","data":{"id":"a/b","status":"pending"}}']) {
      expect(code(() => parse(body, signed(body)))).toBe('invalid_input');
    }
  });

  it('a signed payment intent event is ignored (Ziina has one URL per account), a forged one refused', () => {
    const body = JSON.stringify({ event: 'payment_intent.status.updated', data: { id: 'pi-1', status: 'completed' } });
    expect(parse(body, signed(body))).toEqual({ ignored: true, reason: 'event "payment_intent.status.updated" is not about a refund', eventId: null, eventType: 'payment_intent.status.updated' });
    expect(code(() => parse(body, signed(body, 'someone-else')))).toBe('invalid_signature');
    expect(code(() => parse(body, {}))).toBe('invalid_signature');
  });

  it('declares 202 (any 2xx ends the retries) and the signed body limits', () => {
    expect(ziina.notifications.ackStatus).toBe(202);
    expect(ziina.notifications.maxBodyBytes).toBe(256 * 1024);
  });
});

describe('ziina notifications delivered by the emulator over HTTP', () => {
  let receiver: Server;
  let em: RunningEmulator;
  const received: Array<{ url: string; headers: Record<string, string | undefined>; body: Buffer }> = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ url: req.url ?? '', headers: req.headers as Record<string, string | undefined>, body: Buffer.concat(chunks) });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    em = await startEmulator({ notifyUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/notifications` });
  });
  afterAll(async () => {
    await em.close();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('a lifecycle step posts a signed refund.status.updated that verifies', async () => {
    const r = em.emulator.createRefund('ziina', {}, [{ status: 'completed', afterMs: 10 }]);
    const got = await pollUntil(() => received.find((x) => x.url === '/v1/notifications/ziina'), { timeoutMs: 5000, what: 'ziina notification' });
    const s = ziina.config.resolve(em.settings.ziina);
    expect(got.headers['content-type']).toContain('application/json');
    expect(ziina.notifications.parse({ rawBody: got.body, headers: got.headers, settings: s, now: Date.now() })).toEqual({
      refundId: r.id,
      eventId: `${r.id}:completed`,
      eventType: 'refund.status.updated',
      claimedStatus: 'completed',
    });
  });
});
