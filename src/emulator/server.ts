import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request as undiciRequest } from 'undici';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { ProviderId } from '../domain/refund.js';
import { isProviderId, PROVIDER_IDS } from '../domain/refund.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { allProviders, getProvider } from '../providers/registry.js';
import type { EmulatorRequest, EmulatorResponse, NativeRefund, ProviderModule } from '../providers/types.js';
import { redactQuery } from '../redact.js';
import { maskHeaders } from './mask.js';

/**
 * Serves every provider's emulator on one port under its prefix, plus a control API under
 * `/_emulator`. The emulator core owns what all providers share (storage, lifecycles, faults,
 * the request log, notification delivery); each provider folder owns its wire format and auth.
 */

export type FaultKind = 'latency' | 'error' | 'rate_limit' | 'reset' | 'malformed';
export const FAULT_KINDS: readonly FaultKind[] = ['latency', 'error', 'rate_limit', 'reset', 'malformed'];

export interface Fault {
  kind: FaultKind;
  count: number;
  status?: number;
  delayMs?: number;
  retryAfterS?: number;
}

export interface LifecycleStep {
  status: string;
  /** Milliseconds after the refund was created (not after the previous step). */
  afterMs: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  /** When it arrived, by the emulator's clock (ISO). */
  time: string;
  /**
   * Wall-clock epoch ms (fractional) when the request arrived and when its response was finished
   * (or its socket dropped); `endMs` is null while it is in flight. The emulator's own real time,
   * whatever its clock, so tests can tell whether two requests for one refund overlapped.
   */
  startMs: number;
  endMs: number | null;
  /** The HTTP status answered (a 429 fault, ...), null while in flight or when the socket was dropped. */
  status: number | null;
}

export interface EmulatorOptions {
  /** Resolved settings per provider (credentials the emulator checks). */
  settings: Record<ProviderId, unknown>;
  /** Base URL notifications are posted to as `${notifyUrl}/${provider}`. */
  notifyUrl?: string;
  clock?: Clock;
  logger?: Logger;
  /** Requests kept per provider for `GET /_emulator/{provider}/requests`. Default 200. */
  requestLogSize?: number;
  /** Fixed delay before every provider request is answered (benchmarks), ms; default 0. */
  latencyMs?: number;
  /**
   * Waits between attempts to post one notification: one attempt more than there are entries.
   * Default NOTIFICATION_RETRY_DELAYS_MS.
   */
  notificationRetryDelaysMs?: readonly number[];
}

/**
 * Real providers retry a notification the receiver did not take for hours or days (the schedules
 * in docs/providers.md); the emulator compresses that to about 25 s over 8 attempts. Long enough
 * that a receiver restarting or busy for a few seconds (a SIGKILLed hub coming back, an API node
 * under load) still gets it, as it would from the provider, and short enough to end within a test.
 */
export const NOTIFICATION_RETRY_DELAYS_MS: readonly number[] = [200, 400, 800, 1600, 3200, 6400, 12_800];

/** A notification the emulator gave up on after its last attempt (what the receiver never took). */
export interface UndeliveredNotification {
  provider: ProviderId;
  url: string;
  attempts: number;
  /** The receiver's last answer (`HTTP 503`) or the connection error. */
  lastError: string;
  /** The emulator's real time when it gave up (epoch ms). */
  at: number;
}

/** Called once per provider request when its response is finished (tests keep every one). */
export type RequestListener = (provider: ProviderId, request: RecordedRequest) => void;

interface ProviderState {
  refunds: Map<string, NativeRefund>;
  faults: Fault[];
  requests: RecordedRequest[];
  timers: Set<NodeJS.Timeout>;
}

const MAX_BODY = 1024 * 1024;

