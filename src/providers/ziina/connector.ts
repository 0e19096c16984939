import type { Refund } from '../../domain/refund.js';
import { joinUrl } from '../../transport/http.js';
import { confirmRefund, createWarnOnce, parseWire, requireOpaqueId, sameOpaqueId, type WarnOnce } from '../shared.js';
import type { AccountSettings, Connector, ProviderContext } from '../types.js';
import type { ZiinaSettings } from './config.js';
import { normalizeZiinaRefund } from './normalize.js';
import { ziinaRefundSchema } from './wire.js';

/**
 * Ziina ids are client-generated UUIDs (docs.ziina.com/api-reference/refund/create), but the docs
 * only type them as strings, so any opaque id is accepted.
 */
export function validateZiinaId(id: string): string {
  return requireOpaqueId('ziina', id);
}

/** Fetches `GET /refund/{id}` with `Authorization: Bearer <token>` and normalizes the RefundDto. */
export class ZiinaConnector implements Connector {
  private readonly warn: WarnOnce;

  constructor(
    private readonly account: AccountSettings<ZiinaSettings>,
    private readonly ctx: ProviderContext,
  ) {
    this.warn = createWarnOnce(ctx.logger);
  }

  async getRefund(id: string): Promise<Refund> {
    const refundId = validateZiinaId(id);
    const { settings } = this.account;
    const url = joinUrl(settings.baseUrl, 'refund/' + encodeURIComponent(refundId));
    // Ziina's error bodies (ErrorDto {message, code}) only repeat the HTTP status, so the default classification applies.
    const body = await this.ctx.transport.getJson({
      provider: 'ziina',
      method: 'GET',
      url,
      headers: () => ({ authorization: `Bearer ${settings.token}`, accept: 'application/json' }),
    });
    const wire = parseWire('ziina', ziinaRefundSchema, body);
    const refund = normalizeZiinaRefund(wire, { account: this.account.name, settings, logger: this.ctx.logger, warn: this.warn });
    return confirmRefund('ziina', refundId, refund, sameOpaqueId);
  }
}
