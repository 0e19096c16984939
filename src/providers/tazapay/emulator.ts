import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { hmacSha256Base64 } from '../../signing/hmac.js';
import { requireOpaqueId } from '../shared.js';
import type { EmulatorResponse, EmulatorSpec, NativeRefund, OutgoingNotification } from '../types.js';
import type { TazapaySettings } from './config.js';
import { mapTazapayStatus } from './status.js';
import type { TazapayErrorBody } from './wire.js';
import { TazapayRefundSchema } from './wire.js';

/**
 * Tazapay's refund endpoint as the emulator serves it under `/tazapay`: `GET /v3/refund/{id}`
 * behind HTTP Basic auth, the `{status, message, data}` envelope and Tazapay's error envelope
 * `{status: "error", message, errors: [{code, message}]}`.
 */

const ALPHANUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
function randomId(prefix: string, length = 20): string {
  let s = prefix;
  for (let i = 0; i < length; i++) s += ALPHANUM[randomInt(ALPHANUM.length)];
  return s;
}

/** The refund object's own format: `2023-07-23 23:59:56`, UTC, no zone (docs.tazapay.com/reference/refund-object). */
export function tazapayTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** RFC3339Nano with 9 fractional digits, as on webhook events (docs.tazapay.com/docs/webhook-authentication). */
export function rfc3339Nano(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-01-01T00:00:00.123Z
  const subMs = String(randomInt(1_000_000)).padStart(6, '0');
  return `${iso.slice(0, 23)}${subMs}Z`;
}

function errorBody(message: string, code: number, detail: string): TazapayErrorBody {
  return { status: 'error', message, errors: [{ code, message: detail }] };
}

/** Tazapay's native error response for a status (generic codes: developer.tazapay.com ...appendix/error-codes/generic). */
export function tazapayErrorResponse(status: number): EmulatorResponse {
  switch (status) {
    case 401:
      return { status, body: errorBody('Unauthorized', 111, 'invalid api key') };
    case 404:
      // The per-resource "not found" code is unconfirmed (providers.md open question 4).
      return { status, body: errorBody('Refund not found', 404, 'refund not found') };
    case 429:
      return { status, body: errorBody('Too Many Requests', 110, 'too many requests') };
    default: {
      const text = STATUS_CODES[status] ?? 'Error';
      return { status, body: errorBody(text, status, text.toLowerCase()) };
    }
  }
}

function unauthorized(code: number, detail: string): EmulatorResponse {
  return { status: 401, body: errorBody('Unauthorized', code, detail) };
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
/** Constant-time, and length-independent since both sides are hashed first. */
const sameSecret = (a: string, b: string): boolean => timingSafeEqual(sha256(a), sha256(b));

/** Checks `Authorization: Basic base64(key:secret)` as Tazapay does (401 codes 108, 109, 111). */
function checkAuth(header: string | undefined, settings: TazapaySettings): EmulatorResponse | null {
  if (!header || header.trim() === '') return unauthorized(109, 'empty basic auth');
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header.trim());
  if (!m) return unauthorized(108, 'invalid basic auth');
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return unauthorized(108, 'invalid basic auth');
  // Both compared, no short-circuit: which half was wrong is not observable by timing.
  const keyOk = sameSecret(decoded.slice(0, colon), settings.apiKey);
  const secretOk = sameSecret(decoded.slice(colon + 1), settings.apiSecret);
  return keyOk && secretOk ? null : unauthorized(111, 'invalid api key');
}

/** Webhook event per unified status (developer.tazapay.com ...refund/refund-webhooks lists only these three). */
function eventType(status: string): string | null {
  switch (mapTazapayStatus(status)) {
    case 'pending':
      return 'refund.pending';
    case 'succeeded':
      return 'refund.succeeded';
    // No refund.cancelled event is documented; a withdrawn refund is reported as not refunded.
    case 'failed':
    case 'canceled':
      return 'refund.failed';
    default:
      return null;
  }
}

const DEFAULT_FAILURE = 'Refund rejected by the issuing bank';

