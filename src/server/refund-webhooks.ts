import type { FastifyInstance } from 'fastify';
import { redactUrl } from '../redact.js';
import type { RefundHub } from '../service.js';
import { ACCOUNT_PARAM, errorResponses, PROVIDER_PARAM, REFUND_ID_PARAM } from './schemas.js';

/**
 * `GET /v1/refunds/:provider/:id/webhook-events`: the outgoing events one refund raised, each with
 * its deliveries and their attempts. With refunds:read, since it says what was sent about a refund
 * the caller may read, not the endpoints' secrets (URLs are shown with credentials masked).
 */

const iso = (ms: unknown): string => new Date(Number(ms)).toISOString();
const isoOrNull = (ms: unknown): string | null => (ms == null ? null : iso(ms));

/** Events beyond this many (newest first) are not listed: a refund raises a handful in its life. */
const MAX_EVENTS = 100;

export async function refundWebhookEvents(hub: RefundHub, provider: string, id: string, account: string | undefined) {
  const refund = await hub.get(provider, id, { account });
  const events = await hub.db
    .selectFrom('events')
    .select(['id', 'type', 'created', 'sequence'])
    .where('provider', '=', refund.provider)
    .where('account', '=', refund.account)
    .where('refund_id', '=', refund.id)
    .orderBy('sequence', 'desc')
    .limit(MAX_EVENTS)
    .execute();
  if (events.length === 0) return { data: [] };
  const deliveries = await hub.db
    .selectFrom('deliveries as d')
    .innerJoin('webhook_endpoints as w', 'w.id', 'd.endpoint_id')
    .select(['d.id', 'd.event_id', 'd.endpoint_id', 'w.url', 'd.status', 'd.attempts', 'd.next_attempt_at', 'd.last_status_code', 'd.last_error', 'd.created_at'])
    .where('d.event_id', 'in', events.map((e) => e.id))
    .orderBy('d.created_at')
    .orderBy('d.id')
    .execute();
  const attempts = deliveries.length === 0
    ? []
    : await hub.db
        .selectFrom('delivery_attempts')
        .select(['delivery_id', 'attempted_at', 'status_code', 'error', 'duration_ms'])
        .where('delivery_id', 'in', deliveries.map((d) => d.id))
        .orderBy('id')
        .execute();
  return {
    data: events.map((e) => ({
      id: e.id,
      type: e.type,
      created: Number(e.created),
      sequence: Number(e.sequence),
      deliveries: deliveries
        .filter((d) => d.event_id === e.id)
        .map((d) => ({
          id: d.id,
          endpointId: d.endpoint_id,
          endpointUrl: redactUrl(d.url),
          status: d.status,
          attemptCount: Number(d.attempts),
          nextAttemptAt: isoOrNull(d.next_attempt_at),
          lastStatusCode: d.last_status_code,
          lastError: d.last_error,
          createdAt: iso(d.created_at),
          attempts: attempts
            .filter((a) => a.delivery_id === d.id)
            .map((a) => ({ attemptedAt: iso(a.attempted_at), statusCode: a.status_code, error: a.error, durationMs: Number(a.duration_ms) })),
        })),
    })),
  };
}

const nullable = (type: string) => ({ type: [type, 'null'] });

export async function refundWebhookRoutes(api: FastifyInstance, { hub }: { hub: RefundHub }): Promise<void> {
  api.get<{ Params: { provider: string; id: string }; Querystring: { account?: string } }>('/v1/refunds/:provider/:id/webhook-events', {
    config: { scope: 'refunds:read' },
    schema: {
      tags: ['refunds'],
      summary: "A tracked refund's outgoing events and their deliveries",
      operationId: 'listRefundWebhookEvents',
      description: `Newest first (at most ${MAX_EVENTS}): each event with one delivery per subscribed endpoint and every attempt. Endpoint URLs are shown with credentials masked.`,
      security: [{ bearerAuth: [] }],
      params: { type: 'object', required: ['provider', 'id'], properties: { provider: PROVIDER_PARAM, id: REFUND_ID_PARAM } },
      querystring: { type: 'object', properties: { account: ACCOUNT_PARAM } },
      response: {
        200: {
          type: 'object',
          required: ['data'],
          properties: {
            data: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  type: { type: 'string' },
                  created: { type: 'integer', description: 'Unix seconds' },
                  sequence: { type: 'integer' },
                  deliveries: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        id: { type: 'string' },
                        endpointId: { type: 'string' },
                        endpointUrl: { type: 'string' },
                        status: { type: 'string', enum: ['pending', 'succeeded', 'failed'] },
                        attemptCount: { type: 'integer' },
                        nextAttemptAt: nullable('string'),
                        lastStatusCode: nullable('integer'),
                        lastError: nullable('string'),
                        createdAt: { type: 'string', format: 'date-time' },
                        attempts: {
                          type: 'array',
                          items: { type: 'object', properties: { attemptedAt: { type: 'string' }, statusCode: nullable('integer'), error: nullable('string'), durationMs: { type: 'integer' } } },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        ...errorResponses(400, 401, 403, 404),
      },
    },
  }, async (request) => refundWebhookEvents(hub, request.params.provider, request.params.id, request.query.account));
}
