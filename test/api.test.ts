import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderId } from '../src/domain/refund.js';
import { getProvider } from '../src/providers/registry.js';
import { buildApp, TokenBucketLimiter } from '../src/server/app.js';
import { resumeProvider } from '../src/store/provider-pauses.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { call, startHub, startReceiver, tempDir, type RunningHub, type WebhookReceiver } from './support/hub.js';
import { pollUntil } from './support/wait.js';

/**
 * The HTTP API over real HTTP (127.0.0.1), on a real SQLite file, against the real emulator.
 * Loops are not started: the test drives syncs through the API and the deliverer by `tick()`.
 */

const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
const finalNative = (p: ProviderId): string => getProvider(p).emulator.demoRefunds()[0]!.lifecycle.at(-1)!.status;

let tmp: ReturnType<typeof tempDir>;
let em: RunningEmulator;
let h: RunningHub;
let rx: WebhookReceiver;
let admin: string;
let reader: string;
let hooks: string;

function newRefund(p: ProviderId, input: Record<string, unknown> = {}): string {
  const r = em.emulator.createRefund(p, input);
  return getProvider(p).emulator.idOf(r);
}

beforeAll(async () => {
  tmp = tempDir();
  em = await startEmulator();
  h = await startHub(em, join(tmp.dir, 'api.db'), { apiKeyCacheMs: 200 });
  // The API test drives syncs itself; notifications would race with it.
  em.emulator.notifyUrl = undefined;
  admin = await h.key(['refunds:read', 'refunds:write', 'webhooks:write']);
  reader = await h.key(['refunds:read']);
  hooks = await h.key(['webhooks:write']);
  rx = await startReceiver();
});

afterAll(async () => {
  await h?.close();
  await em?.close();
  await rx?.close();
  tmp?.cleanup();
});

describe('refunds', () => {
  it('POST /v1/refunds starts tracking (201), then returns the stored refund (200)', async () => {
    const id = newRefund('ziina');
    const first = await call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'ziina', id } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ provider: 'ziina', account: 'default', id, status: 'pending', tracking: { checkCount: 1, stuck: false } });
    expect(first.body.tracking.nextCheckAt).not.toBeNull();
    expect(first.headers.get('x-request-id')).toMatch(/^req_/);
    const again = await call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'ziina', id } });
    expect(again.status).toBe(200);
    expect(again.body.tracking.trackedAt).toBe(first.body.tracking.trackedAt);
    const history = await call(`${h.url}/v1/refunds/ziina/${id}/events`, { key: reader });
    expect(history.body.data).toHaveLength(1);
  });

  it('GET serves the stored refund; ?refresh=true re-fetches through the spine', async () => {
    const id = newRefund('gr4vy');
    expect((await call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'gr4vy', id } })).status).toBe(201);
    em.emulator.setStatus('gr4vy', id, finalNative('gr4vy'));
    const stored = await call(`${h.url}/v1/refunds/gr4vy/${id}`, { key: reader });
    expect(stored.status).toBe(200);
    expect(stored.body.status).toBe('pending');
    const fresh = await call(`${h.url}/v1/refunds/gr4vy/${id}?refresh=true`, { key: reader });
    expect(fresh.status).toBe(200);
    expect(fresh.body.status).toBe('succeeded');
    expect(fresh.body.tracking.finalAt).not.toBeNull();
    const events = await call(`${h.url}/v1/refunds/gr4vy/${id}/events`, { key: reader });
    expect(events.status).toBe(200);
    expect(events.body.data.map((e: any) => [e.kind, e.from, e.to, e.source])).toEqual([
      ['tracked', null, 'pending', 'api'],
      ['change', 'pending', 'succeeded', 'api'],
    ]);
    expect(Date.parse(events.body.data[0].observedAt)).toBeLessThanOrEqual(Date.parse(events.body.data[1].observedAt));
  });

  it('a refund the provider does not know is 404 and not stored', async () => {
    const id = randomUUID();
    const r = await call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'stan', id } });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
    expect((await call(`${h.url}/v1/refunds/stan/${id}`, { key: reader })).status).toBe(404);
  });

  it('lists with filters and stable cursor pagination', async () => {
    const created: Array<{ provider: ProviderId; id: string }> = [];
    for (const p of ['stan', 'stan', 'stan', 'tazapay', 'onekey'] as ProviderId[]) {
      const id = newRefund(p);
      const r = await call(`${h.url}/v1/refunds`, { key: admin, json: { provider: p, id, ...(p === 'onekey' ? { currency: 'aed' } : {}) } });
      expect(r.status).toBe(201);
      created.push({ provider: p, id });
    }
    const onekey = await call(`${h.url}/v1/refunds/onekey/${created[4]!.id}`, { key: reader });
    // The hint fills in a currency only when the account has none configured.
    expect(onekey.body.currency).toBe((em.settings.onekey.currency as string | undefined) ?? 'AED');

    const stan = await call(`${h.url}/v1/refunds?provider=stan`, { key: reader });
    expect(stan.status).toBe(200);
    expect(stan.body.data.map((r: any) => r.id).sort()).toEqual(created.filter((c) => c.provider === 'stan').map((c) => c.id).sort());
    expect(stan.body.nextCursor).toBeNull();

    const succeeded = await call(`${h.url}/v1/refunds?status=succeeded`, { key: reader });
    expect(succeeded.body.data.length).toBeGreaterThanOrEqual(1);
    expect(succeeded.body.data.every((r: any) => r.status === 'succeeded')).toBe(true);
    const notStuck = await call(`${h.url}/v1/refunds?stuck=false&limit=500`, { key: reader });
    const stuck = await call(`${h.url}/v1/refunds?stuck=true`, { key: reader });
    expect(stuck.body.data).toEqual([]);

    const future = await call(`${h.url}/v1/refunds?createdFrom=${encodeURIComponent('2999-01-01T00:00:00Z')}`, { key: reader });
    expect(future.body.data).toEqual([]);
    const past = await call(`${h.url}/v1/refunds?createdFrom=${encodeURIComponent('2000-01-01T00:00:00Z')}&createdTo=${encodeURIComponent('2999-01-01T00:00:00Z')}&limit=500`, { key: reader });
    expect(past.body.data.length).toBe(notStuck.body.data.filter((r: any) => r.createdAt !== null).length);

    // Page through two at a time: every refund exactly once, in the same order as one big page.
    const all = notStuck.body.data.map((r: any) => `${r.provider}/${r.id}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = await call(`${h.url}/v1/refunds?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { key: reader });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((r: any) => `${r.provider}/${r.id}`));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    expect(seen).toEqual(all);
    expect(pages).toBeGreaterThanOrEqual(4);
  });
});

