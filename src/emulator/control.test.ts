import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../test/support/emulator.js';
import { pollUntil } from '../../test/support/wait.js';

/** The emulator's control API over real HTTP: clearing faults keeps refunds; the request log masks secrets. */

let em: RunningEmulator;
const ziinaAuth = { authorization: 'Bearer demo-ziina-token' };

beforeAll(async () => {
  em = await startEmulator();
});
beforeEach(() => em.emulator.reset());
afterAll(async () => {
  await em.close();
});

const getZiina = (id: string, query = '') => fetch(`${em.settings.ziina.baseUrl}/refund/${encodeURIComponent(id)}${query}`, { headers: ziinaAuth });
const control = (method: string, path: string, body?: unknown) =>
  fetch(`${em.url}/_emulator/${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });

describe('DELETE /_emulator/faults', () => {
  it('drops every pending fault and keeps the refunds', async () => {
    const id = String(em.emulator.createRefund('ziina', { status: 'pending' }, [{ status: 'completed', afterMs: 60_000 }]).id);
    expect((await control('POST', 'ziina/faults', { kind: 'error', status: 503, count: 50 })).status).toBe(201);
    expect((await control('POST', 'stan/faults', { kind: 'rate_limit', count: 5 })).status).toBe(201);
    expect((await getZiina(id)).status).toBe(503);

    const res = await control('DELETE', 'faults');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ cleared: 2 });

    const after = await getZiina(id);
    expect(after.status).toBe(200);
    expect(await after.json()).toMatchObject({ id, status: 'pending' });
  });

  it('DELETE /_emulator/{provider}/faults clears only that provider', async () => {
    const z = String(em.emulator.createRefund('ziina', { status: 'pending' }).id);
    await control('POST', 'ziina/faults', { kind: 'error', status: 500, count: 10 });
    await control('POST', 'tazapay/faults', { kind: 'error', status: 500, count: 10 });
    const res = await control('DELETE', 'ziina/faults');
    expect(await res.json()).toEqual({ cleared: 1 });
    expect((await getZiina(z)).status).toBe(200);
    // Tazapay's fault is still pending: one clear over HTTP through the test helper drops it.
    expect(await em.clearFaults('tazapay')).toBe(1);
    expect(await em.clearFaults()).toBe(0);
  });

  it('an unknown provider is 404', async () => {
    expect((await control('DELETE', 'paypal/faults')).status).toBe(404);
  });
});

describe('the request log', () => {
  it('masks credential query values as well as secret headers', async () => {
    const id = String(em.emulator.createRefund('ziina', { status: 'pending' }).id);
    await getZiina(id, '?access_token=leak-me-1&page=2');
    const res = await control('GET', 'ziina/requests');
    const { data } = (await res.json()) as { data: Array<{ path: string; headers: Record<string, string> }> };
    const last = data[data.length - 1]!;
    expect(last.path).toBe(`/ziina/api/refund/${id}?access_token=****&page=2`);
    expect(last.headers.authorization).toBe('Bearer ****');
    expect(JSON.stringify(data)).not.toContain('leak-me-1');
  });
});

describe('request timing and the fixed latency', () => {
  it('records when each request started and ended, and streams it to listeners', async () => {
    const id = String(em.emulator.createRefund('ziina', { status: 'pending' }).id);
    const seen: Array<{ provider: string; path: string; startMs: number; endMs: number | null }> = [];
    const off = em.emulator.onRequest((provider, r) => seen.push({ provider, path: r.path, startMs: r.startMs, endMs: r.endMs }));
    em.emulator.injectFault('ziina', { kind: 'latency', count: 1, delayMs: 120 });
    const before = Date.now();
    expect((await getZiina(id)).status).toBe(200);
    off();
    await getZiina(id);
    expect(seen).toHaveLength(1);
    const r = seen[0]!;
    expect(r).toMatchObject({ provider: 'ziina', path: `/ziina/api/refund/${id}` });
    expect(r.startMs).toBeGreaterThanOrEqual(before - 1);
    expect(r.endMs! - r.startMs).toBeGreaterThanOrEqual(115);
    em.emulator.injectFault('ziina', { kind: 'rate_limit', count: 1, retryAfterS: 3 });
    expect((await getZiina(id)).status).toBe(429);
    const { data } = (await (await control('GET', 'ziina/requests')).json()) as { data: Array<{ startMs: number; endMs: number | null; status: number | null }> };
    expect(data).toHaveLength(3);
    expect(data.map((d) => d.status)).toEqual([200, 200, 429]);
    expect(data.every((d) => typeof d.startMs === 'number' && d.endMs !== null && d.endMs >= d.startMs)).toBe(true);
  });

  it('POST /_emulator/latency delays every request until set back to 0; per provider overrides it', async () => {
    const id = String(em.emulator.createRefund('ziina', { status: 'pending' }).id);
    // The emulator's own span of the request (arrival to last byte), not the test's round trip:
    // on a loaded machine the client side alone can exceed the 150 ms this tells apart.
    const timed = async () => {
      const res = await getZiina(id);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      const r = await pollUntil(() => {
        const last = em.emulator.requests('ziina').at(-1);
        return last?.endMs != null ? last : undefined;
      }, { what: 'the request recorded as ended' });
      return r.endMs! - r.startMs;
    };
    try {
      expect((await control('POST', 'latency', { delayMs: 150 })).status).toBe(200);
      // Not counted down like the latency fault: every request waits.
      expect(await timed()).toBeGreaterThanOrEqual(145);
      expect(await timed()).toBeGreaterThanOrEqual(145);
      expect((await control('POST', 'ziina/latency', { delayMs: 0 })).status).toBe(200);
      expect(await timed()).toBeLessThan(145);
      expect((await control('POST', 'stan/latency', { delayMs: -1 })).status).toBe(400);
      expect((await control('POST', 'latency', { delayMs: 'soon' })).status).toBe(400);
      expect((await control('POST', 'paypal/latency', { delayMs: 1 })).status).toBe(404);
    } finally {
      em.emulator.setLatency(0);
    }
  });
});
