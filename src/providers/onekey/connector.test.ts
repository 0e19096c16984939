import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { pollUntil } from '../../../test/support/wait.js';
import type { Clock } from '../../clock.js';
import { createRefundClient, type RefundClient } from '../../client.js';
import { RefundHubError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import type { RawSettings } from '../types.js';

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

  it('maps 404 RESOURCE_NOT_FOUND to not_found', async () => {
    const e = await expectError(client.getRefund('onekey', '99999999'), 'not_found');
    expect(e.message).toContain('RESOURCE_NOT_FOUND');
    expect(e.httpStatus).toBe(404);
  });

  it('validates ids before any request', async () => {
    for (const bad of ['abc', '0', '-1', '1.5', '12a', '../refunds/1', '', ' ', '1e5', '0123']) {
      await expectError(client.getRefund('onekey', bad), 'invalid_input');
    }
    expect(em.emulator.requests('onekey')).toHaveLength(0);
  });

  it('signs with X-Date, X-Login and a D24 Authorization, masked in the request log', async () => {
    const id = create({});
    await client.getRefund('onekey', id);
    const [req] = em.emulator.requests('onekey');
    expect(req!.method).toBe('GET');
    expect(req!.path).toBe(`/onekey/v3/refunds/${id}`);
    expect(req!.headers.authorization).toBe('D24 ****');
    expect(req!.headers['x-login']).toBe('****');
    expect(req!.headers['x-date']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(req!.headers['content-type']).toBe('application/json');
    expect(JSON.stringify(req)).not.toContain('demo-onekey-secret');
    expect(JSON.stringify(req)).not.toContain('demo-onekey-login');
  });

  it('rejects wrong credentials with authentication_failed, saying which check failed, never the secret', async () => {
    const cases: Array<[RawSettings, string]> = [
      [{ secretKey: 'wrong-secret-value' }, 'INVALID_SIGNATURE'],
      [{ login: 'wrong-login-value' }, 'INVALID_CREDENTIALS'],
      [{ authPrefix: 'OKP' }, 'INVALID_SIGNATURE'],
    ];
    for (const [overrides, type] of cases) {
      const c = clientWith(overrides);
      try {
        const e = await expectError(c.getRefund('onekey', create({})), 'authentication_failed');
        expect(e.message).toBe(`onekey: credentials rejected (${type})`);
        expect(e.httpStatus).toBe(401);
        expect(e.retryable).toBe(false);
        expect(e.message).not.toMatch(/wrong-secret-value|wrong-login-value|demo-onekey/);
      } finally {
        await c.close();
      }
    }
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

  it('gives up after 3 attempts of 5xx with provider_error', async () => {
    const id = create({});
    em.emulator.injectFault('onekey', { kind: 'error', count: 3, status: 500 });
    const e = await expectError(client.getRefund('onekey', id), 'provider_error');
    expect(e.httpStatus).toBe(500);
    expect(e.retryable).toBe(true);
    expect(em.emulator.requests('onekey')).toHaveLength(3);
  });

  it('honours Retry-After on 429', async () => {
    const id = create({ status: 'COMPLETED', amount: 1 });
    em.emulator.injectFault('onekey', { kind: 'rate_limit', count: 1, retryAfterS: 1 });
    const started = Date.now();
    expect((await client.getRefund('onekey', id)).status).toBe('succeeded');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(em.emulator.requests('onekey')).toHaveLength(2);
  });

  it('surfaces persistent 429 as rate_limited', async () => {
    const id = create({});
    em.emulator.injectFault('onekey', { kind: 'rate_limit', count: 3, retryAfterS: 0 });
    const e = await expectError(client.getRefund('onekey', id), 'rate_limited');
    expect(e.httpStatus).toBe(429);
  });

  it('retries a connection reset', async () => {
    const id = create({ status: 'REJECTED' });
    em.emulator.injectFault('onekey', { kind: 'reset', count: 1 });
    expect((await client.getRefund('onekey', id)).status).toBe('failed');
    expect(em.emulator.requests('onekey')).toHaveLength(2);
  });

  it('maps malformed JSON to invalid_response', async () => {
    const id = create({});
    em.emulator.injectFault('onekey', { kind: 'malformed', count: 1 });
    await expectError(client.getRefund('onekey', id), 'invalid_response');
  });

  it('maps latency beyond the timeout to provider_error', async () => {
    const c = clientWith({}, { timeoutMs: 200 });
    try {
      const id = create({});
      em.emulator.injectFault('onekey', { kind: 'latency', count: 3, delayMs: 1_000 });
      const e = await expectError(c.getRefund('onekey', id), 'provider_error');
      expect(e.message).toContain('timed out');
    } finally {
      await c.close();
    }
  });
});
