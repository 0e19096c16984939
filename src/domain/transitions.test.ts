import { describe, expect, it } from 'vitest';
import { REFUND_STATUSES, type RefundStatus } from './refund.js';
import { decideTransition, eventTypeForStatus } from './transitions.js';

describe('decideTransition', () => {
  it('first observation is tracked and applied; refund.updated for pending, specific events otherwise', () => {
    expect(decideTransition(null, 'pending')).toEqual({ kind: 'tracked', apply: true, eventType: 'refund.updated' });
    expect(decideTransition(null, 'succeeded')).toEqual({ kind: 'tracked', apply: true, eventType: 'refund.succeeded' });
    expect(decideTransition(null, 'requires_action')).toEqual({ kind: 'tracked', apply: true, eventType: 'refund.requires_action' });
    expect(decideTransition(null, 'unknown')).toEqual({ kind: 'tracked', apply: true, eventType: 'refund.unknown_status' });
  });

  it('the same status again is nothing', () => {
    for (const s of REFUND_STATUSES) expect(decideTransition(s, s)).toEqual({ kind: 'none', apply: false, eventType: null });
  });

  it('non-final changes apply with the most specific event', () => {
    expect(decideTransition('pending', 'succeeded')).toEqual({ kind: 'change', apply: true, eventType: 'refund.succeeded' });
    expect(decideTransition('pending', 'failed')).toEqual({ kind: 'change', apply: true, eventType: 'refund.failed' });
    expect(decideTransition('pending', 'canceled')).toEqual({ kind: 'change', apply: true, eventType: 'refund.canceled' });
    expect(decideTransition('pending', 'requires_action')).toEqual({ kind: 'change', apply: true, eventType: 'refund.requires_action' });
    expect(decideTransition('requires_action', 'pending')).toEqual({ kind: 'change', apply: true, eventType: 'refund.updated' });
    expect(decideTransition('pending', 'unknown')).toEqual({ kind: 'change', apply: true, eventType: 'refund.unknown_status' });
    expect(decideTransition('unknown', 'pending')).toEqual({ kind: 'change', apply: true, eventType: 'refund.updated' });
  });

  it('a final refund read as pending or requires_action is a stale read: anomaly, not applied, no event', () => {
    for (const prev of ['succeeded', 'failed', 'canceled'] as RefundStatus[]) {
      for (const next of ['pending', 'requires_action'] as RefundStatus[]) {
        expect(decideTransition(prev, next)).toEqual({ kind: 'anomaly', apply: false, eventType: null });
      }
    }
  });

  it('a final refund read as unknown keeps its status (anomaly) but raises refund.unknown_status', () => {
    for (const prev of ['succeeded', 'failed', 'canceled'] as RefundStatus[]) {
      expect(decideTransition(prev, 'unknown')).toEqual({ kind: 'anomaly', apply: false, eventType: 'refund.unknown_status' });
    }
  });

  it('a final refund turning into another final status is a reversal, applied, refund.reversed', () => {
    const finals: RefundStatus[] = ['succeeded', 'failed', 'canceled'];
    for (const prev of finals) {
      for (const next of finals.filter((f) => f !== prev)) {
        expect(decideTransition(prev, next)).toEqual({ kind: 'reversal', apply: true, eventType: 'refund.reversed' });
      }
    }
  });

  it('maps every status to an event type', () => {
    expect(REFUND_STATUSES.map(eventTypeForStatus)).toEqual([
      'refund.updated',
      'refund.requires_action',
      'refund.succeeded',
      'refund.failed',
      'refund.canceled',
      'refund.unknown_status',
    ]);
  });
});
