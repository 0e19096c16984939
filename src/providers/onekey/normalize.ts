import { readDecimalMoney } from '../../domain/money.js';
import type { Refund } from '../../domain/refund.js';
import type { Logger } from '../../logger.js';
import { createWarnOnce, reportedMoney, type WarnOnce } from '../shared.js';
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
  /** The connector's once-per-kind warner; without one every oddity is logged. */
  warn?: WarnOnce;
}

const nonEmpty = (v: string | null | undefined): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** Turns OneKey's refund status object into the unified Refund. */
export function normalizeOnekeyRefund(wire: OnekeyRefundWire, ctx: OnekeyNormalizeContext): Refund {
  const warn = ctx.warn ?? createWarnOnce(ctx.logger);
  // Major-unit decimal with no currency in the response (refund-status-endpoint page): only the
  // account's configured currency can turn it into minor units. One it cannot represent (CLP
  // 15990.5) costs the amount, never the status.
  const money = reportedMoney('onekey', readDecimalMoney(wire.amount, ctx.settings.currency ?? null), warn, ctx.refundId);
  return {
    provider: 'onekey',
    account: ctx.account,
    // The status response does not echo the id; when a body does, the connector compares it.
    id: wire.refund_id === undefined ? ctx.refundId : String(wire.refund_id),
    paymentId: wire.deposit_id === undefined ? null : String(wire.deposit_id),
    status: mapOnekeyStatus(wire.status, ctx.logger),
    providerStatus: wire.status,
    ...money,
    reason: null,
    // The status response has no timestamps at all (refund-status-endpoint page).
    createdAt: null,
    updatedAt: null,
    // OneKey does not say why a refund was REJECTED in the status response.
    failure: null,
    // The deposit's `merchant_invoice_id`: the merchant's own order number for what was refunded.
    merchantReference: nonEmpty(wire.merchant_invoice_id),
    customerReceives: null,
    metadata: null,
    providerReference: null,
    raw: wire,
  };
}
