import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decimalToMinor, minorToDecimal } from '../../domain/money.js';
import { RefundHubError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { parseWire } from '../shared.js';
import type { TazapaySettings } from './config.js';
import { normalizeTazapayRefund, tazapayMoney } from './normalize.js';
import { mapTazapayStatus, TAZAPAY_STATUS_TABLE } from './status.js';
import { TazapayRefundEnvelopeSchema, TazapayRefundSchema, type TazapayRefund } from './wire.js';
import { recordingLogger } from '../../../test/support/logger.js';


const settings: TazapaySettings = { apiKey: 'k', apiSecret: 's', baseUrl: 'https://service-sandbox.tazapay.com' };

// The refund-object example from specs/tazapay.yaml, verbatim.
const specExample = {
  id: 'rfd_afiuabfia23wifaiofnioa12nfianf',
  object: 'refund',
  payin: 'chk_cirsp2sl4ar024j0akj0',
  amount: 90000,
  currency: 'USD',
  customer_receives: { currency: 'SGD', amount: 133200 },
  payment_attempt: 'pat_ahbfiuahfiuaiofnioain',
  reason: 'Damaged Goods',
  metadata: { key1: 'value1', key2: 'value2' },
  status: 'succeeded',
  status_description: '',
  webhook_url: 'https://mystore.webhook.tazapay.refund/',
  created_at: '2023-07-23 23:59:56',
};

function normalize(overrides: Partial<TazapayRefund> & Record<string, unknown> = {}, logger: Logger = recordingLogger()) {
  const wire = parseWire('tazapay', TazapayRefundSchema, { ...specExample, ...overrides });
  return normalizeTazapayRefund(wire, { account: 'acme', settings, logger });
}

describe('tazapay status table', () => {
  const expected: Record<string, string> = {
    pending: 'pending',
    processing: 'pending',
    requested: 'pending',
    initiated: 'pending',
    succeeded: 'succeeded',
    failed: 'failed',
    rejected: 'failed',
    cancelled: 'canceled',
    canceled: 'canceled',
  };

  it('covers exactly the documented words', () => {
    expect(Object.keys(TAZAPAY_STATUS_TABLE).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('maps %s -> %s, whatever the case', (word, unified) => {
    expect(mapTazapayStatus(word)).toBe(unified);
    expect(mapTazapayStatus(word.toUpperCase())).toBe(unified);
    const capitalized = word[0]!.toUpperCase() + word.slice(1); // the refund-object table's spelling
    expect(mapTazapayStatus(capitalized)).toBe(unified);
    expect(normalize({ status: capitalized }).status).toBe(unified);
  });

  it('maps an unknown word to unknown, keeps it, warns once, never throws', () => {
    const logger = recordingLogger();
    const word = `on_hold_${Date.now()}`;
    const r = normalize({ status: word }, logger);
    expect(r.status).toBe('unknown');
    expect(r.providerStatus).toBe(word);
    normalize({ status: word }, logger);
    expect(logger.lines.filter((l) => l.level === 'warn' && l.msg?.includes(word))).toHaveLength(1);
    expect(mapTazapayStatus('')).toBe('unknown');
    expect(mapTazapayStatus(undefined)).toBe('unknown');
  });

  it('keeps the provider status word unchanged', () => {
    expect(normalize({ status: 'Succeeded' }).providerStatus).toBe('Succeeded');
  });
});

describe('tazapay money: two implied decimals whatever the currency', () => {
  it.each([
    // [tazapay amount, currency, ISO minor amount, amountDecimal]
    [10000, 'JPY', 100, '100'],
    [1000000, 'JPY', 10000, '10000'],
    [10089, 'KWD', 100890, '100.890'],
    [1050, 'AED', 1050, '10.50'],
    [10089, 'INR', 10089, '100.89'],
    [90000, 'USD', 90000, '900.00'],
    [435, 'usd', 435, '4.35'],
    [0, 'JPY', 0, '0'],
    [100, 'CLF', 10000, '1.0000'],
  ] as const)('%d %s -> %d (%s)', (amount, currency, minor, decimal) => {
    const r = normalize({ amount, currency });
    expect(r.amount).toBe(minor);
    expect(r.currency).toBe(currency.toUpperCase());
    expect(r.amountDecimal).toBe(decimal);
  });

  it('leaves the amount unknown when ISO minor units would lose digits (JPY 100.50), with a warning', () => {
    const logger = recordingLogger();
    const r = normalize({ amount: 10050, currency: 'JPY' }, logger);
    // "100.50" is not a JPY amount: amountDecimal promises exactly the ISO digits, so it is null too.
    expect(r).toMatchObject({ amount: null, currency: 'JPY', amountDecimal: null });
    expect(r.raw).toMatchObject({ amount: 10050 });
    expect(logger.lines.some((l) => l.level === 'warn' && /100\.50/.test(l.msg ?? ''))).toBe(true);
  });

  it('keeps the decimal value as given for an unknown currency, with a warning', () => {
    const logger = recordingLogger();
    const r = normalize({ amount: 12345, currency: 'xyz' }, logger);
    expect(r).toMatchObject({ amount: null, currency: null, amountDecimal: '123.45' });
    expect(logger.lines.some((l) => l.level === 'warn')).toBe(true);
  });

  it('never turns a non-ISO currency into a code: garbage and crypto codes give currency null, raw kept', () => {
    for (const currency of ['velit ea dolore', 'USDC-ERC20', 'IUP']) {
      const r = normalize({ amount: 12345, currency });
      expect(r, currency).toMatchObject({ amount: null, currency: null, amountDecimal: '123.45' });
      expect((r.raw as { currency: string }).currency).toBe(currency);
    }
  });

  it('handles missing amount or currency', () => {
    expect(normalize({ amount: undefined, currency: 'USD' })).toMatchObject({ amount: null, currency: 'USD', amountDecimal: null });
    expect(normalize({ amount: null, currency: null })).toMatchObject({ amount: null, currency: null, amountDecimal: null });
    expect(normalize({ amount: 1050, currency: undefined })).toMatchObject({ amount: null, currency: null, amountDecimal: '10.50' });
  });

  const cents = fc.integer({ min: 0, max: 9_999_999_999 });
  const decimalText = fc.tuple(fc.integer({ min: 0, max: 99_999_999 }), fc.integer({ min: 0, max: 99 })).map(([i, f]) => `${i}.${String(f).padStart(2, '0')}`);

  it('never drifts on two-decimal currencies (4.35, 8.29 style values)', () => {
    for (const v of ['4.35', '8.29', '0.01', '1.10', '19.99', '1000000.07']) {
      const wire = decimalToMinor(v, 2)!;
      expect(tazapayMoney(wire, 'USD').amountDecimal).toBe(v);
      expect(tazapayMoney(wire, 'AED').amount).toBe(wire);
    }
    fc.assert(
      fc.property(decimalText, fc.constantFrom('USD', 'AED', 'SGD', 'EUR', 'INR'), (text, currency) => {
        const wire = decimalToMinor(text, 2)!;
        const m = tazapayMoney(wire, currency);
        return m.amount === wire && m.amountDecimal === text && m.currency === currency;
      }),
    );
  });

  it('never drifts on three-decimal currencies: KWD gains exactly one trailing zero', () => {
    expect(tazapayMoney(decimalToMinor('8.29', 2)!, 'KWD')).toMatchObject({ amount: 8290, currency: 'KWD', amountDecimal: '8.290', issue: null });
    fc.assert(
      fc.property(decimalText, fc.constantFrom('KWD', 'BHD', 'OMR', 'JOD'), (text, currency) => {
        const m = tazapayMoney(decimalToMinor(text, 2)!, currency);
        return m.amountDecimal === `${text}0` && m.amount === decimalToMinor(text, 3);
      }),
    );
  });

  it('never drifts on zero-decimal currencies: whole units convert, fractions are refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9_999_999_999 }), fc.constantFrom('JPY', 'KRW', 'VND', 'CLP'), (units, currency) => {
        const m = tazapayMoney(units * 100, currency);
        return m.amount === units && m.amountDecimal === String(units);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999_999 }), fc.integer({ min: 1, max: 99 }), (units, fraction) => {
        const m = tazapayMoney(units * 100 + fraction, 'JPY');
        return m.amount === null && m.currency === 'JPY' && m.amountDecimal === null;
      }),
    );
  });

  it('round-trips: the normalized decimal, when there is one, always reads back to the provider value', () => {
    fc.assert(
      fc.property(cents, fc.constantFrom('USD', 'JPY', 'KWD', 'CLF', 'XYZ'), (wire, currency) => {
        const m = tazapayMoney(wire, currency);
        // Whatever path was taken, amountDecimal states the same quantity Tazapay sent, or nothing.
        if (m.amountDecimal === null) return m.amount === null && currency === 'JPY' && wire % 100 !== 0;
        return decimalToMinor(m.amountDecimal, 4) === decimalToMinor(minorToDecimal(wire, 2), 4);
      }),
    );
  });
});

