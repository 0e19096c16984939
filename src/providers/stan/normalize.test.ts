import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import { RefundHubError } from '../../errors.js';
import { createWarnOnce, parseWire } from '../shared.js';
import { stanConfig, STAN_DEFAULT_BASE_URL } from './config.js';
import { normalizeStanRefund } from './normalize.js';
import { mapStanStatus, STAN_STATUS_TABLE } from './status.js';
import { STAN_KNOWN_STATUSES, StanRefundWire } from './wire.js';
import { recordingLogger } from '../../../test/support/logger.js';


const base = {
  refund_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  payment_id: 'c1d2e3f4-0000-4000-8000-000000000123',
  amount: 1050,
  status: 'payment_success',
  reason: 'requested_by_customer',
  created_at: '2023-11-07T05:31:56Z',
};

function normalize(wire: unknown, currency = 'EUR', logger: Logger = silentLogger) {
  return normalizeStanRefund(parseWire('stan', StanRefundWire, wire), { account: 'default', settings: { currency }, logger });
}

describe('stan amounts the seed allows', () => {
  it('accepts a negative int32 amount: the fetch succeeds, the amount is left null with one warning', () => {
    const logger = recordingLogger();
    const warn = createWarnOnce(logger);
    for (const amount of [-1, -2_147_483_648]) {
      const wire = parseWire('stan', StanRefundWire, { ...base, amount });
      const r = normalizeStanRefund(wire, { account: 'default', settings: { currency: 'EUR' }, logger, warn });
      expect(r).toMatchObject({ status: 'succeeded', amount: null, currency: 'EUR', amountDecimal: null });
      expect(r.raw).toMatchObject({ amount });
    }
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]!.obj).toMatchObject({ kind: 'money.negative' });
    expect(logger.warnings[0]!.msg).toMatch(/amount -1 is negative/);
  });

  it('leaves an amount beyond int32 null', () => {
    expect(normalize({ ...base, amount: 2 ** 31 })).toMatchObject({ amount: null, currency: 'EUR' });
    expect(normalize({ ...base, amount: 2 ** 31 - 1 })).toMatchObject({ amount: 2 ** 31 - 1, amountDecimal: '21474836.47' });
  });
});

describe('stan status table', () => {
  const expected = {
    payment_holding: 'pending',
    payment_pending: 'pending',
    payment_success: 'succeeded',
    payment_failure: 'failed',
    payment_cancelled: 'canceled',
  } as const;

  it('covers exactly the statuses in the spec enum', () => {
    expect(Object.keys(STAN_STATUS_TABLE).sort()).toEqual([...STAN_KNOWN_STATUSES].sort());
  });

  for (const [word, status] of Object.entries(expected)) {
    it(`maps ${word} to ${status}, case-insensitively`, () => {
      expect(mapStanStatus(word)).toBe(status);
      expect(mapStanStatus(word.toUpperCase())).toBe(status);
      expect(mapStanStatus(` ${word[0]!.toUpperCase()}${word.slice(1)} `)).toBe(status);
      expect(normalize({ ...base, status: word.toUpperCase() }).status).toBe(status);
    });
  }

  it('maps an unknown word to unknown, keeps it, and warns once without throwing', () => {
    const logger = recordingLogger();
    const word = `payment_refunded_${Math.random().toString(36).slice(2)}`;
    const a = normalize({ ...base, status: word }, 'EUR', logger);
    const b = normalize({ ...base, status: word }, 'EUR', logger);
    expect(a.status).toBe('unknown');
    expect(a.providerStatus).toBe(word);
    expect(b.status).toBe('unknown');
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]!.msg).toContain(word);
  });

  it('maps the empty string and non-strings to unknown', () => {
    expect(mapStanStatus('')).toBe('unknown');
    expect(mapStanStatus(42)).toBe('unknown');
    expect(mapStanStatus(undefined)).toBe('unknown');
  });
});

