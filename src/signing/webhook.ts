import { hexSignatureMatches, hmacSha256, hmacSha256Hex, withinTolerance } from './hmac.js';

/**
 * RefundHub's own webhook signatures, in the scheme merchants know from Stripe:
 * `RefundHub-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`.
 * The timestamp is inside the MAC, so a captured request cannot be replayed outside the
 * tolerance window. Receivers call `verifyWebhook` with the RAW body (before any JSON parsing).
 */

/** The header RefundHub signs every outgoing webhook with. */
export const WEBHOOK_SIGNATURE_HEADER = 'RefundHub-Signature';
/** Default accepted clock difference between sender and receiver, in seconds. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

/** Builds the `RefundHub-Signature` header value for `payload` (the exact body text sent). */
export function signWebhook(payload: string, secret: string, timestampSeconds: number): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new TypeError('signWebhook: timestampSeconds must be a non-negative integer (unix seconds)');
  }
  return `t=${timestampSeconds},v1=${hmacSha256Hex(secret, `${timestampSeconds}.`, payload)}`;
}

export interface VerifyWebhookOptions {
  /** Largest accepted difference between `t` and now, in seconds; default 300. */
  toleranceSeconds?: number;
  /** Now, in epoch milliseconds (default `Date.now()`); for tests and injected clocks. */
  now?: number;
}

/**
 * True when `header` carries a valid signature of `rawBody` by `secret` with a timestamp within
 * tolerance. Several `v1=` entries are accepted (any may match: secret rotation); other schemes
 * are ignored. Anything malformed (missing or repeated `t`, non-numeric `t`, no `v1`, bad hex)
 * is simply false, never a throw. Comparison is constant-time.
 */
export function verifyWebhook(
  rawBody: string | Buffer,
  header: string | undefined,
  secret: string,
  options: VerifyWebhookOptions = {},
): boolean {
  if (typeof header !== 'string' || header.length === 0 || header.length > 8192) return false;
  if (typeof secret !== 'string' || secret.length === 0) return false;
  if (typeof rawBody !== 'string' && !Buffer.isBuffer(rawBody)) return false;
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return false;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined) return false;
      timestamp = value;
    } else if (key === 'v1') {
      signatures.push(value);
    }
  }
  if (timestamp === undefined || !/^\d{1,15}$/.test(timestamp) || signatures.length === 0) return false;
  const t = Number(timestamp);
  const tolerance = options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  if (!(tolerance >= 0) || !withinTolerance(t, options.now ?? Date.now(), tolerance)) return false;
  const expected = hmacSha256(secret, `${timestamp}.`, rawBody);
  let ok = false;
  // Check every candidate (no early exit) so timing does not reveal which entry matched.
  for (const sig of signatures) {
    if (hexSignatureMatches(expected, sig)) ok = true;
  }
  return ok;
}
