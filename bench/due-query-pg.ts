/**
 * The poller's due query on PostgreSQL (issue 7, benchmarks): `claimDue()` taking 1,000 due
 * refunds from a store of 10,000 tracked refunds and from one of 1,000,000, two databases side by
 * side on the same server, measured in alternating rounds. Target: the 1M time is at most 2x the
 * 10k time. The same realistic mix and steady state as bench/due-query.ts (SQLite): about 2,000
 * refunds due in either store, the rest final or checked later; after each claim the claimed rows
 * get their original next_check_at back, outside the timing. A second, informational row: a
 * backlog (20 % of each store due).
 *
 * PostgreSQL at REFUNDHUB_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres);
 * makes and drops its own databases. Loading 1M rows takes a minute or two.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createStore, type Store } from '../src/store/index.js';
import { claimDue, countDue } from '../src/store/refunds.js';
import { median } from './lib/compare.js';
import { makeRowFactory, REFUND_COLUMNS, type RefundRowValues } from './lib/tracking-store.js';
import type { BenchResult, BenchRunOptions } from './lib/types.js';

export const description = 'claimDue(1,000) at 10k vs 1M tracked refunds on PostgreSQL, steady state and backlog';

const BENCHMARK = 'due-query-pg';
const ADMIN = process.env.REFUNDHUB_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SMALL = 10_000;
const LARGE = Number(process.env.BENCH_DUE_PG_LARGE ?? 1_000_000);
const TAKE = 1_000;
const STEADY_DUE = 2_000;
const LEASE_MS = 5 * 60_000;
const CLAIMS_PER_ROUND = 3;
const WARMUP_CLAIMS = 3;
const MAX_ROUNDS = 10;
const LOAD_BATCH = 10_000;
const NEXT_CHECK_COLUMN = REFUND_COLUMNS.indexOf('next_check_at' as (typeof REFUND_COLUMNS)[number]);

async function admin(statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

interface Side {
  label: string;
  name: string;
  store: Store;
  raw: pg.Client;
}

const rowNumber = (id: string): number => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

/** A migrated database holding `count` rows, loaded with unnest() batches, indexes rebuilt after, analyzed. */
async function openSide(label: string, count: number, rowAt: (i: number) => RefundRowValues): Promise<Side & { loadMs: number }> {
  const name = `refundhub_bench_due_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(ADMIN);
  u.pathname = `/${name}`;
  const store = await createStore(u.toString());
  const raw = new pg.Client({ connectionString: u.toString() });
  await raw.connect();
  const t0 = performance.now();
  const types = new Map(
    (await raw.query<{ column_name: string; data_type: string }>("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'refunds'")).rows.map((r) => [r.column_name, r.data_type]),
  );
  const indexes = (await raw.query<{ indexname: string; indexdef: string }>("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'refunds' AND indexname NOT IN (SELECT conname FROM pg_constraint)")).rows;
  for (const ix of indexes) await raw.query(`DROP INDEX "${ix.indexname}"`);
  const cols = REFUND_COLUMNS as readonly string[];
  const insert = `INSERT INTO refunds (${cols.join(',')}) SELECT * FROM unnest(${cols.map((c, i) => `$${i + 1}::${types.get(c) ?? 'text'}[]`).join(',')})`;
  for (let from = 0; from < count; from += LOAD_BATCH) {
    const arrays: unknown[][] = cols.map(() => []);
    for (let i = from; i < Math.min(count, from + LOAD_BATCH); i++) {
      const row = rowAt(i);
      for (let c = 0; c < cols.length; c++) arrays[c]!.push(row[c]);
    }
    await raw.query(insert, arrays);
  }
  for (const ix of indexes) await raw.query(ix.indexdef);
  await raw.query('VACUUM ANALYZE refunds');
  return { label, name, store, raw, loadMs: performance.now() - t0 };
}

async function claimOnce(side: Side, now: number, rowAt: (i: number) => RefundRowValues): Promise<number> {
  const t0 = performance.now();
  const claimed = await claimDue(side.store.db, now, TAKE, LEASE_MS);
  const ms = performance.now() - t0;
  if (claimed.length !== TAKE) throw new Error(`${side.label}: claimDue took ${claimed.length} refunds, expected ${TAKE}`);
  await side.raw.query('UPDATE refunds r SET next_check_at = v.n FROM unnest($1::text[], $2::bigint[]) AS v(id, n) WHERE r.refund_id = v.id', [
    claimed.map((c) => c.id),
    claimed.map((c) => rowAt(rowNumber(c.id))[NEXT_CHECK_COLUMN]),
  ]);
  return ms;
}

async function measure(small: Side, large: Side, now: number, rounds: number, rowAt: (i: number) => RefundRowValues): Promise<{ small: number[]; large: number[]; ratios: number[] }> {
  for (let i = 0; i < WARMUP_CLAIMS; i++) {
    await claimOnce(small, now, rowAt);
    await claimOnce(large, now, rowAt);
  }
  const out = { small: [] as number[], large: [] as number[], ratios: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    const got = new Map<Side, number>();
    for (const side of round % 2 === 0 ? [small, large] : [large, small]) {
      const times: number[] = [];
      for (let k = 0; k < CLAIMS_PER_ROUND; k++) times.push(await claimOnce(side, now, rowAt));
      got.set(side, median(times));
    }
    out.small.push(got.get(small)!);
    out.large.push(got.get(large)!);
    out.ratios.push(got.get(large)! / got.get(small)!);
  }
  return out;
}

function toResult(name: string, m: { small: number[]; large: number[]; ratios: number[] }, target: BenchResult['target'] | undefined, note: string): BenchResult {
  const side = (label: string, ms: number[]) => ({ label, msPerCall: median(ms), callsPerSec: 1000 / median(ms) });
  return {
    benchmark: BENCHMARK,
    name,
    ours: side(`${LARGE.toLocaleString('en')} tracked`, m.large),
    baseline: side('10k tracked', m.small),
    kind: 'time',
    ratio: median(m.ratios),
    ratioRange: [Math.min(...m.ratios), Math.max(...m.ratios)],
    rounds: m.ratios.length,
    ...(target ? { target } : {}),
    note,
  };
}

export async function run(options: BenchRunOptions): Promise<BenchResult[]> {
  const log = (line: string) => options.log(`${BENCHMARK}: ${line}`);
  const rounds = Math.min(options.rounds, MAX_ROUNDS);
  const sides: Side[] = [];
  try {
    const now = Date.now();
    const rowAt = makeRowFactory(now);
    const small = await openSide('10k', SMALL, rowAt);
    sides.push(small);
    log(`loaded ${SMALL.toLocaleString('en')} refunds in ${(small.loadMs / 1000).toFixed(1)} s`);
    const large = await openSide('1M', LARGE, rowAt);
    sides.push(large);
    log(`loaded ${LARGE.toLocaleString('en')} refunds in ${(large.loadMs / 1000).toFixed(1)} s`);

    const dueSmall = await countDue(small.store.db, now);
    const dueBacklog = await countDue(large.store.db, now);
    log(`backlog: ${dueSmall} vs ${dueBacklog} due; ${rounds} rounds`);
    const backlog = await measure(small, large, now, rounds, rowAt);

    // Steady state: only the STEADY_DUE most overdue refunds stay due in the large store.
    await large.raw.query(
      `UPDATE refunds SET next_check_at = $1::bigint + (abs(hashtext(refund_id)) % 86400000)
       WHERE next_check_at <= $2 AND refund_id NOT IN (SELECT refund_id FROM refunds WHERE next_check_at <= $2 ORDER BY next_check_at LIMIT $3)`,
      [now + 60_000, now, STEADY_DUE],
    );
    await large.raw.query('VACUUM ANALYZE refunds');
    const dueLarge = await countDue(large.store.db, now);
    const plan = (await large.raw.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT provider, account, refund_id FROM refunds WHERE next_check_at <= $1 ORDER BY next_check_at LIMIT ${TAKE}`,
      [now],
    )).rows.map((r) => r['QUERY PLAN'].trim()).join('; ');
    log(`steady state: ${dueSmall} vs ${dueLarge} due; plan: ${plan}`);
    const steady = await measure(small, large, now, rounds, rowAt);

    const results = [
      toResult(`claimDue ${TAKE} of ~${STEADY_DUE} due on PostgreSQL: ${LARGE.toLocaleString('en')} vs 10k tracked`, steady, { op: '<=', value: 2 }, `${dueLarge} vs ${dueSmall} due; median of ${CLAIMS_PER_ROUND} claims per store per round; ${LARGE.toLocaleString('en')} rows loaded in ${(large.loadMs / 1000).toFixed(0)} s; plan: ${plan}`),
      toResult(`claimDue ${TAKE}, backlog 20% due, PostgreSQL: ${LARGE.toLocaleString('en')} vs 10k tracked`, backlog, undefined, `${dueBacklog} vs ${dueSmall} due (informational)`),
    ];
    for (const r of results) log(`${r.name}: ${r.ours.msPerCall.toFixed(2)} ms vs ${r.baseline.msPerCall.toFixed(2)} ms, ratio ${r.ratio.toFixed(2)}`);
    return results;
  } finally {
    for (const s of sides) {
      await s.raw.end().catch(() => undefined);
      await s.store.close().catch(() => undefined);
      await admin(`DROP DATABASE IF EXISTS ${s.name} WITH (FORCE)`).catch(() => undefined);
    }
  }
}
