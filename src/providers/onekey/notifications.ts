import { z } from 'zod';
import { RefundHubError } from '../../errors.js';
import { requirePositiveInteger } from '../shared.js';
import { UNSIGNED_NOTIFICATION_LIMITS, type NotificationSpec, type ParsedNotification } from '../types.js';
import type { OnekeySettings } from './config.js';

/**
 * The documented body and nothing else: `{"refund_id": 168284}`, a number on the notifications
 * page, a string "80000001" in the refund guide (accept both). Strict, because an unsigned body
 * is a hint anyone can send: extra fields would only be bytes for us to parse and store.
 */
const onekeyNotificationSchema = z.strictObject({
  refund_id: z.union([z.number().int().positive().max(Number.MAX_SAFE_INTEGER), z.string().max(32)]),
});

/**
 * OneKey refund notifications: a POST with the body `{"refund_id": 168284}` on every status change,
 * no signature documented (refund-creation-endpoint/notifications page). It is only a hint: the
 * receiver re-fetches through the signed status call, so an unsigned body cannot forge a status.
 */
export const onekeyNotifications: NotificationSpec<OnekeySettings> = {
  signed: false,
  // Retried "until an HTTP 200 is returned", not any 2xx (refund-creation-endpoint/notifications).
  ackStatus: 200,
  ...UNSIGNED_NOTIFICATION_LIMITS,
  parse({ rawBody }): ParsedNotification {
    let body: unknown;
    try {
      body = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw invalid('body is not valid JSON');
    }
    const parsed = onekeyNotificationSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const why = issue?.code === 'unrecognized_keys' ? 'it carries fields other than "refund_id"' : issue?.path[0] === 'refund_id' ? 'refund_id must be a positive integer' : 'expected {"refund_id": n}';
      throw invalid(why);
    }
    const id = parsed.data.refund_id;
    const refundId = typeof id === 'number' ? String(id) : requirePositiveInteger('onekey', id);
    return { refundId, eventId: null, eventType: null };
  },
};

function invalid(why: string): RefundHubError {
  return new RefundHubError('invalid_input', `onekey: not a refund notification: ${why}`, { provider: 'onekey', retryable: false });
}
