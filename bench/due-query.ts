/**
 * The poller's due query (issue 3, benchmarks): `claimDue()` taking 1,000 due refunds from a store
 * of 10,000 tracked refunds and from one of 1,000,000, both SQLite files open side by side in this
 * process, measured in alternating rounds. Target: the 1M time is at most 2x the 10k time.
 *
 * The stores hold a realistic mix (see `rowKind` in bench/lib/tracking-store.ts): most refunds are
 * final with no check scheduled (next_check_at NULL), some final with late checks ahead, some not
 * final with a later check, and the due ones scattered over the table. Two situations:
 * - steady state (the target): about 2,000 refunds due in either store, the rest not due;
 * - backlog (informational): 20 % of the store due, i.e. ~2,000 vs ~200,000 due refunds.
 * Every claim takes exactly 1,000 truly due refunds: after each one the claimed rows get their
 * original next_check_at back (outside the timing), through a second raw connection.
 *
 * Two costs are told apart. SQLite in WAL mode appends a transaction's pages to the WAL and copies
 * them into the database file later, at a checkpoint, in whichever commit crosses
 * `wal_autocheckpoint` (1,000 pages). Left alone, that makes each claim pay for a random share of
 * earlier writes (here: the resets), so both connections run with auto-checkpoints off and the WAL
 * is checkpointed explicitly after every claim and every reset:
 * - "claim" (the target): the UPDATE ... RETURNING itself, WAL append and commit included;
 * - "claim + write-back" (informational): the same plus the checkpoint of the pages it dirtied,
 *   i.e. the full durable cost; at 1M those pages are scattered over a ~780 MB file.
 * Because the reset goes through another connection, SQLite drops the store connection's page cache
 * before each claim: claims start cold in SQLite (warm in the OS cache), as they would for due rows
 * scattered over a store far larger than SQLite's 2 MB default cache.
 */
import Database from 'better-sqlite3';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { sql } from 'kysely';
import { createStore, type Store } from '../src/store/index.js';
import { claimDue, countDue, listTracked } from '../src/store/refunds.js';
import { median } from './lib/compare.js';
import { bulkLoadRefunds, explain, makeRowFactory, tempDir, type RefundRowValues } from './lib/tracking-store.js';
import type { BenchResult, BenchRunOptions } from './lib/types.js';

export const description = 'claimDue(1,000) and search by merchant reference at 10k vs 1M tracked refunds (SQLite file), steady state and backlog';

const BENCHMARK = 'due-query';
const SMALL = 10_000;
const LARGE = 1_000_000;
const TAKE = 1_000;
/** Due refunds left in the large store for the steady-state comparison (the small one has ~1,960). */
const STEADY_DUE = 2_000;
const LEASE_MS = 5 * 60_000;
/** Claims per store per round; the round's figure is their median. */
const CLAIMS_PER_ROUND = 3;
const WARMUP_CLAIMS = 3;
/** Rounds are capped so this benchmark stays within its share of the run. */
const MAX_ROUNDS = 10;
const NEXT_CHECK_COLUMN = 18;

interface Side {
  label: string;
  size: number;
  file: string;
  store: Store;
  raw: Database.Database;
  reset: (rows: Array<{ provider: string; account: string; id: string }>) => void;
}

/** Row number `i` is encoded in the first 12 hex digits of the bench refund id. */
const rowNumber = (id: string): number => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

async function openSide(label: string, size: number, file: string, rowAt: (i: number) => RefundRowValues): Promise<Side> {
  const store = await createStore(`sqlite:${file}`);
  await sql`PRAGMA wal_autocheckpoint = 0`.execute(store.db);
  const raw = new Database(file);
  raw.pragma('busy_timeout = 5000');
  raw.pragma('wal_autocheckpoint = 0');
  raw.pragma('wal_checkpoint(TRUNCATE)');
  const stmt = raw.prepare('UPDATE refunds SET next_check_at = ? WHERE provider = ? AND account = ? AND refund_id = ?');
  const reset = raw.transaction((rows: Array<{ provider: string; account: string; id: string }>) => {
    for (const r of rows) stmt.run(rowAt(rowNumber(r.id))[NEXT_CHECK_COLUMN], r.provider, r.account, r.id);
  });
  return { label, size, file, store, raw, reset };
}

interface ClaimTiming {
  claimMs: number;
  /** Claim plus the checkpoint that writes its pages back into the database file. */
  durableMs: number;
}

async function claimOnce(side: Side, now: number): Promise<ClaimTiming> {
  const t0 = performance.now();
  const claimed = await claimDue(side.store.db, now, TAKE, LEASE_MS);
  const t1 = performance.now();
  await sql`PRAGMA wal_checkpoint(PASSIVE)`.execute(side.store.db);
  const t2 = performance.now();
  side.reset(claimed);
  side.raw.pragma('wal_checkpoint(PASSIVE)');
  if (claimed.length !== TAKE) throw new Error(`${side.label}: claimDue took ${claimed.length} refunds, expected ${TAKE}`);
  return { claimMs: t1 - t0, durableMs: t2 - t0 };
}

