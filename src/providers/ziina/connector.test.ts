import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { pollUntil } from '../../../test/support/wait.js';
import { createRefundClient, type RefundClient } from '../../client.js';
import { RefundHubError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import type { TransportOptions } from '../../transport/http.js';
import { rejectionOf } from '../../../test/support/errors.js';
import { describeConnectorConformance } from '../../../test/support/connector-conformance.js';

let em: RunningEmulator;
const clients: RefundClient[] = [];

function client(transport: TransportOptions = {}, overrides: Record<string, unknown> = {}): RefundClient {
  const c = createRefundClient({ config: em.config({ ziina: overrides }), logger: silentLogger, transport: { baseDelayMs: 1, ...transport } });
  clients.push(c);
  return c;
}


beforeAll(async () => {
  em = await startEmulator();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  em.emulator.reset();
});
afterAll(async () => {
  await em.close();
});

describe('ziina connector against the emulator', () => {
  it('fetches a pending refund and normalizes it', async () => {
    const created = em.emulator.createRefund('ziina', { amount: 1050, currency_code: 'AED', payment_intent_id: 'pi-42', created_at: '1700000000123' });
    const r = await client().getRefund('ziina', String(created.id));
    expect(r).toEqual({
      provider: 'ziina',
      account: 'default',
      id: created.id,
      paymentId: 'pi-42',
      status: 'pending',
      providerStatus: 'pending',
      amount: 1050,
      currency: 'AED',
      amountDecimal: '10.50',
      reason: null,
      createdAt: '2023-11-14T22:13:20.123Z',
      updatedAt: null,
      failure: null,
      merchantReference: null,
      customerReceives: null,
      metadata: null,
      providerReference: null,
      raw: created,
    });
  });

  it('reports no failure on a completed refund that carries an error object (kept in raw)', async () => {
    const done = em.emulator.createRefund('ziina', { status: 'completed', amount: 829, error: { message: 'late settlement', code: '409' } });
    const r = await client().getRefund('ziina', String(done.id));
    expect(r).toMatchObject({ status: 'succeeded', failure: null, raw: { error: { message: 'late settlement', code: '409' } } });
  });

  it('maps completed and failed (with its error) from the live emulator', async () => {
    const c = client();
    const done = em.emulator.createRefund('ziina', { status: 'completed', amount: 829 });
    const failed = em.emulator.createRefund('ziina', { status: 'failed', error: { message: 'Insufficient merchant balance', code: '400' } });
    expect(await c.getRefund('ziina', String(done.id))).toMatchObject({ status: 'succeeded', providerStatus: 'completed', amountDecimal: '8.29', failure: null });
    expect(await c.getRefund('ziina', String(failed.id))).toMatchObject({ status: 'failed', failure: { code: '400', message: 'Insufficient merchant balance' } });
  });

  it('follows a lifecycle to its final status', async () => {
    const r = em.emulator.createRefund('ziina', {}, [{ status: 'failed', afterMs: 30 }]);
    const c = client();
    expect((await c.getRefund('ziina', String(r.id))).status).toBe('pending');
    const final = await pollUntil(async () => {
      const x = await c.getRefund('ziina', String(r.id));
      return x.status === 'failed' ? x : undefined;
    }, { timeoutMs: 5000, what: 'ziina refund to fail' });
    expect(final.failure).toEqual({ code: '422', message: 'Refund was declined by the card issuer' });
  });

  it('keeps an unknown status as unknown', async () => {
    const r = em.emulator.createRefund('ziina', { status: 'on_hold' });
    expect(await client().getRefund('ziina', String(r.id))).toMatchObject({ status: 'unknown', providerStatus: 'on_hold' });
  });

  it('URL-encodes ids and finds them', async () => {
    const r = em.emulator.createRefund('ziina', { id: 'rf:2024~a.b' });
    expect((await client().getRefund('ziina', 'rf:2024~a.b')).id).toBe('rf:2024~a.b');
    expect(em.emulator.requests('ziina')[0]!.path).toBe('/ziina/api/refund/rf%3A2024~a.b');
    expect(r.id).toBe('rf:2024~a.b');
  });

  it('a body that breaks the documented schema -> invalid_response naming the field', async () => {
    const r = em.emulator.createRefund('ziina', { amount: '10.50' });
    const e = await rejectionOf(client().getRefund('ziina', String(r.id)));
    expect(e.code).toBe('invalid_response');
    expect(e.message).toContain('amount');
  });

  it('missing token -> not_configured naming the variable, no request', async () => {
    const config = em.config();
    config.accounts.get('ziina')!.set('default', { baseUrl: em.settings.ziina.baseUrl });
    const c = createRefundClient({ config, logger: silentLogger });
    clients.push(c);
    const e = await rejectionOf(c.getRefund('ziina', 'abc'));
    expect(e.code).toBe('not_configured');
    expect(e.message).toContain('REFUNDHUB_ZIINA_TOKEN');
    expect(em.emulator.requests('ziina')).toHaveLength(0);
  });
});

describeConnectorConformance('ziina', {
  withResponseId: (body, id) => ({ ...(body as object), id }),
  sameIdForms: (id) => [id],
  create: (em, fields = {}) => String(em.emulator.createRefund('ziina', fields).id),
  succeededFields: { status: 'completed' },
  malformedIds: ['', '  ', '../admin', 'a/b', 'has space', '..', 'x'.repeat(300)],
  unknownId: '00000000-0000-4000-8000-000000000000',
  rejectedCredentials: [{ overrides: { token: 'wrong-token-value' } }],
  authScheme: 'Bearer',
  path: (id) => `/ziina/api/refund/${id}`,
  secrets: ['demo-ziina-token'],
});
