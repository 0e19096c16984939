import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { validateResponse, validateSchema } from '../../../test/support/openapi.js';
import { pollUntil } from '../../../test/support/wait.js';
import { ziina } from './index.js';

const SPEC_PATH = '/refund/{id}';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let em: RunningEmulator;
const auth = { authorization: 'Bearer demo-ziina-token' };

async function get(id: string, headers: Record<string, string> = auth): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(`${em.settings.ziina.baseUrl}/refund/${encodeURIComponent(id)}`, { headers });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

function expectRefundDto(body: unknown): void {
  const v = validateResponse('ziina', SPEC_PATH, 200, body);
  expect(v.documented).toBe(true);
  expect(v.errors).toEqual([]);
  expect(v.valid).toBe(true);
}

function expectErrorDto(status: number, body: unknown): void {
  const v = validateSchema('ziina', '/components/schemas/ErrorDto', body);
  expect(v.errors).toEqual([]);
  expect(v.valid).toBe(true);
  expect((body as { code: string }).code).toBe(String(status));
}

beforeAll(async () => {
  em = await startEmulator();
});
afterEach(() => em.emulator.reset());
afterAll(async () => {
  await em.close();
});

describe('ziina emulator responses match specs/ziina.yaml', () => {
  for (const status of ['pending', 'completed', 'failed']) {
    it(`200 for a ${status} refund is a valid RefundDto`, async () => {
      const r = em.emulator.createRefund('ziina', { status });
      const res = await get(String(r.id));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(res.body).toEqual(r);
      expectRefundDto(res.body);
      const error = (res.body as { error: unknown }).error;
      if (status === 'failed') expect(validateSchema('ziina', '/components/schemas/ErrorDto', error).valid).toBe(true);
      else expect(error).toBeNull();
    });
  }

  it('the spec documents only `default`, and an error body is not a RefundDto', () => {
    // Guards the test itself: validating ErrorDto bodies against the 200 schema would be meaningless.
    expect(validateResponse('ziina', SPEC_PATH, 200, { message: 'Not Found', code: '404' }).valid).toBe(false);
  });

  it('401 for a missing token, a wrong token, and a non-Bearer scheme', async () => {
    const r = em.emulator.createRefund('ziina', {});
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: 'Basic ZGVtby16aWluYS10b2tlbjo=' }, { authorization: 'demo-ziina-token' }]) {
      const res = await get(String(r.id), headers);
      expect(res.status).toBe(401);
      expectErrorDto(401, res.body);
    }
  });

  it('accepts the Bearer scheme case-insensitively', async () => {
    const r = em.emulator.createRefund('ziina', {});
    expect((await get(String(r.id), { authorization: 'bearer demo-ziina-token' })).status).toBe(200);
  });

  it('401 comes before 404, so ids cannot be probed without a token', async () => {
    const res = await get('no-such-refund', {});
    expect(res.status).toBe(401);
  });

  it('404 for an unknown refund and for an unknown route', async () => {
    const res = await get('no-such-refund');
    expect(res.status).toBe(404);
    expectErrorDto(404, res.body);
    const other = await fetch(`${em.settings.ziina.baseUrl}/payment_intent/abc`, { headers: auth });
    expect(other.status).toBe(404);
    expectErrorDto(404, await other.json());
  });

  for (const status of [500, 502, 503]) {
    it(`${status} fault is an ErrorDto`, async () => {
      const r = em.emulator.createRefund('ziina', {});
      em.emulator.injectFault('ziina', { kind: 'error', status, count: 1 });
      const res = await get(String(r.id));
      expect(res.status).toBe(status);
      expectErrorDto(status, res.body);
    });
  }

  it('429 fault is an ErrorDto with the injected Retry-After', async () => {
    const r = em.emulator.createRefund('ziina', {});
    em.emulator.injectFault('ziina', { kind: 'rate_limit', count: 1, retryAfterS: 7 });
    const res = await get(String(r.id));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expectErrorDto(429, res.body);
  });
});

describe('ziina emulator control API', () => {
  it('POST /_emulator/ziina/refunds fills omitted fields with plausible values', async () => {
    const before = Date.now();
    const res = await fetch(`${em.url}/_emulator/ziina/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refund: { amount: 2500 } }),
    });
    expect(res.status).toBe(201);
    const { refund } = (await res.json()) as { refund: Record<string, unknown> };
    expect(refund).toMatchObject({ amount: 2500, currency_code: 'AED', status: 'pending', error: null });
    expect(refund.id).toMatch(UUID_RE);
    expect(refund.payment_intent_id).toMatch(UUID_RE);
    // created_at is a millisecond unix timestamp string.
    expect(refund.created_at).toMatch(/^\d{13}$/);
    expect(Number(refund.created_at)).toBeGreaterThanOrEqual(before);
    expectRefundDto(refund);
    expect((await get(String(refund.id))).body).toEqual(refund);
  });

  it('a lifecycle advances the status; failing adds an ErrorDto', async () => {
    const res = await fetch(`${em.url}/_emulator/ziina/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refund: {}, lifecycle: [{ status: 'failed', afterMs: 20 }] }),
    });
    const { refund } = (await res.json()) as { refund: { id: string } };
    const body = await pollUntil(async () => {
      const r = await get(refund.id);
      return (r.body as { status: string }).status === 'failed' ? r.body : undefined;
    }, { timeoutMs: 5000, what: 'ziina lifecycle to reach failed' });
    expectRefundDto(body);
    expect((body as { error: unknown }).error).toEqual({ message: 'Refund was declined by the card issuer', code: '422' });
  });

  it('withStatus clears the error when a refund leaves failed', () => {
    const failed = ziina.emulator.create({ status: 'failed' }, 0);
    expect(failed.error).not.toBeNull();
    expect(ziina.emulator.withStatus(failed, 'completed', 1).error).toBeNull();
  });

  it('rejects a non-string id', async () => {
    const res = await fetch(`${em.url}/_emulator/ziina/refunds`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refund: { id: 42 } }) });
    expect(res.status).toBe(400);
  });

  it('demo refunds have fixed ids, valid bodies and lifecycles ending final within 40 s', async () => {
    const demos = ziina.emulator.demoRefunds();
    expect(demos.length).toBeGreaterThanOrEqual(2);
    expect(demos.map((d) => d.refund.id)).toEqual(ziina.emulator.demoRefunds().map((d) => d.refund.id));
    const finals = new Set<string>();
    for (const d of demos) {
      expect(String(d.refund.id)).toMatch(UUID_RE);
      expect(d.refund.currency_code).toBe('AED');
      const last = d.lifecycle.at(-1)!;
      expect(last.afterMs).toBeLessThanOrEqual(40_000);
      expect(['completed', 'failed']).toContain(last.status);
      finals.add(last.status);
      const created = em.emulator.createRefund('ziina', d.refund);
      expectRefundDto((await get(String(created.id))).body);
      const end = ziina.emulator.withStatus(created, last.status, Date.now());
      expectRefundDto(end);
    }
    expect(finals).toEqual(new Set(['completed', 'failed']));
  });
});
