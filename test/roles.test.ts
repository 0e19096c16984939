import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getProvider } from '../src/providers/registry.js';
import { createApiKey } from '../src/server/auth.js';
import { createStore, type Store } from '../src/store/index.js';
import { clusterEnv, killAll, migrate, queueJobs, recordRequests, startApiNode, startWorker, writeClusterConfig, type TimedRequest } from './support/cluster.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { startReceiver, tempDir, type WebhookReceiver } from './support/hub.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from './support/postgres.js';
import { runCli } from './support/run-cli.js';
import { pollUntil } from './support/wait.js';

/**
 * The roles of one program on PostgreSQL (issue 7), as real `bin/refundhub` processes (dist/: run
 * `npm run build` first): an API node that never polls or delivers and hands notification
 * re-fetches to a worker; `worker --concurrency N` holding N provider calls at most; a worker
 * SIGTERMed mid-job exiting 0 in time; plain `serve` on PostgreSQL doing everything alone; and
 * the SQLite refusals.
 */

/**
 * Bounds for processes on a loaded 2-core CI machine: one `bin/refundhub` start takes ~4 s there
 * (three of them took 13 s with three busy loops beside), and a test here starts up to three plus
 * `migrate`. The waits below are on events (a row, a job state, a webhook), bounded generously;
 * queue polls open a connection each, so they poll every 200 ms rather than every 25 ms.
 */
const TEST_MS = 150_000;
const STEP_MS = 45_000;

describe('roles on SQLite', () => {
  it('worker and serve --no-worker refuse SQLite with exit 2 and one clear line', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const env = { REFUNDHUB_DATABASE_URL: `sqlite:${dir}/x.db` };
      const w = await runCli(['worker'], env);
      expect(w.code).toBe(2);
      expect(w.stderr.trim()).toBe('refundhub: error: `refundhub worker` needs PostgreSQL (REFUNDHUB_DATABASE_URL=postgres://...): on SQLite, plain `refundhub serve` runs the API, polling and deliveries in one process [invalid_input]');
      const s = await runCli(['serve', '--no-worker', '--port', '0'], env);
      expect(s.code).toBe(2);
      expect(s.stderr).toMatch(/^refundhub: error: `refundhub serve --no-worker` needs PostgreSQL/);
      expect(s.stderr.trim().split('\n')).toHaveLength(1);
      const c = await runCli(['worker', '--concurrency', '0'], env);
      expect(c).toMatchObject({ code: 2, stderr: expect.stringMatching(/--concurrency must be a whole number from 1 to 1000, got "0"/) });
    } finally {
      cleanup();
    }
  }, TEST_MS);
});

