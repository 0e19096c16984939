import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { pollUntil } from '../../../test/support/wait.js';
import { RefundHubError } from '../../errors.js';
import { onekeyConfig, type OnekeySettings } from './config.js';
import { onekeyEmulator } from './emulator.js';
import { onekeyNotifications } from './notifications.js';
import type { IgnoredNotification, ParsedNotification } from '../types.js';

const settings: OnekeySettings = onekeyConfig.resolve({ login: 'demo-onekey-login', secretKey: 'demo-onekey-secret' });

function parse(body: string | Buffer, headers: Record<string, string | undefined> = {}) {
  return onekeyNotifications.parse({ rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body), headers, settings, now: Date.now() }) as ParsedNotification & Partial<IgnoredNotification>;
}

function expectInvalid(body: string): void {
  try {
    parse(body);
  } catch (e) {
    expect(e).toBeInstanceOf(RefundHubError);
    expect((e as RefundHubError).code).toBe('invalid_input');
    return;
  }
  throw new Error(`accepted ${body}`);
}

describe('onekey notifications', () => {
  it('are unsigned', () => {
    expect(onekeyNotifications.signed).toBe(false);
  });

  it("verify the emulator's own notification, sent with no signature headers", () => {
    const refund = onekeyEmulator.create({ refund_id: 168284 }, Date.now());
    const n = onekeyEmulator.notification(refund, settings, Date.now())!;
    expect(n.body).toBe('{"refund_id": 168284}');
    expect(n.headers).toEqual({});
    expect(parse(n.body, n.headers)).toEqual({ refundId: '168284', eventId: null, eventType: null });
  });

  it('accept a numeric string id and surrounding whitespace', () => {
    expect(parse('{"refund_id":"80000001"}').refundId).toBe('80000001');
    expect(parse(' \n{ "refund_id" : 42 }\n').refundId).toBe('42');
  });

  it('accepts only the documented body: extra fields are refused (strict schema)', () => {
    expectInvalid('{"refund_id": 7, "status": "COMPLETED"}');
    expectInvalid(JSON.stringify({ refund_id: 7, padding: 'x'.repeat(1000) }));
  });

  it('answers exactly 200 (OneKey retries anything else) and takes tiny bodies only', () => {
    expect(onekeyNotifications.ackStatus).toBe(200);
    expect(onekeyNotifications.maxBodyBytes).toBeLessThanOrEqual(2048);
  });

  it('reject anything without a positive integer refund_id', () => {
    for (const body of [
      '',
      'refund_id=1',
      '{"refund_id": 1',
      'null',
      '42',
      '[{"refund_id": 1}]',
      '{}',
      '{"id": 1}',
      '{"refund_id": 0}',
      '{"refund_id": -5}',
      '{"refund_id": 1.5}',
      '{"refund_id": 1e300}',
      '{"refund_id": "abc"}',
      '{"refund_id": "1; DROP"}',
      '{"refund_id": null}',
      '{"refund_id": true}',
      '{"refund_id": {"id": 1}}',
    ]) {
      expectInvalid(body);
    }
  });
});

describe('onekey emulator delivers notifications on lifecycle changes', () => {
  let receiver: Server;
  let em: RunningEmulator;
  const received: Array<{ headers: Record<string, string | string[] | undefined>; body: Buffer; url: string | undefined }> = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks), url: req.url });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    em = await startEmulator({ notifyUrl: `http://127.0.0.1:${port}/v1/notifications` });
  });
  afterAll(async () => {
    await em?.close();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('POSTs {"refund_id": n} to <notifyUrl>/onekey, which the NotificationSpec accepts', async () => {
    const refund = em.emulator.createRefund('onekey', {}, [{ status: 'INCORRECT_DETAILS', afterMs: 5 }, { status: 'CANCELLED', afterMs: 30 }]);
    await pollUntil(() => received.length >= 2, { what: 'two onekey notifications' });
    for (const r of received) {
      expect(r.url).toBe('/v1/notifications/onekey');
      expect(r.headers.authorization).toBeUndefined();
      const parsed = onekeyNotifications.parse({ rawBody: r.body, headers: r.headers as Record<string, string | undefined>, settings, now: Date.now() });
      expect((parsed as ParsedNotification).refundId).toBe(String(refund.refund_id));
    }
    expect(em.emulator.getRefund('onekey', String(refund.refund_id))!.status).toBe('CANCELLED');
  });
});
