import type { FastifyInstance } from 'fastify';
import { RefundHubError } from '../errors.js';
import type { RefundHub } from '../service.js';
import { pausedUntil, pauseProvider } from '../store/provider-pauses.js';
import { ACCOUNT_PARAM, errorResponses, PROVIDER_PARAM, REFUND_ID_PARAM } from './schemas.js';

/**
 * `GET /v1/refunds/:provider/:id/voucher`: the provider's proof of refund (OneKey's Base64 PDF,
 * decoded) for a tracked refund, fetched from the provider on each request through the connector
 * and the one transport. Never cached or stored (a PDF per refund would dwarf the database) and
 * never logged: the access log records the path and status only. It honours and records the shared
 * 429 pause like every other provider call, so a download cannot hammer a throttled provider.
 */
export async function voucherRoutes(api: FastifyInstance, { hub }: { hub: RefundHub }): Promise<void> {
  api.get<{ Params: { provider: string; id: string }; Querystring: { account?: string } }>('/v1/refunds/:provider/:id/voucher', {
    config: { scope: 'refunds:read' },
    schema: {
      tags: ['refunds'],
      summary: 'Download the proof of refund (PDF)',
      operationId: 'getRefundVoucher',
      description:
        "The provider's proof of refund as `application/pdf`, fetched from the provider now. Only OneKey issues one (its `voucher`). " +
        '404 `not_found` when the refund is not tracked, `voucher_not_supported` for a provider with no such document, ' +
        '`voucher_not_available` when the provider has none for this refund yet; 502 `invalid_response` when what it sent is not a PDF.',
      security: [{ bearerAuth: [] }],
      params: { type: 'object', required: ['provider', 'id'], properties: { provider: PROVIDER_PARAM, id: REFUND_ID_PARAM } },
      querystring: { type: 'object', properties: { account: ACCOUNT_PARAM } },
      produces: ['application/pdf', 'application/json'],
      response: {
        200: { description: 'The PDF', content: { 'application/pdf': { schema: { type: 'string', format: 'binary' } } } },
        ...errorResponses(400, 401, 403, 404, 502, 503),
      },
    },
  }, async (request, reply) => {
    const { provider, id } = request.params;
    const tracked = await hub.get(provider, id, { account: request.query.account });
    const now = hub.clock.now();
    const pauseEnd = await pausedUntil(hub.db, tracked.provider, tracked.account, now);
    if (pauseEnd !== null) {
      throw new RefundHubError('rate_limited', `${tracked.provider}: paused after the provider asked us to slow down`, { provider: tracked.provider, retryAfterMs: pauseEnd - now });
    }
    let pdf: Buffer;
    try {
      pdf = await hub.client.getVoucher(tracked.provider, tracked.id, { account: tracked.account });
    } catch (e) {
      if (e instanceof RefundHubError && e.code === 'rate_limited' && e.retryAfterMs !== undefined) {
        await pauseProvider(hub.db, tracked.provider, tracked.account, now + e.retryAfterMs).catch(() => undefined);
      }
      throw e;
    }
    return reply
      .type('application/pdf')
      .header('content-disposition', `attachment; filename="${tracked.provider}-refund-${tracked.id.replace(/[^A-Za-z0-9_.-]/g, '_')}-proof.pdf"`)
      .header('cache-control', 'no-store')
      .send(pdf);
  });
}
