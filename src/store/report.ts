import { sql } from 'kysely';
import { REFUND_STATUSES, type RefundStatus } from '../domain/refund.js';
import type { Db } from './index.js';
import { failingEndpoints, timeToFinal, type FailingEndpoint } from './refund-stats.js';

/**
 * The operator's report (`refundhub report`): per provider and account, what happened over a
 * period. Plain Kysely (GROUP BY, count, subtraction of integer epoch ms), so the same queries run
 * on SQLite and PostgreSQL; time to final and failing endpoints come from refund-stats.ts, which
 * the dashboard's overview uses too.
 */
/** Stuck refunds and failing endpoints listed by name (the counts cover all of them). */
export const REPORT_LIST_LIMIT = 50;

export interface ReportGroup {
  provider: string;
  account: string;
  /** Refunds whose tracking started in the period, by current status. */
  byStatus: Record<RefundStatus, number>;
  total: number;
  /** Tracking start to final status, over refunds that became final in the period. */
  timeToFinal: { count: number; p50Ms: number | null; p95Ms: number | null };
  /** Refunds stuck now (past their provider's threshold, not final), whenever tracked. */
  stuck: number;
  /** History entries in the period: stale or unknown reads of final refunds. */
  anomalies: number;
  /** History entries in the period: a final status turned into another. */
  reversals: number;
}

export interface Report {
  generatedAt: string;
  since: string;
  groups: ReportGroup[];
  stuck: { count: number; refunds: Array<{ provider: string; account: string; id: string; status: string; trackedAt: string }> };
  failingEndpoints: FailingEndpoint[];
}

const iso = (ms: unknown): string => new Date(Number(ms)).toISOString();

export async function buildReport(db: Db, now: number, sinceMs: number): Promise<Report> {
  const since = now - sinceMs;
  const groups = new Map<string, ReportGroup>();
  const group = (provider: string, account: string): ReportGroup => {
    const k = `${provider}\u0000${account}`;
    let g = groups.get(k);
    if (!g) {
      g = {
        provider,
        account,
        byStatus: Object.fromEntries(REFUND_STATUSES.map((s) => [s, 0])) as Record<RefundStatus, number>,
        total: 0,
        timeToFinal: { count: 0, p50Ms: null, p95Ms: null },
        stuck: 0,
        anomalies: 0,
        reversals: 0,
      };
      groups.set(k, g);
    }
    return g;
  };

  const statusRows = await db
    .selectFrom('refunds')
    .select(['provider', 'account', 'status', sql<number>`count(*)`.as('n')])
    .where('tracked_at', '>=', since)
    .groupBy(['provider', 'account', 'status'])
    .execute();
  for (const r of statusRows) {
    const g = group(r.provider, r.account);
    const n = Number(r.n);
    g.byStatus[r.status as RefundStatus] = (g.byStatus[r.status as RefundStatus] ?? 0) + n;
    g.total += n;
  }

  const stuckRows = await db.selectFrom('refunds').select(['provider', 'account', sql<number>`count(*)`.as('n')]).where('stuck', '=', sql.lit(1)).groupBy(['provider', 'account']).execute();
  for (const r of stuckRows) group(r.provider, r.account).stuck = Number(r.n);

  const kindRows = await db
    .selectFrom('refund_history')
    .select(['provider', 'account', 'kind', sql<number>`count(*)`.as('n')])
    .where('kind', 'in', ['anomaly', 'reversal'])
    .where('observed_at', '>=', since)
    .groupBy(['provider', 'account', 'kind'])
    .execute();
  for (const r of kindRows) {
    const g = group(r.provider, r.account);
    if (r.kind === 'anomaly') g.anomalies = Number(r.n);
    else g.reversals = Number(r.n);
  }

  const finalGroups = await db.selectFrom('refunds').select(['provider', 'account']).where('final_at', '>=', since).groupBy(['provider', 'account']).execute();
  for (const fg of finalGroups) {
    group(fg.provider, fg.account).timeToFinal = await timeToFinal(db, since, { provider: fg.provider, account: fg.account });
  }

  const stuckList = await db
    .selectFrom('refunds')
    .select(['provider', 'account', 'refund_id', 'status', 'tracked_at'])
    .where('stuck', '=', sql.lit(1))
    .orderBy('tracked_at')
    .orderBy('provider')
    .orderBy('account')
    .orderBy('refund_id')
    .limit(REPORT_LIST_LIMIT)
    .execute();
  const stuckCount = stuckRows.reduce((a, r) => a + Number(r.n), 0);

  const failing = await failingEndpoints(db, since, REPORT_LIST_LIMIT);

  return {
    generatedAt: iso(now),
    since: iso(since),
    groups: [...groups.values()].sort((a, b) => a.provider.localeCompare(b.provider) || a.account.localeCompare(b.account)),
    stuck: { count: stuckCount, refunds: stuckList.map((r) => ({ provider: r.provider, account: r.account, id: r.refund_id, status: r.status, trackedAt: iso(r.tracked_at) })) },
    failingEndpoints: failing,
  };
}
