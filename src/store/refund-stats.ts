import { sql } from 'kysely';
import { redactUrl } from '../redact.js';
import type { Db } from './index.js';

/**
 * Queries shared by the operator's report (`refundhub report`, src/store/report.ts) and the
 * dashboard's overview (`GET /v1/stats/overview`, src/server/stats.ts), so both say the same thing
 * about the same rows. Plain Kysely, so they run on SQLite and PostgreSQL alike; percentiles are
 * computed here over a bounded sample, because the two databases share no percentile function.
 */

/** Time to final is computed over at most this many of a group's latest final refunds in the period (bounded work at a million rows). */
export const TIME_TO_FINAL_SAMPLE = 5_000;

export interface TimeToFinal {
  count: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface FailingEndpoint {
  id: string;
  /** Redacted: credentials in the URL never leave the store. */
  url: string;
  failures: number;
  lastFailureAt: string;
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Tracking start to final status for one provider (and account, when given) over refunds that became final since `since`. */
export async function timeToFinal(db: Db, since: number, group: { provider: string; account?: string }): Promise<TimeToFinal> {
  let q = db
    .selectFrom('refunds')
    .select(sql<number>`final_at - tracked_at`.as('d'))
    .where('provider', '=', group.provider)
    .where('final_at', '>=', since);
  if (group.account !== undefined) q = q.where('account', '=', group.account);
  const rows = await q.orderBy('final_at', 'desc').limit(TIME_TO_FINAL_SAMPLE).execute();
  const ds = rows.map((r) => Math.max(0, Number(r.d))).sort((a, b) => a - b);
  return { count: ds.length, p50Ms: percentile(ds, 50), p95Ms: percentile(ds, 95) };
}

/** Live endpoints with deliveries that failed since `since`, most failures first. */
export async function failingEndpoints(db: Db, since: number, limit: number): Promise<FailingEndpoint[]> {
  const rows = await db
    .selectFrom('deliveries as d')
    .innerJoin('webhook_endpoints as w', 'w.id', 'd.endpoint_id')
    .select(['w.id', 'w.url', sql<number>`count(*)`.as('n'), sql<number>`max(d.updated_at)`.as('last')])
    .where('w.deleted_at', 'is', null)
    .where('d.updated_at', '>=', since)
    // Given up, or still retrying after a failed attempt.
    .where((eb) => eb.or([eb('d.status', '=', 'failed'), eb.and([eb('d.status', '=', 'pending'), eb('d.attempts', '>', 0)])]))
    .groupBy(['w.id', 'w.url'])
    .orderBy(sql`count(*)`, 'desc')
    .orderBy('w.id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, url: redactUrl(r.url), failures: Number(r.n), lastFailureAt: new Date(Number(r.last)).toISOString() }));
}
