import { rmSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { DEFAULT_ACCOUNT } from '../../config/index.js';
import { PROVIDER_IDS } from '../../domain/refund.js';
import { createEmulator } from '../../emulator/index.js';
import { createLogger } from '../../logger.js';
import { API_SCOPES, createApiKey } from '../../server/auth.js';
import { createRefundHub } from '../../service.js';
import { guard, printLine } from '../output.js';
import { parsePort, startServer, waitForSignal } from './serve.js';

/**
 * `npm start`: the provider emulators with demo refunds whose lifecycles progress, and `serve`
 * tracking them on SQLite, with the emulators' signed notifications wired to the API. Prints the
 * URL, a demo API key and what to try, then each status change as it happens.
 */
/** The demo's own SQLite file, recreated on every start (`serve` uses ./refundhub.db). */
export const DEMO_DATABASE_FILE = './refundhub-demo.db';

export function register(program: Command): void {
  program
    .command('demo')
    .description('Run the emulators with demo refunds and serve RefundHub tracking them (what `npm start` runs)')
    .option('--port <port>', 'API port', '8080')
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--emulator-port <port>', 'emulator port (0: any free port)', '0')
    .action(async (opts: { port: string; host: string; emulatorPort: string }) => {
      await guard(async () => {
        const port = parsePort(opts.port);
        const emulatorPort = parsePort(opts.emulatorPort, '--emulator-port');
        const env = process.env;
        const logger = createLogger({ level: env.REFUNDHUB_LOG_LEVEL ?? 'warn' });
        const { emulator, credentials } = createEmulator({ env, logger });
        await emulator.listen(emulatorPort, '127.0.0.1');

        // Every provider's default account points at the emulator, with the credentials it accepts.
        const config = loadConfig({ env, file: program.opts().config });
        for (const id of PROVIDER_IDS) config.accounts.get(id)!.set(DEFAULT_ACCOUNT, { ...credentials[id], baseUrl: emulator.baseUrl(id) });
        // The demo refunds have fixed ids and start over on every run; a database left by an
        // earlier run would already hold them as final and show nothing moving. So the demo keeps
        // its own file and starts it afresh, unless REFUNDHUB_DATABASE_URL names one.
        if (!env.REFUNDHUB_DATABASE_URL) for (const suffix of ['', '-wal', '-shm']) rmSync(`${DEMO_DATABASE_FILE}${suffix}`, { force: true });
        const hub = await createRefundHub({ config, env, logger, allowPrivateWebhookUrls: true, databaseUrl: env.REFUNDHUB_DATABASE_URL ?? `sqlite:${DEMO_DATABASE_FILE}` });
        let server;
        try {
          // The demo's webhook examples point at receivers on this machine, so private addresses are allowed here.
          server = await startServer({ port, host: opts.host, hub, logLevel: env.REFUNDHUB_LOG_LEVEL ?? 'warn', allowPrivateWebhookUrls: true });
        } catch (e) {
          await emulator.close();
          throw e;
        }
        emulator.notifyUrl = `${server.url}/v1/notifications`;

        const seeded = emulator.seedDemo();
        const key = await createApiKey(hub.db, API_SCOPES, 'demo', { now: hub.clock.now() });
        const last = new Map<string, string>();
        for (const s of seeded) {
          try {
            // OneKey's status response carries no currency; tracking with a currency hint shows how
            // the amount still comes out in ISO minor units.
            const { refund } = await hub.track(s.provider, s.id, s.provider === 'onekey' ? { currency: 'MXN' } : {});
            last.set(`${s.provider} ${s.id}`, refund.status);
          } catch (e) {
            printLine(`could not track ${s.provider} ${s.id}: ${(e as Error).message}`);
          }
        }

        const first = seeded[0];
        printLine(`RefundHub demo: API on ${server.url} (database ${hub.store.description}), provider emulators on ${emulator.url}`);
        printLine('');
        printLine(`Demo API key (all scopes; shown once): ${key}`);
        printLine('');
        printLine('Try:');
        printLine(`  export KEY=${key}`);
        printLine(`  curl -s -H "Authorization: Bearer $KEY" ${server.url}/v1/refunds`);
        if (first) {
          printLine(`  curl -s -H "Authorization: Bearer $KEY" ${server.url}/v1/refunds/${first.provider}/${encodeURIComponent(first.id)}`);
          printLine(`  curl -s -H "Authorization: Bearer $KEY" ${server.url}/v1/refunds/${first.provider}/${encodeURIComponent(first.id)}/events`);
        }
        printLine(`  curl -s -X POST -H "Authorization: Bearer $KEY" -H 'content-type: application/json' -d '{"url":"http://127.0.0.1:9000/hook"}' ${server.url}/v1/webhook-endpoints`);
        printLine(`  curl -s ${server.url}/metrics | grep refundhub_`);
        printLine(`  open ${server.url}/docs`);
        printLine('');
        printLine(`Tracking ${last.size} demo refunds; their statuses change over the next minute:`);
        for (const [k, status] of last) printLine(`  ${k}: ${status}`);
        printLine('Press Ctrl+C to stop.');

        // Show each change as it lands, so a newcomer sees refunds reach their final statuses.
        const watcher = setInterval(() => {
          void (async () => {
            let cursor: string | null = null;
            do {
              const page = await hub.list({ limit: 500, cursor });
              for (const r of page.data) {
                const k = `${r.provider} ${r.id}`;
                const prev = last.get(k);
                if (prev !== undefined && prev !== r.status) printLine(`  ${k}: ${prev} -> ${r.status}`);
                last.set(k, r.status);
              }
              cursor = page.nextCursor;
            } while (cursor);
          })().catch(() => {});
        }, 1000);
        watcher.unref();

        await waitForSignal();
        clearInterval(watcher);
        await emulator.close();
        await server.close();
      });
    });
}
