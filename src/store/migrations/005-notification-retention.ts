import type { Kysely } from 'kysely';

/** Retention purges notifications by age, oldest first: an index on received_at keeps each batch a range scan. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('notifications_received').on('notifications').column('received_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('notifications_received').ifExists().execute();
}
