import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PROVIDER_IDS, type ProviderId } from '../src/domain/refund.js';
import { CSV_HEADER } from '../src/cli/commands/report.js';
import { readCsv } from '../src/cli/csv.js';
import { getProvider } from '../src/providers/registry.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { tempDir } from './support/hub.js';
import { CLI_TEST_TIMEOUT_MS, runCli } from './support/run-cli.js';
import { pollUntil } from './support/wait.js';

// Tests here start bin/refundhub: seconds apiece on a loaded machine (see CLI_TEST_TIMEOUT_MS).
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

/**
 * The operator CLI as an operator runs it: `bin/refundhub import | watch | report` in child
 * processes (the built dist/: `npm run build` first) on temp SQLite files, against the real
 * emulator on 127.0.0.1.
 */

const BIN = fileURLToPath(new URL('../bin/refundhub', import.meta.url));

let em: RunningEmulator;
let tmp: ReturnType<typeof tempDir>;
let baseEnv: Record<string, string>;

beforeAll(async () => {
  em = await startEmulator();
  tmp = tempDir();
  baseEnv = { REFUNDHUB_LOG_LEVEL: 'error' };
  for (const id of PROVIDER_IDS) {
    const mapping = getProvider(id).config.env;
    for (const [key, value] of Object.entries(em.settings[id])) {
      const name = mapping[key];
      if (name && typeof value === 'string') baseEnv[name] = value;
    }
  }
});

afterAll(async () => {
  await em?.close();
  tmp?.cleanup();
});

const envFor = (db: string, extra: Record<string, string> = {}) => ({ ...baseEnv, REFUNDHUB_DATABASE_URL: `sqlite:${join(tmp.dir, db)}`, ...extra });
const newId = (provider: ProviderId, input: Record<string, unknown> = {}, lifecycle: Array<{ status: string; afterMs: number }> = []) =>
  getProvider(provider).emulator.idOf(em.emulator.createRefund(provider, input, lifecycle));
const file = (name: string, text: string) => {
  const path = join(tmp.dir, name);
  writeFileSync(path, text);
  return path;
};

interface Spawned {
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
  signal(sig: NodeJS.Signals): void;
}

function spawnCli(args: string[], env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // Never leave a child behind a failed assertion.
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  void exit.then(() => clearTimeout(timer));
  return { out: () => out, err: () => err, exit, signal: (sig) => child.kill(sig) };
}

/** Refunds tracked so far in a test's SQLite file, read beside the CLI writing it (WAL). */
function trackedIn(db: string): number {
  try {
    const conn = new Database(join(tmp.dir, db), { readonly: true, fileMustExist: true });
    try {
      return Number((conn.prepare('SELECT count(*) AS n FROM refunds').get() as { n: number }).n);
    } finally {
      conn.close();
    }
  } catch {
    return 0;
  }
}

async function csvRows(path: string): Promise<string[][]> {
  const rows: string[][] = [];
  for await (const r of readCsv([readFileSync(path)])) if (r.fields) rows.push(r.fields);
  return rows;
}

