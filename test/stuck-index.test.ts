import { join } from 'node:path';
import { CompiledQuery, type KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overview } from '../src/server/stats.js';
import { createStore, type Store } from '../src/store/index.js';
import { buildReport } from '../src/store/report.js';
import { listTracked } from '../src/store/refunds.js';
import { tempDir } from './support/hub.js';

/**
 * Stuck refunds are few among millions: every read of them (the overview, `refundhub report`, the
 * stuck-only list) must walk a partial index (refunds_stuck_tracked or refunds_stuck_account, migration 009), never the
 * whole table. Checked with SQLite's EXPLAIN QUERY PLAN on the statements those functions run.
 */

let tmp: ReturnType<typeof tempDir>;
let store: Store;

beforeAll(async () => {
  tmp = tempDir('refundhub-stuck-index-');
  store = await createStore(`sqlite:${join(tmp.dir, 'hub.db')}`);
});
afterAll(async () => {
  await store?.close();
  tmp?.cleanup();
});

/** Runs `fn` on a db that records every statement, then returns each stuck statement's plan. */
async function stuckPlans(fn: (db: Store['db']) => Promise<unknown>): Promise<Array<{ sql: string; plan: string }>> {
  const executor = store.db.getExecutor();
  const captured: CompiledQuery[] = [];
  const capture: KyselyPlugin = {
    transformQuery: (args) => (captured.push(executor.compileQuery(args.node, args.queryId)), args.node),
    transformResult: async (args) => args.result,
  };
  await fn(store.db.withPlugin(capture));
  const out: Array<{ sql: string; plan: string }> = [];
  for (const q of captured.filter((c) => /"stuck" = 1/.test(c.sql))) {
    const rows = await store.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${q.sql}`, [...q.parameters]));
    out.push({ sql: q.sql, plan: rows.rows.map((r) => r.detail).join('; ') });
  }
  return out;
}

describe('reads of stuck refunds use the partial index', () => {
  it.each([
    ['the overview', (db: Store['db']) => overview(db, Date.now(), 7 * 86_400_000)],
    ['refundhub report', (db: Store['db']) => buildReport(db, Date.now(), 7 * 86_400_000)],
    ['the stuck-only list', (db: Store['db']) => listTracked(db, { stuck: true, limit: 50 })],
  ])('%s', async (_name, fn) => {
    const plans = await stuckPlans(fn);
    expect(plans.length).toBeGreaterThan(0);
    for (const p of plans) expect(p.plan, p.sql).toMatch(/USING (COVERING )?INDEX refunds_stuck_(tracked|account)\b/);
  });
});