describe.skipIf(!postgresAvailable)('roles on PostgreSQL [postgres]', () => {
  let emu: RunningEmulator;
  let receiver: WebhookReceiver;
  let db: TestDatabase;
  let store: Store;
  let env: Record<string, string>;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    emu = await startEmulator();
    receiver = await startReceiver();
    tmp = tempDir();
  });
  afterAll(async () => {
    await receiver.close();
    await emu.close();
    tmp.cleanup();
  });
  afterEach(async () => {
    await killAll();
    await store?.close();
    await db?.drop();
    emu.emulator.reset();
    receiver.received.length = 0;
  });

  async function setup(providers: Parameters<typeof writeClusterConfig>[2] = {}): Promise<void> {
    db = await createTestDatabase();
    env = clusterEnv(db.url, writeClusterConfig(tmp.dir, emu.settings, providers));
    await migrate(env);
    store = await createStore(db.url);
  }

  async function api(url: string, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json() };
  }

  const ziinaRefund = (status = 'pending') => getProvider('ziina').emulator.idOf(emu.emulator.createRefund('ziina', { status }));
  const getsOf = (id: string) => emu.emulator.requests('ziina').filter((r) => r.method === 'GET' && r.path.includes(id)).length;
  const row = (id: string) => store.db.selectFrom('refunds').selectAll().where('provider', '=', 'ziina').where('refund_id', '=', id).executeTakeFirstOrThrow();

  it('an API node polls and delivers nothing; its notification re-fetch and the webhooks are a worker\'s', async () => {
    await setup();
    const node = await startApiNode('api', env);
    const key = await createApiKey(store.db, ['refunds:write', 'webhooks:write'], 'roles');
    const endpoint = await api(node.url, key, 'POST', '/v1/webhook-endpoints', { url: receiver.url });
    expect(endpoint.status).toBe(201);
    receiver.secret = endpoint.body.secret;

    // Two refunds tracked through the API node (its immediate fetch); one made due at once.
    const due = ziinaRefund();
    const notified = ziinaRefund();
    for (const id of [due, notified]) expect((await api(node.url, key, 'POST', '/v1/refunds', { provider: 'ziina', id })).status).toBe(201);
    await store.db.updateTable('refunds').set({ next_check_at: 0 }).where('refund_id', '=', due).execute();

    // A notification to the API node: stored, answered, handed to the queue.
    emu.emulator.notifyUrl = `${node.url}/v1/notifications`;
    emu.emulator.setStatus('ziina', notified, 'completed');
    await pollUntil(async () => (await queueJobs(db.url)).some((j) => j.name === 'refundhub.sync.ziina' && j.state === 'created'), { what: 'the API node to enqueue the re-fetch', timeoutMs: STEP_MS, intervalMs: 200 });
    const pending = await store.db.selectFrom('notifications').select('outcome').where('refund_id', '=', notified).execute();
    expect(pending.map((n) => n.outcome)).toEqual(['pending']);
    // Nothing besides the two immediate fetches reached the provider; the due refund is unclaimed
    // (a dispatcher would have pushed its next check forward) and no delivery was attempted.
    expect([getsOf(due), getsOf(notified)]).toEqual([1, 1]);
    expect(Number((await row(due)).next_check_at)).toBe(0);
    expect(await store.db.selectFrom('deliveries').select('id').where('attempts', '>', 0).execute()).toEqual([]);
    expect(receiver.received).toEqual([]);

    // A worker takes all of it: the re-fetch (notification settled), the due check, the webhooks.
    await startWorker('w1', env, { concurrency: 4 });
    await pollUntil(async () => (await row(notified)).status === 'succeeded', { what: 'the worker to re-fetch the notified refund', timeoutMs: STEP_MS, intervalMs: 100 });
    await pollUntil(async () => (await store.db.selectFrom('notifications').select('outcome').where('refund_id', '=', notified).executeTakeFirst())?.outcome === 'synced', { what: 'the notification settled', timeoutMs: STEP_MS, intervalMs: 100 });
    await pollUntil(async () => Number((await row(due)).check_count) === 2, { what: 'the worker to poll the due refund', timeoutMs: STEP_MS, intervalMs: 100 });
    const history = await store.db.selectFrom('refund_history').select(['kind', 'source']).where('refund_id', '=', notified).orderBy('id').execute();
    expect(history).toEqual([{ kind: 'tracked', source: 'api' }, { kind: 'change', source: 'notification' }]);
    await pollUntil(() => receiver.received.find((r) => r.event.type === 'refund.succeeded' && r.event.data.refund.id === notified), { what: 'the succeeded webhook from the worker', timeoutMs: STEP_MS });
    expect(receiver.received.every((r) => r.valid)).toBe(true);
    await pollUntil(async () => (await store.db.selectFrom('deliveries').select('id').where('status', '!=', 'succeeded').execute()).length === 0, { what: 'every delivery succeeded', timeoutMs: STEP_MS, intervalMs: 100 });
  }, TEST_MS);

  it('worker --concurrency N: at most N provider calls at once from it, and it does use N', async () => {
    await setup({ ziina: { concurrency: 8 }, stan: { concurrency: 8 } });
    const ids: Array<{ provider: 'ziina' | 'stan'; id: string }> = [];
    for (let i = 0; i < 6; i++) ids.push({ provider: 'ziina', id: ziinaRefund() });
    for (let i = 0; i < 6; i++) ids.push({ provider: 'stan', id: getProvider('stan').emulator.idOf(emu.emulator.createRefund('stan', { status: 'payment_pending' })) });
    // Tracked as already due, with no provider call: the worker's polls are all there is.
    const now = Date.now();
    await store.db
      .insertInto('refunds')
      .values(ids.map(({ provider, id }) => ({ provider, account: 'default', refund_id: id, status: 'pending', provider_status: 'pending', payment_id: null, amount: null, currency: null, amount_decimal: null, reason: null, created_at: null, updated_at: null, failure_code: null, failure_message: null, raw: '{}', currency_hint: null, tracked_at: now, last_checked_at: null, next_check_at: 0, check_count: 0, final_at: null, stuck: 0, error_count: 0, last_error_code: null, last_error_message: null, sequence: 0 })))
      .execute();
    // Each call holds its slot 1 s: the worker's third call must start while the first is still
    // in flight, which a loaded machine's slower job fetches could miss with a shorter hold.
    for (const p of ['ziina', 'stan'] as const) emu.emulator.injectFault(p, { kind: 'latency', delayMs: 1000, count: 100 });
    const rec = recordRequests(emu.emulator);
    try {
      await startWorker('w-n', env, { concurrency: 3 });
      await pollUntil(async () => (await store.db.selectFrom('refunds').select('refund_id').where('check_count', '=', 0).execute()).length === 0, { what: 'every refund polled once', timeoutMs: STEP_MS, intervalMs: 100 });
      const gets = rec.all.filter((r) => r.path.split('?')[0]!.split('/').some((s) => ids.some((x) => x.id === decodeURIComponent(s))));
      expect(gets.length).toBeGreaterThanOrEqual(ids.length);
      expect(maxInFlight(gets)).toBe(3);
    } finally {
      rec.stop();
    }
  }, TEST_MS);

  it('worker SIGTERMed mid-job finishes it and exits 0 within 30 s; nothing is left active', async () => {
    await setup();
    const id = ziinaRefund();
    const key = await createApiKey(store.db, ['refunds:write'], 'roles');
    const node = await startApiNode('api', env);
    expect((await api(node.url, key, 'POST', '/v1/refunds', { provider: 'ziina', id })).status).toBe(201);
    emu.emulator.injectFault('ziina', { kind: 'latency', delayMs: 3000, count: 5 });
    await store.db.updateTable('refunds').set({ next_check_at: 0 }).where('refund_id', '=', id).execute();
    const worker = await startWorker('w-term', env, { concurrency: 2 });
    await pollUntil(async () => (await queueJobs(db.url)).some((j) => j.state === 'active'), { what: 'the worker to be mid-job', timeoutMs: STEP_MS, intervalMs: 200 });
    const exit = await worker.stop('SIGTERM', 35_000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(30_000);
    expect(Number((await row(id)).check_count)).toBe(2);
    expect((await queueJobs(db.url)).filter((j) => j.state === 'active')).toEqual([]);
  }, TEST_MS);

  it('plain serve on PostgreSQL alone: track, the lifecycle, the webhook', async () => {
    await setup();
    const node = await startApiNode('single', env, { worker: true });
    expect(node.output()).toMatch(/API and an in-process worker/);
    const key = await createApiKey(store.db, ['refunds:write', 'webhooks:write'], 'roles');
    const endpoint = await api(node.url, key, 'POST', '/v1/webhook-endpoints', { url: receiver.url });
    receiver.secret = endpoint.body.secret;
    emu.emulator.notifyUrl = `${node.url}/v1/notifications`;
    const id = getProvider('ziina').emulator.idOf(emu.emulator.createRefund('ziina', { status: 'pending' }, [{ status: 'completed', afterMs: 500 }]));
    expect((await api(node.url, key, 'POST', '/v1/refunds', { provider: 'ziina', id })).status).toBe(201);
    await pollUntil(() => receiver.received.find((r) => r.event.type === 'refund.succeeded'), { what: 'the succeeded webhook', timeoutMs: STEP_MS });
    expect(receiver.received.every((r) => r.valid)).toBe(true);
    expect((await api(node.url, key, 'GET', `/v1/refunds/ziina/${id}`)).body.status).toBe('succeeded');
  }, TEST_MS);
});

/** The most requests that were in flight at one moment. */
function maxInFlight(requests: readonly TimedRequest[]): number {
  const edges = requests.flatMap((r) => [{ t: r.startMs, d: 1 }, { t: r.endMs, d: -1 }]).sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const e of edges) max = Math.max(max, (now += e.d));
  return max;
}

