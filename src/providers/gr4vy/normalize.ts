import { parseIsoToUtc } from '../../domain/dates.js';
import { readMinorMoney } from '../../domain/money.js';
import type { Refund, RefundFailure } from '../../domain/refund.js';
import type { Logger } from '../../logger.js';
import { createWarnOnce, reportedMoney, type WarnOnce } from '../shared.js';
import type { Gr4vySettings } from './config.js';
import { mapGr4vyStatus } from './status.js';
import type { Gr4vyRefundWire } from './wire.js';

export interface Gr4vyNormalizeContext {
  account: string;
  settings: Gr4vySettings;
  logger: Logger;
  /** The connector's once-per-kind warner; without one every oddity is logged. */
  warn?: WarnOnce;
}

/** specs/gr4vy.yaml `Refund.amount`: `maximum: 99999999`. */
export const GR4VY_MAX_AMOUNT = 99_999_999;

/**
 * Gr4vy's `error_code` (standardized) and `raw_response_description` (the payment service's words).
 * A succeeded refund may carry them too; the shared confirmRefund keeps a failure only on failed ones.
 */
function failureOf(wire: Gr4vyRefundWire): RefundFailure | null {
  const code = wire.error_code ?? null;
  const message = wire.raw_response_description ?? null;
  return code !== null || message !== null ? { code, message } : null;
}

const nonEmpty = (v: string | null | undefined): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The one Gr4vy Refund -> unified Refund conversion. */
export function normalizeGr4vyRefund(wire: Gr4vyRefundWire, ctx: Gr4vyNormalizeContext): Refund {
  const warn = ctx.warn ?? createWarnOnce(ctx.logger);
  const money = reportedMoney('gr4vy', readMinorMoney(wire.amount, wire.currency, { max: GR4VY_MAX_AMOUNT }), warn, wire.id);
  return {
    provider: 'gr4vy',
    account: ctx.account,
    id: wire.id,
    paymentId: wire.transaction_id,
    status: mapGr4vyStatus(wire.status, ctx.logger),
    providerStatus: wire.status,
    // Gr4vy amounts are integers in the currency's ISO minor unit (spec: "smallest currency unit").
    ...money,
    reason: wire.reason ?? null,
    // Gr4vy timestamps carry an offset (`+00:00` in the spec's examples); normalize to UTC `Z`.
    createdAt: parseIsoToUtc(wire.created_at),
    updatedAt: parseIsoToUtc(wire.updated_at),
    failure: failureOf(wire),
    // The refund's own external_identifier first; a refund created without one is still found by
    // the order reference its transaction was created with.
    merchantReference: nonEmpty(wire.external_identifier) ?? nonEmpty(wire.transaction_external_identifier),
    customerReceives: null,
    metadata: null,
    // The payment service's (processor's) own refund id, for reconciling with the acquirer.
    providerReference: nonEmpty(wire.payment_service_refund_id),
    raw: wire,
  };
}