export class Emulator {
  readonly server: Server;
  private readonly state = new Map<ProviderId, ProviderState>();
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly logSize: number;
  private readonly prefixes: Array<{ prefix: string; provider: ProviderModule<any> }>;
  /** Notification deliveries still in flight, so tests and shutdown can wait for them. */
  private readonly inflight = new Set<Promise<void>>();
  /**
   * Ends the retry waits (reset(), close(), or drainNotifications with `retry: false`), so shutting
   * down does not sit out a retry schedule. Replaced each time; notifications made later retry again.
   */
  private stopRetries = new AbortController();
  /**
   * Notifications given up on after every attempt: a test whose refund missed a change can tell a
   * notification the receiver never took from one it took and mishandled. The latest
   * `requestLogSize` are kept; cleared by reset().
   */
  readonly undelivered: UndeliveredNotification[] = [];
  private readonly listeners = new Set<RequestListener>();
  notifyUrl: string | undefined;
  /**
   * Several receivers taking turns (a cluster's API nodes behind no load balancer): when set,
   * each notification goes to the next one, and `notifyUrl` is not used.
   */
  notifyUrls: string[] = [];
  private notifyTurn = 0;
  /**
   * Fixed delay added to every provider request (all providers, or per provider through
   * `latencyByProvider`), unlike the `latency` fault, which is counted down. Reset keeps it.
   */
  latencyMs: number;
  readonly latencyByProvider = new Map<ProviderId, number>();

