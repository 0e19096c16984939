import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { pollUntil } from '../../../test/support/wait.js';
import { createRefundClient, type RefundClient } from '../../client.js';
import { RefundHubError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import type { RawSettings } from '../types.js';
import { classifyStanError } from './connector.js';
import { rejectionOf } from '../../../test/support/errors.js';
import { recordingLogger } from '../../../test/support/logger.js';
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

function client(overrides: RawSettings = {}, transport: Record<string, number> = {}): RefundClient {
  const c = createRefundClient({ config: em.config({ stan: overrides }), logger: silentLogger, transport: { baseDelayMs: 1, ...transport } });
  clients.push(c);
  return c;
}


const STATUSES = [
  ['payment_holding', 'pending'],
  ['payment_pending', 'pending'],
  ['payment_success', 'succeeded'],
  ['payment_failure', 'failed'],
  ['payment_cancelled', 'canceled'],
] as const;

describe('StanConnector against the emulator', () => {
  for (const [native, unified] of STATUSES) {
    it(`reads a ${native} refund as ${unified}`, async () => {
      const stored = em.emulator.createRefund('stan', { status: native, amount: 2490, reason: 'duplicate', created_at: '2024-02-29T23:59:59Z' });
      const r = await client().getRefund('stan', String(stored.refund_id));
      expect(r).toEqual({
        provider: 'stan',
        account: 'default',
        id: stored.refund_id,
        paymentId: stored.payment_id,
        status: unified,
        providerStatus: native,
        amount: 2490,
        currency: 'EUR',
        amountDecimal: '24.90',
        reason: 'duplicate',
        createdAt: '2024-02-29T23:59:59.000Z',
        updatedAt: null,
        failure: null,
        merchantReference: null,
        customerReceives: null,
        metadata: null,
        providerReference: null,
        raw: stored,
      });
    });
  }

  it('uses the account currency and accepts an uppercase id', async () => {
    const stored = em.emulator.createRefund('stan', { amount: 2490 });
    const r = await client({ currency: 'JPY' }).getRefund('stan', String(stored.refund_id).toUpperCase());
    expect(r).toMatchObject({ id: stored.refund_id, amount: 2490, currency: 'JPY', amountDecimal: '2490' });
  });

  it('follows a lifecycle to its final status', async () => {
    const stored = em.emulator.createRefund('stan', { status: 'payment_holding' }, [
      { status: 'payment_pending', afterMs: 20 },
      { status: 'payment_success', afterMs: 60 },
    ]);
    const c = client();
    const r = await pollUntil(async () => {
      const got = await c.getRefund('stan', String(stored.refund_id));
      return got.status === 'succeeded' ? got : undefined;
    }, { timeoutMs: 5000, what: 'stan refund to succeed' });
    expect(r.providerStatus).toBe('payment_success');
  });

  it('accepts a negative amount (the seed\'s int32 has no minimum): status kept, amount null, one warning per connector', async () => {
    const logger = recordingLogger();
    const c = createRefundClient({ config: em.config(), logger, transport: { baseDelayMs: 1 } });
    clients.push(c);
    const ids = [0, 1].map(() => String(em.emulator.createRefund('stan', { status: 'payment_success' }).refund_id));
    for (const id of ids) em.emulator.getRefund('stan', id)!.amount = -2490;
    for (const id of ids) {
      expect(await c.getRefund('stan', id)).toMatchObject({ id, status: 'succeeded', amount: null, amountDecimal: null, currency: 'EUR', raw: { amount: -2490 } });
    }
    expect(logger.warnings.filter((l) => (l.obj as { kind?: string }).kind === 'money.negative')).toHaveLength(1);
  });

  it('maps a response that breaks the schema to invalid_response', async () => {
    const stored = em.emulator.createRefund('stan', {});
    // Stored directly as Stan might (wrongly) send it: a float amount.
    em.emulator.getRefund('stan', String(stored.refund_id))!.amount = 10.5;
    const e = await rejectionOf(client().getRefund('stan', String(stored.refund_id)));
    expect(e.code).toBe('invalid_response');
    expect(e.message).toContain('amount');
  });

  it('keeps a base URL path prefix', async () => {
    const stored = em.emulator.createRefund('stan', {});
    // The emulator mounts Stan under /stan: a base URL without it must miss, proving the prefix is used.
    const e = await rejectionOf(client({ baseUrl: em.url }).getRefund('stan', String(stored.refund_id)));
    expect(e.code).toBe('not_found');
    const r = await client({ baseUrl: `${em.url}/stan/` }).getRefund('stan', String(stored.refund_id));
    expect(r.id).toBe(stored.refund_id);
  });
});

describe('classifyStanError', () => {
  it('reads Stan\'s documented 400 (bad data format) as the caller\'s invalid input, and leaves the rest to the transport', () => {
    const e = classifyStanError({ status: 400, headers: {}, body: '' }, undefined);
    expect(e?.code).toBe('invalid_input');
    expect(e?.httpStatus).toBe(400);
    for (const status of [401, 404, 429, 500]) expect(classifyStanError({ status, headers: {}, body: '' }, undefined)).toBeUndefined();
  });
});

describeConnectorConformance('stan', {
  withResponseId: (body, id) => ({ ...(body as object), refund_id: id }),
  sameIdForms: (id) => [id, id.toUpperCase()],
  create: (em, fields = {}) => String(em.emulator.createRefund('stan', fields).refund_id),
  succeededFields: { status: 'payment_success' },
  malformedIds: ['not-a-uuid', '', '../../v1/refunds', '3fa85f64-5717-4562-b3fc-2c963f66afa', '3fa85f64571745629b3fc2c963f66afa6', '3fa85f64-5717-4562-b3fc-2c963f66afa6/x'],
  unknownId: '00000000-0000-4000-8000-000000000404',
  rejectedCredentials: [{ overrides: { clientSecret: 'wrong-secret-123' } }, { overrides: { clientId: 'wrong-client-456' } }],
  authScheme: 'Basic',
  path: (id) => `/stan/v1/refunds/${id}`,
  secrets: ['demo-stan-secret', Buffer.from('demo-stan-client:demo-stan-secret').toString('base64')],
});
