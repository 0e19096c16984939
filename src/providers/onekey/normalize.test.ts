import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { minorToDecimal } from '../../domain/money.js';
import { RefundHubError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { createWarnOnce, parseWire } from '../shared.js';
import { onekeyConfig } from './config.js';
import { normalizeOnekeyRefund } from './normalize.js';
import { mapOnekeyStatus, ONEKEY_STATUS_TABLE } from './status.js';
import { OnekeyRefundWire } from './wire.js';
import { recordingLogger } from '../../../test/support/logger.js';


/** Parses a JSON text the way the transport does, so numbers arrive as JSON numbers. */
function fromJson(text: string, currency?: string, logger?: Logger) {
  const wire = parseWire('onekey', OnekeyRefundWire, JSON.parse(text));
  return normalizeOnekeyRefund(wire, { account: 'default', settings: currency ? { currency } : {}, logger, refundId: '80000001' });
}

describe('onekey status table', () => {
  const expected = {
    PENDING: 'pending',
    DELIVERED: 'pending',
    COMPLETED: 'succeeded',
    INCORRECT_DETAILS: 'requires_action',
    REJECTED: 'failed',
    CANCELLED: 'canceled',
  } as const;

  it('maps every documented status', () => {
    expect(ONEKEY_STATUS_TABLE).toEqual(expected);
    for (const [word, status] of Object.entries(expected)) {
      const r = fromJson(JSON.stringify({ deposit_id: 1, merchant_invoice_id: 'x', status: word }));
      expect(r.status).toBe(status);
      expect(r.providerStatus).toBe(word);
    }
  });

  it('is case-insensitive and keeps the word as sent', () => {
    expect(mapOnekeyStatus('completed')).toBe('succeeded');
    expect(mapOnekeyStatus('Incorrect_Details')).toBe('requires_action');
    expect(mapOnekeyStatus(' cancelled ')).toBe('canceled');
    const r = fromJson('{"status":"Rejected"}');
    expect(r.status).toBe('failed');
    expect(r.providerStatus).toBe('Rejected');
  });

  it('maps an unknown word to unknown, warns once, never throws', () => {
    const logger = recordingLogger();
    const word = `ON_HOLD_${Date.now()}`;
    const a = fromJson(JSON.stringify({ status: word }), undefined, logger);
    const b = fromJson(JSON.stringify({ status: word }), undefined, logger);
    expect(a.status).toBe('unknown');
    expect(b.providerStatus).toBe(word);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]!.msg).toContain(word);
    expect(mapOnekeyStatus('CANCELED')).toBe('unknown'); // OneKey spells it CANCELLED
  });
});

describe('onekey normalization', () => {
  it('builds the full refund from the documented example', () => {
    const body = { deposit_id: 300000001, merchant_invoice_id: 'order-1', status: 'COMPLETED', amount: 505.95 };
    const r = fromJson(JSON.stringify(body), 'MXN');
    expect(r).toEqual({
      provider: 'onekey',
      account: 'default',
      id: '80000001',
      paymentId: '300000001',
      status: 'succeeded',
      providerStatus: 'COMPLETED',
      amount: 50595,
      currency: 'MXN',
      amountDecimal: '505.95',
      reason: null,
      createdAt: null,
      updatedAt: null,
      failure: null,
      merchantReference: 'order-1',
      customerReceives: null,
      metadata: null,
      providerReference: null,
      raw: body,
    });
  });

  it('has no dates and no failure detail, even when REJECTED', () => {
    const r = fromJson('{"deposit_id":7,"merchant_invoice_id":"a","status":"REJECTED","amount":10}', 'BRL');
    expect(r.failure).toBeNull();
    expect(r.createdAt).toBeNull();
    expect(r.updatedAt).toBeNull();
    expect(r.reason).toBeNull();
  });

  it('keeps extra fields in raw and tolerates a missing deposit_id', () => {
    const r = fromJson('{"status":"PENDING","new_field":{"a":1},"voucher":"JVBERg=="}');
    expect(r.paymentId).toBeNull();
    expect(r.raw).toMatchObject({ new_field: { a: 1 }, voucher: 'JVBERg==' });
  });

  it('rejects what contradicts the spec', () => {
    for (const bad of ['{"deposit_id":1}', '{"status":5}', '{"status":"PENDING","deposit_id":"12"}', '{"status":"PENDING","deposit_id":1.5}', '{"status":"PENDING","amount":"505.95"}', '[]']) {
      try {
        fromJson(bad);
        expect.unreachable(bad);
      } catch (e) {
        expect((e as RefundHubError).code).toBe('invalid_response');
        expect((e as RefundHubError).provider).toBe('onekey');
      }
    }
  });
});