describe('tazapay dates', () => {
  it('reads the zone-less refund-object format as UTC', () => {
    // Exact string: a local-time reading would shift it by the machine offset.
    expect(normalize({ created_at: '2023-07-23 23:59:56' }).createdAt).toBe('2023-07-23T23:59:56.000Z');
  });

  it.each([
    ['2023-07-23T23:59:56.000000Z', '2023-07-23T23:59:56.000Z'],
    ['2023-07-23T23:59:56.123456789Z', '2023-07-23T23:59:56.123Z'],
    ['2023-07-23T23:59:56.9Z', '2023-07-23T23:59:56.900Z'],
    ['2023-07-24T07:59:56.5+08:00', '2023-07-23T23:59:56.500Z'],
    ['2023-07-23T23:59:56Z', '2023-07-23T23:59:56.000Z'],
  ])('parses %s', (input, out) => {
    expect(normalize({ created_at: input }).createdAt).toBe(out);
  });

  it('leaves a missing or garbage created_at null (warning on garbage), never throws; updatedAt is always null', () => {
    const logger = recordingLogger();
    const r = normalize({ created_at: 'yesterday' }, logger);
    expect(r.createdAt).toBeNull();
    expect(logger.lines.some((l) => l.level === 'warn')).toBe(true);
    expect(normalize({ created_at: undefined }).createdAt).toBeNull();
    expect(r.updatedAt).toBeNull();
  });
});

