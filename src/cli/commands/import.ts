import { createReadStream, createWriteStream, statSync, type WriteStream } from 'node:fs';
import type { Command } from 'commander';
import { isProviderId, PROVIDER_IDS, type ProviderId } from '../../domain/refund.js';
import { isRefundHubError, RefundHubError } from '../../errors.js';
import { DEFAULT_CONCURRENCY } from '../../poller/poller.js';
import type { RefundHub } from '../../service.js';
import { csvField, readCsv, type CsvProgress } from '../csv.js';
import { withHub } from '../hub.js';
import { CliExit, guard, printJson, printLine } from '../output.js';

/**
 * `refundhub import FILE.csv`: tracks many refunds through the same `track` as `refundhub track`
 * (the spine), at most `concurrency` at a time per provider. The file is streamed: the reader
 * waits for a free slot of the row's provider before reading on, so at most the sum of the
 * providers' slots (plus the one row waiting) is in memory, whatever the file's length.
 */

const COLUMNS = ['provider', 'id', 'account', 'currency'] as const;
type Column = (typeof COLUMNS)[number];
const REQUIRED: readonly Column[] = ['provider', 'id'];
const ACCOUNT_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** Exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;
/** Plain progress lines (not a terminal): one per this many rows. */
const PLAIN_PROGRESS_EVERY = 1000;

export interface ImportSummary {
  file: string;
  rows: number;
  tracked: number;
  alreadyTracked: number;
  rejected: number;
  failed: number;
  interrupted: boolean;
  /** Most rows in hand at once (fetching or waiting for a slot): bounded by the slots, not the file. */
  peakInFlight: number;
}

interface Row {
  line: number;
  provider: string;
  id: string;
  account: string;
  currency: string | null;
}

/** A counting semaphore per provider, whose waiters are woken in order. */
class Slots {
  private used = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(readonly limit: number) {}
  async acquire(): Promise<void> {
    if (this.used < this.limit) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.used--;
  }
}

/** Checks the header: known columns only, each once, `provider` and `id` present. Returns column -> index. */
export function parseHeader(fields: string[]): Map<Column, number> {
  const index = new Map<Column, number>();
  fields.forEach((raw, i) => {
    const name = raw.trim().toLowerCase();
    if (!(COLUMNS as readonly string[]).includes(name)) {
      throw new RefundHubError('invalid_input', `the header has an unknown column ${JSON.stringify(raw.slice(0, 40))} (columns: ${COLUMNS.join(', ')}; provider and id are required)`);
    }
    if (index.has(name as Column)) throw new RefundHubError('invalid_input', `the header names column "${name}" twice`);
    index.set(name as Column, i);
  });
  const missing = REQUIRED.filter((c) => !index.has(c));
  if (missing.length > 0) throw new RefundHubError('invalid_input', `the header lacks the required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (columns: ${COLUMNS.join(', ')})`);
  return index;
}

/** The row's values, or why it is rejected (before any provider call). */
function toRow(line: number, fields: string[], header: Map<Column, number>): Row | string {
  if (fields.length !== header.size) return `has ${fields.length} field${fields.length === 1 ? '' : 's'}, the header has ${header.size}`;
  const get = (c: Column) => (header.has(c) ? fields[header.get(c)!]!.trim() : '');
  const provider = get('provider').toLowerCase();
  const id = get('id');
  const account = get('account') || 'default';
  const currency = get('currency');
  if (!provider) return 'provider is empty';
  if (!isProviderId(provider)) return `unknown provider ${JSON.stringify(provider.slice(0, 40))} (${PROVIDER_IDS.join(', ')})`;
  if (!id) return 'id is empty';
  if (!ACCOUNT_RE.test(account)) return 'account must be 1-64 letters, digits, "_", "." or "-"';
  if (currency && !/^[A-Za-z]{3}$/.test(currency)) return `currency must be a 3-letter ISO 4217 code, got ${JSON.stringify(currency.slice(0, 16))}`;
  return { line, provider, id, account, currency: currency ? currency.toUpperCase() : null };
}