/** The SQL `claimDue` really sends, captured by a plugin on one call (whose claim is then undone). */
async function capturedClaimSql(side: Side, now: number): Promise<{ sql: string; parameters: readonly unknown[] }> {
  let captured: { sql: string; parameters: readonly unknown[] } | undefined;
  const executor = side.store.db.getExecutor();
  const plugin: KyselyPlugin = {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      const c = executor.compileQuery(args.node, args.queryId);
      if (/^update/i.test(c.sql)) captured = { sql: c.sql, parameters: c.parameters };
      return args.node;
    },
    transformResult: async (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => args.result,
  };
  const claimed = await claimDue(side.store.db.withPlugin(plugin), now, TAKE, LEASE_MS);
  side.reset(claimed);
  side.raw.pragma('wal_checkpoint(PASSIVE)');
  if (!captured) throw new Error('could not capture the claimDue statement');
  return captured;
}

interface PhaseResult {
  small: number[];
  large: number[];
  ratios: number[];
}

/** Alternating rounds; each round's figure per store is the median of its claims. Returns [claim, claim + write-back]. */
async function measurePhase(small: Side, large: Side, now: number, rounds: number): Promise<[PhaseResult, PhaseResult]> {
  for (let i = 0; i < WARMUP_CLAIMS; i++) {
    await claimOnce(small, now);
    await claimOnce(large, now);
  }
  const claim: PhaseResult = { small: [], large: [], ratios: [] };
  const durable: PhaseResult = { small: [], large: [], ratios: [] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [small, large] : [large, small];
    const got = new Map<Side, ClaimTiming>();
    for (const side of order) {
      const times: ClaimTiming[] = [];
      for (let k = 0; k < CLAIMS_PER_ROUND; k++) times.push(await claimOnce(side, now));
      got.set(side, { claimMs: median(times.map((t) => t.claimMs)), durableMs: median(times.map((t) => t.durableMs)) });
    }
    for (const [out, key] of [[claim, 'claimMs'], [durable, 'durableMs']] as const) {
      const s = got.get(small)![key];
      const l = got.get(large)![key];
      out.small.push(s);
      out.large.push(l);
      out.ratios.push(l / s);
    }
  }
  return [claim, durable];
}

/** Merchant-reference lookups per store per round (issue 9's search), each a different refund. */
const LOOKUPS_PER_ROUND = 200;

/**
 * Gives every bench refund a merchant reference (the bulk loader leaves the column null), as a
 * shop's order numbers: unique, `order-` plus the row's hex. Outside the timing.
 */
function addMerchantReferences(side: Side): void {
  side.raw.prepare("UPDATE refunds SET merchant_reference = 'order-' || substr(refund_id, 1, 8) || substr(refund_id, 10, 4)").run();
  side.raw.pragma('wal_checkpoint(TRUNCATE)');
}

/** `GET /v1/refunds?merchantReference=` as the API runs it: listTracked with the filter, one page. */
async function measureSearch(small: Side, large: Side, rounds: number): Promise<PhaseResult> {
  const out: PhaseResult = { small: [], large: [], ratios: [] };
  const refsOf = (side: Side, round: number) =>
    Array.from({ length: LOOKUPS_PER_ROUND }, (_, k) => {
      const i = Math.floor(unitAt(round * LOOKUPS_PER_ROUND + k) * side.size);
      return `order-${i.toString(16).padStart(12, '0')}`;
    });
  const timeSide = async (side: Side, refs: string[]) => {
    const t0 = performance.now();
    for (const ref of refs) {
      const page = await listTracked(side.store.db, { merchantReference: ref, limit: 50 });
      if (page.data.length !== 1) throw new Error(`search for ${ref} in ${side.label} found ${page.data.length} refunds`);
    }
    return (performance.now() - t0) / refs.length;
  };
  await timeSide(small, refsOf(small, 999));
  await timeSide(large, refsOf(large, 999));
  for (let r = 0; r < rounds; r++) {
    const s = await timeSide(small, refsOf(small, r));
    const l = await timeSide(large, refsOf(large, r));
    out.small.push(s);
    out.large.push(l);
    out.ratios.push(l / s);
  }
  return out;
}

/** A deterministic spread over [0, 1) (golden-ratio sequence), so both stores get comparable lookups. */
const unitAt = (n: number): number => (n * 0.6180339887498949) % 1;

function toResult(name: string, phase: PhaseResult, target: BenchResult['target'], note: string): BenchResult {
  const side = (label: string, ms: number[]) => {
    const m = median(ms);
    return { label, msPerCall: m, callsPerSec: 1000 / m };
  };
  return {
    benchmark: BENCHMARK,
    name,
    ours: side('1M tracked', phase.large),
    baseline: side('10k tracked', phase.small),
    kind: 'time',
    ratio: median(phase.ratios),
    ratioRange: [Math.min(...phase.ratios), Math.max(...phase.ratios)],
    rounds: phase.ratios.length,
    ...(target ? { target } : {}),
    note,
  };
}

