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
import { describeConnectorConformance } from '../../../test/support/connector-conformance.js';

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

  it('reports missing credentials as not_configured before any request', async () => {
    const c = createRefundClient({ config: em.config({ tazapay: { apiKey: undefined } }), logger: silentLogger });
    clients.push(c);
    const e = await rejectionOf(c.getRefund('tazapay', 'rfd_abc'));
    expect(e.code).toBe('not_configured');
    expect(e.message).toContain('REFUNDHUB_TAZAPAY_API_KEY');
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

describeConnectorConformance('tazapay', {
  withResponseId: (body, id) => ({ ...(body as { data: object }), data: { ...(body as { data: object }).data, id } }),
  sameIdForms: (id) => [id],
  create: (em, fields = {}) => String(em.emulator.createRefund('tazapay', fields).id),
  succeededFields: { status: 'succeeded' },
  malformedIds: ['rfd/../admin', 'rfd abc', '', '..', 'rfd%2F'],
  unknownId: 'rfd_doesnotexist00000000',
  rejectedCredentials: [{ overrides: { apiSecret: 'wrong-secret' } }, { overrides: { apiKey: 'wrong-key' } }],
  authScheme: 'Basic',
  path: (id) => `/tazapay/v3/refund/${id}`,
  secrets: ['demo-tazapay', Buffer.from('demo-tazapay-key:demo-tazapay-secret').toString('base64')],
});
