import { sql, type Kysely } from 'kysely';

/**
 * Stuck refunds are a handful among millions, and the overview, `refundhub report` and the
 * stuck-only list ask for them on every load (`WHERE stuck = 1`). Partial indexes hold only those
 * rows, so those reads stay small at any table size instead of walking every refund: one in list
 * order (oldest first, the keyset of the refunds list), one for the counts per provider and
 * account. Both stores support partial indexes; SQLite uses one only when the query says
 * `stuck = 1` as a constant, so the queries write it as a literal.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('refunds_stuck_tracked')
    .on('refunds')
    .columns(['tracked_at', 'provider', 'account', 'refund_id'])
    .where(sql.ref('stuck'), '=', 1)
    .execute();
  await db.schema
    .createIndex('refunds_stuck_account')
    .on('refunds')
    .columns(['provider', 'account'])
    .where(sql.ref('stuck'), '=', 1)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('refunds_stuck_account').execute();
  await db.schema.dropIndex('refunds_stuck_tracked').execute();
}