describe('webhook endpoints', () => {
  it('create, list, deliveries, redeliver, delete', async () => {
    const created = await call(`${h.url}/v1/webhook-endpoints`, { key: hooks, json: { url: rx.url } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ url: rx.url, events: ['*'] });
    expect(created.body.secret).toMatch(/^whsec_/);
    rx.secret = created.body.secret;
    const endpointId: string = created.body.id;

    const listed = await call(`${h.url}/v1/webhook-endpoints`, { key: hooks });
    expect(listed.status).toBe(200);
    expect(listed.body.data.find((e: any) => e.id === endpointId)).toBeTruthy();
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');

    const filtered = await call(`${h.url}/v1/webhook-endpoints`, { key: hooks, json: { url: `${rx.url}?only=failed`, events: ['refund.failed'] } });
    expect(filtered.status).toBe(201);
    expect(filtered.body.events).toEqual(['refund.failed']);

    // A change produces an event; the deliverer signs and posts it.
    const id = newRefund('tazapay');
    await call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'tazapay', id } });
    em.emulator.setStatus('tazapay', id, finalNative('tazapay'));
    await call(`${h.url}/v1/refunds/tazapay/${id}?refresh=true`, { key: reader });
    await pollUntil(async () => {
      await h.hub.deliverer.tick();
      return rx.received.filter((r) => r.event.data.refund.id === id).length >= 2;
    }, { what: 'two deliveries' });
    const mine = rx.received.filter((r) => r.event.data.refund.id === id);
    expect(mine.every((r) => r.valid)).toBe(true);
    expect(mine.map((r) => r.event.type)).toEqual(['refund.updated', 'refund.succeeded']);
    expect(mine.map((r) => r.event.sequence)).toEqual([1, 2]);

    const deliveries = await call(`${h.url}/v1/webhook-endpoints/${endpointId}/deliveries`, { key: hooks });
    expect(deliveries.status).toBe(200);
    const succeededEvent = mine[1]!.event;
    const d = deliveries.body.data.find((x: any) => x.event.id === succeededEvent.id);
    expect(d).toMatchObject({ status: 'succeeded', attemptCount: 1 });
    expect(d.attempts).toHaveLength(1);
    expect(d.attempts[0].statusCode).toBe(204);
    // The failed-only endpoint got nothing for a success.
    const none = await call(`${h.url}/v1/webhook-endpoints/${filtered.body.id}/deliveries`, { key: hooks });
    expect(none.body.data.filter((x: any) => x.event.refundId === id)).toEqual([]);

    const page1 = await call(`${h.url}/v1/webhook-endpoints/${endpointId}/deliveries?limit=1`, { key: hooks });
    expect(page1.body.data).toHaveLength(1);
    expect(page1.body.nextCursor).toBeTruthy();

    const before = rx.received.length;
    const redeliver = await call(`${h.url}/v1/events/${succeededEvent.id}/redeliver`, { method: 'POST', key: hooks });
    expect(redeliver.status).toBe(202);
    await pollUntil(async () => {
      await h.hub.deliverer.tick();
      return rx.received.length > before;
    }, { what: 'redelivery' });
    const again = rx.received.at(-1)!;
    expect(again.event.id).toBe(succeededEvent.id);
    expect(again.raw).toBe(mine[1]!.raw);
    expect(again.valid).toBe(true);
    expect((await call(`${h.url}/v1/events/evt_doesnotexist/redeliver`, { method: 'POST', key: hooks })).status).toBe(404);

    expect((await call(`${h.url}/v1/webhook-endpoints/${endpointId}`, { method: 'DELETE', key: hooks })).status).toBe(204);
    expect((await call(`${h.url}/v1/webhook-endpoints/${endpointId}`, { method: 'DELETE', key: hooks })).status).toBe(404);
    const after = await call(`${h.url}/v1/webhook-endpoints`, { key: hooks });
    expect(after.body.data.find((e: any) => e.id === endpointId)).toBeUndefined();
    // The log of a deleted endpoint is kept.
    expect((await call(`${h.url}/v1/webhook-endpoints/${endpointId}/deliveries`, { key: hooks })).status).toBe(200);
    expect((await call(`${h.url}/v1/webhook-endpoints/we_nope/deliveries`, { key: hooks })).status).toBe(404);
  });
});

