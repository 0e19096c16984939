import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_IDS, type ProviderId } from '../src/domain/refund.js';
import { getProvider } from '../src/providers/registry.js';
import { BUILT, clusterEnv, killAll, migrate, recordRequests, startApiNode, startWorker, writeClusterConfig, type NodeProcess } from './support/cluster.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { call, tempDir } from './support/hub.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from './support/postgres.js';
import { runCli } from './support/run-cli.js';
import { pollUntil } from './support/wait.js';

/**
 * A 429 with `Retry-After: S` pauses the provider for the whole cluster (issue 7): three
 * `refundhub worker` processes poll Ziina refunds every second; the emulator answers one request
 * with 429 and Retry-After 5. From one second after that answer until S seconds after it, the
 * emulator's request record holds no Ziina request from anyone, while Stan (not throttled) keeps
 * being polled; refunds that change at the provider during the pause (their notifications arrive
 * meanwhile) are synced once it is over.
 */

const RETRY_AFTER_S = 5;
const ZIINA_REFUNDS = 12;
const STAN_REFUNDS = 4;

let db: TestDatabase | undefined;
let tmp: ReturnType<typeof tempDir>;
let em: RunningEmulator;
let api: NodeProcess;

/** How long after `t429` (epoch ms) the Ziina pause was recorded: its end less Retry-After. */
async function pauseRecordedAfterMs(databaseUrl: string, t429: number): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ until_ms: string }>("SELECT until_ms FROM provider_pauses WHERE provider = 'ziina'");
    return rows[0] ? String(Math.round(Number(rows[0].until_ms) - RETRY_AFTER_S * 1000 - t429)) : 'never (no row)';
  } finally {
    await client.end();
  }
}

describe.runIf(postgresAvailable)('429 across three workers', () => {
  beforeAll(async () => {
    if (!BUILT) throw new Error('the cluster tests run bin/refundhub: `npm run build` first');
    db = await createTestDatabase('refundhub_cluster429');
    tmp = tempDir('refundhub-cluster429-');
    em = await startEmulator();
  }, 60_000);

  afterAll(async () => {
    await killAll();
    await em?.close();
    await db?.drop();
    tmp?.cleanup();
  });

  it(`no worker calls the provider from 1 s after the 429 until Retry-After (${RETRY_AFTER_S} s) has passed; then the refunds sync`, async () => {
    const providers = Object.fromEntries(PROVIDER_IDS.map((p) => [p, { schedule: ['1s'], concurrency: 4 }]));
    const env = clusterEnv(db!.url, writeClusterConfig(tmp.dir, em.settings, providers));
    await migrate(env);
    api = await startApiNode('api', env);
    em.emulator.notifyUrl = `${api.url}/v1/notifications`;
    const workers = await Promise.all([1, 2, 3].map((i) => startWorker(`worker-${i}`, env, { concurrency: 8 })));
    const key = (await runCli(['keys', 'create', '--scope', 'refunds:read', '--scope', 'refunds:write'], env)).stdout.trim();

    const create = (provider: ProviderId) => getProvider(provider).emulator.idOf(em.emulator.createRefund(provider, {}));
    const ziina = Array.from({ length: ZIINA_REFUNDS }, () => create('ziina'));
    const stan = Array.from({ length: STAN_REFUNDS }, () => create('stan'));
    for (const id of ziina) expect((await call(`${api.url}/v1/refunds`, { key, json: { provider: 'ziina', id } })).status).toBe(201);
    for (const id of stan) expect((await call(`${api.url}/v1/refunds`, { key, json: { provider: 'stan', id } })).status).toBe(201);

    const record = recordRequests(em.emulator);
    try {
      // The workers are polling (not final: checked every second).
      await pollUntil(() => record.all.filter((r) => r.provider === 'ziina').length >= ZIINA_REFUNDS, { timeoutMs: 30_000, what: 'the workers polling ziina' });

      em.emulator.injectFault('ziina', { kind: 'rate_limit', count: 1, retryAfterS: RETRY_AFTER_S });
      const limited = await pollUntil(() => record.all.find((r) => r.provider === 'ziina' && r.status === 429), { timeoutMs: 30_000, what: 'the 429 answered' });
      const quietFrom = limited.endMs + 1000;
      const pauseEnds = limited.endMs + RETRY_AFTER_S * 1000;

      // During the pause the refunds change at the provider; their notifications reach the API node.
      const final = getProvider('ziina').emulator.demoRefunds()[0]!.lifecycle.at(-1)!.status;
      for (const id of ziina) em.emulator.setStatus('ziina', id, final);

      // Every ziina refund synced to its final status, which takes a ziina call after the pause.
      await pollUntil(
        async () => {
          const r = await call(`${api.url}/v1/refunds?provider=ziina&limit=100`, { key });
          return r.body.data.length === ZIINA_REFUNDS && r.body.data.every((x: { status: string }) => x.status === 'succeeded');
        },
        { timeoutMs: 60_000, intervalMs: 200, what: 'every ziina refund synced after the pause' },
      );
      // Stan went on while Ziina was paused.
      expect(record.all.some((r) => r.provider === 'stan' && r.startMs > quietFrom && r.startMs < pauseEnds)).toBe(true);

      const ziinaCalls = record.all.filter((r) => r.provider === 'ziina');
      const during = ziinaCalls.filter((r) => r.startMs > quietFrom && r.startMs < pauseEnds);
      // A miss says when the worker that got the 429 recorded the pause (its until_ms less
      // Retry-After, on the same clock), telling a slow record from workers that did not heed it.
      const why = during.length ? `pause recorded ${await pauseRecordedAfterMs(db!.url, limited.endMs)} ms after the 429; workers said: ${workers.map((w) => `${w.name}: ${w.output().slice(-800)}`).join(' | ')}` : '';
      expect(during.map((r) => ({ path: r.path, afterThe429Ms: Math.round(r.startMs - limited.endMs) })), why).toEqual([]);
      expect(ziinaCalls.some((r) => r.startMs >= pauseEnds)).toBe(true);
    } finally {
      record.stop();
    }
    for (const w of workers) expect((await w.stop('SIGTERM')).code).toBe(0);
  }, 300_000); // migrate and four processes starting (~4 s each on a loaded 2-core machine), the waits above, three stops
});
