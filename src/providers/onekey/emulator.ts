import { minorToDecimal } from '../../domain/money.js';
import { parseIsoToUtc } from '../../domain/dates.js';
import { hexSignatureMatches, hmacSha256, safeEqual } from '../../signing/hmac.js';
import type { EmulatorProviderContext, EmulatorRequest, EmulatorResponse, EmulatorSpec, NativeRefund } from '../types.js';
import { onekeySignature } from './auth.js';
import type { OnekeySettings } from './config.js';

/**
 * An emulator of OneKey's `GET /v3/refunds/{refund_id}`: the D24 HMAC check (recomputed with the
 * configured login and secret, constant-time), an X-Date window, the `{code, description, type}`
 * error bodies and the bare `{"refund_id": n}` notification.
 *
 * The stored native object carries `refund_id` so the control API can show it and notifications
 * can name it; the status response itself does not echo it, so `handle()` leaves it out.
 */

/** How far X-Date may be from the emulator's clock. OneKey does not publish its window. */
export const ONEKEY_EMULATOR_SKEW_SECONDS = 300;

type ErrorBody = { code: number; description: string; type: string };

const ERRORS = {
  invalidCredentials: { code: 100, description: 'Invalid credentials', type: 'INVALID_CREDENTIALS' },
  invalidSignature: { code: 102, description: 'Invalid signature', type: 'INVALID_SIGNATURE' },
  invalidDateRange: { code: 103, description: 'X-Date header value out of valid range', type: 'INVALID_DATE_RANGE' },
  notFound: { code: 208, description: 'Resource not found', type: 'RESOURCE_NOT_FOUND' },
} as const satisfies Record<string, ErrorBody>;

function missingHeader(name: string): ErrorBody {
  // D24 "API Codes": "Missing or invalid format for required header {0}".
  return { code: 101, description: `Missing or invalid format for required header ${name}`, type: 'MISSING_REQUIRED_HEADER' };
}

const json = (status: number, body: unknown): EmulatorResponse => ({ status, headers: { 'content-type': 'application/json' }, body });

// Ids handed out when a test omits them; far from the demo ids (8000000x).
let nextId = 1;

function positiveInteger(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw new Error(`onekey: ${field} must be a positive integer`);
  return n;
}

/** A plausible major-unit amount derived from the deposit id, built from digits rather than float maths. */
function plausibleAmount(depositId: number): number {
  return Number(minorToDecimal(1_000 + (depositId % 99_000), 2));
}

/** Constant-time login check; hashing first hides the configured login's length as well. */
function loginMatches(received: string, expected: string): boolean {
  return safeEqual(hmacSha256('onekey-login', received), hmacSha256('onekey-login', expected));
}

/** Null when the request is authentic, else OneKey's 401. */
function checkAuth(req: EmulatorRequest, settings: OnekeySettings, now: number): EmulatorResponse | null {
  for (const [header, name] of [['x-date', 'X-Date'], ['x-login', 'X-Login'], ['authorization', 'Authorization'], ['content-type', 'Content-Type']] as const) {
    if (!req.headers[header]?.trim()) return json(401, missingHeader(name));
  }
  const xDate = req.headers['x-date']!;
  const login = req.headers['x-login']!;
  const authorization = req.headers.authorization!;
  const at = parseIsoToUtc(xDate);
  if (at === null) return json(401, missingHeader('X-Date'));
  if (Math.abs(Date.parse(at) - now) > ONEKEY_EMULATOR_SKEW_SECONDS * 1000) return json(401, ERRORS.invalidDateRange);
  if (!loginMatches(login, settings.login)) return json(401, ERRORS.invalidCredentials);
  // "The Authorization value is case sensitive": the exact prefix, one space, lowercase hex.
  const m = /^(\S+) ([0-9a-f]{64})$/.exec(authorization);
  const expected = Buffer.from(onekeySignature(settings.secretKey, xDate, login, req.body.toString('utf8')), 'hex');
  const prefixOk = m !== null && safeEqual(Buffer.from(m[1]!), Buffer.from(settings.authPrefix));
  const signatureOk = hexSignatureMatches(expected, m?.[2]);
  if (!prefixOk || !signatureOk) return json(401, ERRORS.invalidSignature);
  return null;
}

/**
 * A small, valid one-page PDF (catalog, page, font, text, exact xref offsets) standing in for the
 * Base64 proof of refund OneKey returns with `?voucher=true`, so a viewer opens what the CLI writes.
 */
