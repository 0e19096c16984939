import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRefundLock, refundLockId, type PgRefundLock } from '../src/store/refund-lock.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from './support/postgres.js';
import { pollUntil } from './support/wait.js';

/**
 * The cross-process per-refund lock on the real PostgreSQL server. Two lock instances (two pools,
 * two sessions) stand for two processes; the SIGKILL test uses a real child process.
 */
const HOLDER = fileURLToPath(new URL('./fixtures/refund-lock-holder.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe.skipIf(!postgresAvailable)('PgRefundLock [postgres]', () => {
  let db: TestDatabase;
  const locks: PgRefundLock[] = [];
  const children: ChildProcess[] = [];
  const newLock = (options: { maxWaitMs?: number; maxConnections?: number } = {}) => {
    const lock = createRefundLock({ connectionString: db.url, ...options });
    locks.push(lock);
    return lock;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const l of locks) await l.close();
    await db?.drop();
  });

  /** Runs `fn` under the lock, recording when it held it. */
  const timed = (lock: PgRefundLock, key: string, spans: Array<[number, number]>, work: () => Promise<void>) =>
    lock.run(key, async () => {
      const start = performance.now();
      await work();
      spans.push([start, performance.now()]);
    });

  const overlaps = (spans: Array<[number, number]>) => {
    const sorted = [...spans].sort((x, y) => x[0] - y[0]);
    return sorted.some((s, i) => i > 0 && s[0] < sorted[i - 1]![1]);
  };

  it('never runs two holders of one refund at once across two processes', async () => {
    const a = newLock();
    const b = newLock();
    const spans: Array<[number, number]> = [];
    const step = () => new Promise<void>((r) => setTimeout(r, 5));
    await Promise.all(Array.from({ length: 20 }, (_, i) => timed(i % 2 ? a : b, 'ziina\u0000default\u0000r-1', spans, step)));
    expect(spans).toHaveLength(20);
    expect(overlaps(spans)).toBe(false);
  });

  it('runs different refunds at the same time', async () => {
    const a = newLock();
    const b = newLock();
    let bStarted = false;
    // Key 1 waits inside its lock for key 2 to start: serialising different keys would time this out.
    const one = a.run('stan\u0000default\u0000r-1', () => pollUntil(() => bStarted, { timeoutMs: 15_000, what: 'the other refund to start' }));
    const two = b.run('stan\u0000default\u0000r-2', async () => {
      bStarted = true;
    });
    await Promise.all([one, two]);
  });

  it('queues one process\'s callers of a refund in front of the database: one connection for them all', async () => {
    const lock = newLock({ maxConnections: 5 });
    const spans: Array<[number, number]> = [];
    let most = 0;
    const step = async () => {
      most = Math.max(most, lock.connections);
      await new Promise<void>((r) => setTimeout(r, 5));
    };
    await Promise.all(Array.from({ length: 8 }, () => timed(lock, 'gr4vy\u0000default\u0000r-9', spans, step)));
    expect(spans).toHaveLength(8);
    expect(overlaps(spans)).toBe(false);
    expect(most).toBe(1);
  });

  it('gives up after the bounded wait with a clear, retryable error; the waiter never runs; the holder is unharmed', async () => {
    const a = newLock();
    const b = newLock();
    const key = 'onekey\u0000default\u0000busy-1';
    let release!: () => void;
    const holding = new Promise<void>((r) => (release = r));
    let held = false;
    const holder = a.run(key, async () => {
      held = true;
      await holding;
      return 'done';
    });
    await pollUntil(() => held, { what: 'the holder' });
    let ranOther = false;
    let ranLocal = false;
    // Another process: the database's lock_timeout ends the wait.
    await expect(b.run(key, async () => void (ranOther = true), { maxWaitMs: 200 })).rejects.toMatchObject({
      code: 'store_error',
      retryable: true,
      message: 'refund onekey/default/busy-1 is busy: another sync held it for more than 200 ms',
    });
    // This process: the in-process queue's wait is bounded too.
    await expect(a.run(key, async () => void (ranLocal = true), { maxWaitMs: 200 })).rejects.toThrow(/busy/);
    release();
    expect(await holder).toBe('done');
    // Free again: both can take it, and the abandoned waiters did not run in between.
    expect(await b.run(key, async () => 'b')).toBe('b');
    expect(await a.run(key, async () => 'a')).toBe('a');
    expect([ranOther, ranLocal]).toEqual([false, false]);
  });

  it('releases the lock when fn throws', async () => {
    const a = newLock();
    const b = newLock({ maxWaitMs: 2000 });
    const key = 'tazapay\u0000default\u0000throws';
    await expect(a.run(key, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await b.run(key, async () => 'ok')).toBe('ok');
  });

  it('a SIGKILLed holder releases the lock: the waiter gets it once the process is gone', async () => {
    // Environment values cannot carry the NULs refundKeyString uses; any string is a key.
    const key = 'ziina/default/killed';
    const child = spawn(process.execPath, ['--import', 'tsx', HOLDER], { cwd: ROOT, env: { ...process.env, LOCK_URL: db.url, LOCK_KEY: key }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    // tsx compiles the fixture on start: ~10 s on a loaded 2-core machine.
    await pollUntil(() => out.includes('HELD') || child.exitCode !== null, { timeoutMs: 60_000, what: 'the child to take the lock' });
    expect([out, err]).toEqual(['HELD\n', '']);

    const lock = newLock({ maxWaitMs: 15_000 });
    // The child's session holds the advisory lock now.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const held = async () => (await admin.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`, [refundLockId(key)])).rows[0].n;
      expect(await held()).toBe(1);
      await expect(lock.run(key, async () => 'early', { maxWaitMs: 300 })).rejects.toThrow(/busy/);
      let got = false;
      const waiting = lock.run(key, async () => {
        got = true;
        return 'after kill';
      });
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
      expect(await waiting).toBe('after kill');
      expect(got).toBe(true);
    } finally {
      await admin.end();
    }
  }, 120_000);
});
