import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createStore, type Store } from '../src/store/index.js';
import { cleanupTempDatabases, tempDatabaseUrl } from './support/db.js';
import { ADMIN_URL, createTestDatabase, postgresAvailable, type TestDatabase } from './support/postgres.js';
import { CLI_TEST_TIMEOUT_MS, runCli } from './support/run-cli.js';

// Tests here start bin/refundhub: seconds apiece on a loaded machine (see CLI_TEST_TIMEOUT_MS).
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

/**
 * `refundhub migrate` and migrations on open, started several at a time on a fresh database: every
 * one succeeds, exactly one applies the migrations, and the schema comes out whole. Before the
 * shared lock, concurrent migrators on one fresh SQLite file failed with "table already exists".
 */

const MIGRATION_COUNT = 3; // 001..003 at the time of writing; the test reads the real list below
const QUEUE_SCHEMA_VERSION: number = createRequire(import.meta.url)('pg-boss/version.json').schema;
const built = existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));

async function migrationNames(store: Store): Promise<string[]> {
  const rows = await (store.db as any).selectFrom('kysely_migration').select('name').orderBy('name').execute();
  return rows.map((r: { name: string }) => r.name);
}

async function expectWholeSchema(url: string): Promise<void> {
  const store = await createStore(url, { migrate: false });
  try {
    const names = await migrationNames(store);
    expect(names.length).toBeGreaterThanOrEqual(MIGRATION_COUNT);
    expect(new Set(names).size).toBe(names.length);
    const tables = (await store.db.introspection.getTables()).map((t) => t.name);
    for (const t of ['refunds', 'refund_history', 'events', 'webhook_endpoints', 'deliveries', 'delivery_attempts', 'notifications', 'api_keys']) expect(tables).toContain(t);
    if (store.dialect === 'postgres') {
      const { rows } = await (await import('kysely')).sql<{ version: number }>`SELECT version::int AS version FROM pgboss.version`.execute(store.db);
      expect(rows).toEqual([{ version: QUEUE_SCHEMA_VERSION }]);
    }
  } finally {
    await store.close();
  }
}

afterAll(() => cleanupTempDatabases());

