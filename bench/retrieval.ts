/**
 * Retrieval benchmark (issue 2, section 7), side by side against the emulator on 127.0.0.1:
 *
 * 1. Per provider: `client.getRefund(provider, id)` against a bare undici `request()` GET of the
 *    same URL with the same headers, precomputed. Target: ours at most 1.25x the bare time per call.
 * 2. Gr4vy: our connector against the official `@gr4vy/sdk` `refunds.get(id)` on the same
 *    emulator. Target: ours at least 2x the SDK's calls per second.
 *
 * Ratios, not absolute times, are the result: see bench/lib/compare.ts for why and how.
 */
import { Gr4vy, getToken, withToken } from '@gr4vy/sdk';
import { Agent, request, type Dispatcher } from 'undici';
import { createRefundClient, type RefundClient } from '../src/client.js';
import { loadConfig, type LoadedConfig } from '../src/config/index.js';
import type { ProviderId } from '../src/domain/refund.js';
import { PROVIDER_IDS } from '../src/domain/refund.js';
import { silentLogger } from '../src/logger.js';
import { gr4vyClaims, signGr4vyJwt, verifyGr4vyJwt } from '../src/providers/gr4vy/jwt.js';
import { loadGr4vyKey } from '../src/providers/gr4vy/keys.js';
import type { RawSettings } from '../src/providers/types.js';
import type { HttpRequest, Transport } from '../src/transport/http.js';
import { compareConcurrent, compareSequential, describeRounds, measureAlone, type Comparison, type Contender } from './lib/compare.js';
import { startBenchEmulator } from './lib/emulator.js';
import type { BenchResult, BenchRunOptions, BenchTarget } from './lib/types.js';

export const description = 'getRefund vs bare undici GET per provider; Gr4vy connector vs @gr4vy/sdk';

const BENCHMARK = 'retrieval';

/**
 * The keep-alive agent both sides of every comparison use (one instance each, same settings).
 * These are the transport's own defaults (src/transport/http.ts), passed explicitly so the bare
 * side cannot end up with different pooling by accident.
 */
const AGENT_OPTIONS: Agent.Options = { keepAliveTimeout: 10_000, connections: 64 };

const TIME_TARGET: BenchTarget = { op: '<=', value: 1.25 };
const SDK_TARGET: BenchTarget = { op: '>=', value: 2 };
/** Calls kept in flight for the concurrent Gr4vy comparison (a busy poller, not a single CLI call). */
const INFLIGHT = 8;

interface CapturedRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
}

