import type { Kysely } from 'kysely';

/**
 * Dashboard sessions: a row per signed-in browser, keyed by the SHA-256 of the session cookie (the
 * cookie itself is never stored), pointing at the API key that signed in so a revoked key ends its
 * sessions too. Plus the indexes the dashboard's search needs: a refund id or payment id typed
 * into Search must not scan a million rows.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('dashboard_sessions')
    .addColumn('id_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('key_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('dashboard_sessions_expires').on('dashboard_sessions').column('expires_at').execute();
  await db.schema.createIndex('refunds_refund_id').on('refunds').column('refund_id').execute();
  await db.schema.createIndex('refunds_payment_id').on('refunds').column('payment_id').execute();
  // The Refunds table filtered by provider or status, in tracked order: without these the planner
  // takes the provider (or status) index and sorts every matching row for each page.
  await db.schema.createIndex('refunds_provider_tracked').on('refunds').columns(['provider', 'tracked_at', 'account', 'refund_id']).execute();
  await db.schema.createIndex('refunds_status_tracked').on('refunds').columns(['status', 'tracked_at', 'provider', 'account', 'refund_id']).execute();
  // The overview's period queries: time to final, and the reversals and stale reads of the period.
  await db.schema.createIndex('refunds_final_at').on('refunds').column('final_at').execute();
  await db.schema.createIndex('refund_history_kind_observed').on('refund_history').columns(['kind', 'observed_at']).execute();
  // A refund's page lists each of its events' deliveries.
  await db.schema.createIndex('deliveries_event').on('deliveries').column('event_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('deliveries_event').execute();
  await db.schema.dropIndex('refund_history_kind_observed').execute();
  await db.schema.dropIndex('refunds_final_at').execute();
  await db.schema.dropIndex('refunds_status_tracked').execute();
  await db.schema.dropIndex('refunds_provider_tracked').execute();
  await db.schema.dropIndex('refunds_payment_id').execute();
  await db.schema.dropIndex('refunds_refund_id').execute();
  await db.schema.dropTable('dashboard_sessions').execute();
}
