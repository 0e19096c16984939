/**
 * Enqueue-to-start latency of the job queue at idle (issue 7, benchmarks): one sync job at a time,
 * sent and then waited for by an idle worker, timed from just before `enqueueSync()` to the
 * handler's first line. pg-boss 10 polls (no LISTEN/NOTIFY), so this is set by the polling
 * interval and by how many staggered work loops the queue has (`concurrency`):
 * - "other process": the producer is a second JobQueue (its own pg-boss), as an API node enqueuing
 *   a notification re-fetch for a worker elsewhere; only the worker's polls can find the job.
 * - "same process": the producer is the worker's own JobQueue, which wakes a local loop at once.
 * Gaps between jobs are random over one to two polling intervals, so a send lands anywhere in the
 * loops' phase (a loop polls again right after a job; shorter gaps would always land early).
 *
 * Run: node --import tsx bench/queue-latency.ts  (needs PostgreSQL at REFUNDHUB_BENCH_POSTGRES_URL,
 * default postgres://postgres@127.0.0.1:5432/postgres; makes and drops its own database).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createJobQueue, syncQueueName, type JobQueue } from '../src/queue/job-queue.js';
import { createStore } from '../src/store/index.js';

const ADMIN = process.env.REFUNDHUB_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SAMPLES = Number(process.env.SAMPLES ?? 60);

async function admin(statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function measure(url: string, label: string, pollingIntervalSeconds: number, concurrency: number, sameProcess: boolean): Promise<void> {
  const worker = await createJobQueue({ connectionString: url, pollingIntervalSeconds });
  const producer: JobQueue = sameProcess ? worker : await createJobQueue({ connectionString: url, pollingIntervalSeconds });
  let started: (() => void) | undefined;
  await worker.work(syncQueueName('ziina'), { concurrency }, async () => started?.());
  // Let every staggered loop start and settle into its idle rhythm.
  await new Promise((r) => setTimeout(r, 2 * pollingIntervalSeconds * 1000));
  const ms: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    await new Promise((r) => setTimeout(r, (1 + Math.random()) * pollingIntervalSeconds * 1000));
    const begun = new Promise<void>((r) => (started = r));
    const t0 = performance.now();
    await producer.enqueueSync({ provider: 'ziina', account: 'default', id: `lat-${label}-${i}`, source: 'notification' });
    await begun;
    ms.push(performance.now() - t0);
  }
  await worker.stop({ graceful: false });
  if (!sameProcess) await producer.stop({ graceful: false });
  console.log(`${label.padEnd(44)} median ${pct(ms, 50).toFixed(0).padStart(4)} ms   p99 ${pct(ms, 99).toFixed(0).padStart(4)} ms   max ${Math.max(...ms).toFixed(0).padStart(4)} ms   (n=${ms.length})`);
}

const name = `refundhub_bench_${randomBytes(4).toString('hex')}`;
await admin(`CREATE DATABASE ${name}`);
const u = new URL(ADMIN);
u.pathname = `/${name}`;
const url = u.toString();
try {
  await (await createStore(url)).close();
  await measure(url, 'other process, interval 1 s, concurrency 1', 1, 1, false);
  await measure(url, 'other process, interval 1 s, concurrency 4', 1, 4, false);
  await measure(url, 'other process, interval 0.5 s, concurrency 4', 0.5, 4, false);
  await measure(url, 'same process, interval 1 s, concurrency 4', 1, 4, true);
} finally {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}
