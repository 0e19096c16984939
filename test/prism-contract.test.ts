import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRefundClient, type RefundClient } from '../src/client.js';
import { loadConfig } from '../src/config/index.js';
import { currencyExponent, isoCurrency, minorToDecimal } from '../src/domain/money.js';
import { REFUND_STATUSES, type ProviderId, type Refund } from '../src/domain/refund.js';
import { ERROR_CODES, RefundHubError } from '../src/errors.js';
import { getProvider } from '../src/providers/registry.js';
import { recordingLogger } from './support/logger.js';
import { startRewritingProxy, type RewritingProxy } from './support/rewriting-proxy.js';
import { pollUntil } from './support/wait.js';

/**
 * Every connector against a mock generated from its seed contract by a standard tool (Stoplight
 * Prism 5, dynamic mode): each answer is a fresh random document the contract allows, so
 * constraints we invented (a minimum the seed does not have, a currency taken on trust) show up
 * as failed fetches or broken invariants. Prism returns a random refund id; a rewriting hop
 * makes every other answer echo the id asked for, so normalization is exercised, and leaves
 * (OneKey: sets) a different id in the rest, which must be refused as invalid_response. Prism
 * serves the paths without the servers' prefixes (no /v3 for OneKey), so the base URL is bare.
 */

const RUNS = 40;
const ROOT = join(import.meta.dirname, '..');
const PRISM = join(ROOT, 'node_modules', '.bin', 'prism');
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface Case {
  provider: ProviderId;
  spec: string;
  /** A fresh valid id per run. */
  id(run: number): string;
  /** Sets the refund id in a 2xx body as the provider names it. */
  setId(body: unknown, id: string): unknown;
  /** True when a Prism body always names a (random) refund id; OneKey's status body names none. */
  echoes: boolean;
  settings?: Record<string, unknown>;
}

const uuid = (run: number) => `3fa85f64-5717-4562-b3fc-${String(run).padStart(12, '0')}`;
const top = (body: unknown, key: string, id: string) => ({ ...(body as object), [key]: id });

const CASES: Case[] = [
  { provider: 'ziina', spec: 'ziina.yaml', id: (n) => `rf-${n}`, setId: (b, id) => top(b, 'id', id), echoes: true },
  {
    provider: 'tazapay',
    spec: 'tazapay.yaml',
    id: (n) => `rfd_${n}`,
    setId: (b, id) => ({ ...(b as object), data: { ...(b as { data: object }).data, id } }),
    echoes: true,
  },
  { provider: 'gr4vy', spec: 'gr4vy.yaml', id: uuid, setId: (b, id) => top(b, 'id', id), echoes: true },
  { provider: 'stan', spec: 'stan.yaml', id: uuid, setId: (b, id) => top(b, 'refund_id', id), echoes: true },
  { provider: 'onekey', spec: 'onekey.json', id: (n) => String(80000001 + n), setId: (b, id) => top(b, 'refund_id', id), echoes: false, settings: { currency: 'MXN' } },
];

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

interface RunningPrism {
  child: ChildProcess;
  origin: string;
  output: () => string;
}

async function startPrism(spec: string): Promise<RunningPrism> {
  const port = await freePort();
  const child = spawn(PRISM, ['mock', '-d', join(ROOT, 'specs', spec), '-p', String(port), '-h', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString('utf8')).slice(-4000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString('utf8')).slice(-4000)));
  const origin = `http://127.0.0.1:${port}`;
  await pollUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`prism exited ${child.exitCode}: ${out}`);
      return /Prism is listening/.test(out) || (await fetch(origin).then(() => true, () => false));
    },
    // Five Prism processes start at once (each compiles its spec): bounded for a loaded 2-core machine.
    { timeoutMs: 120_000, intervalMs: 100, what: `prism mock of ${spec}` },
  );
  return { child, origin, output: () => out };
}

async function stopPrism(p: RunningPrism | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
  p.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (p.child.exitCode === null) p.child.kill('SIGKILL');
}

