import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PROVIDER_IDS } from '../src/domain/refund.js';
import { silentLogger } from '../src/logger.js';
import { getProvider } from '../src/providers/registry.js';
import { createRefundHub } from '../src/service.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { tempDir } from './support/hub.js';
import { CLI_RUN_TIMEOUT_MS, CLI_TEST_TIMEOUT_MS } from './support/run-cli.js';

// Tests here start bin/refundhub: seconds apiece on a loaded machine (see CLI_TEST_TIMEOUT_MS).
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

/**
 * The tracking commands as a user runs them: `bin/refundhub track | list | history` in a child
 * process (the built dist/, which `npm test` builds first) on a temp SQLite file named by
 * REFUNDHUB_DATABASE_URL, configured through REFUNDHUB_* variables, against the real emulator.
 */

const BIN = fileURLToPath(new URL('../bin/refundhub', import.meta.url));
const execFileAsync = promisify(execFile);

let em: RunningEmulator;
let tmp: ReturnType<typeof tempDir>;
let env: Record<string, string>;
let dbUrl: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, ...args], { env, timeout: CLI_RUN_TIMEOUT_MS });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const idOf = (provider: 'ziina' | 'stan' | 'tazapay', input: Record<string, unknown>) => getProvider(provider).emulator.idOf(em.emulator.createRefund(provider, input));

beforeAll(async () => {
  em = await startEmulator();
  tmp = tempDir();
  dbUrl = `sqlite:${join(tmp.dir, 'cli.db')}`;
  env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', REFUNDHUB_DATABASE_URL: dbUrl };
  for (const id of PROVIDER_IDS) {
    const mapping = getProvider(id).config.env;
    for (const [key, value] of Object.entries(em.settings[id])) {
      const name = mapping[key];
      if (name && typeof value === 'string') env[name] = value;
    }
  }
});

afterAll(async () => {
  await em?.close();
  tmp?.cleanup();
});

