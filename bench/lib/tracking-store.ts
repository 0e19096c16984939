import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PROVIDER_IDS, type ProviderId } from '../../src/domain/refund.js';
import { getProvider } from '../../src/providers/registry.js';
import { createStore } from '../../src/store/index.js';

/**
 * Helpers shared by the tracking benchmarks (due-query, sync-throughput, tracking-api): temp
 * directories that are always removed, and a fast bulk loader for the `refunds` table that goes
 * around the query layer (raw better-sqlite3, multi-row prepared INSERTs in big transactions) so a
 * million realistic rows take seconds, not minutes. The schema itself always comes from the real
 * migrations (`createStore`), so the indexes are the ones production has.
 */

export interface TempDir {
  dir: string;
  remove(): void;
}

export function tempDir(prefix = 'refundhub-bench-'): TempDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Column order of the bulk INSERT (every column of `refunds`). */
export const REFUND_COLUMNS = [
  'provider', 'account', 'refund_id', 'status', 'provider_status', 'payment_id', 'amount', 'currency', 'amount_decimal', 'reason',
  'created_at', 'updated_at', 'failure_code', 'failure_message', 'raw', 'currency_hint', 'tracked_at', 'last_checked_at',
  'next_check_at', 'check_count', 'final_at', 'stuck', 'error_count', 'last_error_code', 'last_error_message', 'sequence',
] as const;

export type RefundRowValues = Array<string | number | null>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A deterministic pseudo-random number in [0, 1) from an integer (a multiplicative hash; no state, reproducible). */
export function unit(i: number, salt = 0): number {
  let h = Math.imul((i + 1) ^ Math.imul(salt + 0x9e3779b9, 0x85ebca6b), 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39);
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296;
}

/**
 * A UUID-shaped refund id, increasing with `i` (its first 12 hex digits are `i`) so the bulk load
 * appends to the primary-key index instead of splitting pages all over it; the rest is random.
 */
