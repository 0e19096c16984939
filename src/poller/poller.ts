import type { Clock } from '../clock.js';
import type { LoadedConfig } from '../config/index.js';
import type { ProviderId } from '../domain/refund.js';
import { PROVIDER_IDS } from '../domain/refund.js';
import { RefundHubError, toRefundHubError } from '../errors.js';
import { claimDue, claimRefund, refundKeyString, type ClaimedRefund, type RefundKey } from '../store/refunds.js';
import { DEFAULT_RATE_LIMIT_PAUSE_MS, syncRefund, type SyncDeps, type SyncSource } from '../sync/sync-refund.js';
import { DEFAULT_MAX_RETRY_AFTER_MS, worstCaseSendMs } from '../transport/http.js';

export const DEFAULT_CONCURRENCY = 4;
/** How long to hold off a provider that rate-limited us without saying for how long (the spine's rule). */
export { DEFAULT_RATE_LIMIT_PAUSE_MS };
/** Re-fetches waiting per provider lane: enough to absorb a burst of notifications, small enough to hold in memory. */
export const DEFAULT_MAX_QUEUED = 1000;

export interface PollerOptions {
  syncDeps: SyncDeps;
  /** Most concurrent provider calls per provider: one number for all, or per provider (default 4). */
  concurrency?: number | Partial<Record<ProviderId, number>>;
  /** Per-provider `concurrency` from a config file (overridden by `concurrency`). */
  config?: Pick<LoadedConfig, 'providers'>;
  /** How often an idle lane looks for due refunds in the `start()` loop (default 1 s, real time). */
  intervalMs?: number;
  /**
   * How long a claimed refund is reserved; a crash delays it by at most this (default 5 min).
   * Never shorter than twice `callWorstCaseMs` (see createPoller).
   */
  leaseMs?: number;
  /** The longest one provider call can take: the transport's worstCaseSendMs (default: the transport's defaults). */
  callWorstCaseMs?: number;
  /** Longest pause of a provider after a 429, whatever its Retry-After says (default 1 hour). */
  maxRetryAfterMs?: number;
  /** Most re-fetches waiting in one provider's lane (notifications, recovery); beyond it `requestSync` refuses (default 1000). */
  maxQueued?: number;
  /** Defaults to `syncDeps.clock`. */
  clock?: Clock;
}

/** How a requested sync ended: synced, failed with an error, or not run (queue full, stopped, or another worker had the refund). */
export type RequestedSyncResult = { outcome: 'synced' } | { outcome: 'failed'; error: RefundHubError } | { outcome: 'skipped'; reason: string };

export interface RequestSyncOptions {
  /** Recorded on the history row (default `notification`). */
  source?: SyncSource;
  /**
   * Fetch even when another worker leased the refund or it was checked since it became due (a
   * recovered notification: whoever had it is gone or finished without answering it).
   */
  force?: boolean;
}

export interface Poller {
  /**
   * Runs every lane until nothing due now is left (due refunds claimed as slots free up, queued
   * re-fetches run) and resolves with how many refunds it took. For tests on a ManualClock.
   * Never rejects on provider errors.
   */
  tick(): Promise<number>;
  /** Starts each lane's loop: it claims due refunds whenever it has free slots. */
  start(): void;
  /** Stops claiming, answers queued re-fetches `skipped`, and waits for the syncs in progress. */
  stop(): Promise<void>;
  /** Epoch ms before which a provider gets no calls (after a rate limit), if any. */
  notBefore(provider: ProviderId): number | undefined;
  /**
   * Queues one sync of `key` in its provider's lane (same concurrency limit, same rate-limit pause
   * as the due checks). De-duplicated per refund: a request for a refund already queued joins it;
   * one for a refund being synced right now runs once more after it (the running fetch may predate
   * the change). Returns undefined when the lane's queue is full or the poller stopped: the caller
   * keeps its own durable trace (a `pending` notification) for later.
   */
  requestSync(key: RefundKey, options?: RequestSyncOptions): Promise<RequestedSyncResult> | undefined;
}

/** A counting semaphore: a per-provider concurrency limit (also used by the benchmarks). */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/** One unit of lane work: a refund to sync, and who is waiting for the result. */
interface Job {
  key: RefundKey;
  source: SyncSource;
  currencyHint?: string | null;
  /** This lane already holds the refund's lease (it came from the due query). */
  leased: boolean;
  force: boolean;
  waiters: Array<(r: RequestedSyncResult) => void>;
}

