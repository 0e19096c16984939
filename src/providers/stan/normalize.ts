import { parseIsoToUtc } from '../../domain/dates.js';
import { readMinorMoney } from '../../domain/money.js';
import { NO_EXTRAS, type Refund } from '../../domain/refund.js';
import type { Logger } from '../../logger.js';
import { createWarnOnce, reportedMoney, type WarnOnce } from '../shared.js';
import type { StanSettings } from './config.js';
import { mapStanStatus } from './status.js';
import type { StanRefundWire } from './wire.js';

export interface StanNormalizeContext {
  /** The configured account name. */
  account: string;
  settings: Pick<StanSettings, 'currency'>;
  logger: Logger;
  /** The connector's once-per-kind warner; without one every oddity is logged. */
  warn?: WarnOnce;
}

/** specs/stan.yaml `Refund.amount` is `format: int32`. */
export const STAN_MAX_AMOUNT = 2 ** 31 - 1;

/** Turns Stan's refund object into the normalized Refund. The one place Stan's field names meet the domain. */
export function normalizeStanRefund(wire: StanRefundWire, ctx: StanNormalizeContext): Refund {
  const warn = ctx.warn ?? createWarnOnce(ctx.logger);
  const createdAt = wire.created_at == null ? null : parseIsoToUtc(wire.created_at);
  if (wire.created_at != null && createdAt === null) {
    warn('date.created_at', { refundId: wire.refund_id }, 'stan refund created_at is not an ISO 8601 date-time; createdAt left null');
  }
  return {
    provider: 'stan',
    account: ctx.account,
    id: wire.refund_id,
    paymentId: wire.payment_id ?? null,
    status: mapStanStatus(wire.status, ctx.logger),
    providerStatus: wire.status,
    // Stan's refund object has no currency field: amounts are cents of the account's currency
    // (docs.stan-app.fr/api-reference/refund/get-all; euro cents presumed, configurable).
    // The seed allows a negative amount; Stan models a refund as a reversed payment, but whether
    // a sign means a debit or an error is undocumented, so it is reported (once) and left null.
    ...reportedMoney('stan', readMinorMoney(wire.amount, ctx.settings.currency, { max: STAN_MAX_AMOUNT }), warn, wire.refund_id),
    reason: wire.reason ?? null,
    createdAt,
    // Stan exposes no update time on refunds.
    updatedAt: null,
    // Stan reports `payment_failure` without any reason or code.
    failure: null,
    // Stan's refund object carries no merchant reference, metadata or processor reference (specs/stan.yaml `Refund`).
    ...NO_EXTRAS,
    raw: wire,
  };
}
