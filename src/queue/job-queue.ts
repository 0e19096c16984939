import { CompiledQuery } from 'kysely';
import type PgBoss from 'pg-boss';
import { PROVIDER_IDS, type ProviderId } from '../domain/refund.js';
import { RefundHubError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { redactUrl } from '../redact.js';
import type { Store } from '../store/index.js';
import { QUEUE_SCHEMA } from '../store/queue-schema.js';
import { DEFAULT_REFUND_LOCK_WAIT_MS } from '../store/refund-lock.js';
import type { SyncSource } from '../sync/sync-refund.js';
import { worstCaseSendMs } from '../transport/http.js';

/**
 * The job queue seam over pg-boss 10 (docs/architecture.md "Scale-out"): the poller and the
 * notification ingest decide *what* to sync and enqueue it; workers take jobs from here. Handing a
 * job to one worker, its lease, retries with backoff and taking over a dead worker's job are
 * pg-boss's. PostgreSQL only: SQLite runs no queue.
 */

/** One sync queue per provider: a slow or throttled provider fills only its own queue. */
export const SYNC_QUEUE_PREFIX = 'refundhub.sync.';
export const DELIVER_QUEUE = 'refundhub.deliver';

export type SyncQueueName = `${typeof SYNC_QUEUE_PREFIX}${ProviderId}`;
export type QueueName = SyncQueueName | typeof DELIVER_QUEUE;

export const syncQueueName = (provider: ProviderId): SyncQueueName => `${SYNC_QUEUE_PREFIX}${provider}`;
export const SYNC_QUEUES: readonly SyncQueueName[] = PROVIDER_IDS.map(syncQueueName);
export const ALL_QUEUES: readonly QueueName[] = [...SYNC_QUEUES, DELIVER_QUEUE];

/** pg-boss's pool per process: its statements (fetch, complete, maintenance) are short. */
export const DEFAULT_QUEUE_POOL_SIZE = 3;

/** A sync job: the spine's SyncRequest, as JSON. */
export interface SyncJobData {
  provider: ProviderId;
  account: string;
  id: string;
  source: SyncSource;
  currency?: string | null;
}

/** A delivery job: one pending delivery (deliveries.id) to attempt. */
export interface DeliverJobData {
  deliveryId: string;
}

export type JobData<Q extends QueueName> = Q extends typeof DELIVER_QUEUE ? DeliverJobData : SyncJobData;

/** What a handler gets for one job. */
export interface QueueJob<T> {
  id: string;
  queue: QueueName;
  data: T;
  /** Earlier attempts of this job (a crash, a lease that ran out, a shutdown that released it). */
  retryCount: number;
  /** From when the job could first start (created, or its startAfter) to now: the queue's latency. */
  waitedMs: number;
  /**
   * Aborted when the job's lease ends (pg-boss then fails it and retries it elsewhere) or when a
   * stop's grace period runs out: pass it to provider calls so work nobody waits for stops.
   */
  signal: AbortSignal;
}

export type JobHandler<T> = (job: QueueJob<T>) => Promise<void>;

/** Jobs by queue and state, for metrics. Every queue and state is present (0 when empty). */
export type QueueStats = Record<QueueName, Record<JobState, number>>;
export const JOB_STATES = ['created', 'retry', 'active', 'completed', 'cancelled', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobQueueOptions {
  /** pg-boss opens a pool of its own (`maxConnections`) on this database... */
  connectionString?: string;
  /** ...or runs its statements through the store's pool (PostgreSQL stores only). */
  store?: Store;
  logger?: Logger;
  /** Size of pg-boss's own pool with `connectionString` (REFUNDHUB_QUEUE_POOL_SIZE). Default DEFAULT_QUEUE_POOL_SIZE. */
  maxConnections?: number;
  /** A sync job's lease, seconds. Default DEFAULT_SYNC_EXPIRE_SECONDS. */
  syncExpireInSeconds?: number;
  /** A delivery job's lease, seconds. Default DEFAULT_DELIVER_EXPIRE_SECONDS. */
  deliverExpireInSeconds?: number;
  /** Retries after a crash, a lease that ran out or a shutdown; default 5, then the job fails (the schedule re-enqueues it). */
  retryLimit?: number;
  /** First retry delay, seconds, doubled per retry with jitter (pg-boss retryBackoff). Default 5. */
  retryDelaySeconds?: number;
  /**
   * How often each idle work loop asks for a job, seconds (pg-boss's minimum is 0.5). Default 1.
   * The `concurrency` loops of one queue are staggered, so at idle a job waits about
   * interval / (2 x concurrency) for a loop from another process; one enqueued in this process
   * wakes a local loop at once.
   */
  pollingIntervalSeconds?: number;
  /**
   * How often expired jobs are failed over for retry (one process does it per interval, cluster-
   * wide). A dead worker's job is taken over at most lease + this after it started. Default 30.
   */
  maintenanceIntervalSeconds?: number;
  /** Completed jobs move to pg-boss's archive after this long, keeping the hot table small. Default 3600. */
  archiveCompletedAfterSeconds?: number;
  /** Archived jobs are deleted after this many hours. Default 24. */
  deleteAfterHours?: number;
}

/**
 * A sync's lease must outlive the slowest sync, or pg-boss fails a live job and runs it twice:
 * waiting for the refund's lock (at most DEFAULT_REFUND_LOCK_WAIT_MS, 60 s), then one provider
 * call at its worst (the transport's attempts x (timeout + backoff), 45 s), then the write
 * (15 s of headroom): 120 s with the defaults. It is also how long a SIGKILLed worker's job waits
 * before another worker takes it over.
 */
export const DEFAULT_SYNC_EXPIRE_SECONDS = Math.ceil((DEFAULT_REFUND_LOCK_WAIT_MS + worstCaseSendMs() + 15_000) / 1000);
/** A delivery: one POST to an endpoint (the transport's worst case) and its bookkeeping, doubled. */
export const DEFAULT_DELIVER_EXPIRE_SECONDS = Math.ceil((2 * worstCaseSendMs()) / 1000);

export interface JobQueue {
  /**
   * Enqueues a sync of one refund. At most one sync of a refund waits in the queue: while one is
   * queued, another enqueue returns null (it would fetch the same thing). One that arrives while
   * a sync of the refund runs is queued, so a notification during a sync is never lost.
   */
  enqueueSync(job: SyncJobData, options?: EnqueueOptions): Promise<string | null>;
  /**
   * Enqueues many syncs in one statement (the poller's due batch); refunds already queued are
   * skipped. pg-boss 10's insert() reports nothing back, so neither does this: stats() counts.
   */
  enqueueSyncs(jobs: SyncJobData[], options?: EnqueueOptions): Promise<void>;
  enqueueDelivery(job: DeliverJobData, options?: EnqueueOptions): Promise<string | null>;
  /** Takes jobs from `queue`, at most `concurrency` at once in this process (default 1). */
  work<Q extends QueueName>(queue: Q, options: { concurrency?: number }, handler: JobHandler<JobData<Q>>): Promise<void>;
  /**
   * Takes up to `limit` jobs of `queue` for a caller that runs them itself (the worker's fair
   * scheduler, src/queue/worker.ts). Each must end with `complete` or `fail`; one that does not is
   * failed over by pg-boss when its lease (`expireInSeconds`) runs out, and retried.
   */
  fetch<Q extends QueueName>(queue: Q, limit: number): Promise<Array<FetchedJob<JobData<Q>>>>;
  /** Completes one job or several of one queue in one statement. */
  complete(queue: QueueName, id: string | readonly string[]): Promise<void>;
  /**
   * Which of `queues` hold a job that could start now, in one read-only statement over pg-boss's
   * job table (its index of waiting jobs): an idle worker asks this once per interval instead of
   * trying a fetch per queue. Taking a job is still `fetch`.
   */
  ready(queues: readonly QueueName[]): Promise<Set<QueueName>>;
  /** Fails the job back to the queue: pg-boss retries it with backoff (up to the retry limit). */
  fail(queue: QueueName, id: string, message: string): Promise<void>;
  /** Called with the queue's name when this process enqueues a job that may start now. */
  onEnqueued(listener: (queue: QueueName) => void): void;
  /** Jobs by queue and state (one query over pg-boss's job table). */
  stats(): Promise<QueueStats>;
  /**
   * Stops taking jobs and waits up to `timeoutMs` (default 25 s, inside the worker's 30 s) for the
   * jobs in hand; then aborts their signals and fails them back to the queue so another worker
   * retries them. `graceful: false` skips the wait. Resolves when pg-boss has stopped.
   */
  stop(options?: { graceful?: boolean; timeoutMs?: number }): Promise<void>;
}

/** A job taken with `fetch`: what a handler gets, without the signal (the caller owns the lease). */
export type FetchedJob<T> = Omit<QueueJob<T>, 'signal'> & { expireInSeconds: number };

export interface EnqueueOptions {
  /** Not before this time (a retry schedule, a provider pause). */
  startAfter?: Date;
  /** Higher runs first; notifications and API requests may go before the poller's backlog. */
  priority?: number;
}

/**
 * The refund's singleton key. Account and id are escaped so the parts cannot run into each other;
 * PostgreSQL text cannot hold the NULs refundKeyString uses.
 */
export function syncJobKey(job: Pick<SyncJobData, 'provider' | 'account' | 'id'>): string {
  return `${job.provider}/${encodeURIComponent(job.account)}/${encodeURIComponent(job.id)}`;
}

/**
 * Queue policy `short`: at most one *queued* job per singleton key, any number active.
 * `stately` (one queued and one active per key) is what we would want, but in pg-boss 10 a
 * stately queue whose oldest queued job shares a key with an active one cannot fetch at all: the
 * fetch moves that job to active, hits the unique index, and pg-boss swallows the error, so the
 * whole provider's queue stalls until the active job ends (pg-boss issue #535, PR #536). A job
 * of a SIGKILLed worker would stall it for a whole lease. With `short`, a second sync of a refund
 * can start while one runs; the cross-process refund lock (src/store/refund-lock.ts) makes it
 * wait for the first, so one refund is still fetched by one process at a time.
 */
const QUEUE_POLICY = 'short' as const;

export async function createJobQueue(options: JobQueueOptions): Promise<JobQueue> {
  if (!options.connectionString === !options.store) throw new RefundHubError('not_configured', 'job queue: give either connectionString or store');
  if (options.store && options.store.dialect !== 'postgres') throw new RefundHubError('not_configured', 'the job queue needs PostgreSQL (REFUNDHUB_DATABASE_URL=postgres://...); SQLite runs without one');
  const log = (options.logger ?? silentLogger).child({ component: 'queue' });
  const pollingIntervalSeconds = options.pollingIntervalSeconds ?? 1;
  const syncExpire = options.syncExpireInSeconds ?? DEFAULT_SYNC_EXPIRE_SECONDS;
  const deliverExpire = options.deliverExpireInSeconds ?? DEFAULT_DELIVER_EXPIRE_SECONDS;
  const retry = { retryLimit: options.retryLimit ?? 5, retryDelay: options.retryDelaySeconds ?? 5, retryBackoff: true };

  const { default: PgBossClass } = await import('pg-boss');
  const db = options.store ? storeExecutor(options.store) : undefined;
  const boss: PgBoss = new PgBossClass({
    ...(db ? { db } : { connectionString: options.connectionString!, max: options.maxConnections ?? DEFAULT_QUEUE_POOL_SIZE, application_name: 'refundhub-queue' }),
    schema: QUEUE_SCHEMA,
    // `refundhub migrate` and store opens install the schema under the migration lock; a worker
    // only checks it is there and current (pg-boss throws otherwise).
    migrate: false,
    supervise: true,
    schedule: false,
    maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? 30,
    archiveCompletedAfterSeconds: options.archiveCompletedAfterSeconds ?? 3600,
    deleteAfterHours: options.deleteAfterHours ?? 24,
    pollingIntervalSeconds,
  });
  // An 'error' event without a listener would crash the process; pg-boss reports fetch and
  // maintenance failures this way and retries on its own.
  boss.on('error', (e: Error & { queue?: string }) => log.warn({ err: { message: redactMessage(e?.message) }, queue: e?.queue }, 'job queue error'));
  try {
    await boss.start();
  } catch (e) {
    const message = redactMessage((e as Error).message);
    await boss.stop({ graceful: false, close: true }).catch(() => undefined);
    if (/not installed|requires migrations/.test(message)) throw new RefundHubError('not_configured', `the job queue's schema is missing or old (${message}): run \`refundhub migrate\` first`, { cause: e });
    throw new RefundHubError('store_error', `job queue: cannot start: ${message}`, { cause: e });
  }

  for (const name of ALL_QUEUES) {
    const wanted = { name, policy: QUEUE_POLICY, expireInSeconds: name === DELIVER_QUEUE ? deliverExpire : syncExpire, ...retry };
    // Nodes starting at once on a fresh database each create the queues; pg-boss 10's
    // create_queue (a partition per queue) then deadlocks between them, and PostgreSQL aborts all
    // but one: a deadlock is retried after a jittered pause, by when the winner has committed.
    for (let attempt = 1; ; attempt++) {
      try {
        const existing = await boss.getQueue(name);
        // create_queue does nothing when the queue exists (several processes start at once), so
        // settings changed since are applied with updateQueue; jobs keep the settings they were sent with.
        if (!existing) await boss.createQueue(name, wanted);
        if (!existing || existing.policy !== wanted.policy || existing.expireInSeconds !== wanted.expireInSeconds || existing.retryLimit !== wanted.retryLimit || existing.retryDelay !== wanted.retryDelay || existing.retryBackoff !== wanted.retryBackoff) {
          await boss.updateQueue(name, wanted);
        }
        break;
      } catch (e) {
        if ((e as { code?: string }).code !== '40P01' || attempt >= 8) throw e;
        await new Promise((r) => setTimeout(r, attempt * 50 + Math.random() * 100));
      }
    }
  }

  const workerIds = new Map<QueueName, string[]>();
  const inHand = new Set<AbortController>();
  let stopping = false;
  let stopped: Promise<void> | undefined;

  // A job enqueued in this process wakes one of its local loops now instead of at its next poll.
  const enqueueListeners = new Set<(queue: QueueName) => void>();
  const wake = (queue: QueueName) => {
    for (const l of enqueueListeners) l(queue);
    const ids = workerIds.get(queue);
    if (ids?.length) boss.notifyWorker(ids[Math.floor(Math.random() * ids.length)]!);
  };

  const send = async (queue: QueueName, data: object, singletonKey: string, o: EnqueueOptions = {}) => {
    if (stopping) throw new RefundHubError('store_error', 'job queue is stopping', { retryable: true });
    const id = await boss.send(queue, data, { singletonKey, ...(o.startAfter ? { startAfter: o.startAfter } : {}), ...(o.priority !== undefined ? { priority: o.priority } : {}) });
    if (id && !o.startAfter) wake(queue);
    return id;
  };

  const queue: JobQueue = {
    enqueueSync(job, o) {
      return send(syncQueueName(job.provider), syncData(job), syncJobKey(job), o);
    },

    async enqueueSyncs(jobs, o = {}) {
      if (!jobs.length) return;
      if (stopping) throw new RefundHubError('store_error', 'job queue is stopping', { retryable: true });
      const inserts = jobs.map((job) => ({
        name: syncQueueName(job.provider),
        data: syncData(job),
        singletonKey: syncJobKey(job),
        ...(o.startAfter ? { startAfter: o.startAfter.toISOString() } : {}),
        ...(o.priority !== undefined ? { priority: o.priority } : {}),
      }));
      // insert() skips jobs whose refund is already queued (ON CONFLICT DO NOTHING on the policy's index).
      await boss.insert(inserts);
      if (!o.startAfter) for (const name of new Set(inserts.map((i) => i.name))) wake(name as QueueName);
    },

    enqueueDelivery(job, o) {
      return send(DELIVER_QUEUE, { deliveryId: String(job.deliveryId) }, `delivery/${job.deliveryId}`, o);
    },

    async work(name, o, handler) {
      if (stopping) throw new RefundHubError('store_error', 'job queue is stopping');
      const concurrency = o.concurrency ?? 1;
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) throw new RefundHubError('invalid_input', `concurrency must be an integer from 1 to 1000, got ${String(o.concurrency)}`);
      if (!ALL_QUEUES.includes(name)) throw new RefundHubError('invalid_input', `unknown queue ${String(name).slice(0, 64)}`);
      // In pg-boss 10 one work() call is one loop that fetches a batch and waits for all of it
      // before fetching again; N loops of one job each keep N in flight with no loop waiting on
      // another's slow job. Starting them spread over one interval keeps their idle polls apart.
      const intervalMs = pollingIntervalSeconds * 1000;
      const ids = workerIds.get(name) ?? [];
      workerIds.set(name, ids);
      for (let i = 0; i < concurrency; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, intervalMs / concurrency));
        if (stopping) return;
        const id = await boss.work<JobData<typeof name>>(name, { batchSize: 1, includeMetadata: true, pollingIntervalSeconds }, async ([job]) => {
          if (job) await runJob(name, job, handler);
        });
        ids.push(id);
      }
    },

    async fetch(name, limit) {
      if (stopping) return [];
      const jobs = await boss.fetch<any>(name, { batchSize: Math.max(1, Math.floor(limit)), includeMetadata: true });
      return jobs.map((job) => {
        const readyAt = Math.max(new Date(job.createdOn).getTime(), new Date(job.startAfter).getTime());
        return { id: job.id, queue: name, data: job.data, retryCount: job.retryCount, waitedMs: Math.max(0, new Date(job.startedOn).getTime() - readyAt), expireInSeconds: job.expireInSeconds };
      });
    },

    async complete(name, id) {
      const ids = typeof id === 'string' ? [id] : [...id];
      if (ids.length) await boss.complete(name, ids);
    },

    async ready(names) {
      const asked = names.filter((n) => ALL_QUEUES.includes(n));
      if (!asked.length || stopping) return new Set();
      // pg-boss's fetch takes a job where state < 'active' and start_after < now(); its index
      // job_i5 holds exactly those rows by (name, start_after). One branch per queue, each with
      // its name as a value, so the planner prunes to that queue's partition and probes the index
      // (a join on an array of names planned a scan of every partition instead).
      const { rows } = await boss.getDb().executeSql(
        asked.map((_, i) => `(SELECT name FROM ${QUEUE_SCHEMA}.job WHERE name = $${i + 1} AND state < 'active' AND start_after < now() LIMIT 1)`).join(' UNION ALL '),
        asked,
      );
      return new Set((rows as Array<{ name: QueueName }>).map((r) => r.name));
    },

    async fail(name, id, message) {
      // Stored on the job row: the message only, credentials in URLs masked.
      await boss.fail(name, id, { message: redactMessage(message) });
    },

    onEnqueued(listener) {
      enqueueListeners.add(listener);
    },

    async stats() {
      const stats = Object.fromEntries(ALL_QUEUES.map((q) => [q, Object.fromEntries(JOB_STATES.map((s) => [s, 0]))])) as QueueStats;
      const { rows } = await boss.getDb().executeSql(`SELECT name, state::text AS state, count(*)::int AS n FROM ${QUEUE_SCHEMA}.job WHERE name = ANY($1::text[]) GROUP BY name, state`, [ALL_QUEUES]);
      for (const r of rows as Array<{ name: QueueName; state: JobState; n: number }>) stats[r.name][r.state] = Number(r.n);
      return stats;
    },

    stop(o = {}) {
      stopped ??= (async () => {
        stopping = true;
        const graceful = o.graceful ?? true;
        const timeoutMs = Math.max(1000, o.timeoutMs ?? 25_000);
        // pg-boss waits for the jobs in hand up to its timeout, then fails them back to the queue;
        // their handlers hear it through the signal, so nothing keeps running unowned for long.
        const abortAll = () => {
          for (const c of inHand) c.abort(new RefundHubError('store_error', 'the worker is stopping; the job goes back to the queue', { retryable: true }));
        };
        const timer = graceful ? setTimeout(abortAll, timeoutMs) : undefined;
        if (!graceful) abortAll();
        try {
          await boss.stop({ graceful, timeout: timeoutMs, close: true, wait: true });
        } finally {
          clearTimeout(timer);
        }
      })();
      return stopped;
    },
  };

  async function runJob<T>(name: QueueName, job: PgBoss.JobWithMetadata<T>, handler: JobHandler<T>): Promise<void> {
    const controller = new AbortController();
    inHand.add(controller);
    // pg-boss gives up on the handler at the lease (and fails the job for a retry); so do we.
    const lease = setTimeout(() => controller.abort(new RefundHubError('store_error', `job lease of ${job.expireInSeconds} s ran out; the job will be retried`, { retryable: true })), job.expireInSeconds * 1000);
    const readyAt = Math.max(new Date(job.createdOn).getTime(), new Date(job.startAfter).getTime());
    try {
      await handler({ id: job.id, queue: name, data: job.data, retryCount: job.retryCount, waitedMs: Math.max(0, new Date(job.startedOn).getTime() - readyAt), signal: controller.signal });
    } catch (e) {
      const err = e as Error & { code?: string };
      log.warn({ queue: name, jobId: job.id, retryCount: job.retryCount, err: { message: redactMessage(err?.message), code: err?.code } }, 'job failed; pg-boss retries it with backoff');
      // pg-boss stores what the handler threw on the job row: give it the message only, never a
      // stack or a cause that could carry request details.
      throw new Error(redactMessage(err?.message ?? String(e)));
    } finally {
      clearTimeout(lease);
      inHand.delete(controller);
    }
  }

  return queue;
}

function syncData(job: SyncJobData): SyncJobData {
  return { provider: job.provider, account: job.account, id: job.id, source: job.source, ...(job.currency ? { currency: job.currency } : {}) };
}

/** Credentials in URLs inside driver messages (a connection string in an error) never leave. */
function redactMessage(message: string | undefined): string {
  return (message ?? 'unknown error').replace(/\b(postgres(?:ql)?:\/\/\S+)/gi, (u) => redactUrl(u));
}

/**
 * pg-boss through the store's Kysely pool. Statements without values go over the simple protocol,
 * which pg-boss's multi-statement plans need (same as src/store/queue-schema.ts).
 */
function storeExecutor(store: Store): PgBoss.Db {
  return {
    executeSql: async (text: string, values?: unknown[]) => {
      const result = await store.db.executeQuery(values?.length ? CompiledQuery.raw(text, values) : CompiledQuery.raw(text));
      return { rows: result.rows as any[] };
    },
  };
}