interface ImportOptions {
  rejects?: string;
  concurrency?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('import')
    .description('Track many refunds from a CSV file (columns provider, id, optional account and currency); rerunning it is harmless')
    .argument('<file>', 'CSV file with a header row')
    .option('--rejects <file>', 'write rejected and failed rows (line, reason) to this CSV file instead of stderr')
    .option('--concurrency <n>', "provider calls at once per provider (default: the provider's configured concurrency, else 4)")
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, opts: ImportOptions) => {
      await guard(async () => {
        let perProvider: number | undefined;
        if (opts.concurrency !== undefined) {
          if (!/^\d{1,3}$/.test(opts.concurrency) || Number(opts.concurrency) < 1 || Number(opts.concurrency) > 100) {
            throw new RefundHubError('invalid_input', `--concurrency must be a whole number from 1 to 100, got ${JSON.stringify(opts.concurrency.slice(0, 16))}`);
          }
          perProvider = Number(opts.concurrency);
        }
        let size: number;
        try {
          const st = statSync(file);
          if (!st.isFile()) throw new Error('not a file');
          size = st.size;
        } catch {
          throw new RefundHubError('invalid_input', `cannot read ${file}: no such file`);
        }
        const code = await withHub(program, (hub) => runImport(hub, file, size, opts, perProvider));
        if (code !== 0) throw new CliExit(code);
      });
    });
}

