import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent, request, type Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { signWebhook, WEBHOOK_SIGNATURE_HEADER } from '../signing/webhook.js';
import { forbiddenAddressReason } from './endpoints.js';
import type { Db, Store } from '../store/index.js';

/**
 * The deliverer: takes due deliveries from the outbox under a lease, POSTs each event's stored
 * payload (byte for byte what was signed) to its endpoint, records every attempt, and retries
 * with exponential backoff until a 2xx or the schedule runs out. A worker that dies mid-delivery
 * only delays it: when the lease expires the delivery is due again (at least once; the event id,
 * in the payload and in `RefundHub-Event-Id`, lets receivers drop duplicates).
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Waits after failed attempt 1, 2, ...: 10 retries (11 attempts) over about 26 hours. */
export const DEFAULT_DELIVERY_SCHEDULE_MS: readonly number[] = [
  30 * SECOND, 1 * MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, 1 * HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 10 * HOUR,
];

function packageVersion(): string {
  try {
    // Two levels up from both src/notify/ and dist/notify/.
    const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const USER_AGENT = `RefundHub/${packageVersion()}`;

export interface DelivererOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
  /** Deliveries claimed per tick, default 20. */
  batchSize?: number;
  /** Pause between ticks when `start()`ed, default 1 s. */
  intervalMs?: number;
  /** Per-attempt timeout (connect, headers and body), default 10 s. */
  timeoutMs?: number;
  /** Waits after each failed attempt; its length + 1 is the number of attempts. Default DEFAULT_DELIVERY_SCHEDULE_MS. */
  schedule?: readonly number[];
  /** How long a claim holds a delivery, default max(60 s, 3 x timeoutMs). */
  leaseMs?: number;
  /** Parallel HTTP attempts within a tick, default 8. */
  concurrency?: number;
  /** Spread of each retry wait, as a fraction (default 0.1: +-10%), so endpoints coming back are not stampeded. */
  jitter?: number;
  random?: () => number;
  /** HTTP dispatcher (default: an own undici Agent, closed by `stop()`). */
  dispatcher?: Dispatcher;
  /**
   * False refuses to connect to loopback, private, link-local and other internal addresses, checked
   * on every connection (a hostname vetted when the endpoint was created may resolve elsewhere
   * later). Default true here; the service passes false unless REFUNDHUB_WEBHOOK_ALLOW_PRIVATE is set.
   */
  allowPrivateUrls?: boolean;
}

export interface Deliverer {
  /** Claims what is due now and attempts it; resolves with the number of deliveries attempted. */
  tick(): Promise<number>;
  /**
   * "What is due": claims up to `limit` (default batchSize) due deliveries under the lease. The
   * in-process loop attempts them itself; on PostgreSQL the worker's dispatcher enqueues each one.
   */
  claim(limit?: number): Promise<ClaimedDelivery[]>;
  /** Attempts one claimed delivery and records the attempt (same payload bytes and event id every time). */
  attempt(claim: ClaimedDelivery): Promise<void>;
  /**
   * Attempts the delivery `id` under the lease its claim left on the row (a delivery job): nothing
   * when it is no longer pending or not claimed. Resolves false when there was nothing to do.
   */
  attemptById(id: string): Promise<boolean>;
  /** Runs `tick` in a loop every `intervalMs` (sooner while full batches keep coming). */
  start(): void;
  /** Stops the loop, waits for the attempt in flight, releases connections. */
  stop(): Promise<void>;
}

/** A delivery this worker holds until `leaseUntil`. */
export interface ClaimedDelivery {
  id: string;
  eventId: string;
  endpointId: string;
  /** Attempts already made in this round. */
  attempts: number;
  leaseUntil: number;
}

/**
 * Atomically claims up to `limit` due pending deliveries: each one's `next_attempt_at` (and
 * `locked_until`) moves to `now + leaseMs` with a compare-and-set, so no other worker (in this
 * process or another) takes it, and a crash only delays it until the lease ends. Portable SQL.
 */
export async function claimDeliveries(db: Db, now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const candidates = await db
    .selectFrom('deliveries')
    .select(['id', 'event_id', 'endpoint_id', 'attempts', 'next_attempt_at'])
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  const leaseUntil = now + leaseMs;
  const claimed: ClaimedDelivery[] = [];
  for (const c of candidates) {
    if (c.next_attempt_at === null) continue;
    const res = await db
      .updateTable('deliveries')
      .set({ next_attempt_at: leaseUntil, locked_until: leaseUntil, updated_at: now })
      .where('id', '=', c.id)
      .where('status', '=', 'pending')
      .where('next_attempt_at', '=', c.next_attempt_at)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) {
      claimed.push({ id: c.id, eventId: c.event_id, endpointId: c.endpoint_id, attempts: Number(c.attempts), leaseUntil });
    }
  }
  return claimed;
}