/** The normalization invariants every resolved refund must hold, whatever the contract allowed. */
function checkInvariants(r: Refund, requested: string): void {
  expect(r.id).toBe(requested);
  expect(REFUND_STATUSES).toContain(r.status);
  expect(typeof r.providerStatus).toBe('string');
  if (r.currency !== null) expect(isoCurrency(r.currency), `currency ${r.currency}`).toBe(r.currency);
  if (r.amount !== null) {
    expect(Number.isSafeInteger(r.amount), `amount ${r.amount}`).toBe(true);
    expect(r.amount).toBeGreaterThanOrEqual(0);
    expect(r.currency, 'an amount needs its currency').not.toBeNull();
    expect(r.amountDecimal).toBe(minorToDecimal(r.amount, currencyExponent(r.currency!)!));
  }
  for (const d of [r.createdAt, r.updatedAt]) {
    if (d !== null) {
      expect(d).toMatch(ISO_UTC);
      expect(new Date(d).toISOString()).toBe(d);
    }
  }
  if (r.failure !== null) expect(['failed', 'canceled']).toContain(r.status);
}

describe('connectors against Prism mocks generated from specs/', () => {
  const prisms = new Map<ProviderId, RunningPrism>();
  const proxies = new Map<ProviderId, RewritingProxy>();

  beforeAll(async () => {
    await Promise.all(
      CASES.map(async (c) => {
        const p = await startPrism(c.spec);
        prisms.set(c.provider, p);
        proxies.set(c.provider, await startRewritingProxy(p.origin));
      }),
    );
  }, 150_000);

  afterAll(async () => {
    await Promise.all([...proxies.values()].map((p) => p.close()));
    await Promise.all([...prisms.values()].map((p) => stopPrism(p)));
  });

  it.concurrent.each(CASES.map((c) => [c.provider, c] as const))(
    `%s: ${RUNS} dynamic answers either normalize within the invariants or fail with a known code`,
    async (_name, c) => {
      const module = getProvider(c.provider);
      const proxy = proxies.get(c.provider)!;
      const settings = { ...module.demoSettings(), ...c.settings, baseUrl: proxy.url };
      const config = loadConfig({ env: {} });
      config.accounts.get(c.provider)!.set('default', settings);
      const logger = recordingLogger();
      const client: RefundClient = createRefundClient({ config, logger, transport: { baseDelayMs: 1, timeoutMs: 5000 } });
      const outcomes: Record<string, number> = {};
      try {
        for (let run = 0; run < RUNS; run++) {
          const requested = c.id(run);
          const echo = run % 2 === 0;
          if (echo) proxy.rewrite((body) => c.setId(body, requested));
          else proxy.rewrite(c.echoes ? null : (body) => c.setId(body, String(Number(requested) + 1)));
          let result: Refund | undefined;
          let error: unknown;
          try {
            result = await client.getRefund(c.provider, requested);
          } catch (e) {
            error = e;
          }
          const where = `${c.provider} run ${run}`;
          if (!echo) {
            // A mock's random id is another refund: exactly invalid_response, never a TypeError.
            expect(error, where).toBeInstanceOf(RefundHubError);
            expect((error as RefundHubError).code, where).toBe('invalid_response');
            expect((error as RefundHubError).message, where).toBe(`${c.provider}: response is for a different refund id than requested`);
            outcomes.wrong_id = (outcomes.wrong_id ?? 0) + 1;
            continue;
          }
          if (error !== undefined) {
            expect(error, `${where}: ${String(error)}`).toBeInstanceOf(RefundHubError);
            expect(Object.keys(ERROR_CODES), where).toContain((error as RefundHubError).code);
            outcomes[(error as RefundHubError).code] = (outcomes[(error as RefundHubError).code] ?? 0) + 1;
            continue;
          }
          checkInvariants(result!, requested);
          outcomes.resolved = (outcomes.resolved ?? 0) + 1;
        }
      } finally {
        await client.close();
      }
      // Every answer the contract allows must normalize: a failed fetch here is a constraint we added.
      expect(outcomes, prisms.get(c.provider)!.output().slice(-600)).toEqual({ resolved: RUNS / 2, wrong_id: RUNS / 2 });
      // Oddities are logged once per kind, and no secret reaches the log.
      const kinds = logger.warnings.map((l) => (l.obj as { kind?: string }).kind).filter((k) => k !== undefined);
      expect(new Set(kinds).size).toBe(kinds.length);
      const text = JSON.stringify(logger.lines);
      for (const key of module.config.secretKeys) {
        const secret = settings[key as keyof typeof settings];
        if (typeof secret === 'string' && secret.length > 4) expect(text).not.toContain(secret);
      }
    },
    // Five cases at once, 40 calls each through a proxy to Prism.
    120_000,
  );
});
