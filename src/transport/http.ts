import { Agent, errors as undiciErrors, request as undiciRequest, type Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import { sleep, systemClock } from '../clock.js';
import type { ProviderId } from '../domain/refund.js';
import { RefundHubError } from '../errors.js';
import { redactUrlsInText } from '../redact.js';

/**
 * The one HTTP layer every connector uses: per-attempt timeouts, retries of network errors,
 * 5xx and 429 with jittered exponential backoff and Retry-After, and classification of the
 * final answer into RefundHub error codes. Connectors declare requests; they never loop.
 */

export interface TransportOptions {
  /** Per-attempt timeout (headers and body), default 10 s. */
  timeoutMs?: number;
  /** Attempts in all, default 3. */
  maxAttempts?: number;
  /** First backoff step, default 200 ms; doubles per attempt, full jitter. */
  baseDelayMs?: number;
  /** Largest response body accepted, default 5 MiB (a refund is a few KiB); larger is invalid_response. */
  maxResponseBytes?: number;
  /** Longest we will wait inside one call (backoff or Retry-After), default 5 s. Longer asks are surfaced as rate_limited. */
  maxDelayMs?: number;
  /**
   * Whether a 429 is retried inside the call (after its Retry-After, when that is within
   * `maxDelayMs`). Default true: a one-off lookup (`refundhub get`) just waits. The tracking service
   * turns it off: every 429 must reach the spine, which records the provider's pause for every
   * process on the database (a call that waited quietly here would leave the other workers calling).
   */
  retryRateLimited?: boolean;
  /**
   * Largest `Retry-After` believed, default 1 hour (REFUNDHUB_MAX_RETRY_AFTER): a provider's
   * `Retry-After: 3000000000` must not park a refund for a century. Longer asks are cut to this.
   */
  maxRetryAfterMs?: number;
  dispatcher?: Dispatcher;
  clock?: Clock;
  /** Replaceable for tests of the retry schedule. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Observes each attempt (for metrics). */
  onAttempt?: (event: AttemptEvent) => void;
}

export interface AttemptEvent {
  provider: ProviderId;
  attempt: number;
  status: number | null;
  durationMs: number;
  error?: string;
  /** Attempts allowed in all, so an observer can say "attempt 2 of 3". */
  maxAttempts: number;
  /** The attempt ran out of time (rather than failing fast). */
  timedOut?: boolean;
  /** Set when another attempt follows: the wait before it, in ms. */
  retryInMs?: number;
}

export interface HttpRequest {
  provider: ProviderId;
  method: 'GET' | 'POST';
  url: string;
  /** Built per attempt: signatures over a timestamp (OneKey) or short-lived tokens (Gr4vy) stay fresh. */
  headers: () => Record<string, string> | Promise<Record<string, string>>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Transport {
  /** Sends with retries; resolves with the final response whatever its status, throws only when no response came. */
  send(req: HttpRequest): Promise<HttpResponse>;
  /** Sends and classifies: 2xx JSON is returned parsed, everything else becomes a RefundHubError. */
  getJson(req: HttpRequest, classify?: ErrorClassifier): Promise<unknown>;
  close(): Promise<void>;
}

/** Lets a connector read a provider's native error body; returning undefined keeps the default. */
export type ErrorClassifier = (res: HttpResponse, parsed: unknown) => RefundHubError | undefined;

const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/** Default cap on a provider's `Retry-After`: long enough for any real throttle, short enough that a bogus value costs an hour. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 60 * 60_000;

/** A `Retry-After` (seconds or HTTP date) in ms from `now`, at most `maxMs` (default one hour). */
export function parseRetryAfter(value: string | string[] | undefined, now: number, maxMs: number = DEFAULT_MAX_RETRY_AFTER_MS): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  let ms: number;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) ms = Math.round(Number(v) * 1000);
  else {
    const t = Date.parse(v);
    if (Number.isNaN(t)) return undefined;
    ms = t - now;
  }
  return Math.min(Math.max(0, ms), maxMs);
}

