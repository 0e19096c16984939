import { z } from 'zod';
import { parseIsoToUtc } from '../../domain/dates.js';

/**
 * Gr4vy's native Refund object (specs/gr4vy.yaml `#/components/schemas/Refund`; `@gr4vy/sdk`
 * `src/models/components/refund.ts`). Strict on what the spec requires and on types; tolerant of
 * extra fields (looseObject keeps them for `raw`) and of status words it does not list.
 */

const isoDateTime = z.string().refine((v) => parseIsoToUtc(v) !== null, { message: 'not an ISO 8601 date-time' });
const nullableString = z.string().nullish();

export const gr4vyRefundSchema = z.looseObject({
  type: z.literal('refund').optional(),
  // The seed says uuid; the connector checks it is the id asked for.
  id: z.string(),
  transaction_id: z.string(),
  payment_service_refund_id: nullableString,
  // An open enum: Gr4vy may add statuses; the status table decides what we know.
  status: z.string(),
  // The seed's `^[A-Z]{3}$` and 0..99999999 are checked in normalize, where a value outside them
  // costs the amount (with a warning), not the whole refund's status.
  currency: z.string(),
  // Integer minor units of `currency`.
  amount: z.number().int(),
  reason: nullableString,
  target_type: z.string(),
  target_id: nullableString,
  reconciliation_id: z.string(),
  external_identifier: nullableString,
  transaction_reconciliation_id: z.string(),
  transaction_external_identifier: nullableString,
  created_at: isoDateTime,
  updated_at: isoDateTime,
  creator: z.looseObject({ id: z.string(), name: z.string(), email_address: z.string() }).nullish(),
  error_code: nullableString,
  raw_response_code: nullableString,
  raw_response_description: nullableString,
});

/** A Gr4vy Refund as validated at the edge. */
export type Gr4vyRefundWire = z.infer<typeof gr4vyRefundSchema>;
