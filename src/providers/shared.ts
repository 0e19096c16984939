import type { z } from 'zod';
import type { MoneyReading, NormalizedMoney } from '../domain/money.js';
import type { ProviderId, Refund } from '../domain/refund.js';
import { RefundHubError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RawSettings } from './types.js';

/**
 * Small helpers every provider folder shares: id checks, wire validation and env reading. They
 * keep each connector declarative and each error message in one voice.
 */

/** A UUID in any version, either case (Stan and Gr4vy refund ids). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Opaque ids (Ziina, Tazapay): printable, no whitespace or path tricks, bounded.
const OPAQUE_RE = /^[A-Za-z0-9_.:~-]{1,255}$/;

function describe(id: string): string {
  const shown = id.length > 40 ? `${id.slice(0, 40)}...` : id;
  return JSON.stringify(shown);
}

/** `field` names what is checked in the message (a notification also carries a payment id). */
export function requireUuid(provider: ProviderId, id: string, field = 'refund id'): string {
  const v = String(id ?? '').trim();
  if (!UUID_RE.test(v)) throw new RefundHubError('invalid_input', `${provider}: ${field} ${describe(v)} is not a UUID`, { provider, retryable: false });
  return v.toLowerCase();
}

export function requirePositiveInteger(provider: ProviderId, id: string): string {
  const v = String(id ?? '').trim();
  if (!/^[1-9]\d{0,17}$/.test(v)) throw new RefundHubError('invalid_input', `${provider}: refund id ${describe(v)} is not a positive integer`, { provider, retryable: false });
  return v;
}

export function requireOpaqueId(provider: ProviderId, id: string): string {
  const v = String(id ?? '').trim();
  if (!OPAQUE_RE.test(v) || v === '.' || v === '..') throw new RefundHubError('invalid_input', `${provider}: refund id ${describe(v)} is malformed`, { provider, retryable: false });
  return v;
}

/**
 * Reports a provider oddity (an unknown currency, a negative amount) once per kind: a provider
 * that sends the same quirk on every refund gives one log line, not one per fetch. Each connector
 * holds one, so "once" means once per provider account for the life of the client.
 */
export type WarnOnce = (kind: string, fields: Record<string, unknown>, message: string) => void;

export function createWarnOnce(logger: Logger | undefined): WarnOnce {
  const seen = new Set<string>();
  return (kind, fields, message) => {
    if (seen.has(kind)) return;
    seen.add(kind);
    // The connector's logger already carries provider and account (client.ts binds them).
    logger?.warn({ kind, ...fields }, message);
  };
}

/** The money fields of a reading, after warning (once) about why an amount was left null. */
export function reportedMoney(provider: ProviderId, reading: MoneyReading, warn: WarnOnce, refundId: string): NormalizedMoney {
  if (reading.issue !== null) warn(`money.${reading.issue}`, { refundId }, `${provider}: refund ${refundId}: ${reading.message}`);
  return { amount: reading.amount, currency: reading.currency, amountDecimal: reading.amountDecimal };
}

/** How a provider compares refund ids: opaque strings exactly, UUIDs without case, integers by value. */
export type IdMatcher = (requested: string, returned: string) => boolean;
export const sameOpaqueId: IdMatcher = (requested, returned) => requested === returned;
export const sameUuid: IdMatcher = (requested, returned) => requested.toLowerCase() === returned.toLowerCase();
// OneKey shows its integer id both as 80000001 and "80000001" (providers.md): compare the numbers.
export const sameInteger: IdMatcher = (requested, returned) => /^\d{1,30}$/.test(returned.trim()) && BigInt(requested) === BigInt(returned.trim());

/**
 * The checks every connector applies to what it normalized, so no provider can skip them:
 * the response must be about the refund that was asked for (a proxy or cache answering for
 * another refund would otherwise overwrite this one's state), and only a failed or canceled
 * refund has a failure (error fields on a succeeded refund stay in `raw`). Returns the refund
 * under the id as requested (canonical case).
 */
export function confirmRefund(provider: ProviderId, requestedId: string, refund: Refund, sameId: IdMatcher): Refund {
  if (!sameId(requestedId, refund.id)) {
    throw new RefundHubError('invalid_response', `${provider}: response is for a different refund id than requested`, { provider, retryable: false });
  }
  const failed = refund.status === 'failed' || refund.status === 'canceled';
  return { ...refund, id: requestedId, failure: failed ? refund.failure : null };
}

/** Validates a provider payload at the edge; a mismatch is the provider's fault, not ours. */
export function parseWire<T extends z.ZodType>(provider: ProviderId, schema: T, value: unknown, what = 'refund'): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '(root)';
    throw new RefundHubError('invalid_response', `${provider}: ${what} response does not match the documented schema at ${where}: ${issue?.message ?? 'invalid'}`, { provider, retryable: false, cause: r.error });
  }
  return r.data;
}

/** Picks the set variables of a provider into raw settings: `{ token: 'REFUNDHUB_ZIINA_TOKEN', ... }`. */
export function readEnv(env: Record<string, string | undefined>, mapping: Record<string, string>): RawSettings {
  const out: RawSettings = {};
  for (const [key, name] of Object.entries(mapping)) {
    const v = env[name];
    if (v !== undefined && v.trim() !== '') out[key] = v.trim();
  }
  return out;
}

/** Throws not_configured naming every missing setting (by its variable name), never a value. */
export function requireSettings(provider: ProviderId, raw: RawSettings, required: Record<string, string>): void {
  const missing = Object.entries(required)
    .filter(([key]) => typeof raw[key] !== 'string' || (raw[key] as string).trim() === '')
    .map(([, label]) => label);
  if (missing.length) throw new RefundHubError('not_configured', `${provider} is not configured: set ${missing.join(', ')}`, { provider, retryable: false });
}

export function optionalString(raw: RawSettings, key: string): string | undefined {
  const v = raw[key];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** A base URL must be http(s); anything else is a configuration error, reported without the value's secrets. */
export function requireBaseUrl(provider: ProviderId, value: string, label: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new RefundHubError('not_configured', `${provider}: ${label} is not a valid URL`, { provider, retryable: false });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RefundHubError('not_configured', `${provider}: ${label} must be an http(s) URL`, { provider, retryable: false });
  return value.replace(/\/+$/, '');
}
