import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProvider } from '../src/providers/registry.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { call, startHub, type RunningHub } from './support/hub.js';
import { admin, ADMIN_URL, postgresAvailable } from './support/postgres.js';

/**
 * A PostgreSQL that refuses new connections ("too many connections", SQLSTATE class 53) must
 * answer 503 store_error with Retry-After on every API path that needs one (auth key lookup, the
 * spine's reads, the refund lock), never 500 internal_error. The refusal is real: the hub's role
 * gets CONNECTION LIMIT 0 and its open sessions are ended, so every pool must reconnect.
 */

describe.skipIf(!postgresAvailable)('API when the database refuses connections [postgres]', () => {
  const suffix = randomBytes(4).toString('hex');
  const role = `refundhub_lim_${suffix}`;
  const database = `refundhub_lim_${suffix}`;
  let em: RunningEmulator;
  let h: RunningHub;
  let key: string;

  beforeAll(async () => {
    // A role that is no superuser: CONNECTION LIMIT does not bind superusers.
    await admin(`CREATE ROLE ${role} LOGIN NOSUPERUSER`);
    await admin(`CREATE DATABASE ${database} OWNER ${role}`);
    const u = new URL(ADMIN_URL);
    u.username = role;
    u.pathname = `/${database}`;
    em = await startEmulator();
    h = await startHub(em, '', { databaseUrl: u.toString(), roles: { api: true, worker: false }, apiKeyCacheMs: 0 });
    key = await h.key(['refunds:read', 'refunds:write']);
    const id = getProvider('ziina').emulator.idOf(em.emulator.createRefund('ziina', {}));
    // Reachable first: the same request succeeds while the database takes connections.
    expect((await call(`${h.url}/v1/refunds`, { key, json: { provider: 'ziina', id } })).status).toBe(201);
    await admin(`ALTER ROLE ${role} CONNECTION LIMIT 0`);
    await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'`);
  }, 60_000);

  afterAll(async () => {
    await admin(`ALTER ROLE ${role} CONNECTION LIMIT -1`).catch(() => undefined);
    await h?.close().catch(() => undefined);
    await em?.close();
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin(`DROP ROLE IF EXISTS ${role}`);
  }, 60_000);

  it('POST /v1/refunds, GET /v1/refunds and a refresh answer 503 store_error with Retry-After, never 500', async () => {
    const id = getProvider('stan').emulator.idOf(em.emulator.createRefund('stan', {}));
    const requests = [
      call(`${h.url}/v1/refunds`, { key, json: { provider: 'stan', id } }),
      call(`${h.url}/v1/refunds`, { key }),
      call(`${h.url}/v1/refunds/stan/${encodeURIComponent(id)}`, { key }),
      call(`${h.url}/v1/refunds/stan/${encodeURIComponent(id)}/refresh`, { key, method: 'POST' }),
    ];
    for (const r of await Promise.all(requests)) {
      expect(r.body?.error?.code, r.text).toBe('store_error');
      expect(r.status).toBe(503);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // The server's message names no role, database or password.
      expect(r.text).not.toContain(role);
    }
  }, 60_000);
});
