import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { RefundClient } from './client.js';
import { createRefundClient } from './client.js';
import type { LoadedConfig } from './config/index.js';
import { DEFAULT_ACCOUNT, loadConfig } from './config/index.js';
import type { TrackedRefund } from './domain/events.js';
import type { ProviderId, RefundStatus } from './domain/refund.js';
import { PROVIDER_IDS } from './domain/refund.js';
import { RefundHubError, toRefundHubError } from './errors.js';
import { countSetting, secondsSetting } from './config/settings.js';
import { createBackgroundTracker, receiveNotification, recoverPendingNotifications, settleNotifications, type IngestDeps, type RequestSync } from './ingest/receive.js';
import { PURGE_INTERVAL_MS, purgeNotifications } from './ingest/retention.js';
import type { Logger } from './logger.js';
import { createLogger } from './logger.js';
import type { Metrics } from './metrics.js';
import { createGaugeCache, createMetrics } from './metrics.js';
import { createDeliverer, type Deliverer, type DelivererOptions } from './notify/deliverer.js';
import { countPendingDeliveries } from './notify/outbox.js';
import { createPoller, DEFAULT_CONCURRENCY, type Poller } from './poller/poller.js';
import { createScheduler, type SchedulerOptions } from './poller/schedule.js';
import { createJobQueue, DELIVER_QUEUE, syncQueueName, type DeliverJobData, type JobQueue, type JobQueueOptions, type QueueName, type SyncJobData } from './queue/job-queue.js';
import { createQueueMetrics, setJobGauges } from './queue/metrics.js';
import { createQueueWorker, DEFAULT_STOP_TIMEOUT_MS, DEFAULT_WORKER_CONCURRENCY, type QueueWorker, type WorkerHandler } from './queue/worker.js';
import type { Db, Store } from './store/index.js';
import { createStore, DEFAULT_DATABASE_URL, parseDatabaseUrl } from './store/index.js';
import { PgRefundLock } from './store/refund-lock.js';
import { claimDue, countByStatus, countDue, getHistory, getTracked, listTracked, type RefundKey } from './store/refunds.js';
import { KeyedLock } from './sync/lock.js';
import { allowPrivateWebhookUrlsFromEnv } from './notify/endpoints.js';
import { DEFAULT_RATE_LIMIT_PAUSE_MS, syncRefund, type SyncDeps, type SyncResult, type SyncSource } from './sync/sync-refund.js';
import type { Transport, TransportOptions } from './transport/http.js';
import { createTransport, DEFAULT_MAX_RETRY_AFTER_MS, worstCaseSendMs } from './transport/http.js';

/**
 * The composition root of the tracking service: store, client, locks, scheduler, the spine's
 * dependencies, poller, deliverer, notification intake and metrics, wired once. `serve`, `demo`,
 * the CLI commands and the end-to-end tests all build a RefundHub through here.
 */

/**
 * The parts a process runs. `api`: the HTTP API, notification intake and the immediate fetches of
 * track and refresh. `worker`: polling, notification re-fetches and webhook deliveries. Both is one
 * process doing everything (SQLite always; plain `serve` on PostgreSQL). One role alone needs
 * PostgreSQL: the job queue hands work from API nodes to workers.
 */
export interface HubRoles {
  api: boolean;
  worker: boolean;
}

export interface WorkerSettings {
  /** Jobs in flight per process, all queues together (default DEFAULT_WORKER_CONCURRENCY, 16). */
  concurrency?: number;
  /** Grace for jobs in hand when stopping before they go back to the queue (default 20 s). */
  stopTimeoutMs?: number;
  /** How often the worker looks at queues that were empty, ms (default DEFAULT_POLL_INTERVAL_MS, 500; a local enqueue is taken at once). */
  pollIntervalMs?: number;
  /** Job queue settings (leases, retries, maintenance interval). */
  queue?: Omit<JobQueueOptions, 'connectionString' | 'store' | 'logger'>;
}

/** Due refunds (per provider) or deliveries claimed per dispatcher statement. */
export const DISPATCH_BATCH = 500;

