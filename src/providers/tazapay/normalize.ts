import type { CustomerReceives, Refund, RefundFailure, RefundStatus } from '../../domain/refund.js';
import { isoCurrency, minorToDecimal, readDecimalMoney, type MoneyReading } from '../../domain/money.js';
import { parseIsoToUtc } from '../../domain/dates.js';
import type { Logger } from '../../logger.js';
import { createWarnOnce, reportedMoney, type WarnOnce } from '../shared.js';
import type { TazapaySettings } from './config.js';
import { mapTazapayStatus } from './status.js';
import type { TazapayRefund } from './wire.js';

/** What normalization needs besides the wire object. */
export interface TazapayNormalizeContext {
  account: string;
  settings: TazapaySettings;
  logger: Logger;
  /** The connector's once-per-kind warner; without one every oddity is logged. */
  warn?: WarnOnce;
}

/** Tazapay always sends two implied decimals (docs.tazapay.com/docs/decimal-currencies). */
const TAZAPAY_IMPLIED_DECIMALS = 2;

const text = (v: string | null | undefined): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

/**
 * Reads Tazapay's always-two-decimals integer as the decimal it stands for, then into true ISO
 * minor units: JPY 10000 -> 100, KWD 10089 -> 100890, AED 1050 -> 1050. A currency that is not
 * ISO 4217 (garbage, or a crypto code such as `USDC-ERC20`, which Tazapay settles in) leaves
 * currency and amount null but keeps Tazapay's own decimal value in `amountDecimal`; a value that
 * would drop digits of a known currency (JPY 10050) leaves both null. `raw` keeps what was sent.
 */
export function tazapayMoney(amount: number | null | undefined, currency: string | null | undefined): MoneyReading {
  if (typeof amount === 'number' && Number.isSafeInteger(amount)) return readDecimalMoney(minorToDecimal(amount, TAZAPAY_IMPLIED_DECIMALS), currency);
  if (amount === null || amount === undefined) return readDecimalMoney(null, currency);
  // The wire schema admits only integers, so this is one beyond 2^53: no exact value exists.
  return { amount: null, currency: isoCurrency(currency), amountDecimal: null, issue: 'too_large', message: `amount ${amount} is too large to be a real refund; amount left null` };
}

function failureOf(status: RefundStatus, wire: TazapayRefund): RefundFailure | null {
  if (status !== 'failed') return null;
  // status_reason appears in webhook examples only; status_description is the documented field.
  const message = text(wire.status_description) ?? text(wire.status_reason);
  return message === null ? null : { code: null, message };
}

/**
 * `customer_receives` follows the refund amount's rules, two implied decimals included
 * (docs.tazapay.com/docs/decimal-currencies): `{"currency":"SGD","amount":133200}` is 1332.00 SGD.
 * Absent, null or empty ({}) is null; a partial one keeps what can be known.
 */
function customerReceivesOf(wire: TazapayRefund, warn: WarnOnce): CustomerReceives | null {
  const cr = wire.customer_receives;
  if (cr === null || cr === undefined) return null;
  if ((cr.amount === null || cr.amount === undefined) && text(cr.currency) === null) return null;
  const reading = tazapayMoney(cr.amount, cr.currency);
  if (reading.issue !== null) warn(`customer_receives.${reading.issue}`, { refundId: wire.id }, `tazapay: refund ${wire.id}: customer_receives ${reading.message}`);
  return { amount: reading.amount, currency: reading.currency, amountDecimal: reading.amountDecimal };
}

/** An empty metadata object says nothing: null, like an absent one. */
function metadataOf(metadata: Record<string, string> | null | undefined): Record<string, string> | null {
  if (metadata === null || metadata === undefined || Object.keys(metadata).length === 0) return null;
  return { ...metadata };
}

/** Turns Tazapay's refund object (the envelope's `data`) into the normalized Refund. */
export function normalizeTazapayRefund(wire: TazapayRefund, ctx: TazapayNormalizeContext): Refund {
  const status = mapTazapayStatus(wire.status, ctx.logger);
  const warn = ctx.warn ?? createWarnOnce(ctx.logger);
  const money = reportedMoney('tazapay', tazapayMoney(wire.amount, wire.currency), warn, wire.id);
  const createdAt = parseIsoToUtc(wire.created_at);
  if (createdAt === null && text(wire.created_at) !== null) {
    warn('date.created_at', { createdAt: wire.created_at }, 'unparseable tazapay created_at; left null');
  }
  return {
    provider: 'tazapay',
    account: ctx.account,
    id: wire.id,
    paymentId: text(wire.payin),
    status,
    providerStatus: wire.status,
    amount: money.amount,
    currency: money.currency,
    amountDecimal: money.amountDecimal,
    reason: text(wire.reason),
    createdAt,
    // Tazapay's refund object has no update timestamp.
    updatedAt: null,
    failure: failureOf(status, wire),
    merchantReference: text(wire.reference_id),
    customerReceives: customerReceivesOf(wire, warn),
    metadata: metadataOf(wire.metadata),
    // The balance transaction is Tazapay's ledger entry for the refund: what settlement reports name.
    providerReference: text(wire.balance_transaction),
    raw: wire,
  };
}