describe('refundhub import', () => {
  it('tracks good rows, reports bad ones with line numbers and reasons, and a rerun is harmless', async () => {
    const ziina = newId('ziina', { status: 'pending' });
    const stan = newId('stan');
    const onekey = newId('onekey');
    const missing = '0f0e0d0c-0b0a-4909-8807-060504030201';
    // Columns in another order than documented; a quoted field with a comma; CRLF line ends.
    const csv = file(
      'mixed.csv',
      [
        'id,Provider,currency,account',
        `${ziina},ziina,,`,
        `${stan},stan,,default`,
        'abc,paypal,,',
        `,ziina,,`,
        `${onekey},onekey,MXN,`,
        `"x,y",stan,,`,
        `${ziina},ziina,EURO,`,
        `${stan},stan`,
        `${missing},stan,,`,
        `${ziina},ziina,,nosuchaccount`,
      ].join('\r\n'),
    );
    const rejects = join(tmp.dir, 'rejects.csv');
    const env = envFor('import.db');
    const first = await runCli(['import', csv, '--json', '--rejects', rejects], env);
    expect(first.stderr).not.toMatch(/\n\s+at /);
    // A row that failed at the provider (not found) makes the run exit 5, like a provider error.
    expect(first.code).toBe(5);
    expect(JSON.parse(first.stdout)).toMatchObject({ rows: 10, tracked: 3, alreadyTracked: 0, rejected: 6, failed: 1, interrupted: false });

    const report = await csvRows(rejects);
    expect(report[0]).toEqual(['line', 'provider', 'id', 'account', 'outcome', 'reason']);
    const byLine = new Map(report.slice(1).map((r) => [Number(r[0]), r]));
    expect([...byLine.keys()].sort((a, b) => a - b)).toEqual([4, 5, 7, 8, 9, 10, 11]);
    expect(byLine.get(4)).toEqual(['4', 'paypal', 'abc', '', 'rejected', expect.stringContaining('unknown provider "paypal"')]);
    expect(byLine.get(5)![5]).toBe('id is empty');
    expect(byLine.get(7)!.slice(1, 5)).toEqual(['stan', 'x,y', 'default', 'rejected']);
    expect(byLine.get(7)![5]).toContain('[invalid_input]');
    expect(byLine.get(8)![5]).toContain('currency must be a 3-letter ISO 4217 code');
    expect(byLine.get(9)![5]).toBe('has 2 fields, the header has 4');
    expect(byLine.get(10)!.slice(4)).toEqual(['failed', expect.stringContaining('[not_found]')]);
    expect(byLine.get(11)![4]).toBe('rejected');
    expect(byLine.get(11)![5]).toContain('no account named "nosuchaccount"');

    // The rerun fetches nothing it already tracks: each refund keeps its one history entry.
    const fetchesOf = () => [...em.emulator.requests('ziina'), ...em.emulator.requests('onekey')].filter((q) => q.path.includes(ziina) || q.path.includes(onekey)).length;
    const requestsBefore = fetchesOf();
    expect(requestsBefore).toBeGreaterThanOrEqual(2);
    const again = await runCli(['import', csv, '--json'], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ rows: 10, tracked: 0, alreadyTracked: 3, rejected: 6, failed: 1 });
    expect(fetchesOf()).toBe(requestsBefore);
    // Without --rejects, the report goes to stderr, one line per row.
    expect(again.stderr).toContain('refundhub: import: line 4: rejected: unknown provider "paypal"');
    expect(again.stderr).toContain('refundhub: import: line 10: failed:');
    for (const [p, id] of [['ziina', ziina], ['stan', stan], ['onekey', onekey]] as const) {
      const h = await runCli(['history', p, id, '--json'], env);
      expect(JSON.parse(h.stdout).data.map((e: { kind: string }) => e.kind)).toEqual(['tracked']);
    }
    const list = await runCli(['list', '--json'], env);
    expect(JSON.parse(list.stdout).data).toHaveLength(3);
  });

  it('refuses a file with unknown or missing columns, an empty file and a missing file, exit 2, before any fetch', async () => {
    const env = envFor('refuse.db');
    const unknown = await runCli(['import', file('u.csv', 'provider,id,amount\nziina,x,1\n')], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown column "amount"');
    const lacking = await runCli(['import', file('l.csv', 'provider,account\nziina,x\n')], env);
    expect(lacking.code).toBe(2);
    expect(lacking.stderr).toContain('lacks the required column id');
    const empty = await runCli(['import', file('e.csv', '')], env);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('expected a header row');
    const none = await runCli(['import', join(tmp.dir, 'nope.csv')], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no such file');
    const conc = await runCli(['import', file('ok.csv', 'provider,id\n'), '--concurrency', '0'], env);
    expect(conc.code).toBe(2);
    for (const r of [unknown, lacking, empty, none, conc]) expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('imports 10,000 rows streamed, with the rows in hand bounded by the per-provider slots', async () => {
    const providers: ProviderId[] = ['ziina', 'tazapay', 'stan', 'onekey', 'gr4vy'];
    const lines = ['provider,id,currency'];
    for (let i = 0; i < 10_000; i++) {
      const p = providers[i % providers.length]!;
      lines.push(`${p},${newId(p)},${p === 'onekey' ? 'MXN' : ''}`);
    }
    const csv = file('big.csv', `${lines.join('\n')}\n`);
    // 128 s on a loaded 2-core machine (vitest's other worker and three busy loops beside it).
    const r = await runCli(['import', csv, '--json', '--concurrency', '4'], envFor('big.db'), { timeoutMs: 360_000 });
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ rows: 10_000, tracked: 10_000, rejected: 0, failed: 0 });
    // Five providers x 4 slots: never more rows in hand than that, however long the file.
    expect(summary.peakInFlight).toBeGreaterThan(1);
    expect(summary.peakInFlight).toBeLessThanOrEqual(20);
    // Plain progress lines (stderr is not a terminal): one per 1,000 rows done, and the last.
    const progress = r.stderr.split('\n').filter((l) => l.startsWith('refundhub: import: ') && l.includes(' rows: '));
    expect(progress.length).toBe(11);
    expect(progress.at(-1)).toBe('refundhub: import: 10000 rows: 10000 tracked, 0 already tracked, 0 rejected, 0 failed');
  }, 420_000);

  it('stops cleanly on Ctrl-C with the summary so far (exit 130), and a rerun continues', async () => {
    const lines = ['provider,id'];
    for (let i = 0; i < 60; i++) lines.push(`stan,${newId('stan')}`);
    const csv = file('slow.csv', `${lines.join('\n')}\n`);
    const env = envFor('interrupt.db');
    em.emulator.setLatency(300, 'stan');
    try {
      const run = spawnCli(['import', csv, '--json', '--concurrency', '2'], env);
      await pollUntil(() => trackedIn('interrupt.db') >= 2, { timeoutMs: 30_000, what: 'the import to be tracking' });
      run.signal('SIGINT');
      expect(await run.exit).toBe(130);
      expect(run.err()).toContain('stopping; finishing');
      const first = JSON.parse(run.out());
      expect(first.interrupted).toBe(true);
      expect(first.tracked).toBeGreaterThan(0);
      expect(first.tracked).toBeLessThan(60);
      expect(first.failed + first.rejected).toBe(0);

      em.emulator.setLatency(0, 'stan');
      const rerun = await runCli(['import', csv, '--json'], env, { timeoutMs: 60_000 });
      expect(rerun.code).toBe(0);
      const second = JSON.parse(rerun.stdout);
      expect(second.alreadyTracked).toBe(first.tracked);
      expect(second.tracked).toBe(60 - first.tracked);
    } finally {
      em.emulator.setLatency(0, 'stan');
    }
  });
});

describe('refundhub watch', () => {
  const stanSteps = () => getProvider('stan').emulator.demoRefunds()[1]!.lifecycle.map((s) => s.status);

  it('shows the refund and each status change as it lands until it is final (exit 0), checking it itself when no service runs', async () => {
    const [middle, final] = stanSteps();
    const id = newId('stan', { status: 'payment_holding' });
    // The schedule decides the pace of watch's own checks: every second here.
    const config = file('watch.json', JSON.stringify({ providers: { stan: { schedule: ['1s'] } } }));
    const env = envFor('watch.db');
    const run = spawnCli(['--config', config, 'watch', 'stan', id], env);
    await pollUntil(() => /tracked +- -> pending +\(payment_holding, manual\)/.test(run.out()), { timeoutMs: 30_000, what: 'the tracked line' });
    expect(run.out()).toContain('Now tracking:');
    expect(run.out()).toContain(`Refund      stan ${id}`);
    em.emulator.setStatus('stan', id, middle!);
    await pollUntil(() => run.out().includes(`provider status payment_holding -> ${middle}`), { timeoutMs: 30_000, what: 'the provider status change' });
    expect(run.out()).toMatch(new RegExp(`change +pending -> pending +\\(${middle}, poll\\)`));
    em.emulator.setStatus('stan', id, final!);
    expect(await run.exit).toBe(0);
    const r = { stdout: run.out() };
    expect(r.stdout).toMatch(new RegExp(`change +pending -> canceled +\\(${final}, poll\\)`));
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`Final: canceled (provider: ${final})`);
    // Watching a final refund prints it and exits at once.
    const again = await runCli(['watch', 'stan', id], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Watching:');
    expect(again.stdout).toContain('Final: canceled');
  });

  it('exits 130 on Ctrl-C, and marks the refund stuck past its provider stuckAfter on the way', async () => {
    const id = newId('stan', { status: 'payment_holding' });
    const config = file('stuck.json', JSON.stringify({ providers: { stan: { schedule: ['1s'], stuckAfter: '2s' } } }));
    const env = envFor('report.db');
    const run = spawnCli(['--config', config, 'watch', 'stan', id, '--interval', '0.2'], env);
    await pollUntil(() => /stuck +pending -> pending .*not final 2 seconds after tracking started/.test(run.out()), { timeoutMs: 20_000, what: 'the stuck mark' });
    run.signal('SIGINT');
    expect(await run.exit).toBe(130);
    expect(run.out()).toContain('Stopped (Ctrl-C)');
  });

  it('refuses a bad --interval and an unknown provider with exit 2', async () => {
    const env = envFor('watch-bad.db');
    expect((await runCli(['watch', 'stan', newId('stan'), '--interval', '0'], env)).code).toBe(2);
    const r = await runCli(['watch', 'paypal', 'x'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid_input');
  });
});

describe('refundhub report', () => {
  it('prints the same report as md, csv and json', async () => {
    // report.db: a stuck Stan refund (the watch test above) plus imported ones, one of them final.
    const env = envFor('report.db');
    const ziinaFinal = getProvider('ziina').emulator.demoRefunds()[0]!.lifecycle.at(-1)!.status;
    const done = newId('ziina', { status: ziinaFinal });
    const open = newId('ziina', { status: 'pending' });
    expect((await runCli(['import', file('r.csv', `provider,id\nziina,${done}\nziina,${open}\n`)], env)).code).toBe(0);

    const json = await runCli(['report', '--format', 'json', '--since', '1d'], env);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    const ziina = report.groups.find((g: { provider: string }) => g.provider === 'ziina');
    expect(ziina).toMatchObject({ account: 'default', total: 2, byStatus: { pending: 1 }, timeToFinal: { count: 1 }, stuck: 0 });
    expect(ziina.timeToFinal.p50Ms).toBeGreaterThanOrEqual(0);
    const stan = report.groups.find((g: { provider: string }) => g.provider === 'stan');
    expect(stan).toMatchObject({ stuck: 1 });
    expect(report.stuck.count).toBe(1);
    expect(report.stuck.refunds[0]).toMatchObject({ provider: 'stan', status: 'pending' });
    expect(report.failingEndpoints).toEqual([]);

    const csv = await runCli(['report', '--format', 'csv'], env);
    expect(csv.code).toBe(0);
    const rows: string[][] = [];
    for await (const r of readCsv([Buffer.from(csv.stdout)])) rows.push(r.fields!);
    expect(rows[0]).toEqual(CSV_HEADER);
    expect(rows[0]!.slice(0, 4)).toEqual(['section', 'provider', 'account', 'total']);
    const zRow = rows.find((r) => r[1] === 'ziina')!;
    const col = (name: string) => zRow[CSV_HEADER.indexOf(name)];
    expect([col('section'), col('total'), col('pending'), col('final_count'), col('stuck')]).toEqual(['refunds', '2', '1', '1', '0']);
    expect(rows.every((r) => r.length === CSV_HEADER.length)).toBe(true);

    const md = await runCli(['report'], env);
    expect(md.code).toBe(0);
    const mdLines = md.stdout.split('\n');
    const head = mdLines.findIndex((l) => l.startsWith('| provider | account | total |'));
    expect(head).toBeGreaterThan(0);
    expect(mdLines[head + 1]).toMatch(/^\| --- (\| --- )+\|$/);
    expect(mdLines.some((l) => /^\| ziina \| default \| 2 \| 1 \|/.test(l))).toBe(true);
    expect(md.stdout).toContain('## Stuck refunds (1)');
    expect(md.stdout).toContain('## Failing webhook endpoints');

    const bad = await runCli(['report', '--since', 'week'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since must be a period');
  });
});
