import { performance } from 'node:perf_hooks';
import { RefundHubError } from '../errors.js';
import type { Logger } from '../logger.js';
import { redactUrl } from '../redact.js';
import { ALL_QUEUES, type FetchedJob, type JobData, type JobQueue, type QueueName } from './job-queue.js';
import type { QueueMetrics } from './metrics.js';

/**
 * The worker's job runner: takes jobs from every queue (one sync queue per provider and the
 * delivery queue) with at most `concurrency` in flight in this process, handed out fairly.
 *
 * Fair by construction: a free slot goes to the queues in turn (round-robin, one job per queue per
 * pass, the pass starting after the queue served last), never above a queue's own limit (a
 * provider's configured concurrency, per worker). So a provider with a deep backlog takes at most
 * its share while others have work, and all the slots when it is the only one with work; a slow
 * provider holds only its own slots. pg-boss still owns the hand-off, each job's lease (a job
 * this process never completes is failed over after `expireInSeconds`), retries with backoff and
 * the takeover of a dead worker's jobs; this decides only which queue to ask next.
 *
 * What it costs the database (docs/benchmarks.md, cluster): free slots are shared out over the
 * queues first (the same turns as above), then each queue's share is taken in one fetch. An idle
 * worker asks one statement per interval which queues have a job ready (`JobQueue.ready`) rather
 * than a fetch per queue. A finished job frees its slot at once; its completion is sent after,
 * together with the others of its queue that finish within DEFAULT_COMPLETE_DELAY_MS.
 */

/** Default jobs in flight per worker process (all queues together). */
export const DEFAULT_WORKER_CONCURRENCY = 16;
/**
 * How often a worker looks for jobs in queues that were empty. A job another process enqueues (an
 * API node's notification re-fetch) waits up to this long, half of it on average. Each look is
 * one statement for every queue together, so an idle worker spends 2 statements/s on it (a fetch
 * per queue per second was 6).
 */
export const DEFAULT_POLL_INTERVAL_MS = 500;
/**
 * A finished job's completion waits up to this long for others of its queue, so one statement
 * completes several (a worker at 30 syncs/s over five provider queues sends about one per six
 * jobs instead of one each). The job's work is done and stored by then: it only shows as active
 * a little longer, and a worker killed in between leaves it to pg-boss to run again after its
 * lease (a sync run twice stores its change once; a delivery already made is skipped).
 */
export const DEFAULT_COMPLETE_DELAY_MS = 1000;
/** A worker's grace for the jobs in hand on SIGTERM, inside the 30 s a process manager waits. */
export const DEFAULT_STOP_TIMEOUT_MS = 20_000;

export interface JobContext {
  /** Aborted when the job's lease runs out or the stop's grace ends: the job then goes back to the queue. */
  signal: AbortSignal;
}

export type WorkerHandler = <Q extends QueueName>(queue: Q, job: FetchedJob<JobData<Q>>, ctx: JobContext) => Promise<void>;

export interface QueueWorkerOptions {
  queue: JobQueue;
  handler: WorkerHandler;
  /** Jobs in flight at most, all queues together (default DEFAULT_WORKER_CONCURRENCY). */
  concurrency?: number;
  /** Per-queue limits (a provider's concurrency); a queue missing here is limited by `concurrency` only. */
  limits?: Partial<Record<QueueName, number>>;
  /**
   * How often queues that were empty are looked at again (default DEFAULT_POLL_INTERVAL_MS): at
   * idle, one statement per interval; a job enqueued in this process is taken at once.
   */
  pollIntervalMs?: number;
  /**
   * How long a finished job's completion may wait to be sent with others of its queue (default
   * DEFAULT_COMPLETE_DELAY_MS). 0 sends each at once, unless one of its queue is being sent.
   */
  completeDelayMs?: number;
  logger: Logger;
  metrics?: QueueMetrics;
}

export interface QueueWorker {
  start(): void;
  /** Stops taking jobs, waits up to `timeoutMs` for those in hand, then fails the rest back to the queue. */
  stop(timeoutMs?: number): Promise<void>;
  /** Jobs running now, per queue. */
  running(): Record<QueueName, number>;
}

interface InHand {
  queue: QueueName;
  id: string;
  controller: AbortController;
  done: Promise<void>;
}

