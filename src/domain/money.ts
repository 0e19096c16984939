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
  return ISO_4217_EXPONENTS[currency.toUpperCase()];
}

export function isKnownCurrency(currency: unknown): currency is string {
  return typeof currency === 'string' && currencyExponent(currency) !== undefined;
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
  // Exponent notation only shows up for tiny or huge values; toFixed(20) is exact enough for
  // anything a refund amount can be, and the caller rejects what does not fit its exponent.
  return n.toFixed(20).replace(/\.?0+$/, '');
}

/**
 * Converts a major-unit decimal ("10.5", 4.35, "100.890") into integer minor units with the
 * given exponent. Extra fraction digits must be zeros, otherwise the value is not representable
 * and we return undefined rather than silently rounding money.
 */
export function decimalToMinor(value: string | number, exponent: number): number | undefined {
  const d = parseDecimal(value);
  if (!d) return undefined;
  const extra = d.frac.slice(exponent);
  if (/[1-9]/.test(extra)) return undefined;
  const frac = d.frac.slice(0, exponent).padEnd(exponent, '0');
  const digits = (d.int + frac).replace(/^0+(?=\d)/, '');
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) return undefined;
  return d.negative && n !== 0 ? -n : n;
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

/** Money from an integer already in ISO minor units of `currency`. */
export function moneyFromMinor(amount: unknown, currency: unknown): NormalizedMoney {
  const code = typeof currency === 'string' && currency.trim() !== '' ? currency.trim().toUpperCase() : null;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount)) return { ...NO_MONEY, currency: code };
  const exp = code ? currencyExponent(code) : undefined;
  if (exp === undefined) {
    // Unknown currency: the integer is all we know; leave the decimal rendering to someone who knows.
    return { amount, currency: code, amountDecimal: null };
  }
  return { amount, currency: code, amountDecimal: minorToDecimal(amount, exp) };
}

/** Money from a major-unit decimal (OneKey). Without a known currency only the decimal survives. */
export function moneyFromDecimal(value: unknown, currency: string | null | undefined): NormalizedMoney {
  if (value === null || value === undefined || value === '') return { ...NO_MONEY, currency: currency ?? null };
  if (typeof value !== 'number' && typeof value !== 'string') return { ...NO_MONEY, currency: currency ?? null };
  const code = currency ? currency.toUpperCase() : null;
  const exp = code ? currencyExponent(code) : undefined;
  if (code === null || exp === undefined) {
    const d = parseDecimal(value);
    const given = d ? `${d.negative ? '-' : ''}${d.int}${d.frac ? `.${d.frac}` : ''}` : null;
    return { amount: null, currency: null, amountDecimal: given };
  }
  const minor = decimalToMinor(value, exp);
  if (minor === undefined) {
    throw new RefundHubError('invalid_response', `amount ${String(value)} does not fit ${code}'s ${exp} decimals`);
  }
  return { amount: minor, currency: code, amountDecimal: minorToDecimal(minor, exp) };
}
