import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { RefundHubError } from '../../errors.js';
import { copyStore } from '../../store/copy.js';
import { createStore, parseDatabaseUrl, type Store } from '../../store/index.js';
import { guard, printLine } from '../output.js';

export function register(program: Command): void {
  program
    .command('migrate-store')
    .description('Copy everything from a SQLite store into PostgreSQL (stop the service first; rerunning only adds what is missing)')
    .requiredOption('--from <url>', 'the SQLite store, sqlite:PATH')
    .requiredOption('--to <url>', 'the PostgreSQL database, postgres://USER@HOST:PORT/DB (migrated first if needed)')
    .option('--batch-size <n>', 'rows per read and insert', '500')
    .action(async (opts: { from: string; to: string; batchSize: string }) => {
      await guard(async () => {
        const from = parseDatabaseUrl(opts.from);
        if (from.dialect !== 'sqlite') throw new RefundHubError('invalid_input', '--from must be a SQLite store, sqlite:PATH');
        // Opening a missing file would create an empty store and copy nothing without a word.
        if (from.target !== ':memory:' && !existsSync(from.target)) throw new RefundHubError('invalid_input', `--from: no SQLite file at ${from.target}`);
        if (parseDatabaseUrl(opts.to).dialect !== 'postgres') throw new RefundHubError('invalid_input', '--to must be a PostgreSQL URL, postgres://...');
        const batchSize = Number(opts.batchSize);
        if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 2000) throw new RefundHubError('invalid_input', '--batch-size must be an integer from 1 to 2000');

        const stores: Store[] = [];
        try {
          const source = await createStore(opts.from);
          stores.push(source);
          const target = await createStore(opts.to);
          stores.push(target);
          printLine(`copying ${source.description} -> ${target.description}`);
          printLine(`${'table'.padEnd(20)}${'read'.padStart(10)}${'copied'.padStart(10)}${'already there'.padStart(15)}`);
          const results = await copyStore(source, target, {
            batchSize,
            onTable: (r) => printLine(`${r.table.padEnd(20)}${String(r.read).padStart(10)}${String(r.copied).padStart(10)}${String(r.read - r.copied).padStart(15)}`),
          });
          const copied = results.reduce((n, r) => n + r.copied, 0);
          printLine(copied ? `done: ${copied} rows copied` : 'done: nothing to copy, the target already has every row');
        } finally {
          for (const s of stores.reverse()) await s.close();
        }
      });
    });
}
