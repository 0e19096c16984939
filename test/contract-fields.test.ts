import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRefundClient, type RefundClient } from '../src/client.js';
import { silentLogger } from '../src/logger.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { call, startHub, tempDir, type RunningHub } from './support/hub.js';
import { validateResponse } from './support/openapi.js';
import { startRewritingProxy, type RewritingProxy } from './support/rewriting-proxy.js';
import { CLI_TEST_TIMEOUT_MS, runCli } from './support/run-cli.js';

// Tests here start bin/refundhub: seconds apiece on a loaded machine (see CLI_TEST_TIMEOUT_MS).
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

/**
 * Issue 9 end to end against the real emulator: the contract fields through the connectors, the
 * API and the CLI; search by the merchant's reference; OneKey's proof of refund (and what happens
 * when a proxy hands back something that is not one).
 */

let em: RunningEmulator;
let client: RefundClient;
let proxy: RewritingProxy;
let proxied: RefundClient;
let hub: RunningHub;
const tmp = tempDir('refundhub-contract-');

beforeAll(async () => {
  em = await startEmulator();
  client = createRefundClient({ config: em.config(), logger: silentLogger, transport: { maxAttempts: 1 } });
  proxy = await startRewritingProxy(em.url);
  proxied = createRefundClient({ config: em.config({ onekey: { baseUrl: proxy.base(em.settings.onekey.baseUrl as string) } }), logger: silentLogger, transport: { maxAttempts: 1 } });
  hub = await startHub(em, join(tmp.dir, 'hub.db'));
});
afterAll(async () => {
  await hub?.close();
  await client?.close();
  await proxied?.close();
  await proxy?.close();
  await em?.close();
  tmp.cleanup();
});
beforeEach(() => proxy.rewrite(null));

describe('contract fields through each connector, against the emulator', () => {
  it('tazapay: reference_id, customer_receives (two implied decimals, JPY and KWD), metadata, balance_transaction', async () => {
    const sgd = em.emulator.createRefund('tazapay', { amount: 90000, currency: 'USD', customer_receives: { currency: 'SGD', amount: 133200 }, reference_id: 'order-1042', metadata: { order_id: '1042' }, balance_transaction: 'btr_abc123' });
    expect(validateResponse('tazapay', '/v3/refund/{id}', 200, { status: 'success', message: '', data: sgd }).valid).toBe(true);
    expect(await client.getRefund('tazapay', String(sgd.id))).toMatchObject({
      merchantReference: 'order-1042',
      customerReceives: { amount: 133200, currency: 'SGD', amountDecimal: '1332.00' },
      metadata: { order_id: '1042' },
      providerReference: 'btr_abc123',
    });
    const jpy = em.emulator.createRefund('tazapay', { customer_receives: { currency: 'JPY', amount: 1_000_000 } });
    expect((await client.getRefund('tazapay', String(jpy.id))).customerReceives).toEqual({ amount: 10000, currency: 'JPY', amountDecimal: '10000' });
    const kwd = em.emulator.createRefund('tazapay', { customer_receives: { currency: 'KWD', amount: 10089 } });
    expect((await client.getRefund('tazapay', String(kwd.id))).customerReceives).toEqual({ amount: 100890, currency: 'KWD', amountDecimal: '100.890' });
    const nulls = em.emulator.createRefund('tazapay', { customer_receives: null, metadata: null, reference_id: null, balance_transaction: null });
    expect(await client.getRefund('tazapay', String(nulls.id))).toMatchObject({ merchantReference: null, customerReceives: null, metadata: null, providerReference: null });
  });

  it("tazapay: the emulator's own defaults are plausible and map", async () => {
    const r = em.emulator.createRefund('tazapay', {});
    const got = await client.getRefund('tazapay', String(r.id));
    expect(got.merchantReference).toMatch(/^order-/);
    expect(got.customerReceives).toEqual({ amount: got.amount, currency: got.currency, amountDecimal: got.amountDecimal });
    expect(got.providerReference).toMatch(/^btr_/);
  });

  it('gr4vy: external_identifier, else the transaction one; payment_service_refund_id', async () => {
    const own = em.emulator.createRefund('gr4vy', { status: 'succeeded', external_identifier: 'refund-12345', transaction_external_identifier: 'order-9', payment_service_refund_id: 're_7jZXl4gBUNl0' });
    expect(await client.getRefund('gr4vy', String(own.id))).toMatchObject({ merchantReference: 'refund-12345', providerReference: 're_7jZXl4gBUNl0', customerReceives: null, metadata: null });
    const fallback = em.emulator.createRefund('gr4vy', { status: 'processing', external_identifier: null, transaction_external_identifier: 'order-9' });
    expect(await client.getRefund('gr4vy', String(fallback.id))).toMatchObject({ merchantReference: 'order-9', providerReference: null });
    const none = em.emulator.createRefund('gr4vy', { external_identifier: null, transaction_external_identifier: null });
    expect((await client.getRefund('gr4vy', String(none.id))).merchantReference).toBeNull();
  });

  it('onekey: merchant_invoice_id; ziina and stan: none', async () => {
    const ok = em.emulator.createRefund('onekey', { merchant_invoice_id: 'INV-77' });
    expect(await client.getRefund('onekey', String(ok.refund_id))).toMatchObject({ merchantReference: 'INV-77', customerReceives: null, metadata: null, providerReference: null });
    for (const provider of ['ziina', 'stan'] as const) {
      const r = em.emulator.createRefund(provider, {});
      const id = String(provider === 'stan' ? r.refund_id : r.id);
      expect(await client.getRefund(provider, id)).toMatchObject({ merchantReference: null, customerReceives: null, metadata: null, providerReference: null });
    }
  });
});

