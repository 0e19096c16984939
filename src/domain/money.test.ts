import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RefundHubError } from '../errors.js';
import {
  currencyExponent,
  decimalToMinor,
  ISO_4217_EXPONENTS,
  isKnownCurrency,
  minorToDecimal,
  moneyFromDecimal,
  moneyFromMinor,
  NO_MONEY,
  isoCurrency,
  readDecimalMoney,
  readMinorMoney,
  rescaleMinor,
} from './money.js';

describe('ISO 4217 exponent table', () => {
  // Values from ISO 4217 (SIX list one), not from Intl: IQD, HUF, IDR and COP are where Node's CLDR data differs.
  const ISO: Record<string, number> = {
    JPY: 0, KRW: 0, CLP: 0, ISK: 0, VND: 0,
    BHD: 3, KWD: 3, OMR: 3, JOD: 3, IQD: 3, LYD: 3, TND: 3,
    AED: 2, USD: 2, EUR: 2, HUF: 2, IDR: 2, COP: 2,
  };

  it.each(Object.entries(ISO))('%s has exponent %i', (code, exp) => {
    expect(currencyExponent(code)).toBe(exp);
    expect(ISO_4217_EXPONENTS[code]).toBe(exp);
  });

  it('the Intl-disagreeing codes follow ISO exactly', () => {
    expect([currencyExponent('IQD'), currencyExponent('HUF'), currencyExponent('IDR'), currencyExponent('COP')]).toEqual([3, 2, 2, 2]);
  });

  it('lookup is case-insensitive; unknown codes are undefined', () => {
    expect(currencyExponent('kwd')).toBe(3);
    expect(currencyExponent('jPy')).toBe(0);
    expect(currencyExponent('XYZ')).toBeUndefined();
    expect(currencyExponent('')).toBeUndefined();
    expect(isKnownCurrency('aed')).toBe(true);
    expect(isKnownCurrency('XYZ')).toBe(false);
    expect(isKnownCurrency(784)).toBe(false);
    expect(isKnownCurrency(null)).toBe(false);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(ISO_4217_EXPONENTS)).toBe(true);
  });
});

