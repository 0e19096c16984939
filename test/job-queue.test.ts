import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALL_QUEUES, createJobQueue, DELIVER_QUEUE, syncQueueName, type JobQueue, type JobQueueOptions, type QueueJob, type SyncJobData } from '../src/queue/job-queue.js';
import { createStore, type Store } from '../src/store/index.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from './support/postgres.js';
import { pollUntil } from './support/wait.js';

/**
 * The job queue over pg-boss 10 on the real PostgreSQL server: one database per test, migrated
 * as `refundhub migrate` does. The takeover test kills a real worker process.
 */
const WORKER = fileURLToPath(new URL('./fixtures/queue-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const ziina = syncQueueName('ziina');
const stan = syncQueueName('stan');
const job = (id: string, provider: SyncJobData['provider'] = 'ziina'): SyncJobData => ({ provider, account: 'default', id, source: 'poll' });

describe.skipIf(!postgresAvailable)('job queue (pg-boss 10) [postgres]', () => {
  let db: TestDatabase;
  const queues: JobQueue[] = [];
  const children: ChildProcess[] = [];
  const stores: Store[] = [];

  const migrate = async () => {
    const store = await createStore(db.url);
    await store.close();
  };
  const open = async (options: Partial<JobQueueOptions> = {}) => {
    const q = await createJobQueue({ connectionString: db.url, pollingIntervalSeconds: 0.5, maintenanceIntervalSeconds: 1, retryDelaySeconds: 1, ...options });
    queues.push(q);
    return q;
  };
  const jobRows = async (where = 'true') => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(`SELECT name, state::text AS state, data, retry_count, singleton_key FROM pgboss.job WHERE ${where} ORDER BY created_on`)).rows;
    } finally {
      await c.end();
    }
  };

  beforeEach(async () => {
    db = await createTestDatabase();
  });

  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const q of queues.splice(0)) await q.stop({ graceful: false });
    for (const s of stores.splice(0)) await s.close();
    await db.drop();
  });

  it('refuses to start before `refundhub migrate`, saying so', async () => {
    await expect(createJobQueue({ connectionString: db.url })).rejects.toMatchObject({ code: 'not_configured', message: expect.stringMatching(/run `refundhub migrate` first/) });
  });

  it('creates one queue per provider and a delivery queue: policy short, lease and retries as configured', async () => {
    await migrate();
    await open({ syncExpireInSeconds: 90, deliverExpireInSeconds: 40, retryLimit: 4 });
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query('SELECT name, policy, expire_seconds, retry_limit, retry_delay, retry_backoff FROM pgboss.queue ORDER BY name');
    await c.end();
    expect(rows.map((r) => r.name).sort()).toEqual([...ALL_QUEUES].sort());
    for (const r of rows) {
      expect(r).toMatchObject({ policy: 'short', expire_seconds: r.name === DELIVER_QUEUE ? 40 : 90, retry_limit: 4, retry_delay: 1, retry_backoff: true });
    }
    // A second process with other settings updates them (create_queue alone would keep the old ones).
    await open({ syncExpireInSeconds: 100 });
    const c2 = new pg.Client({ connectionString: db.url });
    await c2.connect();
    expect((await c2.query(`SELECT expire_seconds FROM pgboss.queue WHERE name = $1`, [ziina])).rows[0].expire_seconds).toBe(100);
    await c2.end();
  });

  it('keeps at most one queued sync per refund; single and bulk enqueues skip the duplicates', async () => {
    await migrate();
    const q = await open();
    expect(await q.enqueueSync(job('r-1'))).toEqual(expect.any(String));
    expect(await q.enqueueSync({ ...job('r-1'), source: 'notification' })).toBeNull();
    expect(await q.enqueueSync(job('r-1', 'stan'))).toEqual(expect.any(String));
    await q.enqueueSyncs([job('r-1'), job('r-2'), job('r-2'), job('r-3', 'onekey')]);
    const rows = await jobRows();
    // Jobs of one statement share created_on: compare as a set.
    expect(rows.map((r) => [r.name, r.singleton_key, r.state]).sort()).toEqual([
      [syncQueueName('onekey'), 'onekey/default/r-3', 'created'],
      [stan, 'stan/default/r-1', 'created'],
      [ziina, 'ziina/default/r-1', 'created'],
      [ziina, 'ziina/default/r-2', 'created'],
    ]);
    expect(rows.find((r) => r.singleton_key === 'ziina/default/r-1').data).toEqual({ provider: 'ziina', account: 'default', id: 'r-1', source: 'poll' });
  });

  it('holds at most `concurrency` jobs in flight per queue, and uses all of them', async () => {
    await migrate();
    const q = await open();
    let inFlight = 0;
    let most = 0;
    let done = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await q.enqueueSyncs(Array.from({ length: 8 }, (_, i) => job(`c-${i}`)));
    await q.work(ziina, { concurrency: 3 }, async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await gate;
      inFlight--;
      done++;
    });
    await pollUntil(() => inFlight === 3, { what: 'three jobs in flight' });
    const stats = await q.stats();
    expect(stats[ziina]).toMatchObject({ active: 3, created: 5 });
    expect(stats[stan]).toMatchObject({ active: 0, created: 0 });
    release();
    await pollUntil(() => done === 8, { timeoutMs: 15_000, what: 'all eight jobs' });
    expect(most).toBe(3);
    await pollUntil(async () => (await q.stats())[ziina].completed === 8, { what: 'eight completed' });
  });

  it('a provider whose jobs hang delays only its own queue', async () => {
    await migrate();
    const q = await open();
    const stanDone: string[] = [];
    await q.enqueueSyncs([job('slow-1'), job('slow-2'), job('fast-1', 'stan'), job('fast-2', 'stan')]);
    await q.work(ziina, { concurrency: 2 }, () => new Promise<void>(() => undefined));
    await q.work(stan, { concurrency: 1 }, async (j) => void stanDone.push(j.data.id));
    // Bounded by events, not by how fast an idle machine runs two polls: Stan's jobs finish while
    // every Ziina slot still hangs (the jobs' lease, 120 s by default, is far beyond this wait).
    await pollUntil(() => stanDone.length === 2, { timeoutMs: 60_000, what: "stan's jobs" });
    // One insert gives both the same created time: pg-boss may hand them out in either order.
    expect(stanDone.sort()).toEqual(['fast-1', 'fast-2']);
    expect((await q.stats())[ziina].completed).toBe(0);
  }, 90_000);

  it('a second sync of a running refund neither waits for it in the queue nor stalls other refunds (why not `stately`)', async () => {
    await migrate();
    const q = await open();
    const seen: string[] = [];
    let first = true;
    await q.enqueueSync(job('busy'));
    await q.work(ziina, { concurrency: 2 }, async (j) => {
      if (j.data.id === 'busy' && first) {
        first = false;
        return new Promise<void>(() => undefined);
      }
      seen.push(`${j.data.id}:${j.data.source}`);
    });
    await pollUntil(() => !first, { what: 'the first sync to start' });
    // A notification for the busy refund, then another refund: both run while the first hangs.
    expect(await q.enqueueSync({ ...job('busy'), source: 'notification' })).toEqual(expect.any(String));
    await q.enqueueSync(job('other'));
    await pollUntil(() => seen.length === 2, { what: 'the follow-up and the other refund' });
    expect(seen.sort()).toEqual(['busy:notification', 'other:poll']);
  });

  it('retries a job whose handler crashed, with its data, and tells the handler how it waited', async () => {
    await migrate();
    const q = await open();
    const attempts: Array<Pick<QueueJob<SyncJobData>, 'retryCount' | 'data'>> = [];
    await q.enqueueDelivery({ deliveryId: '42' });
    await q.work(DELIVER_QUEUE, { concurrency: 1 }, async (j) => {
      attempts.push({ retryCount: j.retryCount, data: j.data as any });
      expect(j.waitedMs).toBeGreaterThanOrEqual(0);
      if (attempts.length === 1) throw new Error('crash with postgres://app:hunter2pw@db/x in it');
    });
    await pollUntil(async () => (await q.stats())[DELIVER_QUEUE].completed === 1, { timeoutMs: 15_000, what: 'the retried job to complete' });
    expect(attempts).toEqual([
      { retryCount: 0, data: { deliveryId: '42' } },
      { retryCount: 1, data: { deliveryId: '42' } },
    ]);
    // The error kept on the job has no credentials and no stack.
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query(`SELECT output::text AS output FROM pgboss.job WHERE name = $1`, [DELIVER_QUEUE]);
    await c.end();
    expect(JSON.stringify(rows)).not.toContain('hunter2pw');
  });

  it("takes over a SIGKILLed worker's job once its lease runs out, and another worker completes it", async () => {
    await migrate();
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], { cwd: ROOT, env: { ...process.env, QUEUE_URL: db.url, QUEUE_EXPIRE: '2' }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await pollUntil(() => out.includes('READY') || child.exitCode !== null, { timeoutMs: 20_000, what: 'the child worker' });
    expect(err).toBe('');
    const q = await open({ syncExpireInSeconds: 2 });
    const id = await q.enqueueSync(job('taken-over'));
    await pollUntil(() => out.includes(`TOOK ${id} 0`), { timeoutMs: 10_000, what: 'the child to take the job' });
    expect((await jobRows()).map((r) => r.state)).toEqual(['active']);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;

    const finished: Array<{ id: string; retryCount: number; refund: string }> = [];
    await q.work(ziina, { concurrency: 1 }, async (j) => void finished.push({ id: j.id, retryCount: j.retryCount, refund: j.data.id }));
    await pollUntil(() => finished.length === 1, { timeoutMs: 20_000, what: 'the job to be taken over' });
    expect(finished).toEqual([{ id: id!, retryCount: 1, refund: 'taken-over' }]);
    await pollUntil(async () => (await jobRows()).every((r) => r.state === 'completed'), { what: 'the job completed' });
  });

  it('stops gracefully: takes no new job, lets the one in hand finish, then resolves', async () => {
    await migrate();
    const q = await open();
    const started: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await q.enqueueSync(job('in-hand'));
    await q.work(ziina, { concurrency: 1 }, async (j) => {
      started.push(j.data.id);
      await gate;
    });
    await pollUntil(() => started.length === 1, { what: 'the job in hand' });
    await q.enqueueSync(job('next'));
    let stopped = false;
    const stopping = q.stop({ timeoutMs: 10_000 }).then(() => (stopped = true));
    // Still waiting for the job in hand.
    await pollUntil(async () => (await jobRows(`singleton_key = 'ziina/default/in-hand'`))[0]?.state === 'active', { what: 'the job still active' });
    expect(stopped).toBe(false);
    release();
    await stopping;
    const rows = await jobRows();
    expect(rows.map((r) => [r.singleton_key, r.state])).toEqual([
      ['ziina/default/in-hand', 'completed'],
      ['ziina/default/next', 'created'],
    ]);
    expect(started).toEqual(['in-hand']);
    await expect(q.enqueueSync(job('late'))).rejects.toMatchObject({ code: 'store_error' });
  });

  it('a stop whose grace runs out aborts the handler and puts its job back for a retry', async () => {
    await migrate();
    const q = await open();
    let signal: AbortSignal | undefined;
    await q.enqueueSync(job('stuck'));
    await q.work(ziina, { concurrency: 1 }, (j) => {
      signal = j.signal;
      return new Promise<void>(() => undefined);
    });
    await pollUntil(() => signal, { what: 'the job in hand' });
    await q.stop({ timeoutMs: 1000 });
    expect(signal!.aborted).toBe(true);
    expect((await jobRows()).map((r) => r.state)).toEqual(['retry']);
  });

  it("runs through a PostgreSQL store's pool as well, and refuses a SQLite store", async () => {
    const store = await createStore(db.url);
    stores.push(store);
    const q = await createJobQueue({ store, pollingIntervalSeconds: 0.5 });
    queues.push(q);
    const done: string[] = [];
    await q.work(stan, { concurrency: 1 }, async (j) => void done.push(j.data.id));
    await q.enqueueSync(job('via-store', 'stan'));
    await pollUntil(() => done.length === 1, { what: 'the job' });
    const sqlite = await createStore('sqlite::memory:');
    stores.push(sqlite);
    await expect(createJobQueue({ store: sqlite })).rejects.toMatchObject({ code: 'not_configured', message: expect.stringMatching(/needs PostgreSQL/) });
  });
});