export async function run(options: BenchRunOptions): Promise<BenchResult[]> {
  const log = (line: string) => options.log(`${BENCHMARK}: ${line}`);
  const rounds = Math.min(options.rounds, MAX_ROUNDS);
  const dir = tempDir('refundhub-bench-due-');
  const sides: Side[] = [];
  try {
    const now = Date.now();
    const rowAt = makeRowFactory(now);
    const smallFile = `${dir.dir}/small.db`;
    const largeFile = `${dir.dir}/large.db`;
    const smallMs = await bulkLoadRefunds(smallFile, SMALL, rowAt);
    log(`loaded ${SMALL.toLocaleString('en')} refunds in ${(smallMs / 1000).toFixed(1)} s`);
    const largeMs = await bulkLoadRefunds(largeFile, LARGE, rowAt);
    log(`loaded ${LARGE.toLocaleString('en')} refunds in ${(largeMs / 1000).toFixed(1)} s`);
    const small = await openSide('10k', SMALL, smallFile, rowAt);
    sides.push(small);
    const large = await openSide('1M', LARGE, largeFile, rowAt);
    sides.push(large);

    const claimSql = await capturedClaimSql(large, now);
    const plan = explain(large.file, claimSql.sql, claimSql.parameters);
    log(`plan at 1M: ${plan}`);

    // Backlog first: 20 % of each store is due.
    const dueSmall = await countDue(small.store.db, now);
    const dueLargeBacklog = await countDue(large.store.db, now);
    log(`backlog: ${dueSmall} vs ${dueLargeBacklog} due; ${rounds} rounds`);
    const [backlog] = await measurePhase(small, large, now, rounds);

    // Steady state: leave only the STEADY_DUE most overdue refunds due in the large store.
    const t0 = performance.now();
    large.raw
      .prepare(
        `UPDATE refunds SET next_check_at = ? + (rowid % 86400000)
         WHERE next_check_at <= ? AND rowid NOT IN (SELECT rowid FROM refunds WHERE next_check_at <= ? ORDER BY next_check_at LIMIT ?)`,
      )
      .run(now + 60_000, now, now, STEADY_DUE);
    large.raw.pragma('wal_checkpoint(TRUNCATE)');
    const dueLarge = await countDue(large.store.db, now);
    log(`steady state: ${dueSmall} vs ${dueLarge} due (rescheduled the rest in ${((performance.now() - t0) / 1000).toFixed(1)} s); ${rounds} rounds`);
    const [steady, steadyDurable] = await measurePhase(small, large, now, rounds);

    const t1 = performance.now();
    addMerchantReferences(small);
    addMerchantReferences(large);
    log(`merchant references set in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    const searchSql = large.store.db.selectFrom('refunds').selectAll().where('merchant_reference', '=', 'order-000000000001').compile();
    const searchPlan = explain(large.file, searchSql.sql, searchSql.parameters);
    log(`search plan at 1M: ${searchPlan}`);
    const search = await measureSearch(small, large, rounds);

    const load = `1M rows loaded in ${(largeMs / 1000).toFixed(1)} s`;
    const results = [
      toResult(
        `claimDue ${TAKE} of ~${STEADY_DUE} due: 1M vs 10k tracked`,
        steady,
        { op: '<=', value: 2 },
        `${dueLarge} vs ${dueSmall} due; median of ${CLAIMS_PER_ROUND} claims per store per round, cold SQLite cache, WAL checkpoint excluded; ${load}; plan: ${plan}`,
      ),
      toResult(
        `claimDue ${TAKE} + WAL write-back: 1M vs 10k tracked`,
        steadyDurable,
        undefined,
        'the same claims plus the checkpoint that copies their pages into the database file (informational)',
      ),
      toResult(
        `claimDue ${TAKE}, backlog 20% due: 1M vs 10k tracked`,
        backlog,
        undefined,
        `${dueLargeBacklog} vs ${dueSmall} due (informational: a large backlog, e.g. after downtime)`,
      ),
      toResult(
        'search by merchantReference (listTracked, one page): 1M vs 10k tracked',
        search,
        { op: '<=', value: 2 },
        `mean of ${LOOKUPS_PER_ROUND} exact lookups of different refunds per store per round; plan: ${searchPlan}`,
      ),
    ];
    for (const r of results) log(`${r.name}: ${r.ours.msPerCall.toFixed(2)} ms vs ${r.baseline.msPerCall.toFixed(2)} ms, ratio ${r.ratio.toFixed(2)} [${r.ratioRange[0].toFixed(2)}-${r.ratioRange[1].toFixed(2)}]`);
    return results;
  } finally {
    for (const s of sides) {
      s.raw.close();
      await s.store.close().catch(() => undefined);
    }
    dir.remove();
  }
}
