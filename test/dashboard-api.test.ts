import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/logger.js';
import { buildApp, listen } from '../src/server/app.js';
import { createApiKey, revokeApiKey } from '../src/server/auth.js';
import { dashboardDir } from '../src/server/dashboard.js';
import { createRefundHub, type RefundHub } from '../src/service.js';
import { listTracked } from '../src/store/refunds.js';
import { CompiledQuery, type KyselyPlugin } from 'kysely';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { call, tempDir } from './support/hub.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from './support/postgres.js';

/**
 * The API routes the dashboard uses, over real HTTP: sign-in and the session cookie, CSRF on
 * actions, search and order in the list, the overview, the live feed, the static files. The same
 * cases run on SQLite and, with two API nodes sharing one database, on PostgreSQL: a session made
 * on one node works on the other, sign-out ends it everywhere, and a change written through one
 * node reaches the other node's live feed.
 */

interface Node {
  hub: RefundHub;
  app: FastifyInstance;
  url: string;
}

async function startNode(databaseUrl: string, em: RunningEmulator, pg: boolean): Promise<Node> {
  const hub = await createRefundHub({ databaseUrl, config: em.config(), logger: silentLogger, env: {}, allowPrivateWebhookUrls: true, ...(pg ? { roles: { api: true, worker: false } } : {}) });
  const app = buildApp(hub, { logLevel: 'silent' });
  return { hub, app, url: await listen(app, 0, '127.0.0.1') };
}

async function signIn(url: string, apiKey: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const r = await call(`${url}/v1/sessions`, { json: { apiKey } });
  expect(r.status).toBe(201);
  const setCookie = r.headers.get('set-cookie')!;
  return { cookie: setCookie.split(';')[0]!, csrf: r.body.csrfToken, setCookie };
}

/** Reads a server-sent event stream until `match` appears in it; bounded by `timeoutMs`. */
async function waitForEvent(url: string, cookie: string, match: string, onOpen: () => Promise<void>, timeoutMs = 5_000): Promise<string> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { cookie }, signal: abort.signal });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const reader = res.body!.getReader();
  let text = '';
  await reader.read().then((c) => (text += new TextDecoder().decode(c.value)));
  const t0 = Date.now();
  await onOpen();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    while (!text.includes(match)) {
      const c = await reader.read();
      if (c.done) break;
      text += new TextDecoder().decode(c.value);
    }
  } catch {
    // aborted: the assertion below says what was missing
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  expect(text, `an event with ${match} within ${timeoutMs} ms (waited ${Date.now() - t0} ms)`).toContain(match);
  return text;
}

const stores: Array<[string, boolean]> = [['sqlite', false]];
if (postgresAvailable) stores.push(['postgres', true]);

