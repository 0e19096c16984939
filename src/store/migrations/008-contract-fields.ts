import type { Kysely } from 'kysely';

/**
 * The contract fields beyond status and amount (issue 9): the merchant's own reference (indexed:
 * support agents search by their order or invoice number, exact match, at a million refunds), what
 * the customer receives in their currency, the provider's metadata (JSON text) and the processor's
 * reference. `text` on both stores: every value comes from a provider. Rows tracked before this
 * migration show null until their next sync (`refundhub refresh` reads one again at once).
 */
export async function up(db: Kysely<any>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one column at a time.
  await db.schema.alterTable('refunds').addColumn('merchant_reference', 'text').execute();
  await db.schema.alterTable('refunds').addColumn('customer_receives_amount', 'bigint').execute();
  await db.schema.alterTable('refunds').addColumn('customer_receives_currency', 'text').execute();
  await db.schema.alterTable('refunds').addColumn('customer_receives_decimal', 'text').execute();
  await db.schema.alterTable('refunds').addColumn('metadata', 'text').execute();
  await db.schema.alterTable('refunds').addColumn('provider_reference', 'text').execute();
  await db.schema.createIndex('refunds_merchant_reference').on('refunds').column('merchant_reference').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('refunds_merchant_reference').execute();
  for (const column of ['provider_reference', 'metadata', 'customer_receives_decimal', 'customer_receives_currency', 'customer_receives_amount', 'merchant_reference']) {
    await db.schema.alterTable('refunds').dropColumn(column).execute();
  }
}