export interface CreateRefundHubOptions {
  /** Which parts this process runs (default both). Api-only or worker-only needs PostgreSQL. */
  roles?: Partial<HubRoles>;
  /** The worker part on PostgreSQL (`refundhub worker`, plain `serve`). */
  worker?: WorkerSettings;
  /** `sqlite:PATH` or `postgres://...`; default REFUNDHUB_DATABASE_URL, then `sqlite:./refundhub.db`. */
  databaseUrl?: string;
  config?: LoadedConfig;
  /** Config file path when `config` is not given. */
  configFile?: string;
  env?: Record<string, string | undefined>;
  clock?: Clock;
  logger?: Logger;
  transport?: Transport | TransportOptions;
  metrics?: Metrics;
  /**
   * Poller tuning; `concurrency` is the default per-provider limit (config may set it per provider),
   * `maxQueued` bounds each provider lane's queue of notification re-fetches.
   */
  poller?: { intervalMs?: number; concurrency?: number; leaseMs?: number; maxQueued?: number };
  /** Cap on a provider's Retry-After (transport and poller pause); default REFUNDHUB_MAX_RETRY_AFTER (seconds), else 1 hour. */
  maxRetryAfterMs?: number;
  /** Deliverer tuning (tests shorten the lease and the retry schedule). */
  deliverer?: Omit<Partial<DelivererOptions>, 'store' | 'clock' | 'logger' | 'metrics'>;
  /** Scheduler options (tests turn jitter off). */
  scheduler?: Omit<SchedulerOptions, 'config'>;
  /**
   * Whether webhook endpoints may point at loopback, private or link-local addresses (checked when
   * an endpoint is created and on every delivery). Default: REFUNDHUB_WEBHOOK_ALLOW_PRIVATE, else false.
   */
  allowPrivateWebhookUrls?: boolean;
}

export type { Deliverer, Poller };

export interface TrackOptions {
  account?: string;
  currency?: string | null;
  /** Who asked: `api` (default) for the HTTP API, `manual` for the CLI. */
  source?: SyncSource;
}

export interface RefundRef {
  account?: string;
}

export type ListFilter = Parameters<typeof listTracked>[1];
export type ListResult = Awaited<ReturnType<typeof listTracked>>;
export type HistoryEntry = Awaited<ReturnType<typeof getHistory>>[number];

export interface NotificationInput {
  provider: string;
  account?: string;
  rawBody: Buffer;
  headers: Record<string, string | undefined>;
}

export interface RefundHub {
  readonly roles: HubRoles;
  /** The job queue (PostgreSQL only): API nodes enqueue, workers take. */
  readonly queue: JobQueue | undefined;
  /** The job runner of the worker role on PostgreSQL. */
  readonly worker: QueueWorker | undefined;
  /** Whether webhook endpoints may target internal addresses (see CreateRefundHubOptions). */
  readonly allowPrivateWebhookUrls: boolean;
  readonly store: Store;
  readonly db: Db;
  readonly client: RefundClient;
  readonly config: LoadedConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly syncDeps: SyncDeps;
  readonly ingestDeps: IngestDeps;
  readonly poller: Poller;
  readonly deliverer: Deliverer;
  /** Starts the poller and deliverer loops. */
  start(): void;
  /** Stops the loops, waits for background work, closes the store and the transport. */
  stop(): Promise<void>;
  /** Waits for background work started by notifications. */
  drain(): Promise<void>;
  /** Starts tracking (fetching at once); an already tracked refund is returned as it is. */
  track(provider: string, id: string, options?: TrackOptions): Promise<{ refund: TrackedRefund; created: boolean }>;
  /** The stored refund; throws not_found when it is not tracked. */
  get(provider: string, id: string, options?: RefundRef): Promise<TrackedRefund>;
  /** Fetches from the provider through the spine (source `manual` unless given). */
  refresh(provider: string, id: string, options?: RefundRef & { source?: 'api' | 'manual' }): Promise<SyncResult>;
  list(filter?: ListFilter): Promise<ListResult>;
  history(provider: string, id: string, options?: RefundRef): Promise<HistoryEntry[]>;
  /** Handles an inbound provider notification (raw body). */
  ingest(input: NotificationInput): Promise<{ status: number; body: unknown }>;
  /** Sets the scrape-time gauges (queue depth, status counts), from a result at most about 15 s old (GAUGE_MAX_AGE_MS). */
  collectGauges(): Promise<void>;
}