describe('operations', () => {
  it('/healthz', async () => {
    const r = await call(`${h.url}/healthz`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok', database: 'sqlite' });
  });

  it('/metrics has syncs, latency, queue depth, deliveries and status counts', async () => {
    const r = await call(`${h.url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    expect(r.text).toMatch(/refundhub_syncs_total\{provider="ziina",outcome="changed"\} \d+/);
    expect(r.text).toMatch(/refundhub_provider_request_duration_seconds_count\{provider="ziina",status="200"\} \d+/);
    expect(r.text).toMatch(/refundhub_queue_depth\{queue="due_refunds"\} \d+/);
    expect(r.text).toMatch(/refundhub_queue_depth\{queue="pending_deliveries"\} \d+/);
    expect(r.text).toMatch(/refundhub_refunds\{status="succeeded"\} [1-9]/);
    expect(r.text).toMatch(/refundhub_webhook_deliveries_total\{outcome="succeeded"\} [1-9]/);
  });

  it("/openapi.json passes Redocly's recommended ruleset: no errors, no warnings", async () => {
    const r = await call(`${h.url}/openapi.json`);
    expect(r.status).toBe(200);
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: r.text, absoluteRef: 'openapi.json', config });
    const found = problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer ?? '?'}: ${p.message}`);
    expect(found).toEqual([]);
    // Public routes say so explicitly, and nothing else is public.
    const publicOps = Object.entries(r.body.paths as Record<string, Record<string, { security?: unknown[] }>>)
      .flatMap(([path, item]) => Object.entries(item).filter(([, op]) => Array.isArray(op.security) && op.security.length === 0).map(([m]) => `${m.toUpperCase()} ${path}`));
    expect(publicOps.sort()).toEqual(['GET /healthz', 'GET /metrics', 'POST /v1/notifications/{provider}', 'POST /v1/notifications/{provider}/{account}', 'POST /v1/sessions']);
  });

  it('/openapi.json is an OpenAPI 3.1 document covering every route, with valid JSON Schemas', async () => {
    const r = await call(`${h.url}/openapi.json`);
    expect(r.status).toBe(200);
    const doc = r.body;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
    const ops = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    expect(ops.sort()).toEqual([
      'DELETE /v1/sessions/current',
      'DELETE /v1/webhook-endpoints/{id}',
      'GET /healthz',
      'GET /metrics',
      'GET /v1/live',
      'GET /v1/refunds',
      'GET /v1/refunds/{provider}/{id}',
      'GET /v1/refunds/{provider}/{id}/events',
      'GET /v1/refunds/{provider}/{id}/voucher',
      'GET /v1/refunds/{provider}/{id}/webhook-events',
      'GET /v1/sessions/current',
      'GET /v1/stats/overview',
      'GET /v1/webhook-endpoints',
      'GET /v1/webhook-endpoints/{id}/deliveries',
      'POST /v1/events/{id}/redeliver',
      'POST /v1/notifications/{provider}',
      'POST /v1/notifications/{provider}/{account}',
      'POST /v1/refunds',
      'POST /v1/refunds/{provider}/{id}/refresh',
      'POST /v1/sessions',
      'POST /v1/webhook-endpoints',
    ]);
    // Structural checks of the 3.1 document, and every schema compiles as JSON Schema 2020-12.
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    ajv.addSchema({ $id: 'doc', components: doc.components });
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else walk(x);
        }
      }
    };
    walk(doc);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\/[A-Za-z]+$/);
      expect(doc.components.schemas[ref.split('/').pop()!]).toBeTruthy();
    }
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        expect(['get', 'post', 'delete'], `${method} ${path}`).toContain(method);
        expect(op.summary, `${method} ${path} summary`).toBeTruthy();
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        for (const [status, resp] of Object.entries(op.responses as Record<string, any>)) {
          expect(status).toMatch(/^[1-5](\d\d|XX)$/);
          expect(resp.description, `${method} ${path} ${status} description`).toBeTruthy();
          const schema = resp.content?.['application/json']?.schema;
          if (schema) expect(() => ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components', '"doc#/components')))).not.toThrow();
        }
        for (const p of op.parameters ?? []) expect(['path', 'query', 'header']).toContain(p.in);
        for (const p of (op.parameters ?? []).filter((x: any) => x.in === 'path')) expect(p.required).toBe(true);
        // Signing in to the dashboard is how a browser gets its session: public, like the notifications.
        if (path.startsWith('/v1/') && !path.startsWith('/v1/notifications') && path !== '/v1/sessions') expect(op.security).toEqual([{ bearerAuth: [] }]);
      }
    }
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    // A real response validates against its documented schema.
    const refund = await call(`${h.url}/v1/refunds?limit=1`, { key: reader });
    const listSchema = doc.paths['/v1/refunds'].get.responses['200'].content['application/json'].schema;
    const validate = ajv.compile(JSON.parse(JSON.stringify(listSchema).replaceAll('"#/components', '"doc#/components')));
    expect(validate(refund.body), JSON.stringify(validate.errors)).toBe(true);
  });

  it('/docs is a self-contained API reference rendered from the document', async () => {
    const r = await call(`${h.url}/docs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/html');
    for (const path of ['/v1/refunds', '/v1/refunds/{provider}/{id}/events', '/v1/webhook-endpoints/{id}/deliveries', '/v1/notifications/{provider}']) expect(r.text).toContain(path);
    expect(r.text).toContain('TrackedRefund');
    expect(r.text).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)[a-z]/i);
  });
});

describe('bad input gets the right 4xx with {error:{code,message}}, never a 500', () => {
  const big = 'x'.repeat(2 * 1024 * 1024);
  const validUuid = '3f1c9a52-7b4e-4d2a-9c61-5e8f0a7b2d14';

  let endpointId = '';
  beforeAll(async () => {
    endpointId = (await call(`${h.url}/v1/webhook-endpoints`, { key: hooks, json: { url: 'http://127.0.0.1:9/unused', events: ['refund.stuck'] } })).body.id;
  });

  type Case = [name: string, status: number, code: string, req: () => Promise<{ status: number; body: any }>];
  const cases = (): Case[] => [
    // auth
    ['no key', 401, 'unauthorized', () => call(`${h.url}/v1/refunds`)],
    ['malformed Authorization', 401, 'unauthorized', () => call(`${h.url}/v1/refunds`, { headers: { authorization: 'Basic abc' } })],
    ['unknown key', 401, 'unauthorized', () => call(`${h.url}/v1/refunds`, { key: 'refundhub_nope' })],
    ['read key cannot track', 403, 'forbidden', () => call(`${h.url}/v1/refunds`, { key: reader, json: { provider: 'ziina', id: validUuid } })],
    ['webhooks key cannot read refunds', 403, 'forbidden', () => call(`${h.url}/v1/refunds`, { key: hooks })],
    ['refunds key cannot manage webhooks', 403, 'forbidden', () => call(`${h.url}/v1/webhook-endpoints`, { key: reader })],
    ['no key on webhook endpoints', 401, 'unauthorized', () => call(`${h.url}/v1/webhook-endpoints`, { json: { url: 'http://x' } })],
    ['no key on deliveries', 401, 'unauthorized', () => call(`${h.url}/v1/webhook-endpoints/we_x/deliveries`)],
    ['no key on redeliver', 401, 'unauthorized', () => call(`${h.url}/v1/events/evt_x/redeliver`, { method: 'POST' })],
    ['no key on delete', 401, 'unauthorized', () => call(`${h.url}/v1/webhook-endpoints/we_x`, { method: 'DELETE' })],
    ['no key on history', 401, 'unauthorized', () => call(`${h.url}/v1/refunds/ziina/${validUuid}/events`)],
    // POST /v1/refunds
    ['bad JSON', 400, 'invalid_input', () => call(`${h.url}/v1/refunds`, { key: admin, body: '{"provider":', headers: { 'content-type': 'application/json' } })],
    ['empty JSON body', 400, 'invalid_input', () => call(`${h.url}/v1/refunds`, { key: admin, body: '', headers: { 'content-type': 'application/json' } })],
    ['JSON array body', 400, 'invalid_input', () => call(`${h.url}/v1/refunds`, { key: admin, json: [1, 2] })],
    ['missing id', 400, 'invalid_input', () => call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'ziina' } })],
    ['unknown field', 400, 'invalid_input', () => call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'ziina', id: validUuid, amount: 5 } })],
    ['unknown provider', 400, 'invalid_input', () => call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'paypal', id: validUuid } })],
    ['malformed ziina id', 400, 'invalid_input', () => call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'ziina', id: 'not/a uuid' } })],
    ['malformed onekey id', 400, 'invalid_input', () => call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'onekey', id: 'abc' } })],
    ['bad currency', 400, 'invalid_input', () => call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'onekey', id: '1', currency: 'dollars' } })],
    ['bad account name', 400, 'invalid_input', () => call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'ziina', id: validUuid, account: '../etc' } })],
    ['unconfigured account', 400, 'not_configured', () => call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'ziina', id: validUuid, account: 'acme' } })],
    ['2 MiB body', 413, 'payload_too_large', () => call(`${h.url}/v1/refunds`, { key: admin, body: JSON.stringify({ provider: 'ziina', id: big }), headers: { 'content-type': 'application/json' } })],
    ['form body', 415, 'unsupported_media_type', () => call(`${h.url}/v1/refunds`, { key: admin, body: 'provider=ziina', headers: { 'content-type': 'application/x-www-form-urlencoded' } })],
    // GET refunds
    ['GET unknown provider', 400, 'invalid_input', () => call(`${h.url}/v1/refunds/paypal/123`, { key: reader })],
    ['GET malformed id', 400, 'invalid_input', () => call(`${h.url}/v1/refunds/gr4vy/not-a-uuid`, { key: reader })],
    ['GET not tracked', 404, 'not_found', () => call(`${h.url}/v1/refunds/gr4vy/${validUuid}`, { key: reader })],
    ['GET refresh not tracked', 404, 'not_found', () => call(`${h.url}/v1/refunds/gr4vy/${validUuid}?refresh=true`, { key: reader })],
    ['GET bad refresh flag', 400, 'invalid_input', () => call(`${h.url}/v1/refunds/gr4vy/${validUuid}?refresh=maybe`, { key: reader })],
    ['history malformed id', 400, 'invalid_input', () => call(`${h.url}/v1/refunds/onekey/-5/events`, { key: reader })],
    ['history not tracked', 404, 'not_found', () => call(`${h.url}/v1/refunds/onekey/999999/events`, { key: reader })],
    ['list unknown provider', 400, 'invalid_input', () => call(`${h.url}/v1/refunds?provider=paypal`, { key: reader })],
    ['list unknown status', 400, 'invalid_input', () => call(`${h.url}/v1/refunds?status=done`, { key: reader })],
    ['list bad limit', 400, 'invalid_input', () => call(`${h.url}/v1/refunds?limit=0`, { key: reader })],
    ['list bad date', 400, 'invalid_input', () => call(`${h.url}/v1/refunds?createdFrom=yesterday`, { key: reader })],
    ['list bad cursor', 400, 'invalid_input', () => call(`${h.url}/v1/refunds?cursor=garbage`, { key: reader })],
    ['list bad stuck', 400, 'invalid_input', () => call(`${h.url}/v1/refunds?stuck=perhaps`, { key: reader })],
    // webhooks
    ['endpoint bad JSON', 400, 'invalid_input', () => call(`${h.url}/v1/webhook-endpoints`, { key: hooks, body: '{url', headers: { 'content-type': 'application/json' } })],
    ['endpoint missing url', 400, 'invalid_input', () => call(`${h.url}/v1/webhook-endpoints`, { key: hooks, json: {} })],
    ['endpoint ftp url', 400, 'invalid_input', () => call(`${h.url}/v1/webhook-endpoints`, { key: hooks, json: { url: 'ftp://example.com/hook' } })],
    ['endpoint not a url', 400, 'invalid_input', () => call(`${h.url}/v1/webhook-endpoints`, { key: hooks, json: { url: 'not a url' } })],
    ['endpoint unknown event', 400, 'invalid_input', () => call(`${h.url}/v1/webhook-endpoints`, { key: hooks, json: { url: 'http://127.0.0.1/x', events: ['refund.exploded'] } })],
    ['endpoint 2 MiB body', 413, 'payload_too_large', () => call(`${h.url}/v1/webhook-endpoints`, { key: hooks, body: JSON.stringify({ url: big }), headers: { 'content-type': 'application/json' } })],
    ['delete malformed id', 400, 'invalid_input', () => call(`${h.url}/v1/webhook-endpoints/${encodeURIComponent('a b;c')}`, { method: 'DELETE', key: hooks })],
    ['deliveries bad limit', 400, 'invalid_input', () => call(`${h.url}/v1/webhook-endpoints/${endpointId}/deliveries?limit=1000`, { key: hooks })],
    ['deliveries bad cursor', 400, 'invalid_input', () => call(`${h.url}/v1/webhook-endpoints/${endpointId}/deliveries?cursor=garbage`, { key: hooks })],
    ['redeliver malformed id', 400, 'invalid_input', () => call(`${h.url}/v1/events/${encodeURIComponent('nope!')}/redeliver`, { method: 'POST', key: hooks })],
    // notifications
    ['notification unknown provider', 400, 'invalid_input', () => call(`${h.url}/v1/notifications/paypal`, { body: '{}', headers: { 'content-type': 'application/json' } })],
    ['notification unknown account', 400, 'not_configured', () => call(`${h.url}/v1/notifications/stan/acme`, { body: '{"refund_id":1}', headers: { 'content-type': 'application/json' } })],
    ['ziina bad signature', 401, 'invalid_signature', () => call(`${h.url}/v1/notifications/ziina`, { body: JSON.stringify({ event: 'refund.status.updated', data: { id: validUuid } }), headers: { 'content-type': 'application/json', 'x-hmac-signature': 'ab'.repeat(32) } })],
    ['ziina no signature', 401, 'invalid_signature', () => call(`${h.url}/v1/notifications/ziina`, { body: '{}', headers: { 'content-type': 'application/json' } })],
    ['tazapay bad signature', 401, 'invalid_signature', () => call(`${h.url}/v1/notifications/tazapay`, { body: '{"id":"evt_1","type":"refund.succeeded","created_at":"2026-01-01T00:00:00Z","data":{"id":"rfd_1"}}', headers: { 'content-type': 'application/json', signature: 'AAAA' } })],
    ['gr4vy bad signature', 401, 'invalid_signature', () => call(`${h.url}/v1/notifications/gr4vy`, { body: '{}', headers: { 'content-type': 'application/json', 'x-gr4vy-webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'x-gr4vy-webhook-signatures': 'deadbeef' } })],
    ['stan not a notification', 400, 'invalid_input', () => call(`${h.url}/v1/notifications/stan`, { body: 'hello', headers: { 'content-type': 'text/plain' } })],
    ['onekey bad refund id', 400, 'invalid_input', () => call(`${h.url}/v1/notifications/onekey`, { body: '{"refund_id":"x"}', headers: { 'content-type': 'application/json' } })],
    ['notification 2 MiB body', 413, 'payload_too_large', () => call(`${h.url}/v1/notifications/stan`, { body: big, headers: { 'content-type': 'application/json' } })],
    // routing and Fastify's own errors, all in the envelope
    ['unknown route', 404, 'route_not_found', () => call(`${h.url}/v1/nothing`, { key: admin })],
    ['unknown route, no key', 404, 'route_not_found', () => call(`${h.url}/nothing/at/all`)],
    ['trailing slash is no route (404, not 405)', 404, 'route_not_found', () => call(`${h.url}/v1/refunds/`, { key: reader })],
    ['a 15 KiB bearer key', 401, 'unauthorized', () => call(`${h.url}/v1/refunds`, { headers: { authorization: `Bearer refundhub_${'A'.repeat(15_000)}` } })],
    ['a well-formed but unknown key', 401, 'unauthorized', () => call(`${h.url}/v1/refunds`, { headers: { authorization: `Bearer refundhub_${'A'.repeat(43)}` } })],
    ['bad percent-encoding in the path', 400, 'invalid_input', () => call(`${h.url}/v1/refunds/ziina/%ZZ`, { key: reader })],
    ['bad percent-encoding, no key', 400, 'invalid_input', () => call(`${h.url}/v1/refunds/ziina/%ZZ`)],
    ['600-char id', 414, 'uri_too_long', () => call(`${h.url}/v1/refunds/ziina/${'a'.repeat(600)}`, { key: reader })],
    ['600-char id, no key', 414, 'uri_too_long', () => call(`${h.url}/v1/refunds/ziina/${'a'.repeat(600)}/events`)],
    ['20 KiB URL', 431, 'request_header_too_large', () => call(`${h.url}/v1/refunds?cursor=${'c'.repeat(20_000)}`, { key: reader })],
    ['DELETE on the refunds collection', 405, 'method_not_allowed', () => call(`${h.url}/v1/refunds`, { method: 'DELETE', key: admin })],
    ['PUT on a refund', 405, 'method_not_allowed', () => call(`${h.url}/v1/refunds/ziina/${validUuid}`, { method: 'PUT', key: admin, json: {} })],
    ['GET on a notification route', 405, 'method_not_allowed', () => call(`${h.url}/v1/notifications/stan`)],
    ['text body to a JSON route', 415, 'unsupported_media_type', () => call(`${h.url}/v1/webhook-endpoints`, { key: hooks, body: 'url=x', headers: { 'content-type': 'text/plain' } })],
    ['JSON with a bad Content-Type charset', 415, 'unsupported_media_type', () => call(`${h.url}/v1/refunds`, { key: admin, body: '{}', headers: { 'content-type': 'application/jsonx' } })],
    ['validation: id too long in the body', 400, 'invalid_input', () => call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'ziina', id: 'x'.repeat(300) } })],
    ['validation: events not an array', 400, 'invalid_input', () => call(`${h.url}/v1/webhook-endpoints`, { key: hooks, json: { url: 'https://x.example/', events: 'refund.failed' } })],
  ];

  it('405 names the allowed methods', async () => {
    const r = await call(`${h.url}/v1/refunds`, { method: 'DELETE', key: admin });
    expect(r.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(r.headers.get('content-type')).toContain('application/json');
  });

  it('every case', async () => {
    const failures: string[] = [];
    for (const [name, status, code, req] of cases()) {
      const r = await req();
      const ok = r.status === status && r.body?.error?.code === code && typeof r.body?.error?.message === 'string' && r.body.error.message.length > 0;
      if (!ok) failures.push(`${name}: expected ${status} ${code}, got ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
  });

  it('nothing was stored by rejected notifications or tracks', async () => {
    const n = await h.hub.db.selectFrom('notifications').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(0);
    const ghost = await h.hub.db.selectFrom('refunds').select('refund_id').where('refund_id', '=', validUuid).execute();
    expect(ghost).toEqual([]);
  });

  it('a revoked key stops working', async () => {
    const { revokeApiKey, listApiKeys } = await import('../src/server/auth.js');
    const key = await h.key(['refunds:read']);
    expect((await call(`${h.url}/v1/refunds`, { key })).status).toBe(200);
    const info = (await listApiKeys(h.hub.db)).at(-1)!;
    expect(key.startsWith(info.prefix)).toBe(true);
    // Keys are stored hashed: the key itself appears nowhere in the table.
    const rows = await h.hub.db.selectFrom('api_keys').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(key);
    expect(await revokeApiKey(h.hub.db, info.id)).toBe(true);
    // The key cache here is 200 ms; the bound is slack for a loaded machine, not a requirement.
    await pollUntil(async () => (await call(`${h.url}/v1/refunds`, { key })).status === 401, { timeoutMs: 10_000, intervalMs: 50, what: 'revocation' });
  });
});