async function runImport(hub: RefundHub, file: string, size: number, opts: ImportOptions, perProvider: number | undefined): Promise<number> {
  const summary: ImportSummary = { file, rows: 0, tracked: 0, alreadyTracked: 0, rejected: 0, failed: 0, interrupted: false, peakInFlight: 0 };
  const slots = new Map<ProviderId, Slots>();
  for (const p of PROVIDER_IDS) slots.set(p, new Slots(perProvider ?? hub.config.providers[p]?.concurrency ?? DEFAULT_CONCURRENCY));

  let rejectsOut: WriteStream | undefined;
  if (opts.rejects) {
    rejectsOut = createWriteStream(opts.rejects);
    await new Promise<void>((resolve, reject) => {
      rejectsOut!.once('open', () => resolve());
      rejectsOut!.once('error', (e: NodeJS.ErrnoException) => reject(new RefundHubError('invalid_input', `cannot write --rejects ${opts.rejects}: ${e.code ?? e.message}`)));
    });
    rejectsOut.write('line,provider,id,account,outcome,reason\n');
  }
  const report = (line: number, outcome: 'rejected' | 'failed', reason: string, row?: Partial<Row>) => {
    if (outcome === 'rejected') summary.rejected++;
    else summary.failed++;
    if (rejectsOut) rejectsOut.write(`${[line, row?.provider ?? '', row?.id ?? '', row?.account ?? '', outcome, reason].map(csvField).join(',')}\n`);
    else {
      clearBar();
      process.stderr.write(`refundhub: import: line ${line}: ${outcome}: ${reason}\n`);
    }
  };

  // Progress: a bar redrawn in place on a terminal, a plain line every PLAIN_PROGRESS_EVERY rows otherwise.
  const tty = process.stderr.isTTY === true;
  const csvProgress: CsvProgress = { bytesRead: 0, charsParsed: 0 };
  let barShown = false;
  let lastDraw = 0;
  let plainPrinted = 0;
  const counts = () => `${summary.rows} rows: ${summary.tracked} tracked, ${summary.alreadyTracked} already tracked, ${summary.rejected} rejected, ${summary.failed} failed`;
  function clearBar(): void {
    if (barShown) process.stderr.write('\r\x1b[K');
    barShown = false;
  }
  function drawProgress(force = false): void {
    if (tty) {
      const now = Date.now();
      if (!force && now - lastDraw < 100) return;
      lastDraw = now;
      // Characters stand in for bytes (equal for ASCII ids): the bar follows the reader, which the slots hold back.
      const ratio = (force && !summary.interrupted) || size === 0 ? 1 : Math.min(1, csvProgress.charsParsed / size);
      const width = 24;
      const filled = Math.round(ratio * width);
      process.stderr.write(`\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%  ${counts()}`);
      barShown = true;
    } else {
      const done = summary.tracked + summary.alreadyTracked + summary.rejected + summary.failed;
      const bucket = Math.floor(done / PLAIN_PROGRESS_EVERY);
      if (force || bucket > plainPrinted) {
        plainPrinted = bucket;
        process.stderr.write(`refundhub: import: ${counts()}\n`);
      }
    }
  }

  // Ctrl-C once: stop reading, let the rows in hand finish, print the summary. Twice: abandon them.
  let stopping = false;
  let abandon: (() => void) | undefined;
  const abandoned = new Promise<void>((resolve) => (abandon = resolve));
  const onInt = () => {
    if (!stopping) {
      stopping = true;
      summary.interrupted = true;
      clearBar();
      process.stderr.write(`refundhub: import: stopping; finishing ${inFlight.size} row(s) in hand (Ctrl-C again to abandon them)\n`);
    } else abandon!();
  };
  process.on('SIGINT', onInt);

  const inFlight = new Set<Promise<void>>();
  const track = async (row: Row): Promise<void> => {
    try {
      const { created } = await hub.track(row.provider, row.id, { account: row.account, currency: row.currency, source: 'manual' });
      if (created) summary.tracked++;
      else summary.alreadyTracked++;
    } catch (e) {
      if (!isRefundHubError(e)) {
        report(row.line, 'failed', `unexpected error: ${(e as Error)?.message ?? String(e)}`, row);
        return;
      }
      // A row the provider's rules or our configuration refuse is the row's fault; anything else may work on a rerun.
      const outcome = e.code === 'invalid_input' || e.code === 'not_configured' ? 'rejected' : 'failed';
      report(row.line, outcome, `${e.message} [${e.code}]`, row);
    }
  };

  try {
    const records = readCsv(createReadStream(file), csvProgress);
    let header: Map<Column, number> | undefined;
    for await (const rec of records) {
      if (stopping) break;
      if (!header) {
        if (rec.fields === undefined) throw new RefundHubError('invalid_input', `the header (line ${rec.line}) is malformed: ${rec.error}`);
        header = parseHeader(rec.fields);
        continue;
      }
      summary.rows++;
      const row = rec.fields === undefined ? rec.error : toRow(rec.line, rec.fields, header);
      if (typeof row === 'string') {
        report(rec.line, 'rejected', row, rec.fields ? { provider: rec.fields[header.get('provider')!], id: rec.fields[header.get('id')!] } : undefined);
        drawProgress();
        continue;
      }
      const lane = slots.get(row.provider as ProviderId)!;
      await lane.acquire();
      if (stopping) {
        lane.release();
        summary.rows--;
        break;
      }
      const p: Promise<void> = track(row).finally(() => {
        lane.release();
        inFlight.delete(p);
        drawProgress();
      });
      inFlight.add(p);
      summary.peakInFlight = Math.max(summary.peakInFlight, inFlight.size);
    }
    if (!header) throw new RefundHubError('invalid_input', `${file} is empty: expected a header row (${COLUMNS.join(', ')})`);
    await Promise.race([Promise.all(inFlight), abandoned]);
  } finally {
    process.off('SIGINT', onInt);
    clearBar();
    if (rejectsOut) await new Promise<void>((resolve) => rejectsOut!.end(resolve));
  }

  drawProgress(true);
  clearBar();
  if (opts.json) printJson(summary);
  else {
    printLine(`${summary.interrupted ? 'Interrupted' : 'Imported'} ${file}: ${summary.rows} rows${summary.interrupted && inFlight.size > 0 ? ` (${inFlight.size} abandoned in flight)` : ''}`);
    printLine(`  tracked          ${summary.tracked}`);
    printLine(`  already tracked  ${summary.alreadyTracked}`);
    printLine(`  rejected         ${summary.rejected}`);
    printLine(`  failed           ${summary.failed}`);
    if (summary.rejected + summary.failed > 0) printLine(opts.rejects ? `Rows not tracked: ${opts.rejects}` : 'Rows not tracked: see the lines above on stderr');
    if (summary.interrupted) printLine('Run the same import again to continue: rows already tracked are skipped.');
  }
  if (summary.interrupted) {
    // Abandoned rows may still be fetching: exit now rather than wait for them (each write is one transaction).
    if (inFlight.size > 0) process.exit(EXIT_INTERRUPTED);
    return EXIT_INTERRUPTED;
  }
  if (summary.failed > 0) return 5;
  if (summary.rejected > 0) return 2;
  return 0;
}
