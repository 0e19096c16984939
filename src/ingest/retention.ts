import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

/** Notifications older than this are purged unless `pending`. 30 days outlasts every provider's retry window (Gr4vy's 7 days is the longest). */
export const DEFAULT_NOTIFICATION_RETENTION_DAYS = 30;
/** Rows deleted per statement: short write transactions, so the poller and intake never wait long on the file's lock. */
export const PURGE_BATCH = 1_000;
/** Statements per run: a backlog (first run after an upgrade) is worked off over several runs, never in one long burst. */
export const PURGE_MAX_BATCHES = 50;
/** How often the running service purges. */
export const PURGE_INTERVAL_MS = 60 * 60_000;

export interface PurgeOptions {
  now: number;
  retentionDays?: number;
  batchSize?: number;
  maxBatches?: number;
}

/**
 * Deletes notifications received before `now - retentionDays`, oldest first, in bounded batches.
 * A `pending` row is never purged: it is the only trace of a re-fetch still owed (recovery takes
 * it). Resolves with the number of rows deleted.
 */
export async function purgeNotifications(db: Kysely<Database>, options: PurgeOptions): Promise<number> {
  const days = options.retentionDays ?? DEFAULT_NOTIFICATION_RETENTION_DAYS;
  const cutoff = options.now - days * 24 * 60 * 60_000;
  const batch = options.batchSize ?? PURGE_BATCH;
  let deleted = 0;
  for (let i = 0; i < (options.maxBatches ?? PURGE_MAX_BATCHES); i++) {
    // DELETE ... LIMIT is not portable (SQLite builds without it, PostgreSQL has none): pick ids first.
    const ids = db
      .selectFrom('notifications')
      .select('id')
      .where('received_at', '<', cutoff)
      .where('outcome', '<>', 'pending')
      .orderBy('received_at')
      .limit(batch);
    const r = await db.deleteFrom('notifications').where('id', 'in', ids).executeTakeFirst();
    const n = Number(r.numDeletedRows);
    deleted += n;
    if (n < batch) break;
  }
  return deleted;
}
