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
 * Run: npm run bench -- --only queue-latency  (needs PostgreSQL at REFUNDHUB_BENCH_POSTGRES_URL,
 * default postgres://postgres@127.0.0.1:5432/postgres; makes and drops its own database). Each row
 * compares the median enqueue-to-start time with one polling interval (ratio < 1: a job starts
 * before a single idle poll would have come round); p99 and max are in the note.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { BenchResult, BenchRunOptions } from './lib/types.js';
import { createJobQueue, syncQueueName, type JobQueue } from '../src/queue/job-queue.js';
import { createStore } from '../src/store/index.js';

const ADMIN = process.env.REFUNDHUB_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SAMPLES = Number(process.env.SAMPLES ?? 50);

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

export const description = 'enqueue-to-start latency of a sync job at idle (pg-boss polling), other process vs same process, against one polling interval';

async function measure(url: string, label: string, pollingIntervalSeconds: number, concurrency: number, sameProcess: boolean): Promise<BenchResult> {
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
  const median = pct(ms, 50);
  const intervalMs = pollingIntervalSeconds * 1000;
  return {
    benchmark: 'queue-latency',
    name: `${label}: median enqueue-to-start vs one polling interval`,
    ours: { label: 'enqueue to start', msPerCall: median, callsPerSec: 1000 / median },
    baseline: { label: 'polling interval', msPerCall: intervalMs, callsPerSec: 1000 / intervalMs },
    kind: 'time',
    ratio: median / intervalMs,
    ratioRange: [Math.min(...ms) / intervalMs, Math.max(...ms) / intervalMs],
    rounds: ms.length,
    note: `median ${median.toFixed(0)} ms, p99 ${pct(ms, 99).toFixed(0)} ms, max ${Math.max(...ms).toFixed(0)} ms over ${ms.length} jobs; informational`,
  };
}

export async function run(options: BenchRunOptions): Promise<BenchResult[]> {
  const name = `refundhub_bench_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(ADMIN);
  u.pathname = `/${name}`;
  const url = u.toString();
  const results: BenchResult[] = [];
  try {
    await (await createStore(url)).close();
    for (const [label, interval, concurrency, same] of [
      ['other process, interval 1 s, concurrency 1', 1, 1, false],
      ['other process, interval 1 s, concurrency 4', 1, 4, false],
      ['other process, interval 0.5 s, concurrency 4', 0.5, 4, false],
      ['same process, interval 1 s, concurrency 4', 1, 4, true],
    ] as const) {
      options.log(`queue-latency: ${label}`);
      results.push(await measure(url, label, interval, concurrency, same));
    }
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  return results;
}
