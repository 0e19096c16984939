import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The raw-bytes HMAC helpers used in both directions: verifying provider notifications and
 * signing our own webhooks. Comparisons are constant-time over decoded bytes.
 */

export type Bytes = string | Buffer | Uint8Array;

export function hmacSha256(secret: Bytes, ...parts: Bytes[]): Buffer {
  const h = createHmac('sha256', secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

export const hmacSha256Hex = (secret: Bytes, ...parts: Bytes[]): string => hmacSha256(secret, ...parts).toString('hex');
export const hmacSha256Base64 = (secret: Bytes, ...parts: Bytes[]): string => hmacSha256(secret, ...parts).toString('base64');

/** Constant-time equality of two byte strings; false (not a throw) on different lengths. */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length || a.length === 0) return false;
  return timingSafeEqual(a, b);
}

/** Compares an expected MAC with a hex signature as received. Malformed hex is simply unequal. */
export function hexSignatureMatches(expected: Buffer, received: string | undefined): boolean {
  if (!received || !/^[0-9a-fA-F]+$/.test(received.trim()) || received.trim().length % 2 !== 0) return false;
  return safeEqual(expected, Buffer.from(received.trim(), 'hex'));
}

/** Compares an expected MAC with a base64 signature as received. */
export function base64SignatureMatches(expected: Buffer, received: string | undefined): boolean {
  if (!received || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(received.trim())) return false;
  return safeEqual(expected, Buffer.from(received.trim(), 'base64'));
}

/** True when `timestampSeconds` is within `toleranceSeconds` of now (either direction). */
export function withinTolerance(timestampSeconds: number, nowMs: number, toleranceSeconds: number): boolean {
  if (!Number.isFinite(timestampSeconds)) return false;
  return Math.abs(nowMs / 1000 - timestampSeconds) <= toleranceSeconds;
}
