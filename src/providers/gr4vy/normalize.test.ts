import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decimalToMinor, currencyExponent } from '../../domain/money.js';
import { RefundHubError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import { parseWire } from '../shared.js';
import { gr4vy } from './index.js';
import { normalizeGr4vyRefund } from './normalize.js';
import { GR4VY_STATUS_TABLE, mapGr4vyStatus } from './status.js';
import { gr4vyRefundSchema } from './wire.js';
import { recordingLogger } from '../../../test/support/logger.js';

const settings = gr4vy.config.resolve({ ...gr4vy.demoSettings(), baseUrl: 'http://127.0.0.1' });

function wireRefund(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'refund',
    id: '6a1d4e46-14ed-4fe1-a45f-eff4e025d211',
    transaction_id: '7099948d-7286-47e4-aad8-b68f7eb44591',
    payment_service_refund_id: 'refund_xYqd43gySMtori',
    status: 'succeeded',
    currency: 'EUR',
    amount: 1299,
    reason: 'Refund due to user request.',
    target_type: 'payment-method',
    target_id: '07e70d14-a0c0-4ff5-bd4a-509959af0e4d',
    reconciliation_id: '7jZXl4gBUNl0CnaLEnfXbt',
    external_identifier: 'refund-12345',
    transaction_reconciliation_id: 'aLEnfXbt7jZXl4gBUNl0Cn',
    transaction_external_identifier: null,
    created_at: '2013-07-16T19:23:00.000+00:00',
    updated_at: '2013-07-16T19:25:10.000+00:00',
    creator: null,
    error_code: null,
    raw_response_code: null,
    raw_response_description: null,
    ...over,
  };
}


const normalize = (over: Record<string, unknown> = {}, logger: Logger = silentLogger) =>
  normalizeGr4vyRefund(parseWire('gr4vy', gr4vyRefundSchema, wireRefund(over)), { account: 'default', settings, logger });

describe('gr4vy status table', () => {
  it.each([
    ['processing', 'pending'],
    ['succeeded', 'succeeded'],
    ['failed', 'failed'],
    ['declined', 'failed'],
    ['voided', 'canceled'],
  ])('%s -> %s', (word, unified) => {
    expect(mapGr4vyStatus(word)).toBe(unified);
    expect(normalize({ status: word }).status).toBe(unified);
    expect(normalize({ status: word }).providerStatus).toBe(word);
  });

  it('covers exactly the documented statuses', () => {
    expect(Object.keys(GR4VY_STATUS_TABLE).sort()).toEqual(['declined', 'failed', 'processing', 'succeeded', 'voided']);
  });

  it('is case-insensitive and keeps the word unchanged', () => {
    const r = normalize({ status: 'SUCCEEDED' });
    expect(r.status).toBe('succeeded');
    expect(r.providerStatus).toBe('SUCCEEDED');
    expect(mapGr4vyStatus('Processing')).toBe('pending');
  });

  it('maps an unknown status to unknown with a warning, without throwing', () => {
    const logger = recordingLogger();
    const r = normalize({ status: 'gr4vy_new_status_xyz' }, logger);
    expect(r.status).toBe('unknown');
    expect(r.providerStatus).toBe('gr4vy_new_status_xyz');
    expect(logger.warnings).toHaveLength(1);
  });
});

