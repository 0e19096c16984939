import type { EventType } from './events.js';
import type { RefundStatus } from './refund.js';
import { isFinalStatus } from './refund.js';

/**
 * What an observation means for a tracked refund:
 * - `tracked`: the first observation (no previous status);
 * - `change`: a new status that is applied;
 * - `provider_status`: the same unified status under a new provider word (e.g. Tazapay `requested`
 *   -> `processing`, both pending): applied, recorded, and announced as `refund.updated` (or
 *   `refund.unknown_status` when the new word is one we do not know);
 * - `reversal`: a final status turned into another final status (a late failure or reversal), applied;
 * - `anomaly`: a final refund read back as not final (a stale read), recorded but NOT applied; when
 *   it reads as `unknown` (a provider status we cannot map) it still raises `refund.unknown_status`.
 *   Recorded (and alerted) once per provider word: the same word read again is `repeat`;
 * - `none`: the same status and provider word again.
 */
export type TransitionKind = 'tracked' | 'change' | 'provider_status' | 'reversal' | 'anomaly' | 'none';

export interface TransitionDecision {
  kind: TransitionKind;
  /** True when the observed status becomes the refund's current status. */
  apply: boolean;
  /** The outgoing event to emit, or null when nothing is emitted. */
  eventType: EventType | null;
  /** True when the observation gets a history row. */
  record: boolean;
}

/** What the store holds about a tracked refund, as far as the rules care. */
export interface StoredStatus {
  status: RefundStatus;
  /** The provider word of the stored status. */
  providerStatus: string;
  /** The provider word of the last anomaly recorded since the refund last read final, if any. */
  anomalyProviderStatus: string | null;
}

/** What a fetch just saw. */
export interface ObservedStatus {
  status: RefundStatus;
  providerStatus: string;
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
export function decideTransition(prev: StoredStatus | null, next: ObservedStatus): TransitionDecision {
  if (prev === null) return { kind: 'tracked', apply: true, eventType: eventTypeForStatus(next.status), record: true };
  if (prev.status === next.status) {
    if (prev.providerStatus === next.providerStatus) return { kind: 'none', apply: false, eventType: null, record: false };
    // Every recorded change is announced. A new word we cannot map is a new alert, not a mere update.
    const eventType = next.status === 'unknown' ? 'refund.unknown_status' : 'refund.updated';
    return { kind: 'provider_status', apply: true, eventType, record: true };
  }
  if (isFinalStatus(prev.status)) {
    if (isFinalStatus(next.status)) return { kind: 'reversal', apply: true, eventType: 'refund.reversed', record: true };
    // Read back as not final: keep the final status. The same word as the last anomaly is a
    // repeat (every late check, notification or refresh re-reads it): nothing new to record or say.
    if (prev.anomalyProviderStatus === next.providerStatus) return { kind: 'anomaly', apply: false, eventType: null, record: false };
    // Pending/requires_action is a stale read (replica lag, cache): record it, tell nobody. Read as
    // `unknown` it may be a real change we cannot map (a new provider status): raise the alert.
    return { kind: 'anomaly', apply: false, eventType: next.status === 'unknown' ? 'refund.unknown_status' : null, record: true };
  }
  return { kind: 'change', apply: true, eventType: eventTypeForStatus(next.status), record: true };
}