function headersToRecord(h: Dispatcher.DispatchOptions['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  if (Array.isArray(h)) {
    for (let i = 0; i + 1 < h.length; i += 2) out[String(h[i])] = String(h[i + 1]);
    return out;
  }
  for (const [k, v] of Object.entries(h as Record<string, string | string[] | undefined>)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/**
 * A RefundClient whose dispatcher records the last request it sent: the exact URL and headers the
 * connector built (auth included), so the bare side replays them without knowing any provider.
 * It is a separate client from the measured one, so the measured client carries no interceptor.
 */
function createCapturingClient(config: LoadedConfig): { client: RefundClient; last: () => CapturedRequest | undefined; close: () => Promise<void> } {
  let last: CapturedRequest | undefined;
  const agent = new Agent(AGENT_OPTIONS);
  const dispatcher = agent.compose((dispatch) => (opts, handler) => {
    last = { url: new URL(opts.path, opts.origin).toString(), method: opts.method, headers: headersToRecord(opts.headers) };
    return dispatch(opts, handler);
  });
  const client = createRefundClient({ config, logger: silentLogger, transport: { dispatcher, maxAttempts: 1 } });
  return { client, last: () => last, close: async () => ((await client.close()), await agent.close()) };
}

/**
 * A transport that answers every request with the same body, after building the request's headers
 * as the real one does: `getRefund` through it costs everything ours does except the HTTP exchange
 * (id validation, auth headers, JSON.parse, wire schema, normalization). It explains a ratio; it
 * is not a target.
 */
function cannedTransport(body: string): Transport {
  return {
    async send(req: HttpRequest) {
      await req.headers();
      return { status: 200, headers: {}, body };
    },
    async getJson(req: HttpRequest) {
      await req.headers();
      return JSON.parse(body) as unknown;
    },
    async close() {},
  };
}

const us = (ms: number): string => `${(ms * 1000).toFixed(0)} us`;

function configFor(settings: Record<ProviderId, RawSettings>): LoadedConfig {
  const config = loadConfig({ env: {} });
  for (const id of PROVIDER_IDS) config.accounts.get(id)!.set('default', settings[id]);
  return config;
}

function toResult(name: string, c: Comparison, target: BenchTarget | undefined, note?: string): BenchResult {
  const r: BenchResult = { benchmark: BENCHMARK, name, ours: c.ours, baseline: c.baseline, kind: c.kind, ratio: c.ratio, ratioRange: c.ratioRange, rounds: c.rounds.length };
  if (target) r.target = target;
  if (note) r.note = note;
  return r;
}

function failedResult(name: string, target: BenchTarget, error: string): BenchResult {
  const nan = { label: '-', msPerCall: Number.NaN, callsPerSec: Number.NaN };
  return { benchmark: BENCHMARK, name, ours: nan, baseline: nan, kind: 'throughput', ratio: Number.NaN, ratioRange: [Number.NaN, Number.NaN], rounds: 0, target, error };
}

/** The SDK's own account of a rejected response: its zod issues, the status and the body it saw. */
function describeSdkError(e: unknown): string {
  const err = e as { name?: string; message?: string; pretty?: () => string; statusCode?: number; body?: string; rawValue?: unknown };
  const parts = [`${err.name ?? 'Error'}: ${err.message ?? String(e)}`];
  if (typeof err.pretty === 'function') parts.push(err.pretty());
  if (err.statusCode !== undefined) parts.push(`HTTP ${err.statusCode}`);
  if (typeof err.body === 'string') parts.push(`body: ${err.body.slice(0, 2000)}`);
  return parts.join('\n');
}

export async function run(options: BenchRunOptions): Promise<BenchResult[]> {
  const { log } = options;
  const results: BenchResult[] = [];
  const emu = await startBenchEmulator(options.emulator);
  const oursAgent = new Agent(AGENT_OPTIONS);
  const bareAgent = new Agent(AGENT_OPTIONS);
  let client: RefundClient | undefined;
  let capturing: ReturnType<typeof createCapturingClient> | undefined;
  try {
    log(`retrieval: emulator at ${emu.url} (${emu.mode}); ${options.rounds} rounds x ${options.timeMs} ms per side`);
    const ids = {} as Record<ProviderId, string>;
    for (const p of PROVIDER_IDS) ids[p] = await emu.createRefund(p);
    const config = configFor(emu.settings);
    // One attempt, as on the bare side: a retried call would hide an error as a slow call.
    client = createRefundClient({ config, logger: silentLogger, transport: { dispatcher: oursAgent, maxAttempts: 1 } });
    capturing = createCapturingClient(config);
    const cap = capturing;
    const measured = client;

    // ---- 1. getRefund vs bare undici GET, per provider ----
    const refreshers = new Map<ProviderId, () => Promise<CapturedRequest>>();
    for (const provider of PROVIDER_IDS) {
      const id = ids[provider];
      let captured!: CapturedRequest;
      // Re-captured before every round: Gr4vy tokens live 60 s and OneKey's X-Date must stay
      // within the emulator's window, so headers are precomputed per round, outside the timing.
      const refreshHeaders = async (): Promise<void> => {
        await cap.client.getRefund(provider, id);
        const last = cap.last();
        if (!last) throw new Error(`${provider}: no request captured`);
        captured = last;
      };
      await refreshHeaders();
      refreshers.set(provider, async () => (await refreshHeaders(), captured));
      const ours: Contender = {
        label: `${provider} getRefund`,
        call: async () => {
          const refund = await measured.getRefund(provider, id);
          if (refund.id !== id) throw new Error(`${provider}: got refund ${refund.id}, expected ${id}`);
        },
      };
      const bare: Contender = {
        label: `${provider} bare undici`,
        call: async () => {
          const res = await request(captured.url, { method: 'GET', headers: captured.headers, dispatcher: bareAgent });
          // A bare client still checks the status and parses the body; it does nothing else.
          const body: unknown = await res.body.json();
          if (res.statusCode !== 200) throw new Error(`${provider}: bare GET answered HTTP ${res.statusCode}: ${JSON.stringify(body)}`);
        },
      };
      await ours.call();
      await bare.call();
      log(`retrieval: ${provider} getRefund vs bare undici ...`);
      const c = await compareSequential(ours, bare, { rounds: options.rounds, timeMs: options.timeMs, beforeRound: refreshHeaders });
      log(`  ${describeRounds(c)}`);

      // Where the difference goes: our work with the HTTP exchange taken out.
      const res = await request(captured.url, { method: 'GET', headers: captured.headers, dispatcher: bareAgent });
      const text = await res.body.text();
      const offline = createRefundClient({ config, logger: silentLogger, transport: cannedTransport(text) });
      const noIoMs = await measureAlone(() => offline.getRefund(provider, id), Math.min(200, options.timeMs));
      const parseMs = await measureAlone(() => JSON.parse(text), Math.min(100, options.timeMs));
      const note = `our per-call work without I/O ${us(noIoMs)} (of which JSON.parse ${us(parseMs)}, paid by the bare side too); measured gap ${us(c.ours.msPerCall - c.baseline.msPerCall)}`;
      results.push(toResult(`${provider} getRefund vs bare undici GET`, c, TIME_TARGET, note));
    }

    // ---- 1b. Why the transport has no per-attempt AbortSignal (informational) ----
    // An AbortSignal per attempt is the obvious way to bound an attempt; this row measures what it
    // would cost on its own (Stan: the simplest auth). The transport instead uses undici's timers and
    // one shared deadline sweeper, and keeps a signal only for sub-second timeouts.
    {
      const refresh = refreshers.get('stan')!;
      let req = await refresh();
      const call = (signal: boolean) => async () => {
        const res = await request(req.url, { method: 'GET', headers: req.headers, dispatcher: signal ? oursAgent : bareAgent, ...(signal ? { signal: AbortSignal.timeout(10_000) } : {}) });
        const body: unknown = await res.body.json();
        if (res.statusCode !== 200) throw new Error(`stan: HTTP ${res.statusCode}: ${JSON.stringify(body)}`);
      };
      log('retrieval: bare undici with vs without a per-attempt AbortSignal.timeout (informational) ...');
      const c = await compareSequential(
        { label: 'bare undici + AbortSignal.timeout', call: call(true) },
        { label: 'bare undici', call: call(false) },
        { rounds: options.rounds, timeMs: options.timeMs, beforeRound: async () => void (req = await refresh()) },
      );
      log(`  ${describeRounds(c)}`);
      results.push(toResult('stan bare GET + AbortSignal.timeout vs bare GET', c, undefined, 'informational: what a per-attempt AbortSignal would cost, alone (the transport avoids it for timeouts of 1 s and more)'));
    }

    // ---- 2. Gr4vy connector vs @gr4vy/sdk ----
    const g = emu.settings.gr4vy;
    const privateKey = String(g.privateKey);
    const merchantAccountId = typeof g.merchantAccountId === 'string' ? g.merchantAccountId : undefined;
    const gr4vyId = ids.gr4vy;
    // The SDK as its README shows it: withToken() signs a fresh ES512 JWT for every request.
    const sdk = new Gr4vy({ serverURL: String(g.baseUrl), bearerAuth: withToken({ privateKey }), ...(merchantAccountId ? { merchantAccountId } : {}) });
    // The SDK again, handed one token reused for the round (what our connector does), to show
    // how much of the gap is per-request signing and how much is the SDK's request pipeline.
    let reusedToken = '';
    const refreshToken = async (): Promise<void> => {
      reusedToken = await getToken({ privateKey, expiresIn: '60s' });
    };
    await refreshToken();
    const sdkReused = new Gr4vy({ serverURL: String(g.baseUrl), bearerAuth: async () => reusedToken, ...(merchantAccountId ? { merchantAccountId } : {}) });

    const ours: Contender = {
      label: 'gr4vy getRefund',
      call: async () => {
        const refund = await measured.getRefund('gr4vy', gr4vyId);
        if (refund.id !== gr4vyId) throw new Error(`gr4vy: got refund ${refund.id}`);
      },
    };
    const sdkCall = (client: Gr4vy): (() => Promise<void>) => async () => {
      const refund = await client.refunds.get(gr4vyId);
      if (refund.id !== gr4vyId) throw new Error(`@gr4vy/sdk: got refund ${refund.id}`);
    };
    const sdkSigning: Contender = { label: '@gr4vy/sdk refunds.get', call: sdkCall(sdk) };
    const sdkReusing: Contender = { label: '@gr4vy/sdk refunds.get (token reused)', call: sdkCall(sdkReused) };

    let sdkError: string | undefined;
    try {
      await sdkSigning.call();
      await sdkReusing.call();
    } catch (e) {
      sdkError = describeSdkError(e);
    }
    // How much of the SDK's time is signing: the SDK's own getToken() alone (client CPU), and one
    // ES512 verification as the emulator does it for every fresh token (emulator CPU).
    const signMs = await measureAlone(() => getToken({ privateKey }), Math.min(300, options.timeMs));
    const key = loadGr4vyKey(privateKey);
    const sample = signGr4vyJwt(key, gr4vyClaims(['*.read'], Date.now()));
    const verifyMs = await measureAlone(() => verifyGr4vyJwt(sample, key, Date.now()), Math.min(300, options.timeMs));
    const signingNote = `SDK signs a JWT per request (withToken): getToken() alone ${signMs.toFixed(2)} ms client CPU, and the emulator verifies each fresh token (~${verifyMs.toFixed(2)} ms emulator CPU; ours is verified once per 40 s)`;
    log(`retrieval: ${signingNote}`);

    if (sdkError) {
      log(`retrieval: @gr4vy/sdk rejected the emulator's answer:\n${sdkError}`);
      results.push(failedResult('gr4vy connector vs @gr4vy/sdk refunds.get', SDK_TARGET, sdkError));
    } else {
      log('retrieval: gr4vy connector vs @gr4vy/sdk (one call in flight) ...');
      const seq = await compareSequential(ours, sdkSigning, { rounds: options.rounds, timeMs: options.timeMs, kind: 'throughput' });
      log(`  ${describeRounds(seq)}`);
      results.push(toResult('gr4vy connector vs @gr4vy/sdk refunds.get, 1 in flight', seq, SDK_TARGET, signingNote));

      log(`retrieval: gr4vy connector vs @gr4vy/sdk (${INFLIGHT} in flight) ...`);
      const conc = await compareConcurrent(ours, sdkSigning, { rounds: options.rounds, timeMs: options.timeMs, inflight: INFLIGHT });
      log(`  ${describeRounds(conc)}`);
      results.push(toResult(`gr4vy connector vs @gr4vy/sdk refunds.get, ${INFLIGHT} in flight`, conc, SDK_TARGET, 'same clients; calls/s = completed calls / wall time'));

      log('retrieval: gr4vy connector vs @gr4vy/sdk with a reused token (informational) ...');
      const reused = await compareSequential(ours, sdkReusing, { rounds: options.rounds, timeMs: options.timeMs, kind: 'throughput', beforeRound: refreshToken });
      log(`  ${describeRounds(reused)}`);
      results.push(toResult('gr4vy connector vs @gr4vy/sdk, SDK given a reused token, 1 in flight', reused, undefined, 'informational: isolates the SDK pipeline from its per-request signing'));
    }
    return results;
  } finally {
    await client?.close();
    await capturing?.close();
    await Promise.allSettled([oursAgent.close(), bareAgent.close()]);
    await emu.close();
  }
}
