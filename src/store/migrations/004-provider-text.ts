import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * Values that come from providers must fit both stores alike. SQLite ignores a varchar's length,
 * PostgreSQL enforces it: a Tazapay currency such as `USDC-ERC20` (10 characters) failed the
 * write of the whole sync on PostgreSQL only. Columns fed by provider data (or a caller's input)
 * become `text` on PostgreSQL; the only indexed one, the notification event id, is bounded in
 * code (`src/store/text.ts`). Widening varchar to text rewrites no rows.
 *
 * Also `refunds.anomaly_provider_status`: the provider word of the last anomalous read of a final
 * refund (a stale read, or a status we do not know), so each new word is recorded and alerted on
 * once rather than on every late check; cleared when the refund reads final again.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('refunds').addColumn('anomaly_provider_status', 'text').execute();
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  const widen: Array<[string, string[]]> = [
    ['refunds', ['currency', 'currency_hint', 'created_at', 'updated_at']],
    ['notifications', ['event_id', 'event_type']],
  ];
  for (const [table, columns] of widen) {
    for (const column of columns) await sql`ALTER TABLE ${sql.table(table)} ALTER COLUMN ${sql.ref(column)} TYPE text`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  // Narrowing back could fail on stored values; only the new column is removed.
  await db.schema.alterTable('refunds').dropColumn('anomaly_provider_status').execute();
}