describe('onekey money (major-unit decimals, no currency in the response)', () => {
  it('converts with a configured currency', () => {
    expect(fromJson('{"status":"COMPLETED","amount":1000.00}', 'MXN')).toMatchObject({ amount: 100000, currency: 'MXN', amountDecimal: '1000.00' });
    expect(fromJson('{"status":"COMPLETED","amount":4.35}', 'BRL')).toMatchObject({ amount: 435, amountDecimal: '4.35' });
    expect(fromJson('{"status":"COMPLETED","amount":8.29}', 'USD')).toMatchObject({ amount: 829, amountDecimal: '8.29' });
    expect(fromJson('{"status":"COMPLETED","amount":0.1}', 'USD')).toMatchObject({ amount: 10, amountDecimal: '0.10' });
    expect(fromJson('{"status":"COMPLETED","amount":15000}', 'CLP')).toMatchObject({ amount: 15000, currency: 'CLP', amountDecimal: '15000' });
    expect(fromJson('{"status":"COMPLETED","amount":100.89}', 'KWD')).toMatchObject({ amount: 100890, currency: 'KWD', amountDecimal: '100.890' });
  });

  it('without a configured currency leaves amount and currency null and keeps the decimal', () => {
    expect(fromJson('{"status":"COMPLETED","amount":505.95}')).toMatchObject({ amount: null, currency: null, amountDecimal: '505.95' });
    expect(fromJson('{"status":"COMPLETED","amount":4.35}')).toMatchObject({ amount: null, currency: null, amountDecimal: '4.35' });
    expect(fromJson('{"status":"COMPLETED","amount":1000.00}')).toMatchObject({ amount: null, amountDecimal: '1000' });
  });

  it('has no amount before COMPLETED (amount absent or null)', () => {
    expect(fromJson('{"status":"PENDING"}', 'MXN')).toMatchObject({ amount: null, currency: 'MXN', amountDecimal: null });
    expect(fromJson('{"status":"PENDING","amount":null}')).toMatchObject({ amount: null, currency: null, amountDecimal: null });
  });

  it('keeps the status but leaves an amount the currency cannot represent null, warning once, never rounding', () => {
    const logger = recordingLogger();
    const warn = createWarnOnce(logger);
    for (const [amount, currency] of [['15990.5', 'CLP'], ['4.35', 'CLP'], ['505.955', 'MXN'], ['1.0005', 'KWD']] as const) {
      const wire = parseWire('onekey', OnekeyRefundWire, JSON.parse(`{"status":"COMPLETED","amount":${amount}}`));
      const r = normalizeOnekeyRefund(wire, { account: 'default', settings: { currency }, logger, refundId: '80000001', warn });
      expect(r, `${amount} ${currency}`).toMatchObject({ status: 'succeeded', providerStatus: 'COMPLETED', amount: null, amountDecimal: null, currency });
    }
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]!.msg).toMatch(/^onekey: refund 80000001: amount 15990.5 does not fit CLP's 0 decimals/);
  });

  it('reports an amount too large to be real as such, not as a decimals problem', () => {
    const logger = recordingLogger();
    const r = fromJson('{"status":"COMPLETED","amount":1e37}', 'MXN', logger);
    expect(r).toMatchObject({ status: 'succeeded', amount: null, amountDecimal: null, currency: 'MXN' });
    expect(logger.warnings.map((l) => l.msg)).toEqual([expect.stringMatching(/too large to be a real refund/)]);
    expect(logger.warnings[0]!.msg).not.toMatch(/decimals/);
  });

  const currencies = [
    ['CLP', 0],
    ['MXN', 2],
    ['BRL', 2],
    ['KWD', 3],
  ] as const;

  for (const [currency, exponent] of currencies) {
    it(`never drifts for ${currency} (exponent ${exponent}) through JSON numbers`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 9_999_999_999 }), (minor) => {
          const text = minorToDecimal(minor, exponent);
          const r = fromJson(`{"status":"COMPLETED","amount":${text}}`, currency);
          expect(r.amount).toBe(minor);
          expect(r.amountDecimal).toBe(text);
          expect(r.currency).toBe(currency);
        }),
        { numRuns: 500 },
      );
    });
  }

  it('never drifts on classic float traps (4.35, 8.29, 1.005, 0.29...)', () => {
    const traps = ['4.35', '8.29', '1.005', '0.29', '0.57', '1.15', '2.675', '1234567.89', '0.07'];
    for (const t of traps) {
      const [, frac = ''] = t.split('.');
      const currency = frac.length === 3 ? 'KWD' : 'MXN';
      const exp = currency === 'KWD' ? 3 : 2;
      const r = fromJson(`{"status":"COMPLETED","amount":${t}}`, currency);
      expect(r.amountDecimal).toBe(minorToDecimal(r.amount!, exp));
      expect(r.amount).toBe(Number((t.replace('.', '') + '').replace(/^0+(?=\d)/, '')) * 10 ** (exp - frac.length));
    }
  });

  it('without a currency, the decimal reads back as the number sent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9_999_999_999 }), fc.constantFrom(0, 1, 2), (minor, exp) => {
        const text = minorToDecimal(minor, exp);
        const r = fromJson(`{"status":"COMPLETED","amount":${text}}`);
        expect(r.amount).toBeNull();
        expect(Number(r.amountDecimal)).toBe(Number(text));
        expect(r.amountDecimal).toBe(String(Number(text)));
      }),
      { numRuns: 500 },
    );
  });
});