describe.runIf(built)('refundhub migrate (CLI)', () => {
  it('six at once on a fresh SQLite file: all exit 0, one applies the migrations', async () => {
    const url = tempDatabaseUrl();
    const runs = await Promise.all(Array.from({ length: 6 }, () => runCli(['migrate'], { REFUNDHUB_DATABASE_URL: url })));
    expect(runs.map((r) => [r.code, r.stderr])).toEqual(runs.map(() => [0, '']));
    expect(runs.filter((r) => r.stdout.includes('(applied 001-refunds')).length).toBe(1);
    expect(runs.filter((r) => r.stdout.includes('(already up to date)')).length).toBe(5);
    await expectWholeSchema(url);
  });

  it('exits 2 with one clear line for a URL it cannot use, and never prints the password', async () => {
    const bad = await runCli(['migrate'], { REFUNDHUB_DATABASE_URL: 'mysql://root:hunter2pw@127.0.0.1/x' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^refundhub: error: REFUNDHUB_DATABASE_URL must start with sqlite: or postgres:\/\/ \[not_configured\]\n$/);
    expect(bad.stdout + bad.stderr).not.toContain('hunter2pw');
  });

  it('a server that is down is store_error (exit 6), for migrate and for any command, without the password', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const url = 'postgres://app:hunter2pw@127.0.0.1:1/refundhub';
    const down = await runCli(['migrate'], { REFUNDHUB_DATABASE_URL: url });
    expect(down.code, down.stderr).toBe(6);
    expect(down.stderr).toMatch(/^refundhub: error: cannot migrate postgres:\/\/app:\*\*\*\*@127\.0\.0\.1:1\/refundhub: the database is unreachable or not accepting connections \(.*ECONNREFUSED.*\) \[store_error\]\n$/);
    const list = await runCli(['list'], { REFUNDHUB_DATABASE_URL: url });
    expect(list.code, list.stderr).toBe(6);
    expect(list.stderr).toMatch(/^refundhub: error: cannot open postgres:\/\/app:\*\*\*\*@127\.0\.0\.1:1\/refundhub: the database is unreachable .*ECONNREFUSED.* \[store_error\]\n$/);
    for (const r of [down, list]) expect(r.stdout + r.stderr).not.toContain('hunter2pw');
  });

  it('a host that accepts the connection and never answers fails after REFUNDHUB_DATABASE_CONNECT_TIMEOUT, as store_error', async () => {
    // Stands in for a host that drops packets: the TCP connection opens, nothing ever comes back.
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s.on('error', () => {})));
    await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
    try {
      const port = (silent.address() as AddressInfo).port;
      const run = await runCli(['migrate'], { REFUNDHUB_DATABASE_URL: `postgres://app:hunter2pw@127.0.0.1:${port}/refundhub`, REFUNDHUB_DATABASE_CONNECT_TIMEOUT: '1' }, { timeoutMs: 20_000 });
      expect(run.code, run.stderr).toBe(6);
      expect(run.stderr).toMatch(/the database is unreachable or not accepting connections \(.*timeout.*\) \[store_error\]\n$/i);
      expect(run.stderr).not.toContain('hunter2pw');
      const badSetting = await runCli(['migrate'], { REFUNDHUB_DATABASE_URL: `postgres://app@127.0.0.1:${port}/refundhub`, REFUNDHUB_DATABASE_CONNECT_TIMEOUT: '10s' });
      expect(badSetting.code).toBe(2);
      expect(badSetting.stderr).toMatch(/REFUNDHUB_DATABASE_CONNECT_TIMEOUT must be a whole number of seconds .*\[not_configured\]/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => silent.close(() => ok()));
    }
  });

  it.runIf(postgresAvailable)('a database that does not exist stays not_configured (exit 2)', async () => {
    const url = new URL(ADMIN_URL);
    url.pathname = '/refundhub_no_such_database_f1';
    const run = await runCli(['migrate'], { REFUNDHUB_DATABASE_URL: url.toString() });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/database "refundhub_no_such_database_f1" does not exist \[not_configured\]\n$/);
  });
});

describe.runIf(postgresAvailable)('migrations on PostgreSQL, several at once', () => {
  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  it.runIf(built)('five `refundhub migrate` processes on a fresh database: all exit 0, the schema and the queue schema are whole', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const runs = await Promise.all(Array.from({ length: 5 }, () => runCli(['migrate'], { REFUNDHUB_DATABASE_URL: db.url })));
    expect(runs.map((r) => [r.code, r.stderr])).toEqual(runs.map(() => [0, '']));
    expect(runs.filter((r) => r.stdout.includes('(applied 001-refunds')).length).toBe(1);
    for (const r of runs) expect(r.stdout).toContain(`job queue schema "pgboss" at version ${QUEUE_SCHEMA_VERSION}`);
    await expectWholeSchema(db.url);
    // And again on the migrated database: nothing to do, still 0.
    const again = await runCli(['migrate'], { REFUNDHUB_DATABASE_URL: db.url });
    expect([again.code, again.stdout.includes('(already up to date)')]).toEqual([0, true]);
  });

  it('five createStore() at once in one process on a fresh database all open', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const opened = await Promise.allSettled(Array.from({ length: 5 }, () => createStore(db.url)));
    const stores = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    try {
      expect(opened.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
    } finally {
      for (const s of stores) await s.close();
    }
    await expectWholeSchema(db.url);
  });
});

describe('migrations on SQLite, several at once in one process', () => {
  it('five createStore() on one fresh file all open', async () => {
    const url = tempDatabaseUrl();
    const opened = await Promise.allSettled(Array.from({ length: 5 }, () => createStore(url)));
    const stores = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    try {
      expect(opened.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
    } finally {
      for (const s of stores) await s.close();
    }
    await expectWholeSchema(url);
  });
});
