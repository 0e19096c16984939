import { Migrator, PostgresAdapter, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { installQueueSchema } from '../queue-schema.js';
import * as m001 from './001-refunds.js';
import * as m002 from './002-webhooks.js';
import * as m003 from './003-api-keys.js';
import * as m004 from './004-provider-text.js';
import * as m005 from './005-notification-retention.js';
import * as m006 from './006-provider-pauses.js';
import * as m007 from './007-dashboard-sessions.js';
import * as m008 from './008-contract-fields.js';
import * as m009 from './009-stuck-index.js';
import * as m010 from './010-payment-id-bound.js';

/**
 * Versioned migrations, applied in order on start. Written with Kysely's schema builder so the
 * same migration runs on SQLite and PostgreSQL (epoch-ms columns are `bigint`).
 * Never edit a migration that has shipped; add the next number.
 */
const MIGRATIONS: Record<string, Migration> = {
  '001-refunds': m001,
  '002-webhooks': m002,
  '003-api-keys': m003,
  '004-provider-text': m004,
  '005-notification-retention': m005,
  '006-provider-pauses': m006,
  '007-dashboard-sessions': m007,
  '008-contract-fields': m008,
  '009-stuck-index': m009,
  '010-payment-id-bound': m010,
};

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

/** What a migration run did: RefundHub migrations applied now, the latest one, the queue's schema version. */
export interface MigrationResult {
  applied: string[];
  latest: string | null;
  /** pg-boss's schema version (PostgreSQL only; SQLite runs no job queue). */
  queueSchemaVersion: number | null;
}

/**
 * Key of the session-level advisory lock every RefundHub process takes around its migrations and
 * the queue's schema install: several `refundhub migrate` runs and nodes starting at once then
 * migrate one after another, and the later ones find nothing to do.
 */
const PG_MIGRATION_LOCK = 0x5265_6668; // "Refh"

/**
 * Applies every pending migration (and on PostgreSQL installs or upgrades the job queue's schema)
 * under a lock shared by all processes: PostgreSQL's advisory lock; on SQLite the file's write lock
 * (BEGIN IMMEDIATE waits out another writer for the busy timeout, and all pending migrations commit
 * together). Safe to call on every start.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResult> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  if (pg) return migrateLocked(db, true);
  // better-sqlite3 waits for a busy file synchronously, blocking the event loop: a second store of
  // this process would wait out the busy timeout on a lock only an awaiting first one can release.
  // So this process's SQLite migrations queue here; other processes queue on the file's lock.
  const run = sqliteQueue.then(() => migrateLocked(db, false));
  sqliteQueue = run.catch(() => undefined);
  return run;
}

let sqliteQueue: Promise<unknown> = Promise.resolve();

async function migrateLocked(db: Kysely<any>, pg: boolean): Promise<MigrationResult> {
  // One connection for the lock and everything done under it: an advisory lock belongs to a session.
  return db.connection().execute(async (conn) => {
    if (pg) await sql`SELECT pg_advisory_lock(${PG_MIGRATION_LOCK})`.execute(conn);
    else await sql`BEGIN IMMEDIATE`.execute(conn);
    let done = false;
    try {
      const migrator = new Migrator({ db: conn, provider: new StaticProvider(), disableTransactions: !pg });
      const { error, results } = await migrator.migrateToLatest();
      if (error) {
        const failed = results?.find((r) => r.status === 'Error');
        throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message ?? String(error)}`);
      }
      const queueSchemaVersion = pg ? await installQueueSchema(conn) : null;
      if (!pg) await sql`COMMIT`.execute(conn);
      done = true;
      const names = Object.keys(MIGRATIONS).sort();
      return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName), latest: names.at(-1) ?? null, queueSchemaVersion };
    } finally {
      if (pg) await sql`SELECT pg_advisory_unlock(${PG_MIGRATION_LOCK})`.execute(conn);
      else if (!done) await sql`ROLLBACK`.execute(conn).catch(() => undefined);
    }
  });
}
