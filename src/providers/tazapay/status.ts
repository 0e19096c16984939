import type { RefundStatus } from '../../domain/refund.js';
import { createStatusMapper } from '../../domain/status.js';

/**
 * Tazapay refund statuses. The sources disagree (providers.md [CONFLICT]): the refund-object
 * table (docs.tazapay.com/reference/refund-object) lists Requested, Pending, Initiated,
 * Succeeded, Failed, Rejected; the refund-states guide lists pending, succeeded, failed,
 * cancelled; the spec's description adds processing. We accept the union, case-insensitively.
 */
export type TazapayKnownStatus =
  | 'pending'
  | 'processing'
  | 'requested'
  | 'initiated'
  | 'succeeded'
  | 'failed'
  | 'rejected'
  | 'cancelled'
  | 'canceled';

export const TAZAPAY_STATUS_TABLE = {
  /** Created, waiting to be processed. */
  pending: 'pending',
  /** Being processed by Tazapay or the payment method (spec description). */
  processing: 'pending',
  /** Requested by the merchant, not yet accepted (refund-object table). */
  requested: 'pending',
  /** Sent to the payment method or bank (refund-object table). */
  initiated: 'pending',
  /** The money was returned to the customer. */
  succeeded: 'succeeded',
  /** The refund could not be completed; `status_description` says why. */
  failed: 'failed',
  /** Refused by Tazapay or the bank (refund-object table). */
  rejected: 'failed',
  /** Withdrawn before it completed (refund-states guide spelling). */
  cancelled: 'canceled',
  /** US spelling, accepted in case payloads use it. */
  canceled: 'canceled',
} as const satisfies Record<TazapayKnownStatus, Exclude<RefundStatus, 'unknown'>>;

/** Maps a Tazapay status word to the unified status; unknown words become `unknown` with one warning. */
export const mapTazapayStatus = createStatusMapper('tazapay', TAZAPAY_STATUS_TABLE);
