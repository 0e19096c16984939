import { RefundHubError } from '../errors.js';

/**
 * ISO 4217 minor-unit exponents for currencies whose exponent is not 2.
 * Shipped as data rather than read from Intl: Node's CLDR data says IQD 0, HUF 0, IDR 0
 * and COP 0 where ISO 4217 says 3, 2, 2 and 2 (checked on Node 20).
 */
const NON_TWO_EXPONENTS: Readonly<Record<string, number>> = {
  // zero-decimal currencies (ISO 4217, list one, SIX)
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0,
  UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  // three-decimal currencies
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  // four-decimal fund codes
  CLF: 4, UYW: 4,
};

/** Active ISO 4217 codes with the usual exponent of 2. */
const TWO_EXPONENT_CODES = (
  'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD ' +
  'CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS ' +
  'GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL ' +
  'MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK ' +
  'PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS ' +
  'TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG'
).split(' ');

export const ISO_4217_EXPONENTS: Readonly<Record<string, number>> = Object.freeze({
  ...Object.fromEntries(TWO_EXPONENT_CODES.map((c) => [c, 2])),
  ...NON_TWO_EXPONENTS,
});

/** The ISO exponent of a currency code, or undefined for a code we do not know. */
export function currencyExponent(currency: string): number | undefined {
  const code = currency.toUpperCase();
  return Object.hasOwn(ISO_4217_EXPONENTS, code) ? ISO_4217_EXPONENTS[code] : undefined;
}

export function isKnownCurrency(currency: unknown): currency is string {
  return typeof currency === 'string' && currencyExponent(currency) !== undefined;
}

/**
 * The active ISO 4217 code a provider's currency value names, or null: `" aed "` is AED, while
 * `"velit ea dolore"`, a well-formed but unassigned `"IUP"` and Tazapay's `"USDC-ERC20"` are not
 * ISO codes and must never be shown as one.
 */
export function isoCurrency(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const code = value.trim().toUpperCase();
  return /^[A-Z]{3}$/.test(code) && currencyExponent(code) !== undefined ? code : null;
}

const DECIMAL_RE = /^(-)?(\d+)(?:\.(\d+))?$/;

/** A decimal number as sign, integer digits and fraction digits. Never goes through a float. */
interface ParsedDecimal {
  negative: boolean;
  int: string;
  frac: string;
}

function parseDecimal(value: string | number): ParsedDecimal | undefined {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    // JSON numbers arrive as the shortest round-trip text ("4.35"), which is the value the
    // provider wrote; reading that text keeps us off float multiplication.
    text = numberToPlainString(value);
  } else {
    text = value.trim();
  }
  const m = DECIMAL_RE.exec(text);
  if (!m) return undefined;
  return { negative: m[1] === '-', int: m[2]!.replace(/^0+(?=\d)/, ''), frac: m[3] ?? '' };
}

function numberToPlainString(n: number): string {
  const s = String(n);
  if (!/e/i.test(s)) return s;
  // Every float from 1e21 up is an integer, and toFixed would print it in exponent form again;
  // its exact digits tell the caller how far beyond any real amount it is.
  if (Math.abs(n) >= 1e21) return (n < 0 ? '-' : '') + BigInt(Math.abs(n)).toString();
  // Tiny values: toFixed(20) is exact enough, and the caller rejects what does not fit its exponent.
  return n.toFixed(20).replace(/\.?0+$/, '');
}

/** Why a decimal could not become minor units. */
type DecimalProblem = 'malformed' | 'not_representable' | 'too_large';

function decimalToMinorOrProblem(value: string | number, exponent: number): number | DecimalProblem {
  const d = parseDecimal(value);
  if (!d) return 'malformed';
  const extra = d.frac.slice(exponent);
  if (/[1-9]/.test(extra)) return 'not_representable';
  const frac = d.frac.slice(0, exponent).padEnd(exponent, '0');
  const digits = (d.int + frac).replace(/^0+(?=\d)/, '');
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) return 'too_large';
  return d.negative && n !== 0 ? -n : n;
}

/**
 * Converts a major-unit decimal ("10.5", 4.35, "100.890") into integer minor units with the
 * given exponent. Extra fraction digits must be zeros, otherwise the value is not representable
 * and we return undefined rather than silently rounding money.
 */
