import { describe, expect, it } from 'vitest';
import { RefundHubError } from '../../errors.js';
import { ziina } from './index.js';

describe('ziina config', () => {
  it('reads its REFUNDHUB_ZIINA_* variables', () => {
    const raw = ziina.config.fromEnv({ REFUNDHUB_ZIINA_TOKEN: ' tok ', REFUNDHUB_ZIINA_WEBHOOK_SECRET: 'whs', OTHER: 'x' });
    expect(raw).toEqual({ token: 'tok', webhookSecret: 'whs' });
    expect(ziina.config.isConfigured(raw)).toBe(true);
    expect(ziina.config.resolve(raw)).toEqual({ token: 'tok', webhookSecret: 'whs', baseUrl: 'https://api-v2.ziina.com/api' });
  });

  it('keeps a base URL path prefix and strips trailing slashes', () => {
    expect(ziina.config.resolve({ token: 't', baseUrl: 'http://127.0.0.1:4010/ziina/api/' }).baseUrl).toBe('http://127.0.0.1:4010/ziina/api');
    expect(ziina.config.baseUrl({})).toBe('https://api-v2.ziina.com/api');
  });

  it('names the missing variable without echoing any value', () => {
    expect(ziina.config.isConfigured({ webhookSecret: 'sekrit-value' })).toBe(false);
    try {
      ziina.config.resolve({ webhookSecret: 'sekrit-value' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RefundHubError);
      expect((e as RefundHubError).code).toBe('not_configured');
      expect((e as Error).message).toContain('REFUNDHUB_ZIINA_TOKEN');
      expect((e as Error).message).not.toContain('sekrit-value');
    }
  });

  it('rejects a non-http base URL', () => {
    expect(() => ziina.config.resolve({ token: 't', baseUrl: 'ftp://x' })).toThrow(/REFUNDHUB_ZIINA_BASE_URL/);
  });

  it('declares its variables for `emulate` export lines', () => {
    expect(ziina.config.env).toEqual({ token: 'REFUNDHUB_ZIINA_TOKEN', baseUrl: 'REFUNDHUB_ZIINA_BASE_URL', webhookSecret: 'REFUNDHUB_ZIINA_WEBHOOK_SECRET' });
  });

  it('marks the token and webhook secret as secrets', () => {
    expect([...ziina.config.secretKeys].sort()).toEqual(['token', 'webhookSecret']);
  });

  it('validates ids as opaque strings before any request', () => {
    expect(ziina.validateId(' 3f1c9a52-7b4e-4d2a-9c61-5e8f0a7b2d14 ')).toBe('3f1c9a52-7b4e-4d2a-9c61-5e8f0a7b2d14');
    expect(ziina.validateId('rfd_abc:1')).toBe('rfd_abc:1');
    for (const bad of ['', '..', 'a/b', 'a b', '%2e', 'x'.repeat(256)]) {
      expect(() => ziina.validateId(bad)).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    }
  });
});
