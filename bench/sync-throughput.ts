/**
 * Syncs per second against the emulator (issue 3, benchmarks): 10,000 refunds created in the
 * emulator (2,000 per provider, 30 % of them already final there, so those syncs write a status
 * change, a history row, events and a webhook delivery), tracked in a SQLite file as due, then the
 * service's own poller (`hub.poller.tick()`, defaults: 100 per tick, 4 calls in flight per
 * provider) runs until all 10,000 are synced (bounded: 60 s).
 *
 * The ratio: the same refunds fetched with the same scheduling (batches of 100, 4 in flight per
 * provider) through the same connector, but with no store, no spine and no poller: syncs/s over bare
 * fetches/s, i.e. what tracking costs on top of fetching. The sync run is cut into 4 slices of
 * 2,500 syncs, each next to a slice of 2,500 bare fetches (order alternating), so both see the same
 * machine; the ratio is the median of the per-slice ratios. Informational: the issue sets no target.
 *
 * The emulator runs where the runner says (`--emulator child`, the default, gives it its own
 * process and core; `in-process` shares this event loop).
 */
import { request } from 'undici';
import { loadConfig } from '../src/config/index.js';
import { PROVIDER_IDS, type ProviderId } from '../src/domain/refund.js';
import { silentLogger } from '../src/logger.js';
import { createEndpoint } from '../src/notify/endpoints.js';
// The bare side uses the poller's own per-provider limit, so both sides schedule alike.
import { Limiter } from '../src/poller/poller.js';
import type { NativeRefund } from '../src/providers/types.js';
import { getProvider } from '../src/providers/registry.js';
import { createRefundHub, type RefundHub } from '../src/service.js';
import type { RefundsTable } from '../src/store/schema.js';
import { median } from './lib/compare.js';
import { startBenchEmulator, type BenchEmulator } from './lib/emulator.js';
import { tempDir, unit } from './lib/tracking-store.js';
import type { BenchResult, BenchRunOptions } from './lib/types.js';

export const description = 'poller syncs/s with 10,000 due refunds vs bare connector fetches/s, emulator on 127.0.0.1';

const BENCHMARK = 'sync-throughput';
const TOTAL = 10_000;
const SLICES = 4;
const SLICE = TOTAL / SLICES;
const FINAL_SHARE = 0.3;
const DEADLINE_MS = 60_000;
/** The poller's defaults (src/poller/poller.ts), used by the bare side too. */
const BATCH = 100;
const PER_PROVIDER = 4;
/** Control-API calls in flight while creating the emulator's refunds. */
const CREATE_INFLIGHT = 32;

/** A native final status per provider (the emulator moves the refund there right after creating it). */
const FINAL_NATIVE: Record<ProviderId, string> = {
  ziina: 'completed',
  tazapay: 'succeeded',
  gr4vy: 'succeeded',
  stan: 'payment_success',
  onekey: 'COMPLETED',
};

interface Item {
  provider: ProviderId;
  id: string;
}

async function createInEmulator(emu: BenchEmulator, provider: ProviderId, final: boolean): Promise<Item> {
  const res = await request(`${emu.url}/_emulator/${provider}/refunds`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refund: {}, lifecycle: final ? [{ status: FINAL_NATIVE[provider], afterMs: 0 }] : [] }),
  });
  const body = (await res.body.json()) as { refund?: NativeRefund; error?: string };
  if (res.statusCode !== 201 || !body.refund) throw new Error(`emulator refused a ${provider} refund: HTTP ${res.statusCode} ${body.error ?? ''}`);
  return { provider, id: String(getProvider(provider).emulator.idOf(body.refund)) };
}

async function pool<T>(count: number, inflight: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await job(i);
      }
    }),
  );
  return out;
}


/** Bare side: `count` fetches from `items` (starting at `offset`), in batches of 100 with 4 in flight per provider. */
async function bareFetches(hub: RefundHub, items: Item[], offset: number, count: number): Promise<number> {
  const limiters = new Map(PROVIDER_IDS.map((p) => [p, new Limiter(PER_PROVIDER)]));
  const t0 = performance.now();
  for (let done = 0; done < count; done += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, count - done) }, (_, k) => items[(offset + done + k) % items.length]!);
    await Promise.all(batch.map((it) => limiters.get(it.provider)!.run(() => hub.client.getRefund(it.provider, it.id))));
  }
  return performance.now() - t0;
}

