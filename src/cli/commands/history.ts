import type { Command } from 'commander';
import { withHub } from '../hub.js';
import { guard, printJson, printLine } from '../output.js';

export function register(program: Command): void {
  program
    .command('history')
    .description("Show a tracked refund's history: every observed status change, oldest first")
    .argument('<provider>', 'ziina, tazapay, gr4vy, stan or onekey')
    .argument('<id>', "the provider's refund id")
    .option('--account <name>', 'configured account', 'default')
    .option('--json', 'print the history as JSON')
    .action(async (provider: string, id: string, opts: { account: string; json?: boolean }) => {
      await guard(async () => {
        await withHub(program, async (hub) => {
          const entries = await hub.history(provider, id, { account: opts.account });
          if (opts.json) return printJson({ data: entries });
          for (const e of entries as unknown as Array<Record<string, unknown>>) {
            const from = (e.fromStatus as string | null) ?? '-';
            printLine(`${String(e.observedAt ?? '')}  ${String(e.kind ?? '').padEnd(8)}  ${from} -> ${String(e.toStatus ?? '')}  (${String(e.providerStatus ?? '')}, ${String(e.source ?? '')})`);
          }
          if (entries.length === 0) printLine('(no history)');
        });
      });
    });
}
