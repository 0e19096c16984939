import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Db, Store } from '../store/index.js';

/**
 * Write transactions that are safe when several processes share one database (a CLI `track`
 * next to `serve` on the same SQLite file, or several workers on PostgreSQL).
 *
 * - SQLite: the transaction takes the write lock at its start (`BEGIN IMMEDIATE`), so the
 *   read-then-write inside cannot be overtaken by another process between the read and the write
 *   (a deferred transaction would fail the upgrade with SQLITE_BUSY, or insert a duplicate key).
 *   Waiting for the lock rides on the connection's busy_timeout.
 * - PostgreSQL: an ordinary transaction; callers lock the row they read (`FOR UPDATE`) and a
 *   concurrent first insert surfaces as a unique violation.
 * - Either way, a residual write conflict (busy, unique violation, serialization failure,
 *   deadlock) rolls back and the whole callback runs again: it must re-read what it depends on.
 */

const SQLITE_CONFLICT = /^SQLITE_(BUSY|LOCKED|CONSTRAINT_PRIMARYKEY|CONSTRAINT_UNIQUE)/;
const PG_CONFLICT = new Set(['23505', '40001', '40P01']);

/** True for errors that mean "another writer got there first": worth running the transaction again. */
export function isWriteConflict(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return SQLITE_CONFLICT.test(code) || PG_CONFLICT.has(code);
}

export interface WriteTxOptions {
  /** Attempts in all, including the first (default 8). */
  attempts?: number;
  /** Called before each retry (logging). */
  onRetry?: (error: unknown, attempt: number) => void;
}

async function once<T>(store: Pick<Store, 'db' | 'dialect'>, fn: (tx: Db) => Promise<T>): Promise<T> {
  if (store.dialect !== 'sqlite') return store.db.transaction().execute(fn);
  return store.db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    let result: T;
    try {
      result = await fn(conn);
    } catch (e) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw e;
    }
    try {
      await sql`commit`.execute(conn);
    } catch (e) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw e;
    }
    return result;
  });
}

/** Runs `fn` in one write transaction, retrying it (bounded, with jittered back-off) on write conflicts. */
export async function withWriteTransaction<T>(store: Pick<Store, 'db' | 'dialect'>, fn: (tx: Db) => Promise<T>, options: WriteTxOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 8);
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(store, fn);
    } catch (e) {
      if (attempt >= attempts || !isWriteConflict(e)) throw e;
      options.onRetry?.(e, attempt);
      await sleep(Math.min(500, 5 * 2 ** attempt) * (0.5 + Math.random()));
    }
  }
}
