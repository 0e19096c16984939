import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import { RefundHubError } from '../errors.js';
import { countSetting, secondsSetting } from '../config/settings.js';
import { redactUrl, redactUrlsInText } from '../redact.js';
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
  /**
   * A token that changes whenever anything may have been written to the database: at once for this
   * process's writes, within 50 ms for another process's (SQLite); null when the store cannot tell
   * cheaply (PostgreSQL). Readers may cache derived data against it.
   */
  changeToken(): string | null;
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

type SqliteDatabase = import('better-sqlite3').Database;
type SqliteStatement = import('better-sqlite3').Statement;

/**
 * Kysely's SQLite driver prepares every query afresh; preparing costs more than running a primary
 * key lookup (about 25 us against 10 us here), and our queries are a small fixed set. So prepared
 * statements are kept by SQL text. A statement still busy (an open iterator) is never handed out
 * twice: the caller gets a fresh one.
 */
export function withStatementCache(sqlite: SqliteDatabase, maxStatements = 500): { database: SqliteDatabase; writes(): number } {
  const cache = new Map<string, SqliteStatement>();
  let writes = 0;
  const prepare = (sql: string): SqliteStatement => {
    let stmt = cache.get(sql);
    if (!stmt || stmt.busy) {
      const fresh = sqlite.prepare(sql);
      if (!stmt) {
        // Queries built with variable-length IN lists make new texts; bound the cache rather than grow forever.
        if (cache.size >= maxStatements) cache.delete(cache.keys().next().value!);
        cache.set(sql, fresh);
      }
      stmt = fresh;
    }
    // Kysely prepares right before it runs (on its one locked connection, in the same synchronous
    // step), so counting statements that are not read-only here counts every write as it happens.
    if (!stmt.readonly) writes += 1;
    return stmt;
  };
  const database = new Proxy(sqlite, {
    get(target, prop, receiver) {
      if (prop === 'prepare') return prepare;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { database, writes: () => writes };
}

/** Why a SQLite path could not be opened, in the user's terms rather than SQLite's. */
function sqliteOpenReason(path: string, e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'SQLITE_NOTADB') return 'the file exists but is not a SQLite database';
  try {
    if (statSync(path).isDirectory()) return 'it is a directory, not a file';
  } catch (statError) {
    const c = (statError as NodeJS.ErrnoException).code;
    if (c === 'ENOENT' && !existsSync(dirname(path))) return `its directory ${dirname(path)} does not exist`;
    if (c === 'ENOTDIR') return 'a part of the path is a file, not a directory';
    if (c === 'EACCES') return 'permission denied';
  }
  if (code === 'SQLITE_CANTOPEN') return 'cannot open the file (check that it is readable and writable)';
  if (code === 'SQLITE_READONLY') return 'the file is read-only';
  if (code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') return 'permission denied';
  return (e as Error)?.message ?? String(e);
}

/**
 * Failures to reach the database, or a server not taking connections right now: the database is
 * down (store_error, exit 6, worth retrying), not misconfigured. Node's network codes, PostgreSQL's
 * admin_shutdown / crash_shutdown / cannot_connect_now / too_many_connections, SQLite's busy file.
 */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', '57P01', '57P02', '57P03', '53300', 'SQLITE_BUSY']);
// pg reports its own connect timeout and a dropped connection without a code.
const UNREACHABLE_MESSAGE = /timeout exceeded when trying to connect|connection terminated|connection timeout/i;

/** The message of an error, or of the attempts inside an AggregateError (Node tries each address of a host). */
function errorDetail(e: unknown): string {
  const err = e as { message?: string; code?: string; errors?: unknown[] };
  if (err?.message) return err.message;
  const inner = Array.isArray(err?.errors) ? err.errors.map((x) => (x as Error)?.message).filter(Boolean) : [];
  return inner.length ? inner.join('; ') : (err?.code ?? String(e));
}

/** True when `e` says the database could not be reached or is not accepting connections now. */
export function isDatabaseUnreachable(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return (typeof code === 'string' && UNREACHABLE_CODES.has(code)) || UNREACHABLE_MESSAGE.test(errorDetail(e));
}

/**
 * The error for a database that could not be opened or migrated: `store_error` when it is down or
 * unreachable, else `not_configured` (a bad URL, authentication, a database that does not exist).
 * The message starts with `what`, which names the database without its password.
 */
export function databaseOpenError(e: unknown, what: string): RefundHubError {
  if (e instanceof RefundHubError) return e;
  const detail = redactUrlsInText(errorDetail(e));
  if (isDatabaseUnreachable(e)) return new RefundHubError('store_error', `${what}: the database is unreachable or not accepting connections (${detail})`, { cause: e });
  return new RefundHubError('not_configured', `${what}: ${detail}`, { cause: e });
}

/**
 * How long opening a PostgreSQL connection may take before it fails (pg's connectionTimeoutMillis):
 * a host that drops packets would otherwise hang `migrate` or a node's start for the OS's TCP
 * timeout (minutes). REFUNDHUB_DATABASE_CONNECT_TIMEOUT in seconds; default 10.
 */
export const DEFAULT_DATABASE_CONNECT_TIMEOUT_MS = 10_000;
/**
 * The store's statements are short (no provider call runs inside a store transaction), so a few
 * connections serve a busy process; five processes at 5 each leave room under PostgreSQL's 100.
 */
export const DEFAULT_DATABASE_POOL_SIZE = 5;

export interface CreateStoreOptions {
  /** Apply migrations on open (default true). */
  migrate?: boolean;
  /** PostgreSQL connect timeout; default REFUNDHUB_DATABASE_CONNECT_TIMEOUT, else 10 s. */
  connectTimeoutMs?: number;
  /** PostgreSQL pool size; default REFUNDHUB_DATABASE_POOL_SIZE, else DEFAULT_DATABASE_POOL_SIZE. */
  poolSize?: number;
}

/** Opens the store and applies migrations. */
export async function createStore(url: string = DEFAULT_DATABASE_URL, options: CreateStoreOptions = {}): Promise<Store> {
  const { dialect, target } = parseDatabaseUrl(url);
  let db: Db;
  let changeToken: () => string | null = () => null;
  if (dialect === 'sqlite') {
    const { default: SQLite } = await import('better-sqlite3');
    let sqlite: SqliteDatabase | undefined;
    try {
      sqlite = new SQLite(target);
      // WAL lets the API read while the poller writes; busy_timeout rides out a concurrent writer
      // (another process on the same file) instead of failing at once. It comes first: switching a
      // fresh file to WAL needs a moment's exclusive lock, which other processes opening it may hold.
      sqlite.pragma('busy_timeout = 5000');
      // The first statement that reads the file: a text file, a directory or an unreadable path
      // fails here (SQLite opens lazily), and that is the user's configuration, not our bug.
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('synchronous = NORMAL');
      sqlite.pragma('foreign_keys = ON');
    } catch (e) {
      sqlite?.close();
      throw new RefundHubError('not_configured', `cannot open SQLite database ${target}: ${sqliteOpenReason(target, e)}`, { cause: e });
    }
    const cached = withStatementCache(sqlite);
    // data_version moves when another connection (another process on the file) commits; our own
    // writes are counted by the statement cache, since every statement passes through it.
    // Asking SQLite costs more than the cached read it guards, so it is asked at most every 50 ms:
    // another process's commit shows within 50 ms, ours at once.
    const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
    let version = 0;
    let versionAt = -Infinity;
    changeToken = () => {
      const now = performance.now();
      if (now - versionAt >= 50) {
        version = dataVersion.get() as number;
        versionAt = now;
      }
      return `${cached.writes()}:${version}`;
    };
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cached.database }) });
  } else {
    const pg = await import('pg');
    const Pool = pg.default.Pool;
    // BIGINT columns hold epoch milliseconds; they fit a JS number exactly.
    pg.default.types.setTypeParser(20, (v: string) => Number(v));
    const connectionTimeoutMillis = options.connectTimeoutMs ?? secondsSetting(process.env, 'REFUNDHUB_DATABASE_CONNECT_TIMEOUT') ?? DEFAULT_DATABASE_CONNECT_TIMEOUT_MS;
    const max = options.poolSize ?? countSetting(process.env, 'REFUNDHUB_DATABASE_POOL_SIZE') ?? DEFAULT_DATABASE_POOL_SIZE;
    const pool = new Pool({ connectionString: target, max, connectionTimeoutMillis });
    // An idle connection the server ends (restart, pg_terminate_backend, a proxy's idle timeout)
    // emits 'error' on the pool; unheard, that crashes the process. The pool replaces it.
    pool.on('error', () => undefined);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  const store: Store = {
    db,
    dialect,
    description: dialect === 'sqlite' ? `sqlite:${target}` : redactUrl(target),
    changeToken,
    close: () => db.destroy(),
  };
  if (options.migrate !== false) {
    try {
      await migrateToLatest(db);
    } catch (e) {
      await db.destroy();
      throw databaseOpenError(e, `cannot open ${store.description}`);
    }
  }
  return store;
}
