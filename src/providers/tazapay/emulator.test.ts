import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { validateResponse, validateSchema } from '../../../test/support/openapi.js';
import { isFinalStatus } from '../../domain/refund.js';
import { tazapayEmulator } from './emulator.js';
import { mapTazapayStatus } from './status.js';

const SPEC_PATH = '/v3/refund/{id}';
const DEMO_AUTH = `Basic ${Buffer.from('demo-tazapay-key:demo-tazapay-secret').toString('base64')}`;

let em: RunningEmulator;
beforeAll(async () => {
  em = await startEmulator();
});
afterAll(async () => {
  await em.close();
});
afterEach(() => em.emulator.reset());

async function get(path: string, headers: Record<string, string> = { authorization: DEMO_AUTH }): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  const res = await request(`${em.url}/tazapay${path}`, { method: 'GET', headers });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

function expectTazapayError(body: any, code: number): void {
  expect(body).toEqual({ status: 'error', message: expect.any(String), errors: [{ code, message: expect.any(String) }] });
}

describe('tazapay emulator responses validate against specs/tazapay.yaml', () => {
  it.each(['pending', 'processing', 'requested', 'initiated', 'succeeded', 'failed', 'rejected', 'cancelled', 'canceled', 'something_new'])(
    '200 for a %s refund',
    async (status) => {
      const stored = em.emulator.createRefund('tazapay', { status });
      const res = await get(`/v3/refund/${String(stored.id)}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.body).toEqual({ status: 'success', message: expect.any(String), data: stored });
      const v = validateResponse('tazapay', SPEC_PATH, 200, res.body);
      expect(v.documented).toBe(true);
      expect(v.errors).toEqual([]);
      expect(v.valid).toBe(true);
    },
  );

  it('the validator is not a rubber stamp: a mistyped amount fails it', () => {
    const stored = tazapayEmulator.create({}, Date.now());
    const v = validateResponse('tazapay', SPEC_PATH, 200, { status: 'success', message: 'x', data: { ...stored, amount: '1050' } });
    expect(v.valid).toBe(false);
  });

  it.each([
    ['no Authorization header', {}, 109],
    ['a non-Basic scheme', { authorization: 'Bearer demo-tazapay-secret' }, 108],
    ['no colon in the credentials', { authorization: `Basic ${Buffer.from('demo-tazapay-key').toString('base64')}` }, 108],
    ['a wrong secret', { authorization: `Basic ${Buffer.from('demo-tazapay-key:nope').toString('base64')}` }, 111],
    ['a wrong key', { authorization: `Basic ${Buffer.from('nope:demo-tazapay-secret').toString('base64')}` }, 111],
  ])('401 with Tazapay codes for %s', async (_what, headers, code) => {
    const stored = em.emulator.createRefund('tazapay', {});
    const res = await get(`/v3/refund/${String(stored.id)}`, headers as Record<string, string>);
    expect(res.status).toBe(401);
    expectTazapayError(res.body, code);
    expect(res.body.message).toBe('Unauthorized');
    // The spec documents only 200; nothing to validate the error envelope against.
    expect(validateResponse('tazapay', SPEC_PATH, 401, res.body)).toMatchObject({ documented: false });
  });

  it('404 with the error envelope for an unknown refund', async () => {
    const res = await get('/v3/refund/rfd_nothere');
    expect(res.status).toBe(404);
    expectTazapayError(res.body, 404);
    expect(res.body.message).toBe('Refund not found');
    expect(validateResponse('tazapay', SPEC_PATH, 404, res.body)).toMatchObject({ documented: false, valid: true });
  });

  it.each([500, 502, 503])('%d fault uses the error envelope', async (status) => {
    em.emulator.injectFault('tazapay', { kind: 'error', status, count: 1 });
    const res = await get('/v3/refund/rfd_any');
    expect(res.status).toBe(status);
    expectTazapayError(res.body, status);
    expect(validateResponse('tazapay', SPEC_PATH, status, res.body)).toMatchObject({ documented: false });
  });

  it('429 fault uses generic code 110 and carries Retry-After', async () => {
    em.emulator.injectFault('tazapay', { kind: 'rate_limit', count: 1, retryAfterS: 7 });
    const res = await get('/v3/refund/rfd_any');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expectTazapayError(res.body, 110);
  });

  it('finds ids that needed URL-encoding and refuses other methods and paths', async () => {
    const stored = em.emulator.createRefund('tazapay', { id: 'rfd_with:colon' });
    expect((await get(`/v3/refund/${encodeURIComponent(String(stored.id))}`)).status).toBe(200);
    const post = await request(`${em.url}/tazapay/v3/refund/${String(stored.id)}`, { method: 'POST', headers: { authorization: DEMO_AUTH }, body: '{}' });
    expect(post.statusCode).toBe(405);
    await post.body.dump();
    const other = await get('/v3/payin/chk_1');
    expect(other.status).toBe(404);
    expectTazapayError(other.body, 404);
  });
});

describe('tazapay emulator control API and lifecycle', () => {
  it('POST /_emulator/tazapay/refunds fills a full native refund from partial input', async () => {
    const res = await request(`${em.url}/_emulator/tazapay/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refund: { amount: 10089, currency: 'KWD' }, lifecycle: [{ status: 'succeeded', afterMs: 30 }] }),
    });
    expect(res.statusCode).toBe(201);
    const { refund } = (await res.body.json()) as { refund: Record<string, unknown> };
    expect(refund).toMatchObject({ object: 'refund', amount: 10089, currency: 'KWD', status: 'pending', customer_receives: { currency: 'KWD', amount: 10089 } });
    expect(refund.id).toMatch(/^rfd_[a-z0-9]{20}$/);
    expect(refund.payin).toMatch(/^chk_[a-z0-9]{20}$/);
    expect(refund.created_at).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    for (const key of ['payment_attempt', 'reason', 'metadata', 'status_description', 'webhook_url', 'balance_transaction', 'reference_id', 'holding_currency']) {
      expect(refund).toHaveProperty(key);
    }
    expect(validateSchema('tazapay', '/components/schemas/RefundData', refund)).toMatchObject({ valid: true });
    const done = await (async () => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const r = await get(`/v3/refund/${String(refund.id)}`);
        if (r.body.data.status === 'succeeded' || Date.now() > deadline) return r;
        await new Promise((ok) => setTimeout(ok, 20));
      }
    })();
    expect(done.body.data.status).toBe('succeeded');
    expect(validateResponse('tazapay', SPEC_PATH, 200, done.body).valid).toBe(true);
  });

  it('rejects input that would make a spec-invalid refund', async () => {
    const res = await request(`${em.url}/_emulator/tazapay/refunds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refund: { amount: '10.50' } }) });
    expect(res.statusCode).toBe(400);
    await res.body.dump();
    expect(() => tazapayEmulator.create({ id: 'rfd bad id' }, Date.now())).toThrow();
  });

  it('generates distinct ids and UTC created_at in the refund-object format', () => {
    const a = tazapayEmulator.create({}, Date.UTC(2023, 6, 23, 23, 59, 56, 789));
    const b = tazapayEmulator.create({}, Date.UTC(2023, 6, 23, 23, 59, 56));
    expect(a.id).not.toBe(b.id);
    expect(a.created_at).toBe('2023-07-23 23:59:56');
  });

  it('withStatus explains failures and clears the explanation on success', () => {
    const r = tazapayEmulator.create({}, Date.now());
    const failed = tazapayEmulator.withStatus(r, 'failed', Date.now());
    expect(failed.status).toBe('failed');
    expect(failed.status_description).not.toBe('');
    expect(tazapayEmulator.withStatus(tazapayEmulator.create({ status_description: 'Card closed' }, 0), 'rejected', 0).status_description).toBe('Card closed');
    expect(tazapayEmulator.withStatus(failed, 'succeeded', Date.now()).status_description).toBe('');
    expect(r.status).toBe('pending'); // a copy, not a mutation
  });

  it('demo refunds have fixed ids, validate, and end in final statuses within 40 s', async () => {
    const demos = tazapayEmulator.demoRefunds();
    expect(demos.map((d) => d.refund.id)).toEqual(['rfd_demo_usd_succeeds', 'rfd_demo_jpy_fails']);
    // Seeded the way seedDemo() does, without depending on the other providers' demos.
    const seeded = demos.map((d) => tazapayEmulator.idOf(em.emulator.createRefund('tazapay', d.refund, d.lifecycle)));
    expect(seeded).toEqual(['rfd_demo_usd_succeeds', 'rfd_demo_jpy_fails']);
    for (const d of demos) {
      const last = d.lifecycle.at(-1)!;
      expect(isFinalStatus(mapTazapayStatus(last.status))).toBe(true);
      expect(last.afterMs).toBeLessThanOrEqual(40_000);
      const res = await get(`/v3/refund/${String(d.refund.id)}`);
      expect(res.status).toBe(200);
      expect(validateResponse('tazapay', SPEC_PATH, 200, res.body).valid).toBe(true);
      const final = tazapayEmulator.withStatus(res.body.data, last.status, Date.now());
      expect(validateSchema('tazapay', '/components/schemas/RefundData', final).valid).toBe(true);
    }
    expect(demos[0]!.lifecycle.map((s) => s.status)).toEqual(['processing', 'succeeded']);
    expect(demos[1]!.refund).toMatchObject({ amount: 1_000_000, currency: 'JPY' });
    expect(demos[1]!.lifecycle.at(-1)!.status).toBe('failed');
  });
});
