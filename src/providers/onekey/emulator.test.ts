import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { validateResponse } from '../../../test/support/openapi.js';
import { formatXDate, onekeyAuthHeaders, onekeySignature } from './auth.js';
import { onekeyEmulator } from './emulator.js';

const SPEC_PATH = '/refunds/{refund_id}';
const creds = { login: 'demo-onekey-login', secretKey: 'demo-onekey-secret', authPrefix: 'D24' };

let em: RunningEmulator;
beforeAll(async () => {
  em = await startEmulator();
});
afterAll(async () => {
  await em?.close();
});
beforeEach(() => em.emulator.reset());

async function get(path: string, headers: Record<string, string> = onekeyAuthHeaders(creds, Date.now())): Promise<{ status: number; body: any; contentType: unknown }> {
  const res = await request(`${em.url}/onekey/v3${path}`, { method: 'GET', headers });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, contentType: res.headers['content-type'] };
}

function expectSpec(status: number, body: unknown, documented = true): void {
  const v = validateResponse('onekey', SPEC_PATH, status, body);
  expect(v.documented).toBe(documented);
  expect(v.valid, v.errors.join('; ')).toBe(true);
}

describe('onekey emulator responses match specs/onekey.json', () => {
  for (const status of ['PENDING', 'DELIVERED', 'COMPLETED', 'INCORRECT_DETAILS', 'REJECTED', 'CANCELLED']) {
    it(`200 for ${status}`, async () => {
      const refund = em.emulator.createRefund('onekey', { status, ...(status === 'COMPLETED' ? { amount: 505.95 } : {}) });
      const res = await get(`/refunds/${refund.refund_id}`);
      expect(res.status).toBe(200);
      expect(res.contentType).toContain('application/json');
      expectSpec(200, res.body);
      // The status response does not echo refund_id.
      expect(Object.keys(res.body).sort()).toEqual(status === 'COMPLETED' ? ['amount', 'deposit_id', 'merchant_invoice_id', 'status'] : ['deposit_id', 'merchant_invoice_id', 'status']);
      expect(res.body.status).toBe(status);
      expect(Number.isInteger(res.body.deposit_id)).toBe(true);
    });
  }

  it('200 with a base64 voucher when ?voucher=true, and only then', async () => {
    const refund = em.emulator.createRefund('onekey', { status: 'COMPLETED', amount: 1000 });
    const withVoucher = await get(`/refunds/${refund.refund_id}?voucher=true`);
    expectSpec(200, withVoucher.body);
    const pdf = Buffer.from(withVoucher.body.voucher, 'base64');
    expect(pdf.toString('base64')).toBe(withVoucher.body.voucher); // strict Base64, nothing skipped
    const text = pdf.toString('latin1');
    expect(text).toMatch(/^%PDF-1\.\d\n/);
    expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
    // A viewer finds the xref table where startxref says, and each object where the table says.
    const startxref = Number(/startxref\n(\d+)\n/.exec(text)![1]);
    expect(text.slice(startxref, startxref + 4)).toBe('xref');
    const offsets = [...text.slice(startxref).matchAll(/^(\d{10}) 00000 n $/gm)].map((m) => Number(m[1]));
    expect(offsets).toHaveLength(5);
    offsets.forEach((o, i) => expect(text.slice(o, o + 8)).toBe(`${i + 1} 0 obj\n`));
    expect(text).toContain(String(refund.merchant_invoice_id));
    expect((await get(`/refunds/${refund.refund_id}?voucher=false`)).body.voucher).toBeUndefined();
  });

  it('no voucher before the refund is COMPLETED, even when asked; the answer still matches the spec', async () => {
    for (const status of ['PENDING', 'DELIVERED', 'REJECTED']) {
      const refund = em.emulator.createRefund('onekey', { status });
      const res = await get(`/refunds/${refund.refund_id}?voucher=true`);
      expectSpec(200, res.body);
      expect(res.body.voucher).toBeUndefined();
    }
  });

  it('404 RESOURCE_NOT_FOUND for an unknown or non-integer id', async () => {
    for (const path of ['/refunds/12345', '/refunds/abc', '/refunds/0', '/nothing']) {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ code: 208, description: 'Resource not found', type: 'RESOURCE_NOT_FOUND' });
      expectSpec(404, res.body);
    }
  });

  describe('401s', () => {
    let id: string;
    beforeEach(() => {
      id = String(em.emulator.createRefund('onekey', {}).refund_id);
    });

    it('missing headers -> 101 MISSING_REQUIRED_HEADER', async () => {
      for (const drop of ['X-Date', 'X-Login', 'Authorization', 'Content-Type']) {
        const headers = onekeyAuthHeaders(creds, Date.now());
        delete headers[drop];
        const res = await get(`/refunds/${id}`, headers);
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ code: 101, type: 'MISSING_REQUIRED_HEADER' });
        expect(res.body.description).toContain(drop);
        expectSpec(401, res.body);
      }
      const garbled = { ...onekeyAuthHeaders(creds, Date.now()), 'X-Date': 'yesterday' };
      expect((await get(`/refunds/${id}`, garbled)).body).toMatchObject({ code: 101, type: 'MISSING_REQUIRED_HEADER' });
    });

    it('wrong login -> 100 INVALID_CREDENTIALS', async () => {
      const res = await get(`/refunds/${id}`, onekeyAuthHeaders({ ...creds, login: 'someone-else' }, Date.now()));
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ code: 100, description: 'Invalid credentials', type: 'INVALID_CREDENTIALS' });
      expectSpec(401, res.body);
    });

    it('bad signature, wrong prefix, uppercase hex, signed path -> 102 INVALID_SIGNATURE', async () => {
      const now = Date.now();
      const good = onekeyAuthHeaders(creds, now);
      const xDate = good['X-Date']!;
      const sig = onekeySignature(creds.secretKey, xDate, creds.login);
      const variants = [
        onekeyAuthHeaders({ ...creds, secretKey: 'nope' }, now),
        { ...good, Authorization: `OKP ${sig}` },
        { ...good, Authorization: `D24 ${sig.toUpperCase()}` },
        { ...good, Authorization: sig },
        { ...good, Authorization: `D24 ${onekeySignature(creds.secretKey, xDate, creds.login, `/refunds/${id}`)}` },
        // A signature for another second does not cover this X-Date.
        { ...good, 'X-Date': formatXDate(now + 1_000) },
      ];
      for (const headers of variants) {
        const res = await get(`/refunds/${id}`, headers);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ code: 102, description: 'Invalid signature', type: 'INVALID_SIGNATURE' });
        expectSpec(401, res.body);
      }
      expect((await get(`/refunds/${id}`, good)).status).toBe(200);
    });

    it('X-Date more than 300 s off -> 103 INVALID_DATE_RANGE; within it is accepted', async () => {
      for (const offset of [-301_000, 301_000, -86_400_000]) {
        const res = await get(`/refunds/${id}`, onekeyAuthHeaders(creds, Date.now() + offset));
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ code: 103, description: 'X-Date header value out of valid range', type: 'INVALID_DATE_RANGE' });
        expectSpec(401, res.body);
      }
      for (const offset of [-290_000, 290_000]) {
        expect((await get(`/refunds/${id}`, onekeyAuthHeaders(creds, Date.now() + offset))).status).toBe(200);
      }
    });
  });

  it('faults use OneKey error bodies (undocumented statuses: shape only)', async () => {
    const id = String(em.emulator.createRefund('onekey', {}).refund_id);
    em.emulator.injectFault('onekey', { kind: 'error', count: 1, status: 503 });
    em.emulator.injectFault('onekey', { kind: 'rate_limit', count: 1, retryAfterS: 2 });
    em.emulator.injectFault('onekey', { kind: 'error', count: 1, status: 401 });
    const e503 = await get(`/refunds/${id}`);
    expect(e503.status).toBe(503);
    expect(e503.body).toEqual({ code: 500, description: 'Internal server error', type: 'INTERNAL_SERVER_ERROR' });
    expectSpec(503, e503.body, false);
    const e429 = await get(`/refunds/${id}`);
    expect(e429.status).toBe(429);
    expect(e429.body).toMatchObject({ code: expect.any(Number), description: expect.any(String), type: 'TOO_MANY_REQUESTS' });
    expectSpec(429, e429.body, false);
    const e401 = await get(`/refunds/${id}`);
    expect(e401.status).toBe(401);
    expectSpec(401, e401.body);
    for (const s of [400, 403, 404, 500, 502]) {
      const r = onekeyEmulator.errorResponse(s);
      expect(r.status).toBe(s);
      expect(r.body).toMatchObject({ code: expect.any(Number), description: expect.any(String), type: expect.stringMatching(/^[A-Z_]+$/) });
    }
  });

  it('answers a non-GET on the refund path with 405 METHOD_NOT_ALLOWED', async () => {
    const id = String(em.emulator.createRefund('onekey', {}).refund_id);
    const body = '{"x":1}';
    const headers = onekeyAuthHeaders(creds, Date.now(), body);
    const res = await request(`${em.url}/onekey/v3/refunds/${id}`, { method: 'POST', headers, body });
    expect(res.statusCode).toBe(405);
    expect(await res.body.json()).toMatchObject({ code: 200, type: 'METHOD_NOT_ALLOWED' });
  });
});

