import { describe, expect, it } from 'vitest';
import { createScheduler, parseDuration } from './schedule.js';

const M = 60_000;
const H = 60 * M;
const D = 24 * H;
const T0 = Date.UTC(2026, 0, 1);

describe('parseDuration', () => {
  it('parses units and rejects junk', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('5m')).toBe(5 * M);
    expect(parseDuration('1h')).toBe(H);
    expect(parseDuration('2d')).toBe(2 * D);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('5 minutes')).toThrow(/not a duration/);
    expect(() => parseDuration('0s')).toThrow(/positive/);
  });
});

describe('createScheduler', () => {
  const pending = (checkCount: number) => ({ provider: 'ziina' as const, status: 'pending' as const, trackedAt: T0, checkCount, finalAt: null });
  /** The delay scheduled by a check made `elapsed` ms after tracking started. */
  const delayAt = (s: ReturnType<typeof createScheduler>, elapsed: number, checkCount = 1, provider: 'ziina' | 'stan' = 'ziina') =>
    s.nextCheckAt({ ...pending(checkCount), provider }, T0 + elapsed)! - (T0 + elapsed);

  it('follows 1m, 5m, 15m, 1h, 6h then every 24h without jitter', () => {
    const s = createScheduler({ jitter: 0 });
    // Following the schedule: each check at the time the previous one planned.
    let t = 0;
    const delays: number[] = [];
    for (let n = 1; n <= 8; n++) {
      const d = delayAt(s, t, n);
      delays.push(d);
      t += d;
    }
    expect(delays).toEqual([M, 5 * M, 15 * M, H, 6 * H, D, D, D]);
  });

  it('the step follows the time since tracking, not the number of checks (notifications do not speed it up)', () => {
    const s = createScheduler({ jitter: 0 });
    // 50 notification-driven syncs in the first 20 seconds: still on the first step.
    expect(delayAt(s, 20_000, 50)).toBe(M);
    // Two minutes in, after many checks: the 5 minute step, not daily.
    expect(delayAt(s, 2 * M, 40)).toBe(5 * M);
    expect(delayAt(s, 10 * M, 40)).toBe(15 * M);
    expect(delayAt(s, 30 * M, 40)).toBe(H);
    expect(delayAt(s, 3 * H, 40)).toBe(6 * H);
    expect(delayAt(s, 8 * H, 40)).toBe(D);
    // Few checks but long tracked (e.g. after downtime): the step time says.
    expect(delayAt(s, 2 * D, 2)).toBe(D);
  });

  it('a check made a little early (jitter) still advances to the next step', () => {
    const s = createScheduler({ jitter: 0 });
    expect(delayAt(s, 0.9 * M)).toBe(5 * M);
    expect(delayAt(s, 0.9 * (6 * M))).toBe(15 * M);
    expect(delayAt(s, 0.9 * (21 * M))).toBe(H);
    expect(delayAt(s, 0.9 * (441 * M))).toBe(D);
  });

  it('jitters within +-10%', () => {
    const low = createScheduler({ random: () => 0 });
    const high = createScheduler({ random: () => 0.999999 });
    expect(delayAt(low, 21 * M)).toBe(Math.round(0.9 * H));
    expect(delayAt(high, 21 * M)).toBeCloseTo(1.1 * H, -2);
    const any = createScheduler();
    for (let i = 0; i < 200; i++) {
      const d = delayAt(any, 2 * D);
      expect(d).toBeGreaterThanOrEqual(0.9 * D);
      expect(d).toBeLessThanOrEqual(1.1 * D);
    }
  });

  it('uses per-provider schedules from config', () => {
    const s = createScheduler({ jitter: 0, config: { providers: { stan: { schedule: ['90s', '2d'] } } } });
    expect(delayAt(s, 0, 1, 'stan')).toBe(90_000);
    expect(delayAt(s, 90_000, 2, 'stan')).toBe(2 * D);
    expect(delayAt(s, 30_000, 20, 'stan')).toBe(90_000);
    expect(s.nextCheckAt(pending(1), T0)! - T0).toBe(M);
    expect(() => createScheduler({ providers: { stan: { schedule: ['soon'] } } })).toThrow(/not a duration/);
  });

  it('gives final refunds late checks after 1 day and 7 days, then none (also with jitter)', () => {
    for (const random of [() => 0, () => 0.5, () => 0.999]) {
      const s = createScheduler({ random });
      const fin = { provider: 'ziina' as const, status: 'succeeded' as const, trackedAt: T0, checkCount: 3, finalAt: T0 };
      const first = s.nextCheckAt(fin, T0)!;
      expect(first - T0).toBeGreaterThanOrEqual(0.9 * D);
      expect(first - T0).toBeLessThanOrEqual(1.1 * D);
      const second = s.nextCheckAt(fin, first)!;
      expect(second - T0).toBeGreaterThanOrEqual(6.4 * D);
      expect(second - T0).toBeLessThanOrEqual(7.6 * D);
      expect(s.nextCheckAt(fin, second)).toBeNull();
    }
  });

  it('is stuck after 30 days not final, never when final', () => {
    const s = createScheduler();
    expect(s.isStuck(pending(10), T0 + 30 * D - 1)).toBe(false);
    expect(s.isStuck(pending(10), T0 + 30 * D)).toBe(true);
    expect(s.isStuck({ ...pending(10), status: 'failed', finalAt: T0 }, T0 + 40 * D)).toBe(false);
    // Stuck refunds keep a daily check.
    const jitterless = createScheduler({ jitter: 0 });
    expect(jitterless.nextCheckAt(pending(40), T0 + 31 * D)! - (T0 + 31 * D)).toBe(D);
  });
});
