import { connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/logger.js';
import { buildApp, listen } from '../src/server/app.js';
import { createRefundHub, type RefundHub } from '../src/service.js';
import { tempDir } from './support/hub.js';
import { pollUntil } from './support/wait.js';

/** A client hanging up mid-request is routine: logged at info without a stack, never as a failure of ours. */

let tmp: ReturnType<typeof tempDir>;
let hub: RefundHub;
let app: FastifyInstance;
let port: number;
const lines: Array<{ level: number; msg: string; err?: unknown; [k: string]: unknown }> = [];

beforeAll(async () => {
  tmp = tempDir();
  hub = await createRefundHub({ databaseUrl: `sqlite:${join(tmp.dir, 'abort.db')}`, env: {}, logger: silentLogger });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  app = buildApp(hub, { logger: pino({ level: 'debug' }, sink) });
  port = Number(new URL(await listen(app, 0, '127.0.0.1')).port);
});

afterAll(async () => {
  await app?.close();
  await hub?.stop();
  tmp?.cleanup();
});

/** Sends `head` and part of a body, waits until the server has the request, then resets the connection. */
async function hangUpMidBody(head: string): Promise<void> {
  const before = lines.length;
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((ok, fail) => socket.once('connect', ok).once('error', fail));
  // Headers parsed: Node hands the request to Fastify, which is now reading the body.
  const received = new Promise<void>((ok) => app.server.once('request', () => ok()));
  socket.write(head);
  await received;
  socket.resetAndDestroy();
  await pollUntil(() => lines.slice(before).some((l) => /client closed the connection/.test(l.msg)), { timeoutMs: 5_000, what: 'the abort to be logged' });
}

describe('a client that drops mid-request', () => {
  it('mid-body on the notification route: one info line, no error, no stack', async () => {
    const start = lines.length;
    await hangUpMidBody('POST /v1/notifications/stan HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"refund_id":');
    const logged = lines.slice(start);
    const abort = logged.find((l) => /client closed the connection/.test(l.msg))!;
    expect(abort).toMatchObject({ level: 30, code: 'ECONNRESET' });
    expect(abort.err).toBeUndefined();
    expect(logged.filter((l) => l.level >= 40)).toEqual([]);
    expect(JSON.stringify(logged)).not.toMatch(/stack|request failed/);
  });
});