export function decimalToMinor(value: string | number, exponent: number): number | undefined {
  const r = decimalToMinorOrProblem(value, exponent);
  return typeof r === 'number' ? r : undefined;
}

/** Formats integer minor units as a major-unit decimal with exactly `exponent` fraction digits. */
export function minorToDecimal(minor: number, exponent: number): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`amount ${minor} is not a safe integer`);
  const negative = minor < 0;
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0');
  const int = digits.slice(0, digits.length - exponent);
  const frac = digits.slice(digits.length - exponent);
  return (negative ? '-' : '') + (exponent > 0 ? `${int}.${frac}` : int);
}

/**
 * Moves an integer from one implied exponent to another (Tazapay always sends two implied
 * decimals: JPY 100 as 10000, KWD 100.89 as 10089). Digits that do not fit the target exponent
 * must be zeros; otherwise undefined.
 */
export function rescaleMinor(value: number, fromExponent: number, toExponent: number): number | undefined {
  if (!Number.isSafeInteger(value)) return undefined;
  return decimalToMinor(minorToDecimal(value, fromExponent), toExponent);
}

/** The money part of a normalized refund. */
export interface NormalizedMoney {
  amount: number | null;
  currency: string | null;
  amountDecimal: string | null;
}

export const NO_MONEY: NormalizedMoney = Object.freeze({ amount: null, currency: null, amountDecimal: null });

/**
 * Why an amount could not be reported. Each is a provider oddity worth one warning, never a
 * failed fetch: the refund's status must keep updating even when its amount cannot be trusted.
 */
export type MoneyIssue =
  /** The currency is missing or not an active ISO 4217 code, so minor units mean nothing. */
  | 'unknown_currency'
  /** Not an integer number of minor units (a float, a string). */
  | 'not_minor_units'
  /** More decimals than the currency has (CLP 15990.5): refused, never rounded. */
  | 'not_representable'
  /** Beyond what any refund can be (1e37), or beyond the provider's documented maximum. */
  | 'too_large'
  /** A refund returns money; a negative amount has no agreed meaning, so we do not guess a sign convention. */
  | 'negative'
  /** Not a number at all. */
  | 'malformed';

/** Money read from a provider, with the reason the amount was left null when it was. */
export interface MoneyReading extends NormalizedMoney {
  issue: MoneyIssue | null;
  /** What went wrong, without the provider's name (the caller adds it); null when nothing did. */
  message: string | null;
}

const ok = (money: NormalizedMoney): MoneyReading => ({ ...money, issue: null, message: null });
const problem = (money: NormalizedMoney, issue: MoneyIssue, message: string): MoneyReading => ({ ...money, issue, message });
const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v) : String(v));

export interface MinorAmountLimits {
  /** The provider's documented maximum in minor units (Gr4vy: 99999999; Stan: int32). */
  max?: number;
}

/**
 * A refund amount given as an integer in ISO minor units of `currency` (Ziina, Gr4vy, Stan).
 * Anything that cannot be reported truthfully leaves amount and amountDecimal null with an issue;
 * an unknown currency leaves currency null as well (the raw payload keeps what was sent).
 */
export function readMinorMoney(amount: unknown, currency: unknown, limits: MinorAmountLimits = {}): MoneyReading {
  const code = isoCurrency(currency);
  if (amount === null || amount === undefined) return ok({ ...NO_MONEY, currency: code });
  if (code === null) {
    const given = typeof currency === 'string' && currency.trim() !== '' ? `currency ${shown(currency)} is not an ISO 4217 code` : 'no currency is given';
    return problem(NO_MONEY, 'unknown_currency', `${given}; amount left null`);
  }
  const none = { ...NO_MONEY, currency: code };
  if (typeof amount !== 'number' || Number.isNaN(amount)) return problem(none, 'malformed', `amount ${shown(amount)} is not a number; amount left null`);
  if (!Number.isFinite(amount) || Math.abs(amount) > Number.MAX_SAFE_INTEGER) return problem(none, 'too_large', `amount ${amount} is too large to be a real refund; amount left null`);
  if (!Number.isInteger(amount)) return problem(none, 'not_minor_units', `amount ${amount} is not an integer number of ${code} minor units; amount left null`);
  if (amount < 0) return problem(none, 'negative', `amount ${amount} is negative; a refund amount cannot be, so it is left null`);
  if (limits.max !== undefined && amount > limits.max) return problem(none, 'too_large', `amount ${amount} exceeds the documented maximum ${limits.max}; amount left null`);
  return ok({ amount, currency: code, amountDecimal: minorToDecimal(amount, currencyExponent(code)!) });
}

