import type { Kysely } from 'kysely';

/**
 * Provider pauses (a 429 with Retry-After): one row per provider account, shared by every process
 * on the database so a throttled provider gets no call from any worker until `until_ms` (epoch ms).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('provider_pauses')
    .addColumn('provider', 'varchar(32)', (c) => c.notNull())
    .addColumn('account', 'varchar(64)', (c) => c.notNull())
    .addColumn('until_ms', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('provider_pauses_pk', ['provider', 'account'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('provider_pauses').execute();
}