const ACCOUNT_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** REFUNDHUB_MAX_RETRY_AFTER: seconds, a positive integer; unset means one hour. */
export function maxRetryAfterFromEnv(env: Record<string, string | undefined>): number {
  const raw = env.REFUNDHUB_MAX_RETRY_AFTER?.trim();
  if (raw === undefined || raw === '') return DEFAULT_MAX_RETRY_AFTER_MS;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) throw new RefundHubError('not_configured', `REFUNDHUB_MAX_RETRY_AFTER must be a whole number of seconds from 1 to 999999999, not "${raw.slice(0, 32)}"`);
  return Number(raw) * 1000;
}

/** Headroom over one provider call at its worst (the store write, the lock) for a job's lease. */
const LEASE_HEADROOM_MS = 5_000;

/**
 * Job leases and pg-boss's maintenance interval from the environment (seconds): a SIGKILLed
 * worker's job is taken over after lease + maintenance, so a small cluster or a test shortens them.
 * A lease shorter than one provider call at its worst (the transport's attempts x (timeout +
 * backoff)) plus headroom would fail a live job over and run it twice: refused as not_configured.
 */
export function queueTimingFromEnv(env: Record<string, string | undefined>, sendWorstMs: number): { syncExpireInSeconds?: number; deliverExpireInSeconds?: number; maintenanceIntervalSeconds?: number } {
  const floorSeconds = Math.ceil((sendWorstMs + LEASE_HEADROOM_MS) / 1000);
  const out: { syncExpireInSeconds?: number; deliverExpireInSeconds?: number; maintenanceIntervalSeconds?: number } = {};
  for (const [name, key] of [['REFUNDHUB_SYNC_LEASE', 'syncExpireInSeconds'], ['REFUNDHUB_DELIVERY_LEASE', 'deliverExpireInSeconds']] as const) {
    const ms = secondsSetting(env, name);
    if (ms === undefined) continue;
    if (ms / 1000 < floorSeconds) throw new RefundHubError('not_configured', `${name} must be at least ${floorSeconds} seconds (one provider call at its worst with the configured timeouts, plus ${LEASE_HEADROOM_MS / 1000} s), not ${ms / 1000}`);
    out[key] = ms / 1000;
  }
  const maintenance = secondsSetting(env, 'REFUNDHUB_QUEUE_MAINTENANCE_INTERVAL');
  if (maintenance !== undefined) out.maintenanceIntervalSeconds = maintenance / 1000;
  return out;
}

/** Refund-lock connections a worker holds at most by default, whatever its --concurrency. */
export const DEFAULT_WORKER_LOCK_CONNECTIONS = 8;
/** Refund-lock connections for an API role's immediate fetches, refreshes and notification re-fetches. */
export const DEFAULT_API_LOCK_CONNECTIONS = 4;

/** The refund-lock pool by role: min(concurrency, 8) for a worker, plus 4 for the API. */
export function defaultLockPoolSize(roles: HubRoles, workerConcurrency: number): number {
  return (roles.worker ? Math.min(workerConcurrency, DEFAULT_WORKER_LOCK_CONNECTIONS) : 0) + (roles.api ? DEFAULT_API_LOCK_CONNECTIONS : 0);
}