describe('gr4vy normalization', () => {
  it('maps every field of the Refund', () => {
    const r = normalize();
    expect(r).toMatchObject({
      provider: 'gr4vy',
      account: 'default',
      id: '6a1d4e46-14ed-4fe1-a45f-eff4e025d211',
      paymentId: '7099948d-7286-47e4-aad8-b68f7eb44591',
      status: 'succeeded',
      amount: 1299,
      currency: 'EUR',
      amountDecimal: '12.99',
      reason: 'Refund due to user request.',
      createdAt: '2013-07-16T19:23:00.000Z',
      updatedAt: '2013-07-16T19:25:10.000Z',
      failure: null,
    });
    expect(r.raw).toEqual(wireRefund());
  });

  it('converts offsets to UTC', () => {
    const r = normalize({ created_at: '2024-03-01T10:15:30.250+04:00', updated_at: '2024-02-29T23:30:00-05:30' });
    expect(r.createdAt).toBe('2024-03-01T06:15:30.250Z');
    expect(r.updatedAt).toBe('2024-03-01T05:00:00.000Z');
  });

  it('treats amounts as ISO minor units of the currency', () => {
    expect(normalize({ amount: 435, currency: 'USD' })).toMatchObject({ amount: 435, amountDecimal: '4.35' });
    expect(normalize({ amount: 1000, currency: 'JPY' })).toMatchObject({ amount: 1000, amountDecimal: '1000' });
    expect(normalize({ amount: 100890, currency: 'KWD' })).toMatchObject({ amount: 100890, amountDecimal: '100.890' });
    expect(normalize({ amount: 0, currency: 'EUR' })).toMatchObject({ amount: 0, amountDecimal: '0.00' });
    // Well-formed but not an active ISO code (XTS is ISO's testing code, IUP is unassigned):
    // minor units of an unknown exponent mean nothing, so no amount is reported.
    expect(normalize({ amount: 500, currency: 'XTS' })).toMatchObject({ amount: null, currency: null, amountDecimal: null });
    expect(normalize({ amount: 500, currency: 'IUP' })).toMatchObject({ amount: null, currency: null, amountDecimal: null });
  });

  it('keeps the status when the amount breaks the seed (negative, above 99999999, unknown currency), warning once per kind', () => {
    const logger = recordingLogger();
    for (const over of [{ amount: -5 }, { amount: 100_000_000 }, { currency: 'IUP' }, { currency: 'QQQ' }]) {
      expect(normalize({ ...over, status: 'succeeded' }, logger)).toMatchObject({ status: 'succeeded', amount: null, amountDecimal: null });
    }
    // Without the connector's warner each call logs; the kinds are what matter here.
    expect(logger.warnings.map((l) => (l.obj as { kind: string }).kind)).toEqual(['money.negative', 'money.too_large', 'money.unknown_currency', 'money.unknown_currency']);
  });

  it('never drifts converting minor units (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99_999_999 }), fc.constantFrom('USD', 'EUR', 'JPY', 'KWD', 'BHD', 'CLF', 'AED'), (amount, currency) => {
        const r = normalize({ amount, currency });
        expect(r.amount).toBe(amount);
        expect(r.amountDecimal).not.toBeNull();
        const exp = currencyExponent(currency)!;
        expect(r.amountDecimal!.split('.')[1]?.length ?? 0).toBe(exp);
        expect(decimalToMinor(r.amountDecimal!, exp)).toBe(amount);
      }),
    );
  });

  it('reports failure from error_code and raw_response_description', () => {
    expect(normalize({ status: 'declined', error_code: 'refund_declined', raw_response_description: 'Do not honor' }).failure).toEqual({ code: 'refund_declined', message: 'Do not honor' });
    expect(normalize({ status: 'failed', error_code: 'service_error' }).failure).toEqual({ code: 'service_error', message: null });
    expect(normalize({ status: 'failed', raw_response_description: 'Timeout at acquirer' }).failure).toEqual({ code: null, message: 'Timeout at acquirer' });
    // raw_response_code alone says nothing a human can act on; it stays in raw.
    expect(normalize({ status: 'failed', raw_response_code: 'E104' }).failure).toBeNull();
  });

  it('maps a missing reason to null', () => {
    const w = wireRefund();
    delete w.reason;
    const r = normalizeGr4vyRefund(parseWire('gr4vy', gr4vyRefundSchema, w), { account: 'acme', settings, logger: silentLogger });
    expect(r.reason).toBeNull();
    expect(r.account).toBe('acme');
  });
});

describe('gr4vy wire schema', () => {
  const reject = (value: unknown) => {
    try {
      parseWire('gr4vy', gr4vyRefundSchema, value);
    } catch (e) {
      expect(e).toBeInstanceOf(RefundHubError);
      return (e as RefundHubError).code;
    }
    return 'accepted';
  };

  it('keeps fields it does not know', () => {
    const w = parseWire('gr4vy', gr4vyRefundSchema, wireRefund({ future_field: { a: 1 } }));
    expect((w as Record<string, unknown>).future_field).toEqual({ a: 1 });
  });

  it('is strict on required fields and types', () => {
    const noTx = wireRefund();
    delete noTx.transaction_id;
    expect(reject(noTx)).toBe('invalid_response');
    expect(reject(wireRefund({ amount: 12.5 }))).toBe('invalid_response');
    expect(reject(wireRefund({ amount: '1299' }))).toBe('invalid_response');
    expect(reject(wireRefund({ created_at: 'yesterday' }))).toBe('invalid_response');
    expect(reject(wireRefund({ type: 'transaction' }))).toBe('invalid_response');
    expect(reject([wireRefund()])).toBe('invalid_response');
    expect(reject(wireRefund())).toBe('accepted');
  });
});

describe('gr4vy contract fields', () => {
  it('maps external_identifier and payment_service_refund_id; nothing else applies', () => {
    expect(normalize()).toMatchObject({ merchantReference: 'refund-12345', providerReference: 'refund_xYqd43gySMtori', customerReceives: null, metadata: null });
  });

  it("falls back to the transaction's external identifier when the refund has none (null, absent or empty)", () => {
    for (const external of [null, undefined, '']) {
      const over = external === undefined ? { transaction_external_identifier: 'order-77' } : { external_identifier: external, transaction_external_identifier: 'order-77' };
      const w = wireRefund(over);
      if (external === undefined) delete w.external_identifier;
      expect(normalizeGr4vyRefund(parseWire('gr4vy', gr4vyRefundSchema, w), { account: 'default', settings, logger: silentLogger }).merchantReference).toBe('order-77');
    }
    expect(normalize({ external_identifier: 'refund-1', transaction_external_identifier: 'order-77' }).merchantReference).toBe('refund-1');
  });

  it('is null when neither identifier nor a processor reference is sent', () => {
    const w = wireRefund();
    delete w.external_identifier;
    delete w.transaction_external_identifier;
    delete w.payment_service_refund_id;
    const r = normalizeGr4vyRefund(parseWire('gr4vy', gr4vyRefundSchema, w), { account: 'default', settings, logger: silentLogger });
    expect(r).toMatchObject({ merchantReference: null, providerReference: null });
    expect(normalize({ external_identifier: null, transaction_external_identifier: null, payment_service_refund_id: null })).toMatchObject({ merchantReference: null, providerReference: null });
  });
});
