import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { DEFAULT_NOTIFICATION_RETENTION_DAYS, purgeNotifications } from '../src/ingest/retention.js';
import type { Kysely } from 'kysely';
import type { Database } from '../src/store/schema.js';
import { cleanupTempDatabases } from './support/db.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { createTestEngine } from './support/engine.js';
import { startHub, tempDir } from './support/hub.js';
import { pollUntil } from './support/wait.js';

const DAY = 24 * 60 * 60_000;

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
  cleanupTempDatabases();
});

async function insert(db: Kysely<Database>, rows: Array<{ refundId: string; receivedAt: number; outcome: string }>) {
  await db
    .insertInto('notifications')
    .values(rows.map((r) => ({ provider: 'stan', account: 'default', refund_id: r.refundId, event_id: null, event_type: null, received_at: r.receivedAt, body: '{}', outcome: r.outcome, processed_at: null, error: null })))
    .execute();
}

const remaining = async (db: Kysely<Database>) => (await db.selectFrom('notifications').select('refund_id').orderBy('refund_id').execute()).map((r) => r.refund_id);

describe('notification retention', () => {
  it('purges rows older than the retention in bounded batches, never a pending one', async () => {
    const eng = await createTestEngine(emu.config());
    try {
      const now = eng.clock.now();
      const old = now - 31 * DAY;
      await insert(eng.store.db, [
        ...Array.from({ length: 25 }, (_, i) => ({ refundId: `old-${String(i).padStart(2, '0')}`, receivedAt: old + i, outcome: i % 2 ? 'synced' : 'ignored' })),
        { refundId: 'old-pending', receivedAt: old - DAY, outcome: 'pending' },
        { refundId: 'recent', receivedAt: now - 29 * DAY, outcome: 'synced' },
      ]);
      // Two batches of 10 per run: a run stops at its bound and the next one goes on.
      expect(await purgeNotifications(eng.store.db, { now, batchSize: 10, maxBatches: 2 })).toBe(20);
      expect(await remaining(eng.store.db)).toEqual(['old-20', 'old-21', 'old-22', 'old-23', 'old-24', 'old-pending', 'recent']);
      expect(await purgeNotifications(eng.store.db, { now, batchSize: 10, maxBatches: 2 })).toBe(5);
      expect(await remaining(eng.store.db)).toEqual(['old-pending', 'recent']);
      // A shorter retention reaches the recent one; the pending one stays whatever its age.
      expect(await purgeNotifications(eng.store.db, { now, retentionDays: 7 })).toBe(1);
      expect(await remaining(eng.store.db)).toEqual(['old-pending']);
    } finally {
      await eng.close();
    }
  });

  it('is configured by REFUNDHUB_NOTIFICATION_RETENTION_DAYS or the file; bad values are configuration errors', () => {
    const dir = tempDir();
    try {
      expect(loadConfig({ env: {} }).notificationRetentionDays).toBeUndefined();
      expect(DEFAULT_NOTIFICATION_RETENTION_DAYS).toBe(30);
      expect(loadConfig({ env: { REFUNDHUB_NOTIFICATION_RETENTION_DAYS: '7' } }).notificationRetentionDays).toBe(7);
      const file = join(dir.dir, 'c.json');
      writeFileSync(file, JSON.stringify({ notifications: { retentionDays: 90 } }));
      expect(loadConfig({ env: {}, file }).notificationRetentionDays).toBe(90);
      expect(loadConfig({ env: { REFUNDHUB_NOTIFICATION_RETENTION_DAYS: '14' }, file }).notificationRetentionDays).toBe(14);
      for (const bad of ['0', '-1', '1.5', 'thirty', '99999']) {
        expect(() => loadConfig({ env: { REFUNDHUB_NOTIFICATION_RETENTION_DAYS: bad } })).toThrow(/REFUNDHUB_NOTIFICATION_RETENTION_DAYS must be a whole number of days/);
      }
      writeFileSync(file, JSON.stringify({ notifications: { retentionDays: '30' } }));
      expect(() => loadConfig({ env: {}, file })).toThrow(expect.objectContaining({ code: 'not_configured' }));
    } finally {
      dir.cleanup();
    }
  });

  it('the running service purges at start with the configured retention', async () => {
    const dir = tempDir();
    const h = await startHub(emu, join(dir.dir, 'hub.db'), { config: { ...emu.config(), notificationRetentionDays: 2 } });
    try {
      const now = Date.now();
      await insert(h.hub.db, [
        { refundId: 'three-days', receivedAt: now - 3 * DAY, outcome: 'synced' },
        { refundId: 'three-days-pending', receivedAt: now - 3 * DAY, outcome: 'pending' },
        { refundId: 'one-day', receivedAt: now - DAY, outcome: 'failed' },
      ]);
      h.hub.start();
      await pollUntil(async () => !(await remaining(h.hub.db)).includes('three-days'), { what: 'the start-up purge' });
      await h.hub.drain();
      const left = await remaining(h.hub.db);
      expect(left).toContain('one-day');
      expect(left).not.toContain('three-days');
    } finally {
      await h.close();
      dir.cleanup();
    }
  });
});
