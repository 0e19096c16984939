import { parseIsoToUtc, parseUnixToUtc } from '../../domain/dates.js';
import { readMinorMoney } from '../../domain/money.js';
import { NO_EXTRAS, type Refund, type RefundFailure } from '../../domain/refund.js';
import type { Logger } from '../../logger.js';
import { createWarnOnce, reportedMoney, type WarnOnce } from '../shared.js';
import type { ZiinaSettings } from './config.js';
import { mapZiinaStatus } from './status.js';
import type { ZiinaRefundWire } from './wire.js';

/** What normalization needs besides the payload. */
export interface ZiinaNormalizeContext {
  account: string;
  settings: ZiinaSettings;
  logger: Logger;
  /** The connector's once-per-kind warner; without one every oddity is logged. */
  warn?: WarnOnce;
}

/** Turns Ziina's `RefundDto` into the unified Refund. The only place Ziina's field names meet the domain. */
export function normalizeZiinaRefund(wire: ZiinaRefundWire, ctx: ZiinaNormalizeContext): Refund {
  // `amount` is already in ISO minor units ("base units": $10.50 is 1050) (docs.ziina.com/api-reference/refund/get).
  const warn = ctx.warn ?? createWarnOnce(ctx.logger);
  const money = reportedMoney('ziina', readMinorMoney(wire.amount, wire.currency_code), warn, wire.id);
  // `created_at` is a unix timestamp *string*, unit undocumented; parseUnixToUtc treats < 1e11 as seconds.
  // An ISO string is accepted too, in case Ziina ever changes the format.
  const createdAt = parseUnixToUtc(wire.created_at) ?? parseIsoToUtc(wire.created_at);
  if (createdAt === null) {
    warn('date.created_at', { refundId: wire.id }, 'ziina refund created_at is not a unix timestamp; createdAt left null');
  }
  // Kept whatever the status; the shared confirmRefund drops it unless the refund failed.
  let failure: RefundFailure | null = null;
  if (wire.error) failure = { code: wire.error.code || null, message: wire.error.message || null };
  return {
    provider: 'ziina',
    account: ctx.account,
    id: wire.id,
    paymentId: wire.payment_intent_id || null,
    status: mapZiinaStatus(wire.status, ctx.logger),
    providerStatus: wire.status,
    amount: money.amount,
    currency: money.currency,
    amountDecimal: money.amountDecimal,
    // Ziina refunds carry no reason and no update time.
    reason: null,
    createdAt,
    updatedAt: null,
    failure,
    // RefundDto has no merchant reference, metadata or processor reference (docs.ziina.com/api-reference/refund/get).
    ...NO_EXTRAS,
    raw: wire,
  };
}
