import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../../test/support/emulator.js';
import { pollUntil } from '../../../test/support/wait.js';
import { RefundHubError } from '../../errors.js';
import { stanConfig, type StanSettings } from './config.js';
import { stanEmulator } from './emulator.js';
import { stanNotifications } from './notifications.js';
import type { IgnoredNotification, ParsedNotification } from '../types.js';

const settings: StanSettings = stanConfig.resolve({ clientId: 'demo-stan-client', clientSecret: 'demo-stan-secret' });

function parse(body: string | Buffer, headers: Record<string, string | undefined> = {}) {
  return stanNotifications.parse({ rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body), headers, settings, now: Date.now() }) as ParsedNotification & Partial<IgnoredNotification>;
}

function expectInvalidInput(body: string) {
  try {
    parse(body);
  } catch (e) {
    expect(e).toBeInstanceOf(RefundHubError);
    expect((e as RefundHubError).code, body).toBe('invalid_input');
    return;
  }
  throw new Error(`accepted ${body}`);
}

describe('stan notifications', () => {
  it('are declared unsigned: Stan documents no signature', () => {
    expect(stanNotifications.signed).toBe(false);
  });

  it("the emulator's notification parses to the refund id and a status-derived event id", () => {
    const refund = stanEmulator.withStatus(stanEmulator.create({}, 0), 'payment_success', 1);
    const n = stanEmulator.notification(refund, settings, 1)!;
    expect(n.headers).toEqual({});
    expect(JSON.parse(n.body)).toEqual({ refund_id: refund.refund_id, status: 'payment_success' });
    // Unsigned: nothing in the body is used for de-duplication, so no event id.
    expect(parse(n.body, n.headers)).toEqual({ refundId: refund.refund_id, eventId: null, eventType: null });
  });

  it('lowercases the id, and has no event id without a status', () => {
    const id = '3FA85F64-5717-4562-B3FC-2C963F66AFA6';
    expect(parse(JSON.stringify({ refund_id: id }))).toEqual({ refundId: id.toLowerCase(), eventId: null, eventType: null });
    expect(parse(JSON.stringify({ refund_id: id, status: null })).eventId).toBeNull();
  });

  it('ignores signature-looking headers: there is nothing to verify, the refund is re-fetched', () => {
    const body = JSON.stringify({ refund_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6', status: 'payment_pending' });
    expect(parse(body, { 'x-hmac-signature': 'deadbeef', signature: 'Zm9v' }).refundId).toBe('3fa85f64-5717-4562-b3fc-2c963f66afa6');
  });

  it('rejects anything that is not a Stan refund notification as invalid_input', () => {
    for (const body of [
      '',
      'not json',
      '[]',
      'null',
      '"3fa85f64-5717-4562-b3fc-2c963f66afa6"',
      '{}',
      '{"refund_id": 12345}',
      '{"refund_id": "rfd_123"}',
      '{"refund_id": "../3fa85f64-5717-4562-b3fc-2c963f66afa6"}',
      '{"payment_id": "not-a-uuid"}',
      '{"refund_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "status": 3}',
      // Strict: only refund_id, payment_id and a bounded status word.
      '{"refund_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "other": 1}',
      `{"refund_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "status": "${'a'.repeat(65)}"}`,
      JSON.stringify({ refund_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6', padding: 'x'.repeat(900_000) }),
    ]) {
      expectInvalidInput(body);
    }
  });

  it('the refusal names the field that is wrong: payment_id in a payment notification, refund_id in a refund one', () => {
    expect(() => parse('{"payment_id":"p1"}')).toThrow(/^stan: payment_id "p1" is not a UUID$/);
    expect(() => parse('{"refund_id":"r1","payment_id":"3fa85f64-5717-4562-b3fc-2c963f66afa6"}')).toThrow(/^stan: refund_id "r1" is not a UUID$/);
  });

  it('a payment notification (payment_id, no refund_id) is acknowledged and ignored', () => {
    expect(parse('{"payment_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "status": "payment_success"}')).toEqual({
      ignored: true,
      reason: 'a payment notification, not about a refund',
      eventId: null,
      eventType: null,
    });
    expect(stanNotifications.ackStatus).toBe(200);
  });

  it('the emulator posts them to <notifyUrl>/stan when a lifecycle step changes the status', async () => {
    const received: Array<{ url: string; headers: IncomingMessage['headers']; body: Buffer }> = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    const em = await startEmulator({ notifyUrl: `http://127.0.0.1:${port}/hooks` });
    try {
      const stored = em.emulator.createRefund('stan', { status: 'payment_holding' }, [
        { status: 'payment_pending', afterMs: 10 },
        { status: 'payment_failure', afterMs: 40 },
      ]);
      await pollUntil(() => received.length >= 2, { timeoutMs: 5000, what: 'two stan notifications' });
      await em.emulator.drainNotifications();
      expect(received.map((r) => r.url)).toEqual(['/hooks/stan', '/hooks/stan']);
      const parsed = received.map((r) =>
        stanNotifications.parse({ rawBody: r.body, headers: r.headers as Record<string, string | undefined>, settings, now: Date.now() }),
      );
      expect(parsed).toEqual([
        { refundId: stored.refund_id, eventId: null, eventType: null },
        { refundId: stored.refund_id, eventId: null, eventType: null },
      ]);
      expect(received[0]!.headers['content-type']).toBe('application/json');
    } finally {
      await em.close();
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });
});
