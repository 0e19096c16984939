import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import { RefundHubError } from '../errors.js';
import { migrateToLatest } from './migrations/index.js';
import type { Database } from './schema.js';

export type { Database } from './schema.js';
export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

export type StoreDialect = 'sqlite' | 'postgres';

/**
 * The store: one Kysely instance over SQLite (default, a file, WAL) or PostgreSQL. Repositories
 * (refunds, webhooks, keys) take a `Db` or a `Tx`, so the spine can put several writes in one
 * transaction.
 */
export interface Store {
  db: Db;
  dialect: StoreDialect;
  /** What the URL points at, without credentials (for logs and `serve`'s banner). */
  description: string;
  close(): Promise<void>;
}

export const DEFAULT_DATABASE_URL = 'sqlite:./refundhub.db';

/** Parses REFUNDHUB_DATABASE_URL: `sqlite:PATH`, `sqlite::memory:`, or `postgres://...`. */
export function parseDatabaseUrl(url: string): { dialect: StoreDialect; target: string } {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path) throw new RefundHubError('not_configured', 'REFUNDHUB_DATABASE_URL: sqlite: needs a path, e.g. sqlite:./refundhub.db');
    return { dialect: 'sqlite', target: path };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { dialect: 'postgres', target: url };
  throw new RefundHubError('not_configured', 'REFUNDHUB_DATABASE_URL must start with sqlite: or postgres://');
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '****';
    return u.toString();
  } catch {
    return 'postgres';
  }
}

/** Opens the store and applies migrations. */
export async function createStore(url: string = DEFAULT_DATABASE_URL, options: { migrate?: boolean } = {}): Promise<Store> {
  const { dialect, target } = parseDatabaseUrl(url);
  let db: Db;
  if (dialect === 'sqlite') {
    const { default: SQLite } = await import('better-sqlite3');
    let sqlite;
    try {
      sqlite = new SQLite(target);
    } catch (e) {
      throw new RefundHubError('not_configured', `cannot open SQLite database ${target}: ${(e as Error).message}`);
    }
    // WAL lets the API read while the poller writes; busy_timeout rides out a concurrent writer
    // (another process on the same file) instead of failing at once.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  } else {
    const pg = await import('pg');
    const Pool = pg.default.Pool;
    // BIGINT columns hold epoch milliseconds; they fit a JS number exactly.
    pg.default.types.setTypeParser(20, (v: string) => Number(v));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new Pool({ connectionString: target, max: 10 }) }) });
  }
  const store: Store = {
    db,
    dialect,
    description: dialect === 'sqlite' ? `sqlite:${target}` : redactUrl(target),
    close: () => db.destroy(),
  };
  if (options.migrate !== false) {
    try {
      await migrateToLatest(db);
    } catch (e) {
      await db.destroy();
      throw e instanceof RefundHubError ? e : new RefundHubError('not_configured', `database migration failed: ${(e as Error).message}`, { cause: e });
    }
  }
  return store;
}
