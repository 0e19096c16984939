import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { RefundHubError } from '../errors.js';
import {
  type AttemptEvent,
  createTransport,
  type HttpRequest,
  joinUrl,
  parseRetryAfter,
  type Transport,
  type TransportOptions,
} from './http.js';
import { rejectionOf } from '../../test/support/errors.js';

/** One scripted step per request; the last step repeats. */
type Step = (req: IncomingMessage, res: ServerResponse) => void;

interface Scripted {
  url: string;
  hits: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function scriptServer(steps: Step[]): Promise<Scripted> {
  const hits: Scripted['hits'] = [];
  const server: Server = createServer((req, res) => {
    const hit = { method: req.method!, url: req.url!, headers: req.headers, body: '' };
    hits.push(hit);
    const step = steps[Math.min(hits.length - 1, steps.length - 1)]!;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hit.body = Buffer.concat(chunks).toString();
      step(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const s: Scripted = {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  cleanups.push(s.close);
  return s;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Step => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const raw = (status: number, body: string, headers: Record<string, string> = {}): Step => (_req, res) => {
  res.writeHead(status, headers);
  res.end(body);
};
const destroy: Step = (req) => req.socket.destroy();

interface Harness {
  transport: Transport;
  sleeps: number[];
  attempts: AttemptEvent[];
}

function transportWith(options: TransportOptions = {}): Harness {
  const sleeps: number[] = [];
  const attempts: AttemptEvent[] = [];
  const transport = createTransport({
    sleep: async (ms) => void sleeps.push(ms),
    onAttempt: (e) => attempts.push(e),
    ...options,
  });
  cleanups.push(() => transport.close());
  return { transport, sleeps, attempts };
}

const get = (url: string, headers: HttpRequest['headers'] = () => ({})): HttpRequest => ({ provider: 'ziina', method: 'GET', url, headers });


describe('retries', () => {
  it('retries 500, 502 and 503, then returns the success', async () => {
    const s = await scriptServer([json(500, {}), json(502, {}), json(503, {}), json(200, { id: 'r1' })]);
    const h = transportWith({ maxAttempts: 4 });
    await expect(h.transport.getJson(get(`${s.url}/refunds/r1`))).resolves.toEqual({ id: 'r1' });
    expect(s.hits).toHaveLength(4);
    expect(h.attempts.map((a) => [a.attempt, a.status])).toEqual([[1, 500], [2, 502], [3, 503], [4, 200]]);
    expect(h.sleeps).toHaveLength(3);
  });

  it('defaults to 3 attempts', async () => {
    const s = await scriptServer([json(503, {})]);
    const h = transportWith();
    const res = await h.transport.send(get(s.url));
    expect(res.status).toBe(503);
    expect(s.hits).toHaveLength(3);
    expect(h.sleeps).toHaveLength(2);
  });

  it.each([
    [400, 'provider_error', false],
    [401, 'authentication_failed', false],
    [403, 'authentication_failed', false],
    [404, 'not_found', false],
  ] as const)('does not retry %i (-> %s)', async (status, code, retryable) => {
    const s = await scriptServer([json(status, { error: 'x' })]);
    const h = transportWith({ maxAttempts: 5 });
    const res = await h.transport.send(get(s.url));
    expect(res.status).toBe(status);
    expect(s.hits).toHaveLength(1);
    const err = await rejectionOf(h.transport.getJson(get(s.url)));
    expect(s.hits).toHaveLength(2);
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(retryable);
    expect(err.httpStatus).toBe(status);
    expect(err.provider).toBe('ziina');
    expect(h.sleeps).toEqual([]);
  });

  it('retries a network error (server destroys the socket)', async () => {
    const s = await scriptServer([destroy, json(200, { ok: true })]);
    const h = transportWith();
    await expect(h.transport.getJson(get(s.url))).resolves.toEqual({ ok: true });
    expect(s.hits).toHaveLength(2);
    expect(h.attempts).toHaveLength(2);
    expect(h.attempts[0]!.status).toBeNull();
    expect(h.attempts[0]!.error).toBeTruthy();
    expect(h.attempts[1]!.status).toBe(200);
    expect(h.sleeps).toHaveLength(1);
  });

  it('exhausted network errors -> provider_error, retryable', async () => {
    const s = await scriptServer([destroy]);
    const h = transportWith({ maxAttempts: 3 });
    const err = await rejectionOf(h.transport.send(get(s.url)));
    expect(s.hits).toHaveLength(3);
    expect(err.code).toBe('provider_error');
    expect(err.retryable).toBe(true);
    expect(err.provider).toBe('ziina');
    expect(err.message).toMatch(/^ziina: unreachable \(/);
    expect(h.sleeps).toHaveLength(2);
  });

  it('connection refused is retried and ends in provider_error', async () => {
    const s = await scriptServer([json(200, {})]);
    await s.close();
    const h = transportWith({ maxAttempts: 2 });
    const err = await rejectionOf(h.transport.getJson(get(s.url)));
    expect(err.code).toBe('provider_error');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('ECONNREFUSED');
    expect(h.attempts.map((a) => a.error)).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
  });

  it('exhausted 5xx -> getJson provider_error, retryable, with the status', async () => {
    const s = await scriptServer([json(502, { message: 'bad gateway' })]);
    const h = transportWith({ maxAttempts: 3 });
    const err = await rejectionOf(h.transport.getJson(get(s.url)));
    expect(s.hits).toHaveLength(3);
    expect(err.code).toBe('provider_error');
    expect(err.retryable).toBe(true);
    expect(err.httpStatus).toBe(502);
    expect(err.message).toBe('ziina: provider error (HTTP 502)');
  });
});

describe('Retry-After and 429', () => {
  it('waits the seconds of Retry-After: 1, then succeeds', async () => {
    const s = await scriptServer([json(429, {}, { 'retry-after': '1' }), json(200, { ok: 1 })]);
    const h = transportWith();
    await expect(h.transport.getJson(get(s.url))).resolves.toEqual({ ok: 1 });
    expect(h.sleeps).toEqual([1000]);
    expect(s.hits).toHaveLength(2);
  });

  it('waits until an HTTP-date Retry-After (measured on the injected clock)', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const at = new Date(clock.now() + 3000).toUTCString();
    const s = await scriptServer([json(429, {}, { 'retry-after': at }), json(503, {}, { 'retry-after': at }), json(200, { ok: 2 })]);
    const h = transportWith({ clock });
    await expect(h.transport.getJson(get(s.url))).resolves.toEqual({ ok: 2 });
    expect(h.sleeps).toEqual([3000, 3000]);
  });

  it('a Retry-After longer than maxDelayMs returns at once; getJson throws rate_limited with retryAfterMs', async () => {
    const s = await scriptServer([json(429, { error: 'slow down' }, { 'retry-after': '120' }), json(200, {})]);
    const h = transportWith({ maxDelayMs: 5000, maxAttempts: 5 });
    const res = await h.transport.send(get(s.url));
    expect(res.status).toBe(429);
    expect(s.hits).toHaveLength(1);
    expect(h.sleeps).toEqual([]);

    const s2 = await scriptServer([json(429, {}, { 'retry-after': '120' })]);
    const err = await rejectionOf(h.transport.getJson(get(s2.url)));
    expect(s2.hits).toHaveLength(1);
    expect(err.code).toBe('rate_limited');
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(120_000);
    expect(err.httpStatus).toBe(429);
    expect(err.message).toBe('ziina: rate limited, retry after 120 s');
    expect(h.sleeps).toEqual([]);
  });

  it('retryRateLimited: false (the tracking service) surfaces even a short 429 at once, and still retries a 5xx', async () => {
    const s = await scriptServer([json(429, {}, { 'retry-after': '1' }), json(200, { ok: 1 })]);
    const h = transportWith({ retryRateLimited: false, maxAttempts: 3 });
    const err = await rejectionOf(h.transport.getJson(get(s.url)));
    expect(s.hits).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
    expect([err.code, err.retryAfterMs]).toEqual(['rate_limited', 1000]);
    const s2 = await scriptServer([json(503, {}), json(200, { ok: 2 })]);
    await expect(h.transport.getJson(get(s2.url))).resolves.toEqual({ ok: 2 });
    expect(s2.hits).toHaveLength(2);
  });

  it('429 without Retry-After backs off and, when exhausted, is rate_limited without retryAfterMs', async () => {
    const s = await scriptServer([json(429, {})]);
    const h = transportWith({ maxAttempts: 2, random: () => 0.5, baseDelayMs: 100 });
    const err = await rejectionOf(h.transport.getJson(get(s.url)));
    expect(s.hits).toHaveLength(2);
    expect(h.sleeps).toEqual([50]);
    expect(err.code).toBe('rate_limited');
    expect(err.retryAfterMs).toBeUndefined();
    expect(err.message).toBe('ziina: rate limited');
  });
});

describe('backoff', () => {
  it('is full jitter bounded by baseDelayMs * 2^(n-1)', async () => {
    const s = await scriptServer([json(503, {})]);
    const top = transportWith({ maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 10_000, random: () => 0.999999 });
    await top.transport.send(get(s.url));
    expect(top.sleeps).toEqual([100, 200, 400, 800]);

    const half = transportWith({ maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 10_000, random: () => 0.5 });
    await half.transport.send(get(s.url));
    expect(half.sleeps).toEqual([50, 100, 200, 400]);

    const zero = transportWith({ maxAttempts: 3, baseDelayMs: 100, random: () => 0 });
    await zero.transport.send(get(s.url));
    expect(zero.sleeps).toEqual([0, 0]);
  });

  it('is capped by maxDelayMs', async () => {
    const s = await scriptServer([json(500, {})]);
    const h = transportWith({ maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 300, random: () => 0.999999 });
    await h.transport.send(get(s.url));
    expect(h.sleeps).toEqual([100, 200, 300, 300, 300]);
  });

  it('every delay stays within [0, base * 2^(n-1)] for arbitrary random values', async () => {
    const s = await scriptServer([json(503, {})]);
    const values = [0.13, 0.99, 0.42, 0.77, 0.01, 0.5, 0.999, 0.25];
    let i = 0;
    const h = transportWith({ maxAttempts: 9, baseDelayMs: 50, maxDelayMs: 1_000_000, random: () => values[i++ % values.length]! });
    await h.transport.send(get(s.url));
    expect(h.sleeps).toHaveLength(8);
    h.sleeps.forEach((ms, k) => {
      const bound = 50 * 2 ** k;
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual(bound);
      expect(ms).toBe(Math.round(values[k]! * bound));
    });
  });
});

describe('per-attempt behaviour', () => {
  it('calls the headers callback once per attempt and sends each fresh value', async () => {
    const s = await scriptServer([json(500, {}), json(503, {}), json(200, {})]);
    const h = transportWith();
    let calls = 0;
    await h.transport.getJson(get(s.url, async () => ({ 'x-attempt': String(++calls), authorization: 'Bearer t' })));
    expect(calls).toBe(3);
    expect(s.hits.map((x) => x.headers['x-attempt'])).toEqual(['1', '2', '3']);
    expect(s.hits.every((x) => x.headers.authorization === 'Bearer t')).toBe(true);
  });

  it('sends method and body', async () => {
    const s = await scriptServer([json(200, { ok: true })]);
    const h = transportWith();
    const out = await h.transport.getJson({ provider: 'onekey', method: 'POST', url: `${s.url}/x`, headers: () => ({ 'content-type': 'application/json' }), body: '{"a":1}' });
    expect(out).toEqual({ ok: true });
    expect(s.hits).toEqual([expect.objectContaining({ method: 'POST', url: '/x', body: '{"a":1}' })]);
  });

  it('a sub-second timeout fails the attempt with provider_error "timed out"', async () => {
    // The server answers after 10 s: an elapsed time well under that shows the client gave up on its
    // own (the bound is loose so a loaded machine's slow timers cannot fail it; 3 s left ~1.6 s).
    const s = await scriptServer([(_req, res) => void setTimeout(() => res.writeHead(200).end('{}'), 10_000).unref()]);
    const h = transportWith({ timeoutMs: 200, maxAttempts: 2 });
    const started = Date.now();
    const err = await rejectionOf(h.transport.getJson(get(s.url)));
    const elapsed = Date.now() - started;
    expect(err.code).toBe('provider_error');
    expect(err.retryable).toBe(true);
    expect(err.message).toBe('ziina: timed out after 200 ms');
    expect(s.hits).toHaveLength(2);
    expect(h.sleeps).toHaveLength(1);
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(6000);
  });

  it('a body dripped slower than the deadline fails the attempt, although each chunk resets undici\'s idle timer', async () => {
    // Headers at once, then a byte every 300 ms for 15 s: never idle for the 1.5 s timeout, yet far
    // past it. Giving up well before the body ends is the point; the 7.5 s bound leaves a loaded
    // machine room (the deadline sweep runs on timers, which such a machine delays).
    const s = await scriptServer([
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"a":"');
        const t = setInterval(() => res.write('x'), 300);
        t.unref();
        setTimeout(() => {
          clearInterval(t);
          res.end('"}');
        }, 15_000).unref();
      },
    ]);
    const h = transportWith({ timeoutMs: 1500, maxAttempts: 1 });
    const started = Date.now();
    const err = await rejectionOf(h.transport.getJson(get(s.url)));
    expect(err.code).toBe('provider_error');
    expect(err.message).toBe('ziina: timed out after 1500 ms');
    expect(Date.now() - started).toBeLessThan(7500);
  });

  it('a response over maxResponseBytes is invalid_response, not retried', async () => {
    const s = await scriptServer([raw(200, JSON.stringify({ pad: 'x'.repeat(20_000) }), { 'content-type': 'application/json' })]);
    const h = transportWith({ maxResponseBytes: 10_000 });
    const err = await rejectionOf(h.transport.getJson(get(s.url)));
    expect(err.code).toBe('invalid_response');
    expect(err.message).toBe('ziina: response larger than 10000 bytes');
    expect(s.hits).toHaveLength(1);
  });

  it('2xx with bad JSON -> invalid_response', async () => {
    const s = await scriptServer([raw(200, '<html>oops</html>', { 'content-type': 'text/html' })]);
    const h = transportWith();
    const err = await rejectionOf(h.transport.getJson(get(s.url)));
    expect(s.hits).toHaveLength(1);
    expect(err.code).toBe('invalid_response');
    expect(err.httpStatus).toBe(200);
    expect(err.message).toBe('ziina: response is not valid JSON (HTTP 200)');
  });

  it('2xx with an empty body -> invalid_response', async () => {
    const s = await scriptServer([raw(204, '')]);
    const h = transportWith();
    const err = await rejectionOf(h.transport.getJson(get(s.url)));
    expect(err.code).toBe('invalid_response');
    expect(err.httpStatus).toBe(204);
  });

  it('a custom ErrorClassifier wins over the default, and sees the parsed body', async () => {
    const s = await scriptServer([json(404, { error: { code: 'REFUND_EXPIRED' } })]);
    const h = transportWith();
    const seen: unknown[] = [];
    const err = await rejectionOf(
      h.transport.getJson(get(s.url), (res, parsed) => {
        seen.push([res.status, parsed]);
        return new RefundHubError('invalid_input', 'expired', { provider: 'ziina', httpStatus: res.status });
      }),
    );
    expect(err.code).toBe('invalid_input');
    expect(err.message).toBe('expired');
    expect(seen).toEqual([[404, { error: { code: 'REFUND_EXPIRED' } }]]);

    // Returning undefined keeps the default.
    const fallback = await rejectionOf(h.transport.getJson(get(s.url), () => undefined));
    expect(fallback.code).toBe('not_found');
  });

  it('the classifier is not consulted for 2xx', async () => {
    const s = await scriptServer([json(200, { ok: true })]);
    const h = transportWith();
    let called = false;
    await expect(h.transport.getJson(get(s.url), () => ((called = true), new RefundHubError('invalid_input', 'x')))).resolves.toEqual({ ok: true });
    expect(called).toBe(false);
  });

  it('joinUrl keeps the base path prefix on a real request', async () => {
    const s = await scriptServer([json(200, {})]);
    const h = transportWith();
    await h.transport.getJson(get(joinUrl(`${s.url}/api/`, '/v1/refunds/r%201')));
    expect(s.hits[0]!.url).toBe('/api/v1/refunds/r%201');
  });
});

describe('joinUrl', () => {
  it.each([
    ['https://api-v2.ziina.com/api', '/refund/abc', 'https://api-v2.ziina.com/api/refund/abc'],
    ['https://api-v2.ziina.com/api/', 'refund/abc', 'https://api-v2.ziina.com/api/refund/abc'],
    ['https://api-v2.ziina.com/api//', '//refund/abc', 'https://api-v2.ziina.com/api/refund/abc'],
    ['https://api-stg.onekeypayments.com/v3', 'refunds/1', 'https://api-stg.onekeypayments.com/v3/refunds/1'],
    ['https://service.tazapay.com', '/v3/refund/x', 'https://service.tazapay.com/v3/refund/x'],
  ])('%s + %s', (base, path, expected) => {
    expect(joinUrl(base, path)).toBe(expected);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('1', now)).toBe(1000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 2 ', now)).toBe(2000);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter(['3', '9'], now)).toBe(3000);
  });

  it('reads HTTP-dates relative to now, never negative', () => {
    expect(parseRetryAfter(new Date(now + 30_000).toUTCString(), now)).toBe(30_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:00:00 GMT', now)).toBe(0);
  });

  it('is undefined for absent or unparseable values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter([], now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('1e3', now)).toBeUndefined();
  });
});
