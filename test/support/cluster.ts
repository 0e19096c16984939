import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { ProviderId } from '../../src/domain/refund.js';
import { PROVIDER_IDS } from '../../src/domain/refund.js';
import type { RecordedRequest } from '../../src/emulator/index.js';
import type { ProviderTrackingOptions } from '../../src/config/index.js';
import type { RawSettings } from '../../src/providers/types.js';
import { runCli } from './run-cli.js';
import { pollUntil } from './wait.js';

/**
 * A RefundHub cluster for tests and benchmarks: `refundhub worker` and `refundhub serve
 * --no-worker` as real child processes of `bin/refundhub` (the built dist/), on one PostgreSQL
 * database, providers pointing at an emulator through a config file. Nothing here reaches into a
 * process: readiness is its HTTP port answering, stopping is a signal, and what happened is read
 * from the emulator's request record, the database and a webhook receiver.
 */

const BIN = fileURLToPath(new URL('../../bin/refundhub', import.meta.url));
export const BUILT = existsSync(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)));

export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Writes a config file whose `default` accounts are the emulator's settings (the Gr4vy key
 * included, so no PEM file is needed) and whose `providers` set schedules and concurrency.
 */
export function writeClusterConfig(dir: string, settings: Record<ProviderId, RawSettings>, providers: Partial<Record<ProviderId, ProviderTrackingOptions>> = {}): string {
  const file = join(dir, `refundhub-cluster-${Math.random().toString(36).slice(2, 8)}.json`);
  const accounts = Object.fromEntries(PROVIDER_IDS.map((p) => [p, { default: settings[p] }]));
  writeFileSync(file, JSON.stringify({ accounts, providers }, null, 2), { mode: 0o600 });
  return file;
}

/** The environment every process of a cluster shares: only PATH and HOME from ours, nothing else leaks in. */
export function clusterEnv(databaseUrl: string, configFile: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    REFUNDHUB_DATABASE_URL: databaseUrl,
    REFUNDHUB_CONFIG: configFile,
    // The test's webhook receivers listen on 127.0.0.1.
    REFUNDHUB_WEBHOOK_ALLOW_PRIVATE: 'true',
    REFUNDHUB_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** `refundhub migrate` on the cluster's database; throws with its output unless it exits 0. */
export async function migrate(env: Record<string, string>): Promise<void> {
  const r = await runCli(['migrate'], env, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`refundhub migrate exited ${r.code}: ${r.stderr || r.stdout}`);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NodeProcess {
  name: string;
  proc: ChildProcess;
  /** The API's base URL (API nodes) or the metrics server's (workers). */
  url: string;
  /** Everything it printed so far (stdout and stderr interleaved). */
  output(): string;
  exited: Promise<Exit>;
  alive(): boolean;
  /** Sends `signal` and resolves with the exit and how long it took; SIGKILLs after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit & { ms: number }>;
}

const processes = new Set<NodeProcess>();

function spawnRefundhub(name: string, args: string[], env: Record<string, string>, url: string): NodeProcess {
  const proc = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer) => {
    out += c.toString();
    // Bounded: a chatty process must not grow the test's memory without end.
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const node: NodeProcess = {
    name,
    proc,
    url,
    output: () => out,
    exited,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      const t0 = Date.now();
      if (node.alive()) proc.kill(signal);
      const killer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const exit = await exited;
      clearTimeout(killer);
      processes.delete(node);
      return { ...exit, ms: Date.now() - t0 };
    },
  };
  processes.add(node);
  void exited.then(() => processes.delete(node));
  return node;
}

async function waitReady(node: NodeProcess, path: string, what: string): Promise<void> {
  const state = await pollUntil(
    async () => {
      // A process that died will never answer: stop waiting at once.
      if (!node.alive()) return 'exited';
      const res = await fetch(`${node.url}${path}`);
      await res.arrayBuffer();
      return res.status === 200 ? 'ready' : undefined;
    },
    // Several processes often start at once (a cluster test starts five): each loads dist/ and
    // opens its pools, which on a loaded 2-core machine can take tens of seconds. A process that
    // exits stops the wait at once, so the bound only matters for one that hangs.
    { timeoutMs: 120_000, intervalMs: 100, what },
  ).catch((e: Error) => {
    throw new Error(`${e.message}; output: ${node.output().slice(-2000)}`);
  });
  if (state === 'exited') throw new Error(`${node.name} exited (${JSON.stringify(await node.exited)}) before ${what}: ${node.output().slice(-2000)}`);
}

/** `refundhub serve --no-worker` on a free port; resolves once /healthz answers. */
export async function startApiNode(name: string, env: Record<string, string>, options: { worker?: boolean } = {}): Promise<NodeProcess> {
  const port = await freePort();
  const args = ['serve', '--port', String(port), '--host', '127.0.0.1', ...(options.worker ? [] : ['--no-worker'])];
  const node = spawnRefundhub(name, args, env, `http://127.0.0.1:${port}`);
  await waitReady(node, '/healthz', `${name} (serve${options.worker ? '' : ' --no-worker'}) to answer`);
  return node;
}

/** `refundhub worker --concurrency N --metrics-port P`; resolves once its /metrics answers. */
export async function startWorker(name: string, env: Record<string, string>, options: { concurrency?: number } = {}): Promise<NodeProcess> {
  const port = await freePort();
  const args = ['worker', '--metrics-port', String(port), ...(options.concurrency ? ['--concurrency', String(options.concurrency)] : [])];
  const node = spawnRefundhub(name, args, env, `http://127.0.0.1:${port}`);
  await waitReady(node, '/metrics', `${name} (worker) metrics`);
  return node;
}

/** SIGKILLs every cluster process still running (afterAll). */
export async function killAll(): Promise<void> {
  await Promise.all([...processes].map((p) => p.stop('SIGKILL', 5_000)));
}

/** pg-boss jobs of RefundHub's queues by queue and state. */
export async function queueJobs(databaseUrl: string): Promise<Array<{ name: string; state: string; n: number }>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; state: string; n: number }>(
      "SELECT name, state::text AS state, count(*)::int AS n FROM pgboss.job WHERE name LIKE 'refundhub.%' GROUP BY name, state ORDER BY name, state",
    );
    return rows;
  } finally {
    await client.end();
  }
}

