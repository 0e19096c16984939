import type { Refund } from '../../domain/refund.js';
import { RefundHubError } from '../../errors.js';
import { joinUrl } from '../../transport/http.js';
import { confirmRefund, createWarnOnce, parseWire, requireOpaqueId, sameOpaqueId, type WarnOnce } from '../shared.js';
import type { AccountSettings, Connector, ProviderContext } from '../types.js';
import type { TazapaySettings } from './config.js';
import { normalizeTazapayRefund } from './normalize.js';
import { TazapayRefundEnvelopeSchema } from './wire.js';

/**
 * Fetches one refund with `GET /v3/refund/{id}` and HTTP Basic `apiKey:apiSecret`
 * (docs.tazapay.com/reference/authentication). Error statuses need no body reading: Tazapay's
 * 401 codes (108, 109, 111) are all credential problems, and the default mapping of 401, 404,
 * 429 and 5xx already says what the body would.
 */
export class TazapayConnector implements Connector {
  private readonly authorization: string;
  private readonly warn: WarnOnce;

  constructor(
    private readonly account: AccountSettings<TazapaySettings>,
    private readonly ctx: ProviderContext,
  ) {
    const { apiKey, apiSecret } = account.settings;
    this.warn = createWarnOnce(ctx.logger);
    this.authorization = `Basic ${Buffer.from(`${apiKey}:${apiSecret}`, 'utf8').toString('base64')}`;
  }

  async getRefund(id: string): Promise<Refund> {
    const refundId = requireOpaqueId('tazapay', id);
    const url = joinUrl(this.account.settings.baseUrl, `v3/refund/${encodeURIComponent(refundId)}`);
    const body = await this.ctx.transport.getJson({
      provider: 'tazapay',
      method: 'GET',
      url,
      headers: () => ({ authorization: this.authorization, accept: 'application/json' }),
    });
    const envelope = parseWire('tazapay', TazapayRefundEnvelopeSchema, body);
    // The seed leaves the envelope's `status` open; only Tazapay's error word marks a failed call.
    if (envelope.status?.trim().toLowerCase() === 'error') {
      throw new RefundHubError('invalid_response', 'tazapay: HTTP 2xx with envelope status "error"', { provider: 'tazapay', retryable: false });
    }
    const refund = normalizeTazapayRefund(envelope.data, { account: this.account.name, settings: this.account.settings, logger: this.ctx.logger, warn: this.warn });
    return confirmRefund('tazapay', refundId, refund, sameOpaqueId);
  }
}