export const tazapayEmulator: EmulatorSpec<TazapaySettings> = {
  prefix: 'tazapay',

  create(input: NativeRefund, now: number): NativeRefund {
    const currency = typeof input.currency === 'string' ? input.currency : 'USD';
    const amount = typeof input.amount === 'number' ? input.amount : 1050;
    const reference = `order-${randomId('').slice(0, 8)}`;
    const refund: NativeRefund = {
      id: randomId('rfd_'),
      object: 'refund',
      payin: randomId('chk_'),
      amount,
      currency,
      customer_receives: { currency, amount },
      payment_attempt: randomId('pat_'),
      reason: 'Requested by customer',
      // The merchant's own order number and a little metadata, as a shop's checkout would send.
      metadata: { order_id: reference, channel: 'web' },
      status: 'pending',
      status_description: '',
      webhook_url: '',
      created_at: tazapayTimestamp(now),
      balance_transaction: randomId('btr_'),
      reference_id: reference,
      holding_currency: currency,
      ...input,
    };
    // A stored refund must be fetchable and serve a spec-valid body; reject what would not.
    requireOpaqueId('tazapay', String(refund.id));
    const check = TazapayRefundSchema.safeParse(refund);
    if (!check.success) throw new Error(`invalid tazapay refund: ${check.error.issues[0]?.path.join('.') || '(root)'} ${check.error.issues[0]?.message ?? ''}`);
    return refund;
  },

  idOf: (refund) => String(refund.id),

  withStatus(refund: NativeRefund, status: string, _now: number): NativeRefund {
    const next: NativeRefund = { ...refund, status };
    const described = typeof refund.status_description === 'string' && refund.status_description !== '';
    if (mapTazapayStatus(status) === 'failed' && !described) next.status_description = DEFAULT_FAILURE;
    if (mapTazapayStatus(status) === 'succeeded') next.status_description = '';
    return next;
  },

  handle(req, ctx): EmulatorResponse {
    const denied = checkAuth(req.headers.authorization, ctx.settings);
    if (denied) return denied;
    const m = /^\/v3\/refund\/([^/]+)\/?$/.exec(req.path);
    if (!m) return { status: 404, body: errorBody('Not Found', 404, `no route ${req.method} ${req.path}`) };
    if (req.method !== 'GET') return { status: 405, headers: { allow: 'GET' }, body: errorBody('Method Not Allowed', 405, 'method not allowed') };
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return tazapayErrorResponse(404);
    }
    const refund = ctx.findRefund(id);
    if (!refund) return tazapayErrorResponse(404);
    return { status: 200, body: { status: 'success', message: 'Refund fetched successfully', data: refund } };
  },

  errorResponse: tazapayErrorResponse,

  notification(refund: NativeRefund, settings: TazapaySettings, now: number): OutgoingNotification | null {
    const type = eventType(String(refund.status));
    if (!type) return null;
    const id = randomId('evt_');
    const createdAt = rfc3339Nano(now);
    const body = JSON.stringify({ type, id, object: 'event', created_at: createdAt, data: refund });
    // Tazapay always signs; without a secret we still send, so the receiver visibly rejects it.
    const headers: Record<string, string> = settings.webhookSecret ? { signature: hmacSha256Base64(settings.webhookSecret, id, body, createdAt) } : {};
    return { headers, body };
  },

  demoRefunds() {
    return [
      {
        // USD 10.50: two implied decimals coincide with ISO here.
        // The customer paid in SGD: 10.50 USD lands as 14.18 SGD on the card.
        refund: { id: 'rfd_demo_usd_succeeds', payin: 'chk_demo_usd_payin_0001', amount: 1050, currency: 'USD', customer_receives: { currency: 'SGD', amount: 1418 }, reason: 'Damaged goods', reference_id: 'demo-order-1001' },
        lifecycle: [
          { status: 'processing', afterMs: 10_000 },
          { status: 'succeeded', afterMs: 25_000 },
        ],
      },
      {
        // JPY 10000 arrives as 1000000: Tazapay's two implied decimals on a zero-decimal currency.
        refund: { id: 'rfd_demo_jpy_fails', payin: 'chk_demo_jpy_payin_0001', amount: 1_000_000, currency: 'JPY', reason: 'Order cancelled by customer' },
        lifecycle: [{ status: 'failed', afterMs: 30_000 }],
      },
    ];
  },
};
