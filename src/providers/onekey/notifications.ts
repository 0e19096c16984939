import { RefundHubError } from '../../errors.js';
import { requirePositiveInteger } from '../shared.js';
import type { NotificationSpec, ParsedNotification } from '../types.js';
import type { OnekeySettings } from './config.js';

/**
 * OneKey refund notifications: a POST with the body `{"refund_id": 168284}` on every status change,
 * no signature documented (refund-creation-endpoint/notifications page). It is only a hint: the
 * receiver re-fetches through the signed status call, so an unsigned body cannot forge a status.
 */
export const onekeyNotifications: NotificationSpec<OnekeySettings> = {
  signed: false,
  parse({ rawBody }): ParsedNotification {
    let body: unknown;
    try {
      body = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw invalid('body is not valid JSON');
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('body must be a JSON object');
    // The documented body is just {"refund_id": n}; extra fields are tolerated (a notification is
    // only a hint to re-fetch, and refusing one would just delay the update until the next poll).
    if (!('refund_id' in body)) throw invalid('body must carry "refund_id"');
    const id = (body as { refund_id: unknown }).refund_id;
    // A number in the notifications page, a string "80000001" in the refund guide: accept both.
    let refundId: string;
    if (typeof id === 'number') {
      if (!Number.isSafeInteger(id) || id <= 0) throw invalid('refund_id must be a positive integer');
      refundId = String(id);
    } else if (typeof id === 'string') {
      refundId = requirePositiveInteger('onekey', id);
    } else {
      throw invalid('refund_id must be a positive integer');
    }
    return { refundId, eventId: null, eventType: null };
  },
};

function invalid(why: string): RefundHubError {
  return new RefundHubError('invalid_input', `onekey: not a refund notification: ${why}`, { provider: 'onekey', retryable: false });
}