describe('stan normalization', () => {
  it('produces the normalized refund', () => {
    const r = normalize({ ...base, extra_field: { kept: true } });
    expect(r).toEqual({
      provider: 'stan',
      account: 'default',
      id: base.refund_id,
      paymentId: base.payment_id,
      status: 'succeeded',
      providerStatus: 'payment_success',
      amount: 1050,
      currency: 'EUR',
      amountDecimal: '10.50',
      reason: 'requested_by_customer',
      createdAt: '2023-11-07T05:31:56.000Z',
      updatedAt: null,
      failure: null,
      merchantReference: null,
      customerReceives: null,
      metadata: null,
      providerReference: null,
      raw: { ...base, extra_field: { kept: true } },
    });
  });

  it('reads amounts in the configured currency, since Stan returns none', () => {
    expect(normalize({ ...base, amount: 1050 }, 'JPY')).toMatchObject({ amount: 1050, currency: 'JPY', amountDecimal: '1050' });
    expect(normalize({ ...base, amount: 1050 }, 'KWD')).toMatchObject({ amount: 1050, currency: 'KWD', amountDecimal: '1.050' });
    expect(normalize({ ...base, amount: 5 }, 'EUR')).toMatchObject({ amount: 5, amountDecimal: '0.05' });
    expect(normalize({ ...base, amount: 0 }, 'EUR')).toMatchObject({ amount: 0, amountDecimal: '0.00' });
    expect(normalize({ ...base, amount: 435 }, 'EUR').amountDecimal).toBe('4.35');
    expect(normalize({ ...base, amount: 829 }, 'EUR').amountDecimal).toBe('8.29');
  });

  it('leaves amount null (currency kept) when Stan sends none', () => {
    const { amount: _omit, ...rest } = base;
    expect(normalize(rest)).toMatchObject({ amount: null, currency: 'EUR', amountDecimal: null });
    expect(normalize({ ...base, amount: null })).toMatchObject({ amount: null, amountDecimal: null });
  });

  it('converts created_at to UTC with milliseconds', () => {
    expect(normalize({ ...base, created_at: '2023-11-07T05:31:56Z' }).createdAt).toBe('2023-11-07T05:31:56.000Z');
    expect(normalize({ ...base, created_at: '2023-11-07T05:31:56.123456Z' }).createdAt).toBe('2023-11-07T05:31:56.123Z');
    expect(normalize({ ...base, created_at: '2023-11-07T07:31:56+02:00' }).createdAt).toBe('2023-11-07T05:31:56.000Z');
    expect(normalize({ ...base, created_at: null }).createdAt).toBeNull();
  });

  it('leaves an unparseable created_at null and warns', () => {
    const logger = recordingLogger();
    expect(normalize({ ...base, created_at: 'yesterday' }, 'EUR', logger).createdAt).toBeNull();
    expect(logger.warnings).toHaveLength(1);
  });

  it('never reports a failure reason: Stan does not give one', () => {
    const r = normalize({ ...base, status: 'payment_failure' });
    expect(r.status).toBe('failed');
    expect(r.failure).toBeNull();
  });

  it('maps optional fields to null when absent', () => {
    const r = normalize({ refund_id: base.refund_id, status: 'payment_pending' });
    expect(r).toMatchObject({ paymentId: null, reason: null, createdAt: null, amount: null, status: 'pending' });
  });

  it('rejects payloads that break the documented types', () => {
    const bad: unknown[] = [
      { ...base, amount: 10.5 },
      { ...base, amount: '1050' },
      { ...base, status: 3 },
      { ...base, refund_id: undefined },
      { ...base, status: undefined },
      { ...base, payment_id: 123 },
      [],
      'refund',
    ];
    for (const wire of bad) {
      expect(() => normalize(wire), JSON.stringify(wire)).toThrow(RefundHubError);
      try {
        normalize(wire);
      } catch (e) {
        expect((e as RefundHubError).code).toBe('invalid_response');
      }
    }
  });

  it('property: cents render as euros exactly, digit by digit (no float drift)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (cents) => {
        const r = normalize({ ...base, amount: cents });
        const euros = Math.floor(cents / 100);
        const rest = String(cents % 100).padStart(2, '0');
        expect(r.amount).toBe(cents);
        expect(r.amountDecimal).toBe(`${euros}.${rest}`);
      }),
    );
  });

  it('property: amountDecimal reads back to the same integer in 0-, 2- and 3-decimal currencies', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom('EUR', 'JPY', 'KWD', 'CLF'), (minor, currency) => {
        const r = normalize({ ...base, amount: minor }, currency);
        expect(BigInt(r.amountDecimal!.replace('.', ''))).toBe(BigInt(minor));
      }),
    );
  });
});

