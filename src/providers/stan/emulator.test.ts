import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { recordingLogger } from '../../../test/support/logger.js';
import { createRefundClient } from '../../client.js';
import { validateResponse } from '../../../test/support/openapi.js';
import { stanConfig } from './config.js';
import { STAN_DEMO_IDS, stanEmulator } from './emulator.js';
import { STAN_KNOWN_STATUSES } from './wire.js';

const SPEC_PATH = '/v1/refunds/{refund_id}';
const spec = parseYaml(readFileSync(new URL('../../../specs/stan.yaml', import.meta.url), 'utf8')) as {
  paths: Record<string, { get: { responses: Record<string, unknown> } }>;
};
const documentedStatuses = Object.keys(spec.paths[SPEC_PATH]!.get.responses);

let em: RunningEmulator;
const demoAuth = `Basic ${Buffer.from('demo-stan-client:demo-stan-secret').toString('base64')}`;

beforeAll(async () => {
  em = await startEmulator();
});
afterAll(async () => {
  await em.close();
});
afterEach(() => em.emulator.reset());

/** `authorization: null` sends no Authorization header at all. */
async function get(path: string, authorization: string | null = demoAuth) {
  const res = await request(`${em.url}/stan${path}`, { headers: authorization === null ? {} : { authorization } });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Stan documents no error body; every error the emulator sends must at least share one shape. */
function expectErrorShape(body: unknown) {
  expect(body).toEqual({ error: expect.any(String), message: expect.any(String) });
}

describe('stan emulator responses against specs/stan.yaml', () => {
  it('the spec documents 200, 400, 401 and 500 (and not 404) for this operation', () => {
    expect(documentedStatuses.sort()).toEqual(['200', '400', '401', '500']);
  });

  for (const status of STAN_KNOWN_STATUSES) {
    it(`200 for a ${status} refund validates`, async () => {
      const stored = em.emulator.createRefund('stan', { status });
      const res = await get(`/v1/refunds/${stored.refund_id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(stored);
      const v = validateResponse('stan', SPEC_PATH, 200, res.body);
      expect(v.documented).toBe(true);
      expect(v.errors).toEqual([]);
      expect(v.valid).toBe(true);
    });
  }

  it('the validator is real: a wrong body fails it', () => {
    const stored = stanEmulator.create({}, Date.now());
    expect(validateResponse('stan', SPEC_PATH, 200, { ...stored, amount: 10.5 }).valid).toBe(false);
    expect(validateResponse('stan', SPEC_PATH, 200, { ...stored, status: 'refunded' }).valid).toBe(false);
    expect(validateResponse('stan', SPEC_PATH, 200, { ...stored, refund_id: 'nope' }).valid).toBe(false);
  });

  it('400 for a non-UUID id (documented, no body schema)', async () => {
    const res = await get('/v1/refunds/not-a-uuid');
    expect(res.status).toBe(400);
    expectErrorShape(res.body);
    const v = validateResponse('stan', SPEC_PATH, 400, res.body);
    expect(v).toEqual({ valid: true, documented: false, errors: [] });
  });

  it('401 for missing, wrong or prefix-less Basic credentials', async () => {
    const stored = em.emulator.createRefund('stan', {});
    const bare = Buffer.from('demo-stan-client:demo-stan-secret').toString('base64');
    const wrong = `Basic ${Buffer.from('demo-stan-client:nope').toString('base64')}`;
    const longer = `Basic ${Buffer.from('demo-stan-client:demo-stan-secret-and-more').toString('base64')}`;
    for (const auth of [null, wrong, longer, bare, `Bearer ${bare}`, 'Basic', 'Basic !!!']) {
      const res = await get(`/v1/refunds/${stored.refund_id}`, auth);
      expect(res.status, String(auth)).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic/);
      expectErrorShape(res.body);
      expect(validateResponse('stan', SPEC_PATH, 401, res.body)).toEqual({ valid: true, documented: false, errors: [] });
    }
    // The scheme word is case-insensitive (RFC 7617).
    expect((await get(`/v1/refunds/${stored.refund_id}`, `basic ${bare}`)).status).toBe(200);
  });

  it('checks auth before revealing whether an id exists or is well formed', async () => {
    expect((await get('/v1/refunds/not-a-uuid', null)).status).toBe(401);
    expect((await get('/v1/refunds/00000000-0000-4000-8000-000000000404', null)).status).toBe(401);
  });

  it('404 for an unknown refund (undocumented by Stan)', async () => {
    const res = await get('/v1/refunds/00000000-0000-4000-8000-000000000404');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not_found', message: 'refund not found' });
    expect(documentedStatuses).not.toContain('404');
  });

  it('500 from an injected fault', async () => {
    const stored = em.emulator.createRefund('stan', {});
    em.emulator.injectFault('stan', { kind: 'error', count: 1, status: 500 });
    const res = await get(`/v1/refunds/${stored.refund_id}`);
    expect(res.status).toBe(500);
    expectErrorShape(res.body);
    expect(validateResponse('stan', SPEC_PATH, 500, res.body)).toEqual({ valid: true, documented: false, errors: [] });
  });

  it('429 with Retry-After and 503 from injected faults use the same shape', async () => {
    const stored = em.emulator.createRefund('stan', {});
    em.emulator.injectFault('stan', { kind: 'rate_limit', count: 1, retryAfterS: 7 });
    em.emulator.injectFault('stan', { kind: 'error', count: 1, status: 503 });
    const limited = await get(`/v1/refunds/${stored.refund_id}`);
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
    expectErrorShape(limited.body);
    const unavailable = await get(`/v1/refunds/${stored.refund_id}`);
    expect(unavailable.status).toBe(503);
    expectErrorShape(unavailable.body);
  });

  it('404 for other routes and 405 for other methods', async () => {
    expect((await get('/v1/payments/00000000-0000-4000-8000-000000000001')).status).toBe(404);
    const stored = em.emulator.createRefund('stan', {});
    const res = await request(`${em.url}/stan/v1/refunds/${stored.refund_id}`, { method: 'DELETE', headers: { authorization: demoAuth } });
    await res.body.dump();
    expect(res.statusCode).toBe(405);
  });
});

describe('stan control API', () => {
  it('POST /_emulator/stan/refunds fills in omitted fields with a full native object', async () => {
    const res = await request(`${em.url}/_emulator/stan/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refund: { amount: 990 }, lifecycle: [{ status: 'payment_success', afterMs: 60_000 }] }),
    });
    expect(res.statusCode).toBe(201);
    const { refund } = (await res.body.json()) as { refund: Record<string, unknown> };
    expect(Object.keys(refund).sort()).toEqual(['amount', 'created_at', 'payment_id', 'reason', 'refund_id', 'status']);
    expect(refund).toMatchObject({ amount: 990, status: 'payment_pending', reason: 'requested_by_customer' });
    expect(refund.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(validateResponse('stan', SPEC_PATH, 200, refund)).toMatchObject({ documented: true, valid: true });
    const fetched = await get(`/v1/refunds/${refund.refund_id}`);
    expect(fetched.body).toEqual(refund);
  });

  it('takes any int32 amount, negative ones included, and the connector reads them back end to end', async () => {
    const logger = recordingLogger();
    const client = createRefundClient({ config: em.config(), logger, transport: { baseDelayMs: 1 } });
    try {
      for (const amount of [-2490, -(2 ** 31), 2 ** 31 - 1]) {
        const res = await request(`${em.url}/_emulator/stan/refunds`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refund: { amount, status: 'payment_success' } }),
        });
        const created = (await res.body.json()) as { refund: { refund_id: string; amount: number } };
        expect(res.statusCode, JSON.stringify(created)).toBe(201);
        expect(created.refund.amount).toBe(amount);
        const fetched = await get(`/v1/refunds/${created.refund.refund_id}`);
        expect(validateResponse('stan', SPEC_PATH, 200, fetched.body)).toMatchObject({ documented: true, valid: true });
        const r = await client.getRefund('stan', created.refund.refund_id);
        // A negative amount's meaning is undocumented: the fetch succeeds, the amount is left null.
        if (amount < 0) expect(r).toMatchObject({ status: 'succeeded', amount: null, amountDecimal: null, currency: 'EUR', raw: { amount } });
        else expect(r).toMatchObject({ status: 'succeeded', amount, currency: 'EUR' });
      }
      expect(logger.warnings.filter((l) => (l.obj as { kind?: string }).kind === 'money.negative')).toHaveLength(1);
    } finally {
      await client.close();
    }
    // Only what an int32 cannot hold is refused.
    for (const amount of [2 ** 31, -(2 ** 31) - 1, 1.5]) {
      const res = await request(`${em.url}/_emulator/stan/refunds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refund: { amount } }) });
      expect(res.statusCode, String(amount)).toBe(400);
      expect(((await res.body.json()) as { error: string }).error).toMatch(/amount must be an int32/);
    }
  });

  it('rejects a refund_id that is not a UUID', async () => {
    const res = await request(`${em.url}/_emulator/stan/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refund: { refund_id: 'rfd_123' } }),
    });
    expect(res.statusCode).toBe(400);
    expect(((await res.body.json()) as { error: string }).error).toMatch(/UUID/);
  });
});