/**
 * The poller: one lane per provider. A lane claims from the due query only as many refunds of its
 * provider as it has free slots right now, starts them at once, and claims again as slots free up;
 * notification re-fetches queue in the same lane (bounded) and take the next free slot. So a slow
 * provider only ever delays itself, a rate-limited provider gets no call from any source until its
 * pause ends, and no claimed refund waits under its lease behind other work.
 *
 * The lease (the claim pushes next_check_at forward) must outlive the work it covers. Because only
 * what starts now is claimed, that work is one syncRefund: at most one provider call (the
 * transport's worst case, attempts x (timeout + max backoff)), possibly behind one other sync of
 * the same refund in this process (KeyedLock), plus the write. So the lease is at least twice the
 * worst case: a live worker's refund is never re-claimed by another process mid-sync; renewal
 * would buy nothing more.
 *
 * Scale-out: "the lane claims from the due query and runs syncRefund" is the part a job queue
 * replaces (the lane would enqueue one job per due refund; workers run syncRefund). The due query
 * (store/refunds.ts claimDue) stays the decision of what is due.
 */
export function createPoller(options: PollerOptions): Poller {
  const deps = options.syncDeps;
  const clock = options.clock ?? deps.clock;
  const intervalMs = options.intervalMs ?? 1000;
  const leaseMs = Math.max(options.leaseMs ?? 5 * 60_000, 2 * (options.callWorstCaseMs ?? worstCaseSendMs()));
  const maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
  const log = deps.logger.child({ component: 'poller' });
  const pausedUntil = new Map<ProviderId, number>();

  function concurrencyFor(provider: ProviderId): number {
    const c = options.concurrency;
    const n = typeof c === 'number' ? c : (c?.[provider] ?? options.config?.providers[provider]?.concurrency ?? DEFAULT_CONCURRENCY);
    return Number.isInteger(n) && n > 0 ? n : DEFAULT_CONCURRENCY;
  }
  function paused(provider: ProviderId, now: number): number | undefined {
    const until = pausedUntil.get(provider);
    if (until === undefined) return undefined;
    if (until <= now) {
      pausedUntil.delete(provider);
      return undefined;
    }
    return until;
  }

  let looping = false;
  let stopped = false;

  class Lane {
    readonly limit: number;
    /** Slots in use: running syncs plus slots reserved by a claim in flight. */
    private busy = 0;
    private readonly queue: Job[] = [];
    private readonly queued = new Map<string, Job>();
    private readonly running = new Set<string>();
    /** Requests for a refund being synced right now: run once more after it. */
    private readonly again = new Map<string, Job>();
    private claiming = false;
    /** The last claim filled every free slot, so more may be due. */
    private moreDue = false;
    private timer: NodeJS.Timeout | undefined;
    private idleWaiters: Array<() => void> = [];
    taken = 0;

    constructor(readonly provider: ProviderId) {
      this.limit = concurrencyFor(provider);
    }

    /** Nothing running and nothing that could start now (queued work of a paused provider waits for the pause). */
    get idle(): boolean {
      return this.busy === 0 && !this.claiming && !this.moreDue && (this.queue.length === 0 || paused(this.provider, clock.now()) !== undefined);
    }

    request(key: RefundKey, opts: RequestSyncOptions): Promise<RequestedSyncResult> | undefined {
      const k = refundKeyString(key);
      const join = this.queued.get(k) ?? this.again.get(k);
      if (join) return new Promise((resolve) => join.waiters.push(resolve));
      if (this.queue.length + this.again.size >= maxQueued) return undefined;
      const job: Job = { key, source: opts.source ?? 'notification', leased: false, force: opts.force ?? false, waiters: [] };
      const done = new Promise<RequestedSyncResult>((resolve) => job.waiters.push(resolve));
      if (this.running.has(k)) {
        // The fetch in progress may have read the provider before this change: one more after it.
        job.force = true;
        this.again.set(k, job);
      } else {
        this.queue.push(job);
        this.queued.set(k, job);
        this.pump();
      }
      return done;
    }

    /** Looks for due refunds now (the loop's interval, or tick()). */
    poke(): void {
      this.moreDue = true;
      this.pump();
    }

    whenIdle(): Promise<void> {
      if (this.idle) return Promise.resolve();
      return new Promise((resolve) => this.idleWaiters.push(resolve));
    }

    /** Answers every queued request `skipped` (stopping); their durable traces stay for later. */
    dropQueued(reason: string): void {
      for (const job of [...this.queue.splice(0), ...this.again.values()]) for (const w of job.waiters) w({ outcome: 'skipped', reason });
      this.queued.clear();
      this.again.clear();
      this.moreDue = false;
      this.settle();
    }

    clearTimer(): void {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
    }

    private settle(): void {
      if (!this.idle) return;
      for (const w of this.idleWaiters.splice(0)) w();
    }

    /** Fills free slots: queued requests first (someone is waiting on them), then the due query. */
    pump(): void {
      const until = paused(this.provider, clock.now());
      if (until !== undefined) {
        // Nothing starts while the provider's pause lasts; wake up when it ends.
        if (!this.timer && (this.queue.length > 0 || looping)) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.poke();
          }, Math.max(1, until - clock.now()));
          this.timer.unref();
        }
        this.moreDue = false;
        this.settle();
        return;
      }
      while (this.busy < this.limit && this.queue.length > 0) {
        const job = this.queue.shift()!;
        this.queued.delete(refundKeyString(job.key));
        this.start(job);
      }
      if (this.busy < this.limit && this.moreDue && !this.claiming && !stopped) void this.claim();
      this.settle();
    }

    private async claim(): Promise<void> {
      const free = this.limit - this.busy;
      this.claiming = true;
      this.busy += free;
      let claimed: ClaimedRefund[] = [];
      try {
        claimed = await claimDue(deps.store.db, clock.now(), free, leaseMs, { provider: this.provider });
      } catch (e) {
        log.error({ provider: this.provider, err: (e as Error).message }, 'could not take due refunds');
      }
      this.busy -= free;
      this.claiming = false;
      this.moreDue = claimed.length === free;
      for (const item of claimed) {
        const k = refundKeyString(item);
        const waiting = this.queued.get(k);
        if (waiting) {
          // A re-fetch of this refund is already queued here: it runs under the lease just taken.
          waiting.leased = true;
          continue;
        }
        if (this.running.has(k)) continue; // its sync in progress writes the next check
        this.start({ key: item, source: 'poll', currencyHint: item.currencyHint, leased: true, force: false, waiters: [] });
      }
      this.pump();
    }

    private start(job: Job): void {
      const k = refundKeyString(job.key);
      this.busy++;
      this.running.add(k);
      this.taken++;
      void this.run(job)
        .catch((e: unknown): RequestedSyncResult => {
          log.error({ err: (e as Error).message, provider: this.provider, refundId: job.key.id }, 'poll failed');
          return { outcome: 'failed', error: toRefundHubError(e, this.provider) };
        })
        .then((result) => {
          for (const w of job.waiters) w(result);
          this.busy--;
          this.running.delete(k);
          const next = this.again.get(k);
          if (next) {
            this.again.delete(k);
            if (stopped) for (const w of next.waiters) w({ outcome: 'skipped', reason: 'poller stopped' });
            else {
              this.queue.unshift(next);
              this.queued.set(k, next);
            }
          }
          this.pump();
        });
    }

    private async run(job: Job): Promise<RequestedSyncResult> {
      if (!job.leased && !job.force) {
        // Out of schedule (a notification): lease the row as the due query would, so no other
        // process's lane fetches it at the same time.
        const got = await claimRefund(deps.store.db, job.key, clock.now(), leaseMs);
        if (got === 'taken') return { outcome: 'skipped', reason: 'another worker has this refund or checked it since' };
      }
      try {
        await syncRefund(deps, { ...job.key, source: job.source, currency: job.currencyHint });
        return { outcome: 'synced' };
      } catch (e) {
        const err = toRefundHubError(e, job.key.provider);
        if (err.code === 'rate_limited') {
          // The transport already capped Retry-After; capped again here for a custom connector's error.
          const pause = Math.min(err.retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS, maxRetryAfterMs);
          pausedUntil.set(job.key.provider, Math.max(clock.now() + pause, pausedUntil.get(job.key.provider) ?? 0));
          log.warn({ provider: job.key.provider, retryAfterMs: err.retryAfterMs, pauseMs: pause }, 'provider rate-limited us; holding its calls back');
        }
        // The spine already recorded the error on a tracked refund and scheduled the retry.
        return { outcome: 'failed', error: err };
      }
    }
  }

  const lanes = new Map<ProviderId, Lane>(PROVIDER_IDS.map((p) => [p, new Lane(p)]));
  let loopTimer: NodeJS.Timeout | undefined;

  function loop(): void {
    if (!looping) return;
    for (const lane of lanes.values()) lane.poke();
    loopTimer = setTimeout(loop, intervalMs);
    loopTimer.unref();
  }

  async function whenAllIdle(): Promise<void> {
    await Promise.all([...lanes.values()].map((l) => l.whenIdle()));
  }

  return {
    async tick() {
      const before = [...lanes.values()].reduce((n, l) => n + l.taken, 0);
      for (const lane of lanes.values()) lane.poke();
      await whenAllIdle();
      return [...lanes.values()].reduce((n, l) => n + l.taken, 0) - before;
    },
    notBefore: (provider) => paused(provider, clock.now()),
    requestSync(key, opts = {}) {
      if (stopped) return undefined;
      return lanes.get(key.provider)?.request(key, opts);
    },
    start() {
      if (looping || stopped) return;
      looping = true;
      loop();
    },
    async stop() {
      looping = false;
      stopped = true;
      if (loopTimer) clearTimeout(loopTimer);
      loopTimer = undefined;
      for (const lane of lanes.values()) {
        lane.clearTimer();
        lane.dropQueued('poller stopped');
      }
      await whenAllIdle();
    },
  };
}
