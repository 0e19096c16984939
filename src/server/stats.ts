import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { REFUND_STATUSES } from '../domain/refund.js';
import { RefundHubError } from '../errors.js';
import type { Db } from '../store/index.js';
import { failingEndpoints, timeToFinal, TIME_TO_FINAL_SAMPLE } from '../store/refund-stats.js';
import { errorResponses } from './schemas.js';

/**
 * `GET /v1/stats/overview`: what the dashboard's Overview shows, as an API any integrator can
 * call. Every number is one indexed query on the shared database, so every API node answers the
 * same.
 */

const PERIOD_RE = /^([1-9]\d{0,3})([hd])$/;
const LIST_LIMIT = 20;

export function parsePeriod(raw: string | undefined): number {
  const m = PERIOD_RE.exec((raw ?? '7d').trim());
  if (!m) throw new RefundHubError('invalid_input', `since must be a period like 24h or 7d, got ${JSON.stringify(String(raw).slice(0, 32))}`);
  return Number(m[1]) * (m[2] === 'h' ? 3_600_000 : 86_400_000);
}

const iso = (ms: unknown): string => new Date(Number(ms)).toISOString();

export async function overview(db: Db, now: number, periodMs: number) {
  const since = now - periodMs;
  const byStatusRows = await db.selectFrom('refunds').select(['provider', 'status', sql<number>`count(*)`.as('n')]).groupBy(['provider', 'status']).execute();
  const byStatus: Record<string, number> = Object.fromEntries(REFUND_STATUSES.map((s) => [s, 0]));
  const byProvider: Record<string, { total: number; byStatus: Record<string, number> }> = {};
  for (const r of byStatusRows) {
    const n = Number(r.n);
    byStatus[r.status] = (byStatus[r.status] ?? 0) + n;
    const p = (byProvider[r.provider] ??= { total: 0, byStatus: {} });
    p.total += n;
    p.byStatus[r.status] = (p.byStatus[r.status] ?? 0) + n;
  }

  const ttf: Array<{ provider: string; count: number; medianMs: number | null; p95Ms: number | null }> = [];
  for (const provider of Object.keys(byProvider).sort()) {
    const t = await timeToFinal(db, since, { provider });
    if (t.count > 0) ttf.push({ provider, count: t.count, medianMs: t.p50Ms, p95Ms: t.p95Ms });
  }

  const stuckRows = await db.selectFrom('refunds').select(['provider', 'account', 'refund_id', 'status', 'tracked_at']).where('stuck', '=', sql.lit(1)).orderBy('tracked_at').limit(LIST_LIMIT).execute();
  const stuckCount = await db.selectFrom('refunds').select(sql<number>`count(*)`.as('n')).where('stuck', '=', sql.lit(1)).executeTakeFirst();

  const attention = await db
    .selectFrom('refund_history')
    .select(['provider', 'account', 'refund_id', 'kind', 'from_status', 'to_status', 'provider_status', 'observed_at'])
    .where('kind', 'in', ['reversal', 'anomaly'])
    .where('observed_at', '>=', since)
    .orderBy('observed_at', 'desc')
    .limit(LIST_LIMIT)
    .execute();
  const unknownRows = await db.selectFrom('refunds').select(['provider', 'account', 'refund_id', 'provider_status']).where('status', '=', 'unknown').orderBy('tracked_at', 'desc').limit(LIST_LIMIT).execute();

  const failing = await failingEndpoints(db, since, LIST_LIMIT);

  const ref = (r: { provider: string; account: string; refund_id: string }) => ({ provider: r.provider, account: r.account, id: r.refund_id });
  return {
    since: iso(since),
    total: Object.values(byStatus).reduce((a, b) => a + b, 0),
    byStatus,
    byProvider,
    timeToFinal: ttf,
    stuck: { count: Number(stuckCount?.n ?? 0), refunds: stuckRows.map((r) => ({ ...ref(r), status: r.status, trackedAt: iso(r.tracked_at) })) },
    unknown: unknownRows.map((r) => ({ ...ref(r), providerStatus: r.provider_status })),
    attention: attention.map((r) => ({ ...ref(r), kind: r.kind, from: r.from_status, to: r.to_status, providerStatus: r.provider_status, observedAt: iso(r.observed_at) })),
    failingEndpoints: failing,
  };
}

const REF = { type: 'object', properties: { provider: { type: 'string' }, account: { type: 'string' }, id: { type: 'string' } } } as const;
const refWith = (extra: Record<string, unknown>) => ({ type: 'object', properties: { ...REF.properties, ...extra } });
const nullableNumber = { type: ['number', 'null'] } as const;

export async function statsRoutes(api: FastifyInstance, { db, now }: { db: Db; now: () => number }): Promise<void> {
  api.get<{ Querystring: { since?: string } }>('/v1/stats/overview', {
    config: { scope: 'refunds:read' },
    schema: {
      tags: ['refunds'],
      summary: 'Counts, time to final, and what needs attention',
      operationId: 'getOverview',
      description:
        'Refunds by status and by provider; per provider the median and p95 time from tracking to a final status for refunds that became final within the period ' +
        `(over at most the latest ${TIME_TO_FINAL_SAMPLE} each); stuck refunds; unknown statuses; reversals and stale reads (anomalies) of the period; webhook endpoints with failed or retrying deliveries in the period. Up to ${LIST_LIMIT} of each list.`,
      security: [{ bearerAuth: [] }],
      querystring: { type: 'object', properties: { since: { type: 'string', maxLength: 8, default: '7d', description: 'The period: `24h`, `7d`, `30d` (hours or days)' } } },
      response: {
        200: {
          type: 'object',
          required: ['since', 'total', 'byStatus', 'byProvider', 'timeToFinal', 'stuck', 'unknown', 'attention', 'failingEndpoints'],
          properties: {
            since: { type: 'string', format: 'date-time' },
            total: { type: 'integer' },
            byStatus: { type: 'object', additionalProperties: { type: 'integer' } },
            byProvider: { type: 'object', additionalProperties: { type: 'object', properties: { total: { type: 'integer' }, byStatus: { type: 'object', additionalProperties: { type: 'integer' } } } } },
            timeToFinal: { type: 'array', items: { type: 'object', properties: { provider: { type: 'string' }, count: { type: 'integer' }, medianMs: nullableNumber, p95Ms: nullableNumber } } },
            stuck: { type: 'object', properties: { count: { type: 'integer' }, refunds: { type: 'array', items: refWith({ status: { type: 'string' }, trackedAt: { type: 'string' } }) } } },
            unknown: { type: 'array', items: refWith({ providerStatus: { type: 'string' } }) },
            attention: {
              type: 'array',
              items: refWith({ kind: { type: 'string' }, from: { type: ['string', 'null'] }, to: { type: 'string' }, providerStatus: { type: 'string' }, observedAt: { type: 'string' } }),
            },
            failingEndpoints: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, url: { type: 'string' }, failures: { type: 'integer' }, lastFailureAt: { type: 'string' } } } },
          },
        },
        ...errorResponses(400, 401, 403),
      },
    },
  }, async (request) => overview(db, now(), parsePeriod(request.query.since)));
}
