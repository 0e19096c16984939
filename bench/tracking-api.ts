/**
 * The API's read path under load (issue 3, benchmarks): `GET /v1/refunds/{provider}/{id}` served
 * from the store (SQLite file, refund tracked beforehand, a valid `refunds:read` key) against a
 * bare Fastify route answering the very same bytes, precomputed. Target: ours at least 0.6x the
 * bare route's requests per second.
 *
 * Method: autocannon (programmatic) in this process, 10 connections, 5 s per server per round,
 * after a 1 s warm-up each; up to 3 rounds, the order rotating every round; the ratio is the median
 * of the per-round ratios. Every server runs in its own child process (bench/lib/api-server-child.ts):
 * on a 2-core machine the load generator takes one core and the server under test the other; an
 * in-process server would share its event loop with autocannon and measure both at once. Only one
 * server is loaded at a time; the idle ones cost nothing.
 *
 * Our server is measured twice: with request logging off (`logLevel: 'silent'`, like the bare
 * route, whose Fastify has no logger) and as `refundhub serve` runs it, logging every request at
 * `info` (to /dev/null here, so the cost is producing the lines, not storing them). The server's
 * CPU time per request (from the child's process.cpuUsage()) is reported too: it is less sensitive
 * than req/s to what else the machine is doing.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { cpuUsage } from 'node:process';
import { fileURLToPath } from 'node:url';
import autocannon, { type AutocannonResult } from 'autocannon';
import { request } from 'undici';
import type { ProviderId } from '../src/domain/refund.js';
import { silentLogger } from '../src/logger.js';
import { getProvider } from '../src/providers/registry.js';
import { createApiKey } from '../src/server/auth.js';
import { createRefundHub } from '../src/service.js';
import { startEmulator, type RunningEmulator } from '../test/support/emulator.js';
import type { StartMessage } from './lib/api-server-child.js';
import { median } from './lib/compare.js';
import { tempDir } from './lib/tracking-store.js';
import type { BenchResult, BenchRunOptions } from './lib/types.js';

export const description = 'GET /v1/refunds/{provider}/{id} from the store vs a bare Fastify route with the same bytes (autocannon)';

const BENCHMARK = 'tracking-api';
const CONNECTIONS = 10;
const DURATION_S = 5;
const WARMUP_S = 1;
const MAX_ROUNDS = 3;
const PROVIDER: ProviderId = 'gr4vy';
const STARTUP_TIMEOUT_MS = 30_000;

interface Server {
  label: string;
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
}

async function startServer(label: string, message: StartMessage, quiet: boolean): Promise<Server> {
  const entry = fileURLToPath(new URL('./lib/api-server-child.ts', import.meta.url));
  const child = fork(entry, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', quiet ? 'ignore' : 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label} server did not start within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS);
      child.on('message', (m: { type?: string; url?: string; error?: string }) => {
        if (m?.type === 'ready') {
          clearTimeout(timer);
          resolve(m.url!);
        } else if (m?.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`${label} server failed to start: ${m.error}`));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${label} server exited early (code ${code})`));
      });
      child.send(message);
    });
    return { label, child, url, exited };
  } catch (e) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw e;
  }
}

async function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.send('stop');
  const killer = setTimeout(() => s.child.kill('SIGKILL'), 5_000);
  await s.exited;
  clearTimeout(killer);
}

/** The child's CPU time so far, in microseconds. */
function childCpu(s: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${s.label} server did not report its CPU time`)), 5_000);
    const onMessage = (m: { type?: string; usage?: NodeJS.CpuUsage }) => {
      if (m?.type !== 'cpu' || !m.usage) return;
      clearTimeout(timer);
      s.child.off('message', onMessage);
      resolve(m.usage.user + m.usage.system);
    };
    s.child.on('message', onMessage);
    s.child.send({ type: 'cpu' });
  });
}

async function fetchOnce(url: string, headers: Record<string, string>): Promise<{ status: number; body: string; contentType: string }> {
  const res = await request(url, { headers });
  const body = await res.body.text();
  return { status: res.statusCode, body, contentType: String(res.headers['content-type'] ?? '') };
}

interface Load {
  reqPerSec: number;
  serverCpuUsPerReq: number;
  /** Share of one core the load generator (this process) used. */
  generatorCpu: number;
  p99Ms: number;
}

async function load(s: Server, path: string, headers: Record<string, string>, seconds: number): Promise<Load> {
  const cpu0 = await childCpu(s);
  const self0 = cpuUsage();
  const r: AutocannonResult = await autocannon({ url: `${s.url}${path}`, connections: CONNECTIONS, duration: seconds, headers });
  const self = cpuUsage(self0);
  const cpu1 = await childCpu(s);
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) {
    throw new Error(`${s.label}: ${r.non2xx} non-2xx answers, ${r.errors} errors, ${r.timeouts} timeouts (${JSON.stringify(r.statusCodeStats)})`);
  }
  const ok = r['2xx'];
  return {
    reqPerSec: ok / r.duration,
    serverCpuUsPerReq: (cpu1 - cpu0) / ok,
    generatorCpu: (self.user + self.system) / 1e6 / r.duration,
    p99Ms: r.latency.p99,
  };
}

export async function run(options: BenchRunOptions): Promise<BenchResult[]> {
  const log = (line: string) => options.log(`${BENCHMARK}: ${line}`);
  const rounds = Math.min(options.rounds, MAX_ROUNDS);
  const dir = tempDir('refundhub-bench-api-');
  const servers: Server[] = [];
  let emulator: RunningEmulator | undefined;
  try {
    // Track one refund (through the real spine) and make a read key, then hand each of our
    // servers its own copy of the database file.
    emulator = await startEmulator();
    const created = emulator.emulator.createRefund(PROVIDER, {});
    const refundId = String(getProvider(PROVIDER).emulator.idOf(created));
    const seedFile = `${dir.dir}/seed.db`;
    const hub = await createRefundHub({ databaseUrl: `sqlite:${seedFile}`, config: emulator.config(), logger: silentLogger, env: {} });
    let key: string;
    try {
      await hub.track(PROVIDER, refundId);
      key = await createApiKey(hub.db, ['refunds:read'], 'bench');
    } finally {
      await hub.stop();
    }
    const path = `/v1/refunds/${PROVIDER}/${refundId}`;
    const headers = { authorization: `Bearer ${key}` };

    const start = async (label: string, logLevel: string) => {
      const dbFile = `${dir.dir}/${label}.db`;
      copyFileSync(seedFile, dbFile);
      const s = await startServer(label, { type: 'start', mode: 'ours', dbFile, settings: emulator!.settings, logLevel }, logLevel !== 'silent');
      servers.push(s);
      return s;
    };
    const ours = await start('ours', 'silent');
    const oursLogged = await start('ours+info-logs', 'info');

    const reference = await fetchOnce(`${ours.url}${path}`, headers);
    if (reference.status !== 200) throw new Error(`GET ${path} answered ${reference.status}: ${reference.body.slice(0, 300)}`);
    const bare = await startServer('bare', { type: 'start', mode: 'bare', route: '/v1/refunds/:provider/:id', body: reference.body, contentType: reference.contentType }, false);
    servers.push(bare);
    for (const s of [oursLogged, bare]) {
      const got = await fetchOnce(`${s.url}${path}`, headers);
      if (got.status !== 200 || got.body !== reference.body || got.contentType !== reference.contentType) throw new Error(`${s.label} does not answer the same bytes as ours`);
    }
    log(`${reference.body.length} bytes of JSON (${reference.contentType}); servers up; warm-up ${WARMUP_S} s each`);

    for (const s of [bare, ours, oursLogged]) await load(s, path, headers, WARMUP_S);

    const all = [bare, ours, oursLogged];
    const got = new Map<Server, Load[]>(all.map((s) => [s, []]));
    for (let round = 0; round < rounds; round++) {
      const order = all.map((_, i) => all[(i + round) % all.length]!);
      for (const s of order) {
        const l = await load(s, path, headers, DURATION_S);
        got.get(s)!.push(l);
        log(`round ${round + 1} ${s.label}: ${l.reqPerSec.toFixed(0)} req/s, server ${l.serverCpuUsPerReq.toFixed(0)} us CPU/req, autocannon ${(l.generatorCpu * 100).toFixed(0)} % of a core, p99 ${l.p99Ms} ms`);
      }
    }
    // Same bytes at the end too: nothing changed the refund under load.
    const end = await fetchOnce(`${ours.url}${path}`, headers);
    if (end.body !== reference.body) throw new Error('the refund served by ours changed during the run');

    const bareLoads = got.get(bare)!;
    const side = (label: string, loads: Load[]) => {
      const rps = median(loads.map((l) => l.reqPerSec));
      return { label, callsPerSec: rps, msPerCall: 1000 / rps };
    };
    const result = (s: Server, name: string, target: BenchResult['target']): BenchResult => {
      const loads = got.get(s)!;
      const ratios = loads.map((l, i) => l.reqPerSec / bareLoads[i]!.reqPerSec);
      const cpu = median(loads.map((l) => l.serverCpuUsPerReq));
      const bareCpu = median(bareLoads.map((l) => l.serverCpuUsPerReq));
      const gen = median(bareLoads.map((l) => l.generatorCpu));
      return {
        benchmark: BENCHMARK,
        name,
        ours: side(s.label, loads),
        baseline: side('bare fastify', bareLoads),
        kind: 'throughput',
        ratio: median(ratios),
        ratioRange: [Math.min(...ratios), Math.max(...ratios)],
        rounds: ratios.length,
        ...(target ? { target } : {}),
        note:
          `server CPU per request ${cpu.toFixed(0)} us vs bare ${bareCpu.toFixed(0)} us (${(bareCpu / cpu).toFixed(2)}x); ` +
          `autocannon used ${(gen * 100).toFixed(0)} % of a core against bare; p99 ${median(loads.map((l) => l.p99Ms))} ms vs ${median(bareLoads.map((l) => l.p99Ms))} ms; ` +
          `${CONNECTIONS} connections, ${DURATION_S} s per server per round, servers in child processes`,
      };
    };
    return [
      result(ours, `GET /v1/refunds/{p}/{id} vs bare route, ${CONNECTIONS} conns`, { op: '>=', value: 0.6 }),
      result(oursLogged, 'the same, request logs at info (as serve runs it)', undefined),
    ];
  } finally {
    await Promise.all(servers.map((s) => stopServer(s).catch(() => undefined)));
    await emulator?.close().catch(() => undefined);
    dir.remove();
  }
}
