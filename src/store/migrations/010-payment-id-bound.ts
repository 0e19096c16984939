import { sql, type Kysely } from 'kysely';

/**
 * Payment ids are kept up to 512 characters (MAX_PAYMENT_ID_CHARS, src/store/text.ts): longer ones
 * fail PostgreSQL's index entry limit on refunds_payment_id. A store written before that bound may
 * hold longer ones, which would stop `refundhub migrate-store` to PostgreSQL halfway; cut them here
 * the way a sync now cuts them (`raw` keeps the whole value). substr counts characters on both
 * stores, so a character is never split.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`UPDATE refunds SET payment_id = substr(payment_id, 1, 512) WHERE length(payment_id) > 512`.execute(db);
}

export async function down(): Promise<void> {
  // The cut cannot be undone; `raw` still holds every full payment id.
}
