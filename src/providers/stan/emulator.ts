import { createHash, randomUUID } from 'node:crypto';
import { safeEqual } from '../../signing/hmac.js';
import type { EmulatorResponse, EmulatorSpec, NativeRefund } from '../types.js';
import type { StanSettings } from './config.js';
import { STAN_REASONS } from './wire.js';
import { UUID_RE } from '../shared.js';

const ROUTE_RE = /^\/v1\/refunds\/([^/]+)\/?$/;

/**
 * Stan documents 400, 401 and 500 for this operation with no body schema (specs/stan.yaml) and
 * does not document 404 or 429 at all. The emulator answers every error with one plausible,
 * consistent JSON shape, `{error, message}`, which the connector never relies on.
 */
const ERRORS: Record<number, { error: string; message: string }> = {
  400: { error: 'bad_request', message: 'bad data format' },
  401: { error: 'unauthorized', message: 'please provide api client_id and client_secret as Basic auth' },
  404: { error: 'not_found', message: 'refund not found' },
  405: { error: 'method_not_allowed', message: 'method not allowed' },
  429: { error: 'too_many_requests', message: 'too many requests' },
  500: { error: 'internal_server_error', message: 'the servers encountered an alien' },
};

function stanError(status: number, message?: string): EmulatorResponse {
  const known = ERRORS[status] ?? (status >= 500 ? { error: 'server_error', message: 'server error' } : { error: 'error', message: `HTTP ${status}` });
  const headers: Record<string, string> = status === 401 ? { 'www-authenticate': 'Basic realm="Stan API"' } : {};
  return { status, headers, body: { error: known.error, message: message ?? known.message } };
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** HTTP Basic `client_id:client_secret`, compared constant-time (hashing both sides first so lengths leak nothing). */
function authorized(header: string | undefined, settings: StanSettings): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const presented = Buffer.from(m[1]!, 'base64').toString('utf8');
  return safeEqual(sha256(presented), sha256(`${settings.clientId}:${settings.clientSecret}`));
}

/** Stan's timestamps as its docs show them: ISO 8601 UTC without milliseconds (`2023-11-07T05:31:56Z`). */
const stanTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const isInt32 = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v <= 2 ** 31 - 1;

function fail(message: string): never {
  throw new Error(`stan: ${message}`);
}

/** Demo refunds with fixed ids, so `npm start` and the README can name them. */
export const STAN_DEMO_IDS = {
  succeeds: 'de305a7e-57a0-4d3e-8000-000000000001',
  canceled: 'de305a7e-57a0-4d3e-8000-000000000002',
} as const;

/** Emulates `GET /v1/refunds/{refund_id}` of api.stan-app.fr, mounted under `/stan`. */
export const stanEmulator: EmulatorSpec<StanSettings> = {
  prefix: 'stan',

  create(input: NativeRefund, now: number): NativeRefund {
    const refundId = input.refund_id ?? randomUUID();
    if (typeof refundId !== 'string' || !UUID_RE.test(refundId)) fail('refund_id must be a UUID');
    // specs/stan.yaml: `amount` is an int32 with no minimum, so a negative one is something Stan
    // may send and the connector must cope with (normalize.ts); only what int32 cannot hold is refused.
    if (input.amount !== undefined && !isInt32(input.amount)) fail('amount must be an int32 (cents)');
    for (const k of ['payment_id', 'status', 'reason', 'created_at'] as const) {
      if (input[k] !== undefined && typeof input[k] !== 'string') fail(`${k} must be a string`);
    }
    return {
      ...input,
      refund_id: refundId.toLowerCase(),
      payment_id: input.payment_id ?? randomUUID(),
      amount: input.amount ?? 1500,
      status: input.status ?? 'payment_pending',
      reason: input.reason ?? STAN_REASONS[0],
      created_at: input.created_at ?? stanTime(now),
    };
  },

  idOf: (refund) => String(refund.refund_id),

  // Stan's refund object carries no update time, so only the status changes.
  withStatus: (refund, status) => ({ ...refund, status }),

  handle(req, ctx) {
    const m = ROUTE_RE.exec(req.path);
    if (!m) return stanError(404, 'route not found');
    if (req.method !== 'GET') return stanError(405);
    if (!authorized(req.headers.authorization, ctx.settings)) return stanError(401);
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return stanError(400, 'refund_id must be a UUID');
    }
    if (!UUID_RE.test(id)) return stanError(400, 'refund_id must be a UUID');
    const refund = ctx.findRefund(id.toLowerCase());
    if (!refund) return stanError(404);
    return { status: 200, body: refund };
  },

  errorResponse: (status) => stanError(status),

  // Stan's webhook is undocumented and unsigned (providers.md, Stan "Webhooks"): a bare hint.
  notification: (refund) => ({ headers: {}, body: JSON.stringify({ refund_id: refund.refund_id, status: refund.status }) }),

  demoRefunds: () => [
    {
      refund: { refund_id: STAN_DEMO_IDS.succeeds, payment_id: 'de305a7e-57a0-4d3e-9000-0000000000a1', amount: 2490, status: 'payment_pending', reason: 'requested_by_customer' },
      lifecycle: [{ status: 'payment_success', afterMs: 15_000 }],
    },
    {
      refund: { refund_id: STAN_DEMO_IDS.canceled, payment_id: 'de305a7e-57a0-4d3e-9000-0000000000a2', amount: 990, status: 'payment_holding', reason: 'duplicate' },
      lifecycle: [
        { status: 'payment_pending', afterMs: 10_000 },
        { status: 'payment_cancelled', afterMs: 25_000 },
      ],
    },
  ],
};
