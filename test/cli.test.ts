import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ProviderId } from '../src/domain/refund.js';
import { PROVIDER_IDS } from '../src/domain/refund.js';
import { getProvider } from '../src/providers/registry.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { tempDir } from './support/hub.js';
import { CLI_RUN_TIMEOUT_MS, CLI_TEST_TIMEOUT_MS } from './support/run-cli.js';

// Tests here start bin/refundhub: seconds apiece on a loaded machine (see CLI_TEST_TIMEOUT_MS).
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

/**
 * The CLI as a user runs it: `bin/refundhub` in a child process (the built dist/, which `npm test`
 * builds first), configured only through REFUNDHUB_* variables, against the real emulator.
 */

const BIN = fileURLToPath(new URL('../bin/refundhub', import.meta.url));
const execFileAsync = promisify(execFile);

let em: RunningEmulator;
let env: Record<string, string>;
/** Every credential value the CLI was given; none may ever be printed. */
let secrets: string[];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], extraEnv: Record<string, string | undefined> = {}, cwd?: string): Promise<Run> {
  const merged: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env };
  for (const [k, v] of Object.entries(extraEnv)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, ...args], { env: merged, cwd, timeout: CLI_RUN_TIMEOUT_MS });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

function expectNoSecrets(run: Run): void {
  for (const s of secrets) {
    expect(run.stdout).not.toContain(s);
    expect(run.stderr).not.toContain(s);
  }
}

