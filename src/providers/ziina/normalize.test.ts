import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decimalToMinor } from '../../domain/money.js';
import type { Logger } from '../../logger.js';
import { RefundHubError } from '../../errors.js';
import { parseWire } from '../shared.js';
import type { ZiinaSettings } from './config.js';
import { normalizeZiinaRefund } from './normalize.js';
import { mapZiinaStatus, ZIINA_STATUS_TABLE } from './status.js';
import { ziinaRefundSchema, type ZiinaRefundWire } from './wire.js';
import { recordingLogger } from '../../../test/support/logger.js';

const settings: ZiinaSettings = { token: 't', baseUrl: 'https://api-v2.ziina.com/api' };


function wire(over: Partial<ZiinaRefundWire> & Record<string, unknown> = {}): ZiinaRefundWire {
  return parseWire('ziina', ziinaRefundSchema, {
    id: 'a8c1f7a2-51c4-4d39-9d3b-1b1f0e6a1c10',
    payment_intent_id: 'pi-1',
    amount: 1050,
    currency_code: 'AED',
    status: 'pending',
    created_at: '1700000000123',
    error: null,
    ...over,
  });
}

const norm = (w: ZiinaRefundWire, logger: Logger = recordingLogger()) => normalizeZiinaRefund(w, { account: 'default', settings, logger });

describe('ziina status table', () => {
  it('maps every documented status', () => {
    expect(ZIINA_STATUS_TABLE).toEqual({ pending: 'pending', completed: 'succeeded', failed: 'failed' });
    expect(mapZiinaStatus('pending')).toBe('pending');
    expect(mapZiinaStatus('completed')).toBe('succeeded');
    expect(mapZiinaStatus('failed')).toBe('failed');
  });

  it('is case-insensitive and keeps the provider word in providerStatus', () => {
    expect(mapZiinaStatus('COMPLETED')).toBe('succeeded');
    expect(mapZiinaStatus('Failed')).toBe('failed');
    const r = norm(wire({ status: 'Completed' }));
    expect(r.status).toBe('succeeded');
    expect(r.providerStatus).toBe('Completed');
  });

  it('maps an unknown status to unknown with one warning, without throwing', () => {
    const logger = recordingLogger();
    const word = `reversed-${Math.random().toString(36).slice(2)}`;
    const r = norm(wire({ status: word }), logger);
    expect(r.status).toBe('unknown');
    expect(r.providerStatus).toBe(word);
    norm(wire({ status: word }), logger);
    expect(logger.warnings.filter((w) => w.msg?.includes(word))).toHaveLength(1);
  });
});

