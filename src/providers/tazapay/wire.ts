import { z } from 'zod';

/**
 * Tazapay's native refund object and its response envelope, with Tazapay's own field names
 * (specs/tazapay.yaml, `RefundData`; docs.tazapay.com/reference/refund-object). Extra fields
 * pass through untouched; `status` stays a free string so new words reach the status mapper.
 * The spec marks nothing required; we require what a refund cannot be identified without
 * (`id`, `status`) and hold every documented field to its documented type. Absent optional
 * fields may arrive as null in practice, which we accept as "not given".
 */

const optionalString = z.string().nullish();

export const TazapayRefundSchema = z.looseObject({
  // Not required by the seed, but a refund that does not name itself cannot be matched to the
  // one asked for; the connector checks it.
  id: z.string(),
  object: optionalString,
  payin: optionalString,
  /** Always two implied decimals, whatever the currency (docs.tazapay.com/docs/decimal-currencies). */
  amount: z.number().int().nullish(),
  currency: optionalString,
  customer_receives: z
    .looseObject({
      currency: optionalString,
      amount: z.number().int().nullish(),
    })
    .nullish(),
  payment_attempt: optionalString,
  reason: optionalString,
  metadata: z.record(z.string(), z.string()).nullish(),
  status: z.string(),
  status_description: optionalString,
  /** Seen in webhook examples only, not in the refund-object table. */
  status_reason: optionalString,
  webhook_url: optionalString,
  /** `2023-07-23 23:59:56` (no zone) or ISO 8601 with up to 9 fractional digits. */
  created_at: optionalString,
  balance_transaction: optionalString,
  reference_id: optionalString,
  holding_currency: optionalString,
});
export type TazapayRefund = z.infer<typeof TazapayRefundSchema>;

/** `GET /v3/refund/{id}` 200: `{status: "success", message, data}`. */
export const TazapayRefundEnvelopeSchema = z.looseObject({
  // Optional in the seed; `data` is what makes the answer a refund.
  status: z.string().nullish(),
  message: z.string().nullish(),
  data: TazapayRefundSchema,
});
export type TazapayRefundEnvelope = z.infer<typeof TazapayRefundEnvelopeSchema>;

/** One element of an error body's `errors` array; its exact shape is unconfirmed (providers.md). */
export interface TazapayErrorItem {
  code: number;
  message: string;
}

/** Tazapay's error envelope: `{status: "error", message, errors: [{code, message}]}`. */
export interface TazapayErrorBody {
  status: 'error';
  message: string;
  errors: TazapayErrorItem[];
}

/** A webhook event: `{type, id: "evt_...", object: "event", created_at, data: Refund}`. */
export const TazapayEventSchema = z.looseObject({
  type: z.string().min(1),
  id: z.string().min(1),
  object: z.string().nullish(),
  created_at: z.string().min(1),
  data: z.looseObject({ id: z.string().min(1) }),
});
export type TazapayEvent = z.infer<typeof TazapayEventSchema>;
