import { createHash } from 'node:crypto';
import pg from 'pg';
import { RefundHubError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { KeyedLock } from '../sync/lock.js';
import { worstCaseSendMs } from '../transport/http.js';

/**
 * What the spine needs from a per-refund lock: `run(key, fn)` runs `fn` with no other holder of
 * `key` anywhere that the lock covers. `KeyedLock` (src/sync/lock.ts) covers one process;
 * `PgRefundLock` covers every process on one PostgreSQL database.
 */
export interface RefundLock {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

export interface PgRefundLockOptions {
  connectionString: string;
  /**
   * Longest wait for a refund another holder has (in this process or another) before giving up
   * with a `store_error` (retryable). Default DEFAULT_REFUND_LOCK_WAIT_MS.
   */
  maxWaitMs?: number;
  /**
   * Connections held at most: each refund held costs one for as long as it is held, so this caps
   * how many different refunds this process syncs at once. Size it to the worker's concurrency
   * (all queues) plus the API's immediate fetches. Default 10.
   */
  maxConnections?: number;
  logger?: Logger;
}

/**
 * One other sync of the same refund at its worst (the transport's attempts x (timeout + backoff),
 * 45 s with the defaults) plus its write: a waiter that gives up sooner would fail a sync that was
 * only queued behind a slow but live one.
 */
export const DEFAULT_REFUND_LOCK_WAIT_MS = worstCaseSendMs() + 15_000;

interface Held {
  client: pg.PoolClient;
  onLost: (e: Error) => void;
}

/** PostgreSQL's SQLSTATE when lock_timeout ends a lock wait. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * The advisory lock key for a refund key: the first 64 bits of its SHA-256, as the signed bigint
 * pg_advisory_lock takes. Two refunds colliding (one in 2^64) would only serialise each other.
 * The prefix keeps these apart from other advisory locks on the database (migrations, pg-boss).
 */
export function refundLockId(key: string): string {
  return createHash('sha256').update('refundhub:refund:').update(key).digest().readBigInt64BE(0).toString();
}

/** A key as people read it: refundKeyString joins provider, account and id with NULs. */
const printable = (key: string) => key.replace(/\u0000/g, '/').slice(0, 300);

/**
 * A cross-process per-refund lock on PostgreSQL: `pg_advisory_lock` on a connection of its own,
 * held for as long as `fn` runs. A session lock dies with its session, so a holder that crashes
 * or is SIGKILLed releases it as soon as the server notices the connection is gone.
 *
 * An in-process `KeyedLock` sits in front: several callers of one refund in this process queue
 * here and take one connection between them, one after another, instead of one connection each.
 * The whole wait (the in-process queue, a free connection, the advisory lock) is bounded by
 * `maxWaitMs`; a waiter that gives up leaves the queue and its `fn` never runs.
 */
export class PgRefundLock implements RefundLock {
  private readonly local = new KeyedLock();
  private readonly pool: pg.Pool;
  private readonly maxWaitMs: number;
  private readonly log: Logger;

  constructor(options: PgRefundLockOptions) {
    this.maxWaitMs = options.maxWaitMs ?? DEFAULT_REFUND_LOCK_WAIT_MS;
    if (!(this.maxWaitMs >= 1)) throw new RefundHubError('invalid_input', `refund lock: maxWaitMs must be at least 1 ms, got ${String(options.maxWaitMs)}`);
    this.log = (options.logger ?? silentLogger).child({ component: 'refund-lock' });
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      // Waiting for a free connection counts against the same bound as waiting for the lock.
      connectionTimeoutMillis: this.maxWaitMs,
      application_name: 'refundhub-refund-lock',
    });
    // An idle connection the server drops must not crash the process; the pool replaces it.
    this.pool.on('error', (e) => this.log.warn({ err: { message: e.message } }, 'refund lock: idle connection lost'));
  }

  /** Runs `fn` holding `key` across every process on the database; rejects after `maxWaitMs` of waiting. */
  async run<T>(key: string, fn: () => Promise<T>, options: { maxWaitMs?: number } = {}): Promise<T> {
    const waitMs = options.maxWaitMs ?? this.maxWaitMs;
    const deadline = performance.now() + waitMs;
    let entered = false;
    let abandoned = false;
    let giveUp!: (e: Error) => void;
    const gaveUp = new Promise<never>((_, reject) => (giveUp = reject));
    const timer = setTimeout(() => {
      if (entered) return;
      abandoned = true;
      giveUp(this.busy(key, waitMs));
    }, waitMs);
    const result = this.local.run(key, async () => {
      // Our turn came after the caller stopped waiting: pass the key on without touching it.
      if (abandoned) return undefined as T;
      entered = true;
      clearTimeout(timer);
      const held = await this.acquire(key, deadline, waitMs);
      try {
        return await fn();
      } finally {
        await this.release(held, key);
      }
    });
    try {
      return await Promise.race([result, gaveUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** True while some holder or waiter of `key` exists in this process. */
  isLocked(key: string): boolean {
    return this.local.isLocked(key);
  }

  /** Connections open now (held or idle in the pool). */
  get connections(): number {
    return this.pool.totalCount;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private busy(key: string, waitMs: number): RefundHubError {
    return new RefundHubError('store_error', `refund ${printable(key)} is busy: another sync held it for more than ${waitMs} ms`, { retryable: true });
  }

  private async acquire(key: string, deadline: number, waitMs: number): Promise<Held> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      const message = (e as Error).message ?? String(e);
      if (/timeout/i.test(message)) throw this.busy(key, waitMs);
      throw new RefundHubError('store_error', `refund lock: cannot reach the database: ${message}`, { cause: e });
    }
    const onLost = (e: Error) => this.log.error({ err: { message: e.message }, refund: printable(key) }, 'refund lock: connection lost while held; the lock is released');
    client.on('error', onLost);
    try {
      // lock_timeout 0 means "wait forever": never let the remaining time round down to it.
      const remaining = Math.max(1, Math.ceil(deadline - performance.now()));
      await client.query(`SELECT set_config('lock_timeout', $1, false)`, [`${remaining}ms`]);
      await client.query('SELECT pg_advisory_lock($1::bigint)', [refundLockId(key)]);
      return { client, onLost };
    } catch (e) {
      client.off('error', onLost);
      const busy = (e as { code?: string }).code === LOCK_NOT_AVAILABLE;
      // A connection that failed for another reason may be broken: drop it rather than pool it.
      client.release(busy ? undefined : (e as Error));
      if (busy) throw this.busy(key, waitMs);
      throw new RefundHubError('store_error', `refund lock: ${(e as Error).message}`, { cause: e });
    }
  }

  private async release({ client, onLost }: Held, key: string): Promise<void> {
    let failed: Error | undefined;
    try {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [refundLockId(key)]);
    } catch (e) {
      failed = e as Error;
    }
    // Only our listener: the pool puts its own on the connection when it goes back idle.
    client.off('error', onLost);
    // Closing the session releases every lock it holds, so a failed unlock cannot leak one.
    client.release(failed);
  }
}

export function createRefundLock(options: PgRefundLockOptions): PgRefundLock {
  return new PgRefundLock(options);
}
