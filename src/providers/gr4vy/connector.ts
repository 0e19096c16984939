import { RefundHubError } from '../../errors.js';
import type { Refund } from '../../domain/refund.js';
import type { ErrorClassifier } from '../../transport/http.js';
import { joinUrl } from '../../transport/http.js';
import { confirmRefund, createWarnOnce, parseWire, requireUuid, sameUuid, type WarnOnce } from '../shared.js';
import type { AccountSettings, Connector, ProviderContext } from '../types.js';
import { DEFAULT_GR4VY_SCOPES, type Gr4vySettings } from './config.js';
import { loadGr4vyKey } from './keys.js';
import { Gr4vyTokenSource } from './jwt.js';
import { normalizeGr4vyRefund } from './normalize.js';
import { gr4vyRefundSchema } from './wire.js';

/**
 * A 403 from Gr4vy means the key is known but the token lacks a scope; say so, since the status
 * alone reads like bad credentials. Everything else keeps the transport's default mapping.
 */
export const classifyGr4vyError: ErrorClassifier = (res, parsed) => {
  if (res.status !== 403) return undefined;
  const code = parsed && typeof parsed === 'object' ? (parsed as { code?: unknown }).code : undefined;
  return new RefundHubError(
    'authentication_failed',
    `gr4vy: credentials rejected (HTTP 403${typeof code === 'string' ? ` ${code}` : ''}): the API key's token needs the "transactions.read" or "*.read" scope`,
    { provider: 'gr4vy', httpStatus: 403, retryable: false },
  );
};

/** Fetches `GET /refunds/{refund_id}` with a reused ES512 bearer token and normalizes the Refund. */
export class Gr4vyConnector implements Connector {
  private readonly tokens: Gr4vyTokenSource;
  private readonly warn: WarnOnce;

  constructor(
    private readonly account: AccountSettings<Gr4vySettings>,
    private readonly ctx: ProviderContext,
  ) {
    const s = account.settings;
    this.warn = createWarnOnce(ctx.logger);
    this.tokens = new Gr4vyTokenSource(loadGr4vyKey(s.privateKey), s.scopes ?? DEFAULT_GR4VY_SCOPES, ctx.clock);
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { authorization: `Bearer ${this.tokens.token()}`, accept: 'application/json' };
    const merchant = this.account.settings.merchantAccountId;
    if (merchant) h['x-gr4vy-merchant-account-id'] = merchant;
    return h;
  }

  async getRefund(id: string): Promise<Refund> {
    const refundId = requireUuid('gr4vy', id);
    const url = joinUrl(this.account.settings.baseUrl, `refunds/${encodeURIComponent(refundId)}`);
    let body: unknown;
    try {
      body = await this.ctx.transport.getJson({ provider: 'gr4vy', method: 'GET', url, headers: () => this.headers() }, classifyGr4vyError);
    } catch (e) {
      // A rejected token is not worth reusing; the next call signs a fresh one.
      if (e instanceof RefundHubError && e.code === 'authentication_failed') this.tokens.invalidate();
      throw e;
    }
    const wire = parseWire('gr4vy', gr4vyRefundSchema, body);
    const refund = normalizeGr4vyRefund(wire, { account: this.account.name, settings: this.account.settings, logger: this.ctx.logger, warn: this.warn });
    return confirmRefund('gr4vy', refundId, refund, sameUuid);
  }
}
