import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_IDS, type ProviderId } from '../src/domain/refund.js';
import { getProvider } from '../src/providers/registry.js';
import { refundLockId } from '../src/store/refund-lock.js';
import { refundKeyString } from '../src/store/refunds.js';
import { BUILT, clusterEnv, killAll, migrate, overlaps, recordRequests, startApiNode, startWorker, writeClusterConfig, type NodeProcess } from './support/cluster.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { call, tempDir } from './support/hub.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from './support/postgres.js';
import { runCli } from './support/run-cli.js';
import { pollUntil } from './support/wait.js';

/**
 * One refund is never fetched by two processes at the same time (issue 7), whoever asks: every
 * refund is tracked through both API nodes at once, then, round after round, refreshed through
 * both API nodes at once while its status changes at the provider (a notification, and so a
 * re-fetch job for a worker) and the workers' poller checks it every second. Every provider call
 * takes 80 ms at the emulator, so without the cross-process lock calls for one refund would
 * overlap. The emulator records each request's start and end; no two for one refund overlap, and
 * in every round the two refreshes asked of both nodes at once made two calls inside that round's
 * window (the contention was real and was serialized).
 */

const PER_PROVIDER = 6;
const ROUNDS = 5;
const LATENCY_MS = 80;

let db: TestDatabase | undefined;
let tmp: ReturnType<typeof tempDir>;
let em: RunningEmulator;
const nodes: NodeProcess[] = [];

describe.runIf(postgresAvailable)('no concurrent fetch of one refund across processes', () => {
  beforeAll(async () => {
    if (!BUILT) throw new Error('the cluster tests run bin/refundhub: `npm run build` first');
    db = await createTestDatabase('refundhub_overlap');
    tmp = tempDir('refundhub-overlap-');
    em = await startEmulator();
  }, 60_000);

  afterAll(async () => {
    await killAll();
    await em?.close();
    await db?.drop();
    tmp?.cleanup();
  });

  it('track, refresh, notification re-fetch and poll on two API nodes and two workers never overlap for one refund', async () => {
    const providers = Object.fromEntries(PROVIDER_IDS.map((p) => [p, { schedule: ['1s'], concurrency: 8 }]));
    const env = clusterEnv(db!.url, writeClusterConfig(tmp.dir, em.settings, providers));
    await migrate(env);
    const [a, b] = await Promise.all([startApiNode('api-a', env), startApiNode('api-b', env)]);
    nodes.push(a!, b!);
    em.emulator.notifyUrls = [`${a!.url}/v1/notifications`, `${b!.url}/v1/notifications`];
    nodes.push(...(await Promise.all([1, 2].map((i) => startWorker(`worker-${i}`, env, { concurrency: 8 })))));
    const key = (await runCli(['keys', 'create', '--scope', 'refunds:read', '--scope', 'refunds:write'], env)).stdout.trim();
    em.emulator.setLatency(LATENCY_MS);
    const record = recordRequests(em.emulator);

    const known = new Map<ProviderId, Set<string>>(PROVIDER_IDS.map((p) => [p, new Set<string>()]));
    const refunds: Array<{ provider: ProviderId; id: string; statuses: string[] }> = [];
    for (const provider of PROVIDER_IDS) {
      // Statuses to walk through: every non-final one the demos use, so the refund keeps being polled.
      const demos = getProvider(provider).emulator.demoRefunds();
      const steps = [...new Set(demos.flatMap((d) => [String(d.refund.status ?? ''), ...d.lifecycle.slice(0, -1).map((s) => s.status)]).filter(Boolean))];
      for (let i = 0; i < PER_PROVIDER; i++) {
        const id = getProvider(provider).emulator.idOf(em.emulator.createRefund(provider, {}));
        known.get(provider)!.add(id);
        refunds.push({ provider, id, statuses: steps });
      }
    }

    // Contention, seen where it happens: a sampler reads pg_locks while the rounds run and counts the
    // times some process was waiting for a refund's advisory lock (granted = false) that another held.
    // Without the cross-process lock there is nothing to wait for, and this count stays 0.
    const ourLocks = new Set(refunds.map((r) => refundLockId(refundKeyString({ provider: r.provider, account: 'default', id: r.id }))));
    const sampler = new pg.Client({ connectionString: db!.url });
    await sampler.connect();
    let waitsSeen = 0;
    let sampling = true;
    const sampling$ = (async () => {
      while (sampling) {
        // Only our refunds' locks: pg-boss takes advisory locks of its own. A bigint key shows as its
        // high (classid) and low (objid) 32 bits.
        const r = await sampler.query<{ id: string }>(
          "SELECT ((classid::bigint << 32) | objid::bigint)::text AS id FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND NOT granted",
        );
        waitsSeen += r.rows.some((row) => ourLocks.has(row.id)) ? 1 : 0;
        await new Promise((done) => setTimeout(done, 10));
      }
    })();
    try {
      // Track every refund through both nodes at the same moment: two immediate fetches contend.
      await Promise.all(
        refunds.map(async (r) => {
          const got = await Promise.all([a!, b!].map((n) => call(`${n.url}/v1/refunds`, { key, json: { provider: r.provider, id: r.id } })));
          expect(got.map((g) => g.status).sort()).toEqual(expect.arrayContaining([201]));
          expect(got.every((g) => g.status === 200 || g.status === 201)).toBe(true);
        }),
      );
      for (let round = 0; round < ROUNDS; round++) {
        await Promise.all(
          refunds.map(async (r, i) => {
            // The provider changes the refund (a notification to a node, a re-fetch job for a worker)...
            if (r.statuses.length) em.emulator.setStatus(r.provider, r.id, r.statuses[(round + i) % r.statuses.length]!);
            // ...while both API nodes refresh it and the poller finds it due.
            const got = await Promise.all([a!, b!].map((n) => call(`${n.url}/v1/refunds/${r.provider}/${encodeURIComponent(r.id)}?refresh=true`, { key })));
            expect(got.map((g) => g.status)).toEqual([200, 200]);
          }),
        );
      }
      await em.emulator.drainNotifications();
      // Let the re-fetches the last notifications queued run, and a poll round of every refund.
      const mark = performance.timeOrigin + performance.now();
      await pollUntil(() => refunds.every((r) => record.all.some((q) => q.startMs > mark && q.path.includes(encodeURIComponent(r.id)))), {
        timeoutMs: 60_000,
        what: 'a poll of every refund after the last round',
      });
    } finally {
      sampling = false;
      await sampling$.catch(() => undefined);
      await sampler.end().catch(() => undefined);
      record.stop();
      em.emulator.setLatency(0);
    }

    const report = overlaps(record.all, known);
    // Tracks, refreshes, re-fetches and polls: several calls per refund per round.
    expect(report.perRefund).toBeGreaterThanOrEqual(refunds.length * ROUNDS * 2);
    expect(report.overlaps.map((o) => ({ refund: o.refund, gapMs: Math.round(o.second.startMs - o.first.endMs) }))).toEqual([]);
    // The calls did contend: processes were seen waiting on a refund's lock while another held it;
    // with no overlap above, each such wait ended only after the holder's call.
    expect(waitsSeen, `back-to-back within 50 ms: ${report.backToBack}`).toBeGreaterThan(0);
  }, 300_000); // migrate, four processes starting, ~600 calls through them (42 s with three other test files running)
});
