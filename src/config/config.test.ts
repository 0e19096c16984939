import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRefundClient, type RefundClient } from '../client.js';
import { PROVIDER_IDS } from '../domain/refund.js';
import { RefundHubError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { accountSettings, DEFAULT_ACCOUNT, loadConfig } from './index.js';

const SECRETS = {
  ziinaToken: 'zt_live_SECRET_9f8e7d',
  tazapayKey: 'ak_SECRET_tazapay_key',
  tazapaySecret: 'sk_SECRET_tazapay_pw',
  acmeToken: 'acme_SECRET_token_123',
  fileLiteral: 'literal_SECRET_in_file',
  stanSecret: 'stan_SECRET_client',
};
const secretValues = Object.values(SECRETS);

const ENV: Record<string, string> = {
  REFUNDHUB_ZIINA_TOKEN: SECRETS.ziinaToken,
  REFUNDHUB_TAZAPAY_API_KEY: SECRETS.tazapayKey,
  REFUNDHUB_TAZAPAY_API_SECRET: SECRETS.tazapaySecret,
  REFUNDHUB_TAZAPAY_BASE_URL: 'http://127.0.0.1:9/taza/',
  ACME_ZIINA_TOKEN: SECRETS.acmeToken,
  STAN_SECRET: SECRETS.stanSecret,
};

const dir = mkdtempSync(join(tmpdir(), 'refundhub-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function configFile(content: unknown): string {
  const file = join(dir, `config-${++n}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** Every error message seen in this file, checked for secrets at the end of each test. */
const messages: string[] = [];
function configError(fn: () => unknown): RefundHubError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RefundHubError);
    messages.push((e as Error).message, String((e as Error).stack));
    return e as RefundHubError;
  }
  throw new Error('expected a RefundHubError');
}
afterEach(() => {
  for (const m of messages) for (const s of secretValues) expect(m).not.toContain(s);
  messages.length = 0;
});

const clients: RefundClient[] = [];
afterEach(async () => {
  while (clients.length) await clients.pop()!.close();
});

describe('loadConfig from the environment', () => {
  it('builds the default account of every provider from REFUNDHUB_* variables', () => {
    const config = loadConfig({ env: ENV });
    expect(config.file).toBeUndefined();
    expect([...config.accounts.keys()]).toEqual([...PROVIDER_IDS]);
    for (const id of PROVIDER_IDS) expect([...config.accounts.get(id)!.keys()]).toEqual([DEFAULT_ACCOUNT]);
    expect(accountSettings(config, 'ziina')).toEqual({ token: SECRETS.ziinaToken });
    expect(accountSettings(config, 'tazapay', 'default')).toEqual({ apiKey: SECRETS.tazapayKey, apiSecret: SECRETS.tazapaySecret, baseUrl: 'http://127.0.0.1:9/taza/' });
    expect(accountSettings(config, 'stan')).toEqual({});
    expect(config.providers).toEqual({});
  });

  it('ignores blank variables and trims values', () => {
    const config = loadConfig({ env: { REFUNDHUB_ZIINA_TOKEN: '  tok  ', REFUNDHUB_STAN_CLIENT_ID: '   ' } });
    expect(accountSettings(config, 'ziina')).toEqual({ token: 'tok' });
    expect(accountSettings(config, 'stan')).toEqual({});
  });
});

describe('loadConfig with a JSON config file', () => {
  it('adds named accounts, resolves env: references, merges default and reads provider options', () => {
    const file = configFile({
      accounts: {
        ziina: {
          acme: { token: 'env:ACME_ZIINA_TOKEN', baseUrl: 'http://127.0.0.1:9/prefix/' },
          default: { baseUrl: 'http://127.0.0.1:9/ziina' },
        },
        stan: { 'eu.shop-2': { clientId: 'cid', clientSecret: 'env:STAN_SECRET', currency: 'EUR' } },
      },
      providers: { stan: { schedule: ['1m', '1h'], concurrency: 2 } },
    });
    const config = loadConfig({ env: ENV, file });
    expect(config.file).toBe(file);
    expect([...config.accounts.get('ziina')!.keys()]).toEqual(['default', 'acme']);
    expect(accountSettings(config, 'ziina', 'acme')).toEqual({ token: SECRETS.acmeToken, baseUrl: 'http://127.0.0.1:9/prefix/' });
    // default keeps the env token and takes the file's baseUrl
    expect(accountSettings(config, 'ziina')).toEqual({ token: SECRETS.ziinaToken, baseUrl: 'http://127.0.0.1:9/ziina' });
    expect(accountSettings(config, 'stan', 'eu.shop-2')).toEqual({ clientId: 'cid', clientSecret: SECRETS.stanSecret, currency: 'EUR' });
    expect(config.providers).toEqual({ stan: { schedule: ['1m', '1h'], concurrency: 2 } });
  });

  it('reads the file named by REFUNDHUB_CONFIG', () => {
    const file = configFile({ accounts: { onekey: { shop: { login: 'l', secretKey: 'k' } } } });
    const config = loadConfig({ env: { ...ENV, REFUNDHUB_CONFIG: file } });
    expect(config.file).toBe(file);
    expect(accountSettings(config, 'onekey', 'shop')).toEqual({ login: 'l', secretKey: 'k' });
  });

  it('a missing env: variable -> not_configured naming the variable, not any value', () => {
    const file = configFile({ accounts: { ziina: { acme: { token: 'env:NOT_SET_ANYWHERE', webhookSecret: SECRETS.fileLiteral } } } });
    const err = configError(() => loadConfig({ env: ENV, file }));
    expect(err.code).toBe('not_configured');
    expect(err.message).toContain('NOT_SET_ANYWHERE');
    expect(err.message).toContain('accounts.ziina.acme.token');
    expect(err.message).toBe('accounts.ziina.acme.token refers to environment variable NOT_SET_ANYWHERE, which is not set');
  });

  it('unknown provider -> not_configured', () => {
    const file = configFile({ accounts: { ziina: { ok: { token: SECRETS.fileLiteral } }, paypal: { main: { token: SECRETS.fileLiteral } } } });
    const err = configError(() => loadConfig({ env: ENV, file }));
    expect(err.code).toBe('not_configured');
    expect(err.message).toBe(`config file ${file}: unknown provider "paypal" in accounts`);
    const err2 = configError(() => loadConfig({ env: ENV, file: configFile({ providers: { paypal: {} } }) }));
    expect(err2.message).toMatch(/unknown provider "paypal" in providers$/);
  });

  it.each(['has space', 'slash/name', '', 'x'.repeat(65), 'ünïcode'])('bad account name %j -> not_configured', (name) => {
    const file = configFile({ accounts: { ziina: { [name]: { token: SECRETS.fileLiteral } } } });
    const err = configError(() => loadConfig({ env: ENV, file }));
    expect(err.code).toBe('not_configured');
    expect(err.message).toContain(`account name "${name}" must be 1-64 letters, digits, "_", "." or "-"`);
  });

  it('bad shapes -> not_configured with the offending path and no value', () => {
    const cases: [unknown, RegExp][] = [
      [[1, 2], /must hold a JSON object$/],
      ['"a string"', /must hold a JSON object$/],
      ['null', /must hold a JSON object$/],
      [{ accounts: 'nope' }, /"accounts" must be an object$/],
      [{ accounts: { ziina: SECRETS.fileLiteral } }, /accounts\.ziina must be an object of named accounts$/],
      [{ accounts: { ziina: { acme: SECRETS.fileLiteral } } }, /accounts\.ziina\.acme must be an object$/],
      [{ accounts: { ziina: { acme: [SECRETS.fileLiteral] } } }, /accounts\.ziina\.acme must be an object$/],
      [{ providers: 5 }, /"providers" must be an object$/],
    ];
    for (const [content, re] of cases) {
      const err = configError(() => loadConfig({ env: ENV, file: configFile(content) }));
      expect(err.code).toBe('not_configured');
      expect(err.message).toMatch(re);
    }
  });

  it('invalid JSON -> not_configured "is not valid JSON", without echoing the content', () => {
    const file = configFile(`{ "accounts": { "ziina": { "acme": { "token": "${SECRETS.fileLiteral}" } } `);
    const err = configError(() => loadConfig({ env: ENV, file }));
    expect(err.code).toBe('not_configured');
    expect(err.message).toBe(`config file ${file} is not valid JSON`);
  });

  it('missing file -> not_configured "does not exist"', () => {
    const file = join(dir, 'nope.json');
    const err = configError(() => loadConfig({ env: ENV, file }));
    expect(err.code).toBe('not_configured');
    expect(err.message).toBe(`config file ${file} does not exist`);
  });

  it('a directory -> not_configured "cannot be read"', () => {
    const err = configError(() => loadConfig({ env: ENV, file: dir }));
    expect(err.code).toBe('not_configured');
    expect(err.message).toBe(`config file ${dir} cannot be read`);
  });
});

describe('accountSettings', () => {
  it('an unknown account lists the configured ones', () => {
    const file = configFile({ accounts: { ziina: { acme: { token: 'env:ACME_ZIINA_TOKEN' }, beta: { token: SECRETS.fileLiteral } } } });
    const config = loadConfig({ env: ENV, file });
    const err = configError(() => accountSettings(config, 'ziina', 'gamma'));
    expect(err.code).toBe('not_configured');
    expect(err.provider).toBe('ziina');
    expect(err.message).toBe('ziina has no account named "gamma" (configured: default, acme, beta)');
  });
});

describe('createRefundClient(...).accounts()', () => {
  it('shows configured / not configured and base URLs, defaults applied', () => {
    const file = configFile({
      accounts: {
        ziina: { acme: { token: 'env:ACME_ZIINA_TOKEN', baseUrl: 'http://127.0.0.1:9/prefix/' }, broken: { token: 't', baseUrl: 'ftp://x' } },
        stan: { shop: { clientId: 'cid', clientSecret: 'env:STAN_SECRET' } },
      },
    });
    const client = createRefundClient({ env: ENV, configFile: file, logger: silentLogger });
    clients.push(client);
    const rows = client.accounts();
    const row = (provider: string, account: string) => rows.find((r) => r.provider === provider && r.account === account);
    expect(rows).toHaveLength(5 + 3);
    expect(row('ziina', 'default')).toEqual({ provider: 'ziina', account: 'default', configured: true, baseUrl: 'https://api-v2.ziina.com/api' });
    expect(row('ziina', 'acme')).toEqual({ provider: 'ziina', account: 'acme', configured: true, baseUrl: 'http://127.0.0.1:9/prefix' });
    expect(row('ziina', 'broken')).toEqual({ provider: 'ziina', account: 'broken', configured: true, baseUrl: '(invalid)' });
    expect(row('tazapay', 'default')).toEqual({ provider: 'tazapay', account: 'default', configured: true, baseUrl: 'http://127.0.0.1:9/taza' });
    expect(row('stan', 'default')).toEqual({ provider: 'stan', account: 'default', configured: false, baseUrl: 'https://api.stan-app.fr' });
    expect(row('stan', 'shop')).toMatchObject({ configured: true, baseUrl: 'https://api.stan-app.fr' });
    expect(row('onekey', 'default')).toMatchObject({ configured: false, baseUrl: 'https://api-stg.onekeypayments.com/v3' });
    expect(row('gr4vy', 'default')).toMatchObject({ configured: false });
    // No secret leaks into the listing.
    const shown = JSON.stringify(rows);
    for (const s of secretValues) expect(shown).not.toContain(s);
  });

  it('getRefund on an unconfigured or unknown account fails with not_configured, before any request, without secrets', async () => {
    const client = createRefundClient({ env: { REFUNDHUB_TAZAPAY_API_KEY: SECRETS.tazapayKey }, logger: silentLogger });
    clients.push(client);
    const unconfigured = await client.getRefund('tazapay', 'rfd_123').then(() => undefined, (e: unknown) => e as RefundHubError);
    expect(unconfigured).toBeInstanceOf(RefundHubError);
    expect(unconfigured!.code).toBe('not_configured');
    expect(unconfigured!.message).toBe('tazapay is not configured: set REFUNDHUB_TAZAPAY_API_SECRET');
    const unknown = await client.getRefund('ziina', 'abc', { account: 'nope' }).then(() => undefined, (e: unknown) => e as RefundHubError);
    expect(unknown!.code).toBe('not_configured');
    expect(unknown!.message).toBe('ziina has no account named "nope" (configured: default)');
    messages.push(unconfigured!.message, unknown!.message);
  });
});
