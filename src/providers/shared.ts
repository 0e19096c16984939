import type { z } from 'zod';
import type { ProviderId } from '../domain/refund.js';
import { RefundHubError } from '../errors.js';
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

export function requireUuid(provider: ProviderId, id: string): string {
  const v = String(id ?? '').trim();
  if (!UUID_RE.test(v)) throw new RefundHubError('invalid_input', `${provider}: refund id ${describe(v)} is not a UUID`, { provider, retryable: false });
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
