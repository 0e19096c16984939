import { PostgresAdapter, type ColumnDefinitionBuilder, type Kysely } from 'kysely';

/**
 * Refund tracking: current state, append-only history, the outgoing events (outbox) and inbound
 * notifications. Epoch-ms timestamps are `bigint` (PostgreSQL) / INTEGER (SQLite); JSON is text.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // Auto-increment ids differ: SQLite wants INTEGER PRIMARY KEY AUTOINCREMENT, PostgreSQL an identity.
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  const serialId = (c: ColumnDefinitionBuilder) => (pg ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement());
  const idType = pg ? 'bigint' : 'integer';
  await db.schema
    .createTable('refunds')
    .addColumn('provider', 'varchar(32)', (c) => c.notNull())
    .addColumn('account', 'varchar(64)', (c) => c.notNull())
    .addColumn('refund_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('status', 'varchar(32)', (c) => c.notNull())
    .addColumn('provider_status', 'text', (c) => c.notNull())
    .addColumn('payment_id', 'text')
    .addColumn('amount', 'bigint')
    .addColumn('currency', 'varchar(8)')
    .addColumn('amount_decimal', 'text')
    .addColumn('reason', 'text')
    .addColumn('created_at', 'varchar(32)')
    .addColumn('updated_at', 'varchar(32)')
    .addColumn('failure_code', 'text')
    .addColumn('failure_message', 'text')
    .addColumn('raw', 'text', (c) => c.notNull())
    .addColumn('currency_hint', 'varchar(8)')
    .addColumn('tracked_at', 'bigint', (c) => c.notNull())
    .addColumn('last_checked_at', 'bigint')
    .addColumn('next_check_at', 'bigint')
    .addColumn('check_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('final_at', 'bigint')
    .addColumn('stuck', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error_code', 'varchar(64)')
    .addColumn('last_error_message', 'text')
    .addColumn('sequence', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('refunds_pk', ['provider', 'account', 'refund_id'])
    .execute();
  // The poller's due query: `next_check_at <= now ORDER BY next_check_at LIMIT n` walks this index.
  await db.schema.createIndex('refunds_next_check_at').on('refunds').column('next_check_at').execute();
  // Listing: stable keyset order.
  await db.schema.createIndex('refunds_tracked_at').on('refunds').columns(['tracked_at', 'provider', 'account', 'refund_id']).execute();
  await db.schema.createIndex('refunds_status').on('refunds').column('status').execute();

  await db.schema
    .createTable('refund_history')
    .addColumn('id', idType, serialId)
    .addColumn('provider', 'varchar(32)', (c) => c.notNull())
    .addColumn('account', 'varchar(64)', (c) => c.notNull())
    .addColumn('refund_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('from_status', 'varchar(32)')
    .addColumn('to_status', 'varchar(32)', (c) => c.notNull())
    .addColumn('provider_status', 'text', (c) => c.notNull())
    .addColumn('source', 'varchar(16)', (c) => c.notNull())
    .addColumn('observed_at', 'bigint', (c) => c.notNull())
    .addColumn('raw', 'text', (c) => c.notNull())
    .addColumn('note', 'text')
    .execute();
  await db.schema.createIndex('refund_history_refund').on('refund_history').columns(['provider', 'account', 'refund_id', 'id']).execute();

  await db.schema
    .createTable('events')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('type', 'varchar(32)', (c) => c.notNull())
    .addColumn('provider', 'varchar(32)', (c) => c.notNull())
    .addColumn('account', 'varchar(64)', (c) => c.notNull())
    .addColumn('refund_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('sequence', 'integer', (c) => c.notNull())
    .addColumn('created', 'bigint', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .execute();
  // Unique: a sequence number is never used twice for one refund, even across processes.
  await db.schema.createIndex('events_refund_sequence').unique().on('events').columns(['provider', 'account', 'refund_id', 'sequence']).execute();

  await db.schema
    .createTable('notifications')
    .addColumn('id', idType, serialId)
    .addColumn('provider', 'varchar(32)', (c) => c.notNull())
    .addColumn('account', 'varchar(64)', (c) => c.notNull())
    .addColumn('refund_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('event_id', 'varchar(255)')
    .addColumn('event_type', 'varchar(128)')
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
    .addColumn('processed_at', 'bigint')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('notifications_event').on('notifications').columns(['provider', 'account', 'event_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('notifications').ifExists().execute();
  await db.schema.dropTable('events').ifExists().execute();
  await db.schema.dropTable('refund_history').ifExists().execute();
  await db.schema.dropTable('refunds').ifExists().execute();
}