/**
 * The longest one `send()` can take with these options: attempts x (timeout + longest wait). A
 * lease over a provider call (the poller's) must outlive this.
 */
export function worstCaseSendMs(options: Pick<TransportOptions, 'timeoutMs' | 'maxAttempts' | 'maxDelayMs'> = {}): number {
  return Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS) * ((options.timeoutMs ?? DEFAULT_TIMEOUT_MS) + (options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS));
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_MAX_DELAY_MS = 5_000;

function networkErrorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Builds a URL from a base (which may carry a path prefix) and a path, without losing the prefix. */
export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + '/' + path.replace(/^\/+/, '');
}

export function createTransport(options: TransportOptions = {}): Transport {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const baseDelayMs = options.baseDelayMs ?? 200;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const retryRateLimited = options.retryRateLimited ?? true;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  const clock = options.clock ?? systemClock;
  const wait = options.sleep ?? ((ms: number) => sleep(ms));
  const random = options.random ?? Math.random;
  const maxResponseBytes = options.maxResponseBytes ?? 5 * 1024 * 1024;
  const ownDispatcher = options.dispatcher
    ? undefined
    : new Agent({ keepAliveTimeout: 10_000, connections: 64, connect: { timeout: timeoutMs }, maxResponseSize: maxResponseBytes });
  const dispatcher = options.dispatcher ?? ownDispatcher!;

  const backoff = (attempt: number) => Math.round(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));

  // Whole-attempt deadlines. undici's bodyTimeout is an idle timer that every chunk resets, so a
  // provider dripping a byte at a time would hold an attempt forever; one sweeper destroys bodies
  // past their deadline. (An AbortSignal per attempt would do it too, at ~20 us per call.)
  const deadlines = new Set<{ at: number; body: { destroy(err: Error): unknown } }>();
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    // Idle for a whole tick: stop ticking until the next request (a busy client keeps one timer).
    if (deadlines.size === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
      return;
    }
    const now = performance.now();
    for (const d of deadlines) {
      if (d.at <= now) {
        deadlines.delete(d);
        d.body.destroy(Object.assign(new Error('attempt deadline passed'), { name: 'TimeoutError' }));
      }
    }
  };

  async function attemptOnce(req: HttpRequest, started: number): Promise<HttpResponse> {
    // Most connectors build headers synchronously; skip the extra await (a microtask per call) for them.
    const built = req.headers();
    const headers = built instanceof Promise ? await built : built;
    const res = await undiciRequest(req.url, {
      method: req.method,
      headers,
      body: req.body,
      dispatcher,
      // Waiting for headers is bounded by undici's own timer (plus the agent's connect timeout).
      // Its timers tick at about 1 s, so only a sub-second timeout gets a precise signal of its own.
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(timeoutMs < 1000 ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
    });
    const deadline = { at: started + timeoutMs, body: res.body };
    deadlines.add(deadline);
    if (!sweeper) {
      sweeper = setInterval(sweep, Math.min(250, timeoutMs));
      sweeper.unref();
    }
    try {
      const body = await res.body.text();
      return { status: res.statusCode, headers: res.headers, body };
    } finally {
      deadlines.delete(deadline);
    }
  }

  async function send(req: HttpRequest): Promise<HttpResponse> {
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let res: HttpResponse;
      try {
        res = await attemptOnce(req, started);
      } catch (e) {
        const code = networkErrorCode(e);
        if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
          throw new RefundHubError('invalid_response', `${req.provider}: response larger than ${maxResponseBytes} bytes`, { provider: req.provider, retryable: false, cause: e });
        }
        const timedOut = (e as Error)?.name === 'TimeoutError' || (e as Error)?.name === 'AbortError' || code?.includes('TIMEOUT');
        const retryable = timedOut || (code !== undefined && RETRYABLE_NETWORK_CODES.has(code)) || e instanceof undiciErrors.SocketError;
        const retryInMs = retryable && attempt < maxAttempts ? backoff(attempt) : undefined;
        options.onAttempt?.({ provider: req.provider, attempt, maxAttempts, status: null, durationMs: performance.now() - started, error: code ?? (e as Error)?.name, timedOut: !!timedOut, retryInMs });
        if (retryInMs !== undefined) {
          await wait(retryInMs);
          continue;
        }
        // An error's own text may quote the URL, and a base URL may carry credentials.
        const what = timedOut ? `timed out after ${timeoutMs} ms` : `unreachable (${code ?? redactUrlsInText((e as Error)?.message ?? 'network error')})`;
        throw new RefundHubError('provider_error', `${req.provider}: ${what}`, { provider: req.provider, retryable: true, cause: e });
      }
      const durationMs = performance.now() - started;
      const retryableStatus = (res.status === 429 && retryRateLimited) || res.status >= 500;
      const retryAfter = retryableStatus && attempt < maxAttempts ? parseRetryAfter(res.headers['retry-after'], clock.now(), maxRetryAfterMs) : undefined;
      // A provider asking for a long pause is better served by the caller's schedule than by holding a socket here.
      const retryInMs = !retryableStatus || attempt >= maxAttempts || (retryAfter !== undefined && retryAfter > maxDelayMs) ? undefined : (retryAfter ?? backoff(attempt));
      options.onAttempt?.({ provider: req.provider, attempt, maxAttempts, status: res.status, durationMs, retryInMs });
      if (retryInMs === undefined) return res;
      await wait(retryInMs);
    }
  }

  async function getJson(req: HttpRequest, classify?: ErrorClassifier): Promise<unknown> {
    const res = await send(req);
    let parsed: unknown;
    let parseFailed = false;
    if (res.body.length > 0) {
      try {
        parsed = JSON.parse(res.body);
      } catch {
        parseFailed = true;
      }
    }
    if (res.status >= 200 && res.status < 300) {
      if (parseFailed || parsed === undefined) {
        throw new RefundHubError('invalid_response', `${req.provider}: response is not valid JSON (HTTP ${res.status})`, { provider: req.provider, httpStatus: res.status, retryable: false });
      }
      return parsed;
    }
    const custom = classify?.(res, parsed);
    if (custom) throw custom;
    throw classifyStatus(req.provider, res, clock.now(), maxRetryAfterMs);
  }

  return {
    send,
    getJson,
    async close() {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      await ownDispatcher?.close();
    },
  };
}

/** Default mapping from an HTTP status to an error code; a 429's `Retry-After` is capped at `maxRetryAfterMs`. */
export function classifyStatus(provider: ProviderId, res: HttpResponse, now: number = Date.now(), maxRetryAfterMs: number = DEFAULT_MAX_RETRY_AFTER_MS): RefundHubError {
  const s = res.status;
  const opts = { provider, httpStatus: s };
  if (s === 401 || s === 403) return new RefundHubError('authentication_failed', `${provider}: credentials rejected (HTTP ${s})`, { ...opts, retryable: false });
  if (s === 404) return new RefundHubError('not_found', `${provider}: refund not found`, { ...opts, retryable: false });
  if (s === 429) {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'], now, maxRetryAfterMs);
    return new RefundHubError('rate_limited', `${provider}: rate limited${retryAfterMs !== undefined ? `, retry after ${Math.ceil(retryAfterMs / 1000)} s` : ''}`, { ...opts, retryable: true, retryAfterMs });
  }
  if (s >= 500) return new RefundHubError('provider_error', `${provider}: provider error (HTTP ${s})`, { ...opts, retryable: true });
  return new RefundHubError('provider_error', `${provider}: unexpected HTTP ${s}`, { ...opts, retryable: false });
}
