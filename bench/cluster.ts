/**
 * Scale-out on PostgreSQL (issue 7, benchmarks), with real `bin/refundhub` processes (run
 * `npm run build` first) and the emulator in this process answering every provider call after a
 * fixed 100 ms (`Emulator.latencyMs`), so a sync's time is the provider's, not the machine's:
 *
 * - syncs per second with 1, 2 and 4 `refundhub worker --concurrency 4` processes on one
 *   database: N refunds (tracked and checked once, pending) are made due at once and the workers
 *   poll them. The rate is taken between the 10th and the 90th percentile of `last_checked_at`, so
 *   process start-up and the due dispatcher's first interval do not count. Target: 4 workers at
 *   least 3x one. Each run also reports how busy the machine's CPU was (/proc/stat): at four
 *   workers on 2 cores it is the CPU, not the 100 ms calls, that runs out first.
 * - the same workload on one plain `refundhub serve` process (API plus in-process poller or
 *   worker) on SQLite and on PostgreSQL, per-provider concurrency 1 on both (5 calls in flight).
 * - a notification re-fetch at idle: the emulator changes a refund and posts its notification to
 *   an API node; timed from the change to the start of the provider call that re-fetches it (the
 *   notification's POST, verification, storing, the enqueue and a worker's pick-up). On a cluster
 *   (`serve --no-worker` + one worker) against the SQLite single process (which re-fetches in its
 *   own lane). Median and p99 in the note.
 *
 * PostgreSQL at REFUNDHUB_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres);
 * each part makes and drops its own database. Rounds are capped: every round starts processes.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { loadConfig } from '../src/config/index.js';
import { PROVIDER_IDS, type ProviderId } from '../src/domain/refund.js';
import { createEmulator, type Emulator } from '../src/emulator/index.js';
import { silentLogger } from '../src/logger.js';
import { getProvider } from '../src/providers/registry.js';
import type { RawSettings } from '../src/providers/types.js';
import { createRefundHub } from '../src/service.js';
import { createStore, type Store } from '../src/store/index.js';
import type { RefundsTable } from '../src/store/schema.js';
import { BUILT, clusterEnv, killAll, migrate, startApiNode, startWorker, writeClusterConfig, type NodeProcess } from '../test/support/cluster.js';
import { median } from './lib/compare.js';
import { tempDir } from './lib/tracking-store.js';
import type { BenchResult, BenchRunOptions, BenchSide } from './lib/types.js';

export const description = 'syncs/s with 1, 2 and 4 worker processes (100 ms provider latency); serve on SQLite vs PostgreSQL; notification re-fetch latency at idle';

const BENCHMARK = 'cluster';
const ADMIN = process.env.REFUNDHUB_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const LATENCY_MS = 100;
const WORKER_CONCURRENCY = 4;
/** Refunds synced per run: 20 s for one worker at 40 syncs/s, 5 s for four. */
const REFUNDS = Number(process.env.BENCH_CLUSTER_REFUNDS ?? 800);
const MAX_ROUNDS = 2;
const LATENCY_SAMPLES = Number(process.env.BENCH_CLUSTER_LATENCY_SAMPLES ?? 25);
const RUN_DEADLINE_MS = 120_000;
/** A provider whose emulator has two non-final statuses to move between, so each move notifies. */
const NOTIFY_PROVIDER: ProviderId = 'stan';
const NOTIFY_STATUSES = ['payment_holding', 'payment_pending'];

const wallMs = () => performance.timeOrigin + performance.now();

