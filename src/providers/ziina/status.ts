import { createStatusMapper } from '../../domain/status.js';
import type { RefundStatus } from '../../domain/refund.js';

/** The refund statuses Ziina documents (docs.ziina.com/api-reference/refund/get). */
export type ZiinaKnownStatus = 'pending' | 'completed' | 'failed';

/** Ziina refund status -> unified status. A new documented status must be added here (the type check enforces it). */
export const ZIINA_STATUS_TABLE = {
  /** Accepted by Ziina; the money has not reached the customer yet. */
  pending: 'pending',
  /** Ziina finished the refund. Final. */
  completed: 'succeeded',
  /** Ziina could not complete the refund; the refund's `error` says why. Final. */
  failed: 'failed',
} as const satisfies Record<ZiinaKnownStatus, Exclude<RefundStatus, 'unknown'>>;

/** Case-insensitive mapper; an unknown word becomes `unknown` with one warning, never an exception. */
export const mapZiinaStatus = createStatusMapper('ziina', ZIINA_STATUS_TABLE);
