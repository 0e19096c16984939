import { randomUUID } from 'node:crypto';
import { hmacSha256Hex, safeEqual } from '../../signing/hmac.js';
import type { EmulatorProviderContext, EmulatorRequest, EmulatorResponse, EmulatorSpec, NativeRefund, OutgoingNotification } from '../types.js';
import type { ZiinaSettings } from './config.js';
import { ZIINA_SIGNATURE_HEADER } from './notifications.js';
import { ZIINA_REFUND_EVENT } from './wire.js';

/**
 * Emulates Ziina's `GET /refund/{id}` under `ziina/api` (the base URL's `/api` path included).
 * HTTP error bodies are undocumented; the emulator answers with the documented ErrorDto
 * `{message, code}`, `code` being the HTTP status as a string, as the spec describes it.
 */

const ERROR_MESSAGES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal server error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The `error` a failed refund carries when the caller did not give one. */
export const ZIINA_DEFAULT_REFUND_ERROR = Object.freeze({ message: 'Refund was declined by the card issuer', code: '422' });

function errorBody(status: number, message?: string): EmulatorResponse {
  return { status, body: { message: message ?? ERROR_MESSAGES[status] ?? 'Error', code: String(status) } };
}

function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header) return false;
  // RFC 6750: the scheme is case-insensitive.
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return false;
  return safeEqual(Buffer.from(m[1]!, 'utf8'), Buffer.from(token, 'utf8'));
}

const REFUND_PATH = /^\/refund\/([^/]+)\/?$/;

/** Fixed demo ids, so `npm start` prints the same refunds every run. */
export const ZIINA_DEMO_IDS = {
  completes: '3f1c9a52-7b4e-4d2a-9c61-5e8f0a7b2d14',
  fails: '8a2d6e4f-1c3b-4f7a-b590-2e6d9c1f4a83',
} as const;

export const ziinaEmulator: EmulatorSpec<ZiinaSettings> = {
  prefix: 'ziina/api',

  create(input: NativeRefund, now: number): NativeRefund {
    if (input.id !== undefined && (typeof input.id !== 'string' || input.id === '')) throw new Error('ziina: refund "id" must be a non-empty string');
    const status = typeof input.status === 'string' ? input.status : 'pending';
    const refund: NativeRefund = {
      // Ziina ids are client-generated UUIDs (docs.ziina.com/api-reference/refund/create).
      id: randomUUID(),
      payment_intent_id: randomUUID(),
      amount: 1050,
      currency_code: 'AED',
      status,
      // A unix timestamp string in milliseconds (specs/ziina.yaml RefundDto.created_at).
      created_at: String(now),
      error: status === 'failed' ? { ...ZIINA_DEFAULT_REFUND_ERROR } : null,
      // Given fields win, even ill-typed ones: tests use them to exercise schema checks.
      ...input,
    };
    return refund;
  },

  idOf: (refund) => String(refund.id),

  withStatus(refund: NativeRefund, status: string): NativeRefund {
    // Ziina has no updated_at; only the status and the error change.
    const error = status === 'failed' ? (refund.error ?? { ...ZIINA_DEFAULT_REFUND_ERROR }) : null;
    return { ...refund, status, error };
  },

  handle(req: EmulatorRequest, ctx: EmulatorProviderContext<ZiinaSettings>): EmulatorResponse {
    // Auth first, as the real API does: an unauthenticated caller learns nothing about ids.
    if (!bearerMatches(req.headers.authorization, ctx.settings.token)) return errorBody(401);
    const m = REFUND_PATH.exec(req.path);
    if (!m) return errorBody(404, `Cannot ${req.method} ${req.path}`);
    if (req.method !== 'GET') return errorBody(404, `Cannot ${req.method} ${req.path}`);
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return errorBody(400, 'Malformed refund id');
    }
    const refund = ctx.findRefund(id);
    if (!refund) return errorBody(404, 'Refund not found');
    return { status: 200, body: refund };
  },

  errorResponse: (status: number) => errorBody(status),

  notification(refund: NativeRefund, settings: ZiinaSettings): OutgoingNotification {
    const body = JSON.stringify({ event: ZIINA_REFUND_EVENT, data: refund });
    // Ziina signs only when a secret was registered with the webhook (docs.ziina.com/api-reference/webhook).
    const headers: Record<string, string> = {};
    if (settings.webhookSecret) headers[ZIINA_SIGNATURE_HEADER] = hmacSha256Hex(settings.webhookSecret, body);
    return { headers, body };
  },

  demoRefunds() {
    return [
      {
        refund: { id: ZIINA_DEMO_IDS.completes, payment_intent_id: 'c7e4b1a0-2f5d-4e8c-a3b6-9d0f1e2a5c47', amount: 12550, currency_code: 'AED', status: 'pending' },
        lifecycle: [{ status: 'completed', afterMs: 15_000 }],
      },
      {
        refund: { id: ZIINA_DEMO_IDS.fails, payment_intent_id: 'e5b8d2c1-4a7f-4b3e-8d19-6c0a2f5e7b93', amount: 4999, currency_code: 'AED', status: 'pending' },
        lifecycle: [{ status: 'failed', afterMs: 25_000 }],
      },
    ];
  },
};