describe('onekey config', () => {
  const base = { login: 'l', secretKey: 's' };

  it('reads the documented variables and applies defaults', () => {
    const raw = onekeyConfig.fromEnv({ REFUNDHUB_ONEKEY_LOGIN: 'l', REFUNDHUB_ONEKEY_SECRET_KEY: 's', REFUNDHUB_ONEKEY_CURRENCY: 'mxn' });
    expect(onekeyConfig.isConfigured(raw)).toBe(true);
    expect(onekeyConfig.resolve(raw)).toEqual({ login: 'l', secretKey: 's', baseUrl: 'https://api-stg.onekeypayments.com/v3', currency: 'MXN', authPrefix: 'D24' });
    expect(onekeyConfig.resolve(onekeyConfig.fromEnv({ REFUNDHUB_ONEKEY_LOGIN: 'l', REFUNDHUB_ONEKEY_SECRET_KEY: 's', REFUNDHUB_ONEKEY_AUTH_PREFIX: 'OKP', REFUNDHUB_ONEKEY_BASE_URL: 'http://127.0.0.1:1/onekey/v3/' }))).toMatchObject({
      authPrefix: 'OKP',
      baseUrl: 'http://127.0.0.1:1/onekey/v3',
    });
    expect(onekeyConfig.secretKeys).toEqual(['secretKey', 'login']);
  });

  it('names missing variables, never values', () => {
    expect(onekeyConfig.isConfigured({ login: 'l' })).toBe(false);
    expect(() => onekeyConfig.resolve({ login: 'very-secret-login' })).toThrow(/REFUNDHUB_ONEKEY_SECRET_KEY/);
    try {
      onekeyConfig.resolve({ secretKey: 'very-secret-key' });
    } catch (e) {
      expect((e as RefundHubError).code).toBe('not_configured');
      expect((e as Error).message).toContain('REFUNDHUB_ONEKEY_LOGIN');
      expect((e as Error).message).not.toContain('very-secret-key');
    }
  });

  it('rejects an unknown currency and a malformed prefix as not_configured', () => {
    for (const raw of [{ ...base, currency: 'XYZ' }, { ...base, currency: 'EURO' }, { ...base, authPrefix: 'D24 extra' }, { ...base, baseUrl: 'ftp://x' }]) {
      try {
        onekeyConfig.resolve(raw);
        expect.unreachable(JSON.stringify(raw));
      } catch (e) {
        expect((e as RefundHubError).code).toBe('not_configured');
      }
    }
  });
});

describe('onekey contract fields', () => {
  it('maps merchant_invoice_id to merchantReference; absent or empty is null; nothing else applies', () => {
    expect(fromJson('{"deposit_id":7,"merchant_invoice_id":"INV-2026-0042","status":"PENDING"}')).toMatchObject({
      merchantReference: 'INV-2026-0042',
      customerReceives: null,
      metadata: null,
      providerReference: null,
    });
    expect(fromJson('{"deposit_id":7,"status":"PENDING"}').merchantReference).toBeNull();
    expect(fromJson('{"deposit_id":7,"merchant_invoice_id":"","status":"PENDING"}').merchantReference).toBeNull();
  });

  it('never puts the voucher anywhere but raw (it is fetched on demand only)', () => {
    const r = fromJson('{"deposit_id":7,"merchant_invoice_id":"a","status":"COMPLETED","voucher":"JVBERi0="}');
    expect(JSON.stringify({ ...r, raw: null })).not.toContain('JVBERi0');
  });
});
