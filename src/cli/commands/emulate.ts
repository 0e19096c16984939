import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createEmulator } from '../../emulator/index.js';
import { RefundHubError } from '../../errors.js';
import { createLogger } from '../../logger.js';
import { getProvider } from '../../providers/registry.js';
import type { ProviderId } from '../../domain/refund.js';
import type { RawSettings } from '../../providers/types.js';
import { redactUrl } from '../../redact.js';
import { guard, printLine } from '../output.js';
import { listenError } from '../ports.js';

/** Shell-quotes a value for an `export` line. */
const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

/** `export` lines pointing the CLI at the emulator with the demo credentials it accepts. */
export function exportLines(provider: ProviderId, raw: RawSettings, baseUrl: string): string[] {
  const env = getProvider(provider).config.env;
  const lines: string[] = [];
  for (const [key, value] of Object.entries({ ...raw, baseUrl })) {
    const name = env[key];
    if (!name || typeof value !== 'string') continue;
    if (value.includes('\n')) {
      // Multi-line values (Gr4vy's PEM key) go to a file; the *_FILE variable points at it.
      const dir = join(tmpdir(), 'refundhub-emulator');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${provider}-${key}.pem`);
      writeFileSync(file, value, { mode: 0o600 });
      const fileVar = env[`${key}File`] ?? `${name}_FILE`;
      lines.push(`export ${fileVar}=${quote(file)}`);
    } else {
      lines.push(`export ${name}=${quote(value)}`);
    }
  }
  return lines;
}

export function register(program: Command): void {
  program
    .command('emulate')
    .description('Serve emulators of all five providers on one port (with demo refunds when no credentials are set)')
    .option('--port <port>', 'port to listen on', '4010')
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--notify-url <url>', 'post provider notifications to URL/<provider> when a demo lifecycle changes a status')
    .option('--no-seed', 'start without demo refunds')
    .action(async (opts: { port: string; host: string; notifyUrl?: string; seed: boolean }) => {
      await guard(async () => {
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RefundHubError('invalid_input', `--port must be 0-65535, got "${opts.port}"`);
        if (opts.notifyUrl && !/^https?:\/\//.test(opts.notifyUrl)) throw new RefundHubError('invalid_input', '--notify-url must be an http(s) URL');
        const logger = createLogger({ level: process.env.REFUNDHUB_LOG_LEVEL ?? 'warn' });
        const { emulator, credentials, usedDemo } = createEmulator({ env: process.env, notifyUrl: opts.notifyUrl, logger });
        try {
          await emulator.listen(port, opts.host);
        } catch (e) {
          throw listenError(e, opts.host, port, '--port <port>');
        }
        const seeded = opts.seed ? emulator.seedDemo() : [];
        printLine(`RefundHub provider emulators listening on ${emulator.url}`);
        for (const id of Object.keys(credentials) as ProviderId[]) printLine(`  ${id.padEnd(8)} ${emulator.baseUrl(id)}`);
        if (opts.notifyUrl) printLine(`Notifications go to ${redactUrl(opts.notifyUrl.replace(/\/+$/, ''))}/<provider>`);
        printLine('');
        printLine('Point the CLI at it (paste into your shell):');
        for (const id of Object.keys(credentials) as ProviderId[]) {
          const raw = usedDemo.includes(id) ? credentials[id] : {};
          for (const line of exportLines(id, raw, emulator.baseUrl(id))) printLine(line);
        }
        if (seeded.length) {
          printLine('');
          printLine('Demo refunds (their statuses change over the next minute):');
          for (const s of seeded) printLine(`  refundhub get ${s.provider} ${s.id}`);
        }
        printLine('');
        printLine('Control API: POST /_emulator/{provider}/refunds, POST /_emulator/{provider}/faults, DELETE /_emulator/faults (faults only), GET /_emulator/{provider}/requests, POST /_emulator/reset (everything)');
        printLine('Press Ctrl+C to stop.');
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await emulator.close();
      });
    });
}
