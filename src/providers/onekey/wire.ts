import { z } from 'zod';

/**
 * OneKey's native refund status object (`RefundStatusSuccess` in specs/onekey.json), with its own
 * field names. The spec marks nothing required; we insist on `status` because a refund without
 * one cannot be classified. Extra fields pass through: the spec says more may be added.
 */
export const OnekeyRefundWire = z.looseObject({
  /** The deposit this refund reverses. */
  deposit_id: z.number().int().optional(),
  merchant_invoice_id: z.string().optional(),
  /** Open on purpose: an unknown word maps to `unknown`, it does not fail validation. */
  status: z.string(),
  /**
   * Major units (505.95 MXN), "typically present when COMPLETED"; no currency alongside it.
   * null is read as absent: the SDK maps it to a nullable BigDecimal.
   */
  amount: z.number().nullable().optional(),
  /** Base64 PDF, only with `?voucher=true`; read by the connector's getVoucher alone. */
  voucher: z.string().optional(),
  /**
   * Not in the status response's seed; the create response and notifications carry it, as a
   * number or a numeric string (providers.md). When present it must be the refund asked for.
   */
  refund_id: z.union([z.number(), z.string()]).optional(),
});
export type OnekeyRefundWire = z.infer<typeof OnekeyRefundWire>;

/** OneKey / D24 v3 error body: `{code, description, type}`. Every part is optional here. */
export const OnekeyErrorWire = z.looseObject({
  code: z.number().int().optional(),
  description: z.string().optional(),
  type: z.string().optional(),
});
export type OnekeyErrorWire = z.infer<typeof OnekeyErrorWire>;
