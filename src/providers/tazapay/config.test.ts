import { describe, expect, it } from 'vitest';
import { RefundHubError } from '../../errors.js';
import { TAZAPAY_DEFAULT_BASE_URL, tazapayConfig } from './config.js';
import { tazapay } from './index.js';

describe('tazapay config', () => {
  const env = {
    REFUNDHUB_TAZAPAY_API_KEY: ' key-1 ',
    REFUNDHUB_TAZAPAY_API_SECRET: 'secret-value-1',
    REFUNDHUB_TAZAPAY_WEBHOOK_SECRET: 'whsec-1',
    REFUNDHUB_ZIINA_TOKEN: 'not-ours',
  };

  it('reads its own variables and applies the sandbox default', () => {
    const raw = tazapayConfig.fromEnv(env);
    expect(raw).toEqual({ apiKey: 'key-1', apiSecret: 'secret-value-1', webhookSecret: 'whsec-1' });
    expect(tazapayConfig.isConfigured(raw)).toBe(true);
    expect(tazapayConfig.resolve(raw)).toEqual({ apiKey: 'key-1', apiSecret: 'secret-value-1', webhookSecret: 'whsec-1', baseUrl: TAZAPAY_DEFAULT_BASE_URL });
    expect(tazapayConfig.baseUrl({})).toBe('https://service-sandbox.tazapay.com');
    expect(tazapayConfig.resolve({ ...raw, baseUrl: 'http://127.0.0.1:4010/tazapay/' }).baseUrl).toBe('http://127.0.0.1:4010/tazapay');
  });

  it('publishes its variable names for `emulate`', () => {
    expect(tazapayConfig.env).toEqual({
      apiKey: 'REFUNDHUB_TAZAPAY_API_KEY',
      apiSecret: 'REFUNDHUB_TAZAPAY_API_SECRET',
      baseUrl: 'REFUNDHUB_TAZAPAY_BASE_URL',
      webhookSecret: 'REFUNDHUB_TAZAPAY_WEBHOOK_SECRET',
    });
  });

  it('names missing variables, never values', () => {
    expect(tazapayConfig.isConfigured({ apiKey: 'key-1' })).toBe(false);
    let caught: unknown;
    try {
      tazapayConfig.resolve({ apiKey: 'key-1' });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(RefundHubError);
    expect((caught as RefundHubError).code).toBe('not_configured');
    expect((caught as RefundHubError).message).toContain('REFUNDHUB_TAZAPAY_API_SECRET');
    expect((caught as RefundHubError).message).not.toContain('REFUNDHUB_TAZAPAY_API_KEY');
    expect((caught as RefundHubError).message).not.toContain('key-1');
  });

  it('rejects a non-http base URL without echoing it', () => {
    expect(() => tazapayConfig.resolve({ apiKey: 'k', apiSecret: 's', baseUrl: 'ftp://user:pw@host' })).toThrow(/REFUNDHUB_TAZAPAY_BASE_URL/);
    try {
      tazapayConfig.resolve({ apiKey: 'k', apiSecret: 's', baseUrl: 'ftp://user:pw@host' });
    } catch (e) {
      expect((e as Error).message).not.toContain('pw');
    }
  });

  it('marks credentials as secrets and ships obviously-demo credentials', () => {
    expect(tazapayConfig.secretKeys).toEqual(expect.arrayContaining(['apiKey', 'apiSecret', 'webhookSecret']));
    expect(tazapay.demoSettings()).toEqual({ apiKey: 'demo-tazapay-key', apiSecret: 'demo-tazapay-secret', webhookSecret: 'demo-tazapay-webhook-secret' });
  });

  it('validates ids as opaque', () => {
    expect(tazapay.validateId(' rfd_abc123 ')).toBe('rfd_abc123');
    for (const bad of ['', 'rfd abc', 'rfd/../x', '..', 'a'.repeat(256), 'rfd?x=1']) {
      expect(() => tazapay.validateId(bad)).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    }
  });
});
