import { describe, expect, it } from 'vitest';
import { validateSchema } from '../../../test/support/openapi.js';
import { RefundHubError } from '../../errors.js';
import { hmacSha256Hex } from '../../signing/hmac.js';
import type { NotificationInput, IgnoredNotification, ParsedNotification } from '../types.js';
import { gr4vyEmulator } from './emulator.js';
import { gr4vy, type Gr4vySettings } from './index.js';

const settings: Gr4vySettings = gr4vy.config.resolve({ ...gr4vy.demoSettings(), baseUrl: 'http://127.0.0.1', merchantAccountId: 'merchant-7' });
const NOW = Date.UTC(2026, 2, 3, 4, 5, 6);

function outgoing(status = 'succeeded') {
  const refund = gr4vyEmulator.withStatus(gr4vyEmulator.create({ status: 'processing' }, NOW - 60_000), status, NOW);
  const n = gr4vyEmulator.notification(refund, settings, NOW)!;
  return { refund, ...n };
}

function parse(over: Partial<NotificationInput<Gr4vySettings>> & { body: string; headers: Record<string, string | undefined> }) {
  return gr4vy.notifications.parse({ rawBody: Buffer.from(over.body), headers: over.headers, settings: over.settings ?? settings, now: over.now ?? NOW, toleranceSeconds: over.toleranceSeconds }) as ParsedNotification & Partial<IgnoredNotification>;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RefundHubError);
    return (e as RefundHubError).code;
  }
  return 'accepted';
}

const sign = (secret: string, ts: string, body: string) => hmacSha256Hex(secret, ts, '.', body);