describe('decimalToMinor', () => {
  it('converts strings with the exponent', () => {
    expect(decimalToMinor('10.50', 2)).toBe(1050);
    expect(decimalToMinor('10.5', 2)).toBe(1050);
    expect(decimalToMinor('10', 2)).toBe(1000);
    expect(decimalToMinor('100', 0)).toBe(100);
    expect(decimalToMinor('100.890', 3)).toBe(100890);
    expect(decimalToMinor('100.89', 3)).toBe(100890);
    expect(decimalToMinor('0.001', 3)).toBe(1);
    expect(decimalToMinor('007.10', 2)).toBe(710);
    expect(decimalToMinor('  10.50  ', 2)).toBe(1050);
  });

  it('accepts trailing zeros beyond the exponent but refuses other digits instead of rounding', () => {
    expect(decimalToMinor('10.500', 2)).toBe(1050);
    expect(decimalToMinor('100.00', 0)).toBe(100);
    expect(decimalToMinor('10.505', 2)).toBeUndefined();
    expect(decimalToMinor('10.501', 2)).toBeUndefined();
    expect(decimalToMinor('10.499', 2)).toBeUndefined();
    expect(decimalToMinor('100.5', 0)).toBeUndefined();
    expect(decimalToMinor('1.0001', 3)).toBeUndefined();
  });

  it('handles negative and zero amounts (never -0)', () => {
    expect(decimalToMinor('-10.50', 2)).toBe(-1050);
    expect(decimalToMinor('-0.05', 2)).toBe(-5);
    expect(decimalToMinor(-4.35, 2)).toBe(-435);
    expect(decimalToMinor('0', 2)).toBe(0);
    expect(decimalToMinor('0.00', 2)).toBe(0);
    expect(Object.is(decimalToMinor('-0.00', 2), 0)).toBe(true);
    expect(Object.is(decimalToMinor(-0, 2), 0)).toBe(true);
  });

  it.each([
    '', ' ', 'abc', '1.', '.5', '+1', '1e3', '1,000', '1.000,00', '10.5.0', '--1', '- 1', '0x10', '1 000', 'NaN', 'Infinity',
  ])('refuses bad input %j', (bad) => {
    expect(decimalToMinor(bad, 2)).toBeUndefined();
  });

  it('refuses non-finite numbers and values beyond the safe integer range', () => {
    expect(decimalToMinor(Number.NaN, 2)).toBeUndefined();
    expect(decimalToMinor(Number.POSITIVE_INFINITY, 2)).toBeUndefined();
    expect(decimalToMinor(Number.NEGATIVE_INFINITY, 2)).toBeUndefined();
    expect(decimalToMinor('90071992547409.92', 2)).toBeUndefined(); // 2^53 + 1 minor units
    expect(decimalToMinor('90071992547409.91', 2)).toBe(Number.MAX_SAFE_INTEGER);
    expect(decimalToMinor(1e21, 2)).toBeUndefined();
  });

  it('reads JS numbers by their decimal text, never by float multiplication', () => {
    expect(4.35 * 100).toBe(434.99999999999994); // the drift we must not inherit
    expect(decimalToMinor(4.35, 2)).toBe(435);
    expect(8.29 * 100).not.toBe(829);
    expect(decimalToMinor(8.29, 2)).toBe(829);
    expect(decimalToMinor(1.005, 3)).toBe(1005);
    expect(decimalToMinor(0.07, 2)).toBe(7);
    expect(decimalToMinor(0.3, 2)).toBe(30);
    expect(decimalToMinor(1e-7, 9)).toBe(100);
    // 0.1 + 0.2 is 0.30000000000000004, not a 2-decimal amount: refused rather than rounded.
    expect(decimalToMinor(0.1 + 0.2, 2)).toBeUndefined();
  });

  it('property: a 2-decimal JS number gives the integer of its decimal string', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e15, max: 1e15 }), (cents) => {
        const text = minorToDecimal(cents, 2);
        const asNumber = Number(text); // what JSON.parse hands a connector
        expect(decimalToMinor(asNumber, 2)).toBe(cents);
        expect(decimalToMinor(text, 2)).toBe(cents);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: decimalToMinor(minorToDecimal(m, e), e) === m for every safe integer and exponent 0..3', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), fc.integer({ min: 0, max: 3 }), (m, e) => {
        expect(decimalToMinor(minorToDecimal(m, e), e)).toBe(m);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('minorToDecimal', () => {
  it('formats with exactly the exponent digits', () => {
    expect(minorToDecimal(1050, 2)).toBe('10.50');
    expect(minorToDecimal(100, 0)).toBe('100');
    expect(minorToDecimal(100890, 3)).toBe('100.890');
    expect(minorToDecimal(5, 2)).toBe('0.05');
    expect(minorToDecimal(1, 3)).toBe('0.001');
    expect(minorToDecimal(0, 2)).toBe('0.00');
    expect(minorToDecimal(0, 0)).toBe('0');
    expect(minorToDecimal(-5, 2)).toBe('-0.05');
    expect(minorToDecimal(-1050, 2)).toBe('-10.50');
    expect(minorToDecimal(Number.MAX_SAFE_INTEGER, 2)).toBe('90071992547409.91');
  });

  it('throws RangeError for non-integers and unsafe integers', () => {
    expect(() => minorToDecimal(10.5, 2)).toThrow(RangeError);
    expect(() => minorToDecimal(Number.NaN, 2)).toThrow(RangeError);
    expect(() => minorToDecimal(2 ** 53, 2)).toThrow(RangeError);
  });
});

describe('rescaleMinor', () => {
  it('moves two implied decimals to the currency exponent', () => {
    expect(rescaleMinor(10000, 2, 0)).toBe(100); // JPY 100 sent as 10000
    expect(rescaleMinor(10089, 2, 3)).toBe(100890); // KWD 100.89
    expect(rescaleMinor(1050, 2, 2)).toBe(1050);
    expect(rescaleMinor(-10000, 2, 0)).toBe(-100);
    expect(rescaleMinor(0, 2, 0)).toBe(0);
  });

  it('refuses digits that do not fit the target exponent', () => {
    expect(rescaleMinor(10089, 2, 0)).toBeUndefined();
    expect(rescaleMinor(100891, 3, 2)).toBeUndefined();
    expect(rescaleMinor(100890, 3, 2)).toBe(10089);
  });

  it('refuses non-integer or unsafe input', () => {
    expect(rescaleMinor(10.5, 2, 0)).toBeUndefined();
    expect(rescaleMinor(Number.NaN, 2, 2)).toBeUndefined();
    expect(rescaleMinor(2 ** 53, 2, 2)).toBeUndefined();
    expect(rescaleMinor(Number.MAX_SAFE_INTEGER, 2, 3)).toBeUndefined(); // x10 leaves the safe range
  });

  it('property: from 2 implied decimals to 0/2/3 and back round-trips', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 45), max: 2 ** 45 }), fc.constantFrom(0, 2, 3), (v, to) => {
        const value = to === 0 ? v * 100 : v; // to 0 decimals only whole units fit
        const there = rescaleMinor(value, 2, to);
        expect(there).toBe(value * 10 ** (to - 2));
        expect(rescaleMinor(there!, to, 2)).toBe(value);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: to 0 decimals anything with cents is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }).filter((v) => v % 100 !== 0), (v) => {
        expect(rescaleMinor(v, 2, 0)).toBeUndefined();
      }),
    );
  });
});

