import { z } from 'zod';

/**
 * Ziina's native shapes, with Ziina's own field names (specs/ziina.yaml, RefundDto / ErrorDto).
 * Extra fields are kept; `status` is any string so a new status word reaches the status mapper
 * instead of failing validation.
 */

/** `ErrorDto`: embedded in a refund as `error`, and the body of HTTP errors. */
export const ziinaErrorSchema = z.looseObject({
  message: z.string(),
  code: z.string(),
});
export type ZiinaErrorWire = z.infer<typeof ziinaErrorSchema>;

/** `RefundDto` as returned by `GET /refund/{id}`. */
export const ziinaRefundSchema = z.looseObject({
  // The seed allows any string; the connector checks it is the id asked for.
  id: z.string(),
  payment_intent_id: z.string(),
  /** Integer in the currency's minor ("base") units: 10.50 AED is 1050. */
  amount: z.number(),
  currency_code: z.string(),
  status: z.string(),
  /** Unix timestamp as a string; the spec says milliseconds, the docs do not say. */
  created_at: z.string(),
  error: ziinaErrorSchema.nullable().optional(),
});
export type ZiinaRefundWire = z.infer<typeof ziinaRefundSchema>;

/** The webhook delivery: `{event, data}` where `data` is the refund for refund events (docs.ziina.com/api-reference/webhook). */
export const ziinaNotificationSchema = z.looseObject({
  event: z.string().min(1),
  data: z.looseObject({
    id: z.string().min(1),
    status: z.string().min(1),
  }),
});

/** The only event whose `data` is a refund. */
export const ZIINA_REFUND_EVENT = 'refund.status.updated';
