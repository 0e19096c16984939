import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALL_QUEUES, createJobQueue, syncQueueName, type JobQueue, type QueueName, type SyncJobData } from '../src/queue/job-queue.js';
import { createQueueWorker, type QueueWorker } from '../src/queue/worker.js';
import { silentLogger } from '../src/logger.js';
import { createStore } from '../src/store/index.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from './support/postgres.js';
import { pollUntil } from './support/wait.js';

/**
 * What the worker's job runner costs the database (src/queue/worker.ts): an idle worker looks at
 * every queue in one statement per interval instead of a fetch per queue; free slots are shared
 * out over the queues in turns and each queue's share is one fetch; finished jobs free their slot
 * at once and their completions go together. A producer in another JobQueue stands in for an API
 * node, so nothing reaches the worker through the same-process wake-up unless the test says so.
 */
const ziina = syncQueueName('ziina');
const stan = syncQueueName('stan');
const job = (id: string, provider: SyncJobData['provider'] = 'ziina'): SyncJobData => ({ provider, account: 'default', id, source: 'poll' });

interface Calls {
  fetch: Array<{ queue: QueueName; limit: number; got: number }>;
  ready: number;
  complete: Array<{ queue: QueueName; ids: number }>;
}

/** The queue as the worker sees it, with every fetch, look and completion recorded. */
function recorded(q: JobQueue): { queue: JobQueue; calls: Calls } {
  const calls: Calls = { fetch: [], ready: 0, complete: [] };
  const queue: JobQueue = {
    ...q,
    async fetch(name, limit) {
      const jobs = await q.fetch(name, limit);
      calls.fetch.push({ queue: name, limit, got: jobs.length });
      return jobs;
    },
    async ready(names) {
      calls.ready++;
      return q.ready(names);
    },
    async complete(name, id) {
      calls.complete.push({ queue: name, ids: typeof id === 'string' ? 1 : id.length });
      return q.complete(name, id);
    },
  };
  return { queue, calls };
}

describe.skipIf(!postgresAvailable)('queue worker: idle looks, shared fetches, grouped completions [postgres]', () => {
  let db: TestDatabase;
  const queues: JobQueue[] = [];
  const workers: QueueWorker[] = [];

  const open = async () => {
    const q = await createJobQueue({ connectionString: db.url, maintenanceIntervalSeconds: 1, retryDelaySeconds: 1 });
    queues.push(q);
    return q;
  };
  const states = async (): Promise<Record<string, number>> => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query(`SELECT state::text AS state, count(*)::int AS n FROM pgboss.job GROUP BY state`);
      return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    } finally {
      await c.end();
    }
  };

  beforeEach(async () => {
    db = await createTestDatabase();
    // `refundhub migrate` as a store open does it: RefundHub's tables and pg-boss's schema.
    await (await createStore(db.url)).close();
  });

  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop(1000);
    for (const q of queues.splice(0)) await q.stop({ graceful: false });
    await db.drop();
  });

  it('an idle worker looks at all its queues in one statement per interval, and takes a job another process enqueues', async () => {
    const { queue, calls } = recorded(await open());
    const producer = await open();
    const done: string[] = [];
    const worker = createQueueWorker({ queue, logger: silentLogger, concurrency: 4, pollIntervalMs: 100, handler: async (_q, j) => void done.push((j.data as SyncJobData).id) });
    workers.push(worker);
    worker.start();
    // The first pass asks every queue once (nothing is known yet); after that only looks.
    await pollUntil(() => calls.ready >= 5, { timeoutMs: 30_000, what: 'five looks' });
    expect(calls.fetch.map((f) => f.queue).sort()).toEqual([...ALL_QUEUES].sort());
    expect(calls.fetch.every((f) => f.got === 0)).toBe(true);

    await producer.enqueueSync(job('from-elsewhere', 'stan'));
    await pollUntil(() => done.length === 1, { timeoutMs: 30_000, what: 'the job from the other producer' });
    expect(done).toEqual(['from-elsewhere']);
    // Found by a look: only Stan's queue was fetched from again.
    expect(calls.fetch.slice(ALL_QUEUES.length).map((f) => f.queue)).toEqual([stan]);
  }, 60_000);

  it('shares free slots out over the queues with work in turns, one fetch per queue for its share, within its limit', async () => {
    const producer = await open();
    const { queue, calls } = recorded(await open());
    const running: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // Ziina may have 3 at once, Stan 1: five slots are 3 + 1, the fifth stays free.
    const worker = createQueueWorker({
      queue,
      logger: silentLogger,
      concurrency: 5,
      limits: { [ziina]: 3, [stan]: 1 },
      pollIntervalMs: 100,
      handler: async (q) => {
        running.push(q);
        await gate;
      },
    });
    workers.push(worker);
    worker.start();
    // Once every queue is known empty, the work arrives from elsewhere and a look finds it.
    await pollUntil(() => calls.ready >= 1, { timeoutMs: 30_000, what: 'the first look' });
    await producer.enqueueSyncs([...Array.from({ length: 6 }, (_, i) => job(`z-${i}`)), ...Array.from({ length: 6 }, (_, i) => job(`s-${i}`, 'stan'))]);
    await pollUntil(() => running.length === 4, { timeoutMs: 30_000, what: 'four jobs running' });
    expect(worker.running()).toMatchObject({ [ziina]: 3, [stan]: 1 });
    const taking = calls.fetch.filter((f) => f.got > 0);
    expect(taking).toEqual(expect.arrayContaining([{ queue: ziina, limit: 3, got: 3 }, { queue: stan, limit: 1, got: 1 }]));
    expect(taking).toHaveLength(2);
    release();
    await pollUntil(async () => (await states()).completed === 12, { timeoutMs: 30_000, what: 'all twelve completed' });
  }, 60_000);

  it('sends the completions of one queue together, and a stop sends those still held back', async () => {
    const producer = await open();
    const { queue, calls } = recorded(await open());
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    // Completions may wait a minute for company: only the stop can send them in this test.
    const worker = createQueueWorker({
      queue,
      logger: silentLogger,
      concurrency: 4,
      pollIntervalMs: 100,
      completeDelayMs: 60_000,
      handler: async () => {
        started++;
        await gate;
      },
    });
    workers.push(worker);
    worker.start();
    await producer.enqueueSyncs(Array.from({ length: 3 }, (_, i) => job(`c-${i}`)));
    await pollUntil(() => started === 3, { timeoutMs: 30_000, what: 'three jobs running' });
    release();
    // The slots are free again while the completions wait.
    await pollUntil(() => worker.running()[ziina] === 0, { what: 'the slots to free' });
    expect(calls.complete).toEqual([]);
    expect(await states()).toMatchObject({ active: 3 });
    await worker.stop(20_000);
    expect(calls.complete).toEqual([{ queue: ziina, ids: 3 }]);
    expect(await states()).toEqual({ completed: 3 });
  }, 60_000);
});
