import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTransport, type AttemptEvent } from '../transport/http.js';
import { attemptReporter, formatAttempt } from './progress.js';

const base: AttemptEvent = { provider: 'ziina', attempt: 1, maxAttempts: 3, status: null, durationMs: 10_004, timedOut: true, retryInMs: 180 };

describe('formatAttempt', () => {
  it('a timeout that will be retried', () => {
    expect(formatAttempt(base)).toBe('refundhub: ziina: attempt 1 of 3 timed out after 10.0 s; attempt 2 of 3 in 0.2 s...');
  });

  it('an HTTP error and a network error that will be retried', () => {
    expect(formatAttempt({ ...base, attempt: 2, status: 503, timedOut: false, durationMs: 12, retryInMs: 1250 })).toBe(
      'refundhub: ziina: attempt 2 of 3 failed (HTTP 503); attempt 3 of 3 in 1.3 s...',
    );
    expect(formatAttempt({ ...base, provider: 'stan', timedOut: false, error: 'ECONNREFUSED', durationMs: 1 })).toBe(
      'refundhub: stan: attempt 1 of 3 failed (ECONNREFUSED); attempt 2 of 3 in 0.2 s...',
    );
  });

  it('nothing for an attempt no other follows (a success, or the last: the error line says it)', () => {
    expect(formatAttempt({ ...base, retryInMs: undefined })).toBeNull();
    expect(formatAttempt({ ...base, status: 200, timedOut: false, retryInMs: undefined })).toBeNull();
  });
});

describe('attemptReporter', () => {
  const sink = (isTTY: boolean) => {
    const lines: string[] = [];
    return { isTTY, lines, write: (s: string) => void lines.push(s) };
  };

  it('on for a terminal, off for a pipe; REFUNDHUB_PROGRESS=1 / 0 overrides either way', () => {
    expect(attemptReporter(sink(true), {})).toBeTypeOf('function');
    expect(attemptReporter(sink(false), {})).toBeUndefined();
    expect(attemptReporter(sink(false), { REFUNDHUB_PROGRESS: '1' })).toBeTypeOf('function');
    expect(attemptReporter(sink(true), { REFUNDHUB_PROGRESS: '0' })).toBeUndefined();
  });

  it('writes one line per retry', () => {
    const s = sink(true);
    const report = attemptReporter(s, {})!;
    report(base);
    report({ ...base, attempt: 2, retryInMs: 300 });
    report({ ...base, attempt: 3, retryInMs: undefined });
    expect(s.lines).toEqual([
      'refundhub: ziina: attempt 1 of 3 timed out after 10.0 s; attempt 2 of 3 in 0.2 s...\n',
      'refundhub: ziina: attempt 2 of 3 timed out after 10.0 s; attempt 3 of 3 in 0.3 s...\n',
    ]);
  });
});

describe('the transport tells the observer what follows each attempt', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  async function serve(answers: Array<{ status: number; headers?: Record<string, string> }>): Promise<string> {
    let i = 0;
    server = createServer((_req, res) => {
      const a = answers[Math.min(i++, answers.length - 1)]!;
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).end('{}');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/`;
  }

  it('retryInMs is the wait actually slept, maxAttempts is set, and the last attempt has none', async () => {
    const url = await serve([{ status: 503 }]);
    const events: AttemptEvent[] = [];
    const sleeps: number[] = [];
    const t = createTransport({ sleep: async (ms) => void sleeps.push(ms), onAttempt: (e) => events.push(e) });
    await t.send({ provider: 'ziina', method: 'GET', url, headers: () => ({}) });
    await t.close();
    expect(events.map((e) => [e.attempt, e.maxAttempts, e.status])).toEqual([[1, 3, 503], [2, 3, 503], [3, 3, 503]]);
    expect(events.map((e) => e.retryInMs)).toEqual([...sleeps, undefined]);
  });

  it('a provider that never answers: each attempt is reported as timed out, the line says so', async () => {
    server = createServer(() => {
      // Never answers.
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const events: AttemptEvent[] = [];
    const t = createTransport({ timeoutMs: 150, sleep: async () => {}, onAttempt: (e) => events.push(e) });
    await expect(t.send({ provider: 'gr4vy', method: 'GET', url, headers: () => ({}) })).rejects.toThrow(/timed out/);
    await t.close();
    expect(events.map((e) => [e.attempt, e.timedOut, e.retryInMs !== undefined])).toEqual([[1, true, true], [2, true, true], [3, true, false]]);
    // The measured time, not the setting: 0.2 s when idle, more when a loaded machine's timers fire late.
    expect(formatAttempt(events[0]!)).toMatch(/^refundhub: gr4vy: attempt 1 of 3 timed out after \d+\.\d s; attempt 2 of 3 in \d\.\d s\.\.\.$/);
  });

  it('a Retry-After longer than the transport waits means no retry follows, and none is announced', async () => {
    const url = await serve([{ status: 429, headers: { 'retry-after': '120' } }]);
    const events: AttemptEvent[] = [];
    const t = createTransport({ sleep: async () => {}, onAttempt: (e) => events.push(e) });
    const res = await t.send({ provider: 'ziina', method: 'GET', url, headers: () => ({}) });
    await t.close();
    expect(res.status).toBe(429);
    expect(events).toHaveLength(1);
    expect(events[0]!.retryInMs).toBeUndefined();
    expect(formatAttempt(events[0]!)).toBeNull();
  });
});