export async function createRefundHub(options: CreateRefundHubOptions = {}): Promise<RefundHub> {
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: env.REFUNDHUB_LOG_LEVEL ?? 'info' });
  const metrics = options.metrics ?? createMetrics();
  const config = options.config ?? loadConfig({ env, file: options.configFile });
  const maxRetryAfterMs = options.maxRetryAfterMs ?? maxRetryAfterFromEnv(env);
  const databaseUrl = options.databaseUrl ?? env.REFUNDHUB_DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const roles: HubRoles = { api: options.roles?.api ?? true, worker: options.roles?.worker ?? true };
  if (!roles.api && !roles.worker) throw new RefundHubError('invalid_input', 'a RefundHub process needs at least one role (api, worker)');
  const { dialect } = parseDatabaseUrl(databaseUrl);
  if (dialect === 'sqlite' && !(roles.api && roles.worker)) {
    throw new RefundHubError(
      'invalid_input',
      `${roles.worker ? '`refundhub worker`' : '`refundhub serve --no-worker`'} needs PostgreSQL (REFUNDHUB_DATABASE_URL=postgres://...): on SQLite, plain \`refundhub serve\` runs the API, polling and deliveries in one process`,
    );
  }
  const workerConcurrency = options.worker?.concurrency ?? DEFAULT_WORKER_CONCURRENCY;
  if (!Number.isInteger(workerConcurrency) || workerConcurrency < 1 || workerConcurrency > 1000) throw new RefundHubError('invalid_input', `worker concurrency must be a whole number from 1 to 1000, got ${String(workerConcurrency)}`);
  const store = await createStore(databaseUrl);
  // On PostgreSQL, one sync of a refund at a time across every process (PgRefundLock, with this
  // process's KeyedLock in front); it holds a connection per refund being synced. The pool is
  // capped rather than one per job: a sync waiting for a free lock connection waits within the
  // lock's bound, while an uncapped pool per process runs the cluster out of connections.
  const ownsTransport = !(options.transport && typeof (options.transport as Transport).send === 'function');
  const transportOptions: TransportOptions = ownsTransport ? ((options.transport as TransportOptions | undefined) ?? {}) : {};
  const queueTiming = queueTimingFromEnv(env, worstCaseSendMs(transportOptions));
  const lockPoolSize = countSetting(env, 'REFUNDHUB_LOCK_POOL_SIZE') ?? defaultLockPoolSize(roles, workerConcurrency);
  const refundLock = store.dialect === 'postgres' ? new PgRefundLock({ connectionString: databaseUrl, maxConnections: lockPoolSize, logger }) : undefined;
  let jobQueue: JobQueue | undefined;
  if (store.dialect === 'postgres') {
    try {
      jobQueue = await createJobQueue({ connectionString: databaseUrl, logger, maxConnections: countSetting(env, 'REFUNDHUB_QUEUE_POOL_SIZE'), ...queueTiming, ...options.worker?.queue });
    } catch (e) {
      await refundLock?.close().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw e;
    }
  }
  const transport: Transport = ownsTransport
    ? createTransport({
        clock,
        maxRetryAfterMs,
        ...transportOptions,
        // Every 429 reaches the spine, which pauses the provider account for all processes.
        retryRateLimited: false,
        onAttempt: (a) => {
          metrics.providerLatency.observe({ provider: a.provider, status: a.status === null ? 'network' : String(a.status) }, a.durationMs / 1000);
          // The caller's observer too (the CLI shows retries on a terminal).
          transportOptions.onAttempt?.(a);
        },
      })
    : (options.transport as Transport);
  const client = createRefundClient({ config, transport, logger, clock });

  const syncDeps: SyncDeps = {
    store,
    client,
    clock,
    logger,
    metrics,
    schedule: createScheduler({ ...options.scheduler, config }),
    locks: refundLock ?? new KeyedLock(),
    maxRetryAfterMs,
  };

  // Per-provider limits from the config file win over the one default given here.
  const concurrency: Partial<Record<ProviderId, number>> = {};
  for (const p of PROVIDER_IDS) {
    const c = config.providers[p]?.concurrency ?? options.poller?.concurrency;
    if (c !== undefined) concurrency[p] = c;
  }
  // One lane per provider for every provider call made in the background: due checks and
  // notification re-fetches share its limit, its rate-limit pause and its per-refund de-duplication.
  const poller = createPoller({
    syncDeps,
    concurrency,
    config,
    intervalMs: options.poller?.intervalMs,
    leaseMs: options.poller?.leaseMs,
    maxQueued: options.poller?.maxQueued,
    // The lease must outlive one provider call as this transport makes it (a given Transport: its defaults).
    callWorstCaseMs: worstCaseSendMs(transportOptions),
    maxRetryAfterMs,
    clock,
  });

  const tracker = createBackgroundTracker();
  const drain = (): Promise<void> => tracker.drain();
  // Notification re-fetches: in the provider's lane (one process), or on PostgreSQL a sync job for
  // the workers, ahead of the polling backlog. The notification stays `pending` until the job ends
  // (the worker settles it); one whose enqueue failed is enqueued again by the workers' recovery.
  const enqueueRefetch: RequestSync | undefined = jobQueue
    ? (key, o = {}) =>
        jobQueue.enqueueSync({ ...key, source: o.source ?? 'notification' }, { priority: 1 }).then(
          () => ({ outcome: 'skipped' as const, reason: 'queued for a worker' }),
          (e: Error) => {
            logger.warn({ provider: key.provider, refundId: key.id, err: { message: e.message } }, 'could not enqueue the notification re-fetch; recovery will');
            return { outcome: 'skipped' as const, reason: 'could not enqueue' };
          },
        )
    : undefined;
  const ingestDeps: IngestDeps = { ...syncDeps, config, background: tracker.track, requestSync: enqueueRefetch ?? poller.requestSync };
  const allowPrivateWebhookUrls = options.allowPrivateWebhookUrls ?? allowPrivateWebhookUrlsFromEnv(env);
  const deliverer = createDeliverer({ allowPrivateUrls: allowPrivateWebhookUrls, ...options.deliverer, store, clock, logger, metrics });

  const queueMetrics = jobQueue ? createQueueMetrics(metrics.registry) : undefined;
  // Same lease as the poller's lanes: a claimed refund waits in the queue under it, and one the
  // queue has not run by then is claimed again (the singleton key keeps it queued once).
  const dueLeaseMs = Math.max(options.poller?.leaseMs ?? 5 * 60_000, 2 * worstCaseSendMs(transportOptions));

  /** One job: a sync of one refund (poll, notification, or a retry after a pause), or one delivery. */
  const handleJob: WorkerHandler = async (queueName, job) => {
    if (queueName === DELIVER_QUEUE) {
      await deliverer.attemptById((job.data as DeliverJobData).deliveryId);
      return;
    }
    const data = job.data as SyncJobData;
    const key: RefundKey = { provider: data.provider, account: data.account, id: data.id };
    const fetchStartedAt = clock.now();
    try {
      await syncRefund(syncDeps, { ...key, source: data.source, currency: data.currency ?? null });
      if (data.source === 'notification') await settleNotifications(syncDeps, key, { outcome: 'synced' }, fetchStartedAt);
    } catch (e) {
      const err = toRefundHubError(e, data.provider);
      if (err.code === 'rate_limited') {
        // Paused (here or by another worker): the same job again when the pause ends, neither
        // failed (pg-boss's backoff knows nothing of Retry-After) nor lost. Its notifications stay
        // pending for it. If the enqueue fails, throwing makes pg-boss retry this one.
        const waitMs = Math.min(err.retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS, maxRetryAfterMs);
        await jobQueue!.enqueueSync(data, { startAfter: new Date(Date.now() + waitMs), priority: data.source === 'poll' ? 0 : 1 });
        return;
      }
      if (data.source === 'notification') await settleNotifications(syncDeps, key, { outcome: 'failed', error: err }, fetchStartedAt);
      // Our own database (or the refund lock) failing: pg-boss retries the job with backoff. Any
      // other error the spine recorded on a tracked refund, which its schedule retries.
      if (err.code === 'store_error') throw err;
    }
  };
  const limits: Partial<Record<QueueName, number>> = {};
  for (const p of PROVIDER_IDS) limits[syncQueueName(p)] = concurrency[p] ?? DEFAULT_CONCURRENCY;
  const worker =
    jobQueue && roles.worker
      ? createQueueWorker({ queue: jobQueue, handler: handleJob, concurrency: workerConcurrency, limits, pollIntervalMs: options.worker?.pollIntervalMs, logger, metrics: queueMetrics })
      : undefined;

  /**
   * The workers' "what is due" (PostgreSQL): due refunds claimed under a lease in one statement
   * (so two workers never enqueue the same refund; the singleton key also de-duplicates), due
   * deliveries claimed the same way, each handed to the queue.
   *
   * One claim over every provider first, oldest due first: at idle and for an ordinary tick that
   * is the whole claim (every worker runs this each interval, so it is the cluster's idle cost).
   * Only when it comes back full is there a backlog, and the rest is claimed per provider, so one
   * provider's backlog cannot hold back another's due refunds.
   */
  async function dispatchDue(): Promise<void> {
    const now = clock.now();
    const enqueue = (claimed: Awaited<ReturnType<typeof claimDue>>) =>
      claimed.length ? jobQueue!.enqueueSyncs(claimed.map((c) => ({ provider: c.provider, account: c.account, id: c.id, source: 'poll' as const, currency: c.currencyHint }))) : Promise.resolve();
    const first = await claimDue(store.db, now, DISPATCH_BATCH, dueLeaseMs);
    await enqueue(first);
    if (first.length === DISPATCH_BATCH) {
      for (const provider of PROVIDER_IDS) {
        for (let round = 0; round < 20; round++) {
          const claimed = await claimDue(store.db, now, DISPATCH_BATCH, dueLeaseMs, { provider });
          await enqueue(claimed);
          if (claimed.length < DISPATCH_BATCH) break;
        }
      }
    }
    for (let round = 0; round < 20; round++) {
      const claims = await deliverer.claim(DISPATCH_BATCH);
      for (const c of claims) await jobQueue!.enqueueDelivery({ deliveryId: c.id });
      if (claims.length < DISPATCH_BATCH) break;
    }
  }
  const dispatchIntervalMs = options.poller?.intervalMs ?? 1000;
  let dispatchTimer: NodeJS.Timeout | undefined;
  let dispatching: Promise<void> | undefined;
  let dispatchStopped = false;
  const dispatchLoop = (): void => {
    dispatching = dispatchDue()
      .catch((e: Error) => logger.warn({ err: { message: e.message } }, 'dispatcher: could not hand due work to the queue; trying again'))
      .finally(() => {
        dispatching = undefined;
        if (!dispatchStopped) {
          dispatchTimer = setTimeout(dispatchLoop, dispatchIntervalMs);
          dispatchTimer.unref();
        }
      });
  };

  function key(provider: string, id: string, account: string | undefined): RefundKey {
    const v = client.validate(provider, id);
    const acc = account ?? DEFAULT_ACCOUNT;
    if (typeof acc !== 'string' || !ACCOUNT_RE.test(acc)) throw new RefundHubError('invalid_input', 'account must be 1-64 letters, digits, "_", "." or "-"', { provider: v.provider });
    return { provider: v.provider, account: acc, id: v.id };
  }

  // Scrapes read these gauges from a cache refreshed in the background at most every
  // GAUGE_MAX_AGE_MS (15 s) by the hub's clock: full counts would block the event loop per scrape.
  const gauges = createGaugeCache(
    async () => {
      const now = clock.now();
      const [due, byStatus, pendingDeliveries] = await Promise.all([countDue(store.db, now), countByStatus(store.db), countPendingDeliveries(store.db)]);
      metrics.queueDepth.set({ queue: 'due_refunds' }, Number(due));
      metrics.queueDepth.set({ queue: 'pending_deliveries' }, Number(pendingDeliveries));
      metrics.refundsByStatus.reset();
      for (const [status, n] of Object.entries(byStatus as Record<RefundStatus, number>)) metrics.refundsByStatus.set({ status }, Number(n));
      if (jobQueue && queueMetrics) setJobGauges(queueMetrics, await jobQueue.stats());
    },
    { now: () => clock.now(), onError: (err) => logger.warn({ err }, 'metrics: gauge refresh failed') },
  );

  let started = false;
  let stopped = false;
  // Notifications answered but not yet re-fetched (a crash in between) are picked up again: at
  // start, then every 30 s.
  let recoveryTimer: NodeJS.Timeout | undefined;
  // With the queue, a notification younger than 30 s is most likely still queued: leave it be.
  const recover = (): void => tracker.track(recoverPendingNotifications(ingestDeps, jobQueue ? { olderThanMs: 30_000 } : {}));
  // Notification retention: at start, then hourly, in bounded batches. Idempotent, so every node
  // of a cluster may run it (deletes by id; a row two nodes both pick is deleted once).
  let purgeTimer: NodeJS.Timeout | undefined;
  const purge = (): void =>
    tracker.track(
      purgeNotifications(store.db, { now: clock.now(), retentionDays: config.notificationRetentionDays }).then(
        (n) => n > 0 && logger.info({ deleted: n }, 'purged old notifications'),
        (e: Error) => logger.warn({ err: e.message }, 'notification purge failed'),
      ),
    );

  const hub: RefundHub = {
    roles,
    queue: jobQueue,
    worker,
    allowPrivateWebhookUrls,
    store,
    db: store.db,
    client,
    config,
    clock,
    logger,
    metrics,
    syncDeps,
    ingestDeps,
    poller,
    deliverer,
    start() {
      if (started) return;
      started = true;
      // An API-only node (PostgreSQL) never polls, delivers or recovers: the workers do.
      if (!roles.worker) return;
      if (worker) {
        worker.start();
        dispatchLoop();
      } else {
        poller.start();
        deliverer.start();
      }
      recover();
      recoveryTimer = setInterval(recover, 30_000);
      recoveryTimer.unref();
      purge();
      purgeTimer = setInterval(purge, PURGE_INTERVAL_MS);
      purgeTimer.unref();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (recoveryTimer) clearInterval(recoveryTimer);
      if (purgeTimer) clearInterval(purgeTimer);
      dispatchStopped = true;
      if (dispatchTimer) clearTimeout(dispatchTimer);
      await dispatching;
      // Jobs in hand finish within the grace or go back to the queue for another worker.
      await worker?.stop(options.worker?.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
      await Promise.allSettled([poller.stop(), deliverer.stop()]);
      await drain();
      await jobQueue?.stop({ timeoutMs: 1000 }).catch((e: Error) => logger.warn({ err: { message: e.message } }, 'job queue did not stop cleanly'));
      await refundLock?.close().catch(() => undefined);
      await client.close();
      if (ownsTransport) await transport.close();
      await store.close();
    },
    drain,
    async track(provider, id, opts = {}) {
      const k = key(provider, id, opts.account);
      let currency: string | null = null;
      if (opts.currency != null) {
        if (typeof opts.currency !== 'string' || !/^[A-Za-z]{3}$/.test(opts.currency)) throw new RefundHubError('invalid_input', 'currency must be a 3-letter ISO 4217 code', { provider: k.provider });
        currency = opts.currency.toUpperCase();
      }
      const existing = await getTracked(store.db, k);
      if (existing) return { refund: existing, created: false };
      const r = await syncRefund(syncDeps, { ...k, source: opts.source ?? 'api', currency });
      return { refund: r.refund, created: r.created };
    },
    async get(provider, id, opts = {}) {
      const k = key(provider, id, opts.account);
      const r = await getTracked(store.db, k);
      if (!r) throw new RefundHubError('not_found', `${k.provider} refund ${k.id} is not tracked${k.account !== DEFAULT_ACCOUNT ? ` (account ${k.account})` : ''}`, { provider: k.provider });
      return r;
    },
    async refresh(provider, id, opts = {}) {
      const k = key(provider, id, opts.account);
      return syncRefund(syncDeps, { ...k, source: opts.source ?? 'manual' });
    },
    async list(filter = {} as ListFilter) {
      return listTracked(store.db, filter);
    },
    async history(provider, id, opts = {}) {
      const k = key(provider, id, opts.account);
      const tracked = await getTracked(store.db, k);
      if (!tracked) throw new RefundHubError('not_found', `${k.provider} refund ${k.id} is not tracked`, { provider: k.provider });
      return getHistory(store.db, k);
    },
    ingest(input) {
      return receiveNotification(ingestDeps, input);
    },
    collectGauges: () => gauges.collect(),
  };
  return hub;
}