describe('gr4vy notifications', () => {
  it("verifies the emulator's notification and extracts the refund", () => {
    const { refund, headers, body } = outgoing();
    expect(gr4vy.notifications.signed).toBe(true);
    const parsed = parse({ body, headers });
    expect(parsed).toEqual({ refundId: refund.id, eventId: headers['x-gr4vy-webhook-id'], eventType: 'refund.succeeded', claimedStatus: 'succeeded' });
  });

  it('sends the native event body with the Refund as target', () => {
    const { refund, body, headers } = outgoing('processing');
    const event = JSON.parse(body);
    expect(event).toMatchObject({ type: 'event', name: 'refund.pending', merchant_account_id: 'merchant-7', gr4vy_id: 'demo', environment: 'sandbox', target: refund });
    expect(event.created_at).toBe('2026-03-03T04:05:06.000+00:00');
    expect(headers['x-gr4vy-webhook-timestamp']).toBe(String(NOW / 1000));
    expect(validateSchema('gr4vy', '/components/schemas/Refund', event.target).valid).toBe(true);
  });

  it.each([
    ['processing', 'refund.pending'],
    ['succeeded', 'refund.succeeded'],
    ['failed', 'refund.failed'],
    ['declined', 'refund.declined'],
    ['voided', 'refund.voided'],
  ])('names a %s refund event %s', (status, name) => {
    const { body, headers } = outgoing(status);
    expect(JSON.parse(body).name).toBe(name);
    expect(parse({ body, headers }).eventType).toBe(name);
  });

  it('accepts any one of several listed signatures (secret rotation)', () => {
    const { body, headers } = outgoing();
    const ts = headers['x-gr4vy-webhook-timestamp']!;
    const list = `${sign('old-secret', ts, body)}, ${headers['x-gr4vy-webhook-signatures']}`;
    expect(parse({ body, headers: { ...headers, 'x-gr4vy-webhook-signatures': list } }).refundId).toBeTruthy();
    expect(code(() => parse({ body, headers: { ...headers, 'x-gr4vy-webhook-signatures': `${sign('old-secret', ts, body)},${sign('other', ts, body)}` } }))).toBe('invalid_signature');
  });

  it('rejects a tampered body, a wrong secret and a changed timestamp', () => {
    const { body, headers } = outgoing();
    expect(code(() => parse({ body: body.replace('"succeeded"', '"voided"'), headers }))).toBe('invalid_signature');
    expect(code(() => parse({ body, headers, settings: { ...settings, webhookSecret: 'another-secret' } }))).toBe('invalid_signature');
    expect(code(() => parse({ body, headers: { ...headers, 'x-gr4vy-webhook-timestamp': String(NOW / 1000 + 1) } }))).toBe('invalid_signature');
  });

  it('rejects missing headers', () => {
    const { body, headers } = outgoing();
    expect(code(() => parse({ body, headers: { ...headers, 'x-gr4vy-webhook-signatures': undefined } }))).toBe('invalid_signature');
    expect(code(() => parse({ body, headers: { ...headers, 'x-gr4vy-webhook-timestamp': undefined } }))).toBe('invalid_signature');
    expect(code(() => parse({ body, headers: {} }))).toBe('invalid_signature');
  });

  it('rejects a stale or future timestamp outside the tolerance', () => {
    const { body, headers } = outgoing();
    expect(code(() => parse({ body, headers, now: NOW + 301_000 }))).toBe('invalid_signature');
    expect(code(() => parse({ body, headers, now: NOW - 301_000 }))).toBe('invalid_signature');
    expect(code(() => parse({ body, headers, now: NOW + 299_000 }))).toBe('accepted');
    expect(code(() => parse({ body, headers, now: NOW + 31_000, toleranceSeconds: 30 }))).toBe('invalid_signature');
  });

  it('rejects everything when no webhook secret is configured', () => {
    const { body, headers } = outgoing();
    const noSecret = { ...settings, webhookSecret: undefined };
    let message = '';
    try {
      parse({ body, headers, settings: noSecret });
    } catch (e) {
      message = (e as Error).message;
      expect((e as RefundHubError).code).toBe('invalid_signature');
    }
    expect(message).toContain('not configured');
    // And the emulator sends no signature then.
    const n = gr4vyEmulator.notification(JSON.parse(body).target, noSecret, NOW)!;
    expect(n.headers['x-gr4vy-webhook-signatures']).toBeUndefined();
  });

  it('answers invalid_input for a correctly signed body that is not a Gr4vy event', () => {
    const ts = String(NOW / 1000);
    const signed = (body: string) => ({ body, headers: { 'x-gr4vy-webhook-timestamp': ts, 'x-gr4vy-webhook-signatures': sign(settings.webhookSecret!, ts, body) } });
    expect(code(() => parse(signed('not json {')))).toBe('invalid_input');
    expect(code(() => parse(signed('[1,2]')))).toBe('invalid_input');
    expect(code(() => parse(signed(JSON.stringify({ type: 'event', id: 'e1', target: { id: '6a1d4e46-14ed-4fe1-a45f-eff4e025d211' } }))))).toBe('invalid_input');
    expect(code(() => parse(signed(JSON.stringify({ type: 'event', id: 'e1', name: 'refund.succeeded', target: { id: 'nope' } }))))).toBe('invalid_input');
  });

  it('a correctly signed event that is not about a refund (transaction.captured) is ignored, not refused', () => {
    const ts = String(NOW / 1000);
    const body = JSON.stringify({ type: 'event', id: 'e1', name: 'transaction.captured', target: { id: '6a1d4e46-14ed-4fe1-a45f-eff4e025d211', type: 'transaction' } });
    const headers = { 'x-gr4vy-webhook-timestamp': ts, 'x-gr4vy-webhook-signatures': sign(settings.webhookSecret!, ts, body), 'x-gr4vy-webhook-id': 'wh-1' };
    expect(parse({ body, headers })).toEqual({ ignored: true, reason: 'event "transaction.captured" is not about a refund', eventId: 'wh-1', eventType: 'transaction.captured' });
    // The signature is still checked first.
    expect(code(() => parse({ body, headers: { ...headers, 'x-gr4vy-webhook-signatures': sign('another-secret', ts, body) } }))).toBe('invalid_signature');
  });

  it('falls back to the body id as event id without X-Gr4vy-Webhook-ID', () => {
    const { body, headers } = outgoing();
    expect(parse({ body, headers: { ...headers, 'x-gr4vy-webhook-id': undefined } }).eventId).toBe(JSON.parse(body).id);
  });
});
