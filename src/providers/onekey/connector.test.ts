import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { pollUntil } from '../../../test/support/wait.js';
import type { Clock } from '../../clock.js';
import { createRefundClient, type RefundClient } from '../../client.js';
import { RefundHubError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import type { RawSettings } from '../types.js';
import { describeConnectorConformance } from '../../../test/support/connector-conformance.js';

let em: RunningEmulator;
let client: RefundClient;

beforeAll(async () => {
  em = await startEmulator();
});
afterAll(async () => {
  await client?.close();
  await em?.close();
});
beforeEach(() => {
  em.emulator.reset();
});

function clientWith(overrides: RawSettings = {}, options: { timeoutMs?: number; clock?: Clock } = {}): RefundClient {
  return createRefundClient({
    config: em.config({ onekey: overrides }),
    logger: silentLogger,
    clock: options.clock,
    transport: { baseDelayMs: 1, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) },
  });
}

async function expectError(p: Promise<unknown>, code: string): Promise<RefundHubError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RefundHubError);
    expect((e as RefundHubError).code).toBe(code);
    expect((e as RefundHubError).provider).toBe('onekey');
    return e as RefundHubError;
  }
  throw new Error(`expected ${code}, got a result`);
}

function create(refund: Record<string, unknown>): string {
  return String(em.emulator.createRefund('onekey', refund).refund_id);
}

describe('OnekeyConnector against the emulator', () => {
  beforeAll(() => {
    client = clientWith({ currency: 'MXN' });
  });

  const cases = [
    ['PENDING', 'pending'],
    ['DELIVERED', 'pending'],
    ['COMPLETED', 'succeeded'],
    ['INCORRECT_DETAILS', 'requires_action'],
    ['REJECTED', 'failed'],
    ['CANCELLED', 'canceled'],
  ] as const;
  for (const [native, unified] of cases) {
    it(`reads a ${native} refund as ${unified}`, async () => {
      const id = create({ status: native, deposit_id: 4242, merchant_invoice_id: 'inv-9' });
      const r = await client.getRefund('onekey', id);
      expect(r).toMatchObject({ provider: 'onekey', account: 'default', id, paymentId: '4242', status: unified, providerStatus: native, createdAt: null, updatedAt: null, failure: null, reason: null });
      expect(r.raw).toEqual({ deposit_id: 4242, merchant_invoice_id: 'inv-9', status: native });
    });
  }

  it('converts a COMPLETED amount with the configured currency', async () => {
    const id = create({ status: 'COMPLETED', amount: 505.95, deposit_id: 11 });
    expect(await client.getRefund('onekey', id)).toMatchObject({ amount: 50595, currency: 'MXN', amountDecimal: '505.95', status: 'succeeded' });
  });

  it('without a configured currency keeps only the decimal', async () => {
    const c = clientWith({ currency: undefined });
    try {
      const id = create({ status: 'COMPLETED', amount: 8.29 });
      expect(await c.getRefund('onekey', id)).toMatchObject({ amount: null, currency: null, amountDecimal: '8.29' });
    } finally {
      await c.close();
    }
  });

  it('follows a lifecycle to COMPLETED, the amount appearing with it', async () => {
    const refund = em.emulator.createRefund('onekey', {}, [{ status: 'DELIVERED', afterMs: 10 }, { status: 'COMPLETED', afterMs: 40 }]);
    const id = String(refund.refund_id);
    const done = await pollUntil(async () => {
      const r = await client.getRefund('onekey', id);
      return r.status === 'succeeded' ? r : null;
    }, { what: 'COMPLETED' });
    expect(done.amount).toBeGreaterThan(0);
    expect(done.amountDecimal).toMatch(/^\d+\.\d{2}$/);
  });

  it('signs with X-Date and X-Login, masked in the request log (the D24 Authorization is checked by the conformance suite)', async () => {
    const id = create({});
    await client.getRefund('onekey', id);
    const [req] = em.emulator.requests('onekey');
    expect(req!.headers['x-login']).toBe('****');
    expect(req!.headers['x-date']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(req!.headers['content-type']).toBe('application/json');
    expect(JSON.stringify(req)).not.toContain('demo-onekey-secret');
    expect(JSON.stringify(req)).not.toContain('demo-onekey-login');
  });

  it('a stale or future X-Date is rejected as INVALID_DATE_RANGE', async () => {
    for (const offset of [-10 * 60_000, 10 * 60_000]) {
      const c = clientWith({}, { clock: { now: () => Date.now() + offset } });
      try {
        const e = await expectError(c.getRefund('onekey', create({})), 'authentication_failed');
        expect(e.message).toContain('INVALID_DATE_RANGE');
      } finally {
        await c.close();
      }
    }
    // Within the window is fine.
    const ok = clientWith({}, { clock: { now: () => Date.now() - 60_000 } });
    try {
      expect((await ok.getRefund('onekey', create({}))).status).toBe('pending');
    } finally {
      await ok.close();
    }
  });

  it('works with the OKP prefix when the provider expects it', async () => {
    const okp = await startEmulator({ credentials: { onekey: { login: 'demo-onekey-login', secretKey: 'demo-onekey-secret', authPrefix: 'OKP' } } });
    const c = createRefundClient({ config: okp.config(), logger: silentLogger, transport: { baseDelayMs: 1 } });
    try {
      const id = String(okp.emulator.createRefund('onekey', { status: 'DELIVERED' }).refund_id);
      expect((await c.getRefund('onekey', id)).status).toBe('pending');
      expect(okp.emulator.requests('onekey')[0]!.headers.authorization).toBe('OKP ****');
    } finally {
      await c.close();
      await okp.close();
    }
  });

  it('retries a 5xx and succeeds, signing each attempt afresh', async () => {
    let t = Date.now();
    // Each attempt reads the clock once: moving it 2 s per read shows X-Date is rebuilt per attempt.
    const c = clientWith({}, { clock: { now: () => (t += 2_000) } });
    try {
      const id = create({ status: 'DELIVERED' });
      em.emulator.injectFault('onekey', { kind: 'error', count: 1, status: 503 });
      expect((await c.getRefund('onekey', id)).status).toBe('pending');
      const reqs = em.emulator.requests('onekey');
      expect(reqs).toHaveLength(2);
      expect(reqs[0]!.headers['x-date']).not.toBe(reqs[1]!.headers['x-date']);
    } finally {
      await c.close();
    }
  });

});

describeConnectorConformance('onekey', {
  withResponseId: (body, id) => ({ ...(body as object), refund_id: id }),
  sameIdForms: (id) => [id, Number(id)],
  create: (em, fields = {}) => String(em.emulator.createRefund('onekey', fields).refund_id),
  succeededFields: { status: 'COMPLETED', amount: 1 },
  malformedIds: ['abc', '0', '-1', '1.5', '12a', '../refunds/1', '', ' ', '1e5', '0123'],
  unknownId: '99999999',
  notFoundMessage: 'RESOURCE_NOT_FOUND',
  rejectedCredentials: [
    { overrides: { secretKey: 'wrong-secret-value' }, message: 'onekey: credentials rejected (INVALID_SIGNATURE)' },
    { overrides: { login: 'wrong-login-value' }, message: 'onekey: credentials rejected (INVALID_CREDENTIALS)' },
    { overrides: { authPrefix: 'OKP' }, message: 'onekey: credentials rejected (INVALID_SIGNATURE)' },
  ],
  authScheme: 'D24',
  path: (id) => `/onekey/v3/refunds/${id}`,
  secrets: ['demo-onekey'],
  overrides: { currency: 'MXN' },
});
