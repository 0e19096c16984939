import type { RefundStatus } from '../../domain/refund.js';
import { createStatusMapper } from '../../domain/status.js';

/** Gr4vy's documented refund statuses (`RefundStatus`, an open enum: unknown values must be tolerated). */
export type Gr4vyKnownStatus = 'processing' | 'succeeded' | 'failed' | 'declined' | 'voided';

/** Gr4vy refund status -> unified status (issue 2's table; `@gr4vy/sdk` `src/models/components/refundstatus.ts`). */
export const GR4VY_STATUS_TABLE = {
  /** Sent to the payment service, no final answer yet. Webhooks call this `refund.pending`. */
  processing: 'pending',
  /** The payment service confirmed the refund. */
  succeeded: 'succeeded',
  /** The refund errored (Gr4vy or the payment service could not process it). */
  failed: 'failed',
  /** The payment service refused the refund. */
  declined: 'failed',
  /** The refund was voided before it settled. */
  voided: 'canceled',
} as const satisfies Record<Gr4vyKnownStatus, Exclude<RefundStatus, 'unknown'>>;

/** Case-insensitive; an unknown word maps to `unknown` with one warning, never an exception. */
export const mapGr4vyStatus = createStatusMapper('gr4vy', GR4VY_STATUS_TABLE);
