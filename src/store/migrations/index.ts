import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import * as m001 from './001-refunds.js';
import * as m002 from './002-webhooks.js';
import * as m003 from './003-api-keys.js';

/**
 * Versioned migrations, applied in order on start. Written with Kysely's schema builder so the
 * same migration runs on SQLite and PostgreSQL (epoch-ms columns are `bigint`).
 * Never edit a migration that has shipped; add the next number.
 */
const MIGRATIONS: Record<string, Migration> = {
  '001-refunds': m001,
  '002-webhooks': m002,
  '003-api-keys': m003,
};

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return MIGRATIONS;
  }
}

export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const migrator = new Migrator({ db, provider: new StaticProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message ?? String(error)}`);
  }
}