/** Template rows per provider: one refund of each tracked through the real spine, to clone. */
async function templateRows(hub: RefundHub, emu: BenchEmulator): Promise<Record<ProviderId, RefundsTable>> {
  const out = {} as Record<ProviderId, RefundsTable>;
  for (const p of PROVIDER_IDS) {
    const item = await createInEmulator(emu, p, false);
    await hub.track(p, item.id);
    const row = await hub.db.selectFrom('refunds').selectAll().where('provider', '=', p).where('refund_id', '=', item.id).executeTakeFirstOrThrow();
    out[p] = row as RefundsTable;
    // Out of the way: templates are never due.
    await hub.db.updateTable('refunds').set({ next_check_at: null }).where('provider', '=', p).where('refund_id', '=', item.id).execute();
  }
  return out;
}

async function metricTotals(hub: RefundHub): Promise<{ byProvider: Map<string, { syncs: number; changed: number; errors: number; latencySum: number; latencyCount: number }> }> {
  const byProvider = new Map<string, { syncs: number; changed: number; errors: number; latencySum: number; latencyCount: number }>();
  const entry = (p: string) => {
    let e = byProvider.get(p);
    if (!e) byProvider.set(p, (e = { syncs: 0, changed: 0, errors: 0, latencySum: 0, latencyCount: 0 }));
    return e;
  };
  for (const v of (await hub.metrics.syncs.get()).values) {
    const e = entry(String(v.labels.provider));
    e.syncs += v.value;
    if (v.labels.outcome === 'changed') e.changed += v.value;
    if (String(v.labels.outcome).startsWith('error')) e.errors += v.value;
  }
  for (const v of (await hub.metrics.providerLatency.get()).values) {
    const e = entry(String(v.labels.provider));
    if (v.metricName?.endsWith('_sum')) e.latencySum += v.value;
    if (v.metricName?.endsWith('_count')) e.latencyCount += v.value;
  }
  return { byProvider };
}