describe('onekey signing recipe (known answers computed with openssl)', () => {
  it('formats X-Date as yyyy-MM-ddTHH:mm:ssZ in UTC without millis', () => {
    expect(formatXDate(Date.UTC(2020, 5, 21, 12, 33, 20, 789))).toBe('2020-06-21T12:33:20Z');
  });

  it('signs X-Date + X-Login + body as lowercase hex HMAC-SHA256', () => {
    // printf '%s' '2020-06-21T12:33:20Zdemo-onekey-login' | openssl dgst -sha256 -hmac demo-onekey-secret
    const get = '06cbc04a8aaea67d2a473d4c253ff2a93fa189e65d68396b5fbc8331f5383e3e';
    const post = 'ebc943436c21421b929cd5938d1082cd09d0dbda0ade4077a4dac3b92e08ed0d';
    expect(onekeySignature('demo-onekey-secret', '2020-06-21T12:33:20Z', 'demo-onekey-login')).toBe(get);
    expect(onekeySignature('demo-onekey-secret', '2020-06-21T12:33:20Z', 'demo-onekey-login', '{"deposit_id":1}')).toBe(post);
    expect(onekeyAuthHeaders({ ...creds, authPrefix: 'OKP' }, Date.UTC(2020, 5, 21, 12, 33, 20))).toEqual({
      'X-Date': '2020-06-21T12:33:20Z',
      'X-Login': 'demo-onekey-login',
      Authorization: `OKP ${get}`,
      'Content-Type': 'application/json',
    });
  });
});

