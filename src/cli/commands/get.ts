import type { Command } from 'commander';
import { createRefundClient } from '../../client.js';
import { createCliLogger } from '../logger.js';
import { formatRefund } from '../format.js';
import { guard, printJson, printLine } from '../output.js';
import { attemptReporter } from '../progress.js';

export function register(program: Command): void {
  program
    .command('get')
    .description('Fetch one refund from its provider and print it normalized')
    .argument('<provider>', 'ziina, tazapay, gr4vy, stan or onekey')
    .argument('<id>', "the provider's refund id")
    .option('--json', 'print the normalized refund as JSON')
    .option('--account <name>', 'configured account to use', 'default')
    .action(async (provider: string, id: string, opts: { json?: boolean; account: string }) => {
      await guard(async () => {
        const client = createRefundClient({ configFile: program.opts().config, logger: createCliLogger(), transport: { onAttempt: attemptReporter() } });
        try {
          const refund = await client.getRefund(provider, id, { account: opts.account });
          if (opts.json) printJson(refund);
          else printLine(formatRefund(refund));
        } finally {
          await client.close();
        }
      });
    });
}