describe('refundhub get', () => {
  it('--json prints the four fields; the human view shows those the provider gave', async () => {
    const { getProvider } = await import('../src/providers/registry.js');
    const env: Record<string, string> = {};
    for (const [k, name] of Object.entries(getProvider('tazapay').config.env)) if (em.settings.tazapay[k] !== undefined) env[name] = String(em.settings.tazapay[k]);
    const r = em.emulator.createRefund('tazapay', { reference_id: 'order-1042', customer_receives: { currency: 'SGD', amount: 133200 }, balance_transaction: 'btr_9', metadata: { k: 'v' } });
    const json = await runCli(['get', 'tazapay', String(r.id), '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ merchantReference: 'order-1042', customerReceives: { amount: 133200, currency: 'SGD', amountDecimal: '1332.00' }, metadata: { k: 'v' }, providerReference: 'btr_9' });
    const human = await runCli(['get', 'tazapay', String(r.id)], env);
    expect(human.stdout).toMatch(/^Reference +order-1042$/m);
    expect(human.stdout).toMatch(/^Customer gets +1332\.00 SGD$/m);
    expect(human.stdout).toMatch(/^Provider ref +btr_9$/m);
  });
});

describe('search by merchant reference (API and CLI) and the stored fields', () => {
  it('GET /v1/refunds?merchantReference= and q= find the refund; the refund object carries every field', async () => {
    const key = await hub.key(['refunds:read', 'refunds:write']);
    const wanted = em.emulator.createRefund('tazapay', { reference_id: 'shop-order-5001', customer_receives: { currency: 'SGD', amount: 133200 }, metadata: { a: 'b' } });
    const other = em.emulator.createRefund('tazapay', { reference_id: 'shop-order-5002' });
    for (const r of [wanted, other]) expect((await call(`${hub.url}/v1/refunds`, { key, json: { provider: 'tazapay', id: r.id } })).status).toBe(201);
    const found = await call(`${hub.url}/v1/refunds?merchantReference=shop-order-5001`, { key });
    expect(found.status).toBe(200);
    expect(found.body.data.map((r: { id: string }) => r.id)).toEqual([wanted.id]);
    expect(found.body.data[0]).toMatchObject({ merchantReference: 'shop-order-5001', customerReceives: { amount: 133200, currency: 'SGD', amountDecimal: '1332.00' }, metadata: { a: 'b' } });
    // The single read and the list share one field order.
    const single = await call(`${hub.url}/v1/refunds/tazapay/${String(wanted.id)}`, { key });
    expect(Object.keys(single.body)).toEqual(Object.keys(found.body.data[0]));
    expect((await call(`${hub.url}/v1/refunds?q=shop-order-5002`, { key })).body.data.map((r: { id: string }) => r.id)).toEqual([other.id]);
    // The outgoing webhook payload carries the same fields (its refund is the stored one).
    em.emulator.setStatus('tazapay', String(wanted.id), 'succeeded');
    await call(`${hub.url}/v1/refunds/tazapay/${String(wanted.id)}?refresh=true`, { key });
    const events = await hub.hub.db.selectFrom('events').select('payload').where('refund_id', '=', String(wanted.id)).execute();
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(JSON.parse(e.payload).data.refund).toMatchObject({ merchantReference: 'shop-order-5001', customerReceives: { amountDecimal: '1332.00', currency: 'SGD' }, metadata: { a: 'b' } });
    expect((await call(`${hub.url}/v1/refunds?merchantReference=SHOP-ORDER-5001`, { key })).body.data).toEqual([]);
    const tooLong = await call(`${hub.url}/v1/refunds?merchantReference=${'x'.repeat(1025)}`, { key });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.code).toBe('invalid_input');
  });

  it('refundhub list --reference REF on the same store', async () => {
    const r = em.emulator.createRefund('onekey', { merchant_invoice_id: 'INV-CLI-1' });
    await hub.hub.track('onekey', String(r.refund_id));
    const run = await runCli(['list', '--reference', 'INV-CLI-1', '--json'], { REFUNDHUB_DATABASE_URL: `sqlite:${hub.dbFile}` });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const page = JSON.parse(run.stdout) as { data: Array<{ id: string; merchantReference: string }> };
    expect(page.data.map((x) => [x.id, x.merchantReference])).toEqual([[String(r.refund_id), 'INV-CLI-1']]);
  });
});

describe('proof of refund (OneKey voucher)', () => {
  it('API: application/pdf for a completed tracked refund; clear 404 codes otherwise; refunds:read needed', async () => {
    const key = await hub.key(['refunds:read']);
    const done = em.emulator.createRefund('onekey', { status: 'COMPLETED', amount: 505.95, merchant_invoice_id: 'INV-PDF-1' });
    const pending = em.emulator.createRefund('onekey', { status: 'PENDING' });
    const ziina = em.emulator.createRefund('ziina', {});
    for (const [p, id] of [['onekey', done.refund_id], ['onekey', pending.refund_id], ['ziina', ziina.id]] as const) await hub.hub.track(p, String(id));

    const res = await fetch(`${hub.url}/v1/refunds/onekey/${String(done.refund_id)}/voucher`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    const pdf = Buffer.from(await res.arrayBuffer());
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.toString('latin1')).toContain('INV-PDF-1');

    const none = await call(`${hub.url}/v1/refunds/onekey/${String(pending.refund_id)}/voucher`, { key });
    expect([none.status, none.body.error.code]).toEqual([404, 'voucher_not_available']);
    const other = await call(`${hub.url}/v1/refunds/ziina/${String(ziina.id)}/voucher`, { key });
    expect([other.status, other.body.error.code]).toEqual([404, 'voucher_not_supported']);
    const untracked = await call(`${hub.url}/v1/refunds/onekey/987654321/voucher`, { key });
    expect([untracked.status, untracked.body.error.code]).toEqual([404, 'not_found']);
    const noScope = await call(`${hub.url}/v1/refunds/onekey/${String(done.refund_id)}/voucher`, { key: await hub.key(['webhooks:write']) });
    expect(noScope.status).toBe(403);
    // The voucher was fetched on demand only: the stored refund (and its raw) never holds it.
    const stored = await call(`${hub.url}/v1/refunds/onekey/${String(done.refund_id)}`, { key });
    expect(stored.text).not.toContain('voucher');
  });

  it('the access log of a voucher download holds the path and status, never the document', async () => {
    const { pino } = await import('pino');
    const { buildApp } = await import('../src/server/app.js');
    const lines: string[] = [];
    const logged = buildApp(hub.hub, { logger: pino({ level: 'debug', base: undefined }, { write: (chunk: string) => void lines.push(chunk) }) as never });
    try {
      const done = em.emulator.createRefund('onekey', { status: 'COMPLETED', amount: 10 });
      await hub.hub.track('onekey', String(done.refund_id));
      const key = await hub.key(['refunds:read']);
      const res = await logged.inject({ method: 'GET', url: `/v1/refunds/onekey/${String(done.refund_id)}/voucher`, headers: { authorization: `Bearer ${key}` } });
      expect(res.statusCode).toBe(200);
      const base64 = res.rawPayload.toString('base64');
      expect(lines.some((l) => l.includes('/voucher') && l.includes('200'))).toBe(true);
      for (const l of lines) {
        expect(l).not.toContain('%PDF');
        expect(l).not.toContain(base64.slice(0, 40));
        expect(l).not.toContain(key);
      }
    } finally {
      await logged.close();
    }
  });

  it('CLI: writes the PDF (exit 0); exit 3 when there is none yet; exit 2 for a provider with no such document', async () => {
    const done = em.emulator.createRefund('onekey', { status: 'COMPLETED', amount: 10 });
    const pending = em.emulator.createRefund('onekey', { status: 'PENDING' });
    const env: Record<string, string> = {};
    const { getProvider } = await import('../src/providers/registry.js');
    for (const id of ['onekey', 'stan'] as const) {
      for (const [k, name] of Object.entries(getProvider(id).config.env)) if (em.settings[id][k] !== undefined) env[name] = String(em.settings[id][k]);
    }
    const out = join(tmp.dir, 'proof.pdf');
    const ok = await runCli(['voucher', 'onekey', String(done.refund_id), '--out', out], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(out);
    expect(readFileSync(out).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    // Never the document on the terminal.
    expect(ok.stdout).not.toContain('JVBER');

    const notYet = await runCli(['voucher', 'onekey', String(pending.refund_id), '--out', join(tmp.dir, 'none.pdf')], env);
    expect(notYet.code).toBe(3);
    expect(notYet.stderr).toMatch(/no proof of refund yet/);
    const stan = await runCli(['voucher', 'stan', '5f0c8a43-0d56-4c4e-9a5e-2f1f3d9b7a01', '--out', join(tmp.dir, 'stan.pdf')], env);
    expect(stan.code).toBe(2);
    expect(stan.stderr).toMatch(/issues no proof-of-refund document/);
    const noOut = await runCli(['voucher', 'onekey', String(done.refund_id)], env);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--out/);
  });

  it('a voucher that is not valid Base64, or not a PDF, is invalid_response (through a rewriting proxy)', async () => {
    const done = em.emulator.createRefund('onekey', { status: 'COMPLETED', amount: 10 });
    const id = String(done.refund_id);
    expect((await proxied.getVoucher('onekey', id)).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    for (const voucher of ['not base64 at all!', 'JVBERi0xLjQK*', Buffer.from('<html>not a pdf</html>').toString('base64'), 'JVBER']) {
      proxy.rewrite((body) => ({ ...(body as object), voucher }));
      await expect(proxied.getVoucher('onekey', id)).rejects.toMatchObject({ code: 'invalid_response' });
    }
    // The refund itself still reads (a bad voucher costs only the voucher).
    expect((await proxied.getRefund('onekey', id)).status).toBe('succeeded');
  });
});