describe('ziina normalization', () => {
  it('produces the full unified refund', () => {
    const w = wire({ extra_field: 'kept' });
    const r = norm(w);
    expect(r).toEqual({
      provider: 'ziina',
      account: 'default',
      id: 'a8c1f7a2-51c4-4d39-9d3b-1b1f0e6a1c10',
      paymentId: 'pi-1',
      status: 'pending',
      providerStatus: 'pending',
      amount: 1050,
      currency: 'AED',
      amountDecimal: '10.50',
      reason: null,
      createdAt: '2023-11-14T22:13:20.123Z',
      updatedAt: null,
      failure: null,
      merchantReference: null,
      customerReceives: null,
      metadata: null,
      providerReference: null,
      raw: w,
    });
    expect((r.raw as Record<string, unknown>).extra_field).toBe('kept');
  });

  it('reads amounts as minor units of the currency exponent', () => {
    expect(norm(wire({ amount: 1050, currency_code: 'AED' })).amountDecimal).toBe('10.50');
    expect(norm(wire({ amount: 1050, currency_code: 'aed' })).currency).toBe('AED');
    expect(norm(wire({ amount: 100, currency_code: 'JPY' })).amountDecimal).toBe('100');
    expect(norm(wire({ amount: 100890, currency_code: 'KWD' })).amountDecimal).toBe('100.890');
    expect(norm(wire({ amount: 5, currency_code: 'USD' })).amountDecimal).toBe('0.05');
  });

  it('reports no currency and no amount for a currency that is not an ISO code, warning; raw keeps it', () => {
    for (const code of ['XYZ', 'velit ea dolore']) {
      const logger = recordingLogger();
      const r = norm(wire({ amount: 1050, currency_code: code }), logger);
      expect(r, code).toMatchObject({ amount: null, currency: null, amountDecimal: null, status: 'pending' });
      expect((r.raw as { currency_code: string }).currency_code).toBe(code);
      expect(logger.warnings.map((l) => (l.obj as { kind: string }).kind)).toEqual(['money.unknown_currency']);
    }
  });

  it('leaves a fractional minor amount null and warns instead of rounding money', () => {
    const logger = recordingLogger();
    const r = norm(wire({ amount: 10.5 }), logger);
    expect(r.amount).toBeNull();
    expect(r.amountDecimal).toBeNull();
    expect(logger.warnings.some((w) => w.msg?.includes('amount'))).toBe(true);
  });

  it('property: amountDecimal reads back to the same minor amount, never drifting', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(['AED', 2], ['USD', 2], ['KWD', 3], ['JPY', 0], ['BHD', 3]), (amount, [code, exp]) => {
        const r = norm(wire({ amount, currency_code: code as string }));
        expect(r.amount).toBe(amount);
        expect(decimalToMinor(r.amountDecimal!, exp as number)).toBe(amount);
        const frac = r.amountDecimal!.split('.')[1] ?? '';
        expect(frac.length).toBe(exp);
      }),
    );
  });

  it('property: prices like 4.35 and 8.29 survive minor -> decimal exactly', () => {
    for (const [dec, minor] of [['4.35', 435], ['8.29', 829], ['0.07', 7], ['1.10', 110]] as const) {
      expect(norm(wire({ amount: minor })).amountDecimal).toBe(dec);
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 99 }), (major, cents) => {
        const text = `${major}.${String(cents).padStart(2, '0')}`;
        const minor = decimalToMinor(text, 2)!;
        expect(norm(wire({ amount: minor })).amountDecimal).toBe(text);
      }),
    );
  });

  it('reads created_at as milliseconds, or seconds below 1e11', () => {
    expect(norm(wire({ created_at: '1700000000123' })).createdAt).toBe('2023-11-14T22:13:20.123Z');
    expect(norm(wire({ created_at: '1700000000' })).createdAt).toBe('2023-11-14T22:13:20.000Z');
    expect(norm(wire({ created_at: '0' })).createdAt).toBe('1970-01-01T00:00:00.000Z');
  });

  it('accepts an ISO created_at and leaves garbage null with a warning', () => {
    expect(norm(wire({ created_at: '2024-02-29T10:00:00+04:00' })).createdAt).toBe('2024-02-29T06:00:00.000Z');
    const logger = recordingLogger();
    expect(norm(wire({ created_at: 'yesterday' }), logger).createdAt).toBeNull();
    expect(logger.warnings.some((w) => w.msg?.includes('created_at'))).toBe(true);
  });

  it('maps error to failure, and no error to null', () => {
    const failed = norm(wire({ status: 'failed', error: { message: 'Card expired', code: '422' } }));
    expect(failed.failure).toEqual({ code: '422', message: 'Card expired' });
    expect(failed.status).toBe('failed');
    expect(norm(wire({ status: 'failed', error: null })).failure).toBeNull();
    expect(norm(wire({ status: 'completed', error: undefined })).failure).toBeNull();
  });

  it('rejects payloads that break the documented types', () => {
    for (const bad of [{ amount: '1050' }, { created_at: 1700000000123 }, { id: undefined }, { status: 3 }, { error: { message: 'x' } }]) {
      const err = (() => {
        try {
          wire(bad as Record<string, unknown>);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(RefundHubError);
      expect((err as RefundHubError).code).toBe('invalid_response');
    }
  });
});

describe('ziina contract fields', () => {
  it('has none: every one is null, even when the body carries look-alike fields', () => {
    expect(norm(wire({ metadata: { a: 'b' }, reference_id: 'x' }))).toMatchObject({ merchantReference: null, customerReceives: null, metadata: null, providerReference: null });
  });
});
