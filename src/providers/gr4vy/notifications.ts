import { RefundHubError } from '../../errors.js';
import { hexSignatureMatches, hmacSha256, withinTolerance } from '../../signing/hmac.js';
import { requireUuid } from '../shared.js';
import { SIGNED_NOTIFICATION_LIMITS, type IgnoredNotification, type NotificationSpec, type ParsedNotification } from '../types.js';
import type { Gr4vySettings } from './config.js';

/** A parsed notification plus the refund status the (signed) event's target claims, if it carries one. */
export type Gr4vyParsedNotification = ParsedNotification & { claimedStatus: string | null };

/**
 * Gr4vy webhooks (docs.gr4vy.com/guides/features/webhooks/signatures): hex HMAC-SHA256 of
 * `timestamp + "." + rawBody` in `X-Gr4vy-Webhook-Signatures`, a comma-separated list with one
 * entry per active secret (so secrets can rotate): any match is accepted. Unlike the SDK's
 * `verifyWebhook` (tolerance 0 = no check, non-constant-time compare) we always check freshness.
 */

const DEFAULT_TOLERANCE_S = 300;

function badSignature(message: string): RefundHubError {
  return new RefundHubError('invalid_signature', `gr4vy: ${message}`, { provider: 'gr4vy', retryable: false });
}

function badInput(message: string): RefundHubError {
  return new RefundHubError('invalid_input', `gr4vy: ${message}`, { provider: 'gr4vy', retryable: false });
}

/** Verifies `X-Gr4vy-Webhook-*` signatures over the raw body and extracts `target.id` from `refund.*` events. */
export const gr4vyNotifications: NotificationSpec<Gr4vySettings> = {
  signed: true,
  // "Acknowledge with a 2xx within 5000 ms", else retried for up to 7 days
  // (docs.gr4vy.com/guides/features/webhooks/technical-considerations).
  ackStatus: 202,
  ...SIGNED_NOTIFICATION_LIMITS,

  parse({ rawBody, headers, settings, now, toleranceSeconds }): Gr4vyParsedNotification | IgnoredNotification {
    const secret = settings.webhookSecret;
    if (!secret) throw badSignature('webhook secret is not configured (REFUNDHUB_GR4VY_WEBHOOK_SECRET); unsigned notifications are not accepted');
    const timestamp = headers['x-gr4vy-webhook-timestamp']?.trim();
    const signatures = headers['x-gr4vy-webhook-signatures'];
    if (!timestamp || !signatures) throw badSignature('missing X-Gr4vy-Webhook-Timestamp or X-Gr4vy-Webhook-Signatures header');
    if (!/^\d{1,12}$/.test(timestamp)) throw badSignature('X-Gr4vy-Webhook-Timestamp is not a unix timestamp');
    if (!withinTolerance(Number(timestamp), now, toleranceSeconds ?? DEFAULT_TOLERANCE_S)) throw badSignature('X-Gr4vy-Webhook-Timestamp is outside the accepted tolerance');

    const expected = hmacSha256(secret, timestamp, '.', rawBody);
    let matched = false;
    // Check every listed signature (no early exit) so timing does not reveal which one matched.
    for (const candidate of signatures.split(',')) matched = hexSignatureMatches(expected, candidate.trim()) || matched;
    if (!matched) throw badSignature('signature does not match');

    let event: unknown;
    try {
      event = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw badInput('notification body is not JSON');
    }
    if (!event || typeof event !== 'object' || Array.isArray(event)) throw badInput('notification body is not an event object');
    const { type, id, name, target } = event as Record<string, unknown>;
    if (type !== 'event' || typeof name !== 'string' || name === '') throw badInput('notification is not a Gr4vy event');
    const webhookId = headers['x-gr4vy-webhook-id']?.trim();
    // Transaction, buyer and other events come to the same subscription: acknowledge them.
    if (!name.startsWith('refund.')) {
      return { ignored: true, reason: `event "${name.slice(0, 64)}" is not about a refund`, eventId: (webhookId || (typeof id === 'string' ? id : '')).slice(0, 255) || null, eventType: name.slice(0, 128) };
    }
    const refundId = target && typeof target === 'object' ? (target as Record<string, unknown>).id : undefined;
    if (typeof refundId !== 'string') throw badInput('refund event has no refund id in target.id');
    const refundUuid = requireUuid('gr4vy', refundId);

    // The target is the refund object when Gr4vy embeds it; its status is only used to skip a
    // redundant re-fetch of an event already processed, never stored.
    const targetStatus = (target as Record<string, unknown>).status;
    return {
      refundId: refundUuid,
      // X-Gr4vy-Webhook-ID is stable across retries (docs.gr4vy.com/guides/features/webhooks/technical-considerations).
      eventId: webhookId || (typeof id === 'string' && id !== '' ? id : null),
      eventType: name,
      claimedStatus: typeof targetStatus === 'string' && targetStatus !== '' ? targetStatus : null,
    };
  },
};