  constructor(private readonly options: EmulatorOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.logSize = options.requestLogSize ?? 200;
    this.latencyMs = options.latencyMs ?? 0;
    this.notifyUrl = options.notifyUrl;
    for (const id of PROVIDER_IDS) this.state.set(id, { refunds: new Map(), faults: [], requests: [], timers: new Set() });
    // Longest prefix first, so `onekey/v3` can never be shadowed by a shorter one.
    this.prefixes = allProviders()
      .map((p) => ({ prefix: `/${p.emulator.prefix.replace(/^\/+|\/+$/g, '')}`, provider: p }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
    this.server = createServer((req, res) => {
      this.dispatch(req, res).catch((e) => {
        this.logger.error({ err: (e as Error).message }, 'emulator request failed');
        if (!res.headersSent) send(res, { status: 500, body: { error: 'emulator internal error' } });
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 30_000;
  }

  async listen(port = 4010, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.url;
  }

  get url(): string {
    const a = this.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  /** The base URL a connector should use for a provider on this emulator. */
  baseUrl(provider: ProviderId): string {
    return `${this.url}/${getProvider(provider).emulator.prefix}`;
  }

  async close(): Promise<void> {
    this.reset();
    await Promise.allSettled([...this.inflight]);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * Waits for notification deliveries in flight, retries included. With `retry: false` (a demo
   * shutting down) an attempt in progress finishes but none is retried: those are given up on.
   */
  async drainNotifications(options: { retry?: boolean } = {}): Promise<void> {
    if (options.retry === false) {
      this.stopRetries.abort();
      this.stopRetries = new AbortController();
    }
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  private st(provider: ProviderId): ProviderState {
    return this.state.get(provider)!;
  }

  // ---- control operations (also used in-process by `npm start` and tests) ----

  createRefund(providerId: ProviderId, input: NativeRefund = {}, lifecycle: LifecycleStep[] = []): NativeRefund {
    const provider = getProvider(providerId);
    const now = this.clock.now();
    const refund = provider.emulator.create(input, now);
    const id = provider.emulator.idOf(refund);
    const st = this.st(providerId);
    st.refunds.set(id, refund);
    for (const step of lifecycle) {
      const t = setTimeout(() => {
        st.timers.delete(t);
        this.setStatus(providerId, id, step.status);
      }, Math.max(0, step.afterMs));
      t.unref();
      st.timers.add(t);
    }
    return refund;
  }

  getRefund(providerId: ProviderId, id: string): NativeRefund | undefined {
    return this.st(providerId).refunds.get(id);
  }

  /** Moves a refund to a new native status and sends the provider's notification if it changed. */
  setStatus(providerId: ProviderId, id: string, status: string): NativeRefund | undefined {
    const provider = getProvider(providerId);
    const st = this.st(providerId);
    const current = st.refunds.get(id);
    if (!current) return undefined;
    const next = provider.emulator.withStatus(current, status, this.clock.now());
    st.refunds.set(id, next);
    if (current.status !== next.status || JSON.stringify(current) !== JSON.stringify(next)) this.notify(provider, next);
    return next;
  }

  injectFault(providerId: ProviderId, fault: Fault): void {
    this.st(providerId).faults.push({ ...fault });
  }

  /**
   * Drops pending faults (of one provider, or all) and keeps refunds, lifecycles and the request
   * log, so a test or a demo can recover from an injected outage without losing its data.
   * Returns how many faults were dropped.
   */
  clearFaults(providerId?: ProviderId): number {
    let cleared = 0;
    for (const [id, st] of this.state) {
      if (providerId && id !== providerId) continue;
      cleared += st.faults.length;
      st.faults.length = 0;
    }
    return cleared;
  }

  requests(providerId: ProviderId): RecordedRequest[] {
    return [...this.st(providerId).requests];
  }

  /**
   * Streams every provider request to `listener` when it ends, beyond the bounded log (a cluster
   * test records thousands). Returns the unsubscribe function.
   */
  onRequest(listener: RequestListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sets the fixed per-request delay of one provider, or of all when `providerId` is omitted. */
  setLatency(delayMs: number, providerId?: ProviderId): void {
    if (providerId) this.latencyByProvider.set(providerId, delayMs);
    else {
      this.latencyMs = delayMs;
      this.latencyByProvider.clear();
    }
  }

  reset(): void {
    for (const st of this.state.values()) {
      for (const t of st.timers) clearTimeout(t);
      st.timers.clear();
      st.refunds.clear();
      st.faults.length = 0;
      st.requests.length = 0;
    }
    this.undelivered.length = 0;
    // Retries of notifications made before the reset stop too: they are about refunds that are gone.
    this.stopRetries.abort();
    this.stopRetries = new AbortController();
  }

  /** Seeds every provider's demo refunds, their lifecycles starting now. */
  seedDemo(): Array<{ provider: ProviderId; id: string }> {
    const seeded: Array<{ provider: ProviderId; id: string }> = [];
    for (const p of allProviders()) {
      for (const d of p.emulator.demoRefunds()) {
        const r = this.createRefund(p.id, d.refund, d.lifecycle);
        seeded.push({ provider: p.id, id: p.emulator.idOf(r) });
      }
    }
    return seeded;
  }

  private notify(provider: ProviderModule<any>, refund: NativeRefund): void {
    const base = this.notifyUrls.length ? this.notifyUrls[this.notifyTurn++ % this.notifyUrls.length] : this.notifyUrl;
    if (!base) return;
    const n = provider.emulator.notification(refund, this.options.settings[provider.id], this.clock.now());
    if (!n) return;
    const url = `${base.replace(/\/+$/, '')}/${provider.id}`;
    const delays = this.options.notificationRetryDelaysMs ?? NOTIFICATION_RETRY_DELAYS_MS;
    const stop = this.stopRetries.signal;
    const p = (async () => {
      let lastError = '';
      let attempt = 0;
      while (!stop.aborted) {
        attempt++;
        try {
          const res = await undiciRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', ...n.headers }, body: n.body, headersTimeout: 5000, bodyTimeout: 5000 });
          await res.body.dump();
          if (provider.emulator.notificationDelivered ? provider.emulator.notificationDelivered(res.statusCode) : res.statusCode >= 200 && res.statusCode < 300) return;
          lastError = `HTTP ${res.statusCode}`;
          this.logger.warn({ provider: provider.id, status: res.statusCode, attempt }, 'notification rejected by receiver');
        } catch (e) {
          lastError = (e as Error).message;
          this.logger.warn({ provider: provider.id, err: lastError, attempt }, 'notification delivery failed');
        }
        const wait = delays[attempt - 1];
        if (wait === undefined) break;
        await abortableSleep(wait, stop);
      }
      // Stopped (reset, close, a drain without retries) is not given up: only a spent schedule is recorded.
      if (stop.aborted) return;
      this.undelivered.push({ provider: provider.id, url, attempts: attempt, lastError, at: Date.now() });
      // Bounded like the request log: a long `refundhub emulate` whose receiver is down keeps the latest.
      if (this.undelivered.length > this.logSize) this.undelivered.splice(0, this.undelivered.length - this.logSize);
      this.logger.error({ provider: provider.id, attempts: attempt }, 'notification given up on');
    })();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  // ---- HTTP ----

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const path = url.pathname;
    const body = await readBody(req);
    if (body === null) return send(res, { status: 413, body: { error: 'body too large' } });
    const headers = lowerHeaders(req);

    if (path.startsWith('/_emulator/') || path === '/_emulator') return send(res, this.control(req.method ?? 'GET', path, body));

    const match = this.prefixes.find((m) => path === m.prefix || path.startsWith(`${m.prefix}/`));
    if (!match) return send(res, { status: 404, body: { error: `no emulator mounted at ${path}` } });
    const provider = match.provider;
    const st = this.st(provider.id);
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: path + redactQuery(url.search),
      headers: maskHeaders(headers),
      time: new Date(this.clock.now()).toISOString(),
      startMs: wallMs(),
      endMs: null,
      status: null,
    };
    st.requests.push(recorded);
    if (st.requests.length > this.logSize) st.requests.splice(0, st.requests.length - this.logSize);
    // 'close' fires for a finished response and for a dropped socket alike, after the last byte left.
    res.once('close', () => {
      recorded.endMs = wallMs();
      if (res.headersSent) recorded.status = res.statusCode;
      for (const l of this.listeners) l(provider.id, recorded);
    });

    const fixed = this.latencyByProvider.get(provider.id) ?? this.latencyMs;
    if (fixed > 0) await new Promise((r) => setTimeout(r, fixed));

    const fault = st.faults[0];
    if (fault) {
      fault.count -= 1;
      if (fault.count <= 0) st.faults.shift();
      switch (fault.kind) {
        case 'latency':
          await new Promise((r) => setTimeout(r, fault.delayMs ?? 1000));
          break; // then serve normally
        case 'reset':
          req.socket.destroy();
          return;
        case 'malformed':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"id": "truncated", "status": ');
          return;
        case 'rate_limit': {
          const r = provider.emulator.errorResponse(429);
          return send(res, { ...r, headers: { ...r.headers, ...(fault.retryAfterS !== undefined ? { 'retry-after': String(fault.retryAfterS) } : {}) } });
        }
        case 'error':
          return send(res, provider.emulator.errorResponse(fault.status ?? 500));
      }
    }

    const emReq: EmulatorRequest = { method: req.method ?? 'GET', path: path.slice(match.prefix.length) || '/', query: url.searchParams, headers, body };
    const response = provider.emulator.handle(emReq, {
      settings: this.options.settings[provider.id],
      now: () => this.clock.now(),
      findRefund: (id) => st.refunds.get(id),
    });
    send(res, response);
  }

  private control(method: string, path: string, body: Buffer): EmulatorResponse {
    const parts = path.split('/').filter(Boolean); // ['_emulator', provider, action]
    if (method === 'POST' && parts.length === 2 && parts[1] === 'reset') {
      this.reset();
      return { status: 204 };
    }
    if (method === 'DELETE' && parts.length === 2 && parts[1] === 'faults') return { status: 200, body: { cleared: this.clearFaults() } };
    let json: Record<string, unknown> = {};
    if (method === 'POST' && body.length) {
      try {
        const parsed: unknown = JSON.parse(body.toString('utf8'));
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return bad(400, 'body must be a JSON object');
        json = parsed as Record<string, unknown>;
      } catch {
        return bad(400, 'body is not valid JSON');
      }
    }
    if (method === 'POST' && parts.length === 2 && parts[1] === 'latency') return this.latencyControl(json);
    const [, providerId, action] = parts;
    if (!providerId || !isProviderId(providerId)) return bad(404, `unknown provider "${providerId ?? ''}"`);
    if (action === 'latency' && method === 'POST' && parts.length === 3) return this.latencyControl(json, providerId);
    if (action === 'refunds' && method === 'POST') {
      const refund = json.refund ?? {};
      if (typeof refund !== 'object' || refund === null || Array.isArray(refund)) return bad(400, '"refund" must be an object');
      const lifecycle = json.lifecycle ?? [];
      if (!Array.isArray(lifecycle) || !lifecycle.every((s) => s && typeof s.status === 'string' && Number.isFinite(s.afterMs) && s.afterMs >= 0)) {
        return bad(400, '"lifecycle" must be a list of {status: string, afterMs: number >= 0}');
      }
      try {
        const created = this.createRefund(providerId, refund as NativeRefund, lifecycle as LifecycleStep[]);
        return { status: 201, body: { refund: created } };
      } catch (e) {
        return bad(400, (e as Error).message);
      }
    }
    if (action === 'faults' && method === 'POST') {
      const kind = json.kind;
      const count = json.count ?? 1;
      if (typeof kind !== 'string' || !FAULT_KINDS.includes(kind as FaultKind)) return bad(400, `"kind" must be one of ${FAULT_KINDS.join(', ')}`);
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 10_000) return bad(400, '"count" must be an integer from 1 to 10000');
      for (const k of ['status', 'delayMs', 'retryAfterS'] as const) {
        if (json[k] !== undefined && (typeof json[k] !== 'number' || (json[k] as number) < 0)) return bad(400, `"${k}" must be a non-negative number`);
      }
      if (json.status !== undefined && ((json.status as number) < 400 || (json.status as number) > 599)) return bad(400, '"status" must be an HTTP error status (400-599)');
      const fault: Fault = { kind: kind as FaultKind, count };
      if (json.status !== undefined) fault.status = json.status as number;
      if (json.delayMs !== undefined) fault.delayMs = Math.min(json.delayMs as number, 60_000);
      if (json.retryAfterS !== undefined) fault.retryAfterS = json.retryAfterS as number;
      this.injectFault(providerId, fault);
      return { status: 201, body: { fault } };
    }
    if (action === 'faults' && method === 'DELETE' && parts.length === 3) return { status: 200, body: { cleared: this.clearFaults(providerId) } };
    if (action === 'requests' && method === 'GET') return { status: 200, body: { data: this.requests(providerId) } };
    return bad(404, `no control route ${method} ${path}`);
  }

  /** `POST /_emulator[/{provider}]/latency {"delayMs": 100}`: a fixed delay on every request (0 turns it off). */
  private latencyControl(json: Record<string, unknown>, providerId?: ProviderId): EmulatorResponse {
    const delayMs = json.delayMs;
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > 60_000) return bad(400, '"delayMs" must be a number from 0 to 60000');
    this.setLatency(delayMs, providerId);
    return { status: 200, body: { delayMs, ...(providerId ? { provider: providerId } : {}) } };
  }
}

/** Real time with sub-millisecond precision, immune to a test's clock. */
function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

function bad(status: number, message: string): EmulatorResponse {
  return { status, body: { error: message } };
}

function lowerHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(tooBig ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, r: EmulatorResponse): void {
  const headers: Record<string, string> = { ...r.headers };
  let payload: string | undefined;
  if (r.body !== undefined) {
    payload = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  res.writeHead(r.status, headers);
  res.end(payload);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