describe('tazapay failure', () => {
  it('takes status_description on failed and rejected', () => {
    expect(normalize({ status: 'failed', status_description: 'Card expired' }).failure).toEqual({ code: null, message: 'Card expired' });
    expect(normalize({ status: 'Rejected', status_description: 'Insufficient balance' }).failure).toEqual({ code: null, message: 'Insufficient balance' });
  });

  it('falls back to status_reason (webhook examples)', () => {
    expect(normalize({ status: 'failed', status_description: '', status_reason: 'bank declined' }).failure).toEqual({ code: null, message: 'bank declined' });
  });

  it('is null without a reason, or when not failed', () => {
    expect(normalize({ status: 'failed', status_description: '  ' }).failure).toBeNull();
    expect(normalize({ status: 'failed', status_description: undefined }).failure).toBeNull();
    expect(normalize({ status: 'succeeded', status_description: 'note' }).failure).toBeNull();
    expect(normalize({ status: 'cancelled', status_description: 'merchant withdrew' }).failure).toBeNull();
  });
});

describe('tazapay normalized shape', () => {
  it('maps the spec example field by field, raw = the data object as received', () => {
    const r = normalize();
    expect(r).toEqual({
      provider: 'tazapay',
      account: 'acme',
      id: 'rfd_afiuabfia23wifaiofnioa12nfianf',
      paymentId: 'chk_cirsp2sl4ar024j0akj0',
      status: 'succeeded',
      providerStatus: 'succeeded',
      amount: 90000,
      currency: 'USD',
      amountDecimal: '900.00',
      reason: 'Damaged Goods',
      createdAt: '2023-07-23T23:59:56.000Z',
      updatedAt: null,
      failure: null,
      // Not in the spec's example: null, not an empty string.
      merchantReference: null,
      // Two implied decimals apply here too: 133200 is 1332.00 SGD.
      customerReceives: { amount: 133200, currency: 'SGD', amountDecimal: '1332.00' },
      metadata: { key1: 'value1', key2: 'value2' },
      providerReference: null,
      raw: specExample,
    });
  });

  it('keeps fields the schema does not know in raw', () => {
    expect((normalize({ holding_currency: 'USD', future_field: { a: 1 } }).raw as Record<string, unknown>).future_field).toEqual({ a: 1 });
  });

  it('turns empty payin and reason into null', () => {
    expect(normalize({ payin: '', reason: '' })).toMatchObject({ paymentId: null, reason: null });
  });
});