describe('stan emulator spec', () => {
  it('create keeps given fields and lowercases the id', () => {
    const r = stanEmulator.create({ refund_id: 'DE305A7E-57A0-4D3E-8000-0000000000FF', status: 'payment_holding', extra: 1 }, Date.UTC(2024, 0, 2, 3, 4, 5, 678));
    expect(r).toMatchObject({ refund_id: 'de305a7e-57a0-4d3e-8000-0000000000ff', status: 'payment_holding', extra: 1, created_at: '2024-01-02T03:04:05Z' });
    expect(stanEmulator.idOf(r)).toBe('de305a7e-57a0-4d3e-8000-0000000000ff');
    expect(() => stanEmulator.create({ amount: 1.5 }, 0)).toThrow(/amount/);
  });

  it('withStatus changes only the status', () => {
    const r = stanEmulator.create({}, 0);
    expect(stanEmulator.withStatus(r, 'payment_failure', 1)).toEqual({ ...r, status: 'payment_failure' });
    expect(r.status).toBe('payment_pending');
  });

  it('demo refunds have fixed ids, known statuses and reach final statuses within 40 s', () => {
    const demos = stanEmulator.demoRefunds();
    expect(demos.map((d) => stanEmulator.idOf(stanEmulator.create(d.refund, 0)))).toEqual([STAN_DEMO_IDS.succeeds, STAN_DEMO_IDS.canceled]);
    expect(stanEmulator.demoRefunds()).toEqual(demos);
    const finals = new Set(['payment_success', 'payment_failure', 'payment_cancelled']);
    for (const d of demos) {
      const steps = [d.refund.status, ...d.lifecycle.map((s) => s.status)];
      for (const s of steps) expect(STAN_KNOWN_STATUSES).toContain(s);
      expect(finals.has(String(steps.at(-1)))).toBe(true);
      expect(Math.max(...d.lifecycle.map((s) => s.afterMs))).toBeLessThanOrEqual(40_000);
      expect(validateResponse('stan', SPEC_PATH, 200, stanEmulator.create(d.refund, 0)).valid).toBe(true);
    }
    expect(demos[0]!.lifecycle).toEqual([{ status: 'payment_success', afterMs: 15_000 }]);
    expect(demos[1]!.lifecycle.map((s) => s.status)).toEqual(['payment_pending', 'payment_cancelled']);
  });

  it('demo credentials resolve', () => {
    expect(stanConfig.resolve({ baseUrl: 'http://127.0.0.1', clientId: 'demo-stan-client', clientSecret: 'demo-stan-secret' })).toMatchObject({ currency: 'EUR' });
  });
});
