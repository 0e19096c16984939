/**
 * The dashboard's Refunds table (issue 8): one page of `listTracked()` (what `GET /v1/refunds`
 * runs) from a store of 10,000 tracked refunds and from one of 1,000,000, both SQLite files open
 * side by side, in alternating rounds. Target: a page at 1M takes at most 2x a page at 10k, for
 * - a page deep in the table, newest first, no filter (keyset cursor from the middle);
 * - the same with a provider filter (the dashboard's Provider select), and with a status filter;
 * - a Search by payment id (indexed by migration 007).
 * Without keyset pagination (OFFSET) or without the indexes, the 1M side grows with the table.
 */
import Database from 'better-sqlite3';
import { createStore, type Store } from '../src/store/index.js';
import { listTracked } from '../src/store/refunds.js';
import { compareSequential } from './lib/compare.js';
import { benchRefundId, bulkLoadRefunds, makeRowFactory, tempDir } from './lib/tracking-store.js';
import type { BenchResult, BenchRunOptions } from './lib/types.js';

export const description = 'listTracked() pages (cursor, provider filter, search) at 10k vs 1M tracked refunds (SQLite file)';

const BENCHMARK = 'list-pages';
const SMALL = 10_000;
const LARGE = 1_000_000;
const PAGE = 50;
/** Rounds are capped so this benchmark stays within its share of the run. */
const MAX_ROUNDS = 10;

/** The cursor `listTracked` would hand out after the row at the middle of the table, newest first. */
function middleCursor(file: string, size: number): string {
  const db = new Database(file, { readonly: true });
  try {
    const row = db
      .prepare('SELECT tracked_at, provider, account, refund_id FROM refunds ORDER BY tracked_at DESC, provider DESC, account DESC, refund_id DESC LIMIT 1 OFFSET ?')
      .get(Math.floor(size / 2)) as { tracked_at: number; provider: string; account: string; refund_id: string };
    return Buffer.from(JSON.stringify([Number(row.tracked_at), row.provider, row.account, row.refund_id]), 'utf8').toString('base64url');
  } finally {
    db.close();
  }
}

export async function run(options: BenchRunOptions): Promise<BenchResult[]> {
  const { log } = options;
  const dir = tempDir();
  const stores: Store[] = [];
  try {
    const now = Date.now();
    const rowAt = makeRowFactory(now);
    const smallFile = `${dir.dir}/small.db`;
    const largeFile = `${dir.dir}/large.db`;
    log(`${BENCHMARK}: loading ${SMALL} and ${LARGE} refunds`);
    await bulkLoadRefunds(smallFile, SMALL, rowAt);
    await bulkLoadRefunds(largeFile, LARGE, rowAt);
    const small = await createStore(`sqlite:${smallFile}`);
    const large = await createStore(`sqlite:${largeFile}`);
    stores.push(small, large);
    const cursors = new Map([[small, middleCursor(smallFile, SMALL)], [large, middleCursor(largeFile, LARGE)]]);
    // A payment id present in both stores (row 4321), as a person would paste it into Search.
    const paymentId = `pay_${benchRefundId(4321).slice(0, 18)}`;

    const cases: Array<{ name: string; page: (s: Store) => Promise<unknown> }> = [
      { name: 'page from the middle, newest first', page: (s) => listTracked(s.db, { limit: PAGE, order: 'desc', cursor: cursors.get(s)! }) },
      { name: 'provider filter, page from the middle, newest first', page: (s) => listTracked(s.db, { limit: PAGE, order: 'desc', provider: 'stan', cursor: cursors.get(s)! }) },
      { name: 'status filter, page from the middle, newest first', page: (s) => listTracked(s.db, { limit: PAGE, order: 'desc', status: 'pending', cursor: cursors.get(s)! }) },
      { name: 'search by payment id', page: (s) => listTracked(s.db, { limit: PAGE, q: paymentId }) },
    ];
    const results: BenchResult[] = [];
    for (const c of cases) {
      const check = (await c.page(large)) as { data: unknown[] };
      if (check.data.length === 0) throw new Error(`${c.name}: the 1M store returned no rows`);
      const cmp = await compareSequential(
        { label: '1M refunds', call: () => c.page(large) },
        { label: '10k refunds', call: () => c.page(small) },
        { rounds: Math.min(options.rounds, MAX_ROUNDS), timeMs: options.timeMs },
      );
      results.push({
        benchmark: BENCHMARK,
        name: `listTracked ${c.name}: 1M vs 10k`,
        ours: cmp.ours,
        baseline: cmp.baseline,
        kind: 'time',
        ratio: cmp.ratio,
        ratioRange: cmp.ratioRange,
        rounds: cmp.rounds.length,
        target: { op: '<=', value: 2 },
      });
      log(`${c.name}: ${cmp.ours.msPerCall.toFixed(3)} ms vs ${cmp.baseline.msPerCall.toFixed(3)} ms, ratio ${cmp.ratio.toFixed(2)}`);
    }
    return results;
  } finally {
    for (const s of stores) await s.close();
    dir.remove();
  }
}
