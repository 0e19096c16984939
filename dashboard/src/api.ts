/**
 * The dashboard talks to the same documented API as any integrator. It never holds the API key:
 * after sign-in the browser sends the HttpOnly session cookie, and unsafe requests add the
 * session's CSRF token, kept only in memory.
 */

let csrfToken: string | null = null;
let onSignedOut: () => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; signedOutOk?: boolean } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  } catch {
    throw new ApiFailure(0, 'network', 'RefundHub did not answer: is it running?');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const failure = new ApiFailure(res.status, body?.error?.code ?? 'error', body?.error?.message ?? `RefundHub answered ${res.status}`);
    if (res.status === 401 && !init.signedOutOk) onSignedOut();
    throw failure;
  }
  return body as T;
}

export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '' && v !== false) u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

export const PROVIDERS = ['ziina', 'tazapay', 'gr4vy', 'stan', 'onekey'] as const;
export const STATUSES = ['pending', 'requires_action', 'succeeded', 'failed', 'canceled', 'unknown'] as const;

export interface Refund {
  provider: string;
  account: string;
  id: string;
  paymentId: string | null;
  status: string;
  providerStatus: string;
  amount: number | null;
  currency: string | null;
  amountDecimal: string | null;
  reason: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  failure: { code: string | null; message: string | null } | null;
  merchantReference?: string | null;
  customerReceives?: { amount: number; currency: string; amountDecimal: string } | null;
  metadata?: Record<string, string> | null;
  providerReference?: string | null;
  raw: unknown;
  tracking: { trackedAt: string; lastCheckedAt: string | null; nextCheckAt: string | null; checkCount: number; stuck: boolean; finalAt: string | null; lastError: { code: string; message: string } | null };
}

export interface HistoryEntry {
  id: number;
  kind: string;
  from: string | null;
  to: string;
  providerStatus: string;
  source: string;
  observedAt: string;
  raw: unknown;
  note: string | null;
}

export interface Attempt {
  attemptedAt: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export const refundPath = (r: { provider: string; account: string; id: string }): string =>
  `#/refund/${encodeURIComponent(r.provider)}/${encodeURIComponent(r.account)}/${encodeURIComponent(r.id)}`;

export const when = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }) : '—');

export function duration(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}
