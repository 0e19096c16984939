import type { Command } from 'commander';
import { RefundHubError } from '../../errors.js';
import { createLogger } from '../../logger.js';
import { DEFAULT_STOP_TIMEOUT_MS, DEFAULT_WORKER_CONCURRENCY } from '../../queue/worker.js';
import { startMetricsServer } from '../../server/metrics-server.js';
import { createRefundHub } from '../../service.js';
import { guard, printLine } from '../output.js';
import { listenError } from '../ports.js';
import { parsePort, waitForSignal } from './serve.js';

/**
 * `refundhub worker`: the worker role of the same composition root as `serve` (createRefundHub
 * with roles { worker }), on PostgreSQL. It takes polling syncs, notification re-fetches and
 * webhook deliveries from the job queue and runs the "what is due" dispatchers; no API.
 */

/** Inside the 30 s a stop may take (docs/deploy.md sets the process manager's stop timeout to it). */
const EXIT_DEADLINE_MS = 28_000;

export function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!/^\d{1,4}$/.test(value) || n < 1 || n > 1000) throw new RefundHubError('invalid_input', `--concurrency must be a whole number from 1 to 1000, got "${value.slice(0, 32)}"`);
  return n;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('Run a worker (PostgreSQL): polling, notification re-fetches and webhook deliveries from the job queue')
    .option('--concurrency <n>', `jobs in flight at most in this process, all queues together (default ${DEFAULT_WORKER_CONCURRENCY})`)
    .option('--metrics-port <port>', 'serve /metrics on this port')
    .option('--metrics-host <host>', 'interface for --metrics-port', '127.0.0.1')
    .action(async (opts: { concurrency?: string; metricsPort?: string; metricsHost: string }) => {
      await guard(async () => {
        const concurrency = opts.concurrency === undefined ? DEFAULT_WORKER_CONCURRENCY : parseConcurrency(opts.concurrency);
        const metricsPort = opts.metricsPort === undefined ? undefined : parsePort(opts.metricsPort, '--metrics-port');
        const logger = createLogger({ level: process.env.REFUNDHUB_LOG_LEVEL ?? 'info' });
        const hub = await createRefundHub({ logger, configFile: program.opts().config, roles: { api: false, worker: true }, worker: { concurrency, stopTimeoutMs: DEFAULT_STOP_TIMEOUT_MS } });
        let metrics: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
        if (metricsPort !== undefined) {
          try {
            metrics = await startMetricsServer(hub, metricsPort, opts.metricsHost);
          } catch (e) {
            await hub.stop();
            throw listenError(e, opts.metricsHost, metricsPort, '--metrics-port <port>');
          }
        }
        hub.start();
        printLine(`RefundHub worker: at most ${concurrency} jobs at once (database ${hub.store.description})`);
        if (metrics) printLine(`Metrics: ${metrics.url}/metrics`);
        const signal = await waitForSignal();
        logger.info({ signal }, 'stopping: no new jobs; finishing or releasing the jobs in hand');
        // Jobs still running after the grace went back to the queue; nothing may keep the process
        // past its stop deadline.
        const deadline = setTimeout(() => {
          logger.error({ deadlineMs: EXIT_DEADLINE_MS }, 'stop did not finish in time; exiting (jobs in hand were released to the queue)');
          process.exit(0);
        }, EXIT_DEADLINE_MS);
        deadline.unref();
        await metrics?.app.close();
        await hub.stop();
        clearTimeout(deadline);
      });
    });
}
