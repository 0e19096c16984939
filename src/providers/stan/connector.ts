import type { Refund } from '../../domain/refund.js';
import { RefundHubError } from '../../errors.js';
import type { ErrorClassifier } from '../../transport/http.js';
import { joinUrl } from '../../transport/http.js';
import { confirmRefund, createWarnOnce, parseWire, requireUuid, sameUuid, type WarnOnce } from '../shared.js';
import type { AccountSettings, Connector, ProviderContext } from '../types.js';
import type { StanSettings } from './config.js';
import { normalizeStanRefund } from './normalize.js';
import { StanRefundWire } from './wire.js';

/** The seed document's path, appended to the base URL (which may carry a prefix). */
export const STAN_REFUND_PATH = 'v1/refunds';

/**
 * specs/stan.yaml documents 400 as "Bad data format" for this operation: Stan rejected the id
 * we sent. Ids are checked before any request, so this only fires if Stan's idea of a valid id
 * is stricter than ours; it is the caller's input, not a provider failure. Everything else
 * keeps the transport's default classification (Stan's error bodies are undocumented).
 */
export const classifyStanError: ErrorClassifier = (res) => {
  if (res.status === 400) {
    return new RefundHubError('invalid_input', 'stan: refund id rejected as malformed (HTTP 400)', { provider: 'stan', httpStatus: 400, retryable: false });
  }
  return undefined;
};

/** Fetches one refund from Stan with HTTP Basic auth and normalizes it. Stateless. */
export class StanConnector implements Connector {
  private readonly authorization: string;
  private readonly warn: WarnOnce;

  constructor(
    private readonly account: AccountSettings<StanSettings>,
    private readonly ctx: ProviderContext,
  ) {
    // HTTP Basic `client_id:client_secret` (docs.stan-app.fr/api-reference/refund/create). The
    // legacy doc shows the bare base64 without `Basic `; the standard prefix is what the spec's
    // `http`/`basic` security scheme means.
    this.warn = createWarnOnce(ctx.logger);
    const { clientId, clientSecret } = account.settings;
    this.authorization = `Basic ${Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64')}`;
  }

  async getRefund(id: string): Promise<Refund> {
    const refundId = requireUuid('stan', id);
    const url = joinUrl(this.account.settings.baseUrl, `${STAN_REFUND_PATH}/${encodeURIComponent(refundId)}`);
    const body = await this.ctx.transport.getJson(
      {
        provider: 'stan',
        method: 'GET',
        url,
        headers: () => ({ authorization: this.authorization, accept: 'application/json' }),
      },
      classifyStanError,
    );
    const wire = parseWire('stan', StanRefundWire, body);
    const refund = normalizeStanRefund(wire, { account: this.account.name, settings: this.account.settings, logger: this.ctx.logger, warn: this.warn });
    return confirmRefund('stan', refundId, refund, sameUuid);
  }
}