/**
 * A refund amount given as a major-unit decimal (OneKey; Tazapay once its implied decimals are
 * placed). Without a known currency only the provider's decimal survives.
 */
export function readDecimalMoney(value: unknown, currency: unknown): MoneyReading {
  const code = isoCurrency(currency);
  if (value === null || value === undefined || value === '') return ok({ ...NO_MONEY, currency: code });
  if (typeof value !== 'number' && typeof value !== 'string') return problem({ ...NO_MONEY, currency: code }, 'malformed', `amount ${shown(value)} is not a number; amount left null`);
  const d = parseDecimal(value);
  if (code === null) {
    const given = d ? `${d.negative ? '-' : ''}${d.int}${d.frac ? `.${d.frac}` : ''}` : null;
    const what = typeof currency === 'string' && currency.trim() !== '' ? `currency ${shown(currency)} is not an ISO 4217 code` : null;
    // No currency configured is a setup choice, not a provider oddity: the decimal is all there is.
    return what === null ? ok({ ...NO_MONEY, amountDecimal: given }) : problem({ ...NO_MONEY, amountDecimal: given }, 'unknown_currency', `${what}; amount left null`);
  }
  const none = { ...NO_MONEY, currency: code };
  const exp = currencyExponent(code)!;
  const minor = decimalToMinorOrProblem(value, exp);
  if (minor === 'malformed') {
    // JSON cannot carry Infinity; a float this far out only comes from a broken producer.
    if (typeof value === 'number' && !Number.isFinite(value)) return problem(none, 'too_large', `amount ${value} is too large to be a real refund; amount left null`);
    return problem(none, 'malformed', `amount ${shown(value)} is not a decimal number; amount left null`);
  }
  if (minor === 'too_large') return problem(none, 'too_large', `amount ${String(value)} is too large to be a real refund; amount left null`);
  if (minor === 'not_representable') return problem(none, 'not_representable', `amount ${String(value)} does not fit ${code}'s ${exp} decimals; amount left null rather than rounded`);
  if (minor < 0) return problem(none, 'negative', `amount ${String(value)} is negative; a refund amount cannot be, so it is left null`);
  return ok({ amount: minor, currency: code, amountDecimal: minorToDecimal(minor, exp) });
}

/**
 * Money from an integer already in ISO minor units of `currency`. A signed conversion (negative
 * values keep their sign); an unknown currency gives no money at all.
 */
export function moneyFromMinor(amount: unknown, currency: unknown): NormalizedMoney {
  const code = isoCurrency(currency);
  if (code === null) return NO_MONEY;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount)) return { ...NO_MONEY, currency: code };
  return { amount, currency: code, amountDecimal: minorToDecimal(amount, currencyExponent(code)!) };
}

/**
 * Money from a major-unit decimal, signed. Without a known currency only the decimal survives.
 * Throws invalid_response when the value cannot be represented (used where a caller wants to
 * refuse rather than degrade, e.g. applying a merchant's currency hint).
 */
export function moneyFromDecimal(value: unknown, currency: string | null | undefined): NormalizedMoney {
  const code = isoCurrency(currency);
  if (typeof value !== 'number' && typeof value !== 'string') return { ...NO_MONEY, currency: code };
  const r = readDecimalMoney(value, currency);
  if (r.issue === null || r.issue === 'unknown_currency') return { amount: r.amount, currency: r.currency, amountDecimal: r.amountDecimal };
  if (r.issue === 'negative') {
    const exp = currencyExponent(r.currency!)!;
    const minor = decimalToMinor(value, exp)!;
    return { amount: minor, currency: r.currency, amountDecimal: minorToDecimal(minor, exp) };
  }
  throw new RefundHubError('invalid_response', r.message!.replace(/; amount left null.*$/, ''));
}
