import { RefundHubError } from '../../errors.js';
import type { Refund } from '../../domain/refund.js';
import { joinUrl, type ErrorClassifier, type HttpResponse } from '../../transport/http.js';
import { confirmRefund, createWarnOnce, parseWire, requirePositiveInteger, sameInteger, type WarnOnce } from '../shared.js';
import type { AccountSettings, Connector, ProviderContext } from '../types.js';
import { onekeyAuthHeaders } from './auth.js';
import type { OnekeySettings } from './config.js';
import { normalizeOnekeyRefund } from './normalize.js';
import { decodeBase64Pdf } from '../pdf.js';
import { OnekeyErrorWire, OnekeyRefundWire } from './wire.js';

/** Header and credential error codes (D24 "API Codes" page; the deposits API shares them). */
const AUTH_ERROR_CODES: Readonly<Record<number, string>> = {
  100: 'INVALID_CREDENTIALS',
  101: 'MISSING_REQUIRED_HEADER',
  102: 'INVALID_SIGNATURE',
  103: 'INVALID_DATE_RANGE',
  201: 'INVALID_IP',
  203: 'FORBIDDEN_MERCHANT',
};

const HINTS: Readonly<Record<string, string>> = {
  INVALID_DATE_RANGE: '; X-Date is outside the accepted window, check the system clock',
  INVALID_IP: '; calls are only accepted from IPs whitelisted in the Merchant Panel',
};

/** The provider's own words for an error type, kept only when they look like an enum name. */
function safeType(type: string | undefined, code: number | undefined): string | undefined {
  if (type && /^[A-Z][A-Z0-9_]{0,63}$/.test(type)) return type;
  return code === undefined ? undefined : AUTH_ERROR_CODES[code];
}

/**
 * Reads OneKey's `{code, description, type}` error body so an auth failure says which check
 * failed. Only the enum-like `type` is echoed, never the description or anything we sent.
 * 429 and 5xx keep the transport's default classification (Retry-After handling lives there).
 */
export const classifyOnekeyError: ErrorClassifier = (res: HttpResponse, parsed: unknown) => {
  const body = OnekeyErrorWire.safeParse(parsed);
  const code = body.success ? body.data.code : undefined;
  const type = body.success ? safeType(body.data.type, code) : undefined;
  const opts = { provider: 'onekey' as const, httpStatus: res.status, retryable: false };
  const isAuthCode = code !== undefined && AUTH_ERROR_CODES[code] !== undefined;
  // D24's code table answers 101 and 103 with HTTP 400, the refund spec with 401: trust the code.
  if (res.status === 401 || res.status === 403 || (res.status === 400 && isAuthCode)) {
    const what = type ? ` (${type}${HINTS[type] ?? ''})` : ` (HTTP ${res.status})`;
    return new RefundHubError('authentication_failed', `onekey: credentials rejected${what}`, opts);
  }
  if (res.status === 404) {
    return new RefundHubError('not_found', `onekey: refund not found${type ? ` (${type})` : ''}`, opts);
  }
  return undefined;
};

/** Fetches one refund with OneKey's signed `GET /refunds/{refund_id}` and normalizes it. */
export class OnekeyConnector implements Connector {
  private readonly warn: WarnOnce;

  constructor(
    private readonly account: AccountSettings<OnekeySettings>,
    private readonly ctx: ProviderContext,
  ) {
    this.warn = createWarnOnce(ctx.logger);
  }

  async getRefund(id: string): Promise<Refund> {
    const refundId = requirePositiveInteger('onekey', id);
    return (await this.fetch(refundId, false)).refund;
  }

  /**
   * The refund's proof as PDF bytes, from the same signed read with `?voucher=true` (the query is
   * not signed: providers.md). Only asked for here, never by `getRefund`: the Base64 PDF is large.
   * The response must still be this refund's and valid; a voucher that is not Base64 or not a PDF
   * is invalid_response. No voucher in the answer: none yet (null).
   */
  async getVoucher(id: string): Promise<Buffer | null> {
    const refundId = requirePositiveInteger('onekey', id);
    const { wire } = await this.fetch(refundId, true);
    if (wire.voucher === undefined || wire.voucher === '') return null;
    return decodeBase64Pdf('onekey', wire.voucher);
  }

  private async fetch(refundId: string, voucher: boolean): Promise<{ wire: OnekeyRefundWire; refund: Refund }> {
    const { settings } = this.account;
    const path = `refunds/${encodeURIComponent(refundId)}`;
    const url = joinUrl(settings.baseUrl, voucher ? `${path}?voucher=true` : path);
    const json = await this.ctx.transport.getJson(
      {
        provider: 'onekey',
        method: 'GET',
        url,
        // Per attempt: a retry signs a fresh X-Date instead of replaying one that may have gone stale.
        headers: () => onekeyAuthHeaders(settings, this.ctx.clock.now()),
      },
      classifyOnekeyError,
    );
    const wire = parseWire('onekey', OnekeyRefundWire, json);
    const refund = normalizeOnekeyRefund(wire, { account: this.account.name, settings, logger: this.ctx.logger, refundId, warn: this.warn });
    return { wire, refund: confirmRefund('onekey', refundId, refund, sameInteger) };
  }
}