describe('refundhub track, list, history', () => {
  let pendingZiina = '';
  let doneStan = '';
  let tazapay = '';

  it('track: starts tracking (stored in the REFUNDHUB_DATABASE_URL file), then reports it as already tracked', async () => {
    pendingZiina = idOf('ziina', { status: 'pending', amount: 1050, currency_code: 'AED' });
    const first = await cli(['track', 'ziina', pendingZiina]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Now tracking:\n/);
    expect(first.stdout).toContain(pendingZiina);
    expect(first.stdout).toMatch(/pending/);

    const again = await cli(['track', 'ziina', pendingZiina, '--json']);
    expect(again.code).toBe(0);
    const refund = JSON.parse(again.stdout);
    expect(refund).toMatchObject({ provider: 'ziina', account: 'default', id: pendingZiina, status: 'pending', tracking: { checkCount: 1, stuck: false } });

    doneStan = idOf('stan', { status: 'payment_success', amount: 2490 });
    const stan = await cli(['track', 'stan', doneStan, '--json']);
    expect(stan.code).toBe(0);
    expect(JSON.parse(stan.stdout)).toMatchObject({ provider: 'stan', id: doneStan, status: 'succeeded' });

    tazapay = idOf('tazapay', { status: 'succeeded', amount: 10000, currency: 'JPY' });
    expect((await cli(['track', 'tazapay', tazapay])).code).toBe(0);
  });

  it('track: bad input exits 2 with one error line, unknown refund exits 3', async () => {
    const bad = await cli(['track', 'paypal', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^refundhub: error: unknown provider "paypal".*\n$/);
    const missing = await cli(['track', 'onekey', '999999']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/not_found/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });

  it('list: every tracked refund, and each filter narrows it', async () => {
    const all = await cli(['list']);
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.find((l) => l.includes(pendingZiina))).toMatch(/^ziina\s+\S+\s+pending\s+10\.50 AED/);
    expect(lines.find((l) => l.includes(doneStan))).toMatch(/^stan\s+\S+\s+succeeded\s+24\.90/);

    const json = JSON.parse((await cli(['list', '--json'])).stdout);
    expect(json.nextCursor).toBeNull();
    expect(json.data.map((r: { id: string }) => r.id).sort()).toEqual([pendingZiina, doneStan, tazapay].sort());

    const ids = async (...args: string[]) => JSON.parse((await cli(['list', '--json', ...args])).stdout).data.map((r: { id: string }) => r.id).sort();
    expect(await ids('--provider', 'stan')).toEqual([doneStan]);
    expect(await ids('--status', 'pending')).toEqual([pendingZiina]);
    expect(await ids('--status', 'succeeded')).toEqual([doneStan, tazapay].sort());
    expect(await ids('--provider', 'ziina', '--status', 'succeeded')).toEqual([]);
    expect(await ids('--stuck')).toEqual([]);
    expect(await ids('--account', 'default')).toHaveLength(3);
    expect(await ids('--created-from', '2999-01-01')).toEqual([]);
    expect(await ids('--created-from', '2000-01-01', '--created-to', '2999-01-01T00:00:00Z')).toHaveLength(3);

    // Paging: one at a time, each refund once.
    const first = JSON.parse((await cli(['list', '--json', '--limit', '1'])).stdout);
    expect(first.data).toHaveLength(1);
    expect(first.nextCursor).toBeTruthy();
    const text = await cli(['list', '--limit', '1']);
    expect(text.stdout).toMatch(/more: refundhub list --cursor \S+/);
    const second = JSON.parse((await cli(['list', '--json', '--limit', '1', '--cursor', first.nextCursor])).stdout);
    expect(second.data[0].id).not.toBe(first.data[0].id);

    const empty = await cli(['list', '--provider', 'onekey']);
    expect(empty.stdout).toBe('(no tracked refunds)\n');
  });

  it('list: bad filters exit 2 with one error line', async () => {
    for (const args of [['--provider', 'paypal'], ['--status', 'done'], ['--limit', '0'], ['--limit', '501'], ['--limit', '2x'], ['--created-from', 'yesterday'], ['--cursor', 'garbage']]) {
      const run = await cli(['list', ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(run.stderr).toMatch(/^refundhub: error: .*\[invalid_input\]\n$/);
    }
  });

  it('history: each entry with its from -> to statuses, provider status and source', async () => {
    // Move the ziina refund to its final status and sync it once (the CLI has no refresh command;
    // a sync through the spine on the same file is what the poller or a notification would do).
    em.emulator.setStatus('ziina', pendingZiina, 'completed');
    const hub = await createRefundHub({ databaseUrl: dbUrl, config: em.config(), logger: silentLogger, env: {} });
    try {
      await hub.refresh('ziina', pendingZiina, { source: 'manual' });
    } finally {
      await hub.stop();
    }

    const run = await cli(['history', 'ziina', pendingZiina]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z\s+tracked\s+- -> pending\s+\(pending, \w+\)$/);
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z\s+change\s+pending -> succeeded\s+\(completed, manual\)$/);

    const json = JSON.parse((await cli(['history', 'ziina', pendingZiina, '--json'])).stdout);
    expect(json.data.map((e: { kind: string; from: string | null; to: string; source: string }) => [e.kind, e.from, e.to, e.source])).toEqual([
      ['tracked', null, 'pending', json.data[0].source],
      ['change', 'pending', 'succeeded', 'manual'],
    ]);
    // The text line shows the same source as the stored entry.
    expect(lines[0]).toContain(`(pending, ${json.data[0].source})`);

    const stan = await cli(['history', 'stan', doneStan]);
    expect(stan.stdout.trim().split('\n')).toHaveLength(1);
    expect(stan.stdout).toMatch(/tracked\s+- -> succeeded\s+\(payment_success, \w+\)/);
  });

  it('history: a refund that is not tracked exits 3', async () => {
    const run = await cli(['history', 'ziina', 'not-tracked-at-all']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^refundhub: error: .*\[not_found\]\n$/);
  });
});

describe('a reader that goes away (refundhub list | head -1)', () => {
  /** Runs the CLI with its stdout pipe closed before it writes anything: every write gets EPIPE. */
  const withClosedStdout = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });

  it.each(['list', 'list --json', 'history stan x'])('%s: exits quietly, no stack trace', async (command) => {
    const args = command.split(' ');
    const run = await withClosedStdout(args);
    expect(run.stderr).not.toMatch(/EPIPE|\n\s+at /);
    if (args[0] === 'list') {
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
    }
  });

  it('a real pipeline: list | head -1 prints the first line and nothing on stderr', async () => {
    const { stdout, stderr } = await execFileAsync('/bin/sh', ['-c', `"${process.execPath}" "${BIN}" list | head -1`], { env, timeout: CLI_RUN_TIMEOUT_MS });
    expect(stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(stderr).toBe('');
  });
});
