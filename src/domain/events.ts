import type { Refund, RefundStatus } from './refund.js';
import type { ObservedStatus } from './transitions.js';

/**
 * Outgoing event types. Each change recorded in the history produces exactly one event whose type
 * is the most specific that applies; `refund.updated` covers every other change (e.g. pending ->
 * requires_action is `refund.requires_action`, the first observation of a pending refund and a new
 * provider word for the same status are `refund.updated`). The one recorded observation without an
 * event is a stale read of a final refund (see `decideTransition`).
 * An endpoint subscribed to `refund.updated` receives every refund event (every event is an update);
 * `*` also means all.
 */
export const EVENT_TYPES = [
  'refund.updated',
  'refund.succeeded',
  'refund.failed',
  'refund.canceled',
  'refund.requires_action',
  'refund.reversed',
  'refund.stuck',
  'refund.unknown_status',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(v: unknown): v is EventType {
  return typeof v === 'string' && (EVENT_TYPES as readonly string[]).includes(v);
}

/** True when an endpoint subscribed to `subscribed` should receive an event of type `type`. */
export function subscriptionMatches(subscribed: readonly string[], type: EventType): boolean {
  if (subscribed.length === 0) return true;
  return subscribed.includes('*') || subscribed.includes('refund.updated') || subscribed.includes(type);
}

/** Tracking state shown alongside a refund by the API and the CLI. */
export interface TrackingState {
  trackedAt: string;
  lastCheckedAt: string | null;
  nextCheckAt: string | null;
  checkCount: number;
  stuck: boolean;
  finalAt: string | null;
  lastError: { code: string; message: string } | null;
}

/** A tracked refund as the API returns it: the normalized refund plus its tracking state. */
export interface TrackedRefund extends Refund {
  tracking: TrackingState;
}

/** The event payload, exactly as signed and delivered. */
export interface RefundEvent {
  /** `evt_` + random; stays the same across delivery retries. */
  id: string;
  type: EventType;
  /** Unix seconds. */
  created: number;
  /** Increases by one per event of the same refund. */
  sequence: number;
  data: {
    refund: TrackedRefund;
    previousStatus: RefundStatus | null;
    /**
     * What the provider said, on events about an observation that was not applied (a final
     * refund read back as `unknown`: `refund.unknown_status` keeps the stored refund, so its
     * `providerStatus` is still the old word). Absent on every other event, whose `refund` is
     * the observation.
     */
    observed?: ObservedStatus;
  };
}