interface AttemptOutcome {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

function describeError(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.code === 'UND_ERR_HEADERS_TIMEOUT' || err?.code === 'UND_ERR_BODY_TIMEOUT' || err?.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `timeout after ${timeoutMs} ms`;
  }
  const code = err?.code ?? err?.cause?.code;
  const message = err?.message ?? String(e);
  return (code && !message.includes(code) ? `${code}: ${message}` : message).slice(0, 500);
}

export function createDeliverer(options: DelivererOptions): Deliverer {
  const { store, clock, metrics } = options;
  const logger = options.logger.child({ component: 'deliverer' });
  const batchSize = options.batchSize ?? 20;
  const intervalMs = options.intervalMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const schedule = options.schedule ?? DEFAULT_DELIVERY_SCHEDULE_MS;
  const maxAttempts = schedule.length + 1;
  const leaseMs = options.leaseMs ?? Math.max(60_000, 3 * timeoutMs);
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const jitter = options.jitter ?? 0.1;
  const random = options.random ?? Math.random;

  let ownAgent: Agent | null = null;
  const dispatcher = (): Dispatcher => {
    if (options.dispatcher) return options.dispatcher;
    ownAgent ??= new Agent({
      connect: { timeout: timeoutMs, ...(options.allowPrivateUrls === false ? { lookup: publicOnlyLookup } : {}) },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    return ownAgent;
  };

  function retryDelay(attempts: number): number {
    const base = schedule[Math.min(attempts, schedule.length) - 1] ?? 0;
    return Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
  }

  // Not src/transport: that layer retries within a call and classifies provider answers; a delivery
  // is one attempt whose outcome (any status, any error) is recorded and retried on its own schedule.
  async function post(url: string, payload: string, eventId: string, secret: string): Promise<AttemptOutcome> {
    const signature = signWebhook(payload, secret, Math.floor(clock.now() / 1000));
    const started = performance.now();
    try {
      // IP-literal hosts skip DNS, so publicOnlyLookup never sees them: check them here (an endpoint
      // created while private targets were allowed stops receiving once they are not).
      if (options.allowPrivateUrls === false) {
        const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
        const reason = forbiddenAddressReason(host);
        if (reason) throw Object.assign(new Error(`webhook host ${host} is a ${reason} address`), { code: 'EFORBIDDENADDR' });
      }
      const res = await request(url, {
        method: 'POST',
        body: payload,
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          [WEBHOOK_SIGNATURE_HEADER.toLowerCase()]: signature,
          'refundhub-event-id': eventId,
        },
        dispatcher: dispatcher(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      // The answer's body means nothing to us; read a little so the connection can be reused.
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      return { statusCode: res.statusCode, error: null, durationMs: Math.round(performance.now() - started) };
    } catch (e) {
      return { statusCode: null, error: describeError(e, timeoutMs), durationMs: Math.round(performance.now() - started) };
    }
  }

  async function deliver(claim: ClaimedDelivery): Promise<void> {
    const db = store.db;
    const row = await db
      .selectFrom('deliveries as d')
      .innerJoin('webhook_endpoints as w', 'w.id', 'd.endpoint_id')
      .leftJoin('events as e', 'e.id', 'd.event_id')
      .select(['w.url', 'w.secret', 'w.deleted_at', 'e.payload'])
      .where('d.id', '=', claim.id)
      .executeTakeFirst();
    const now0 = clock.now();
    if (!row || row.deleted_at !== null || row.payload === null) {
      const reason = !row || row.deleted_at !== null ? 'endpoint deleted' : 'event missing';
      await db
        .updateTable('deliveries')
        .set({ status: 'failed', next_attempt_at: null, locked_until: null, last_error: reason, updated_at: now0 })
        .where('id', '=', claim.id)
        .where('locked_until', '=', claim.leaseUntil)
        .execute();
      logger.warn({ deliveryId: claim.id, eventId: claim.eventId, reason }, 'webhook delivery dropped');
      return;
    }

    const outcome = await post(row.url, row.payload, claim.eventId, row.secret);
    const now = clock.now();
    const attempts = claim.attempts + 1;
    const ok = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
    const giveUp = !ok && attempts >= maxAttempts;
    const status = ok ? 'succeeded' : giveUp ? 'failed' : 'pending';
    const nextAttemptAt = status === 'pending' ? now + retryDelay(attempts) : null;
    const lastError = ok ? null : (outcome.error ?? `HTTP ${outcome.statusCode}`);

    const applied = await db.transaction().execute(async (tx) => {
      await tx
        .insertInto('delivery_attempts')
        .values({ delivery_id: claim.id, attempted_at: now0, status_code: outcome.statusCode, error: outcome.error, duration_ms: outcome.durationMs })
        .execute();
      // Fenced by the lease: if it expired and someone else took the delivery, or it was
      // re-armed for redelivery meanwhile, their state wins; the attempt is still on record.
      const res = await tx
        .updateTable('deliveries')
        .set({ status, attempts, next_attempt_at: nextAttemptAt, locked_until: null, last_status_code: outcome.statusCode, last_error: lastError, updated_at: now })
        .where('id', '=', claim.id)
        .where('locked_until', '=', claim.leaseUntil)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) === 1;
    });

    const outcomeLabel = ok ? 'succeeded' : giveUp ? 'failed' : 'retry';
    metrics?.deliveries.inc({ outcome: outcomeLabel });
    const log = { deliveryId: claim.id, eventId: claim.eventId, endpointId: claim.endpointId, attempt: attempts, statusCode: outcome.statusCode, error: outcome.error, durationMs: outcome.durationMs, applied };
    if (ok) logger.debug(log, 'webhook delivered');
    else if (giveUp) logger.warn(log, 'webhook delivery failed; giving up');
    else logger.info({ ...log, nextAttemptAt }, 'webhook delivery failed; will retry');
  }

  async function attemptById(id: string): Promise<boolean> {
    const row = await store.db
      .selectFrom('deliveries')
      .select(['id', 'event_id', 'endpoint_id', 'attempts', 'status', 'locked_until'])
      .where('id', '=', id)
      .executeTakeFirst();
    // Succeeded or given up meanwhile (a duplicate job), or never claimed: nothing to attempt.
    if (!row || row.status !== 'pending' || row.locked_until === null) return false;
    await deliver({ id: row.id, eventId: row.event_id, endpointId: row.endpoint_id, attempts: Number(row.attempts), leaseUntil: Number(row.locked_until) });
    return true;
  }

  async function tick(): Promise<number> {
    const claims = await claimDeliveries(store.db, clock.now(), batchSize, leaseMs);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < claims.length) {
        const claim = claims[next++]!;
        try {
          await deliver(claim);
        } catch (e) {
          // The lease stays: the delivery is tried again once it expires.
          logger.error({ deliveryId: claim.id, eventId: claim.eventId, err: e }, 'webhook delivery error');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, claims.length) }, worker));
    return claims.length;
  }

  let running = false;
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> | null = null;

  const loop = (): void => {
    timer = null;
    inFlight = (async () => {
      try {
        while (running && (await tick()) >= batchSize) {
          // A full batch: more may be due, go again at once.
        }
      } catch (e) {
        logger.error({ err: e }, 'deliverer tick failed');
      }
    })().finally(() => {
      inFlight = null;
      if (running) timer = setTimeout(loop, intervalMs);
    });
  };

  return {
    tick,
    claim: (limit = batchSize) => claimDeliveries(store.db, clock.now(), limit, leaseMs),
    attempt: deliver,
    attemptById,
    start() {
      if (running) return;
      running = true;
      loop();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      if (inFlight) await inFlight;
      if (ownAgent) {
        const agent = ownAgent;
        ownAgent = null;
        await agent.close();
      }
    },
  };
}

/**
 * A DNS lookup that refuses internal addresses, for the deliverer's connections: the check made
 * when an endpoint was created does not hold if its hostname later resolves elsewhere (DNS
 * rebinding). IP-literal URLs skip lookup; creation already refused the internal ones.
 */
function publicOnlyLookup(
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    for (const a of addresses) {
      const reason = forbiddenAddressReason(a.address);
      if (reason) return callback(Object.assign(new Error(`webhook host ${hostname} resolves to a ${reason} address`), { code: 'EFORBIDDENADDR' }), []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`webhook host ${hostname} has no address`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}