export function emulatedVoucherPdf(refund: NativeRefund): Buffer {
  const line = (s: string) => s.replace(/[\\()]/g, (c) => `\\${c}`);
  const text = [`OneKey proof of refund ${String(refund.refund_id)}`, `Invoice ${String(refund.merchant_invoice_id ?? '-')}`, `Amount ${String(refund.amount ?? '-')}`];
  const stream = `BT /F1 14 Tf 72 720 Td ${text.map((t, i) => `${i ? '0 -20 Td ' : ''}(${line(t)}) Tj`).join(' ')} ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>',
    `<< /Length ${Buffer.byteLength(stream, 'latin1')} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

/** OneKey issues the proof once the refund is COMPLETED; before that a voucher=true read has none. */
function voucherFor(refund: NativeRefund): string | undefined {
  return String(refund.status).toUpperCase() === 'COMPLETED' ? emulatedVoucherPdf(refund).toString('base64') : undefined;
}

/** The emulated OneKey refund status API, mounted at `onekey/v3`. */
export const onekeyEmulator: EmulatorSpec<OnekeySettings> = {
  prefix: 'onekey/v3',

  create(input: NativeRefund, _now: number): NativeRefund {
    const n = nextId++;
    const refundId = positiveInteger(input.refund_id, 'refund_id') ?? 90_000_000 + n;
    const depositId = positiveInteger(input.deposit_id, 'deposit_id') ?? 300_000_000 + n;
    const invoice = input.merchant_invoice_id ?? `order-${depositId}`;
    if (typeof invoice !== 'string') throw new Error('onekey: merchant_invoice_id must be a string');
    const status = input.status ?? 'PENDING';
    if (typeof status !== 'string' || status.trim() === '') throw new Error('onekey: status must be a non-empty string');
    const refund: NativeRefund = { ...input, refund_id: refundId, deposit_id: depositId, merchant_invoice_id: invoice, status };
    if (input.amount !== undefined && input.amount !== null) {
      const amount = typeof input.amount === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(input.amount) ? Number(input.amount) : input.amount;
      if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) throw new Error('onekey: amount must be a non-negative number (major units)');
      refund.amount = amount;
    }
    return refund;
  },

  idOf(refund) {
    return String(refund.refund_id);
  },

  withStatus(refund, status, _now) {
    const next: NativeRefund = { ...refund, status };
    // The amount is "typically present when COMPLETED": make sure a completed refund has one.
    if (status.toUpperCase() === 'COMPLETED' && (next.amount === undefined || next.amount === null)) {
      next.amount = plausibleAmount(Number(refund.deposit_id));
    }
    return next;
  },

  handle(req: EmulatorRequest, ctx: EmulatorProviderContext<OnekeySettings>): EmulatorResponse {
    const denied = checkAuth(req, ctx.settings, ctx.now());
    if (denied) return denied;
    const m = /^\/refunds\/([^/]+)\/?$/.exec(req.path);
    if (!m) return json(404, ERRORS.notFound);
    if (req.method !== 'GET') return json(405, { code: 200, description: `Request method ${req.method} not supported`, type: 'METHOD_NOT_ALLOWED' });
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return json(404, ERRORS.notFound);
    }
    const stored = /^[1-9]\d*$/.test(id) ? ctx.findRefund(id) : undefined;
    if (!stored) return json(404, ERRORS.notFound);
    const { refund_id: _id, ...body } = stored;
    if (req.query.get('voucher')?.toLowerCase() === 'true') {
      const voucher = voucherFor(stored);
      if (voucher !== undefined) body.voucher = voucher;
    }
    return json(200, body);
  },

  errorResponse(status: number): EmulatorResponse {
    if (status === 401) return json(401, ERRORS.invalidCredentials);
    if (status === 403) return json(403, { code: 203, description: 'Merchant not allowed to use this api', type: 'FORBIDDEN_MERCHANT' });
    if (status === 404) return json(404, ERRORS.notFound);
    if (status === 400) return json(400, { code: 202, description: 'Invalid request body', type: 'INVALID_REQUEST_BODY' });
    // OneKey documents no 429; same body shape so clients parse it the same way.
    if (status === 429) return json(429, { code: 429, description: 'Too many requests', type: 'TOO_MANY_REQUESTS' });
    // D24 groups internal server errors under 5xx codes.
    if (status >= 500) return json(status, { code: 500, description: 'Internal server error', type: 'INTERNAL_SERVER_ERROR' });
    return json(status, { code: status, description: 'Request failed', type: 'ERROR' });
  },

  notification(refund, _settings, _now) {
    // Unsigned and minimal (refund-creation-endpoint/notifications page): the merchant re-fetches.
    return { headers: {}, body: `{"refund_id": ${Number(refund.refund_id)}}` };
  },

  // "Retries happen until an HTTP 200": any other answer, 2xx included, is tried again.
  notificationDelivered: (status) => status === 200,

  demoRefunds() {
    return [
      {
        refund: { refund_id: 80000001, deposit_id: 300000001, merchant_invoice_id: 'demo-onekey-order-1', status: 'PENDING' },
        lifecycle: [
          { status: 'DELIVERED', afterMs: 6_000 },
          { status: 'COMPLETED', afterMs: 15_000 },
        ],
      },
      {
        refund: { refund_id: 80000002, deposit_id: 300000002, merchant_invoice_id: 'demo-onekey-order-2', status: 'PENDING' },
        lifecycle: [
          { status: 'INCORRECT_DETAILS', afterMs: 8_000 },
          { status: 'CANCELLED', afterMs: 22_000 },
        ],
      },
      {
        refund: { refund_id: 80000003, deposit_id: 300000003, merchant_invoice_id: 'demo-onekey-order-3', status: 'PENDING', amount: 1000.0 },
        lifecycle: [
          { status: 'DELIVERED', afterMs: 10_000 },
          { status: 'REJECTED', afterMs: 30_000 },
        ],
      },
    ];
  },
};
