import type { Command } from 'commander';
import { isProviderId, isRefundStatus, PROVIDER_IDS, REFUND_STATUSES } from '../../domain/refund.js';
import { RefundHubError } from '../../errors.js';
import type { ListFilter } from '../../service.js';
import { withHub } from '../hub.js';
import { guard, printJson, printLine } from '../output.js';

/** The store's page size limit (the API's too). */
const MAX_LIMIT = 500;

interface ListOpts {
  provider?: string;
  account?: string;
  status?: string;
  stuck?: boolean;
  createdFrom?: string;
  createdTo?: string;
  limit: string;
  cursor?: string;
  json?: boolean;
}

function isoOption(name: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (Number.isNaN(Date.parse(v))) throw new RefundHubError('invalid_input', `--${name} must be an ISO 8601 date or date-time, got "${v}"`);
  return new Date(Date.parse(v)).toISOString();
}

export function register(program: Command): void {
  program
    .command('list')
    .description('List tracked refunds, newest tracked last')
    .option('--provider <provider>', `only this provider (${PROVIDER_IDS.join(', ')})`)
    .option('--account <name>', 'only this account')
    .option('--status <status>', `only this status (${REFUND_STATUSES.join(', ')})`)
    .option('--stuck', 'only refunds not final after 30 days')
    .option('--created-from <date>', "refund's createdAt on or after this time")
    .option('--created-to <date>', "refund's createdAt on or before this time")
    .option('--limit <n>', `at most this many (1-${MAX_LIMIT})`, '100')
    .option('--cursor <cursor>', 'continue from a previous listing')
    .option('--json', 'print {data, nextCursor} as JSON')
    .action(async (opts: ListOpts) => {
      await guard(async () => {
        const limit = Number(opts.limit);
        if (!/^\d+$/.test(opts.limit) || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new RefundHubError('invalid_input', `--limit must be an integer from 1 to ${MAX_LIMIT}, got "${opts.limit}"`);
        const filter: ListFilter = { limit };
        if (opts.provider !== undefined) {
          if (!isProviderId(opts.provider)) throw new RefundHubError('invalid_input', `unknown provider "${opts.provider}" (expected one of: ${PROVIDER_IDS.join(', ')})`);
          filter.provider = opts.provider;
        }
        if (opts.status !== undefined) {
          if (!isRefundStatus(opts.status)) throw new RefundHubError('invalid_input', `unknown status "${opts.status}" (expected one of: ${REFUND_STATUSES.join(', ')})`);
          filter.status = opts.status;
        }
        if (opts.account) filter.account = opts.account;
        if (opts.stuck) filter.stuck = true;
        const from = isoOption('created-from', opts.createdFrom);
        const to = isoOption('created-to', opts.createdTo);
        if (from) filter.createdFrom = from;
        if (to) filter.createdTo = to;
        if (opts.cursor) filter.cursor = opts.cursor;
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