describe.each(stores)('dashboard API on %s', (_name, pg) => {
  let tmp: ReturnType<typeof tempDir>;
  let em: RunningEmulator;
  let db: TestDatabase | undefined;
  let a: Node;
  let b: Node;
  let writer: string;
  let reader: string;
  const ids: string[] = [];

  beforeAll(async () => {
    tmp = tempDir();
    em = await startEmulator();
    db = pg ? await createTestDatabase('refundhub_dash') : undefined;
    const url = db ? db.url : `sqlite:${join(tmp.dir, 'dash.db')}`;
    a = await startNode(url, em, pg);
    // SQLite is one process: the second "node" is the same one.
    b = pg ? await startNode(url, em, pg) : a;
    writer = await createApiKey(a.hub.db, ['refunds:read', 'refunds:write', 'webhooks:write'], 'writer');
    reader = await createApiKey(a.hub.db, ['refunds:read'], 'reader');
    for (let i = 0; i < 5; i++) {
      const created = em.emulator.createRefund('ziina', { status: 'pending', payment_intent_id: `pi_dash_${i}` });
      const id = String(created.id);
      ids.push(id);
      expect((await call(`${a.url}/v1/refunds`, { key: writer, json: { provider: 'ziina', id } })).status).toBe(201);
    }
  }, 60_000);

  afterAll(async () => {
    await em?.emulator.drainNotifications();
    for (const n of new Set([a, b])) {
      await n?.app.close();
      await n?.hub.stop();
    }
    await db?.drop();
    await em?.close();
    tmp?.cleanup();
  });

  it('a wrong, malformed or scope-less key is refused with a clear message; nothing is stored', async () => {
    const wrong = await call(`${a.url}/v1/sessions`, { json: { apiKey: `refundhub_${'x'.repeat(43)}` } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.message).toContain('That API key is not valid');
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect((await call(`${a.url}/v1/sessions`, { json: { apiKey: 'nope' } })).status).toBe(401);
    expect((await call(`${a.url}/v1/sessions`, { json: {} })).status).toBe(400);
    const hooksOnly = await createApiKey(a.hub.db, ['webhooks:write'], 'hooks');
    const r = await call(`${a.url}/v1/sessions`, { json: { apiKey: hooksOnly } });
    expect(r.status).toBe(403);
    expect(r.body.error.message).toContain('refunds:read');
    expect(await a.hub.db.selectFrom('dashboard_sessions').selectAll().execute()).toEqual([]);
  });

  it('the session is an HttpOnly, SameSite=Strict cookie that expires, stored as a hash, and works on every node', async () => {
    const s = await signIn(a.url, reader);
    expect(s.setCookie).toMatch(/^refundhub_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    const token = s.cookie.split('=')[1]!;
    const rows = await a.hub.db.selectFrom('dashboard_sessions').select('id_hash').execute();
    expect(rows.some((r) => r.id_hash.includes(token))).toBe(false);
    expect(rows).toHaveLength(1);
    const list = await call(`${b.url}/v1/refunds?limit=2`, { headers: { cookie: s.cookie } });
    expect(list.status).toBe(200);
    expect((await call(`${b.url}/v1/sessions/current`, { headers: { cookie: s.cookie } })).body).toMatchObject({ scopes: ['refunds:read'], csrfToken: s.csrf });
    // Expired: refused, with a message that says what to do.
    await a.hub.db.updateTable('dashboard_sessions').set({ expires_at: Date.now() - 1 }).execute();
    const expired = await call(`${b.url}/v1/refunds`, { headers: { cookie: s.cookie } });
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toContain('sign in again');
  });

  it('actions need the CSRF header and the scope; a revoked key ends its sessions', async () => {
    const s = await signIn(a.url, writer);
    const refresh = `${b.url}/v1/refunds/ziina/${ids[0]}/refresh`;
    const none = await call(refresh, { method: 'POST', headers: { cookie: s.cookie } });
    expect(none.status).toBe(403);
    expect(none.body.error.message).toContain('x-csrf-token');
    expect((await call(refresh, { method: 'POST', headers: { cookie: s.cookie, 'x-csrf-token': `${s.csrf.slice(0, -1)}${s.csrf.endsWith('A') ? 'B' : 'A'}` } })).status).toBe(403);
    const ok = await call(refresh, { method: 'POST', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    expect(ok.status).toBe(200);
    expect(ok.body.id).toBe(ids[0]);

    const r = await signIn(a.url, reader);
    const denied = await call(refresh, { method: 'POST', headers: { cookie: r.cookie, 'x-csrf-token': r.csrf } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toContain('refunds:write');

    const temp = await createApiKey(a.hub.db, ['refunds:read'], 'temp');
    const t = await signIn(a.url, temp);
    const keyId = (await a.hub.db.selectFrom('api_keys').select('id').where('name', '=', 'temp').executeTakeFirstOrThrow()).id;
    await revokeApiKey(a.hub.db, keyId);
    expect((await call(`${b.url}/v1/refunds`, { headers: { cookie: t.cookie } })).status).toBe(401);
  });

  it('sign-out on one node ends the session on all', async () => {
    const s = await signIn(a.url, reader);
    const out = await call(`${a.url}/v1/sessions/current`, { method: 'DELETE', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await call(`${b.url}/v1/refunds`, { headers: { cookie: s.cookie } })).status).toBe(401);
  });

  it('search finds a refund by id or payment id; order and cursor pages walk every row once either way', async () => {
    const byId = await call(`${b.url}/v1/refunds?q=${ids[2]}`, { key: reader });
    expect(byId.body.data.map((r: { id: string }) => r.id)).toEqual([ids[2]]);
    const byPayment = await call(`${b.url}/v1/refunds?q=pi_dash_3`, { key: reader });
    expect(byPayment.body.data.map((r: { id: string }) => r.id)).toEqual([ids[3]]);
    expect((await call(`${b.url}/v1/refunds?q=nothing-like-it`, { key: reader })).body.data).toEqual([]);
    expect((await call(`${b.url}/v1/refunds?order=sideways`, { key: reader })).status).toBe(400);
    for (const order of ['asc', 'desc']) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const r: { body: { data: Array<{ id: string }>; nextCursor: string | null } } = await call(`${b.url}/v1/refunds?order=${order}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: reader });
        seen.push(...r.body.data.map((x) => x.id));
        cursor = r.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(order === 'asc' ? ids : [...ids].reverse());
    }
  });

  it('the overview counts by status and provider and times final refunds; a bad period is 400', async () => {
    em.emulator.notifyUrl = undefined;
    em.emulator.setStatus('ziina', ids[4]!, 'completed');
    expect((await call(`${a.url}/v1/refunds/ziina/${ids[4]}/refresh`, { method: 'POST', key: writer })).body.status).toBe('succeeded');
    const o = await call(`${b.url}/v1/stats/overview?since=24h`, { key: reader });
    expect(o.status).toBe(200);
    expect(o.body.byProvider.ziina.total).toBe(5);
    expect(o.body.byStatus.succeeded).toBeGreaterThanOrEqual(1);
    expect(o.body.timeToFinal).toEqual([expect.objectContaining({ provider: 'ziina', count: o.body.byStatus.succeeded })]);
    expect(o.body.timeToFinal[0].p95Ms).toBeGreaterThanOrEqual(o.body.timeToFinal[0].medianMs);
    const bad = await call(`${b.url}/v1/stats/overview?since=forever`, { key: reader });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('since');
  });

  it("a change written through one node reaches the other node's live feed within 5 s", async () => {
    const s = await signIn(a.url, reader);
    em.emulator.setStatus('ziina', ids[1]!, 'failed');
    await waitForEvent(`${b.url}/v1/live`, s.cookie, `"id":"${ids[1]}"`, async () => {
      const r = await call(`${a.url}/v1/refunds/ziina/${ids[1]}/refresh`, { method: 'POST', key: writer });
      expect(r.body.status).toBe('failed');
    });
  });

  it.skipIf(pg)('SQLite walks an index range for every cursor page and filter, never the whole table', async () => {
    // What keeps a page from the middle of a million rows as fast as the first (bench/list-pages.ts).
    let captured: { sql: string; parameters: readonly unknown[] } | undefined;
    const executor = a.hub.db.getExecutor();
    const capture: KyselyPlugin = {
      transformQuery: (args) => ((captured = executor.compileQuery(args.node, args.queryId)), args.node),
      transformResult: async (args) => args.result,
    };
    const first = await listTracked(a.hub.db, { limit: 2, order: 'desc' });
    for (const filter of [{}, { provider: 'ziina' as const }, { status: 'pending' as const }]) {
      for (const order of ['asc', 'desc'] as const) {
        await listTracked(a.hub.db.withPlugin(capture), { limit: 2, order, cursor: first.nextCursor!, ...filter });
        const rows = await a.hub.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${captured!.sql}`, [...captured!.parameters]));
        const text = rows.rows.map((r) => r.detail).join('; ');
        expect(text, `${JSON.stringify(filter)} ${order}`).toMatch(/SEARCH refunds USING (COVERING )?INDEX refunds_\w+ \(.*tracked_at[<>]/);
        expect(text).not.toContain('TEMP B-TREE');
      }
    }
  });

  it("a refund's outgoing events are listed with their deliveries", async () => {
    const r = await call(`${b.url}/v1/refunds/ziina/${ids[4]}/webhook-events`, { key: reader });
    expect(r.status).toBe(200);
    expect(r.body.data.map((e: { type: string }) => e.type)).toEqual(['refund.succeeded', 'refund.updated']);
    expect((await call(`${b.url}/v1/refunds/ziina/not-tracked/webhook-events`, { key: reader })).status).toBe(404);
  });
});

describe.skipIf(!dashboardDir())('dashboard static files', () => {
  let tmp: ReturnType<typeof tempDir>;
  let em: RunningEmulator;
  let n: Node;
  beforeAll(async () => {
    tmp = tempDir();
    em = await startEmulator();
    n = await startNode(`sqlite:${join(tmp.dir, 'static.db')}`, em, false);
  });
  afterAll(async () => {
    await n?.app.close();
    await n?.hub.stop();
    await em?.close();
    tmp?.cleanup();
  });

  it('/ and its assets are served with their types, caching and a same-origin-only CSP', async () => {
    const index = await call(`${n.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    const assets = [...index.text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.some((p) => p.endsWith('.js'))).toBe(true);
    expect(index.text).not.toMatch(/https?:\/\//);
    for (const path of assets) {
      const r = await call(`${n.url}${path}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(path.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(r.headers.get('cache-control')).toContain('immutable');
    }
    expect((await call(`${n.url}/assets/..%2Fpackage.json`)).status).toBe(404);
    expect((await call(`${n.url}/assets/nothing.js`)).status).toBe(404);
  });

  it('closing the server ends open live streams rather than waiting for them', async () => {
    const key = await createApiKey(n.hub.db, ['refunds:read'], 'live');
    const res = await fetch(`${n.url}/v1/live`, { headers: { authorization: `Bearer ${key}` } });
    const reader = res.body!.getReader();
    await reader.read();
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      n.app.close().then(() => 'closed'),
      new Promise((r) => (timer = setTimeout(() => r('still open after 5 s'), 5_000))),
    ]);
    clearTimeout(timer);
    expect(closed).toBe('closed');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((await reader.read()).done).toBe(true);
  });
});
