import { describe, expect, it } from 'vitest';
import { REFUND_STATUSES, type RefundStatus } from './refund.js';
import { decideTransition, eventTypeForStatus, type StoredStatus } from './transitions.js';

/** A stored refund whose provider word is just its status (no anomaly remembered). */
const stored = (status: RefundStatus, providerStatus: string = status, anomalyProviderStatus: string | null = null): StoredStatus => ({ status, providerStatus, anomalyProviderStatus });
/** An observation whose provider word is just its status. */
const seen = (status: RefundStatus, providerStatus: string = status) => ({ status, providerStatus });

describe('decideTransition', () => {
  it('first observation is tracked and applied; refund.updated for pending, specific events otherwise', () => {
    expect(decideTransition(null, seen('pending'))).toEqual({ kind: 'tracked', apply: true, eventType: 'refund.updated', record: true });
    expect(decideTransition(null, seen('succeeded'))).toEqual({ kind: 'tracked', apply: true, eventType: 'refund.succeeded', record: true });
    expect(decideTransition(null, seen('requires_action'))).toEqual({ kind: 'tracked', apply: true, eventType: 'refund.requires_action', record: true });
    expect(decideTransition(null, seen('unknown'))).toEqual({ kind: 'tracked', apply: true, eventType: 'refund.unknown_status', record: true });
  });

  it('the same status and provider word again is nothing', () => {
    for (const s of REFUND_STATUSES) expect(decideTransition(stored(s), seen(s))).toEqual({ kind: 'none', apply: false, eventType: null, record: false });
  });

  it('a new provider word for the same status is recorded and announced: refund.updated, or refund.unknown_status for a new unknown word', () => {
    expect(decideTransition(stored('pending', 'requested'), seen('pending', 'processing'))).toEqual({ kind: 'provider_status', apply: true, eventType: 'refund.updated', record: true });
    expect(decideTransition(stored('succeeded', 'succeeded'), seen('succeeded', 'settled'))).toEqual({ kind: 'provider_status', apply: true, eventType: 'refund.updated', record: true });
    expect(decideTransition(stored('requires_action', 'A'), seen('requires_action', 'B'))).toEqual({ kind: 'provider_status', apply: true, eventType: 'refund.updated', record: true });
    expect(decideTransition(stored('unknown', 'teleported'), seen('unknown', 'warped'))).toEqual({ kind: 'provider_status', apply: true, eventType: 'refund.unknown_status', record: true });
  });

  it('non-final changes apply with the most specific event', () => {
    expect(decideTransition(stored('pending'), seen('succeeded'))).toEqual({ kind: 'change', apply: true, eventType: 'refund.succeeded', record: true });
    expect(decideTransition(stored('pending'), seen('failed'))).toEqual({ kind: 'change', apply: true, eventType: 'refund.failed', record: true });
    expect(decideTransition(stored('pending'), seen('canceled'))).toEqual({ kind: 'change', apply: true, eventType: 'refund.canceled', record: true });
    expect(decideTransition(stored('pending'), seen('requires_action'))).toEqual({ kind: 'change', apply: true, eventType: 'refund.requires_action', record: true });
    expect(decideTransition(stored('requires_action'), seen('pending'))).toEqual({ kind: 'change', apply: true, eventType: 'refund.updated', record: true });
    expect(decideTransition(stored('pending'), seen('unknown'))).toEqual({ kind: 'change', apply: true, eventType: 'refund.unknown_status', record: true });
    expect(decideTransition(stored('unknown'), seen('pending'))).toEqual({ kind: 'change', apply: true, eventType: 'refund.updated', record: true });
  });

  it('a final refund read as pending or requires_action is a stale read: anomaly, not applied, no event; once per provider word', () => {
    for (const prev of ['succeeded', 'failed', 'canceled'] as RefundStatus[]) {
      for (const next of ['pending', 'requires_action'] as RefundStatus[]) {
        expect(decideTransition(stored(prev), seen(next, 'W1'))).toEqual({ kind: 'anomaly', apply: false, eventType: null, record: true });
        expect(decideTransition(stored(prev, prev, 'W1'), seen(next, 'W1'))).toEqual({ kind: 'anomaly', apply: false, eventType: null, record: false });
        expect(decideTransition(stored(prev, prev, 'W1'), seen(next, 'W2'))).toEqual({ kind: 'anomaly', apply: false, eventType: null, record: true });
      }
    }
  });

  it('a final refund read as unknown keeps its status (anomaly) and raises refund.unknown_status once per new provider word', () => {
    for (const prev of ['succeeded', 'failed', 'canceled'] as RefundStatus[]) {
      const alert = { kind: 'anomaly', apply: false, eventType: 'refund.unknown_status', record: true };
      expect(decideTransition(stored(prev), seen('unknown', 'teleported'))).toEqual(alert);
      expect(decideTransition(stored(prev, prev, 'teleported'), seen('unknown', 'teleported'))).toEqual({ kind: 'anomaly', apply: false, eventType: null, record: false });
      expect(decideTransition(stored(prev, prev, 'teleported'), seen('unknown', 'warped'))).toEqual(alert);
    }
  });

  it('a final refund turning into another final status is a reversal, applied, refund.reversed', () => {
    const finals: RefundStatus[] = ['succeeded', 'failed', 'canceled'];
    for (const prev of finals) {
      for (const next of finals.filter((f) => f !== prev)) {
        expect(decideTransition(stored(prev), seen(next))).toEqual({ kind: 'reversal', apply: true, eventType: 'refund.reversed', record: true });
        expect(decideTransition(stored(prev, prev, 'teleported'), seen(next))).toEqual({ kind: 'reversal', apply: true, eventType: 'refund.reversed', record: true });
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
