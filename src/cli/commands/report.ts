import type { Command } from 'commander';
import { REFUND_STATUSES } from '../../domain/refund.js';
import { RefundHubError } from '../../errors.js';
import { buildReport, type Report } from '../../store/report.js';
import { csvField } from '../csv.js';
import { withHub } from '../hub.js';
import { guard, printJson, printLine } from '../output.js';

/**
 * `refundhub report [--since 7d] [--format md|csv|json]`: per provider and account, the period's
 * refunds by status, time to final (p50, p95), stuck refunds (now), anomalies and reversals, and
 * the failing webhook endpoints. Reads the store only; no provider is called.
 */

const FORMATS = ['md', 'csv', 'json'] as const;
type Format = (typeof FORMATS)[number];
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "7d", "24h", "90m", "30s": a whole number and a unit, up to ten years. */
export function parseSince(raw: string): number {
  const m = /^\s*(\d{1,7})([smhd])\s*$/.exec(raw);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2]!]! : NaN;
  if (!m || ms <= 0 || ms > 3650 * UNIT_MS.d!) throw new RefundHubError('invalid_input', `--since must be a period like 24h or 7d (units s, m, h, d; up to 3650d), got ${JSON.stringify(raw.slice(0, 32))}`);
  return ms;
}

/** A duration for people: "45 s", "12.5 min", "3.2 h", "2.1 d". */
function human(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

const seconds = (ms: number | null): string => (ms === null ? '' : String(Math.round(ms / 1000)));
const mdCell = (v: string | number): string => String(v).replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');

export const CSV_HEADER = ['section', 'provider', 'account', 'total', ...REFUND_STATUSES, 'final_count', 'p50_seconds', 'p95_seconds', 'stuck', 'anomalies', 'reversals', 'endpoint_id', 'endpoint_url', 'failures'];

/** One rectangular table: a `refunds` row per provider and account, an `endpoint` row per failing endpoint. */
export function reportCsv(r: Report): string {
  const lines = [CSV_HEADER.join(',')];
  const blank = (n: number) => Array<string>(n).fill('');
  for (const g of r.groups) {
    lines.push(['refunds', g.provider, g.account, g.total, ...REFUND_STATUSES.map((s) => g.byStatus[s]), g.timeToFinal.count, seconds(g.timeToFinal.p50Ms), seconds(g.timeToFinal.p95Ms), g.stuck, g.anomalies, g.reversals, '', '', ''].map(csvField).join(','));
  }
  for (const e of r.failingEndpoints) {
    lines.push(['endpoint', '', '', ...blank(1 + REFUND_STATUSES.length + 6), e.id, e.url, e.failures].map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

export function reportMarkdown(r: Report): string {
  const out: string[] = ['# RefundHub report', '', `Period: ${r.since} to ${r.generatedAt}. Counts by status cover refunds tracked in the period; time to final, refunds that became final in it; stuck counts every refund stuck now.`, ''];
  out.push('## Refunds by provider and account', '');
  if (r.groups.length === 0) out.push('(no refunds)', '');
  else {
    const head = ['provider', 'account', 'total', ...REFUND_STATUSES, 'final', 'p50 to final', 'p95 to final', 'stuck', 'anomalies', 'reversals'];
    out.push(`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`);
    for (const g of r.groups) {
      const row = [g.provider, g.account, g.total, ...REFUND_STATUSES.map((s) => g.byStatus[s]), g.timeToFinal.count, human(g.timeToFinal.p50Ms), human(g.timeToFinal.p95Ms), g.stuck, g.anomalies, g.reversals];
      out.push(`| ${row.map(mdCell).join(' | ')} |`);
    }
    out.push('');
  }
  out.push(`## Stuck refunds (${r.stuck.count})`, '');
  if (r.stuck.refunds.length === 0) out.push('(none)', '');
  else {
    out.push('| provider | account | id | status | tracked since |', '| --- | --- | --- | --- | --- |');
    for (const s of r.stuck.refunds) out.push(`| ${[s.provider, s.account, s.id, s.status, s.trackedAt].map(mdCell).join(' | ')} |`);
    if (r.stuck.count > r.stuck.refunds.length) out.push('', `(${r.stuck.count - r.stuck.refunds.length} more: refundhub list --stuck)`);
    out.push('');
  }
  out.push('## Failing webhook endpoints', '');
  if (r.failingEndpoints.length === 0) out.push('(none)');
  else {
    out.push('| endpoint | url | failed deliveries | last failure |', '| --- | --- | --- | --- |');
    for (const e of r.failingEndpoints) out.push(`| ${[e.id, e.url, e.failures, e.lastFailureAt].map(mdCell).join(' | ')} |`);
  }
  return `${out.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('report')
    .description('Per provider and account: refunds by status, time to final (p50, p95), stuck refunds, anomalies, reversals, failing webhook endpoints')
    .option('--since <period>', 'the period to cover, ending now (e.g. 24h, 7d, 30d)', '7d')
    .option('--format <format>', `output format: ${FORMATS.join(', ')}`, 'md')
    .action(async (opts: { since: string; format: string }) => {
      await guard(async () => {
        const sinceMs = parseSince(opts.since);
        if (!(FORMATS as readonly string[]).includes(opts.format)) throw new RefundHubError('invalid_input', `--format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(opts.format.slice(0, 16))}`);
        const format = opts.format as Format;
        await withHub(program, async (hub) => {
          const report = await buildReport(hub.db, hub.clock.now(), sinceMs);
          if (format === 'json') printJson(report);
          else printLine((format === 'csv' ? reportCsv(report) : reportMarkdown(report)).trimEnd());
        });
      });
    });
}
