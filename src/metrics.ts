import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics, one registry per RefundHub instance (so tests can run several). Components
 * take an optional `Metrics` and record into it; `/metrics` serves `registry.metrics()`.
 */
export interface Metrics {
  registry: Registry;
  /** Syncs by provider and outcome (`changed`, `unchanged`, `anomaly`, `error:<code>`). */
  syncs: Counter<'provider' | 'outcome'>;
  /** Provider call latency per attempt, by provider and HTTP status (`network` when none). */
  providerLatency: Histogram<'provider' | 'status'>;
  /** Webhook delivery attempts by outcome (`succeeded`, `retry`, `failed`). */
  deliveries: Counter<'outcome'>;
  /** Inbound provider notifications by provider and outcome. */
  notifications: Counter<'provider' | 'outcome'>;
  /** Set at scrape time: `due_refunds`, `pending_deliveries`. */
  queueDepth: Gauge<'queue'>;
  /** Set at scrape time: tracked refunds by unified status. */
  refundsByStatus: Gauge<'status'>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  return {
    registry,
    syncs: new Counter({ name: 'refundhub_syncs_total', help: 'Refund syncs by provider and outcome', labelNames: ['provider', 'outcome'], registers: [registry] }),
    providerLatency: new Histogram({
      name: 'refundhub_provider_request_duration_seconds',
      help: 'Provider API call latency per attempt',
      labelNames: ['provider', 'status'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    deliveries: new Counter({ name: 'refundhub_webhook_deliveries_total', help: 'Webhook delivery attempts by outcome', labelNames: ['outcome'], registers: [registry] }),
    notifications: new Counter({ name: 'refundhub_notifications_total', help: 'Inbound provider notifications by provider and outcome', labelNames: ['provider', 'outcome'], registers: [registry] }),
    queueDepth: new Gauge({ name: 'refundhub_queue_depth', help: 'Work waiting: due refunds and pending webhook deliveries', labelNames: ['queue'], registers: [registry] }),
    refundsByStatus: new Gauge({ name: 'refundhub_refunds', help: 'Tracked refunds by unified status', labelNames: ['status'], registers: [registry] }),
  };
}

/**
 * How stale the scrape-time gauges may be. Counting refunds by status and the due queue is a full
 * scan: 40-59 ms of synchronous SQLite work at 500k refunds. Scrapes read the last result and a
 * result older than this is refreshed in the background, so the work runs at most once per window
 * whatever the scrape rate, and a scrape never waits for it (except the very first).
 */
export const GAUGE_MAX_AGE_MS = 15_000;

/**
 * Single-flight, stale-while-revalidate wrapper for the gauge computation. `collect()` returns at
 * once while a result exists; when it is older than `maxAgeMs` one refresh starts behind it. A
 * failed refresh keeps the old values and is retried by the next scrape.
 */
export function createGaugeCache(
  compute: () => Promise<void>,
  options: { maxAgeMs?: number; now?: () => number; onError?: (err: unknown) => void } = {},
): { collect(): Promise<void> } {
  const maxAgeMs = options.maxAgeMs ?? GAUGE_MAX_AGE_MS;
  const now = options.now ?? (() => performance.now());
  let computedAt: number | undefined;
  let inFlight: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    inFlight ??= (async () => {
      const startedAt = now();
      try {
        await compute();
        computedAt = startedAt;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };
  return {
    async collect() {
      if (computedAt === undefined) return refresh();
      if (now() - computedAt >= maxAgeMs && !inFlight) refresh().catch((e: unknown) => options.onError?.(e));
    },
  };
}
