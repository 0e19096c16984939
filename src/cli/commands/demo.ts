import { rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { DEFAULT_ACCOUNT } from '../../config/index.js';
import { PROVIDER_IDS } from '../../domain/refund.js';
import { createEmulator } from '../../emulator/index.js';
import { createLogger } from '../../logger.js';
import { createEndpoint } from '../../notify/endpoints.js';
import { API_SCOPES, createApiKey } from '../../server/auth.js';
import { createRefundHub } from '../../service.js';
import { formatDelivery, startDemoReceiver } from '../demo-receiver.js';
import { lockDirectory } from '../demo-lock.js';
import { guard, printLine } from '../output.js';
import { listenError, reservePort } from '../ports.js';
import { exportLines } from './emulate.js';
import { parsePort, startServer, waitForSignal } from './serve.js';

/**
 * `npm start`: the provider emulators with demo refunds whose lifecycles progress, `serve`
 * tracking them on SQLite with the emulators' signed notifications wired to the API, and a demo
 * webhook receiver registered as an endpoint. Prints the URL, a demo API key, how to point the
 * CLI at it, then each webhook delivery as it arrives.
 */
/** The demo's own SQLite file, recreated on every start (`serve` uses ./refundhub.db). */
export const DEMO_DATABASE_FILE = './refundhub-demo.db';
/** `export` lines pointing the CLI at the running demo; written at start, removed at stop. */
export const DEMO_ENV_FILE = './refundhub-demo.env';
/** Holds the running demo's pid: one demo per directory, since they would share the two files above. */
export const DEMO_LOCK_FILE = './refundhub-demo.pid';

const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

export function register(program: Command): void {
  program
    .command('demo')
    .description('Run the emulators with demo refunds and serve RefundHub tracking them (what `npm start` runs)')
    .addOption(new Option('--port <port>', 'API port').env('REFUNDHUB_PORT').default('8080'))
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .addOption(new Option('--emulator-port <port>', 'emulator port (0: any free port)').env('REFUNDHUB_EMULATOR_PORT').default('0'))
    .action(async (opts: { port: string; host: string; emulatorPort: string }) => {
      await guard(async () => {
        const port = parsePort(opts.port);
        const emulatorPort = parsePort(opts.emulatorPort, '--emulator-port');
        const env = process.env;
        const logger = createLogger({ level: env.REFUNDHUB_LOG_LEVEL ?? 'warn' });
        const cleanup: Array<() => Promise<unknown>> = [];
        const undo = async () => {
          for (const step of cleanup.reverse()) await step().catch(() => {});
        };

        // The directory first, then every port: a second demo must fail here, before it touches
        // the running demo's database and env file below (on another port too: same files).
        const lock = lockDirectory(DEMO_LOCK_FILE);
        cleanup.push(async () => lock.release());
        const portHint = '--port <port> (npm start -- --port 8081) or REFUNDHUB_PORT';
        let reserved: Awaited<ReturnType<typeof reservePort>> | undefined;
        try {
          reserved = port === 0 ? undefined : await reservePort(opts.host, port, portHint);
        } catch (e) {
          await undo();
          throw e;
        }
        let released = false;
        const releasePort = async () => {
          if (reserved && !released) {
            released = true;
            await reserved.release();
          }
        };
        cleanup.push(releasePort);
        try {
          const { emulator, credentials, usedDemo } = createEmulator({ env, logger });
          try {
            await emulator.listen(emulatorPort, '127.0.0.1');
          } catch (e) {
            throw listenError(e, '127.0.0.1', emulatorPort, '--emulator-port <port> or REFUNDHUB_EMULATOR_PORT (0: any free port)');
          }
          cleanup.push(() => emulator.close());
          // Deliveries that arrive while the banner is being written are shown right after it.
          let bannerDone = false;
          const early: string[] = [];
          const receiver = await startDemoReceiver({ onDelivery: (d) => (bannerDone ? printLine(formatDelivery(d)) : early.push(formatDelivery(d))) });
          cleanup.push(() => receiver.close());

          // Every provider's default account points at the emulator, with the credentials it accepts.
          const config = loadConfig({ env, file: program.opts().config });
          for (const id of PROVIDER_IDS) config.accounts.get(id)!.set(DEFAULT_ACCOUNT, { ...credentials[id], baseUrl: emulator.baseUrl(id) });
          // The demo refunds have fixed ids and start over on every run; a database left by an
          // earlier run would already hold them as final and show nothing moving. So the demo keeps
          // its own file and starts it afresh, unless REFUNDHUB_DATABASE_URL names one.
          const databaseUrl = env.REFUNDHUB_DATABASE_URL ?? `sqlite:${resolve(DEMO_DATABASE_FILE)}`;
          if (!env.REFUNDHUB_DATABASE_URL) for (const suffix of ['', '-wal', '-shm']) rmSync(`${DEMO_DATABASE_FILE}${suffix}`, { force: true });
          const hub = await createRefundHub({ config, env, logger, allowPrivateWebhookUrls: true, databaseUrl });
          cleanup.push(() => hub.stop());
          // Handed over to the API right away: only another program binding in this instant can
          // take it, and then the listen below fails with the same clear error.
          await releasePort();
          // The demo's receiver is on 127.0.0.1, so private addresses are allowed here.
          const server = await startServer({ port, host: opts.host, hub, logLevel: env.REFUNDHUB_LOG_LEVEL ?? 'warn', allowPrivateWebhookUrls: true, portHint });
          cleanup.push(() => server.close());
          emulator.notifyUrl = `${server.url}/v1/notifications`;

          // Registered before anything is tracked, so the receiver sees every event from the first.
          const endpoint = await createEndpoint(hub.db, { url: receiver.url }, hub.clock.now(), { allowPrivateWebhookUrls: true });
          receiver.secret = endpoint.secret;

          const seeded = emulator.seedDemo();
          const key = await createApiKey(hub.db, API_SCOPES, 'demo', { now: hub.clock.now() });
          const initial = new Map<string, string>();
          for (const s of seeded) {
            try {
              // OneKey's status response carries no currency; tracking with a currency hint shows how
              // the amount still comes out in ISO minor units.
              const { refund } = await hub.track(s.provider, s.id, s.provider === 'onekey' ? { currency: 'MXN' } : {});
              initial.set(`${s.provider} ${s.id}`, refund.status);
            } catch (e) {
              printLine(`could not track ${s.provider} ${s.id}: ${(e as Error).message}`);
            }
          }

          // The CLI reads the same database and reaches the same emulators through these lines;
          // a file rather than the banner, so the demo credentials are not printed.
          const lines = [`export REFUNDHUB_DATABASE_URL=${quote(databaseUrl)}`];
          for (const id of PROVIDER_IDS) lines.push(...exportLines(id, usedDemo.includes(id) ? credentials[id] : {}, emulator.baseUrl(id)));
          writeFileSync(DEMO_ENV_FILE, `# The running RefundHub demo (npm start); removed when it stops.\n${lines.join('\n')}\n`, { mode: 0o600 });
          cleanup.push(async () => rmSync(DEMO_ENV_FILE, { force: true }));

          const first = seeded[0];
          printLine(`RefundHub demo: API on ${server.url} (database ${hub.store.description}), provider emulators on ${emulator.url}`);
          printLine('');
          printLine(`Demo API key (all scopes; shown once): ${key}`);
          printLine('');
          printLine(`Dashboard: open ${server.url}/ and sign in with the demo API key above.`);
          printLine('');
          printLine('Try the API:');
          printLine(`  export KEY=${key}`);
          printLine(`  curl -s -H "Authorization: Bearer $KEY" ${server.url}/v1/refunds`);
          if (first) {
            printLine(`  curl -s -H "Authorization: Bearer $KEY" ${server.url}/v1/refunds/${first.provider}/${encodeURIComponent(first.id)}`);
            printLine(`  curl -s -H "Authorization: Bearer $KEY" ${server.url}/v1/refunds/${first.provider}/${encodeURIComponent(first.id)}/events`);
          }
          printLine(`  curl -s -H "Authorization: Bearer $KEY" ${server.url}/v1/webhook-endpoints`);
          printLine(`  curl -s ${server.url}/metrics | grep refundhub_`);
          printLine(`  open ${server.url}/docs`);
          printLine('');
          printLine('Point the CLI at this demo (another shell, same directory):');
          printLine(`  . ${DEMO_ENV_FILE}      # export lines: its database and the emulators with demo credentials`);
          printLine('  npx refundhub list');
          if (first) printLine(`  npx refundhub history ${first.provider} ${first.id}`);
          printLine('');
          printLine(`Webhooks: a demo receiver on ${receiver.url} is registered as endpoint ${endpoint.id};`);
          printLine('it checks each delivery\'s RefundHub-Signature and prints it below.');
          printLine('');
          printLine(`Tracking ${initial.size} demo refunds; their statuses change over the next minute:`);
          for (const [k, status] of initial) printLine(`  ${k}: ${status}`);
          printLine('Press Ctrl+C to stop.');
          printLine('');
          printLine('Webhook deliveries:');
          bannerDone = true;
          for (const line of early.splice(0)) printLine(line);

          await waitForSignal();
          // In order, so nothing calls into something already gone: the emulator stops sending
          // notifications, the service stops (its last deliveries still reach the receiver), then
          // the receiver and the emulators close.
          emulator.notifyUrl = undefined;
          await emulator.drainNotifications({ retry: false });
          await undo();
          printLine('stopped');
        } catch (e) {
          await undo();
          throw e;
        }
      });
    });
}
