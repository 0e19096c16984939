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
import { describeConnectorConformance } from '../../../test/support/connector-conformance.js';

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

  it('reports no failure on a succeeded refund that carries a raw_response_description (kept in raw)', async () => {
    const id = create({ status: 'succeeded', raw_response_description: 'Approved with warnings', error_code: null });
    const r = await client().getRefund('gr4vy', id);
    expect(r).toMatchObject({ status: 'succeeded', failure: null, raw: { raw_response_description: 'Approved with warnings' } });
  });

  it('finds an upper-case id', async () => {
    const id = create();
    expect((await client().getRefund('gr4vy', ` ${id.toUpperCase()} `)).id).toBe(id);
  });

  it('maps a token without a refund-reading scope to authentication_failed naming the scope', async () => {
    const id = create();
    const e = await rejectionOf(client({ scopes: ['buyers.read'] }).getRefund('gr4vy', id));
    expect(e.code).toBe('authentication_failed');
    expect(e.httpStatus).toBe(403);
    expect(e.message).toContain('transactions.read');
    expect((await client({ scopes: ['transactions.read'] }).getRefund('gr4vy', id)).id).toBe(id);
  });

  it('sends the merchant account header when configured', async () => {
    const id = create();
    await client({ merchantAccountId: 'merchant-7' }).getRefund('gr4vy', id);
    const [req] = em.emulator.requests('gr4vy');
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

describeConnectorConformance('gr4vy', {
  withResponseId: (body, id) => ({ ...(body as object), id }),
  sameIdForms: (id) => [id, id.toUpperCase()],
  create: (em, fields = {}) => String(em.emulator.createRefund('gr4vy', fields).id),
  succeededFields: { status: 'succeeded' },
  malformedIds: ['not-a-uuid', '../transactions', '6a1d4e46-14ed-4fe1-a45f-eff4e025d21', ''],
  unknownId: '00000000-0000-4000-8000-000000000000',
  // A token signed with another key.
  rejectedCredentials: [{ overrides: { privateKey: generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string } }],
  authScheme: 'Bearer',
  path: (id) => `/gr4vy/refunds/${id}`,
  secrets: ['PRIVATE KEY'],
});