describe('provider throttling', () => {
  // A 429 pauses the provider account for every process (provider_pauses); lift it so the next
  // test starts with the provider callable.
  afterEach(() => resumeProvider(h.hub.db, 'ziina', 'default'));

  it('503 rate_limited carries Retry-After (seconds) when the provider gave one', async () => {
    const id = newRefund('ziina');
    expect((await call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'ziina', id } })).status).toBe(201);
    em.emulator.injectFault('ziina', { kind: 'rate_limit', count: 5, retryAfterS: 120 });
    const r = await call(`${h.url}/v1/refunds/ziina/${id}?refresh=true`, { key: reader });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('rate_limited');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(119);
    expect(Number(r.headers.get('retry-after'))).toBeLessThanOrEqual(120);
    em.emulator.reset();
  });

  it('without a provider Retry-After there is no header', async () => {
    const id = newRefund('ziina');
    expect((await call(`${h.url}/v1/refunds`, { key: admin, json: { provider: 'ziina', id } })).status).toBe(201);
    em.emulator.injectFault('ziina', { kind: 'rate_limit', count: 5 });
    const r = await call(`${h.url}/v1/refunds/ziina/${id}?refresh=true`, { key: reader });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('rate_limited');
    expect(r.headers.get('retry-after')).toBeNull();
    em.emulator.reset();
  });
});