describe('tazapay wire schema', () => {
  it('accepts the spec envelope', () => {
    expect(parseWire('tazapay', TazapayRefundEnvelopeSchema, { status: 'success', message: 'ok', data: specExample }).data.id).toBe(specExample.id);
  });

  it.each([
    ['amount as a string', { amount: '90000' }, 'amount'],
    ['amount with a fraction', { amount: 900.5 }, 'amount'],
    ['no id', { id: undefined }, 'id'],
    ['numeric status', { status: 3 }, 'status'],
    ['metadata values not strings', { metadata: { a: 1 } }, 'metadata'],
  ])('rejects %s as invalid_response', (_what, patch, where) => {
    const data = { ...specExample, ...patch };
    let caught: unknown;
    try {
      parseWire('tazapay', TazapayRefundEnvelopeSchema, { status: 'success', data });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(RefundHubError);
    expect((caught as RefundHubError).code).toBe('invalid_response');
    expect((caught as RefundHubError).message).toContain(where);
  });
});

describe('tazapay contract fields', () => {
  it('maps reference_id, customer_receives, metadata and balance_transaction', () => {
    const r = normalize({ reference_id: 'order-1042', balance_transaction: 'btr_cjtl7ebb7cpa3mrnjt2g', metadata: { order: '1042', channel: 'web' } });
    expect(r).toMatchObject({
      merchantReference: 'order-1042',
      customerReceives: { amount: 133200, currency: 'SGD', amountDecimal: '1332.00' },
      metadata: { order: '1042', channel: 'web' },
      providerReference: 'btr_cjtl7ebb7cpa3mrnjt2g',
    });
  });

  it('applies the two implied decimals to customer_receives in JPY and KWD', () => {
    // JPY has no minor unit: 10000 stands for 100.00 JPY, which is 100 JPY.
    expect(normalize({ customer_receives: { currency: 'JPY', amount: 10000 } }).customerReceives).toEqual({ amount: 100, currency: 'JPY', amountDecimal: '100' });
    // KWD has three: 10089 stands for 100.89 KWD, which is 100890 fils.
    expect(normalize({ customer_receives: { currency: 'KWD', amount: 10089 } }).customerReceives).toEqual({ amount: 100890, currency: 'KWD', amountDecimal: '100.890' });
  });

  it('leaves the customer amount null rather than rounding a JPY fraction, and warns once', () => {
    const logger = recordingLogger();
    const r = normalize({ customer_receives: { currency: 'JPY', amount: 10050 } }, logger);
    expect(r.customerReceives).toEqual({ amount: null, currency: 'JPY', amountDecimal: null });
    // The refund's own amount is unaffected.
    expect(r).toMatchObject({ amount: 90000, currency: 'USD' });
    expect(logger.warnings.some((w) => String(w.msg).includes('customer_receives'))).toBe(true);
  });

  it('reads absent, null and empty fields as null', () => {
    const w: Record<string, unknown> = { ...specExample };
    delete w.customer_receives;
    delete w.metadata;
    const absent = normalizeTazapayRefund(parseWire('tazapay', TazapayRefundSchema, w), { account: 'acme', settings, logger: recordingLogger() });
    expect(absent).toMatchObject({ merchantReference: null, customerReceives: null, metadata: null, providerReference: null });
    const nulls = normalize({ customer_receives: null, metadata: null, reference_id: null, balance_transaction: null });
    expect(nulls).toMatchObject({ merchantReference: null, customerReceives: null, metadata: null, providerReference: null });
    const empty = normalize({ customer_receives: {}, metadata: {}, reference_id: '', balance_transaction: '' });
    expect(empty).toMatchObject({ merchantReference: null, customerReceives: null, metadata: null, providerReference: null });
  });

  it('keeps the currency of a partial customer_receives, and no currency means no amount', () => {
    expect(normalize({ customer_receives: { currency: 'SGD' } }).customerReceives).toEqual({ amount: null, currency: 'SGD', amountDecimal: null });
    expect(normalize({ customer_receives: { currency: 'USDC-ERC20', amount: 133200 } }).customerReceives).toEqual({ amount: null, currency: null, amountDecimal: '1332.00' });
  });
});
