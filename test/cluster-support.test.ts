import { describe, expect, it } from 'vitest';
import type { ProviderId } from '../src/domain/refund.js';
import { overlaps, refundOf, type TimedRequest } from './support/cluster.js';

/**
 * The overlap finder the cluster tests rely on: it must flag two fetches of one refund that
 * overlap in time (or the no-overlap assertions could never fail), and leave alone fetches of
 * different refunds, back-to-back fetches and calls that are not about a refund.
 */

const known = new Map<ProviderId, Set<string>>([
  ['ziina', new Set(['r1', 'r 2'])],
  ['stan', new Set(['r1'])],
]);
const req = (provider: ProviderId, path: string, startMs: number, endMs: number): TimedRequest => ({ provider, path, startMs, endMs, status: 200 });

describe('overlaps()', () => {
  it('finds two fetches of one refund that overlap, even when a third spans them', () => {
    const report = overlaps(
      [
        req('ziina', '/ziina/api/refund/r1', 0, 100),
        req('ziina', '/ziina/api/refund/r1', 99.5, 150),
        req('ziina', '/ziina/api/refund/r1', 300, 1000),
        req('ziina', '/ziina/api/refund/r1', 400, 500),
      ],
      known,
    );
    expect(report.overlaps.map((o) => [o.first.startMs, o.second.startMs])).toEqual([
      [0, 99.5],
      [300, 400],
    ]);
    expect(report.perRefund).toBe(4);
  });

  it('leaves apart different refunds, other providers, token calls and back-to-back fetches (counted as contention)', () => {
    const report = overlaps(
      [
        req('ziina', '/ziina/api/refund/r1', 0, 100),
        req('stan', '/stan/v1/refunds/r1', 10, 90),
        req('ziina', `/ziina/api/refund/${encodeURIComponent('r 2')}?x=1`, 20, 80),
        req('ziina', '/ziina/api/oauth/token', 30, 70),
        req('ziina', '/ziina/api/refund/r1', 100, 200),
        req('ziina', '/ziina/api/refund/r1', 400, 500),
      ],
      known,
      50,
    );
    expect(report.overlaps).toEqual([]);
    expect(report.backToBack).toBe(1);
    expect(report.perRefund).toBe(5);
  });

  it('refundOf ties a request to a refund by a path segment, decoded', () => {
    expect(refundOf(req('ziina', '/ziina/api/refund/r%202', 0, 1), known)).toBe('ziina/r 2');
    expect(refundOf(req('ziina', '/ziina/api/refund/r10', 0, 1), known)).toBeUndefined();
    expect(refundOf(req('gr4vy', '/gr4vy/refunds/r1', 0, 1), known)).toBeUndefined();
  });
});