describe('webhook URL policy over the API (a deployment without the opt-in)', () => {
  let strict: FastifyInstance;
  beforeAll(async () => {
    strict = buildApp(h.hub, { logLevel: 'silent', webhookUrlLookup: async (host) => (host === 'hooks.merchant.example' ? [{ address: '93.184.215.14', family: 4 }] : [{ address: '10.0.0.8', family: 4 }]) });
    await strict.ready();
  });
  afterAll(async () => {
    await strict?.close();
  });
  const post = (url: string) =>
    strict.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: { authorization: `Bearer ${hooks}`, 'content-type': 'application/json' }, payload: JSON.stringify({ url }) });

  it.each(['http://127.0.0.1:9/hook', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/x', 'http://intranet.example/x'])('%s is 400 invalid_input', async (url) => {
    const r = await post(url);
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('invalid_input');
  });

  it('credentials in the URL are rejected and not echoed', async () => {
    const r = await post('https://bob:hunter2-secret@hooks.merchant.example/x');
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('invalid_input');
    expect(r.body).not.toContain('hunter2-secret');
  });

  it('a public hostname is accepted', async () => {
    const r = await post('https://hooks.merchant.example/rh');
    expect(r.statusCode).toBe(201);
    await call(`${h.url}/v1/webhook-endpoints/${r.json().id}`, { method: 'DELETE', key: hooks });
  });
});

