import type { ProviderId } from './domain/refund.js';

/**
 * Stable error codes. They are part of the public contract (docs/errors.md lists them), and the
 * CLI's exit codes and the API's HTTP statuses derive from them.
 */
export const ERROR_CODES = {
  /** Bad input from the caller: unknown provider, malformed id, bad request body. */
  invalid_input: { exit: 2, http: 400 },
  /** The provider or account has no (or incomplete) configuration. */
  not_configured: { exit: 2, http: 400 },
  /** The provider says the refund does not exist, or we do not track it. */
  not_found: { exit: 3, http: 404 },
  /** The provider rejected our credentials. */
  authentication_failed: { exit: 4, http: 502 },
  /** The provider throttled us; `retryAfterMs` says for how long when known. */
  rate_limited: { exit: 5, http: 503 },
  /** The provider failed (5xx, unreachable, timeout) or answered with an error we cannot place. */
  provider_error: { exit: 5, http: 502 },
  /** The provider answered 2xx with something that is not the documented shape (bad JSON, schema). */
  invalid_response: { exit: 5, http: 502 },
  /** The provider issues no proof-of-refund document (only OneKey has a voucher). */
  voucher_not_supported: { exit: 2, http: 404 },
  /** The provider has no proof of refund for this refund (yet): OneKey sent no voucher. */
  voucher_not_available: { exit: 3, http: 404 },
  /** An inbound notification's signature (or timestamp) did not verify. */
  invalid_signature: { exit: 2, http: 401 },
  /** Our database failed or refused a write (down, full, a value it will not take); recorded on the refund, retried on its schedule. */
  store_error: { exit: 6, http: 503 },
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export interface RefundHubErrorOptions {
  provider?: ProviderId;
  retryable?: boolean;
  /** The HTTP status the provider answered with, when there was one. */
  httpStatus?: number;
  /** How long the provider asked us to wait (Retry-After), in milliseconds. */
  retryAfterMs?: number;
  cause?: unknown;
}

/** The one error type RefundHub throws. Messages never contain credentials. */
export class RefundHubError extends Error {
  override readonly name = 'RefundHubError';
  readonly code: ErrorCode;
  readonly provider: ProviderId | undefined;
  readonly retryable: boolean;
  readonly httpStatus: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: RefundHubErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.provider = options.provider;
    this.retryable = options.retryable ?? (code === 'provider_error' || code === 'rate_limited' || code === 'store_error');
    this.httpStatus = options.httpStatus;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** CLI exit code for this error. */
  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }
}

export function isRefundHubError(e: unknown): e is RefundHubError {
  return e instanceof RefundHubError;
}

/** Wraps anything thrown into a RefundHubError without leaking internals into the message. */
export function toRefundHubError(e: unknown, provider?: ProviderId): RefundHubError {
  if (e instanceof RefundHubError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new RefundHubError('provider_error', message, { provider, cause: e });
}
