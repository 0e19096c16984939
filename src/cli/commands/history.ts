import type { Command } from 'commander';
import type { HistoryEntry } from '../../service.js';
import { withHub } from '../hub.js';
import { guard, printJson, printLine } from '../output.js';

/** One history entry as a line: `observedAt  kind  from -> to  (providerStatus, source)[  note]`. */
export function formatHistoryEntry(e: HistoryEntry): string {
  const line = `${e.observedAt}  ${e.kind.padEnd(8)}  ${e.from ?? '-'} -> ${e.to}  (${e.providerStatus}, ${e.source})`;
  return e.note ? `${line}  ${e.note}` : line;
}

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
          const entries: HistoryEntry[] = await hub.history(provider, id, { account: opts.account });
          if (opts.json) return printJson({ data: entries });
          for (const e of entries) printLine(formatHistoryEntry(e));
          if (entries.length === 0) printLine('(no history)');
        });
      });
    });
}
