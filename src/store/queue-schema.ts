import { CompiledQuery, type Kysely } from 'kysely';

/**
 * The job queue's tables (pg-boss 10, see docs/architecture.md "Scale-out") live in their own
 * PostgreSQL schema beside RefundHub's. Every process that starts pg-boss must name the same one.
 */
export const QUEUE_SCHEMA = 'pgboss';

/**
 * Creates or upgrades pg-boss's schema through `db`, which the caller has bound to one connection
 * holding the migration lock, so the install is serialised with our own migrations. pg-boss is
 * started with nothing running (no supervision, no cron) purely for its installer, then stopped;
 * workers later start it with `migrate: false`, so only `migrate` and store opens change the schema.
 * Returns the queue schema version now installed.
 */
export async function installQueueSchema(db: Kysely<any>): Promise<number> {
  const { default: PgBoss } = await import('pg-boss');
  const boss = new PgBoss({
    schema: QUEUE_SCHEMA,
    db: {
      // Without values pg uses the simple protocol, which pg-boss's multi-statement plans need.
      executeSql: async (text: string, values?: unknown[]) => {
        const result = await db.executeQuery(values?.length ? CompiledQuery.raw(text, values) : CompiledQuery.raw(text));
        return { rows: result.rows };
      },
    },
    migrate: true,
    supervise: false,
    schedule: false,
  });
  const errors: unknown[] = [];
  boss.on('error', (e) => errors.push(e));
  await boss.start();
  const version = await boss.schemaVersion();
  await boss.stop({ graceful: false, close: false });
  if (errors.length) throw errors[0];
  return Number(version ?? 0);
}
