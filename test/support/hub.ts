import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { RefundEvent } from '../../src/domain/events.js';
import { silentLogger } from '../../src/logger.js';
import { buildApp, listen, type BuildAppOptions } from '../../src/server/app.js';
import { createApiKey, type ApiScope } from '../../src/server/auth.js';
import { createRefundHub, type CreateRefundHubOptions, type RefundHub } from '../../src/service.js';
import { verifyWebhook } from '../../src/signing/webhook.js';
import type { RunningEmulator } from './emulator.js';

/** A temp directory removed by `cleanup()`. */
export function tempDir(prefix = 'refundhub-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunningHub {
  hub: RefundHub;
  app: FastifyInstance;
  url: string;
  dbFile: string;
  key(scopes: readonly ApiScope[]): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real hub on a real SQLite file, its API listening on 127.0.0.1, providers pointing at the
 * emulator (whose notifications are wired to this API). Loops are not started unless asked.
 */
export async function startHub(
  emulator: RunningEmulator,
  dbFile: string,
  options: Partial<CreateRefundHubOptions> & { start?: boolean; apiKeyCacheMs?: number; app?: BuildAppOptions } = {},
): Promise<RunningHub> {
  const { start, apiKeyCacheMs: _cache, app: appOptions, ...hubOptions } = options;
  const hub = await createRefundHub({ databaseUrl: `sqlite:${dbFile}`, config: emulator.config(), logger: silentLogger, env: {}, allowPrivateWebhookUrls: true, ...hubOptions });
  // The test receivers listen on 127.0.0.1: opt in to private webhook targets, as the demo does.
  const app = buildApp(hub, { logLevel: 'silent', apiKeyCacheMs: options.apiKeyCacheMs, allowPrivateWebhookUrls: true, ...appOptions });
  const url = await listen(app, 0, '127.0.0.1');
  emulator.emulator.notifyUrl = `${url}/v1/notifications`;
  if (start) hub.start();
  return {
    hub,
    app,
    url,
    dbFile,
    key: (scopes) => createApiKey(hub.db, scopes, 'test'),
    async close() {
      await app.close();
      await hub.stop();
    },
  };
}

export interface ReceivedWebhook {
  eventId: string | undefined;
  event: RefundEvent;
  signature: string | undefined;
  raw: string;
  valid: boolean;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Secret the signatures are verified with (set once the endpoint is registered). */
  secret: string;
  /** Answer this many requests with 500 before accepting again. */
  failNext: number;
  /** Wait this long before answering (keeps deliveries in flight). */
  delayMs: number;
  close(): Promise<void>;
}

/** A merchant's webhook receiver on 127.0.0.1 that verifies RefundHub-Signature with verifyWebhook. */
export async function startReceiver(): Promise<WebhookReceiver> {
  const state: WebhookReceiver = { url: '', received: [], secret: '', failNext: 0, delayMs: 0, close: async () => {} };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void respond());
    const respond = async () => {
      if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
      const raw = Buffer.concat(chunks).toString('utf8');
      const signature = req.headers['refundhub-signature'] as string | undefined;
      if (state.failNext > 0) {
        state.failNext--;
        res.writeHead(500).end('try later');
        return;
      }
      const valid = verifyWebhook(raw, signature, state.secret);
      let event: RefundEvent;
      try {
        event = JSON.parse(raw) as RefundEvent;
      } catch {
        res.writeHead(400).end();
        return;
      }
      state.received.push({ eventId: req.headers['refundhub-event-id'] as string | undefined, event, signature, raw, valid });
      if (!res.destroyed) res.writeHead(valid ? 204 : 400).end();
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${a.port}/hook`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}

/** fetch with JSON conveniences: returns status, parsed body (or text) and headers. */
export async function call(
  url: string,
  init: { method?: string; key?: string; json?: unknown; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  let body: string | Buffer | undefined = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: init.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}
