import { randomBytes } from 'node:crypto';
import { subscriptionMatches, type EventType, type RefundEvent } from '../domain/events.js';
import type { Db, Tx } from '../store/index.js';

/**
 * The outbox: delivery jobs are written in the same transaction as the change they announce, so
 * an event is never lost (the change and its deliveries commit together) and never invented (a
 * rolled-back change takes its deliveries with it). The deliverer picks them up later.
 */

export const newDeliveryId = (): string => `dlv_${randomBytes(12).toString('base64url')}`;

/** A new delivery job for one event and endpoint, due at once. */
export function pendingDelivery(eventId: string, endpointId: string, now: number) {
  return {
    id: newDeliveryId(),
    event_id: eventId,
    endpoint_id: endpointId,
    status: 'pending',
    attempts: 0,
    next_attempt_at: now,
    locked_until: null,
    last_status_code: null,
    last_error: null,
    created_at: now,
    updated_at: now,
  };
}

/** Parses an endpoint's stored `events` JSON; anything unreadable subscribes to nothing. */
export function parseSubscribedEvents(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Active (not deleted) endpoints subscribed to events of `type`, oldest first. */
export async function matchingEndpointIds(db: Db | Tx, type: string): Promise<string[]> {
  const endpoints = await db
    .selectFrom('webhook_endpoints')
    .select(['id', 'events'])
    .where('deleted_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return endpoints.filter((e) => {
    const subscribed = parseSubscribedEvents(e.events);
    // An endpoint whose stored subscription is unreadable gets nothing rather than everything.
    return subscribed.length > 0 && subscriptionMatches(subscribed, type as EventType);
  }).map((e) => e.id);
}

/**
 * Writes one pending `deliveries` row per active endpoint subscribed to `event.type`, due at
 * `now`. Call it inside the transaction that inserts the `events` row. Returns how many rows.
 */
export async function enqueueDeliveries(tx: Db | Tx, event: RefundEvent, now: number): Promise<number> {
  const endpointIds = await matchingEndpointIds(tx, event.type);
  if (endpointIds.length === 0) return 0;
  await tx
    .insertInto('deliveries')
    .values(endpointIds.map((endpointId) => pendingDelivery(event.id, endpointId, now)))
    .execute();
  return endpointIds.length;
}

/** Deliveries still to be made (for the `pending_deliveries` queue-depth gauge). */
export async function countPendingDeliveries(db: Db | Tx): Promise<number> {
  const row = await db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