/** One clear line on stderr, no stack trace. */
function expectOneErrorLine(run: Run, pattern: RegExp): void {
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^refundhub: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

beforeAll(async () => {
  em = await startEmulator();
  env = {};
  secrets = [];
  for (const id of PROVIDER_IDS) {
    const mapping = getProvider(id).config.env;
    for (const [key, value] of Object.entries(em.settings[id])) {
      const name = mapping[key];
      if (!name || typeof value !== 'string') continue;
      env[name] = value;
      if (getProvider(id).config.secretKeys.includes(key)) secrets.push(value);
    }
  }
  // The Gr4vy PEM is a secret too; its body lines must never be printed either.
  const pem = String(em.settings.gr4vy.privateKey);
  secrets.push(...pem.split('\n').filter((l) => l.length > 40));
  expect(secrets.length).toBeGreaterThan(8);
});

afterAll(async () => {
  await em.close();
});

beforeEach(() => {
  em.emulator.reset();
});

const created: Record<ProviderId, () => string> = {
  ziina: () => String(em.emulator.createRefund('ziina', { status: 'completed', amount: 1050, currency_code: 'AED' }).id),
  tazapay: () => String(em.emulator.createRefund('tazapay', { status: 'succeeded', amount: 10000, currency: 'JPY' }).id),
  gr4vy: () => String(em.emulator.createRefund('gr4vy', { status: 'succeeded', amount: 1299, currency: 'EUR' }).id),
  stan: () => String(em.emulator.createRefund('stan', { status: 'payment_success', amount: 2490 }).refund_id),
  onekey: () => String(em.emulator.createRefund('onekey', { status: 'COMPLETED', amount: 100.5 }).refund_id),
};

describe('refundhub get', () => {
  it.each(PROVIDER_IDS)('%s: --json prints exactly the normalized refund, exit 0', async (provider) => {
    const id = created[provider]();
    const run = await cli(['get', provider, id, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const refund = JSON.parse(run.stdout);
    expect(Object.keys(refund).sort()).toEqual(
      ['provider', 'account', 'id', 'paymentId', 'status', 'providerStatus', 'amount', 'currency', 'amountDecimal', 'reason', 'createdAt', 'updatedAt', 'failure', 'merchantReference', 'customerReceives', 'metadata', 'providerReference', 'raw'].sort(),
    );
    expect(refund).toMatchObject({ provider, account: 'default', id, status: 'succeeded' });
    expectNoSecrets(run);
  });

  it('normalizes money per provider quirk (Tazapay JPY 10000 is 100 yen)', async () => {
    const run = await cli(['get', 'tazapay', created.tazapay(), '--json']);
    expect(JSON.parse(run.stdout)).toMatchObject({ amount: 100, currency: 'JPY', amountDecimal: '100' });
  });

  it('prints a readable summary without --json', async () => {
    const run = await cli(['get', 'ziina', created.ziina()]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Status\s+succeeded \(provider: completed\)/);
    expect(run.stdout).toMatch(/Amount\s+10\.50 AED/);
  });

  it('exit 2: unknown provider', async () => {
    const run = await cli(['get', 'paypal', 'x']);
    expect(run.code).toBe(2);
    expectOneErrorLine(run, /unknown provider "paypal"/);
  });

  it.each([
    ['stan', 'not-a-uuid'],
    ['gr4vy', '12345'],
    ['onekey', '-4'],
    ['onekey', 'abc'],
    ['ziina', '../etc/passwd'],
  ])('exit 2: malformed %s id %j, and no request reaches the provider', async (provider, id) => {
    const run = await cli(['get', provider, id]);
    expect(run.code).toBe(2);
    expectOneErrorLine(run, /invalid_input/);
    expect(em.emulator.requests(provider as ProviderId)).toHaveLength(0);
  });

  it('exit 2: missing credentials names the variables, not values', async () => {
    const run = await cli(['get', 'stan', '5f0c8a43-0d56-4c4e-9a5e-2f1f3d9b7a01'], { REFUNDHUB_STAN_CLIENT_SECRET: undefined });
    expect(run.code).toBe(2);
    expectOneErrorLine(run, /REFUNDHUB_STAN_CLIENT_SECRET/);
    expectNoSecrets(run);
  });

  it('exit 2: an unknown --account', async () => {
    const run = await cli(['get', 'ziina', 'abc', '--account', 'nope']);
    expect(run.code).toBe(2);
    expectOneErrorLine(run, /no account named "nope"/);
  });

  it('exit 2: a config file that is not JSON', async () => {
    const tmp = tempDir();
    try {
      const file = `${tmp.dir}/bad.json`;
      (await import('node:fs')).writeFileSync(file, '{ nope');
      const run = await cli(['get', 'ziina', 'abc', '--config', file]);
      expect(run.code).toBe(2);
      expectOneErrorLine(run, /not valid JSON/);
    } finally {
      tmp.cleanup();
    }
  });

  it.each(PROVIDER_IDS)('exit 3: %s refund not found', async (provider) => {
    const id = { ziina: 'missing', tazapay: 'rfd_missing', gr4vy: '00000000-0000-4000-8000-000000000000', stan: '00000000-0000-4000-8000-000000000000', onekey: '999999' }[provider];
    const run = await cli(['get', provider, id]);
    expect(run.code).toBe(3);
    expectOneErrorLine(run, /not_found/);
  });

  it.each([
    ['ziina', 'REFUNDHUB_ZIINA_TOKEN', 'wrong-token-value-123'],
    ['tazapay', 'REFUNDHUB_TAZAPAY_API_SECRET', 'wrong-secret-value-123'],
    ['stan', 'REFUNDHUB_STAN_CLIENT_SECRET', 'wrong-secret-value-123'],
    ['onekey', 'REFUNDHUB_ONEKEY_SECRET_KEY', 'wrong-secret-value-123'],
  ] as const)('exit 4: %s rejects wrong credentials, and the wrong secret is not printed', async (provider, variable, wrong) => {
    const id = created[provider]();
    const run = await cli(['get', provider, id], { [variable]: wrong });
    expect(run.code).toBe(4);
    expectOneErrorLine(run, /authentication_failed/);
    expect(run.stderr).not.toContain(wrong);
    expectNoSecrets(run);
  });

  it('exit 4: gr4vy rejects a JWT signed with another key', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const run = await cli(['get', 'gr4vy', created.gr4vy()], { REFUNDHUB_GR4VY_PRIVATE_KEY: other, REFUNDHUB_GR4VY_PRIVATE_KEY_FILE: undefined });
    expect(run.code).toBe(4);
    expectOneErrorLine(run, /authentication_failed/);
  });

  it('exit 5: provider error after retries (5xx)', async () => {
    const id = created.stan();
    em.emulator.injectFault('stan', { kind: 'error', status: 503, count: 10 });
    const run = await cli(['get', 'stan', id]);
    expect(run.code).toBe(5);
    expectOneErrorLine(run, /provider_error/);
    expect(em.emulator.requests('stan')).toHaveLength(3);
  });

  it('exit 5: unreachable provider', async () => {
    const run = await cli(['get', 'ziina', 'abc'], { REFUNDHUB_ZIINA_BASE_URL: 'http://127.0.0.1:9/ziina/api' });
    expect(run.code).toBe(5);
    expectOneErrorLine(run, /unreachable/);
  });

  it('exit 5: unreachable provider behind a base URL with credentials: no credential in any line, retries shown included', async () => {
    const run = await cli(['get', 'ziina', 'abc'], { REFUNDHUB_ZIINA_BASE_URL: 'http://proxyuser:pr0xy-Pa55@127.0.0.1:9/ziina/api?token=q-tok-9', REFUNDHUB_PROGRESS: '1' });
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/attempt 1 of 3 failed \(ECONNREFUSED\)/);
    expect(run.stderr.trim().split('\n').pop()).toMatch(/^refundhub: error: ziina: unreachable/);
    for (const s of ['pr0xy-Pa55', 'q-tok-9']) expect(run.stdout + run.stderr).not.toContain(s);
  });

  it('exit 5: malformed provider response', async () => {
    const id = created.ziina();
    em.emulator.injectFault('ziina', { kind: 'malformed', count: 10 });
    const run = await cli(['get', 'ziina', id]);
    expect(run.code).toBe(5);
    expectOneErrorLine(run, /invalid_response/);
  });

  it('exit 2 on a usage error (missing argument)', async () => {
    const run = await cli(['get', 'ziina']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/missing required argument/);
  });
});

describe('retries shown while the CLI waits', () => {
  const shellQuote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
  const hasScript = (() => {
    try {
      return execFileSync('script', ['--version'], { stdio: 'pipe' }).toString().includes('util-linux');
    } catch {
      return false;
    }
  })();

  it.skipIf(!hasScript)('on a terminal (a pseudo-TTY from script(1)), each retry gets one line before the error', async () => {
    const id = created.stan();
    em.emulator.injectFault('stan', { kind: 'error', status: 503, count: 10 });
    const command = [process.execPath, BIN, 'get', 'stan', id].map(shellQuote).join(' ');
    let code = 0;
    let output = '';
    try {
      ({ stdout: output } = await execFileAsync('script', ['-qec', command, '/dev/null'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, timeout: CLI_RUN_TIMEOUT_MS }));
    } catch (e) {
      const err = e as { code?: number; stdout?: string };
      code = typeof err.code === 'number' ? err.code : -1;
      output = err.stdout ?? '';
    }
    const lines = output.replace(/\r/g, '').trim().split('\n');
    expect(code).toBe(5);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^refundhub: stan: attempt 1 of 3 failed \(HTTP 503\); attempt 2 of 3 in \d+\.\d s\.\.\.$/);
    expect(lines[1]).toMatch(/^refundhub: stan: attempt 2 of 3 failed \(HTTP 503\); attempt 3 of 3 in \d+\.\d s\.\.\.$/);
    expect(lines[2]).toMatch(/^refundhub: error: .*\[provider_error\]$/);
    for (const secret of secrets) expect(output).not.toContain(secret);
  });

  it('REFUNDHUB_PROGRESS=1 turns the lines on without a terminal (and a pipe alone gets none: see "exit 5: provider error after retries")', async () => {
    const id = created.stan();
    em.emulator.injectFault('stan', { kind: 'error', status: 503, count: 10 });
    const run = await cli(['get', 'stan', id], { REFUNDHUB_PROGRESS: '1' });
    expect(run.code).toBe(5);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/attempt 1 of 3 failed \(HTTP 503\); attempt 2 of 3/);
    expect(lines[2]).toMatch(/^refundhub: error: /);
  });
});

