import { sql, type Kysely } from 'kysely';
import { RefundHubError } from '../errors.js';
import type { Store } from './index.js';
import type { Database } from './schema.js';

/**
 * Copying one store into another (`refundhub migrate-store`, SQLite to PostgreSQL). Every table is
 * copied whole, ids included, so history entries, deliveries and notifications keep their ids and
 * a refund's event sequence carries on where it stopped. Rows are read in key order, a batch at a
 * time (never a whole table in memory), and inserted with ON CONFLICT DO NOTHING, so a rerun (or a
 * run after an interrupted one) only adds what is missing. Rows already in the target are left as
 * they are: copy from a stopped service.
 */

interface TableSpec {
  table: keyof Database;
  /** The primary key, in the order rows are read (keyset pagination). */
  key: string[];
  /** An identity column whose sequence must move past the copied ids (PostgreSQL). */
  identity?: string;
}

/**
 * Every table, parents before children (deliveries reference endpoints, attempts reference
 * deliveries). A new table must be added here or to NOT_COPIED: the copy refuses to run with a
 * table it does not know, rather than leave it behind silently.
 */
export const COPIED_TABLES: readonly TableSpec[] = [
  { table: 'api_keys', key: ['id'] },
  { table: 'webhook_endpoints', key: ['id'] },
  { table: 'refunds', key: ['provider', 'account', 'refund_id'] },
  { table: 'refund_history', key: ['id'], identity: 'id' },
  { table: 'events', key: ['id'] },
  { table: 'deliveries', key: ['id'] },
  { table: 'delivery_attempts', key: ['id'], identity: 'id' },
  { table: 'notifications', key: ['id'], identity: 'id' },
];

/**
 * Tables that are not data: each store keeps its own. `provider_pauses` holds 429 pauses that end
 * within the Retry-After cap (an hour at most); copying one could only hold back a provider the
 * new store's workers are right to call again.
 */
// `dashboard_sessions`: a browser signs in again on the new store; copying sessions would only copy bearer secrets' hashes.
export const NOT_COPIED: readonly string[] = ['kysely_migration', 'kysely_migration_lock', 'provider_pauses', 'dashboard_sessions'];

export interface TableCopyResult {
  table: string;
  /** Rows read from the source. */
  read: number;
  /** Rows inserted into the target; the rest were there already. */
  copied: number;
}

export interface CopyOptions {
  /** Rows per read and per insert (default 500: about 14,000 parameters for the widest table). */
  batchSize?: number;
  /** Called as each table finishes, for progress output. */
  onTable?: (result: TableCopyResult) => void;
}

export async function copyStore(from: Store, to: Store, options: CopyOptions = {}): Promise<TableCopyResult[]> {
  const batchSize = options.batchSize ?? 500;
  const source = from.db as unknown as Kysely<any>;
  const target = to.db as unknown as Kysely<any>;

  const known = new Set<string>([...COPIED_TABLES.map((t) => t.table), ...NOT_COPIED]);
  const unknown = (await source.introspection.getTables()).map((t) => t.name).filter((name) => !known.has(name));
  if (unknown.length) throw new RefundHubError('not_configured', `cannot copy: the source has tables this version does not know (${unknown.join(', ')})`);

  const results: TableCopyResult[] = [];
  for (const spec of COPIED_TABLES) {
    const result: TableCopyResult = { table: spec.table, read: 0, copied: 0 };
    let last: unknown[] | null = null;
    for (;;) {
      let query = source.selectFrom(spec.table).selectAll().limit(batchSize);
      for (const k of spec.key) query = query.orderBy(k);
      if (last) {
        // Row-value comparison walks a composite key in order; SQLite and PostgreSQL both have it.
        const after = last;
        query = query.where((eb) => eb(sql`(${sql.join(spec.key.map((k) => sql.ref(k)))})`, '>', sql`(${sql.join(after)})`));
      }
      const rows = await query.execute();
      if (rows.length === 0) break;
      const inserted = await target.insertInto(spec.table).values(rows).onConflict((oc) => oc.doNothing()).executeTakeFirst();
      result.read += rows.length;
      result.copied += Number(inserted.numInsertedOrUpdatedRows ?? 0n);
      const tail = rows[rows.length - 1] as Record<string, unknown>;
      last = spec.key.map((k) => tail[k]);
      if (rows.length < batchSize) break;
    }
    if (spec.identity && to.dialect === 'postgres') {
      // Rows came with explicit ids; without this the next insert would reuse id 1 and collide.
      await sql`SELECT setval(pg_get_serial_sequence(${spec.table}, ${spec.identity}), COALESCE(MAX(${sql.ref(spec.identity)}), 0) + 1, false) FROM ${sql.table(spec.table)}`.execute(target);
    }
    results.push(result);
    options.onTable?.(result);
  }
  return results;
}
