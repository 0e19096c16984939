import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { hmacSha256Hex } from '../../signing/hmac.js';
import type { EmulatorResponse, EmulatorSpec, NativeRefund } from '../types.js';
import type { Gr4vySettings } from './config.js';
import { loadGr4vyKey } from './keys.js';
import { verifyGr4vyJwt } from './jwt.js';
import { UUID_RE } from '../shared.js';

/**
 * An emulator of Gr4vy's `GET /refunds/{refund_id}`: full Refund objects exactly as
 * specs/gr4vy.yaml describes them (additionalProperties: false), ES512 JWT verification against
 * the public key derived from the configured private key, and Gr4vy's native error bodies.
 */

const ROUTE_RE = /^\/refunds\/([^/]+)\/?$/;
/** Seconds of clock skew tolerated on `exp`/`nbf`. */
const JWT_LEEWAY_S = 5;
const VERIFIED_CACHE_MAX = 10_000;

/** Default `code` and `message` of Gr4vy's Error<status> schemas (spec defaults). */
const ERRORS: Record<number, { code: string; message: string }> = {
  400: { code: 'bad_request', message: 'Generic error' },
  401: { code: 'unauthorized', message: 'No valid API authentication found' },
  403: { code: 'forbidden', message: 'Generic error' },
  404: { code: 'not_found', message: 'The resource could not be found' },
  405: { code: 'method_not_allowed', message: 'Method Not Allowed' },
  409: { code: 'duplicate_record', message: 'Generic error' },
  425: { code: 'too_early', message: 'Generic error' },
  429: { code: 'too_many_requests', message: 'Generic error' },
  500: { code: 'server_error', message: 'Request could not be processed' },
  502: { code: 'bad_gateway', message: 'Request could not be processed' },
  504: { code: 'gateway_timeout', message: 'Request could not be processed' },
};

/** Gr4vy's error body `{type, code, status, message, details}`; 422 is FastAPI's `{detail: [...]}`. */
export function gr4vyError(status: number, message?: string): EmulatorResponse {
  if (status === 422) {
    return { status, body: { detail: [{ loc: ['path', 'refund_id'], msg: message ?? 'Input should be a valid UUID', type: 'uuid_parsing' }] } };
  }
  const known = ERRORS[status] ?? (status >= 500 ? ERRORS[500]! : ERRORS[400]!);
  return { status, body: { type: 'error', code: known.code, status, message: message ?? known.message, details: [] } };
}

/** Gr4vy writes timestamps with an explicit offset (`2013-07-16T19:23:00.000+00:00` in the spec). */
export function gr4vyTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '+00:00');
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Gr4vy's `reconciliation_id`: the UUID's 128 bits in base62, 22 characters. */
export function base62Uuid(uuid: string): string {
  let n = BigInt(`0x${uuid.replace(/-/g, '')}`);
  let out = '';
  while (n > 0n) {
    out = BASE62[Number(n % 62n)]! + out;
    n /= 62n;
  }
  return out.padStart(22, '0');
}

// Input ids must be UUIDs: the spec types them `format: uuid`.
const uuid = z.string().regex(UUID_RE, 'must be a UUID');
const nullable = z.string().nullable();

/** What the control API accepts: Refund fields only (the spec forbids others), each optional. */
const inputSchema = z.strictObject({
  type: z.literal('refund').optional(),
  id: uuid.optional(),
  transaction_id: uuid.optional(),
  payment_service_refund_id: z.string().min(1).max(300).nullable().optional(),
  // Any word, so tests can exercise statuses Gr4vy has not documented yet.
  status: z.string().min(1).optional(),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an upper-case ISO 4217 code').optional(),
  amount: z.number().int().min(0).max(99_999_999).optional(),
  reason: nullable.optional(),
  target_type: z.string().min(1).optional(),
  target_id: uuid.nullable().optional(),
  reconciliation_id: z.string().optional(),
  external_identifier: nullable.optional(),
  transaction_reconciliation_id: z.string().optional(),
  transaction_external_identifier: nullable.optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  creator: z.strictObject({ id: uuid, name: z.string(), email_address: z.string() }).nullable().optional(),
  error_code: nullable.optional(),
  raw_response_code: nullable.optional(),
  raw_response_description: nullable.optional(),
});

/** Plausible failure details Gr4vy fills in when a payment service fails or declines a refund. */
const FAILURE_DETAILS: Record<string, { error_code: string; raw_response_code: string; raw_response_description: string }> = {
  failed: { error_code: 'service_error', raw_response_code: 'E500', raw_response_description: 'The payment service could not process the refund' },
  declined: { error_code: 'refund_declined', raw_response_code: 'R05', raw_response_description: 'Refund declined by the issuer' },
};

/** Webhook event name for a refund status (the event says `pending` where the resource says `processing`). */
export function gr4vyEventName(status: unknown): string {
  const s = String(status).toLowerCase();
  return s === 'processing' ? 'refund.pending' : `refund.${s}`;
}

// Verified tokens per emulator settings object: a benchmark's thousands of requests with one token
// cost one ECDSA verification. Keyed by settings so a token never outlives the key that verified it.
const verified = new WeakMap<Gr4vySettings, Map<string, number>>();

