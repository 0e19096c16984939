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

  it('follows 1m, 5m, 15m, 1h, 6h then every 24h without jitter', () => {
    const s = createScheduler({ jitter: 0 });
    const delays = [1, 2, 3, 4, 5, 6, 7, 20].map((n) => s.nextCheckAt(pending(n), T0)! - T0);
    expect(delays).toEqual([M, 5 * M, 15 * M, H, 6 * H, D, D, D]);
  });

  it('jitters within +-10%', () => {
    const low = createScheduler({ random: () => 0 });
    const high = createScheduler({ random: () => 0.999999 });
    expect(low.nextCheckAt(pending(4), T0)! - T0).toBe(Math.round(0.9 * H));
    expect(high.nextCheckAt(pending(4), T0)! - T0).toBeCloseTo(1.1 * H, -2);
    const any = createScheduler();
    for (let i = 0; i < 200; i++) {
      const d = any.nextCheckAt(pending(6), T0)! - T0;
      expect(d).toBeGreaterThanOrEqual(0.9 * D);
      expect(d).toBeLessThanOrEqual(1.1 * D);
    }
  });

  it('uses per-provider schedules from config', () => {
    const s = createScheduler({ jitter: 0, config: { providers: { stan: { schedule: ['90s', '2d'] } } } });
    expect(s.nextCheckAt({ ...pending(1), provider: 'stan' }, T0)! - T0).toBe(90_000);
    expect(s.nextCheckAt({ ...pending(5), provider: 'stan' }, T0)! - T0).toBe(2 * D);
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