export function benchRefundId(i: number): string {
  const h = i.toString(16).padStart(12, '0');
  const r = Math.floor(unit(i, 1) * 0xffffffff).toString(16).padStart(8, '0') + Math.floor(unit(i, 2) * 0xffffffff).toString(16).padStart(8, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${r.slice(0, 3)}-8${r.slice(3, 6)}-${r.slice(6, 16)}00`;
}

/** What a row stands for in the due-query mix. */
export type RowKind = 'due' | 'future' | 'late_check' | 'done';

/**
 * The realistic mix of the due-query benchmark, by a hash of the row number (so the due rows are
 * scattered over the table, as refunds tracked at different times are):
 * - 20 % not final and overdue (next check 1 s to 2 h ago), the candidates for "due";
 * - 10 % not final, next check later (1 min to 24 h from now);
 * - 10 % final, late reversal checks still scheduled (1 h to 7 days from now);
 * - 60 % final with its late checks done: `next_check_at` NULL.
 */
export function rowKind(i: number): RowKind {
  const u = unit(i, 7);
  if (u < 0.2) return 'due';
  if (u < 0.3) return 'future';
  if (u < 0.4) return 'late_check';
  return 'done';
}

interface ProviderTemplate {
  /** The native JSON split around its id, so `parts.join(id)` is the same refund under another id. */
  parts: string[];
}

/** One real emulator refund per provider (its native JSON is what `raw` holds in production). */
function templates(now: number): Record<ProviderId, ProviderTemplate> {
  const out = {} as Record<ProviderId, ProviderTemplate>;
  for (const p of PROVIDER_IDS) {
    const mod = getProvider(p);
    const native = mod.emulator.create({}, now);
    out[p] = { parts: JSON.stringify(native).split(String(mod.emulator.idOf(native))) };
  }
  return out;
}

const FINAL: Array<[string, string]> = [['succeeded', 'succeeded'], ['succeeded', 'completed'], ['failed', 'failed'], ['canceled', 'cancelled']];

/** Builds the values of row `i` for a store whose clock reads `now`. */
export function makeRowFactory(now: number): (i: number) => RefundRowValues {
  const tpl = templates(now);
  return (i) => {
    const provider = PROVIDER_IDS[i % PROVIDER_IDS.length]!;
    const id = benchRefundId(i);
    const kind = rowKind(i);
    const u = unit(i, 11);
    const raw = tpl[provider].parts.join(id);
    const trackedAt = now - Math.floor(unit(i, 3) * 60 * DAY) - MINUTE;
    let status = 'pending';
    let providerStatus = 'pending';
    let nextCheckAt: number | null;
    let finalAt: number | null = null;
    let checkCount = 1 + Math.floor(u * 8);
    switch (kind) {
      case 'due':
        nextCheckAt = now - 1000 - Math.floor(u * 2 * HOUR);
        break;
      case 'future':
        nextCheckAt = now + MINUTE + Math.floor(u * DAY);
        break;
      case 'late_check':
        [status, providerStatus] = FINAL[i % FINAL.length]!;
        finalAt = now - Math.floor(u * DAY);
        nextCheckAt = now + HOUR + Math.floor(u * 7 * DAY);
        break;
      default:
        [status, providerStatus] = FINAL[i % FINAL.length]!;
        finalAt = trackedAt + DAY;
        nextCheckAt = null;
        checkCount = 9;
    }
    const amount = 100 + Math.floor(unit(i, 5) * 50_000);
    const created = new Date(trackedAt).toISOString();
    return [
      provider, 'default', id, status, providerStatus, `pay_${id.slice(0, 18)}`, amount, 'EUR', (amount / 100).toFixed(2),
      i % 3 === 0 ? 'requested_by_customer' : null, created, created,
      status === 'failed' ? 'insufficient_funds' : null, status === 'failed' ? 'The refund could not be completed' : null,
      raw, null, trackedAt, nextCheckAt === null ? trackedAt + DAY : now - HOUR, nextCheckAt, checkCount, finalAt, 0, 0, null, null,
      status === 'pending' ? 1 : 2,
    ];
  };
}

/**
 * Creates a migrated SQLite file at `file` holding `count` rows made by `rowAt`, loaded with the
 * raw driver (journal off, large cache, 200-row INSERTs, 50,000 rows per transaction), then switched
 * back to WAL as `createStore` leaves it. Returns the load time in ms.
 */
export async function bulkLoadRefunds(file: string, count: number, rowAt: (i: number) => RefundRowValues): Promise<number> {
  const store = await createStore(`sqlite:${file}`);
  await store.close();
  const started = performance.now();
  const db = new Database(file);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    // Secondary indexes are dropped for the load and rebuilt from their own CREATE INDEX text
    // (sorting once is far faster than a million random index inserts); the schema stays the migration's.
    const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'refunds' AND sql IS NOT NULL").all() as Array<{ name: string; sql: string }>;
    for (const ix of indexes) db.exec(`DROP INDEX "${ix.name}"`);
    const perStatement = 200;
    const placeholders = `(${REFUND_COLUMNS.map(() => '?').join(',')})`;
    const insert = (n: number) => db.prepare(`INSERT INTO refunds (${REFUND_COLUMNS.join(',')}) VALUES ${Array.from({ length: n }, () => placeholders).join(',')}`);
    const full = insert(perStatement);
    const chunk = db.transaction((from: number, to: number) => {
      let i = from;
      const params: RefundRowValues = [];
      for (; i + perStatement <= to; i += perStatement) {
        params.length = 0;
        for (let k = i; k < i + perStatement; k++) params.push(...rowAt(k));
        full.run(params);
      }
      if (i < to) {
        params.length = 0;
        for (let k = i; k < to; k++) params.push(...rowAt(k));
        insert(to - i).run(params);
      }
    });
    for (let from = 0; from < count; from += 50_000) chunk(from, Math.min(count, from + 50_000));
    for (const ix of indexes) db.exec(ix.sql);
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
  return performance.now() - started;
}

/** `EXPLAIN QUERY PLAN` of a compiled query, one line per step. */
export function explain(file: string, sqlText: string, parameters: readonly unknown[]): string {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare(`EXPLAIN QUERY PLAN ${sqlText}`).all(...(parameters as unknown[])) as Array<{ detail: string }>;
    return rows.map((r) => r.detail).join('; ');
  } finally {
    db.close();
  }
}
