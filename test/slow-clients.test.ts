import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/logger.js';
import { buildApp, DEFAULT_HTTP_TIMEOUTS, httpTimeoutsFromEnv, listen } from '../src/server/app.js';
import { createRefundHub, type RefundHub } from '../src/service.js';
import { tempDir } from './support/hub.js';
import { pollUntil } from './support/wait.js';

/**
 * Slow clients against a real listening server: a request that never finishes arriving must not
 * hold its socket. Deadlines are shortened here; the defaults are checked separately.
 */

let tmp: ReturnType<typeof tempDir>;
let hub: RefundHub;
let app: FastifyInstance;
let port: number;

beforeAll(async () => {
  tmp = tempDir();
  hub = await createRefundHub({ databaseUrl: `sqlite:${join(tmp.dir, 'slow.db')}`, env: {}, logger: silentLogger });
  app = buildApp(hub, { logLevel: 'silent', timeouts: { requestMs: 400, headersMs: 300, checkIntervalMs: 50, keepAliveMs: 300 } });
  port = Number(new URL(await listen(app, 0, '127.0.0.1')).port);
});

afterAll(async () => {
  await app?.close();
  await hub?.stop();
  tmp?.cleanup();
});

/** A raw socket that records what it receives and whether it was closed. */
async function rawSocket(): Promise<{ socket: Socket; received: () => string; closed: () => boolean }> {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  let closed = false;
  socket.on('data', (d) => (data += d.toString('utf8')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  await new Promise<void>((ok, fail) => socket.once('connect', ok).once('error', fail));
  return { socket, received: () => data, closed: () => closed };
}

describe('slow clients', () => {
  it('a body shorter than its Content-Length on the notification route gets 408 and the socket is closed', async () => {
    const c = await rawSocket();
    c.socket.write('POST /v1/notifications/stan HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":1');
    await pollUntil(() => c.closed(), { timeoutMs: 5_000, what: 'the server to close the socket' });
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(c.received()).toContain('"request_timeout"');
  });

  it('headers that never end are cut off too', async () => {
    const c = await rawSocket();
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a');
    await pollUntil(() => c.closed(), { timeoutMs: 5_000, what: 'the server to close the socket' });
  });

  it('an idle keep-alive connection is closed after keepAliveMs', async () => {
    const c = await rawSocket();
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await pollUntil(() => c.received().includes('"status":"ok"'), { timeoutMs: 5_000, what: 'the health answer' });
    await pollUntil(() => c.closed(), { timeoutMs: 5_000, what: 'the idle keep-alive socket to close' });
  });

  it('the defaults bound every phase, and serve takes them from the environment', () => {
    const fresh = buildApp(hub, { logLevel: 'silent' });
    expect(fresh.server.requestTimeout).toBe(DEFAULT_HTTP_TIMEOUTS.requestMs);
    expect(fresh.server.headersTimeout).toBe(DEFAULT_HTTP_TIMEOUTS.headersMs);
    expect(fresh.server.keepAliveTimeout).toBe(DEFAULT_HTTP_TIMEOUTS.keepAliveMs);
    expect(fresh.server.timeout).toBe(DEFAULT_HTTP_TIMEOUTS.idleMs);
    expect(DEFAULT_HTTP_TIMEOUTS.requestMs).toBeLessThanOrEqual(10_000);
    expect(httpTimeoutsFromEnv({ REFUNDHUB_HTTP_REQUEST_TIMEOUT: '30', REFUNDHUB_HTTP_KEEP_ALIVE_TIMEOUT: '75' })).toMatchObject({ requestMs: 30_000, keepAliveMs: 75_000 });
    expect(() => httpTimeoutsFromEnv({ REFUNDHUB_HTTP_REQUEST_TIMEOUT: '10s' })).toThrow(expect.objectContaining({ code: 'not_configured' }));
    void fresh.close();
  });
});
