import type { Command } from 'commander';
import { MAX_LIST_LIMIT, parseListQuery } from '../../domain/list-query.js';
import { PROVIDER_IDS, REFUND_STATUSES } from '../../domain/refund.js';
import type { ListFilter } from '../../service.js';
import { withHub } from '../hub.js';
import { guard, printJson, printLine } from '../output.js';

interface ListOpts {
  provider?: string;
  account?: string;
  status?: string;
  stuck?: boolean;
  createdFrom?: string;
  createdTo?: string;
  limit: string;
  cursor?: string;
  reference?: string;
  json?: boolean;
}

/** The API's parser (same values, same messages), naming the flags. */
const FLAG_NAMES = { limit: '--limit', account: '--account', stuck: '--stuck', createdFrom: '--created-from', createdTo: '--created-to', cursor: '--cursor', merchantReference: '--reference' };

export function register(program: Command): void {
  program
    .command('list')
    .description('List tracked refunds, newest tracked last')
    .option('--provider <provider>', `only this provider (${PROVIDER_IDS.join(', ')})`)
    .option('--account <name>', 'only this account')
    .option('--status <status>', `only this status (${REFUND_STATUSES.join(', ')})`)
    .option('--stuck', "only refunds not final past their provider's stuckAfter (default 30 days)")
    .option('--created-from <date>', "refund's createdAt on or after: a date (UTC) or an ISO 8601 timestamp")
    .option('--created-to <date>', "refund's createdAt on or before: a date (the whole day) or an ISO 8601 timestamp")
    .option('--limit <n>', `at most this many (1-${MAX_LIST_LIMIT})`, '100')
    .option('--cursor <cursor>', 'continue from a previous listing')
    .option('--reference <ref>', "only refunds with this merchant reference (the merchant's own order or invoice number, exact)")
    .option('--json', 'print {data, nextCursor} as JSON')
    .action(async (opts: ListOpts) => {
      await guard(async () => {
        const { json: _json, reference, ...rest } = opts;
        const raw = { ...rest, merchantReference: reference };
        const filter: ListFilter = parseListQuery(raw, { defaultLimit: 100, names: FLAG_NAMES });
        await withHub(program, async (hub) => {
          const page = await hub.list(filter);
          if (opts.json) return printJson(page);
          if (page.data.length === 0) printLine('(no tracked refunds)');
          for (const r of page.data) {
            const money = r.amountDecimal !== null ? `${r.amountDecimal}${r.currency ? ` ${r.currency}` : ''}` : '-';
            const flags = [r.tracking.stuck ? 'stuck' : '', r.tracking.lastError ? `error:${r.tracking.lastError.code}` : ''].filter(Boolean).join(',');
            printLine([r.provider.padEnd(8), r.id.padEnd(38), r.status.padEnd(16), money.padEnd(16), r.tracking.nextCheckAt ?? '-', flags].join('  ').trimEnd());
          }
          if (page.nextCursor) printLine(`more: refundhub list --cursor ${page.nextCursor}`);
        });
      });
    });
}
