import type { RefundStatus } from '../../domain/refund.js';
import { createStatusMapper } from '../../domain/status.js';
import type { StanKnownStatus } from './wire.js';

/**
 * Stan's refund statuses onto the unified status. A Stan refund is modelled as a reversed
 * payment, so it reuses the payment vocabulary (docs.stan-app.fr/api-reference/refund/get-all).
 */
export const STAN_STATUS_TABLE = {
  /** Held by Stan before processing starts (e.g. awaiting funds); money has not moved. */
  payment_holding: 'pending',
  /** Being processed; money has not reached the customer yet. */
  payment_pending: 'pending',
  /** Paid back to the customer. Final. */
  payment_success: 'succeeded',
  /** The refund could not be paid out; Stan does not say why. Final. */
  payment_failure: 'failed',
  /** Withdrawn before it completed. Final. */
  payment_cancelled: 'canceled',
} as const satisfies Record<StanKnownStatus, Exclude<RefundStatus, 'unknown'>>;

/** Case-insensitive; an unknown word maps to `unknown` and is logged once, never thrown. */
export const mapStanStatus = createStatusMapper('stan', STAN_STATUS_TABLE);