/** One provider request as the emulator saw it. */
export interface TimedRequest {
  provider: ProviderId;
  path: string;
  startMs: number;
  endMs: number;
  status: number | null;
}

/** Keeps every provider request the emulator finishes (its own log is bounded). */
export function recordRequests(emulator: { onRequest(l: (p: ProviderId, r: RecordedRequest) => void): () => void }): { all: TimedRequest[]; stop(): void } {
  const all: TimedRequest[] = [];
  const stop = emulator.onRequest((provider, r) => all.push({ provider, path: r.path, startMs: r.startMs, endMs: r.endMs ?? r.startMs, status: r.status }));
  return { all, stop };
}

/**
 * Which refund a provider request was for: the path segment that is one of the known refund ids
 * (every provider's fetch puts the id in the path); undefined for token and other calls.
 */
export function refundOf(r: TimedRequest, known: Map<ProviderId, Set<string>>): string | undefined {
  const ids = known.get(r.provider);
  if (!ids) return undefined;
  for (const seg of r.path.split('?')[0]!.split('/')) {
    const id = decodeURIComponent(seg);
    if (ids.has(id)) return `${r.provider}/${id}`;
  }
  return undefined;
}

export interface OverlapReport {
  /** Requests that could be tied to a refund. */
  perRefund: number;
  /** Pairs of requests for one refund that overlapped in time: each one is a violation. */
  overlaps: Array<{ refund: string; first: TimedRequest; second: TimedRequest }>;
  /** Back-to-back requests for one refund (the next started within `closeMs` of the previous one's end): contention that was serialized. */
  backToBack: number;
}

/** Groups requests by refund and finds any two that overlapped. */
export function overlaps(requests: readonly TimedRequest[], known: Map<ProviderId, Set<string>>, closeMs = 50): OverlapReport {
  const byRefund = new Map<string, TimedRequest[]>();
  let perRefund = 0;
  for (const r of requests) {
    const k = refundOf(r, known);
    if (!k) continue;
    perRefund++;
    const list = byRefund.get(k) ?? [];
    list.push(r);
    byRefund.set(k, list);
  }
  const found: OverlapReport['overlaps'] = [];
  let backToBack = 0;
  for (const [refund, list] of byRefund) {
    list.sort((a, b) => a.startMs - b.startMs);
    let latest = list[0]!;
    for (let i = 1; i < list.length; i++) {
      const r = list[i]!;
      if (r.startMs < latest.endMs) found.push({ refund, first: latest, second: r });
      else if (r.startMs - latest.endMs < closeMs) backToBack++;
      if (r.endMs > latest.endMs) latest = r;
    }
  }
  return { perRefund, overlaps: found, backToBack };
}

/** Reads a Prometheus counter or gauge (summed over label sets matching `labels`) from a /metrics page. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
  }
  return sum;
}
