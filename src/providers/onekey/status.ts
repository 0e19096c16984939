import type { RefundStatus } from '../../domain/refund.js';
import { createStatusMapper } from '../../domain/status.js';

/** The refund statuses OneKey documents for `GET /refunds/{refund_id}` (specs/onekey.json). */
export type OnekeyKnownStatus = 'PENDING' | 'DELIVERED' | 'COMPLETED' | 'INCORRECT_DETAILS' | 'REJECTED' | 'CANCELLED';

/** OneKey's refund statuses onto the unified ones. */
export const ONEKEY_STATUS_TABLE = {
  /** Created, awaiting processing. */
  PENDING: 'pending',
  /** Sent to the bank or processor for payout; money not confirmed yet. */
  DELIVERED: 'pending',
  /** Paid out to the customer. Final. */
  COMPLETED: 'succeeded',
  /** OneKey needs more or corrected details (e.g. the bank account) from the merchant. */
  INCORRECT_DETAILS: 'requires_action',
  /** Refused, e.g. by the bank. Final. */
  REJECTED: 'failed',
  /** Cancelled by hand; only possible from PENDING or INCORRECT_DETAILS. Final. */
  CANCELLED: 'canceled',
} as const satisfies Record<OnekeyKnownStatus, Exclude<RefundStatus, 'unknown'>>;

/** Case-insensitive; an unknown word becomes `unknown` and is logged once, never thrown. */
export const mapOnekeyStatus = createStatusMapper('onekey', ONEKEY_STATUS_TABLE);
