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
 */

/** Default jobs in flight per worker process (all queues together). */
export const DEFAULT_WORKER_CONCURRENCY = 16;
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
  /** How often queues that were empty are asked again (default 1 s); a local enqueue asks at once. */
  pollIntervalMs?: number;
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
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const queues = [...ALL_QUEUES];
  const limitOf = (q: QueueName) => Math.min(concurrency, Math.max(1, options.limits?.[q] ?? concurrency));
  const running = new Map<QueueName, number>(queues.map((q) => [q, 0]));
  /** Queues that had nothing at the last ask: not asked again until the next interval or a local enqueue. */
  const empty = new Set<QueueName>();
  const inHand = new Set<InHand>();
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
        let took = true;
        while (took && free() > 0 && !stopping) {
          took = false;
          for (let i = 0; i < queues.length && free() > 0 && !stopping; i++) {
            const q = queues[(cursor + i) % queues.length]!;
            if (empty.has(q) || running.get(q)! >= limitOf(q)) continue;
            const [job] = await queue.fetch(q, 1);
            if (!job) {
              empty.add(q);
              continue;
            }
            if (stopping) {
              // Taken while the stop began: straight back to the queue for another worker.
              await queue.fail(q, job.id, 'the worker is stopping; the job goes back to the queue').catch(() => undefined);
              break;
            }
            run(q, job);
            took = true;
          }
          // The next pass starts one queue further on, so a single free slot rotates too.
          cursor = (cursor + 1) % queues.length;
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
        if (!controller.signal.aborted) await queue.complete(q, job.id);
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
    })().then(() => void pump());
    inHand.add(entry);
  }

  return {
    start() {
      if (started || stopping) return;
      started = true;
      const tick = () => {
        empty.clear();
        void pump();
        timer = setTimeout(tick, pollIntervalMs);
        timer.unref();
      };
      tick();
    },

    async stop(timeoutMs = DEFAULT_STOP_TIMEOUT_MS) {
      if (stopping) return;
      stopping = true;
      if (timer) clearTimeout(timer);
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, Math.max(0, timeoutMs))));
      await Promise.race([Promise.allSettled([...inHand].map((h) => h.done)), grace]);
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
