import { RefundHubError } from '../../errors.js';
import { requireUuid } from '../shared.js';
import type { NotificationSpec } from '../types.js';
import type { StanSettings } from './config.js';

function notANotification(why: string): RefundHubError {
  return new RefundHubError('invalid_input', `stan: not a refund notification (${why})`, { provider: 'stan', retryable: false });
}

/**
 * Stan documents no refund webhook payload, signature or retry policy: it calls a single URL
 * "when a payment status changes" (docs.stan-app.fr/stan-checkout), and Stan's own Sylius plugin
 * verifies nothing (stan-business/BrightwebSyliusStanPayPlugin `src/Action/NotifyAction.php`).
 * So a notification is an unauthenticated hint: we accept a JSON object naming a `refund_id`
 * (UUID), and the refund is always re-fetched with authenticated credentials. Nothing in an
 * unsigned body is trusted, not even for de-duplication (anyone can replay or forge it, and a
 * status word repeating, e.g. pending -> holding -> pending, is a real change): no event id.
 */
export const stanNotifications: NotificationSpec<StanSettings> = {
  signed: false,

  parse({ rawBody }) {
    let body: unknown;
    try {
      body = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw notANotification('body is not JSON');
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw notANotification('body is not a JSON object');
    const { refund_id: refundIdRaw, status } = body as Record<string, unknown>;
    if (typeof refundIdRaw !== 'string') throw notANotification('no refund_id');
    if (status !== undefined && status !== null && typeof status !== 'string') throw notANotification('status is not a string');
    const refundId = requireUuid('stan', refundIdRaw);
    return { refundId, eventId: null, eventType: null };
  },
};