describe('moneyFromMinor', () => {
  it('renders the decimal with the ISO exponent', () => {
    expect(moneyFromMinor(1050, 'AED')).toEqual({ amount: 1050, currency: 'AED', amountDecimal: '10.50' });
    expect(moneyFromMinor(100, 'JPY')).toEqual({ amount: 100, currency: 'JPY', amountDecimal: '100' });
    expect(moneyFromMinor(100890, 'KWD')).toEqual({ amount: 100890, currency: 'KWD', amountDecimal: '100.890' });
    expect(moneyFromMinor(0, 'usd')).toEqual({ amount: 0, currency: 'USD', amountDecimal: '0.00' });
    expect(moneyFromMinor(-250, ' eur ')).toEqual({ amount: -250, currency: 'EUR', amountDecimal: '-2.50' });
  });

  it('gives no money for an unknown or missing currency: minor units of nothing mean nothing', () => {
    expect(moneyFromMinor(1050, 'XYZ')).toEqual(NO_MONEY);
    expect(moneyFromMinor(1050, 'IUP')).toEqual(NO_MONEY);
    expect(moneyFromMinor(1050, 'velit ea dolore')).toEqual(NO_MONEY);
    expect(moneyFromMinor(1050, null)).toEqual(NO_MONEY);
    expect(moneyFromMinor(1050, '  ')).toEqual(NO_MONEY);
    expect(moneyFromMinor(1050, 978)).toEqual(NO_MONEY);
  });

  it('drops amounts that are not safe integers, keeping the currency', () => {
    expect(moneyFromMinor(10.5, 'AED')).toEqual({ amount: null, currency: 'AED', amountDecimal: null });
    expect(moneyFromMinor('1050', 'AED')).toEqual({ amount: null, currency: 'AED', amountDecimal: null });
    expect(moneyFromMinor(null, 'AED')).toEqual({ amount: null, currency: 'AED', amountDecimal: null });
    expect(moneyFromMinor(2 ** 53, 'AED')).toEqual({ amount: null, currency: 'AED', amountDecimal: null });
    expect(moneyFromMinor(undefined, undefined)).toEqual(NO_MONEY);
  });
});

