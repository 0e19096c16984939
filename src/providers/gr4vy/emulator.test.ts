import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { validateResponse, validateSchema } from '../../../test/support/openapi.js';
import { pollUntil } from '../../../test/support/wait.js';
import type { EmulatorProviderContext, NativeRefund } from '../types.js';
import { base62Uuid, gr4vyEmulator } from './emulator.js';
import { gr4vy, type Gr4vySettings } from './index.js';
import { gr4vyClaims, signGr4vyJwt } from './jwt.js';
import { loadGr4vyKey } from './keys.js';

const PATH = '/refunds/{refund_id}';
const settings: Gr4vySettings = gr4vy.config.resolve({ ...gr4vy.demoSettings(), baseUrl: 'http://127.0.0.1' });
const key = loadGr4vyKey(settings.privateKey);
const bearer = (scopes = ['*.read'], now = Date.now()) => `Bearer ${signGr4vyJwt(key, gr4vyClaims(scopes, now))}`;

let em: RunningEmulator;
beforeAll(async () => {
  em = await startEmulator();
});
afterEach(() => em.emulator.reset());
afterAll(async () => {
  await em.close();
});

async function get(path: string, authorization: string = bearer(), method: 'GET' | 'POST' = 'GET'): Promise<{ status: number; body: unknown; headers: Record<string, unknown> }> {
  const res = await request(`${em.url}/gr4vy${path}`, { method, headers: authorization ? { authorization } : {} });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

function expectValid(status: number, body: unknown): void {
  const v = validateResponse('gr4vy', PATH, status, body);
  expect(v.documented, `HTTP ${status} documented`).toBe(true);
  expect(v.errors).toEqual([]);
  expect(v.valid).toBe(true);
}

describe('gr4vy emulator responses validate against specs/gr4vy.yaml', () => {
  it.each(['processing', 'succeeded', 'failed', 'declined', 'voided'])('200 for a %s refund', async (status) => {
    const created = em.emulator.createRefund('gr4vy', { status });
    const res = await get(`/refunds/${String(created.id)}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.body).toEqual(created);
    expectValid(200, res.body);
  });

  it('200 after lifecycle changes (withStatus keeps the object valid)', async () => {
    const id = String(em.emulator.createRefund('gr4vy', { status: 'processing' }).id);
    for (const s of ['succeeded', 'failed', 'declined', 'voided']) {
      em.emulator.setStatus('gr4vy', id, s);
      const res = await get(`/refunds/${id}`);
      expect((res.body as NativeRefund).status).toBe(s);
      expectValid(200, res.body);
    }
  });

  it('fills every omitted field with plausible values, with offsets on timestamps', () => {
    const r = gr4vyEmulator.create({}, Date.UTC(2026, 4, 1, 8, 30));
    expectValid(200, r);
    expect(r.created_at).toBe('2026-05-01T08:30:00.000+00:00');
    expect(r.reconciliation_id).toBe(base62Uuid(String(r.id)));
    expect(String(r.reconciliation_id)).toHaveLength(22);
    expect(r.status).toBe('processing');
  });

  it('401 without a token, with a malformed one, and with an expired one', async () => {
    const id = String(em.emulator.createRefund('gr4vy').id);
    for (const auth of ['', 'Bearer not-a-jwt', 'Basic Zm9vOmJhcg==', bearer(['*.read'], Date.now() - 120_000)]) {
      const res = await get(`/refunds/${id}`, auth);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ type: 'error', code: 'unauthorized', status: 401, details: [] });
      expectValid(401, res.body);
    }
  });

  it('403 for a token without a refund-reading scope', async () => {
    const id = String(em.emulator.createRefund('gr4vy').id);
    const res = await get(`/refunds/${id}`, bearer(['buyers.read']));
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ type: 'error', code: 'forbidden', status: 403 });
    expectValid(403, res.body);
  });

  it('404 for an unknown refund and an unknown path', async () => {
    for (const path of ['/refunds/00000000-0000-4000-8000-000000000000', '/transactions']) {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ type: 'error', code: 'not_found', status: 404 });
      expectValid(404, res.body);
    }
  });

  it('405 for another method', async () => {
    const id = String(em.emulator.createRefund('gr4vy').id);
    const res = await get(`/refunds/${id}`, bearer(), 'POST');
    expect(res.status).toBe(405);
    expectValid(405, res.body);
  });

  it('422 (FastAPI validation body) for an id that is not a UUID', async () => {
    const res = await get('/refunds/not-a-uuid');
    expect(res.status).toBe(422);
    expect(res.body).toEqual({ detail: [{ loc: ['path', 'refund_id'], msg: expect.any(String), type: 'uuid_parsing' }] });
    expectValid(422, res.body);
  });

  it.each([500, 502, 504])('%i from an error fault', async (status) => {
    const id = String(em.emulator.createRefund('gr4vy').id);
    em.emulator.injectFault('gr4vy', { kind: 'error', count: 1, status });
    const res = await get(`/refunds/${id}`);
    expect(res.status).toBe(status);
    expectValid(status, res.body);
  });

  it('429 with Retry-After from a rate_limit fault', async () => {
    const id = String(em.emulator.createRefund('gr4vy').id);
    em.emulator.injectFault('gr4vy', { kind: 'rate_limit', count: 1, retryAfterS: 7 });
    const res = await get(`/refunds/${id}`);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.body).toMatchObject({ code: 'too_many_requests', status: 429 });
    expectValid(429, res.body);
  });

  it.each([400, 401, 403, 404, 405, 409, 422, 425, 429, 500, 502, 504])('errorResponse(%i) is the documented body', (status) => {
    const r = gr4vyEmulator.errorResponse(status);
    expect(r.status).toBe(status);
    expectValid(status, r.body);
  });

  it('an undocumented 5xx still gets an Error-shaped body', () => {
    const r = gr4vyEmulator.errorResponse(503);
    expect(r.body).toEqual({ type: 'error', code: 'server_error', status: 503, message: 'Request could not be processed', details: [] });
  });
});

describe('gr4vy emulator auth cache', () => {
  it('does not keep accepting a cached token after it expires', () => {
    const refund = gr4vyEmulator.create({}, Date.now());
    let now = Date.UTC(2026, 0, 1);
    const ctx: EmulatorProviderContext<Gr4vySettings> = { settings, now: () => now, findRefund: (id) => (id === refund.id ? refund : undefined) };
    const auth = bearer(['*.read'], now);
    const call = () => gr4vyEmulator.handle({ method: 'GET', path: `/refunds/${String(refund.id)}`, query: new URLSearchParams(), headers: { authorization: auth }, body: Buffer.alloc(0) }, ctx);
    expect(call().status).toBe(200);
    now += 30_000;
    expect(call().status).toBe(200);
    now += 40_000; // past exp (iat - 5 s + 60 s) plus leeway
    expect(call().status).toBe(401);
  });
});

describe('gr4vy emulator control API', () => {
  it('POST /_emulator/gr4vy/refunds with partial input returns 201 and the full native refund', async () => {
    const res = await request(`${em.url}/_emulator/gr4vy/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refund: { amount: 500, currency: 'JPY', reason: 'Late delivery' }, lifecycle: [{ status: 'succeeded', afterMs: 600_000 }] }),
    });
    expect(res.statusCode).toBe(201);
    const { refund } = (await res.body.json()) as { refund: NativeRefund };
    expect(refund).toMatchObject({ type: 'refund', amount: 500, currency: 'JPY', reason: 'Late delivery', status: 'processing', target_type: 'payment-method' });
    expectValid(200, refund);
    expect(validateSchema('gr4vy', '/components/schemas/Refund', refund).valid).toBe(true);
    const got = await get(`/refunds/${String(refund.id)}`);
    expect(got.body).toEqual(refund);
  });

  it('advances a lifecycle over time and serves each step validly', async () => {
    const res = await request(`${em.url}/_emulator/gr4vy/refunds`, {
      method: 'POST',
      body: JSON.stringify({ refund: { status: 'processing' }, lifecycle: [{ status: 'voided', afterMs: 100 }] }),
    });
    const { refund } = (await res.body.json()) as { refund: NativeRefund };
    const done = await pollUntil(async () => {
      const r = await get(`/refunds/${String(refund.id)}`);
      return (r.body as NativeRefund).status === 'voided' ? r : undefined;
    }, { what: 'the refund to be voided' });
    expectValid(200, done.body);
    expect((done.body as NativeRefund).updated_at).not.toBe(refund.updated_at);
  });

  it('rejects fields the Refund schema does not allow, and wrong types', async () => {
    for (const refund of [{ merchant_account_id: 'x' }, { amount: 12.5 }, { currency: 'usd' }, { id: 'rf_123' }]) {
      const res = await request(`${em.url}/_emulator/gr4vy/refunds`, { method: 'POST', body: JSON.stringify({ refund }) });
      expect(res.statusCode).toBe(400);
      await res.body.dump();
    }
  });

  it('demo refunds have fixed ids and end in final statuses within 40 s', () => {
    const demos = gr4vyEmulator.demoRefunds();
    expect(demos.length).toBeGreaterThanOrEqual(2);
    const ids = demos.map((d) => d.refund.id);
    expect(gr4vyEmulator.demoRefunds().map((d) => d.refund.id)).toEqual(ids);
    const finals = demos.map((d) => d.lifecycle.at(-1)!);
    expect(finals.map((f) => f.status).sort()).toEqual(['declined', 'succeeded']);
    for (const d of demos) {
      expect(d.lifecycle.at(-1)!.afterMs).toBeLessThanOrEqual(40_000);
      const created = gr4vyEmulator.create(d.refund, Date.now());
      expectValid(200, created);
      const final = gr4vyEmulator.withStatus(created, d.lifecycle.at(-1)!.status, Date.now());
      expectValid(200, final);
      if (final.status === 'declined') expect(final).toMatchObject({ error_code: expect.any(String), raw_response_description: expect.any(String) });
    }
  });
});
