import { RefundHubError } from '../../errors.js';
import { hexSignatureMatches, hmacSha256 } from '../../signing/hmac.js';
import { requireOpaqueId } from '../shared.js';
import { SIGNED_NOTIFICATION_LIMITS, type IgnoredNotification, type NotificationInput, type NotificationSpec, type ParsedNotification } from '../types.js';
import type { ZiinaSettings } from './config.js';
import { ZIINA_ENV } from './config.js';
import { ZIINA_REFUND_EVENT, ziinaNotificationSchema } from './wire.js';

/** A parsed notification plus the provider status the (signed) body claims: used only to skip a redundant re-fetch. */
export type ZiinaParsedNotification = ParsedNotification & { claimedStatus: string | null };

/** The header carrying hex HMAC-SHA256(secret, raw body) (docs.ziina.com/api-reference/webhook). */
export const ZIINA_SIGNATURE_HEADER = 'x-hmac-signature';

function signatureError(message: string): RefundHubError {
  return new RefundHubError('invalid_signature', `ziina: ${message}`, { provider: 'ziina', retryable: false });
}

function inputError(message: string): RefundHubError {
  return new RefundHubError('invalid_input', `ziina: ${message}`, { provider: 'ziina', retryable: false });
}

/**
 * Verifies a Ziina webhook over the raw bytes and extracts the refund id. Ziina signs without a
 * timestamp or event id, so replays cannot be detected from the signature: the event id is
 * `<refund id>:<status>`, which makes a redelivery of the same change a duplicate. The signed body's
 * status is returned as `claimedStatus`: the receiver skips the re-fetch only when the same event was
 * processed already and the stored provider status already equals it.
 */
export const ziinaNotifications: NotificationSpec<ZiinaSettings> = {
  signed: true,
  // "A non-OK response is retried 3 times" (docs.ziina.com/api-reference/webhook): any 2xx is OK.
  ackStatus: 202,
  ...SIGNED_NOTIFICATION_LIMITS,
  parse({ rawBody, headers, settings }: NotificationInput<ZiinaSettings>): ZiinaParsedNotification | IgnoredNotification {
    const secret = settings.webhookSecret;
    if (!secret) throw signatureError(`webhook secret is not configured (set ${ZIINA_ENV.webhookSecret}); unsigned notifications are not accepted`);
    const received = headers[ZIINA_SIGNATURE_HEADER];
    if (received === undefined || received.trim() === '') throw signatureError('missing X-Hmac-Signature header');
    if (!hexSignatureMatches(hmacSha256(secret, rawBody), received)) throw signatureError('X-Hmac-Signature does not match the body');

    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw inputError('notification body is not valid JSON');
    }
    const event = json && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>).event : undefined;
    if (typeof event !== 'string' || event === '') throw inputError('notification is not a Ziina event (no "event" name)');
    // payment_intent.status.updated is a real Ziina event on the same (single, per-account) URL:
    // acknowledge it, or Ziina retries it and may give up on the URL.
    if (event !== ZIINA_REFUND_EVENT) return { ignored: true, reason: `event "${event.slice(0, 64)}" is not about a refund`, eventId: null, eventType: event.slice(0, 128) };
    const parsed = ziinaNotificationSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw inputError(`notification is not a Ziina event with a data object (${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'})`);
    }
    const { data } = parsed.data;
    const refundId = requireOpaqueId('ziina', data.id);
    return { refundId, eventId: `${refundId}:${data.status}`, eventType: event, claimedStatus: typeof data.status === 'string' && data.status !== '' ? data.status : null };
  },
};
