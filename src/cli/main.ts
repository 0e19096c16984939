import { Command, CommanderError } from 'commander';
import { register as registerDemo } from './commands/demo.js';
import { register as registerEmulate } from './commands/emulate.js';
import { register as registerGet } from './commands/get.js';
import { register as registerHistory } from './commands/history.js';
import { register as registerImport } from './commands/import.js';
import { register as registerKeys } from './commands/keys.js';
import { register as registerList } from './commands/list.js';
import { register as registerMigrate } from './commands/migrate.js';
import { register as registerMigrateStore } from './commands/migrate-store.js';
import { register as registerProviders } from './commands/providers.js';
import { register as registerReport } from './commands/report.js';
import { register as registerServe } from './commands/serve.js';
import { register as registerTrack } from './commands/track.js';
import { register as registerVoucher } from './commands/voucher.js';
import { register as registerWatch } from './commands/watch.js';
import { register as registerWorker } from './commands/worker.js';
import { CliExit } from './output.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('refundhub')
    .description('What happened to this refund? One answer for Ziina, Tazapay, Gr4vy, Stan and OneKey Payments.')
    .option('--config <file>', 'JSON config file with named accounts (default: $REFUNDHUB_CONFIG, then ./refundhub.config.json)')
    .showHelpAfterError()
    .exitOverride();
  for (const register of [registerGet, registerProviders, registerEmulate, registerServe, registerWorker, registerVoucher, registerTrack, registerImport, registerWatch, registerList, registerHistory, registerReport, registerKeys, registerMigrate, registerMigrateStore, registerDemo]) {
    register(program);
  }
  return program;
}

/** Runs the CLI; sets process.exitCode rather than exiting, so output is flushed first. */
export async function run(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CliExit) {
      process.exitCode = e.exitCode;
      return;
    }
    if (e instanceof CommanderError) {
      // Usage errors (unknown command, missing argument) are invalid input: exit 2. Help and version exit 0.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`refundhub: unexpected error: ${(e as Error)?.message ?? String(e)}\n`);
    process.exitCode = 1;
  }
}
