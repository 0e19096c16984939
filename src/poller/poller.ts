import type { Clock } from '../clock.js';
import type { LoadedConfig } from '../config/index.js';
import type { ProviderId } from '../domain/refund.js';
import { toRefundHubError } from '../errors.js';
import { claimDue, rescheduleCheck, type ClaimedRefund } from '../store/refunds.js';
import { syncRefund, type SyncDeps } from '../sync/sync-refund.js';

export const DEFAULT_CONCURRENCY = 4;
/** How long to hold off a provider that rate-limited us without saying for how long. */
export const DEFAULT_RATE_LIMIT_PAUSE_MS = 60_000;

export interface PollerOptions {
  syncDeps: SyncDeps;
  /** Most concurrent provider calls per provider: one number for all, or per provider (default 4). */
  concurrency?: number | Partial<Record<ProviderId, number>>;
  /** Per-provider `concurrency` from a config file (overridden by `concurrency`). */
  config?: Pick<LoadedConfig, 'providers'>;
  /** Most refunds taken per tick (default 100). */
  batchSize?: number;
  /** Pause between ticks of the `start()` loop when nothing was due (default 1 s, real time). */
  intervalMs?: number;
  /** How long a taken refund is reserved; a crash delays it by at most this (default 5 min). */
  leaseMs?: number;
  /** Defaults to `syncDeps.clock`. */
  clock?: Clock;
}

export interface Poller {
  /** Takes what is due now, syncs it, and resolves with how many refunds it took. Never rejects on provider errors. */
  tick(): Promise<number>;
  start(): void;
  /** Stops the loop and waits for the tick in progress. */
  stop(): Promise<void>;
  /** Epoch ms before which a provider gets no calls (after a rate limit), if any. */
  notBefore(provider: ProviderId): number | undefined;
}

/** A counting semaphore: the per-provider concurrency limit. */
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

/**
 * The poller: due-based (only refunds whose next check has come), per-provider concurrency,
 * per-provider back-off after a rate limit, and provider errors recorded by the spine and never
 * allowed to stop the loop.
 */
export function createPoller(options: PollerOptions): Poller {
  const deps = options.syncDeps;
  const clock = options.clock ?? deps.clock;
  const batchSize = options.batchSize ?? 100;
  const intervalMs = options.intervalMs ?? 1000;
  const leaseMs = options.leaseMs ?? 5 * 60_000;
  const log = deps.logger.child({ component: 'poller' });
  const pausedUntil = new Map<ProviderId, number>();
  const limiters = new Map<ProviderId, Limiter>();

  function concurrencyFor(provider: ProviderId): number {
    const c = options.concurrency;
    const n = typeof c === 'number' ? c : (c?.[provider] ?? options.config?.providers[provider]?.concurrency ?? DEFAULT_CONCURRENCY);
    return Number.isInteger(n) && n > 0 ? n : DEFAULT_CONCURRENCY;
  }
  function limiterFor(provider: ProviderId): Limiter {
    let l = limiters.get(provider);
    if (!l) limiters.set(provider, (l = new Limiter(concurrencyFor(provider))));
    return l;
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

  async function one(item: ClaimedRefund): Promise<void> {
    const until = paused(item.provider, clock.now());
    if (until !== undefined) {
      // The provider rate-limited us after this refund was taken: hand it back for later.
      await rescheduleCheck(deps.store.db, item, until);
      return;
    }
    try {
      await syncRefund(deps, { provider: item.provider, account: item.account, id: item.id, source: 'poll', currency: item.currencyHint });
    } catch (e) {
      const err = toRefundHubError(e, item.provider);
      if (err.code === 'rate_limited') {
        const until = clock.now() + (err.retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS);
        pausedUntil.set(item.provider, Math.max(until, pausedUntil.get(item.provider) ?? 0));
        log.warn({ provider: item.provider, retryAfterMs: err.retryAfterMs }, 'provider rate-limited us; holding its calls back');
      }
      // The spine already recorded the error on the refund and scheduled the retry.
    }
  }

  async function tick(): Promise<number> {
    const now = clock.now();
    const exclude = [...pausedUntil.keys()].filter((p) => paused(p, now) !== undefined);
    let claimed: ClaimedRefund[];
    try {
      claimed = await claimDue(deps.store.db, now, batchSize, leaseMs, { excludeProviders: exclude });
    } catch (e) {
      log.error({ err: (e as Error).message }, 'could not take due refunds');
      return 0;
    }
    await Promise.all(
      claimed.map((item) =>
        limiterFor(item.provider)
          .run(() => one(item))
          .catch((e: unknown) => log.error({ err: (e as Error).message, provider: item.provider, refundId: item.id }, 'poll failed')),
      ),
    );
    return claimed.length;
  }

  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<number> | undefined;

  function schedule(delay: number): void {
    if (!running) return;
    timer = setTimeout(() => {
      timer = undefined;
      current = tick();
      void current.then(
        (n) => schedule(n >= batchSize ? 0 : intervalMs),
        () => schedule(intervalMs),
      );
    }, delay);
    timer.unref?.();
  }

  return {
    tick,
    notBefore: (provider) => paused(provider, clock.now()),
    start() {
      if (running) return;
      running = true;
      schedule(0);
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (current) await current.catch(() => 0);
    },
  };
}
