import { moneyFromDecimal, type NormalizedMoney } from '../../domain/money.js';
import type { Refund } from '../../domain/refund.js';
import { RefundHubError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { OnekeySettings } from './config.js';
import { mapOnekeyStatus } from './status.js';
import type { OnekeyRefundWire } from './wire.js';

/** What normalization needs besides the wire object. */
export interface OnekeyNormalizeContext {
  account: string;
  settings: Pick<OnekeySettings, 'currency'>;
  logger?: Logger;
  /** The id we asked for: OneKey's status response does not echo `refund_id`. */
  refundId: string;
}

/** Turns OneKey's refund status object into the unified Refund. */
export function normalizeOnekeyRefund(wire: OnekeyRefundWire, ctx: OnekeyNormalizeContext): Refund {
  return {
    provider: 'onekey',
    account: ctx.account,
    id: ctx.refundId,
    paymentId: wire.deposit_id === undefined ? null : String(wire.deposit_id),
    status: mapOnekeyStatus(wire.status, ctx.logger),
    providerStatus: wire.status,
    ...money(wire.amount, ctx.settings.currency),
    reason: null,
    // The status response has no timestamps at all (refund-status-endpoint page).
    createdAt: null,
    updatedAt: null,
    // OneKey does not say why a refund was REJECTED in the status response.
    failure: null,
    raw: wire,
  };
}

// Major-unit decimal with no currency in the response (refund-status-endpoint page): only the
// account's configured currency can turn it into minor units.
function money(amount: number | null | undefined, currency: string | undefined): NormalizedMoney {
  try {
    return moneyFromDecimal(amount, currency ?? null);
  } catch (e) {
    if (e instanceof RefundHubError) throw new RefundHubError(e.code, `onekey: ${e.message}`, { provider: 'onekey', retryable: false, cause: e });
    throw e;
  }
}
