import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RefundHubError } from '../../errors.js';
import { DEMO_GR4VY_PRIVATE_KEY } from './demo-key.js';
import { gr4vy } from './index.js';

const cfg = gr4vy.config;
const resolveEnv = (env: Record<string, string>) => cfg.resolve(cfg.fromEnv(env));

function notConfigured(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RefundHubError);
    expect((e as RefundHubError).code).toBe('not_configured');
    return (e as RefundHubError).message;
  }
  throw new Error('expected not_configured');
}

describe('gr4vy config', () => {
  it('derives the sandbox instance URL by default and the production one on request', () => {
    const s = resolveEnv({ REFUNDHUB_GR4VY_INSTANCE_ID: 'acme', REFUNDHUB_GR4VY_PRIVATE_KEY: DEMO_GR4VY_PRIVATE_KEY });
    expect(s.baseUrl).toBe('https://api.sandbox.acme.gr4vy.app');
    expect(s.environment).toBe('sandbox');
    expect(s.scopes).toEqual(['*.read']);
    const p = resolveEnv({ REFUNDHUB_GR4VY_INSTANCE_ID: 'acme', REFUNDHUB_GR4VY_PRIVATE_KEY: DEMO_GR4VY_PRIVATE_KEY, REFUNDHUB_GR4VY_ENVIRONMENT: 'production' });
    expect(p.baseUrl).toBe('https://api.acme.gr4vy.app');
    expect(cfg.baseUrl(cfg.fromEnv({ REFUNDHUB_GR4VY_INSTANCE_ID: 'acme', REFUNDHUB_GR4VY_ENVIRONMENT: 'production' }))).toBe('https://api.acme.gr4vy.app');
  });

  it('lets REFUNDHUB_GR4VY_BASE_URL override the instance URL, and reads the optional settings', () => {
    const s = resolveEnv({
      REFUNDHUB_GR4VY_INSTANCE_ID: 'acme',
      REFUNDHUB_GR4VY_BASE_URL: 'http://127.0.0.1:4010/gr4vy/',
      REFUNDHUB_GR4VY_PRIVATE_KEY: DEMO_GR4VY_PRIVATE_KEY,
      REFUNDHUB_GR4VY_MERCHANT_ACCOUNT_ID: 'merchant-12',
      REFUNDHUB_GR4VY_WEBHOOK_SECRET: 'whsec',
    });
    expect(s).toMatchObject({ baseUrl: 'http://127.0.0.1:4010/gr4vy', instanceId: 'acme', merchantAccountId: 'merchant-12', webhookSecret: 'whsec' });
  });

  it('accepts a PEM with literal \\n sequences', () => {
    const oneLine = DEMO_GR4VY_PRIVATE_KEY.trim().replace(/\n/g, '\\n');
    expect(oneLine).not.toContain('\n');
    const s = resolveEnv({ REFUNDHUB_GR4VY_INSTANCE_ID: 'acme', REFUNDHUB_GR4VY_PRIVATE_KEY: oneLine });
    expect(s.privateKey).toContain('\n');
  });

  it('reads the key from REFUNDHUB_GR4VY_PRIVATE_KEY_FILE, and reports a missing file by variable name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gr4vy-key-'));
    const file = join(dir, 'key.pem');
    writeFileSync(file, DEMO_GR4VY_PRIVATE_KEY);
    const env = { REFUNDHUB_GR4VY_INSTANCE_ID: 'acme', REFUNDHUB_GR4VY_PRIVATE_KEY_FILE: file };
    expect(cfg.isConfigured(cfg.fromEnv(env))).toBe(true);
    expect(resolveEnv(env).privateKey.trim()).toBe(DEMO_GR4VY_PRIVATE_KEY.trim());
    const msg = notConfigured(() => resolveEnv({ ...env, REFUNDHUB_GR4VY_PRIVATE_KEY_FILE: join(dir, 'missing.pem') }));
    expect(msg).toContain('REFUNDHUB_GR4VY_PRIVATE_KEY_FILE');
    // fromEnv never reads the file, so a bad path cannot break loading other providers' config.
    expect(() => cfg.fromEnv({ REFUNDHUB_GR4VY_PRIVATE_KEY_FILE: join(dir, 'missing.pem') })).not.toThrow();
  });

  it('names the missing variables, never values', () => {
    const msg = notConfigured(() => resolveEnv({}));
    expect(msg).toContain('REFUNDHUB_GR4VY_PRIVATE_KEY');
    expect(msg).toContain('REFUNDHUB_GR4VY_INSTANCE_ID');
    expect(cfg.isConfigured({})).toBe(false);
    const noUrl = notConfigured(() => resolveEnv({ REFUNDHUB_GR4VY_PRIVATE_KEY: DEMO_GR4VY_PRIVATE_KEY }));
    expect(noUrl).toContain('REFUNDHUB_GR4VY_INSTANCE_ID (or REFUNDHUB_GR4VY_BASE_URL)');
    expect(noUrl).not.toContain('PRIVATE KEY-----');
  });

  it('rejects an unknown environment', () => {
    const msg = notConfigured(() => resolveEnv({ REFUNDHUB_GR4VY_INSTANCE_ID: 'acme', REFUNDHUB_GR4VY_PRIVATE_KEY: DEMO_GR4VY_PRIVATE_KEY, REFUNDHUB_GR4VY_ENVIRONMENT: 'staging' }));
    expect(msg).toContain('REFUNDHUB_GR4VY_ENVIRONMENT');
    expect(msg).not.toContain('staging');
  });

  it('rejects an invalid PEM without echoing key material', () => {
    const garbage = '-----BEGIN PRIVATE KEY-----\nTOPSECRETNOTAKEY\n-----END PRIVATE KEY-----';
    const msg = notConfigured(() => resolveEnv({ REFUNDHUB_GR4VY_INSTANCE_ID: 'acme', REFUNDHUB_GR4VY_PRIVATE_KEY: garbage }));
    expect(msg).toContain('REFUNDHUB_GR4VY_PRIVATE_KEY');
    expect(msg).not.toContain('TOPSECRET');
  });

  it('rejects keys that are not ECDSA P-521', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    for (const key of [p256, rsa]) {
      const msg = notConfigured(() => resolveEnv({ REFUNDHUB_GR4VY_INSTANCE_ID: 'acme', REFUNDHUB_GR4VY_PRIVATE_KEY: key }));
      expect(msg).toContain('P-521');
      expect(msg).not.toContain(key.split('\n')[1]!);
    }
  });

  it('accepts a SEC1 ("EC PRIVATE KEY") PEM', () => {
    const sec1 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey.export({ type: 'sec1', format: 'pem' }) as string;
    expect(sec1).toContain('BEGIN EC PRIVATE KEY');
    expect(resolveEnv({ REFUNDHUB_GR4VY_INSTANCE_ID: 'acme', REFUNDHUB_GR4VY_PRIVATE_KEY: sec1 }).privateKey).toBe(sec1.trim());
  });

  it('rejects an instance id that is not a host label', () => {
    const msg = notConfigured(() => resolveEnv({ REFUNDHUB_GR4VY_INSTANCE_ID: 'evil.com/x', REFUNDHUB_GR4VY_PRIVATE_KEY: DEMO_GR4VY_PRIVATE_KEY }));
    expect(msg).toContain('REFUNDHUB_GR4VY_INSTANCE_ID');
  });

  it('takes scopes from a config file as a list or a string', () => {
    const base = { instanceId: 'acme', privateKey: DEMO_GR4VY_PRIVATE_KEY };
    expect(cfg.resolve({ ...base, scopes: ['transactions.read'] }).scopes).toEqual(['transactions.read']);
    expect(cfg.resolve({ ...base, scopes: '*.read, buyers.read' }).scopes).toEqual(['*.read', 'buyers.read']);
    notConfigured(() => cfg.resolve({ ...base, scopes: [42] }));
  });

  it('marks the private key and webhook secret as secrets', () => {
    expect(cfg.secretKeys).toEqual(expect.arrayContaining(['privateKey', 'webhookSecret']));
  });
});
