import { RefundHubError } from '../../errors.js';
import { base64SignatureMatches, hmacSha256 } from '../../signing/hmac.js';
import { requireOpaqueId } from '../shared.js';
import { SIGNED_NOTIFICATION_LIMITS, type IgnoredNotification, type NotificationInput, type NotificationSpec, type ParsedNotification } from '../types.js';
import type { TazapaySettings } from './config.js';
import { TazapayEventSchema } from './wire.js';

/**
 * Tazapay webhook verification (docs.tazapay.com/docs/webhook-authentication): header
 * `signature` = Base64(HMAC-SHA256(secret, event.id + rawBody + event.created_at)), where id
 * and created_at are the event's top-level values exactly as they appear in the JSON text.
 * There is no freshness check: Tazapay redelivers the same event (same created_at) for up to a
 * day or more (docs.tazapay.com/docs/retry-policy), and the signature already binds created_at.
 */
export const tazapayNotifications: NotificationSpec<TazapaySettings> = {
  signed: true,
  // Retried on 400/404/408/409/412/500 (docs.tazapay.com/docs/retry-policy): any 2xx ends it.
  ackStatus: 202,
  ...SIGNED_NOTIFICATION_LIMITS,
  parse(input: NotificationInput<TazapaySettings>): ParsedNotification | IgnoredNotification {
    const secret = input.settings.webhookSecret;
    if (!secret) {
      throw new RefundHubError('invalid_signature', 'tazapay: webhook secret is not configured (set REFUNDHUB_TAZAPAY_WEBHOOK_SECRET); unsigned notifications are not accepted', { provider: 'tazapay', retryable: false });
    }
    const signature = input.headers.signature;
    if (!signature || signature.trim() === '') {
      throw new RefundHubError('invalid_signature', 'tazapay: notification has no signature header', { provider: 'tazapay', retryable: false });
    }

    let json: unknown;
    try {
      json = JSON.parse(input.rawBody.toString('utf8'));
    } catch {
      throw new RefundHubError('invalid_input', 'tazapay: notification body is not JSON', { provider: 'tazapay', retryable: false });
    }
    // The signed string needs the event's own id and created_at; without them there is nothing to verify.
    const top = json && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
    if (!top || typeof top.id !== 'string' || typeof top.created_at !== 'string') {
      throw new RefundHubError('invalid_input', 'tazapay: notification is not an event (no id or created_at)', { provider: 'tazapay', retryable: false });
    }

    const expected = hmacSha256(secret, top.id, input.rawBody, top.created_at);
    if (!base64SignatureMatches(expected, signature)) {
      throw new RefundHubError('invalid_signature', 'tazapay: notification signature does not match', { provider: 'tazapay', retryable: false });
    }

    // Payin and payout events may share the endpoint (dashboard webhooks get every event type):
    // acknowledge them so Tazapay stops retrying.
    if (typeof top.type === 'string' && top.type !== '' && !top.type.toLowerCase().startsWith('refund.')) {
      return { ignored: true, reason: `event "${top.type.slice(0, 64)}" is not about a refund`, eventId: top.id.slice(0, 255), eventType: top.type.slice(0, 128) };
    }
    const event = TazapayEventSchema.safeParse(json);
    if (!event.success) {
      throw new RefundHubError('invalid_input', 'tazapay: notification is not a refund event with a data object', { provider: 'tazapay', retryable: false });
    }
    const claimed = event.data.data.status;
    return {
      refundId: requireOpaqueId('tazapay', event.data.data.id),
      eventId: event.data.id,
      eventType: event.data.type,
      claimedStatus: typeof claimed === 'string' && claimed !== '' ? claimed : null,
    };
  },
};
