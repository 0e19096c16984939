import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PROVIDER_IDS, type ProviderId } from '../src/domain/refund.js';
import { silentLogger } from '../src/logger.js';
import { createEndpoint } from '../src/notify/endpoints.js';
import { getProvider } from '../src/providers/registry.js';
import { createApiKey } from '../src/server/auth.js';
import { createRefundHub } from '../src/service.js';
import { COPIED_TABLES, NOT_COPIED } from '../src/store/copy.js';
import { createStore } from '../src/store/index.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { tempDir } from './support/hub.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from './support/postgres.js';
import { CLI_TEST_TIMEOUT_MS, runCli } from './support/run-cli.js';

// Tests here start bin/refundhub: seconds apiece on a loaded machine (see CLI_TEST_TIMEOUT_MS).
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

/**
 * `refundhub migrate-store --from sqlite:PATH --to postgres://...` as a user runs it: a SQLite
 * store filled through the real spine against the emulator (tracked refunds with changes, history,
 * events, an endpoint with its secret, deliveries and an attempt, an API key, a pending
 * notification) is copied, every table comes out row for row equal, a rerun adds nothing,
 * `history --json` prints the same on both stores, and PostgreSQL's ids carry on after the copy.
 */

const built = existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));
const FINAL: Record<ProviderId, string> = { ziina: 'completed', tazapay: 'succeeded', gr4vy: 'succeeded', stan: 'payment_success', onekey: 'COMPLETED' };
const PASSWORD = 'hunter2pw'; // trust auth ignores it; it must still never be printed

let em: RunningEmulator;
let tmp: ReturnType<typeof tempDir>;
let sqliteUrl: string;
let pgdb: TestDatabase;
let pgUrl: string;
let env: Record<string, string>;
const secrets: string[] = [];
const refunds: Array<[ProviderId, string]> = [];

async function rows(url: string, table: string, key: string[]): Promise<unknown[]> {
  const store = await createStore(url);
  try {
    let q = (store.db as unknown as Kysely<any>).selectFrom(table).selectAll();
    for (const k of key) q = q.orderBy(k);
    return await q.execute();
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  if (!postgresAvailable || !built) return;
  em = await startEmulator();
  tmp = tempDir();
  sqliteUrl = `sqlite:${join(tmp.dir, 'source.db')}`;
  pgdb = await createTestDatabase();
  const u = new URL(pgdb.url);
  u.password = PASSWORD;
  pgUrl = u.toString();
  env = {};
  for (const id of PROVIDER_IDS) {
    const mapping = getProvider(id).config.env;
    for (const [key, value] of Object.entries(em.settings[id])) {
      const name = mapping[key];
      if (name && typeof value === 'string') env[name] = value;
    }
  }

  const hub = await createRefundHub({ databaseUrl: sqliteUrl, config: em.config(), logger: silentLogger, env: {}, allowPrivateWebhookUrls: true });
  try {
    const endpoint = await createEndpoint(hub.db, { url: 'http://127.0.0.1:9/hook' }, Date.now(), { allowPrivateWebhookUrls: true });
    secrets.push(endpoint.secret);
    const key = await createApiKey(hub.db, ['refunds:read'], 'copied key');
    secrets.push(key);
    // Two refunds per provider, one of them taken to its final status: history, events and deliveries.
    for (const provider of PROVIDER_IDS) {
      for (let i = 0; i < 2; i++) {
        const id = getProvider(provider).emulator.idOf(em.emulator.createRefund(provider, {}));
        await hub.track(provider, id);
        if (i === 0) {
          em.emulator.setStatus(provider, id, FINAL[provider]);
          await hub.refresh(provider, id);
        }
        refunds.push([provider, id]);
      }
    }
    // An event with a pending delivery and a failed attempt of its own, whatever the spine emitted.
    const [provider, id] = refunds[0]!;
    await hub.db.insertInto('events').values({ id: 'evt_copy_test', type: 'refund.updated', provider, account: 'default', refund_id: id, sequence: 99, created: 1_767_225_600, payload: '{"id":"evt_copy_test"}' }).execute();
    await hub.db
      .insertInto('deliveries')
      .values({ id: 'dlv_copy_test', event_id: 'evt_copy_test', endpoint_id: endpoint.id, status: 'pending', attempts: 1, next_attempt_at: Date.now(), locked_until: null, last_status_code: 500, last_error: 'HTTP 500', created_at: Date.now(), updated_at: Date.now() })
      .execute();
    await hub.db.insertInto('delivery_attempts').values({ delivery_id: 'dlv_copy_test', attempted_at: Date.now(), status_code: 500, error: 'HTTP 500', duration_ms: 12 }).execute();
    await hub.db
      .insertInto('notifications')
      .values({ provider: 'ziina', account: 'default', refund_id: refunds[1]![1], event_id: 'evt_1', event_type: 'refund.updated', received_at: Date.now(), body: '{}', outcome: 'pending', processed_at: null, error: null })
      .execute();
    secrets.push(...(await hub.db.selectFrom('api_keys').select('hash').execute()).map((r) => r.hash));
  } finally {
    await hub.stop();
  }
});

afterAll(async () => {
  await em?.close();
  tmp?.cleanup();
  await pgdb?.drop();
});