describe('onekey control API', () => {
  it('POST /_emulator/onekey/refunds fills omitted fields and returns 201 with the full native object', async () => {
    const res = await request(`${em.url}/_emulator/onekey/refunds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refund: { amount: 100.5 } }) });
    expect(res.statusCode).toBe(201);
    const { refund } = (await res.body.json()) as { refund: Record<string, unknown> };
    expect(refund).toMatchObject({ status: 'PENDING', amount: 100.5, merchant_invoice_id: expect.any(String) });
    expect(Number.isSafeInteger(refund.refund_id) && (refund.refund_id as number) > 0).toBe(true);
    expect(Number.isSafeInteger(refund.deposit_id)).toBe(true);
    const got = await get(`/refunds/${refund.refund_id}`);
    expect(got.body).toEqual({ deposit_id: refund.deposit_id, merchant_invoice_id: refund.merchant_invoice_id, status: 'PENDING', amount: 100.5 });
  });

  it('keeps given ids (numeric strings included) and refuses malformed ones with 400', async () => {
    const ok = await request(`${em.url}/_emulator/onekey/refunds`, { method: 'POST', body: JSON.stringify({ refund: { refund_id: '168284', deposit_id: 77, status: 'DELIVERED' } }) });
    expect(ok.statusCode).toBe(201);
    expect(((await ok.body.json()) as any).refund).toMatchObject({ refund_id: 168284, deposit_id: 77, status: 'DELIVERED' });
    for (const refund of [{ refund_id: 'abc' }, { refund_id: -4 }, { deposit_id: 1.5 }, { merchant_invoice_id: 5 }, { amount: 'lots' }]) {
      const bad = await request(`${em.url}/_emulator/onekey/refunds`, { method: 'POST', body: JSON.stringify({ refund }) });
      expect(bad.statusCode).toBe(400);
      await bad.body.dump();
    }
  });

  it('lifecycle fills the amount when COMPLETED; demo refunds have fixed ids and end final', () => {
    const r = onekeyEmulator.create({ deposit_id: 12345 }, Date.now());
    expect(r.amount).toBeUndefined();
    const done = onekeyEmulator.withStatus(r, 'COMPLETED', Date.now());
    expect(typeof done.amount).toBe('number');
    expect(onekeyEmulator.withStatus({ ...r, amount: 7.5 }, 'COMPLETED', Date.now()).amount).toBe(7.5);
    const demos = onekeyEmulator.demoRefunds();
    expect(demos.map((d) => d.refund.refund_id)).toEqual([80000001, 80000002, 80000003]);
    for (const d of demos) {
      const last = d.lifecycle[d.lifecycle.length - 1]!;
      expect(['COMPLETED', 'CANCELLED', 'REJECTED']).toContain(last.status);
      expect(last.afterMs).toBeLessThanOrEqual(40_000);
    }
    const seeded = em.emulator.seedDemo().filter((s) => s.provider === 'onekey');
    expect(seeded.map((s) => s.id)).toEqual(['80000001', '80000002', '80000003']);
  });
});
