import { z } from 'zod';
import { RefundHubError } from '../../errors.js';
import { requireUuid } from '../shared.js';
import { UNSIGNED_NOTIFICATION_LIMITS, type IgnoredNotification, type NotificationSpec, type ParsedNotification } from '../types.js';
import type { StanSettings } from './config.js';

function notANotification(why: string): RefundHubError {
  return new RefundHubError('invalid_input', `stan: not a refund notification (${why})`, { provider: 'stan', retryable: false });
}

/** A Stan status word: the payment vocabulary is open (unknown words are tolerated), but it is a bounded word. */
const statusWord = z.string().regex(/^[A-Za-z_]{1,64}$/);

/**
 * The only body we accept: the ids and status of the object that changed, nothing else. Strict,
 * because nothing in an unsigned body is trusted or needed beyond the ids, and every extra byte
 * accepted is a byte anyone can make us parse and store.
 */
const stanNotificationSchema = z.strictObject({
  refund_id: z.string().max(64).optional(),
  payment_id: z.string().max(64).optional(),
  status: statusWord.nullish(),
});

/**
 * Stan documents no refund webhook payload, signature or retry policy: it calls a single URL
 * "when a payment status changes" (docs.stan-app.fr/stan-checkout), and Stan's own Sylius plugin
 * verifies nothing (stan-business/BrightwebSyliusStanPayPlugin `src/Action/NotifyAction.php`).
 * So a notification is an unauthenticated hint: `{refund_id, payment_id?, status?}` names the
 * refund to re-fetch with authenticated credentials; `{payment_id, status?}` (a payment changed)
 * is acknowledged and ignored. Nothing in an unsigned body is trusted, not even for
 * de-duplication (anyone can replay or forge it, and a status word repeating, e.g. pending ->
 * holding -> pending, is a real change): no event id.
 */
export const stanNotifications: NotificationSpec<StanSettings> = {
  signed: false,
  // No retry policy is documented; 200 is the one answer every webhook sender counts as delivered.
  ackStatus: 200,
  ...UNSIGNED_NOTIFICATION_LIMITS,

  parse({ rawBody }): ParsedNotification | IgnoredNotification {
    let body: unknown;
    try {
      body = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw notANotification('body is not JSON');
    }
    const parsed = stanNotificationSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.join('.') || (issue?.code === 'unrecognized_keys' ? 'unexpected field' : '(root)');
      throw notANotification(`expected {refund_id, payment_id?, status?}; ${where}: ${issue?.code ?? 'invalid'}`);
    }
    const { refund_id: refundIdRaw, payment_id: paymentId } = parsed.data;
    if (refundIdRaw === undefined) {
      if (paymentId === undefined) throw notANotification('no refund_id');
      requireUuid('stan', paymentId, 'payment_id');
      return { ignored: true, reason: 'a payment notification, not about a refund', eventId: null, eventType: null };
    }
    return { refundId: requireUuid('stan', refundIdRaw, 'refund_id'), eventId: null, eventType: null };
  },
};