describe('rate limit on the unauthenticated notification routes', () => {
  let t = 0;
  let limited: FastifyInstance;
  beforeAll(async () => {
    limited = buildApp(h.hub, { logLevel: 'silent', notificationRateLimit: { perSecond: 2, burst: 3 }, rateLimitNow: () => t });
    await limited.ready();
  });
  afterAll(async () => {
    await limited?.close();
  });
  const notify = (ip = '203.0.113.7') =>
    limited.inject({ method: 'POST', url: '/v1/notifications/stan', remoteAddress: ip, headers: { 'content-type': 'application/json' }, payload: 'not json' });

  it('allows the burst, then 429 too_many_requests with Retry-After, then refills', async () => {
    for (let i = 0; i < 3; i++) expect((await notify()).statusCode).toBe(400);
    const over = await notify();
    expect(over.statusCode).toBe(429);
    expect(over.json()).toEqual({ error: { code: 'too_many_requests', message: expect.any(String) } });
    expect(over.headers['retry-after']).toBe('1');
    // Another client has its own bucket.
    expect((await notify('198.51.100.1')).statusCode).toBe(400);
    // Half a second refills one token at 2/s.
    t += 500;
    expect((await notify()).statusCode).toBe(400);
    expect((await notify()).statusCode).toBe(429);
  });

  it('only the notification routes are limited', async () => {
    for (let i = 0; i < 10; i++) expect((await limited.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('the default is 20/s with a burst of 200, and it can be turned off', async () => {
    const defaults = buildApp(h.hub, { logLevel: 'silent', rateLimitNow: () => 0 });
    const off = buildApp(h.hub, { logLevel: 'silent', notificationRateLimit: false });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 201; i++) codes.push((await defaults.inject({ method: 'POST', url: '/v1/notifications/stan', payload: 'x', headers: { 'content-type': 'text/plain' } })).statusCode);
      expect(codes.slice(0, 200).every((c) => c === 400)).toBe(true);
      expect(codes[200]).toBe(429);
      for (let i = 0; i < 250; i++) expect((await off.inject({ method: 'POST', url: '/v1/notifications/stan', payload: 'x', headers: { 'content-type': 'text/plain' } })).statusCode).toBe(400);
    } finally {
      await defaults.close();
      await off.close();
    }
  });

  it('TokenBucketLimiter forgets idle buckets when it reaches its bound', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter(1, 1, () => now, 2);
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(1000);
    expect(limiter.take('b')).toBe(0);
    now = 5_000;
    expect(limiter.take('c')).toBe(0);
    expect(limiter.take('a')).toBe(0);
  });
});

describe('request logging', () => {
  it('one info line per request with method, redacted url, status, time and reqId; the reqId is on every line', async () => {
    const lines: Array<Record<string, any>> = [];
    const logger = pino({ level: 'info', base: undefined }, { write: (chunk: string) => void lines.push(JSON.parse(chunk)) });
    const logged = buildApp(h.hub, { logger: logger as unknown as FastifyBaseLogger });
    try {
      const id = newRefund('ziina');
      await logged.inject({ method: 'POST', url: '/v1/refunds', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, payload: JSON.stringify({ provider: 'ziina', id }) });
      lines.length = 0;
      const ok = await logged.inject({ method: 'GET', url: `/v1/refunds/ziina/${id}?account=default&token=s3cret-tok&api_key=s3cret-key`, headers: { authorization: `Bearer ${reader}` } });
      expect(ok.statusCode).toBe(200);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: 30,
        msg: 'request completed',
        reqId: ok.headers['x-request-id'],
        method: 'GET',
        url: `/v1/refunds/ziina/${id}?account=default&token=[redacted]&api_key=[redacted]`,
        statusCode: 200,
      });
      expect(typeof lines[0]!.responseTime).toBe('number');
      expect(JSON.stringify(lines)).not.toMatch(/s3cret|Bearer/);

      // A request that logs along the way: every line carries its reqId.
      lines.length = 0;
      em.emulator.injectFault('ziina', { kind: 'rate_limit', count: 5, retryAfterS: 60 });
      const throttled = await logged.inject({ method: 'GET', url: `/v1/refunds/ziina/${id}?refresh=true`, headers: { authorization: `Bearer ${reader}` } });
      em.emulator.reset();
      await resumeProvider(h.hub.db, 'ziina', 'default');
      expect(throttled.statusCode).toBe(503);
      const mine = lines.filter((l) => l.reqId !== undefined);
      expect(mine.length).toBeGreaterThanOrEqual(2);
      expect(new Set(mine.map((l) => l.reqId))).toEqual(new Set([throttled.headers['x-request-id']]));
      expect(mine.at(-1)).toMatchObject({ msg: 'request completed', statusCode: 503 });
      expect(lines.some((l) => /incoming request/.test(l.msg))).toBe(false);

      // Fastify's own early errors get their line too.
      lines.length = 0;
      const bad = await logged.inject({ method: 'GET', url: '/v1/refunds/ziina/%ZZ' });
      expect(bad.statusCode).toBe(400);
      expect(lines.filter((l) => l.msg === 'request completed')).toHaveLength(1);
      expect(lines[0]).toMatchObject({ statusCode: 400, reqId: bad.headers['x-request-id'], url: '/v1/refunds/ziina/%ZZ' });
      expect(bad.json().error.code).toBe('invalid_input');
    } finally {
      await logged.close();
    }
  });
});
