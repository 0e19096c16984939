/** The providers RefundHub speaks to. Lowercase ids are used everywhere: config, URLs, storage. */
export const PROVIDER_IDS = ['ziina', 'tazapay', 'gr4vy', 'stan', 'onekey'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export function isProviderId(value: unknown): value is ProviderId {
  return typeof value === 'string' && (PROVIDER_IDS as readonly string[]).includes(value);
}

/** The unified refund status. Every provider status maps onto exactly one of these. */
export const REFUND_STATUSES = [
  /** Accepted by the provider, money not yet moved (or moving). */
  'pending',
  /** The provider needs something from the merchant (OneKey `INCORRECT_DETAILS`). */
  'requires_action',
  /** The money reached (or is irrevocably on its way to) the customer. Final. */
  'succeeded',
  /** The provider or the bank refused or could not complete it. Final. */
  'failed',
  /** Withdrawn before it completed. Final. */
  'canceled',
  /** The provider sent a status word we do not know; `providerStatus` keeps it. Not final. */
  'unknown',
] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

export const FINAL_STATUSES: ReadonlySet<RefundStatus> = new Set(['succeeded', 'failed', 'canceled']);
export function isFinalStatus(status: RefundStatus): boolean {
  return FINAL_STATUSES.has(status);
}
export function isRefundStatus(value: unknown): value is RefundStatus {
  return typeof value === 'string' && (REFUND_STATUSES as readonly string[]).includes(value);
}

/** Why a refund failed, when the provider says. Either part may be unknown. */
export interface RefundFailure {
  code: string | null;
  message: string | null;
}

/** Money the customer receives, possibly in another currency than the refund's. */
export interface CustomerReceives {
  /** Integer ISO 4217 minor units of `currency`, or null when it cannot be known. */
  amount: number | null;
  currency: string | null;
  amountDecimal: string | null;
}

/** The contract fields beyond status and amount; null where a provider has no such field. */
export const NO_EXTRAS = Object.freeze({ merchantReference: null, customerReceives: null, metadata: null, providerReference: null });

/**
 * One refund, the same shape whatever the provider. This is what `refundhub get --json`
 * prints and what the library returns.
 */
export interface Refund {
  provider: ProviderId;
  /** The configured account name (`default` when configured from the environment). */
  account: string;
  /** The provider's refund id, as a string. */
  id: string;
  /** The payment this refund reverses, as the provider identifies it. */
  paymentId: string | null;
  status: RefundStatus;
  /** The provider's own status word, unchanged. */
  providerStatus: string;
  /** Integer amount in ISO 4217 minor units of `currency`, or null when it cannot be known. */
  amount: number | null;
  /** ISO 4217 code, or null when the provider does not say and none is configured. */
  currency: string | null;
  /** The amount in major units with exactly the currency's ISO exponent digits ("10.50", "100", "100.890"). */
  amountDecimal: string | null;
  reason: string | null;
  /** ISO 8601 UTC with milliseconds, or null. */
  createdAt: string | null;
  updatedAt: string | null;
  failure: RefundFailure | null;
  /** The merchant's own order or invoice reference, as the provider echoes it; null when it has none. */
  merchantReference: string | null;
  /** What lands with the customer in the customer's currency (Tazapay `customer_receives`), same money rules as `amount`; else null. */
  customerReceives: CustomerReceives | null;
  /** The provider's key-value metadata as strings (Tazapay `metadata`); else null. */
  metadata: Record<string, string> | null;
  /** The id the underlying processor or acquirer knows the refund by (Gr4vy `payment_service_refund_id`, Tazapay `balance_transaction`); else null. */
  providerReference: string | null;
  /** The provider's refund object as received (for Tazapay, the `data` of its envelope). */
  raw: unknown;
}
