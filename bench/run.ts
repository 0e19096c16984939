/**
 * `npm run bench [-- --only retrieval] [--rounds 15] [--time 200] [--emulator child|in-process] [--json FILE] [--strict]`
 *
 * Runs every benchmark file in bench/ (each `*.ts` next to this one that exports
 * `run(options): Promise<BenchResult[]>`, see bench/lib/types.ts) one after the other and prints
 * one table of ratios. Progress goes to stderr, the table to stdout. Exit code: 0 when every
 * benchmark ran (a missed target is reported, not fatal, unless --strict), 1 on an error or a
 * missed target under --strict, 2 on bad arguments, 3 if the whole run exceeds its time cap.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';
import type { BenchModule, BenchResult, BenchRunOptions } from './lib/types.js';
import { targetMet } from './lib/types.js';

/** Hard cap on the whole run, so a wedged benchmark cannot hold a shared machine. */
const MAX_RUN_MS = 10 * 60_000;

const here = dirname(fileURLToPath(import.meta.url));

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\nusage: npm run bench -- [--only NAME[,NAME]] [--rounds N] [--time MS] [--emulator child|in-process] [--json FILE] [--strict]\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      only: { type: 'string' },
      rounds: { type: 'string', default: '15' },
      time: { type: 'string', default: '200' },
      emulator: { type: 'string', default: 'child' },
      json: { type: 'string' },
      strict: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  }).values;
} catch (e) {
  usage((e as Error).message);
}

const rounds = Number(args.rounds);
const timeMs = Number(args.time);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) usage('--rounds must be an integer from 1 to 50');
if (!Number.isFinite(timeMs) || timeMs < 50 || timeMs > 10_000) usage('--time must be 50..10000 ms');
if (args.emulator !== 'child' && args.emulator !== 'in-process') usage('--emulator must be "child" or "in-process"');

const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'run.ts')
  .map((f) => basename(f, '.ts'))
  .sort();
const only = args.only?.split(',').map((s) => s.trim()).filter(Boolean);
for (const name of only ?? []) if (!available.includes(name)) usage(`no benchmark "${name}" (have: ${available.join(', ')})`);
const selected = only ? available.filter((n) => only.includes(n)) : available;

const watchdog = setTimeout(() => {
  process.stderr.write(`bench: still running after ${MAX_RUN_MS / 1000} s, giving up\n`);
  process.exit(3);
}, MAX_RUN_MS);
watchdog.unref();

const options: BenchRunOptions = {
  rounds,
  timeMs,
  emulator: args.emulator,
  log: (line) => process.stderr.write(`${line}\n`),
};

const started = Date.now();
const results: BenchResult[] = [];
const failures: string[] = [];
for (const name of selected) {
  const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as Partial<BenchModule>;
  if (typeof mod.run !== 'function') {
    options.log(`bench: ${name}.ts exports no run(), skipped`);
    continue;
  }
  const t0 = Date.now();
  try {
    results.push(...(await mod.run(options)));
    options.log(`bench: ${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    failures.push(`${name}: ${(e as Error).stack ?? String(e)}`);
    options.log(`bench: ${name} failed: ${(e as Error).message}`);
  }
}

const fmt = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function side(r: BenchResult, which: 'ours' | 'baseline'): string {
  const s = r[which] as BenchResult['ours'] | undefined;
  if (!s) return '-';
  return r.kind === 'time' ? `${fmt(s.msPerCall, 3)} ms` : `${fmt(s.callsPerSec, 0)}/s (${fmt(s.msPerCall, 3)} ms)`;
}

const rows = results.map((r) => {
  const met = targetMet(r);
  const unit = r.kind === 'time' ? 'x time' : 'x calls/s';
  return {
    benchmark: r.benchmark,
    comparison: r.name,
    ours: side(r, 'ours'),
    baseline: `${side(r, 'baseline')}`,
    ratio: r.error ? 'error' : `${fmt(r.ratio, 2)}${unit} [${fmt(r.ratioRange?.[0] ?? Number.NaN, 2)}-${fmt(r.ratioRange?.[1] ?? Number.NaN, 2)}]`,
    target: r.target ? `${r.target.op} ${r.target.value}` : 'info',
    verdict: r.error ? 'ERROR' : met === undefined ? '' : met ? 'met' : 'MISSED',
  };
});

const cols = ['benchmark', 'comparison', 'ours', 'baseline', 'ratio', 'target', 'verdict'] as const;
const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)));
const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();

const cpus = os.cpus();
const out: string[] = [
  `RefundHub benchmarks, ${new Date().toISOString()}`,
  `node ${process.version}, ${os.platform()} ${os.arch()}, ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  `emulator: ${options.emulator}; ${rounds} alternating rounds x ${timeMs} ms per side; ratio = median of per-round ratios [min-max]`,
  '',
  line(cols),
  line(widths.map((w) => '-'.repeat(w))),
  ...rows.map((r) => line(cols.map((c) => r[c]))),
];
for (const r of results) if (r.note) out.push(`  ${r.name}: ${r.note}`);
for (const r of results) if (r.error) out.push('', `${r.name} failed:`, r.error);
out.push('', `total ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.stdout.write(`${out.join('\n')}\n`);

if (args.json) writeFileSync(args.json, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: cpus.length, options: { rounds, timeMs, emulator: options.emulator }, results }, null, 2)}\n`);

for (const f of failures) process.stderr.write(`\n${f}\n`);
const missed = results.some((r) => targetMet(r) === false || r.error);
clearTimeout(watchdog);
// Exit explicitly: keep-alive sockets of third-party clients (the SDK's global fetch pool) must not hold the process open.
process.exit(failures.length > 0 || (args.strict && missed) ? 1 : 0);
