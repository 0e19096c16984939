import type { FastifyInstance } from 'fastify';
import type { RefundHub } from '../service.js';
import { ACCOUNT_PARAM, errorResponses, PROVIDER_PARAM, REFUND_ID_PARAM } from './schemas.js';

/**
 * `POST /v1/refunds/:provider/:id/refresh`: fetch a tracked refund from its provider now, through
 * the spine, recorded with source `manual` (a person asked). A POST with refunds:write, so it
 * carries the session's CSRF token when sent from the dashboard; `GET ...?refresh=true` stays for
 * integrators.
 */
export async function refundActionRoutes(api: FastifyInstance, { hub }: { hub: RefundHub }): Promise<void> {
  api.post<{ Params: { provider: string; id: string }; Querystring: { account?: string } }>('/v1/refunds/:provider/:id/refresh', {
    config: { scope: 'refunds:write' },
    schema: {
      tags: ['refunds'],
      summary: 'Refresh a tracked refund from its provider now',
      operationId: 'refreshRefund',
      description: 'Runs the same sync as the poller at once (history source `manual`) and answers with the refund as stored after it. Only refunds already tracked (404 otherwise).',
      security: [{ bearerAuth: [] }],
      params: { type: 'object', required: ['provider', 'id'], properties: { provider: PROVIDER_PARAM, id: REFUND_ID_PARAM } },
      querystring: { type: 'object', properties: { account: ACCOUNT_PARAM } },
      response: { 200: { $ref: 'TrackedRefund#' }, ...errorResponses(400, 401, 403, 404, 429, 502, 503) },
    },
  }, async (request) => {
    const { provider, id } = request.params;
    const account = request.query.account;
    await hub.get(provider, id, { account });
    return (await hub.refresh(provider, id, { account, source: 'manual' })).refund;
  });
}