describe('refundhub providers', () => {
  it('lists every provider with its state and base URL, and no secret', async () => {
    const run = await cli(['providers']);
    expect(run.code).toBe(0);
    for (const id of PROVIDER_IDS) expect(run.stdout).toContain(`${id}/default`);
    expect(run.stdout).toContain(em.emulator.baseUrl('onekey'));
    expectNoSecrets(run);
  });

  it('shows an unconfigured provider as such, with its default base URL', async () => {
    const run = await cli(['providers', '--json'], { REFUNDHUB_ZIINA_TOKEN: undefined, REFUNDHUB_ZIINA_BASE_URL: undefined });
    const rows = JSON.parse(run.stdout) as Array<{ provider: string; configured: boolean; baseUrl: string }>;
    expect(rows.find((r) => r.provider === 'ziina')).toMatchObject({ configured: false, baseUrl: 'https://api-v2.ziina.com/api' });
    expect(rows.find((r) => r.provider === 'stan')).toMatchObject({ configured: true });
  });
});

describe('refundhub providers: credentials in a base URL', () => {
  it('masks user:pass@ and credential query values, in text and in --json', async () => {
    const baseUrl = `http://proxyuser:pr0xy-Pa55@127.0.0.1:9/ziina/api?access_token=tok-in-query-1&region=eu`;
    for (const args of [['providers'], ['providers', '--json']]) {
      const run = await cli(args, { REFUNDHUB_ZIINA_BASE_URL: baseUrl });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('http://proxyuser:****@127.0.0.1:9/ziina/api?access_token=****&region=eu');
      for (const s of ['pr0xy-Pa55', 'tok-in-query-1']) {
        expect(run.stdout).not.toContain(s);
        expect(run.stderr).not.toContain(s);
      }
      expectNoSecrets(run);
    }
  });
});

describe('refundhub keys create', () => {
  it('prints the key alone on stdout, and stores only its hash', async () => {
    const tmp = tempDir();
    try {
      const db = `${tmp.dir}/keys.db`;
      const run = await cli(['keys', 'create', '--scope', 'refunds:read', '--scope', 'refunds:write'], { REFUNDHUB_DATABASE_URL: `sqlite:${db}` });
      expect(run.code).toBe(0);
      const key = run.stdout.trim();
      expect(run.stdout).toBe(`${key}\n`);
      expect(key).toMatch(/^refundhub_\S{20,}$/);
      expect(readFileSync(db).includes(Buffer.from(key))).toBe(false);
      const bad = await cli(['keys', 'create', '--scope', 'everything'], { REFUNDHUB_DATABASE_URL: `sqlite:${db}` });
      expect(bad.code).toBe(2);
      expect(bad.stdout).toBe('');
    } finally {
      tmp.cleanup();
    }
  });
});
