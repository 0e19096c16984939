import type { Command } from 'commander';
import { withHub } from '../hub.js';
import { formatRefund } from '../format.js';
import { guard, printJson, printLine } from '../output.js';

export function register(program: Command): void {
  program
    .command('track')
    .description('Start tracking a refund: fetch it now, store it, and follow it to a final status (with `serve`)')
    .argument('<provider>', 'ziina, tazapay, gr4vy, stan or onekey')
    .argument('<id>', "the provider's refund id")
    .option('--account <name>', 'configured account to use', 'default')
    .option('--currency <code>', 'ISO 4217 currency, for providers that do not return one (OneKey)')
    .option('--json', 'print the tracked refund as JSON')
    .action(async (provider: string, id: string, opts: { account: string; currency?: string; json?: boolean }) => {
      await guard(async () => {
        await withHub(program, async (hub) => {
          const { refund, created } = await hub.track(provider, id, { account: opts.account, currency: opts.currency ?? null, source: 'manual' });
          if (opts.json) printJson(refund);
          else {
            printLine(created ? 'Now tracking:' : 'Already tracked:');
            printLine(formatRefund(refund));
          }
        });
      });
    });
}