function authenticate(authorization: string | undefined, settings: Gr4vySettings, nowMs: number): EmulatorResponse | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!m) return gr4vyError(401);
  const token = m[1]!;
  let cache = verified.get(settings);
  if (!cache) verified.set(settings, (cache = new Map()));
  const exp = cache.get(token);
  if (exp !== undefined) {
    if (nowMs / 1000 <= exp + JWT_LEEWAY_S) return undefined;
    cache.delete(token);
    return gr4vyError(401, 'The API token has expired');
  }
  const result = verifyGr4vyJwt(token, loadGr4vyKey(settings.privateKey), nowMs, JWT_LEEWAY_S);
  if (!result.ok) return gr4vyError(result.status, result.message);
  if (cache.size >= VERIFIED_CACHE_MAX) cache.clear();
  cache.set(token, result.exp);
  return undefined;
}

/** Gr4vy's refund endpoint, errors, lifecycles, signed webhooks and demo refunds, mounted under `/gr4vy`. */
export const gr4vyEmulator: EmulatorSpec<Gr4vySettings> = {
  prefix: 'gr4vy',

  create(input, now) {
    const parsed = inputSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`gr4vy refund: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
    }
    const v = parsed.data;
    const id = (v.id ?? randomUUID()).toLowerCase();
    const transactionId = (v.transaction_id ?? randomUUID()).toLowerCase();
    const at = gr4vyTimestamp(now);
    const status = v.status ?? 'processing';
    const refund: NativeRefund = {
      type: 'refund',
      id,
      transaction_id: transactionId,
      payment_service_refund_id: v.payment_service_refund_id !== undefined ? v.payment_service_refund_id : status === 'succeeded' ? `re_${base62Uuid(id).slice(0, 14)}` : null,
      status,
      currency: v.currency ?? 'USD',
      amount: v.amount ?? 1299,
      reason: v.reason ?? null,
      target_type: v.target_type ?? 'payment-method',
      target_id: v.target_id !== undefined ? v.target_id : randomUUID(),
      reconciliation_id: v.reconciliation_id ?? base62Uuid(id),
      external_identifier: v.external_identifier ?? null,
      transaction_reconciliation_id: v.transaction_reconciliation_id ?? base62Uuid(transactionId),
      // The order reference the transaction was created with; the refund's own is the caller's to give.
      transaction_external_identifier: v.transaction_external_identifier !== undefined ? v.transaction_external_identifier : `order-${transactionId.slice(0, 8)}`,
      created_at: v.created_at ?? at,
      updated_at: v.updated_at ?? v.created_at ?? at,
      creator: v.creator ?? null,
      error_code: v.error_code ?? null,
      raw_response_code: v.raw_response_code ?? null,
      raw_response_description: v.raw_response_description ?? null,
    };
    // A refund created directly in a failed state looks as Gr4vy would report it, unless the caller said otherwise.
    const failure = FAILURE_DETAILS[status];
    if (failure && v.error_code === undefined && v.raw_response_code === undefined && v.raw_response_description === undefined) Object.assign(refund, failure);
    return refund;
  },

  idOf(refund) {
    return String(refund.id).toLowerCase();
  },

  withStatus(refund, status, now) {
    const next: NativeRefund = { ...refund, status, updated_at: gr4vyTimestamp(now) };
    const failure = FAILURE_DETAILS[status];
    if (failure && next.error_code == null && next.raw_response_description == null) Object.assign(next, failure);
    if (status === 'succeeded' && next.payment_service_refund_id == null) next.payment_service_refund_id = `re_${base62Uuid(String(refund.id)).slice(0, 14)}`;
    return next;
  },

  handle(req, ctx) {
    const denied = authenticate(req.headers.authorization, ctx.settings, ctx.now());
    if (denied) return denied;
    const m = ROUTE_RE.exec(req.path);
    if (!m) return gr4vyError(404);
    if (req.method !== 'GET') return gr4vyError(405);
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return gr4vyError(422);
    }
    if (!UUID_RE.test(id)) return gr4vyError(422);
    const refund = ctx.findRefund(id.toLowerCase());
    if (!refund) return gr4vyError(404);
    return { status: 200, body: refund };
  },

  errorResponse(status) {
    return gr4vyError(status);
  },

  notification(refund, settings, now) {
    const body = JSON.stringify({
      type: 'event',
      id: randomUUID(),
      name: gr4vyEventName(refund.status),
      created_at: gr4vyTimestamp(now),
      merchant_account_id: settings.merchantAccountId ?? 'default',
      ...(settings.instanceId ? { gr4vy_id: settings.instanceId } : {}),
      environment: settings.environment,
      target: refund,
    });
    const headers: Record<string, string> = { 'x-gr4vy-webhook-id': randomUUID() };
    // Gr4vy only signs when the subscription has a secret; our receiver then rejects the delivery.
    if (settings.webhookSecret) {
      const timestamp = String(Math.floor(now / 1000));
      headers['x-gr4vy-webhook-timestamp'] = timestamp;
      headers['x-gr4vy-webhook-signatures'] = hmacSha256Hex(settings.webhookSecret, timestamp, '.', body);
    }
    return { headers, body };
  },

  demoRefunds() {
    return [
      {
        refund: { id: '6a1d4e46-14ed-4fe1-a45f-eff4e025d211', transaction_id: '7099948d-7286-47e4-aad8-b68f7eb44591', status: 'processing', currency: 'EUR', amount: 1299, reason: 'Customer returned the item', external_identifier: 'demo-refund-1' },
        lifecycle: [{ status: 'succeeded', afterMs: 15_000 }],
      },
      {
        refund: { id: 'c3f1b0a2-5d4e-4f6a-8b7c-9d0e1f2a3b4c', transaction_id: 'f0e1d2c3-b4a5-4968-8776-655443322110', status: 'processing', currency: 'GBP', amount: 4350, reason: 'Duplicate charge', external_identifier: 'demo-refund-2' },
        lifecycle: [{ status: 'declined', afterMs: 25_000 }],
      },
    ];
  },
};