async function admin(statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

async function withPgDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `refundhub_bench_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(ADMIN);
  u.pathname = `/${name}`;
  try {
    return await fn(u.toString());
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

interface Workload {
  emulator: Emulator;
  settings: Record<ProviderId, RawSettings>;
  ids: Array<{ provider: ProviderId; id: string }>;
}

async function startWorkload(): Promise<Workload & { close(): Promise<void> }> {
  const { emulator, credentials } = createEmulator({ env: {}, requestLogSize: 10 });
  await emulator.listen(0, '127.0.0.1');
  const settings = {} as Record<ProviderId, RawSettings>;
  for (const p of PROVIDER_IDS) settings[p] = { ...credentials[p], baseUrl: emulator.baseUrl(p) };
  const ids = Array.from({ length: REFUNDS }, (_, i) => {
    const provider = PROVIDER_IDS[i % PROVIDER_IDS.length]!;
    return { provider, id: getProvider(provider).emulator.idOf(emulator.createRefund(provider, {})) };
  });
  return { emulator, settings, ids, close: () => emulator.close() };
}

/**
 * Tracks the workload's refunds in a store: one per provider through the real spine, the rest as
 * clones of that row (pending, checked once), none due. Returns the store, left open.
 */
async function seedStore(url: string, w: Workload): Promise<Store> {
  const config = loadConfig({ env: {} });
  for (const p of PROVIDER_IDS) config.accounts.get(p)!.set('default', w.settings[p]);
  const hub = await createRefundHub({ databaseUrl: url, config, logger: silentLogger, env: {}, roles: { api: true, worker: true } });
  const templates = {} as Record<ProviderId, RefundsTable>;
  try {
    for (const p of PROVIDER_IDS) {
      const first = w.ids.find((x) => x.provider === p)!;
      await hub.track(p, first.id);
      templates[p] = (await hub.db.selectFrom('refunds').selectAll().where('provider', '=', p).where('refund_id', '=', first.id).executeTakeFirstOrThrow()) as RefundsTable;
    }
    const now = Date.now();
    const rows = w.ids
      .filter((x) => !PROVIDER_IDS.some((p) => templates[p].refund_id === x.id))
      .map((x) => {
        const tpl = templates[x.provider];
        return { ...tpl, refund_id: x.id, raw: tpl.raw.split(tpl.refund_id).join(x.id), tracked_at: now - 150_000, last_checked_at: now - 90_000, next_check_at: null, check_count: 1, sequence: 1 };
      });
    await hub.db.transaction().execute(async (tx) => {
      for (let i = 0; i < rows.length; i += 200) await tx.insertInto('refunds').values(rows.slice(i, i + 200)).execute();
    });
    await hub.db.updateTable('refunds').set({ next_check_at: null }).execute();
  } finally {
    await hub.stop();
  }
  return createStore(url, { migrate: false });
}

/**
 * The whole machine's CPU time, busy and all, from /proc/stat (Linux; undefined elsewhere). On a
 * 2-core machine the workers, PostgreSQL, the emulator and anything else running share it: the
 * busy share during a run says whether the provider's latency or the CPU was the limit.
 */
function machineCpu(): { busy: number; total: number } | undefined {
  if (!existsSync('/proc/stat')) return undefined;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
  return { busy, total: busy + idle! + (iowait ?? 0) };
}

/** Makes every refund due now and waits until each was checked again; syncs/s between the 10th and 90th percentile. */
async function measureSyncs(store: Store): Promise<{ perSec: number; totalMs: number; cpuBusy?: number }> {
  const cpu0 = machineCpu();
  const t0 = Date.now();
  await store.db.updateTable('refunds').set({ next_check_at: t0 }).execute();
  const deadline = Date.now() + RUN_DEADLINE_MS;
  for (;;) {
    const row = await store.db.selectFrom('refunds').select((eb) => eb.fn.countAll<number>().as('n')).where('last_checked_at', '<', t0).executeTakeFirstOrThrow();
    if (Number(row.n) === 0) break;
    if (Date.now() > deadline) throw new Error(`${Number(row.n)} refunds still not synced after ${RUN_DEADLINE_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const cpu1 = machineCpu();
  const cpuBusy = cpu0 && cpu1 && cpu1.total > cpu0.total ? (cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total) : undefined;
  const times = (await store.db.selectFrom('refunds').select('last_checked_at').execute()).map((r) => Number(r.last_checked_at)).sort((a, b) => a - b);
  const at = (q: number) => times[Math.floor(q * (times.length - 1))]!;
  const spanMs = Math.max(1, at(0.9) - at(0.1));
  // Not due again within the run: put them back out of the way.
  await store.db.updateTable('refunds').set({ next_check_at: null }).execute();
  return { perSec: (0.8 * times.length * 1000) / spanMs, totalMs: times.at(-1)! - t0, cpuBusy };
}

function side(label: string, values: number[], kind: 'rate' | 'ms'): BenchSide {
  const m = median(values);
  return kind === 'rate' ? { label, callsPerSec: m, msPerCall: 1000 / m } : { label, msPerCall: m, callsPerSec: 1000 / m };
}

function result(name: string, ours: BenchSide, baseline: BenchSide, ratios: number[], kind: 'time' | 'throughput', note: string, target?: BenchResult['target']): BenchResult {
  return { benchmark: BENCHMARK, name, ours, baseline, kind, ratio: median(ratios), ratioRange: [Math.min(...ratios), Math.max(...ratios)], rounds: ratios.length, ...(target ? { target } : {}), note };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

/** Notification-to-re-fetch latency: the emulator moves a refund, we time until the provider call for it starts. */
async function notificationLatency(w: Workload, apiUrl: string): Promise<number[]> {
  const targets = w.ids.filter((x) => x.provider === NOTIFY_PROVIDER).slice(0, LATENCY_SAMPLES);
  w.emulator.notifyUrl = `${apiUrl}/v1/notifications`;
  const out: number[] = [];
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    // Random gaps so a send lands anywhere in the workers' polling phase.
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 900));
    const started = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no re-fetch of ${t.id} within 15 s of its notification`));
      }, 15_000);
      const off = w.emulator.onRequest((_p, r) => {
        if (!r.path.includes(t.id)) return;
        clearTimeout(timer);
        off();
        resolve(r.startMs);
      });
    });
    const current = String(w.emulator.getRefund(t.provider, t.id)?.status ?? '');
    const sent = wallMs();
    w.emulator.setStatus(t.provider, t.id, NOTIFY_STATUSES.find((s) => s !== current)!);
    out.push((await started) - sent);
  }
  return out;
}

export async function run(options: BenchRunOptions): Promise<BenchResult[]> {
  const log = (line: string) => options.log(`${BENCHMARK}: ${line}`);
  if (!BUILT) throw new Error('bench/cluster.ts runs bin/refundhub: `npm run build` first');
  const rounds = Math.min(options.rounds, MAX_ROUNDS);
  const dir = tempDir('refundhub-bench-cluster-');
  const w = await startWorkload();
  w.emulator.setLatency(LATENCY_MS);
  const results: BenchResult[] = [];
  // Per-provider concurrency 1 keeps the single-process runs at 5 calls in flight on both stores;
  // the workers' --concurrency (4) is below 5 providers x 1, so it is what limits them.
  const providers = Object.fromEntries(PROVIDER_IDS.map((p) => [p, { concurrency: 1 }]));
  const configFile = writeClusterConfig(dir.dir, w.settings, providers);
  try {
    // --- 1, 2, 4 workers on PostgreSQL ---
    const scaling = await withPgDatabase(async (url) => {
      const env = clusterEnv(url, configFile);
      await migrate(env);
      const store = await seedStore(url, w);
      const rates = new Map<number, number[]>([[1, []], [2, []], [4, []]]);
      const busy = new Map<number, number[]>([[1, []], [2, []], [4, []]]);
      try {
        for (let round = 0; round < rounds; round++) {
          const order = round % 2 === 0 ? [1, 2, 4] : [4, 2, 1];
          for (const n of order) {
            const workers = await Promise.all(Array.from({ length: n }, (_, i) => startWorker(`worker-${i + 1}`, env, { concurrency: WORKER_CONCURRENCY })));
            const got = await measureSyncs(store);
            await Promise.all(workers.map((p) => p.stop('SIGTERM')));
            rates.get(n)!.push(got.perSec);
            if (got.cpuBusy !== undefined) busy.get(n)!.push(got.cpuBusy);
            const cpuNote = got.cpuBusy === undefined ? '' : `, machine CPU ${(got.cpuBusy * 100).toFixed(0)} % busy`;
            log(`round ${round + 1}: ${n} worker(s): ${got.perSec.toFixed(1)} syncs/s (all ${REFUNDS} in ${(got.totalMs / 1000).toFixed(1)} s${cpuNote})`);
          }
        }
      } finally {
        await store.close();
      }
      return { rates, busy };
    });
    const one = scaling.rates.get(1)!;
    const note = `${REFUNDS} due refunds, ${LATENCY_MS} ms per provider call, --concurrency ${WORKER_CONCURRENCY} per worker (ideal ${(1000 / LATENCY_MS) * WORKER_CONCURRENCY}/s per worker); rate between the 10th and 90th percentile of the checks`;
    const busyNote = (n: number) => (scaling.busy.get(n)!.length ? `; machine CPU busy ${scaling.busy.get(n)!.map((b) => `${(b * 100).toFixed(0)} %`).join(', ')} (${n} workers) vs ${scaling.busy.get(1)!.map((b) => `${(b * 100).toFixed(0)} %`).join(', ')} (1)` : '');
    for (const n of [2, 4]) {
      const ratios = scaling.rates.get(n)!.map((r, i) => r / one[i]!);
      results.push(result(`syncs/s: ${n} workers vs 1 worker`, side(`${n} workers`, scaling.rates.get(n)!, 'rate'), side('1 worker', one, 'rate'), ratios, 'throughput', note + busyNote(n), n === 4 ? { op: '>=', value: 3 } : undefined));
    }

    // --- one plain `serve` process: SQLite vs PostgreSQL, and the notification latency ---
    const single = async (url: string, env: Record<string, string>, store: Store): Promise<number> => {
      const node = await startApiNode('serve', env, { worker: true });
      try {
        return (await measureSyncs(store)).perSec;
      } finally {
        await node.stop('SIGTERM');
      }
    };
    const sqliteUrl = `sqlite:${dir.dir}/single.db`;
    const sqliteEnv = clusterEnv(sqliteUrl, configFile);
    await migrate(sqliteEnv);
    const sqliteStore = await seedStore(sqliteUrl, w);
    const sqliteRates: number[] = [];
    const pgRates: number[] = [];
    let latency: { cluster: number[]; sqlite: number[] } = { cluster: [], sqlite: [] };
    try {
      await withPgDatabase(async (url) => {
        const env = clusterEnv(url, configFile);
        await migrate(env);
        const pgStore = await seedStore(url, w);
        try {
          for (let round = 0; round < rounds; round++) {
            const order = round % 2 === 0 ? ['sqlite', 'pg'] : ['pg', 'sqlite'];
            for (const which of order) {
              const rate = which === 'sqlite' ? await single(sqliteUrl, sqliteEnv, sqliteStore) : await single(url, env, pgStore);
              (which === 'sqlite' ? sqliteRates : pgRates).push(rate);
              log(`round ${round + 1}: serve on ${which === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: ${rate.toFixed(1)} syncs/s`);
            }
          }
          // Notification latency at idle: nothing is due in either store now.
          const api = await startApiNode('api', env);
          const worker = await startWorker('worker', env, { concurrency: WORKER_CONCURRENCY });
          let nodes: NodeProcess[] = [api, worker];
          try {
            latency.cluster = await notificationLatency(w, api.url);
            await Promise.all(nodes.map((n) => n.stop('SIGTERM')));
            const serve = await startApiNode('serve', sqliteEnv, { worker: true });
            nodes = [serve];
            latency.sqlite = await notificationLatency(w, serve.url);
          } finally {
            await Promise.all(nodes.map((n) => n.stop('SIGTERM')));
          }
        } finally {
          await pgStore.close();
        }
      });
    } finally {
      await sqliteStore.close();
    }
    results.push(
      result(
        'syncs/s, one serve process: PostgreSQL vs SQLite',
        side('PostgreSQL', pgRates, 'rate'),
        side('SQLite', sqliteRates, 'rate'),
        pgRates.map((r, i) => r / sqliteRates[i]!),
        'throughput',
        `${REFUNDS} due refunds, ${LATENCY_MS} ms per provider call, per-provider concurrency 1 (5 calls in flight); informational`,
      ),
    );
    const fmt = (xs: number[]) => `median ${pct(xs, 50).toFixed(0)} ms, p99 ${pct(xs, 99).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms (n=${xs.length})`;
    results.push(
      result(
        'notification to re-fetch start at idle: cluster (API node + worker) vs SQLite serve',
        { label: 'cluster', msPerCall: median(latency.cluster), callsPerSec: 1000 / median(latency.cluster) },
        { label: 'SQLite serve', msPerCall: median(latency.sqlite), callsPerSec: 1000 / median(latency.sqlite) },
        [median(latency.cluster) / median(latency.sqlite)],
        'time',
        `cluster ${fmt(latency.cluster)}; SQLite ${fmt(latency.sqlite)}; includes the notification POST, verification and storing; informational`,
      ),
    );
    for (const r of results) log(`${r.name}: ${r.ours.callsPerSec.toFixed(1)}/s vs ${r.baseline.callsPerSec.toFixed(1)}/s, ratio ${r.ratio.toFixed(2)}`);
    return results;
  } finally {
    await killAll();
    await w.close();
    dir.remove();
  }
}