export async function run(options: BenchRunOptions): Promise<BenchResult[]> {
  const log = (line: string) => options.log(`${BENCHMARK}: ${line}`);
  const dir = tempDir('refundhub-bench-sync-');
  let emu: BenchEmulator | undefined;
  let hub: RefundHub | undefined;
  try {
    emu = await startBenchEmulator(options.emulator);
    const config = loadConfig({ env: {} });
    for (const p of PROVIDER_IDS) config.accounts.get(p)!.set('default', emu.settings[p]);
    hub = await createRefundHub({ databaseUrl: `sqlite:${dir.dir}/sync.db`, config, logger: silentLogger, env: {}, allowPrivateWebhookUrls: true });
    await createEndpoint(hub.db, { url: 'http://127.0.0.1:9/refundhub-webhooks' }, Date.now(), { allowPrivateWebhookUrls: true });
    const templates = await templateRows(hub, emu);

    let t0 = performance.now();
    const e = emu;
    const items = await pool(TOTAL, CREATE_INFLIGHT, (i) => createInEmulator(e, PROVIDER_IDS[i % PROVIDER_IDS.length]!, unit(i, 21) < FINAL_SHARE));
    log(`created ${TOTAL} refunds in the ${emu.mode} emulator in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Track them as due: clones of the template rows (pending, checked once 90 s ago), due 0-60 s ago.
    t0 = performance.now();
    const now = Date.now();
    const rows: RefundsTable[] = items.map((it, i) => {
      const tpl = templates[it.provider];
      return {
        ...tpl,
        refund_id: it.id,
        raw: tpl.raw.split(tpl.refund_id).join(it.id),
        tracked_at: now - 150_000,
        last_checked_at: now - 90_000,
        next_check_at: now - Math.floor(unit(i, 22) * 60_000),
        check_count: 1,
        sequence: 1,
      };
    });
    await hub.db.transaction().execute(async (tx) => {
      for (let i = 0; i < rows.length; i += 500) await tx.insertInto('refunds').values(rows.slice(i, i + 500)).execute();
    });
    const due = await hub.db.selectFrom('refunds').select((eb) => eb.fn.countAll<number>().as('n')).where('next_check_at', '<=', Date.now()).executeTakeFirstOrThrow();
    log(`tracked ${rows.length} refunds, ${Number(due.n)} due, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Warm-up: connections, JIT, Gr4vy's token (fetches only; the store is not touched).
    await bareFetches(hub, items, 0, 500);

    const deadline = Date.now() + DEADLINE_MS;
    let synced = 0;
    let syncMs = 0;
    let fetchMs = 0;
    let ticks = 0;
    const ratios: number[] = [];
    const sliceSyncs: number[] = [];
    const sliceFetches: number[] = [];
    const syncSlice = async (): Promise<number> => {
      const target = synced + SLICE;
      const s0 = performance.now();
      let took = 0;
      while (synced < target && Date.now() < deadline) {
        const n = await hub!.poller.tick();
        ticks++;
        synced += n;
        took += n;
        if (n === 0) break;
      }
      const ms = performance.now() - s0;
      syncMs += ms;
      return (took * 1000) / ms;
    };
    for (let slice = 0; slice < SLICES && Date.now() < deadline && synced < TOTAL; slice++) {
      let syncsPerSec = 0;
      let fetchesPerSec = 0;
      const fetchSlice = async () => {
        const ms = await bareFetches(hub!, items, slice * SLICE + 1234, SLICE);
        fetchMs += ms;
        fetchesPerSec = (SLICE * 1000) / ms;
      };
      if (slice % 2 === 0) {
        syncsPerSec = await syncSlice();
        await fetchSlice();
      } else {
        await fetchSlice();
        syncsPerSec = await syncSlice();
      }
      sliceSyncs.push(syncsPerSec);
      sliceFetches.push(fetchesPerSec);
      ratios.push(syncsPerSec / fetchesPerSec);
      log(`slice ${slice + 1}: ${syncsPerSec.toFixed(0)} syncs/s vs ${fetchesPerSec.toFixed(0)} bare fetches/s (${synced} synced)`);
    }

    // Check what the store says, not just what the poller returned.
    const after = await hub.db
      .selectFrom('refunds')
      .select((eb) => [
        eb.fn.countAll<number>().as('n'),
        eb.fn.sum<number>(eb.case().when('check_count', '>=', 2).then(1).else(0).end()).as('checked'),
        eb.fn.sum<number>(eb.case().when('error_count', '>', 0).then(1).else(0).end()).as('failed'),
        eb.fn.sum<number>(eb.case().when('status', '!=', 'pending').then(1).else(0).end()).as('final'),
      ])
      .where('check_count', '>=', 1)
      .where('next_check_at', 'is not', null)
      .executeTakeFirstOrThrow();
    const history = await hub.db.selectFrom('refund_history').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const deliveries = await hub.db.selectFrom('deliveries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const totals = await metricTotals(hub);
    const perProvider = [...totals.byProvider.entries()]
      .map(([p, v]) => `${p} ${v.syncs}${v.errors ? ` (${v.errors} errors)` : ''}, fetch ${(v.latencyCount ? (v.latencySum / v.latencyCount) * 1000 : Number.NaN).toFixed(1)} ms`)
      .join('; ');
    log(`store: ${Number(after.checked)} of ${TOTAL} synced, ${Number(after.final)} now final, ${Number(after.failed)} with errors; ${Number(history.n)} history rows, ${Number(deliveries.n)} deliveries queued; ${ticks} ticks`);
    log(`per provider (syncs incl. 5 templates, mean provider call): ${perProvider}`);

    const overall = (synced * 1000) / syncMs;
    const bareOverall = (SLICES * SLICE * 1000) / fetchMs;
    const complete = Number(after.checked) >= TOTAL;
    const result: BenchResult = {
      benchmark: BENCHMARK,
      name: `poller syncs vs bare fetches, ${TOTAL.toLocaleString('en')} due`,
      ours: { label: 'poller syncs', msPerCall: syncMs / synced, callsPerSec: overall },
      baseline: { label: 'bare fetches', msPerCall: fetchMs / (SLICES * SLICE), callsPerSec: bareOverall },
      kind: 'throughput',
      ratio: median(ratios),
      ratioRange: [Math.min(...ratios), Math.max(...ratios)],
      rounds: ratios.length,
      note:
        `${synced} syncs in ${(syncMs / 1000).toFixed(1)} s = ${overall.toFixed(0)} syncs/s overall (slices ${sliceSyncs.map((x) => x.toFixed(0)).join(', ')}); ` +
        `${Number(after.final)} became final (history + event + delivery); emulator ${options.emulator}; per provider: ${perProvider}`,
    };
    if (!complete) result.error = `only ${Number(after.checked)} of ${TOTAL} refunds were synced within ${DEADLINE_MS / 1000} s`;
    return [result];
  } finally {
    await hub?.stop().catch(() => undefined);
    await emu?.close().catch(() => undefined);
    dir.remove();
  }
}
