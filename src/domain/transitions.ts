import type { EventType } from './events.js';
import type { RefundStatus } from './refund.js';
import { isFinalStatus } from './refund.js';

/**
 * What an observed status means for a tracked refund:
 * - `tracked`: the first observation (no previous status);
 * - `change`: a new status that is applied;
 * - `reversal`: a final status turned into another final status (a late failure or reversal), applied;
 * - `anomaly`: a final refund read back as not final (a stale read), recorded but NOT applied; when
 *   it reads as `unknown` (a provider status we cannot map) it still raises `refund.unknown_status`;
 * - `none`: the same status again.
 */
export type TransitionKind = 'tracked' | 'change' | 'reversal' | 'anomaly' | 'none';

export interface TransitionDecision {
  kind: TransitionKind;
  /** True when the new status becomes the refund's current status. */
  apply: boolean;
  /** The outgoing event to emit, or null when nothing is emitted. */
  eventType: EventType | null;
}

/** The event for arriving at `status`: the most specific type, else `refund.updated`. */
export function eventTypeForStatus(status: RefundStatus): EventType {
  switch (status) {
    case 'succeeded':
      return 'refund.succeeded';
    case 'failed':
      return 'refund.failed';
    case 'canceled':
      return 'refund.canceled';
    case 'requires_action':
      return 'refund.requires_action';
    case 'unknown':
      return 'refund.unknown_status';
    case 'pending':
      return 'refund.updated';
  }
}

/** The transition rules: pure, so every caller (poll, notification, API, CLI) agrees. */
export function decideTransition(prev: RefundStatus | null, next: RefundStatus): TransitionDecision {
  if (prev === null) return { kind: 'tracked', apply: true, eventType: eventTypeForStatus(next) };
  if (prev === next) return { kind: 'none', apply: false, eventType: null };
  if (isFinalStatus(prev)) {
    // A final refund read as pending/requires_action is a stale read (replica lag, cache): keep the
    // final status, record the anomaly, tell nobody. Read as `unknown` it may be a real change we
    // cannot map (a new provider status): keep the final status, but raise the alert.
    if (next === 'unknown') return { kind: 'anomaly', apply: false, eventType: 'refund.unknown_status' };
    if (!isFinalStatus(next)) return { kind: 'anomaly', apply: false, eventType: null };
    return { kind: 'reversal', apply: true, eventType: 'refund.reversed' };
  }
  return { kind: 'change', apply: true, eventType: eventTypeForStatus(next) };
}
