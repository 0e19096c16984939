import type { Refund, RefundFailure, RefundStatus } from '../../domain/refund.js';
import { currencyExponent, minorToDecimal, rescaleMinor, type NormalizedMoney } from '../../domain/money.js';
import { parseIsoToUtc } from '../../domain/dates.js';
import type { Logger } from '../../logger.js';
import type { TazapaySettings } from './config.js';
import { mapTazapayStatus } from './status.js';
import type { TazapayRefund } from './wire.js';

/** What normalization needs besides the wire object. */
export interface TazapayNormalizeContext {
  account: string;
  settings: TazapaySettings;
  logger: Logger;
}

/** Tazapay always sends two implied decimals (docs.tazapay.com/docs/decimal-currencies). */
const TAZAPAY_IMPLIED_DECIMALS = 2;

const text = (v: string | null | undefined): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

/**
 * Converts Tazapay's always-two-decimals integer into true ISO minor units: JPY 10000 -> 100,
 * KWD 10089 -> 100890, AED 1050 -> 1050. When the currency is unknown, `amount` is null and
 * `amountDecimal` keeps Tazapay's own decimal value; when the value would drop digits of a known
 * currency (JPY 10050), both are null (the value stays in `raw`).
 */
export function tazapayMoney(amount: number | null | undefined, currency: string | null | undefined, logger?: Logger): NormalizedMoney {
  const code = text(currency)?.toUpperCase() ?? null;
  if (amount === null || amount === undefined || !Number.isSafeInteger(amount)) return { amount: null, currency: code, amountDecimal: null };
  const given = minorToDecimal(amount, TAZAPAY_IMPLIED_DECIMALS);
  const exponent = code ? currencyExponent(code) : undefined;
  if (exponent === undefined) {
    logger?.warn({ provider: 'tazapay', currency: code }, `tazapay amount in unknown currency ${code ?? '(none)'}; keeping only the decimal value`);
    return { amount: null, currency: code, amountDecimal: given };
  }
  const minor = rescaleMinor(amount, TAZAPAY_IMPLIED_DECIMALS, exponent);
  if (minor === undefined) {
    // amountDecimal promises exactly the currency's ISO digits; "100.50" JPY cannot be written so.
    // The provider's value stays in `raw`.
    logger?.warn({ provider: 'tazapay', currency: code, amountDecimal: given }, `tazapay amount ${given} does not fit ${code}'s ${exponent} decimals; amount left unknown`);
    return { amount: null, currency: code, amountDecimal: null };
  }
  return { amount: minor, currency: code, amountDecimal: minorToDecimal(minor, exponent) };
}

function failureOf(status: RefundStatus, wire: TazapayRefund): RefundFailure | null {
  if (status !== 'failed') return null;
  // status_reason appears in webhook examples only; status_description is the documented field.
  const message = text(wire.status_description) ?? text(wire.status_reason);
  return message === null ? null : { code: null, message };
}

/** Turns Tazapay's refund object (the envelope's `data`) into the normalized Refund. */
export function normalizeTazapayRefund(wire: TazapayRefund, ctx: TazapayNormalizeContext): Refund {
  const status = mapTazapayStatus(wire.status, ctx.logger);
  const money = tazapayMoney(wire.amount, wire.currency, ctx.logger);
  const createdAt = parseIsoToUtc(wire.created_at);
  if (createdAt === null && text(wire.created_at) !== null) {
    ctx.logger.warn({ provider: 'tazapay', createdAt: wire.created_at }, 'unparseable tazapay created_at; left null');
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
    raw: wire,
  };
}