describe('moneyFromDecimal', () => {
  it('converts to minor units and formats with the ISO exponent', () => {
    expect(moneyFromDecimal('10.50', 'AED')).toEqual({ amount: 1050, currency: 'AED', amountDecimal: '10.50' });
    expect(moneyFromDecimal('10.5', 'AED')).toEqual({ amount: 1050, currency: 'AED', amountDecimal: '10.50' });
    expect(moneyFromDecimal('100', 'JPY')).toEqual({ amount: 100, currency: 'JPY', amountDecimal: '100' });
    expect(moneyFromDecimal('100.890', 'KWD')).toEqual({ amount: 100890, currency: 'KWD', amountDecimal: '100.890' });
    expect(moneyFromDecimal(100.89, 'kwd')).toEqual({ amount: 100890, currency: 'KWD', amountDecimal: '100.890' });
    expect(moneyFromDecimal(4.35, 'USD')).toEqual({ amount: 435, currency: 'USD', amountDecimal: '4.35' });
    expect(moneyFromDecimal('-3.5', 'EUR')).toEqual({ amount: -350, currency: 'EUR', amountDecimal: '-3.50' });
    expect(moneyFromDecimal(0, 'AED')).toEqual({ amount: 0, currency: 'AED', amountDecimal: '0.00' });
    expect(moneyFromDecimal('25000', 'IDR')).toEqual({ amount: 2500000, currency: 'IDR', amountDecimal: '25000.00' });
    expect(moneyFromDecimal('1.250', 'IQD')).toEqual({ amount: 1250, currency: 'IQD', amountDecimal: '1.250' });
  });

  it('throws invalid_response for digits beyond the exponent and for bad strings, never rounding', () => {
    const cases: [unknown, string][] = [['10.505', 'AED'], ['100.5', 'JPY'], ['1.0001', 'KWD'], ['abc', 'AED'], ['1e3', 'USD'], [Number.NaN, 'USD']];
    for (const [value, currency] of cases) {
      let err: unknown;
      try {
        moneyFromDecimal(value, currency);
      } catch (e) {
        err = e;
      }
      expect(err, `${String(value)} ${currency}`).toBeInstanceOf(RefundHubError);
      expect((err as RefundHubError).code).toBe('invalid_response');
    }
    expect(() => moneyFromDecimal('10.505', 'AED')).toThrow(/10\.505 does not fit AED's 2 decimals/);
  });

  it('keeps only the given decimal when the currency is unknown or missing', () => {
    expect(moneyFromDecimal('10.505', 'XYZ')).toEqual({ amount: null, currency: null, amountDecimal: '10.505' });
    expect(moneyFromDecimal('0010.50', null)).toEqual({ amount: null, currency: null, amountDecimal: '10.50' });
    expect(moneyFromDecimal(-4.35, undefined)).toEqual({ amount: null, currency: null, amountDecimal: '-4.35' });
    expect(moneyFromDecimal('garbage', null)).toEqual({ amount: null, currency: null, amountDecimal: null });
  });

  it('returns no money for absent or non-scalar values', () => {
    expect(moneyFromDecimal(null, 'AED')).toEqual({ amount: null, currency: 'AED', amountDecimal: null });
    expect(moneyFromDecimal(undefined, null)).toEqual(NO_MONEY);
    expect(moneyFromDecimal('', 'AED')).toEqual({ amount: null, currency: 'AED', amountDecimal: null });
    expect(moneyFromDecimal({ value: 1 }, 'AED')).toEqual({ amount: null, currency: 'AED', amountDecimal: null });
    expect(moneyFromDecimal(true, 'AED')).toEqual({ amount: null, currency: 'AED', amountDecimal: null });
  });
});

describe('the ISO 4217 table is the list of active codes', () => {
  it('holds every active List One code with a minor unit, and nothing else', () => {
    // SIX List One (2025), minus the codes without a minor unit (XAU, XDR, XTS...): 166 codes.
    expect(Object.keys(ISO_4217_EXPONENTS)).toHaveLength(166);
    for (const code of ['AED', 'USD', 'EUR', 'JPY', 'KWD', 'CLF', 'UYW', 'XCG', 'ZWG', 'SLE', 'VED', 'MRU', 'STN']) expect(isoCurrency(code), code).toBe(code);
    // Withdrawn, metal, testing, crypto and unassigned codes are not currencies we can report.
    for (const code of ['HRK', 'SLL', 'CUC', 'ZWL', 'VEF', 'MRO', 'XAU', 'XTS', 'XXX', 'IUP', 'XYZ', 'BTC', 'USDC-ERC20']) expect(isoCurrency(code), code).toBeNull();
  });

  it('isoCurrency: a trimmed, upper-cased three-letter active code, or null', () => {
    expect(isoCurrency(' aed ')).toBe('AED');
    expect(isoCurrency('velit ea dolore')).toBeNull();
    expect(isoCurrency('EURO')).toBeNull();
    expect(isoCurrency('constructor')).toBeNull();
    expect(isoCurrency('__proto__')).toBeNull();
    expect(isoCurrency(978)).toBeNull();
    expect(currencyExponent('CONSTRUCTOR')).toBeUndefined();
  });
});

describe('readMinorMoney: a refund amount in minor units, or null with the reason', () => {
  it('reports what it could not read instead of throwing', () => {
    expect(readMinorMoney(1050, 'aed')).toEqual({ amount: 1050, currency: 'AED', amountDecimal: '10.50', issue: null, message: null });
    expect(readMinorMoney(1050, 'IUP')).toMatchObject({ ...NO_MONEY, issue: 'unknown_currency' });
    expect(readMinorMoney(1050, 'velit ea dolore')).toMatchObject({ ...NO_MONEY, issue: 'unknown_currency' });
    expect(readMinorMoney(-1, 'EUR')).toMatchObject({ amount: null, currency: 'EUR', amountDecimal: null, issue: 'negative' });
    expect(readMinorMoney(10.5, 'EUR')).toMatchObject({ amount: null, currency: 'EUR', issue: 'not_minor_units' });
    expect(readMinorMoney(1e37, 'EUR')).toMatchObject({ amount: null, currency: 'EUR', issue: 'too_large' });
    expect(readMinorMoney(1e37, 'EUR').message).toMatch(/too large to be a real refund/);
    expect(readMinorMoney(100_000_000, 'EUR', { max: 99_999_999 })).toMatchObject({ amount: null, issue: 'too_large' });
    expect(readMinorMoney(99_999_999, 'EUR', { max: 99_999_999 })).toMatchObject({ amount: 99_999_999, issue: null });
    expect(readMinorMoney(null, 'EUR')).toMatchObject({ amount: null, currency: 'EUR', issue: null });
  });
});

describe('readDecimalMoney: a major-unit refund amount, or null with the reason', () => {
  it('refuses to round and names absurd sizes for what they are', () => {
    expect(readDecimalMoney(15990, 'CLP')).toMatchObject({ amount: 15990, currency: 'CLP', amountDecimal: '15990', issue: null });
    expect(readDecimalMoney(15990.5, 'CLP')).toMatchObject({ amount: null, currency: 'CLP', amountDecimal: null, issue: 'not_representable' });
    const huge = readDecimalMoney(1e37, 'MXN');
    expect(huge).toMatchObject({ amount: null, currency: 'MXN', issue: 'too_large' });
    expect(huge.message).toMatch(/too large to be a real refund/);
    expect(huge.message).not.toMatch(/decimals/);
    expect(readDecimalMoney('12.5', 'USDC-ERC20')).toMatchObject({ amount: null, currency: null, amountDecimal: '12.5', issue: 'unknown_currency' });
    expect(readDecimalMoney('-3.50', 'EUR')).toMatchObject({ amount: null, issue: 'negative' });
    expect(readDecimalMoney('12.5', null)).toMatchObject({ amount: null, currency: null, amountDecimal: '12.5', issue: null });
  });

  it('moneyFromDecimal says "too large", not "does not fit", for 1e37', () => {
    expect(() => moneyFromDecimal(1e37, 'MXN')).toThrow(/too large to be a real refund/);
  });
});
