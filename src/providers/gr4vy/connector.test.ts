import { generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { createRefundClient, type RefundClient } from '../../client.js';
import { ManualClock } from '../../clock.js';
import { loadConfig } from '../../config/index.js';
import { createEmulator } from '../../emulator/index.js';
import { RefundHubError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import { createTransport, type Transport } from '../../transport/http.js';
import { gr4vy } from './index.js';
import { rejectionOf } from '../../../test/support/errors.js';

let em: RunningEmulator;
const clients: RefundClient[] = [];

function client(overrides: Record<string, unknown> = {}, transport: Record<string, unknown> = {}): RefundClient {
  const c = createRefundClient({ config: em.config({ gr4vy: overrides }), logger: silentLogger, transport: { baseDelayMs: 1, ...transport } });
  clients.push(c);
  return c;
}


const create = (input: Record<string, unknown> = {}) => String(em.emulator.createRefund('gr4vy', input).id);

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

describe('gr4vy connector against the emulator', () => {
  it.each([
    ['processing', 'pending'],
    ['succeeded', 'succeeded'],
    ['failed', 'failed'],
    ['declined', 'failed'],
    ['voided', 'canceled'],
    ['refund_in_review', 'unknown'],
  ])('reads a %s refund as %s', async (native, unified) => {
    const id = create({ status: native, amount: 4350, currency: 'GBP', reason: 'Item damaged' });
    const r = await client().getRefund('gr4vy', id);
    expect(r).toMatchObject({ provider: 'gr4vy', account: 'default', id, status: unified, providerStatus: native, amount: 4350, currency: 'GBP', amountDecimal: '43.50', reason: 'Item damaged' });
    expect(r.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(r.paymentId).toBe(em.emulator.getRefund('gr4vy', id)!.transaction_id);
    expect(r.raw).toEqual(em.emulator.getRefund('gr4vy', id));
  });

  it('reports why a declined refund failed', async () => {
    const id = create({ status: 'processing' });
    em.emulator.setStatus('gr4vy', id, 'declined');
    const r = await client().getRefund('gr4vy', id);
    expect(r.status).toBe('failed');
    expect(r.failure).toEqual({ code: 'refund_declined', message: 'Refund declined by the issuer' });
  });

  it('finds an upper-case id', async () => {
    const id = create();
    expect((await client().getRefund('gr4vy', ` ${id.toUpperCase()} `)).id).toBe(id);
  });

  it('maps 404 to not_found', async () => {
    const e = await rejectionOf(client().getRefund('gr4vy', '00000000-0000-4000-8000-000000000000'));
    expect(e.code).toBe('not_found');
    expect(e.httpStatus).toBe(404);
  });

  it('maps a token from the wrong key to authentication_failed', async () => {
    const id = create();
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const e = await rejectionOf(client({ privateKey: otherKey }).getRefund('gr4vy', id));
    expect(e.code).toBe('authentication_failed');
    expect(e.httpStatus).toBe(401);
    expect(e.message).not.toContain('PRIVATE KEY');
  });

  it('maps a token without a refund-reading scope to authentication_failed naming the scope', async () => {
    const id = create();
    const e = await rejectionOf(client({ scopes: ['buyers.read'] }).getRefund('gr4vy', id));
    expect(e.code).toBe('authentication_failed');
    expect(e.httpStatus).toBe(403);
    expect(e.message).toContain('transactions.read');
    expect((await client({ scopes: ['transactions.read'] }).getRefund('gr4vy', id)).id).toBe(id);
  });

  it('retries a 5xx and then succeeds', async () => {
    const id = create({ status: 'succeeded' });
    em.emulator.injectFault('gr4vy', { kind: 'error', count: 2, status: 502 });
    expect((await client().getRefund('gr4vy', id)).status).toBe('succeeded');
    expect(em.emulator.requests('gr4vy')).toHaveLength(3);
  });

  it('gives up after 3 attempts of 5xx with provider_error', async () => {
    const id = create();
    em.emulator.injectFault('gr4vy', { kind: 'error', count: 5, status: 500 });
    const e = await rejectionOf(client().getRefund('gr4vy', id));
    expect(e.code).toBe('provider_error');
    expect(e.httpStatus).toBe(500);
    expect(em.emulator.requests('gr4vy')).toHaveLength(3);
  });

  it('honours Retry-After on 429', async () => {
    const id = create();
    em.emulator.injectFault('gr4vy', { kind: 'rate_limit', count: 1, retryAfterS: 1 });
    const started = Date.now();
    expect((await client().getRefund('gr4vy', id)).id).toBe(id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(em.emulator.requests('gr4vy')).toHaveLength(2);
  });

  it('surfaces a long Retry-After as rate_limited', async () => {
    const id = create();
    em.emulator.injectFault('gr4vy', { kind: 'rate_limit', count: 1, retryAfterS: 30 });
    const e = await rejectionOf(client().getRefund('gr4vy', id));
    expect(e.code).toBe('rate_limited');
    expect(e.retryAfterMs).toBe(30_000);
  });

  it('retries a connection reset', async () => {
    const id = create();
    em.emulator.injectFault('gr4vy', { kind: 'reset', count: 1 });
    expect((await client().getRefund('gr4vy', id)).id).toBe(id);
    expect(em.emulator.requests('gr4vy')).toHaveLength(2);
  });

  it('maps malformed JSON to invalid_response', async () => {
    const id = create();
    em.emulator.injectFault('gr4vy', { kind: 'malformed', count: 5 });
    expect((await rejectionOf(client().getRefund('gr4vy', id))).code).toBe('invalid_response');
  });

  it('maps latency beyond the timeout to provider_error', async () => {
    const id = create();
    em.emulator.injectFault('gr4vy', { kind: 'latency', count: 3, delayMs: 1000 });
    const e = await rejectionOf(client({}, { timeoutMs: 200 }).getRefund('gr4vy', id));
    expect(e.code).toBe('provider_error');
    expect(e.message).toContain('timed out');
  });

  it.each(['not-a-uuid', '../transactions', '6a1d4e46-14ed-4fe1-a45f-eff4e025d21', ''])('rejects id %j before any request', async (bad) => {
    const e = await rejectionOf(client().getRefund('gr4vy', bad));
    expect(e.code).toBe('invalid_input');
    expect(em.emulator.requests('gr4vy')).toHaveLength(0);
  });

  it('sends a Bearer JWT (masked in the request log) and the merchant account header when configured', async () => {
    const id = create();
    await client({ merchantAccountId: 'merchant-7' }).getRefund('gr4vy', id);
    const [req] = em.emulator.requests('gr4vy');
    expect(req!.path).toBe(`/gr4vy/refunds/${id}`);
    expect(req!.headers.authorization).toBe('Bearer ****');
    expect(req!.headers['x-gr4vy-merchant-account-id']).toBe('merchant-7');
    await client().getRefund('gr4vy', id);
    expect(em.emulator.requests('gr4vy')[1]!.headers['x-gr4vy-merchant-account-id']).toBeUndefined();
  });

  it('works with a base URL that carries a path prefix', async () => {
    const id = create();
    expect(em.settings.gr4vy.baseUrl).toMatch(/\/gr4vy$/);
    expect((await client().getRefund('gr4vy', id)).id).toBe(id);
  });
});

describe('gr4vy token reuse over HTTP', () => {
  it('reuses one JWT across requests and signs a new one near expiry (injected clock)', async () => {
    const clock = new ManualClock(Date.now());
    const { emulator } = createEmulator({ env: {}, clock });
    const url = await emulator.listen(0, '127.0.0.1');
    const real = createTransport({ baseDelayMs: 1, clock });
    const tokens: string[] = [];
    // The real transport, with each attempt's authorization header noted on the way out.
    const transport: Transport = {
      send: (req) => real.send(req),
      getJson: (req, classify) =>
        real.getJson({ ...req, headers: async () => {
          const h = await req.headers();
          tokens.push(h.authorization!);
          return h;
        } }, classify),
      close: () => real.close(),
    };
    const config = loadConfig({ env: {} });
    config.accounts.get('gr4vy')!.set('default', { ...gr4vy.demoSettings(), baseUrl: `${url}/gr4vy` });
    const c = createRefundClient({ config, transport, clock, logger: silentLogger });
    try {
      const id = String(emulator.createRefund('gr4vy', { status: 'succeeded' }).id);
      await c.getRefund('gr4vy', id);
      await c.getRefund('gr4vy', id);
      clock.advance(30_000);
      await c.getRefund('gr4vy', id);
      expect(new Set(tokens).size).toBe(1);
      clock.advance(15_000); // 10 s of life left: renewed
      await c.getRefund('gr4vy', id);
      expect(tokens).toHaveLength(4);
      expect(tokens[3]).not.toBe(tokens[0]);
      expect(tokens[3]).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
      // The first token, now expired on the emulator's clock, is refused.
      clock.advance(30_000);
      const res = await real.send({ provider: 'gr4vy', method: 'GET', url: `${url}/gr4vy/refunds/${id}`, headers: () => ({ authorization: tokens[0]! }) });
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toMatchObject({ type: 'error', code: 'unauthorized', status: 401 });
    } finally {
      await c.close();
      await real.close();
      await emulator.close();
    }
  });
});
