import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { pollUntil } from '../../../test/support/wait.js';
import { createRefundClient, type RefundClient } from '../../client.js';
import { systemClock } from '../../clock.js';
import { RefundHubError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import { createTransport } from '../../transport/http.js';
import type { TransportOptions } from '../../transport/http.js';
import type { RawSettings } from '../types.js';
import { tazapay } from './index.js';
import { rejectionOf } from '../../../test/support/errors.js';

let em: RunningEmulator;
const clients: RefundClient[] = [];

beforeAll(async () => {
  em = await startEmulator();
});
afterAll(async () => {
  await em.close();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  em.emulator.reset();
});

function client(transport: TransportOptions = {}, overrides: RawSettings = {}): RefundClient {
  const c = createRefundClient({ config: em.config({ tazapay: overrides }), logger: silentLogger, transport: { baseDelayMs: 1, ...transport } });
  clients.push(c);
  return c;
}


describe('tazapay connector against the emulator', () => {
  it.each([
    ['pending', 'pending'],
    ['processing', 'pending'],
    ['requested', 'pending'],
    ['Initiated', 'pending'],
    ['succeeded', 'succeeded'],
    ['failed', 'failed'],
    ['rejected', 'failed'],
    ['cancelled', 'canceled'],
    ['canceled', 'canceled'],
    ['awaiting_bank', 'unknown'],
  ])('reads a %s refund as %s', async (native, unified) => {
    const stored = em.emulator.createRefund('tazapay', { status: native, amount: 1050, currency: 'AED', status_description: native === 'failed' ? 'Card closed' : '' });
    const r = await client().getRefund('tazapay', String(stored.id));
    expect(r.status).toBe(unified);
    expect(r.providerStatus).toBe(native);
    expect(r).toMatchObject({ provider: 'tazapay', account: 'default', id: stored.id, paymentId: stored.payin, amount: 1050, currency: 'AED', amountDecimal: '10.50' });
    expect(r.failure).toEqual(native === 'failed' ? { code: null, message: 'Card closed' } : null);
    expect(r.raw).toEqual(stored);
  });

  it('converts the two implied decimals and the zone-less date end to end', async () => {
    const stored = em.emulator.createRefund('tazapay', { amount: 1_000_000, currency: 'JPY', created_at: '2023-07-23 23:59:56' });
    const r = await client().getRefund('tazapay', String(stored.id));
    expect(r).toMatchObject({ amount: 10000, currency: 'JPY', amountDecimal: '10000', createdAt: '2023-07-23T23:59:56.000Z', updatedAt: null });
  });

  it('follows a lifecycle to its final status', async () => {
    const stored = em.emulator.createRefund('tazapay', { status: 'pending' }, [
      { status: 'processing', afterMs: 20 },
      { status: 'failed', afterMs: 60 },
    ]);
    const c = client();
    const r = await pollUntil(async () => {
      const x = await c.getRefund('tazapay', String(stored.id));
      return x.status === 'failed' ? x : undefined;
    }, { timeoutMs: 5000, what: 'tazapay refund to fail' });
    expect(r.failure?.message).toBeTruthy();
  });

  it('sends HTTP Basic auth, masked in the request log, to the seed path', async () => {
    const stored = em.emulator.createRefund('tazapay', {});
    await client().getRefund('tazapay', String(stored.id));
    const log = em.emulator.requests('tazapay');
    expect(log).toHaveLength(1);
    expect(log[0]!.method).toBe('GET');
    expect(log[0]!.path).toBe(`/tazapay/v3/refund/${String(stored.id)}`);
    expect(log[0]!.headers.authorization).toBe('Basic ****');
    expect(JSON.stringify(log)).not.toContain(Buffer.from('demo-tazapay-key:demo-tazapay-secret').toString('base64'));
  });

  it('maps 404 to not_found', async () => {
    const e = await rejectionOf(client().getRefund('tazapay', 'rfd_doesnotexist00000000'));
    expect(e.code).toBe('not_found');
    expect(e.httpStatus).toBe(404);
  });

  it.each([
    ['a wrong secret', { apiSecret: 'wrong-secret' }],
    ['a wrong key', { apiKey: 'wrong-key' }],
  ])('maps %s to authentication_failed without echoing it', async (_what, overrides) => {
    const stored = em.emulator.createRefund('tazapay', {});
    const e = await rejectionOf(client({}, overrides).getRefund('tazapay', String(stored.id)));
    expect(e.code).toBe('authentication_failed');
    expect(e.httpStatus).toBe(401);
    expect(e.message).not.toMatch(/wrong-|demo-tazapay/);
    expect(em.emulator.requests('tazapay')).toHaveLength(1); // 401 is not retried
  });

  it('reports missing credentials as not_configured before any request', async () => {
    const c = createRefundClient({ config: em.config({ tazapay: { apiKey: undefined } }), logger: silentLogger });
    clients.push(c);
    const e = await rejectionOf(c.getRefund('tazapay', 'rfd_abc'));
    expect(e.code).toBe('not_configured');
    expect(e.message).toContain('REFUNDHUB_TAZAPAY_API_KEY');
    expect(em.emulator.requests('tazapay')).toHaveLength(0);
  });

  it('retries 5xx and then succeeds', async () => {
    const stored = em.emulator.createRefund('tazapay', { status: 'succeeded' });
    em.emulator.injectFault('tazapay', { kind: 'error', status: 503, count: 2 });
    const r = await client().getRefund('tazapay', String(stored.id));
    expect(r.status).toBe('succeeded');
    expect(em.emulator.requests('tazapay')).toHaveLength(3);
  });

  it('gives up on persistent 5xx with provider_error', async () => {
    const stored = em.emulator.createRefund('tazapay', {});
    em.emulator.injectFault('tazapay', { kind: 'error', status: 500, count: 3 });
    const e = await rejectionOf(client().getRefund('tazapay', String(stored.id)));
    expect(e.code).toBe('provider_error');
    expect(e.httpStatus).toBe(500);
    expect(em.emulator.requests('tazapay')).toHaveLength(3);
  });

  it('honours Retry-After on 429', async () => {
    const stored = em.emulator.createRefund('tazapay', {});
    em.emulator.injectFault('tazapay', { kind: 'rate_limit', count: 1, retryAfterS: 1 });
    const started = Date.now();
    const r = await client().getRefund('tazapay', String(stored.id));
    expect(r.id).toBe(stored.id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const log = em.emulator.requests('tazapay');
    expect(log).toHaveLength(2);
    expect(Date.parse(log[1]!.time) - Date.parse(log[0]!.time)).toBeGreaterThanOrEqual(950);
  });

  it('surfaces persistent 429 as rate_limited with the wait', async () => {
    const stored = em.emulator.createRefund('tazapay', {});
    em.emulator.injectFault('tazapay', { kind: 'rate_limit', count: 3, retryAfterS: 0 });
    const e = await rejectionOf(client().getRefund('tazapay', String(stored.id)));
    expect(e.code).toBe('rate_limited');
    expect(e.retryAfterMs).toBe(0);
  });

  it('retries a connection reset', async () => {
    const stored = em.emulator.createRefund('tazapay', {});
    em.emulator.injectFault('tazapay', { kind: 'reset', count: 1 });
    const r = await client().getRefund('tazapay', String(stored.id));
    expect(r.id).toBe(stored.id);
    expect(em.emulator.requests('tazapay')).toHaveLength(2);
  });

  it('maps malformed JSON to invalid_response', async () => {
    const stored = em.emulator.createRefund('tazapay', {});
    em.emulator.injectFault('tazapay', { kind: 'malformed', count: 1 });
    const e = await rejectionOf(client().getRefund('tazapay', String(stored.id)));
    expect(e.code).toBe('invalid_response');
  });

  it('times out slow answers as provider_error', async () => {
    const stored = em.emulator.createRefund('tazapay', {});
    em.emulator.injectFault('tazapay', { kind: 'latency', count: 3, delayMs: 800 });
    const e = await rejectionOf(client({ timeoutMs: 200 }).getRefund('tazapay', String(stored.id)));
    expect(e.code).toBe('provider_error');
    expect(e.message).toMatch(/timed out/);
  });

  it.each(['rfd/../admin', 'rfd abc', '', '..', 'rfd%2F'])('rejects the malformed id %j before any request', async (id) => {
    const e = await rejectionOf(client().getRefund('tazapay', id));
    expect(e.code).toBe('invalid_input');
    expect(em.emulator.requests('tazapay')).toHaveLength(0);
  });

  it('re-validates ids in the connector itself', async () => {
    const transport = createTransport({ baseDelayMs: 1 });
    try {
      const settings = tazapay.config.resolve(em.settings.tazapay);
      const connector = tazapay.createConnector({ provider: 'tazapay', name: 'default', settings }, { transport, clock: systemClock, logger: silentLogger });
      const e = await rejectionOf(connector.getRefund('../v3/refund/x'));
      expect(e.code).toBe('invalid_input');
      expect(em.emulator.requests('tazapay')).toHaveLength(0);
    } finally {
      await transport.close();
    }
  });

  it('works under a base URL with a path prefix', async () => {
    // The emulator's base URL already carries the `/tazapay` prefix; a trailing slash must not matter either.
    const stored = em.emulator.createRefund('tazapay', {});
    const r = await client({}, { baseUrl: `${em.emulator.baseUrl('tazapay')}/` }).getRefund('tazapay', String(stored.id));
    expect(r.id).toBe(stored.id);
    expect(em.emulator.requests('tazapay')[0]!.path).toBe(`/tazapay/v3/refund/${String(stored.id)}`);
  });
});
