/**
 * Child-process entry for the API benchmark (bench/tracking-api.ts): one HTTP server on
 * 127.0.0.1:0, so the load generator in the parent and the server under test each get a core.
 *
 * `ours`: the real service (createRefundHub + buildApp) on a SQLite file the parent prepared
 * (refund tracked, API key stored); poller and deliverer not started. `bare`: a bare Fastify
 * instance (defaults: no logger) with one route answering the precomputed response bytes.
 *
 * Protocol over IPC: the parent sends `{type: 'start', ...}`, the child answers `{type: 'ready',
 * url}`; `{type: 'cpu'}` is answered with `{type: 'cpu', usage}` (process.cpuUsage()); the child
 * stops on `stop`, on disconnect, on SIGTERM, or after a hard cap.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/index.js';
import { PROVIDER_IDS, type ProviderId } from '../../src/domain/refund.js';
import { silentLogger } from '../../src/logger.js';
import type { RawSettings } from '../../src/providers/types.js';
import { buildApp, listen } from '../../src/server/app.js';
import { createRefundHub, type RefundHub } from '../../src/service.js';

const MAX_LIFETIME_MS = 5 * 60_000;

export type StartMessage =
  | { type: 'start'; mode: 'ours'; dbFile: string; settings: Record<ProviderId, RawSettings>; logLevel: string }
  | { type: 'start'; mode: 'bare'; route: string; body: string; contentType: string };

let app: FastifyInstance | undefined;
let hub: RefundHub | undefined;
let stopping = false;

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await app?.close().catch(() => undefined);
  await hub?.stop().catch(() => undefined);
  process.exit(code);
}

async function start(m: StartMessage): Promise<string> {
  if (m.mode === 'bare') {
    const body = Buffer.from(m.body, 'utf8');
    app = Fastify();
    app.get(m.route, async (_request, reply) => reply.header('content-type', m.contentType).send(body));
    return listen(app, 0, '127.0.0.1');
  }
  const config = loadConfig({ env: {} });
  for (const p of PROVIDER_IDS) config.accounts.get(p)!.set('default', m.settings[p]);
  hub = await createRefundHub({ databaseUrl: `sqlite:${m.dbFile}`, config, logger: silentLogger, env: {} });
  // As `refundhub serve` builds it (src/cli/commands/serve.ts), apart from the log level.
  app = buildApp(hub, { logLevel: m.logLevel });
  return listen(app, 0, '127.0.0.1');
}

setTimeout(() => void stop(3), MAX_LIFETIME_MS).unref();
process.on('disconnect', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
process.on('message', (m: unknown) => {
  if (m === 'stop') return void stop(0);
  const msg = m as { type?: string };
  if (msg?.type === 'cpu') process.send?.({ type: 'cpu', usage: process.cpuUsage() });
  else if (msg?.type === 'start') {
    start(m as StartMessage).then(
      (url) => process.send?.({ type: 'ready', url }),
      (e: unknown) => {
        process.send?.({ type: 'failed', error: (e as Error).stack ?? String(e) });
        void stop(1);
      },
    );
  }
});

if (!process.send) {
  process.stderr.write('api-server-child: must be started with an IPC channel (fork)\n');
  process.exit(2);
}