describe('stan configuration', () => {
  const env = {
    REFUNDHUB_STAN_CLIENT_ID: 'client-1',
    REFUNDHUB_STAN_CLIENT_SECRET: 'sekret-value-xyz',
  };

  it('reads the REFUNDHUB_STAN_* variables and applies defaults', () => {
    const raw = stanConfig.fromEnv({ ...env, UNRELATED: 'x' });
    expect(raw).toEqual({ clientId: 'client-1', clientSecret: 'sekret-value-xyz' });
    expect(stanConfig.isConfigured(raw)).toBe(true);
    expect(stanConfig.resolve(raw)).toEqual({ clientId: 'client-1', clientSecret: 'sekret-value-xyz', baseUrl: STAN_DEFAULT_BASE_URL, currency: 'EUR' });
    expect(stanConfig.baseUrl(raw)).toBe('https://api.stan-app.fr');
    expect(stanConfig.secretKeys).toEqual(['clientSecret']);
    expect(stanConfig.env).toEqual({
      clientId: 'REFUNDHUB_STAN_CLIENT_ID',
      clientSecret: 'REFUNDHUB_STAN_CLIENT_SECRET',
      baseUrl: 'REFUNDHUB_STAN_BASE_URL',
      currency: 'REFUNDHUB_STAN_CURRENCY',
    });
  });

  it('accepts a base URL with a path prefix and a lowercase currency', () => {
    const raw = stanConfig.fromEnv({ ...env, REFUNDHUB_STAN_BASE_URL: 'http://127.0.0.1:4010/stan/', REFUNDHUB_STAN_CURRENCY: 'jpy' });
    expect(stanConfig.resolve(raw)).toMatchObject({ baseUrl: 'http://127.0.0.1:4010/stan', currency: 'JPY' });
    expect(stanConfig.baseUrl(raw)).toBe('http://127.0.0.1:4010/stan');
  });

  it('names every missing variable, never a value', () => {
    expect(stanConfig.isConfigured({})).toBe(false);
    expect(() => stanConfig.resolve({})).toThrow(/REFUNDHUB_STAN_CLIENT_ID, REFUNDHUB_STAN_CLIENT_SECRET/);
    const partial = stanConfig.fromEnv({ REFUNDHUB_STAN_CLIENT_SECRET: 'sekret-value-xyz' });
    expect(stanConfig.isConfigured(partial)).toBe(false);
    try {
      stanConfig.resolve(partial);
      expect.unreachable();
    } catch (e) {
      expect((e as RefundHubError).code).toBe('not_configured');
      expect((e as Error).message).toContain('REFUNDHUB_STAN_CLIENT_ID');
      expect((e as Error).message).not.toContain('REFUNDHUB_STAN_CLIENT_SECRET');
      expect((e as Error).message).not.toContain('sekret-value-xyz');
    }
  });

  it('rejects an unknown currency and a bad base URL as not_configured', () => {
    for (const extra of [{ REFUNDHUB_STAN_CURRENCY: 'EURO' }, { REFUNDHUB_STAN_CURRENCY: 'XYZ' }, { REFUNDHUB_STAN_BASE_URL: 'ftp://api.stan-app.fr' }]) {
      try {
        stanConfig.resolve(stanConfig.fromEnv({ ...env, ...extra }));
        expect.unreachable();
      } catch (e) {
        expect((e as RefundHubError).code).toBe('not_configured');
        expect((e as Error).message).toContain(Object.keys(extra)[0]!);
        expect((e as Error).message).not.toContain('sekret-value-xyz');
      }
    }
  });

  it('rejects a client id with a colon, which HTTP Basic cannot carry', () => {
    expect(() => stanConfig.resolve({ clientId: 'a:b', clientSecret: 's' })).toThrow(/REFUNDHUB_STAN_CLIENT_ID/);
  });
});

describe('stan contract fields', () => {
  it('has none: every one is null, even when the body carries look-alike fields', () => {
    expect(normalize({ ...base, metadata: { a: 'b' }, reference: 'x' })).toMatchObject({ merchantReference: null, customerReceives: null, metadata: null, providerReference: null });
  });
});
