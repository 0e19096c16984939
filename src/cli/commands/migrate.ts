import type { Command } from 'commander';
import { createStore, databaseOpenError, DEFAULT_DATABASE_URL } from '../../store/index.js';
import { migrateToLatest } from '../../store/migrations/index.js';
import { QUEUE_SCHEMA } from '../../store/queue-schema.js';
import { guard, printLine } from '../output.js';

export function register(program: Command): void {
  program
    .command('migrate')
    .description("Apply RefundHub's database migrations and the job queue's schema, then exit (database: $REFUNDHUB_DATABASE_URL)")
    .action(async () => {
      await guard(async () => {
        const store = await createStore(process.env.REFUNDHUB_DATABASE_URL ?? DEFAULT_DATABASE_URL, { migrate: false });
        try {
          // Safe to run from several places at once: the migrator takes a lock shared by every process.
          // A server that is down is store_error (exit 6, try again); a wrong URL, user or database is not_configured.
          const result = await migrateToLatest(store.db).catch((e: unknown) => {
            throw databaseOpenError(e, `cannot migrate ${store.description}`);
          });
          const applied = result.applied.length ? `applied ${result.applied.join(', ')}` : 'already up to date';
          printLine(`${store.description}: RefundHub schema at ${result.latest} (${applied})`);
          if (result.queueSchemaVersion !== null) printLine(`${store.description}: job queue schema "${QUEUE_SCHEMA}" at version ${result.queueSchemaVersion}`);
        } finally {
          await store.close();
        }
      });
    });
}
