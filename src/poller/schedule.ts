import { parseStuckAfter, type LoadedConfig, type ProviderTrackingOptions } from '../config/index.js';
import type { ProviderId, RefundStatus } from '../domain/refund.js';
import { isFinalStatus } from '../domain/refund.js';
import { RefundHubError } from '../errors.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Delays between checks after tracking starts; the last one repeats. */
export const DEFAULT_SCHEDULE_MS: readonly number[] = [1 * MINUTE, 5 * MINUTE, 15 * MINUTE, 1 * HOUR, 6 * HOUR, 24 * HOUR];
/** Late checks of a final refund, after it became final, to catch reversals. */
export const DEFAULT_LATE_CHECKS_MS: readonly number[] = [1 * DAY, 7 * DAY];
/** Not final this long after tracking started: stuck (still checked on the schedule's last delay); `providers.<p>.stuckAfter` overrides it per provider. */
export const DEFAULT_STUCK_AFTER_MS = 30 * DAY;
export const DEFAULT_JITTER = 0.1;

const UNITS: Record<string, number> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY };

/** Parses "90s", "5m", "1h", "2d", "250ms" into milliseconds. */
export function parseDuration(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(String(value));
  if (!m) throw new RefundHubError('not_configured', `"${String(value).slice(0, 32)}" is not a duration (e.g. 90s, 5m, 1h, 2d)`);
  const ms = Math.round(Number(m[1]) * UNITS[m[2]!]!);
  if (ms <= 0) throw new RefundHubError('not_configured', `duration "${value}" must be positive`);
  return ms;
}

/** A threshold for people: "30 days", "36 hours", "90 s" (the largest unit that divides it). */
export function formatThreshold(ms: number): string {
  const units: Array<[number, string, string]> = [[DAY, 'day', 'days'], [HOUR, 'hour', 'hours'], [MINUTE, 'minute', 'minutes'], [SECOND, 'second', 'seconds']];
  for (const [size, one, many] of units) if (ms % size === 0) return `${ms / size} ${ms === size ? one : many}`;
  return `${ms} ms`;
}

/** What the scheduler needs to know about a refund (after the check that just happened). */
export interface ScheduleState {
  provider: ProviderId;
  status: RefundStatus;
  /** Epoch ms tracking started. */
  trackedAt: number;
  /**
   * Checks made so far, including the one that just happened (1 after the tracking fetch). Kept for
   * callers and logs; the backoff step does NOT use it (notifications and API refreshes are checks
   * too, and must not move a refund to daily polling early): the step follows the time since tracking.
   */
  checkCount: number;
  /** Epoch ms it became final, or null. */
  finalAt: number | null;
}

/** Decides when each refund is checked next. */
export interface Scheduler {
  /** Epoch ms of the next check, or null when none is needed (final and late checks done). */
  nextCheckAt(state: ScheduleState, now: number): number | null;
  /** True when the refund has been tracked too long without reaching a final status. */
  isStuck(state: ScheduleState, now: number): boolean;
  /** The provider's stuck threshold (ms): its `providers.<p>.stuckAfter`, else the default (30 days). */
  stuckAfterMs(provider: ProviderId): number;
  /** The delays (ms) used for a provider, without jitter. */
  delays(provider: ProviderId): readonly number[];
}

export interface SchedulerOptions {
  /** Per-provider schedules (`LoadedConfig.providers`). */
  config?: Pick<LoadedConfig, 'providers'>;
  providers?: Partial<Record<ProviderId, ProviderTrackingOptions>>;
  defaultSchedule?: readonly number[];
  lateChecksMs?: readonly number[];
  stuckAfterMs?: number;
  /** Relative jitter, 0.1 = +-10%. 0 disables it. */
  jitter?: number;
  /** Uniform in [0, 1); injectable for tests. */
  random?: () => number;
}

/**
 * Which delay of the schedule applies `elapsed` ms after tracking started. The planned checks sit at
 * the cumulative sums of the delays (1m, 6m, 21m, 81m, ... by default); step i applies once the
 * check planned at the i-th sum is more than half-way near, so a jittered (early) check still
 * counts as that check, and extra syncs in between (notifications, API refreshes) do not advance
 * the schedule: only time does.
 */
export function scheduleStep(delays: readonly number[], elapsed: number): number {
  let planned = 0;
  for (let i = 1; i < delays.length; i++) {
    const prevDelay = delays[i - 1]!;
    planned += prevDelay;
    if (elapsed < planned - prevDelay / 2) return i - 1;
  }
  return delays.length - 1;
}

export function createScheduler(options: SchedulerOptions = {}): Scheduler {
  const defaults = options.defaultSchedule ?? DEFAULT_SCHEDULE_MS;
  const late = options.lateChecksMs ?? DEFAULT_LATE_CHECKS_MS;
  const stuckAfter = options.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS;
  const jitter = options.jitter ?? DEFAULT_JITTER;
  const random = options.random ?? Math.random;
  const perProvider = { ...(options.config?.providers ?? {}), ...(options.providers ?? {}) };
  const parsed = new Map<ProviderId, readonly number[]>();
  const stuckByProvider = new Map<ProviderId, number>();
  // Validate every configured schedule now, so a typo fails at start rather than at the first check.
  for (const [provider, opts] of Object.entries(perProvider) as Array<[ProviderId, ProviderTrackingOptions | undefined]>) {
    // loadConfig has parsed it already; options passed in directly are parsed here.
    if (opts?.stuckAfterMs !== undefined) stuckByProvider.set(provider, opts.stuckAfterMs);
    else if (opts?.stuckAfter !== undefined) stuckByProvider.set(provider, parseStuckAfter(opts.stuckAfter, `providers.${provider}.stuckAfter`));
    if (!opts?.schedule) continue;
    if (!Array.isArray(opts.schedule) || opts.schedule.length === 0) {
      throw new RefundHubError('not_configured', `providers.${provider}.schedule must be a non-empty list of durations`);
    }
    parsed.set(provider, opts.schedule.map(parseDuration));
  }

  const delays = (provider: ProviderId): readonly number[] => parsed.get(provider) ?? defaults;
  const stuckAfterMs = (provider: ProviderId): number => stuckByProvider.get(provider) ?? stuckAfter;
  const jittered = (ms: number): number => Math.round(ms * (1 + jitter * (2 * random() - 1)));

  return {
    delays,
    stuckAfterMs,
    isStuck(state, now) {
      return !isFinalStatus(state.status) && now - state.trackedAt >= stuckAfterMs(state.provider);
    },
    nextCheckAt(state, now) {
      if (isFinalStatus(state.status)) {
        const finalAt = state.finalAt ?? now;
        const elapsed = now - finalAt;
        // Pick the first late check not yet passed. Stages are told apart by the midpoint between
        // consecutive targets, so a jittered (early) check never schedules the same stage again.
        for (let i = 0; i < late.length; i++) {
          const target = late[i]!;
          const prev = i === 0 ? 0 : late[i - 1]!;
          if (elapsed < (prev + target) / 2) {
            return Math.max(now + 1, finalAt + jittered(target - prev) + prev);
          }
        }
        return null;
      }
      const d = delays(state.provider);
      const elapsed = now - state.trackedAt;
      // A stuck refund keeps the schedule's last (daily) check.
      const idx = elapsed >= stuckAfterMs(state.provider) ? d.length - 1 : scheduleStep(d, elapsed);
      return now + jittered(d[idx]!);
    },
  };
}
