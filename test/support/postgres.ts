import { randomBytes } from 'node:crypto';
import { openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * PostgreSQL for tests: the server on 127.0.0.1:5432 (trust auth; .ci/run starts it when it is
 * down), or REFUNDHUB_TEST_POSTGRES_URL. Each test file makes its own databases and drops them.
 *
 * Whether the PostgreSQL tests run: with CI=true or REFUNDHUB_TEST_POSTGRES_URL set they must, so an
 * unreachable server fails them; otherwise a machine without PostgreSQL skips them with one line.
 */
export const ADMIN_URL = process.env.REFUNDHUB_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const required = process.env.CI === 'true' || Boolean(process.env.REFUNDHUB_TEST_POSTGRES_URL);

async function reachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function claimOnce(name: string): boolean {
  try {
    closeSync(openSync(join(tmpdir(), name), 'wx'));
    return true;
  } catch {
    return false;
  }
}

/** True when the PostgreSQL tests should run (decided once per test file, at collection). */
export const postgresAvailable: boolean = required || (await reachable());
// Said once per test run, not once per file: the first test process of this run to get here
// claims a marker named after the runner's pid.
if (!postgresAvailable && claimOnce(`refundhub-pg-skip-${process.ppid}`)) {
  console.warn(`PostgreSQL tests skipped: no server at ${new URL(ADMIN_URL).host} (set CI=true or REFUNDHUB_TEST_POSTGRES_URL to require them)`);
}

/** Runs one statement as the admin user (databases and roles made and dropped by tests). */
export async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A database of its own: its URL, and `drop()` (which also ends other sessions still on it). */
export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(prefix = 'refundhub_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return { name, url: u.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
