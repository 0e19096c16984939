import { describe } from 'vitest';
import { cleanupTempDatabases, tempDatabaseUrl } from './db.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from './postgres.js';

/**
 * The store's test suite runs once per backend: a temp SQLite file, and a PostgreSQL database made
 * for the test and dropped after it. `describeStores` declares the same tests for both; on a
 * machine without PostgreSQL (and without CI=true) the PostgreSQL half is skipped, with the one
 * line test/support/postgres.ts prints.
 */
export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  /** A fresh, empty database's URL; every one is removed by `cleanup()`. */
  newDatabaseUrl(): Promise<string>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): StoreBackend {
  return {
    name: 'sqlite',
    newDatabaseUrl: async () => tempDatabaseUrl(),
    cleanup: async () => cleanupTempDatabases(),
  };
}

function postgresBackend(): StoreBackend {
  const made: TestDatabase[] = [];
  return {
    name: 'postgres',
    async newDatabaseUrl() {
      const db = await createTestDatabase();
      made.push(db);
      return db.url;
    },
    async cleanup() {
      for (const db of made.splice(0)) await db.drop();
    },
  };
}

/** `describe(title)` once per backend (`title [sqlite]`, `title [postgres]`). */
export function describeStores(title: string, body: (backend: StoreBackend) => void): void {
  describe(`${title} [sqlite]`, () => body(sqliteBackend()));
  describe.skipIf(!postgresAvailable)(`${title} [postgres]`, () => body(postgresBackend()));
}
