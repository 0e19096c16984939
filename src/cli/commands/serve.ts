import { Option, type Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { RefundHubError } from '../../errors.js';
import { createLogger } from '../../logger.js';
import { buildApp, listen, type BuildAppOptions } from '../../server/app.js';
import { startMetricsServer } from '../../server/metrics-server.js';
import { createRefundHub, type CreateRefundHubOptions, type RefundHub } from '../../service.js';
import { guard, printLine } from '../output.js';
import { listenError } from '../ports.js';

export interface RunningServer {
  hub: RefundHub;
  app: FastifyInstance;
  url: string;
  /** The metrics server's base URL when `metricsPort` was given. */
  metricsUrl?: string;
  /** Stops accepting requests, then stops the loops and closes the store. */
  close(): Promise<void>;
}

export function parsePort(value: string, flag = '--port'): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(port) || port < 0 || port > 65535) throw new RefundHubError('invalid_input', `${flag} must be 0-65535, got "${value}"`);
  return port;
}

export interface StartServerOptions {
  port: number;
  host: string;
  hub?: RefundHub;
  hubOptions?: CreateRefundHubOptions;
  logLevel?: string;
  /**
   * Let webhook endpoints target loopback/private/link-local addresses. Default
   * REFUNDHUB_WEBHOOK_ALLOW_PRIVATE=true; the demo passes true (its receivers are on 127.0.0.1).
   */
  allowPrivateWebhookUrls?: boolean;
  /** How to choose another port, for the error when this one cannot be used. */
  portHint?: string;
  /** Other API options (rate limit of the notification routes...). */
  app?: Omit<BuildAppOptions, 'logLevel' | 'allowPrivateWebhookUrls'>;
  /** Serve `/metrics` on this port (and not on the API's); `metricsHost` default 127.0.0.1. */
  metricsPort?: number;
  metricsHost?: string;
}

/** Builds the hub and the API, listens, and starts the poller and the deliverer. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const level = options.logLevel ?? process.env.REFUNDHUB_LOG_LEVEL ?? 'info';
  const logger = createLogger({ level });
  const hub = options.hub ?? (await createRefundHub({ logger, ...options.hubOptions }));
  const allowPrivateWebhookUrls = options.allowPrivateWebhookUrls ?? hub.allowPrivateWebhookUrls;
  const separateMetrics = options.metricsPort !== undefined;
  const app = buildApp(hub, { ...options.app, logLevel: level, allowPrivateWebhookUrls, ...(separateMetrics ? { metricsRoute: false } : {}) });
  let url: string;
  try {
    url = await listen(app, options.port, options.host);
  } catch (e) {
    await app.close().catch(() => {});
    await hub.stop();
    throw listenError(e, options.host, options.port, options.portHint ?? '--port <port> or REFUNDHUB_PORT');
  }
  let metrics: { app: FastifyInstance; url: string } | undefined;
  if (separateMetrics) {
    const metricsHost = options.metricsHost ?? '127.0.0.1';
    try {
      metrics = await startMetricsServer(hub, options.metricsPort!, metricsHost);
    } catch (e) {
      await app.close().catch(() => {});
      await hub.stop();
      throw listenError(e, metricsHost, options.metricsPort!, '--metrics-port <port>');
    }
  }
  hub.start();
  let closing: Promise<void> | undefined;
  return {
    hub,
    app,
    url,
    metricsUrl: metrics?.url,
    close() {
      closing ??= (async () => {
        await metrics?.app.close();
        await app.close();
        await hub.stop();
      })();
      return closing;
    },
  };
}

/** Resolves on the first SIGINT or SIGTERM. */
export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('Run the HTTP API, the poller and the webhook deliverer in one process (database: $REFUNDHUB_DATABASE_URL); with --no-worker (PostgreSQL) the API only')
    .addOption(new Option('--port <port>', 'port to listen on').env('REFUNDHUB_PORT').default('8080'))
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--metrics-port <port>', 'serve /metrics on this port only, not on the API port')
    .option('--metrics-host <host>', 'interface for --metrics-port', '127.0.0.1')
    .option('--no-worker', 'API node only (PostgreSQL): no polling, no deliveries; `refundhub worker` processes do them')
    .action(async (opts: { port: string; host: string; metricsPort?: string; metricsHost: string; worker: boolean }) => {
      await guard(async () => {
        const port = parsePort(opts.port);
        const metricsPort = opts.metricsPort === undefined ? undefined : parsePort(opts.metricsPort, '--metrics-port');
        const hubOptions: CreateRefundHubOptions = { configFile: program.opts().config, roles: { api: true, worker: opts.worker } };
        const server = await startServer({ port, host: opts.host, metricsPort, metricsHost: opts.metricsHost, hubOptions });
        const role = server.hub.queue ? (opts.worker ? ', API and an in-process worker' : ', API node only') : '';
        printLine(`RefundHub listening on ${server.url} (database ${server.hub.store.description}${role})`);
        if (server.metricsUrl) printLine(`Metrics: ${server.metricsUrl}/metrics`);
        printLine(`API reference: ${server.url}/docs`);
        await waitForSignal();
        await server.close();
      });
    });
}
