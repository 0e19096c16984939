import { z } from 'zod';

/**
 * Stan's refund object, with Stan's own field names (specs/stan.yaml `Refund`,
 * docs.stan-app.fr/api-reference/refund/get-all). The spec marks no field as required; we
 * insist on the two without which a refund cannot be identified or classified (`refund_id`,
 * `status`) and on the documented type of every other field when it is present. Extra fields
 * and unknown status words pass through.
 */
export const StanRefundWire = z.looseObject({
  refund_id: z.string().min(1),
  /** The payment this refund reverses. */
  payment_id: z.string().nullish(),
  /**
   * Integer cents of the account's currency (Stan returns no currency). The seed's int32 has no
   * minimum, so a negative value is valid on the wire; normalize decides what it means.
   */
  amount: z.number().int().nullish(),
  /** `payment_holding|payment_pending|payment_failure|payment_success|payment_cancelled`; open to new words. */
  status: z.string(),
  /** `requested_by_customer|duplicate|fraudulent`; kept as text. */
  reason: z.string().nullish(),
  /** ISO 8601 UTC, e.g. `2023-11-07T05:31:56Z`. */
  created_at: z.string().nullish(),
});

export type StanRefundWire = z.infer<typeof StanRefundWire>;

/** Stan's documented refund statuses (specs/stan.yaml `Refund.status` enum). */
export const STAN_KNOWN_STATUSES = ['payment_holding', 'payment_pending', 'payment_success', 'payment_failure', 'payment_cancelled'] as const;
export type StanKnownStatus = (typeof STAN_KNOWN_STATUSES)[number];

/** Stan's documented refund reasons. */
export const STAN_REASONS = ['requested_by_customer', 'duplicate', 'fraudulent'] as const;
