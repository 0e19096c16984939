import { SqliteAdapter, type Kysely } from 'kysely';

/**
 * Outgoing webhooks: merchant endpoints, one delivery job per (event, endpoint) and every
 * attempt made. Epoch-ms columns are bigint (SQLite stores them as integers either way).
 */
export async function up(db: Kysely<any>): Promise<void> {
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('events', 'text', (c) => c.notNull())
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint')
    .execute();

  await db.schema
    .createTable('deliveries')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('event_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('endpoint_id', 'varchar(64)', (c) => c.notNull().references('webhook_endpoints.id'))
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint')
    .addColumn('locked_until', 'bigint')
    .addColumn('last_status_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('deliveries_event_endpoint_unique', ['event_id', 'endpoint_id'])
    .execute();
  // The deliverer's due query: pending rows by next attempt time.
  await db.schema.createIndex('deliveries_status_next_attempt_idx').on('deliveries').columns(['status', 'next_attempt_at']).execute();
  // Listing an endpoint's deliveries, newest first, with a cursor.
  await db.schema.createIndex('deliveries_endpoint_created_idx').on('deliveries').columns(['endpoint_id', 'created_at', 'id']).execute();

  await db.schema
    .createTable('delivery_attempts')
    // SQLite: an INTEGER PRIMARY KEY is the rowid alias; PostgreSQL: an identity column.
    .addColumn('id', sqlite ? 'integer' : 'bigint', (c) => (sqlite ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity()))
    .addColumn('delivery_id', 'varchar(64)', (c) => c.notNull().references('deliveries.id'))
    .addColumn('attempted_at', 'bigint', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('error', 'text')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('delivery_attempts_delivery_idx').on('delivery_attempts').columns(['delivery_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('delivery_attempts').ifExists().execute();
  await db.schema.dropTable('deliveries').ifExists().execute();
  await db.schema.dropTable('webhook_endpoints').ifExists().execute();
}