describe('copying a store', () => {
  it('knows every table a freshly migrated store has (a new table must be added to the copy or to NOT_COPIED)', async () => {
    const store = await createStore(`sqlite::memory:`);
    try {
      const tables = (await store.db.introspection.getTables()).map((t) => t.name).sort();
      expect([...COPIED_TABLES.map((t) => t.table), ...NOT_COPIED].filter((t) => !t.startsWith('kysely_')).sort()).toEqual(tables);
    } finally {
      await store.close();
    }
  });
});

describe.runIf(postgresAvailable && built)('refundhub migrate-store', () => {
  it('copies every table row for row, prints a per-table summary and no secret', async () => {
    const run = await runCli(['migrate-store', '--from', sqliteUrl, '--to', pgUrl, '--batch-size', '3'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const s of [PASSWORD, ...secrets]) expect(run.stdout).not.toContain(s);
    expect(run.stdout).toContain(`postgres://postgres:****@`);
    for (const spec of COPIED_TABLES) {
      const source = await rows(sqliteUrl, spec.table, spec.key);
      expect(source.length, spec.table).toBeGreaterThan(0);
      expect(run.stdout).toMatch(new RegExp(`^${spec.table} +${source.length} +${source.length} +0$`, 'm'));
      expect(await rows(pgUrl, spec.table, spec.key), spec.table).toEqual(source);
    }
  });

  it('a rerun copies nothing and changes nothing', async () => {
    const before = await Promise.all(COPIED_TABLES.map((s) => rows(pgUrl, s.table, s.key)));
    const run = await runCli(['migrate-store', '--from', sqliteUrl, '--to', pgUrl], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('done: nothing to copy');
    for (const spec of COPIED_TABLES) expect(run.stdout).toMatch(new RegExp(`^${spec.table} +(\\d+) +0 +\\1$`, 'm'));
    expect(await Promise.all(COPIED_TABLES.map((s) => rows(pgUrl, s.table, s.key)))).toEqual(before);
  });

  it('`refundhub history P ID --json` prints the same on both stores', async () => {
    // The refunds taken to a final status (the longer histories), one per provider.
    for (const [provider, id] of refunds.filter((_, i) => i % 2 === 0)) {
      const [onSqlite, onPg] = await Promise.all([sqliteUrl, pgUrl].map((url) => runCli(['history', provider, id, '--json'], { ...env, REFUNDHUB_DATABASE_URL: url })));
      expect(onSqlite!.code).toBe(0);
      expect(JSON.parse(onSqlite!.stdout).data.length).toBeGreaterThan(1);
      expect(onPg).toEqual(onSqlite);
    }
  });

  it('PostgreSQL ids carry on after the copied ones (identity sequences were moved)', async () => {
    const store = await createStore(pgdb.url);
    try {
      const db = store.db as unknown as Kysely<any>;
      const row = { refund_history: { provider: 'ziina', account: 'default', refund_id: 'x', kind: 'change', from_status: 'pending', to_status: 'succeeded', provider_status: 'completed', source: 'poll', observed_at: 1, raw: '{}', note: null }, delivery_attempts: { delivery_id: 'dlv_copy_test', attempted_at: 1, status_code: 200, error: null, duration_ms: 1 }, notifications: { provider: 'ziina', account: 'default', refund_id: 'x', event_id: null, event_type: null, received_at: 1, body: '{}', outcome: 'synced', processed_at: null, error: null } };
      for (const spec of COPIED_TABLES.filter((t) => t.identity)) {
        const max = Number((await db.selectFrom(spec.table).select((eb) => eb.fn.max('id').as('m')).executeTakeFirstOrThrow()).m);
        expect(max, spec.table).toBeGreaterThan(0);
        const added = await db.insertInto(spec.table).values(row[spec.table as keyof typeof row]).returning('id').executeTakeFirstOrThrow();
        expect(Number(added.id), spec.table).toBe(max + 1);
      }
    } finally {
      await store.close();
    }
  });

  it('refuses what it cannot do with one clear line: exit 2 for usage, exit 6 (store_error) for a server that is down', async () => {
    const missing = await runCli(['migrate-store', '--from', `sqlite:${join(tmp.dir, 'nope.db')}`, '--to', pgUrl], env);
    expect([missing.code, missing.stderr]).toEqual([2, `refundhub: error: --from: no SQLite file at ${join(tmp.dir, 'nope.db')} [invalid_input]\n`]);
    expect(existsSync(join(tmp.dir, 'nope.db'))).toBe(false);
    const toSqlite = await runCli(['migrate-store', '--from', sqliteUrl, '--to', sqliteUrl], env);
    expect([toSqlite.code, toSqlite.stderr]).toEqual([2, 'refundhub: error: --to must be a PostgreSQL URL, postgres://... [invalid_input]\n']);
    const down = await runCli(['migrate-store', '--from', sqliteUrl, '--to', `postgres://app:${PASSWORD}@127.0.0.1:1/x`], env);
    expect(down.code).toBe(6);
    expect(down.stderr).toMatch(/\[store_error\]\n$/);
    expect(down.stdout + down.stderr).not.toContain(PASSWORD);
    const noTo = await runCli(['migrate-store', '--from', sqliteUrl], env);
    expect(noTo.code).toBe(2);
  });
});
