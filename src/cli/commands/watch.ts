import type { Command } from 'commander';
import { DEFAULT_ACCOUNT } from '../../config/index.js';
import { isFinalStatus } from '../../domain/refund.js';
import { RefundHubError } from '../../errors.js';
import { claimRefund } from '../../store/refunds.js';
import { syncRefund } from '../../sync/sync-refund.js';
import { formatRefund } from '../format.js';
import { withHub } from '../hub.js';
import { CliExit, guard, printLine } from '../output.js';
import { EXIT_INTERRUPTED } from './import.js';
import { formatHistoryEntry } from './history.js';

/**
 * `refundhub watch <provider> <id>`: prints the refund, then each history entry as it lands,
 * until the refund is final (exit 0) or Ctrl-C (130).
 *
 * Where the changes come from: watch reads the store (history and state) every `--interval`. A
 * running service (`serve`, or workers) syncs the refund on its schedule; when no service is
 * running, watch does the scheduled check itself, through the spine: when the refund's next check
 * is due it takes the same lease the poller's due query takes (`claimRefund`), so with a service
 * running only one of them fetches, and without one the refund still moves at the schedule's pace.
 */

/** The lease watch takes on a due check, as long as the poller's (it covers one sync at its worst). */
const WATCH_LEASE_MS = 120_000;
const DEFAULT_INTERVAL_MS = 1000;

export function register(program: Command): void {
  program
    .command('watch')
    .description('Show a refund and each status change as it lands, until it is final (tracks it first if needed)')
    .argument('<provider>', 'ziina, tazapay, gr4vy, stan or onekey')
    .argument('<id>', "the provider's refund id")
    .option('--account <name>', 'configured account to use', DEFAULT_ACCOUNT)
    .option('--currency <code>', 'ISO 4217 currency, for providers that do not return one (OneKey), if watch starts tracking it')
    .option('--interval <seconds>', 'how often to read the store, in seconds (0.2-60)', '1')
    .action(async (provider: string, id: string, opts: { account: string; currency?: string; interval: string }) => {
      await guard(async () => {
        const seconds = Number(opts.interval);
        if (!/^\d+(\.\d+)?$/.test(opts.interval.trim()) || seconds < 0.2 || seconds > 60) {
          throw new RefundHubError('invalid_input', `--interval must be a number of seconds from 0.2 to 60, got ${JSON.stringify(opts.interval.slice(0, 16))}`);
        }
        const intervalMs = Math.round(seconds * 1000) || DEFAULT_INTERVAL_MS;
        let interrupted = false;
        let wake: (() => void) | undefined;
        const onInt = () => {
          interrupted = true;
          wake?.();
        };
        process.on('SIGINT', onInt);
        try {
          await withHub(program, async (hub) => {
            const { refund, created } = await hub.track(provider, id, { account: opts.account, currency: opts.currency ?? null, source: 'manual' });
            printLine(created ? 'Now tracking:' : 'Watching:');
            printLine(formatRefund(refund));
            const key = { provider: refund.provider, account: refund.account, id: refund.id };
            let shown = 0;
            for (;;) {
              const history = await hub.history(key.provider, key.id, { account: key.account });
              for (const entry of history.slice(shown)) printLine(formatHistoryEntry(entry));
              shown = history.length;
              const current = await hub.get(key.provider, key.id, { account: key.account });
              if (isFinalStatus(current.status)) {
                printLine(`Final: ${current.status} (provider: ${current.providerStatus})`);
                return;
              }
              if (interrupted) break;
              // No service took the due check (its lease would have moved next_check_at): do it here.
              if ((await claimRefund(hub.db, key, hub.clock.now(), WATCH_LEASE_MS)) === 'claimed') {
                try {
                  await syncRefund(hub.syncDeps, { ...key, source: 'poll' });
                } catch (e) {
                  // The spine recorded the error and the next check on the refund; say it and keep watching.
                  process.stderr.write(`refundhub: watch: check failed: ${e instanceof RefundHubError ? `${e.message} [${e.code}]` : (e as Error).message}\n`);
                }
                continue;
              }
              await new Promise<void>((resolve) => {
                wake = resolve;
                setTimeout(resolve, intervalMs);
              });
              if (interrupted) break;
            }
            printLine('Stopped (Ctrl-C): the refund is not final yet.');
            throw new CliExit(EXIT_INTERRUPTED);
          });
        } finally {
          process.off('SIGINT', onInt);
        }
      });
    });
}
