import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { RefundClient } from './client.js';
import { createRefundClient } from './client.js';
import type { LoadedConfig } from './config/index.js';
import { DEFAULT_ACCOUNT, loadConfig } from './config/index.js';
import type { TrackedRefund } from './domain/events.js';
import type { ProviderId, RefundStatus } from './domain/refund.js';
import { PROVIDER_IDS } from './domain/refund.js';
import { RefundHubError } from './errors.js';
import { createBackgroundTracker, receiveNotification, recoverPendingNotifications, type IngestDeps } from './ingest/receive.js';
import { PURGE_INTERVAL_MS, purgeNotifications } from './ingest/retention.js';
import type { Logger } from './logger.js';
import { createLogger } from './logger.js';
import type { Metrics } from './metrics.js';
import { createGaugeCache, createMetrics } from './metrics.js';
import { createDeliverer, type Deliverer, type DelivererOptions } from './notify/deliverer.js';
import { countPendingDeliveries } from './notify/outbox.js';
import { createPoller, type Poller } from './poller/poller.js';
import { createScheduler, type SchedulerOptions } from './poller/schedule.js';
import type { Db, Store } from './store/index.js';
import { createStore, DEFAULT_DATABASE_URL } from './store/index.js';
import { countByStatus, countDue, getHistory, getTracked, listTracked, type RefundKey } from './store/refunds.js';
import { KeyedLock } from './sync/lock.js';
import { allowPrivateWebhookUrlsFromEnv } from './notify/endpoints.js';
import { syncRefund, type SyncDeps, type SyncResult, type SyncSource } from './sync/sync-refund.js';
import type { Transport, TransportOptions } from './transport/http.js';
import { createTransport, DEFAULT_MAX_RETRY_AFTER_MS, worstCaseSendMs } from './transport/http.js';

/**
 * The composition root of the tracking service: store, client, locks, scheduler, the spine's
 * dependencies, poller, deliverer, notification intake and metrics, wired once. `serve`, `demo`,
 * the CLI commands and the end-to-end tests all build a RefundHub through here.
 */

export interface CreateRefundHubOptions {
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

export async function createRefundHub(options: CreateRefundHubOptions = {}): Promise<RefundHub> {
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: env.REFUNDHUB_LOG_LEVEL ?? 'info' });
  const metrics = options.metrics ?? createMetrics();
  const config = options.config ?? loadConfig({ env, file: options.configFile });
  const maxRetryAfterMs = options.maxRetryAfterMs ?? maxRetryAfterFromEnv(env);
  const store = await createStore(options.databaseUrl ?? env.REFUNDHUB_DATABASE_URL ?? DEFAULT_DATABASE_URL);
  const ownsTransport = !(options.transport && typeof (options.transport as Transport).send === 'function');
  const transportOptions: TransportOptions = ownsTransport ? ((options.transport as TransportOptions | undefined) ?? {}) : {};
  const transport: Transport = ownsTransport
    ? createTransport({
        clock,
        maxRetryAfterMs,
        ...transportOptions,
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
    locks: new KeyedLock(),
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
  const ingestDeps: IngestDeps = { ...syncDeps, config, background: tracker.track, requestSync: poller.requestSync };
  const allowPrivateWebhookUrls = options.allowPrivateWebhookUrls ?? allowPrivateWebhookUrlsFromEnv(env);
  const deliverer = createDeliverer({ allowPrivateUrls: allowPrivateWebhookUrls, ...options.deliverer, store, clock, logger, metrics });

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
    },
    { now: () => clock.now(), onError: (err) => logger.warn({ err }, 'metrics: gauge refresh failed') },
  );

  let started = false;
  let stopped = false;
  // Notifications answered but not yet re-fetched (a crash in between) are picked up again: at
  // start, then every 30 s.
  let recoveryTimer: NodeJS.Timeout | undefined;
  const recover = (): void => tracker.track(recoverPendingNotifications(ingestDeps));
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
      poller.start();
      deliverer.start();
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
      await Promise.allSettled([poller.stop(), deliverer.stop()]);
      await drain();
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