export function createQueueWorker(options: QueueWorkerOptions): QueueWorker {
  const { queue, handler, metrics } = options;
  const log = options.logger.child({ component: 'worker' });
  const concurrency = options.concurrency ?? DEFAULT_WORKER_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) throw new RefundHubError('invalid_input', `concurrency must be a whole number from 1 to 1000, got ${String(options.concurrency)}`);
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const completeDelayMs = Math.max(0, options.completeDelayMs ?? DEFAULT_COMPLETE_DELAY_MS);
  const queues = [...ALL_QUEUES];
  const limitOf = (q: QueueName) => Math.min(concurrency, Math.max(1, options.limits?.[q] ?? concurrency));
  const running = new Map<QueueName, number>(queues.map((q) => [q, 0]));
  /** Queues that had nothing at the last ask: not fetched from until a look finds a job ready or a local enqueue. */
  const empty = new Set<QueueName>();
  const inHand = new Set<InHand>();
  /** Finished jobs whose completion is still to be sent, and the send under way, per queue. */
  const toComplete = new Map<QueueName, string[]>();
  const completing = new Map<QueueName, Promise<void>>();
  /** Completions held back for company: the timer that sends them. */
  const holding = new Map<QueueName, NodeJS.Timeout>();
  let cursor = 0;
  let pumping = false;
  let again = false;
  let started = false;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;

  const free = () => concurrency - inHand.size;

  queue.onEnqueued((q) => {
    empty.delete(q);
    void pump();
  });

  /**
   * Shares the free slots out in turns: one slot per queue per pass, starting one queue further
   * on each time (so a single free slot rotates too), skipping queues known empty and queues at
   * their limit. The result is how many jobs to fetch from each queue.
   */
  function share(): Map<QueueName, number> {
    const plan = new Map<QueueName, number>();
    let slots = free();
    let given = true;
    while (slots > 0 && given) {
      given = false;
      for (let i = 0; i < queues.length && slots > 0; i++) {
        const q = queues[(cursor + i) % queues.length]!;
        const n = plan.get(q) ?? 0;
        if (empty.has(q) || running.get(q)! + n >= limitOf(q)) continue;
        plan.set(q, n + 1);
        slots--;
        given = true;
      }
    }
    cursor = (cursor + 1) % queues.length;
    return plan;
  }

  async function pump(): Promise<void> {
    if (!started || stopping) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        for (;;) {
          const plan = share();
          if (!plan.size || stopping) break;
          const fetched = await Promise.allSettled([...plan].map(async ([q, n]) => ({ q, n, jobs: await queue.fetch(q, n) })));
          for (const f of fetched) {
            if (f.status === 'rejected') {
              log.warn({ err: { message: redact((f.reason as Error)?.message ?? String(f.reason)) } }, 'could not take jobs; trying again at the next interval');
              continue;
            }
            const { q, n, jobs } = f.value;
            // Fewer than asked: the queue has no more ready now.
            if (jobs.length < n) empty.add(q);
            for (const job of jobs) {
              // Taken while the stop began: straight back to the queue for another worker.
              if (stopping) await queue.fail(q, job.id, 'the worker is stopping; the job goes back to the queue').catch(() => undefined);
              else run(q, job);
            }
          }
          // A failed fetch is asked again at the next interval, not in a tight loop.
          if (fetched.some((f) => f.status === 'rejected')) {
            for (const q of plan.keys()) empty.add(q);
          }
        }
      } while (again && !stopping);
    } catch (e) {
      log.warn({ err: { message: redact((e as Error).message) } }, 'could not take jobs; trying again at the next interval');
    } finally {
      pumping = false;
    }
  }

  function run(q: QueueName, job: FetchedJob<any>): void {
    const controller = new AbortController();
    running.set(q, running.get(q)! + 1);
    metrics?.jobWait.observe({ queue: q }, job.waitedMs / 1000);
    const startedAt = performance.now();
    // pg-boss fails the job over at its lease; the handler hears it too, so nothing runs unowned.
    const lease = setTimeout(() => controller.abort(new RefundHubError('store_error', `job lease of ${job.expireInSeconds} s ran out; the job will be retried`, { retryable: true })), job.expireInSeconds * 1000);
    const entry: InHand = { queue: q, id: job.id, controller, done: Promise.resolve() };
    entry.done = (async () => {
      let outcome = 'completed';
      try {
        await handler(q, job, { signal: controller.signal });
      } catch (e) {
        outcome = 'failed';
        const message = (e as Error)?.message ?? String(e);
        log.warn({ queue: q, jobId: job.id, retryCount: job.retryCount, err: { message: redact(message), code: (e as { code?: string })?.code } }, 'job failed; pg-boss retries it with backoff');
        if (!controller.signal.aborted) await queue.fail(q, job.id, message).catch((err: Error) => log.warn({ err: { message: redact(err.message) } }, 'could not fail the job back; its lease will'));
      } finally {
        clearTimeout(lease);
        metrics?.jobRun.observe({ queue: q, outcome }, (performance.now() - startedAt) / 1000);
        running.set(q, running.get(q)! - 1);
        inHand.delete(entry);
      }
      // A job whose lease ran out is pg-boss's to retry: completing it would do nothing anyway.
      if (outcome === 'completed' && !controller.signal.aborted) completeLater(q, job.id);
    })().then(() => void pump());
    inHand.add(entry);
  }

  /**
   * The work is done and the slot is free; the completion follows off the slot's path. It waits up
   * to `completeDelayMs` for other finished jobs of its queue (not when stopping, nor once
   * `concurrency` of them are waiting), and those that finish while a completion of the queue is
   * being sent go in the next statement.
   */
  function completeLater(q: QueueName, id: string): void {
    const ids = toComplete.get(q) ?? [];
    ids.push(id);
    toComplete.set(q, ids);
    if (completing.has(q)) return;
    if (completeDelayMs === 0 || stopping || ids.length >= concurrency) sendCompletions(q);
    else if (!holding.has(q)) holding.set(q, setTimeout(() => sendCompletions(q), completeDelayMs));
  }

  function sendCompletions(q: QueueName): void {
    clearTimeout(holding.get(q));
    holding.delete(q);
    if (completing.has(q)) return;
    const sending = (async () => {
      for (let batch = toComplete.get(q); batch?.length; batch = toComplete.get(q)) {
        toComplete.delete(q);
        await queue.complete(q, batch).catch((err: Error) => log.warn({ queue: q, jobs: batch!.length, err: { message: redact(err.message) } }, 'could not complete jobs; pg-boss retries them after their lease'));
      }
    })().finally(() => completing.delete(q));
    completing.set(q, sending);
  }

  /** Resolves when every job in hand has ended and every completion has been sent. */
  async function settled(): Promise<void> {
    for (;;) {
      // Stopping: completions held back go now (and later ones go at once, see completeLater).
      for (const q of [...holding.keys()]) sendCompletions(q);
      if (!inHand.size && !completing.size) return;
      await Promise.allSettled([...[...inHand].map((h) => h.done), ...completing.values()]);
    }
  }

  /** Once per interval: one look at the queues that were empty (and have room), then take what is ready. */
  async function look(): Promise<void> {
    const asked = queues.filter((q) => empty.has(q) && running.get(q)! < limitOf(q));
    if (asked.length && free() > 0) {
      try {
        for (const q of await queue.ready(asked)) empty.delete(q);
      } catch (e) {
        // The look failed: ask each queue with a fetch instead, as if none were known empty.
        log.warn({ err: { message: redact((e as Error).message) } }, 'could not look for ready jobs; fetching from each queue');
        for (const q of asked) empty.delete(q);
      }
    }
    await pump();
  }

  return {
    start() {
      if (started || stopping) return;
      started = true;
      // On a fixed cadence (a slow look shortens the wait after it), so the wait for a job from
      // elsewhere stays within one interval.
      const tick = () => {
        if (stopping) return;
        const next = performance.now() + pollIntervalMs;
        void look().finally(() => {
          if (stopping) return;
          timer = setTimeout(tick, Math.max(0, next - performance.now()));
          timer.unref();
        });
      };
      // The first look knows nothing yet: every queue is asked with a fetch.
      tick();
    },

    async stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS) {
      if (stopping) return;
      stopping = true;
      if (timer) clearTimeout(timer);
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, Math.max(0, timeoutMs))));
      await Promise.race([settled(), grace]);
      clearTimeout(graceTimer);
      const left = [...inHand];
      if (left.length) log.warn({ jobs: left.length }, 'stop: jobs still running after the grace period go back to the queue');
      for (const h of left) {
        h.controller.abort(new RefundHubError('store_error', 'the worker is stopping; the job goes back to the queue', { retryable: true }));
        await queue.fail(h.queue, h.id, 'the worker stopped before the job finished; retried elsewhere').catch(() => undefined);
      }
    },

    running() {
      return Object.fromEntries(running) as Record<QueueName, number>;
    },
  };
}

function redact(message: string): string {
  return message.replace(/\b(postgres(?:ql)?:\/\/\S+)/gi, (u) => redactUrl(u));
}
