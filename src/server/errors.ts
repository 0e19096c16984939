import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, isRefundHubError } from '../errors.js';

/**
 * Every API error is `{ error: { code, message } }` with the right status. RefundHubError codes map
 * through ERROR_CODES; the API adds a few of its own (auth, routing, body size, throttling). Bad
 * input of any kind is a 4xx, never a 500, and Fastify's own errors (bad URLs, over-long params,
 * bad JSON, content types, body limits, validation) are mapped to these stable codes too.
 */
export const API_ERROR_CODES = {
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  route_not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  too_many_requests: 429,
  request_header_too_large: 431,
  internal_error: 500,
} as const;
export type ApiErrorCode = keyof typeof API_ERROR_CODES;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** Extra response headers (Retry-After, Allow). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

export interface HttpError {
  status: number;
  body: ErrorBody;
  /** True for unexpected failures (500): logged with the error, message hidden from the client. */
  internal: boolean;
  headers: Record<string, string>;
}

const http = (status: number, code: string, message: string, headers: Record<string, string> = {}): HttpError => ({
  status,
  body: errorBody(code, message),
  internal: false,
  headers,
});

/** Fastify's client-error codes with a code of our own (anything else 4xx is invalid_input). */
const FASTIFY_CODES: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_BAD_URL: { status: 400, code: 'invalid_input', message: 'the request URL is not validly percent-encoded' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'uri_too_long', message: 'a path segment of the request URL is too long' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', message: 'request body is larger than the 1 MiB limit' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_input', message: 'request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_input', message: 'request body is empty but content-type is application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_input', message: 'Content-Length does not match the body' },
  FST_ERR_CTP_INVALID_TYPE: { status: 400, code: 'invalid_input', message: 'Content-Type header is not valid' },
};

/** Seconds for a Retry-After header, at least 1. */
export const retryAfterSeconds = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));

/** Seconds a client should wait before retrying when the database is out of reach or full. */
const DATABASE_RETRY_AFTER = '2';

/**
 * True for a PostgreSQL connectivity or capacity failure, wherever it surfaces (the store's pool,
 * the refund lock, the auth key lookup, pg-boss): SQLSTATE class 08 (connection exception), class
 * 53 (insufficient resources, "too many clients"), 57P01-03 (admin/crash shutdown, cannot connect
 * now), a pool connect timeout, or a socket the server closed. Looked through `cause` chains.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && typeof e === 'object' && depth < 5; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (/^(08|53)[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code)) return true;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT') return true;
    const message = typeof e.message === 'string' ? e.message : '';
    if (/timeout exceeded when trying to connect|too many clients|Connection terminated|remaining connection slots are reserved/i.test(message)) return true;
  }
  return false;
}

/** Maps anything thrown in a request to a status, an error body and extra headers. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof ApiError) return http(err.statusCode, err.code, err.message, err.headers);
  // One place for every path to the database: a full or unreachable database is temporary (503, retry).
  if ((!isRefundHubError(err) || err.code === 'store_error') && isDatabaseUnavailable(err)) {
    return http(503, 'store_error', 'the database is unavailable or at its connection limit; retry shortly', { 'retry-after': DATABASE_RETRY_AFTER });
  }
  if (isRefundHubError(err)) {
    const headers: Record<string, string> = {};
    // The provider throttled us and said for how long: pass that on to our caller.
    if (err.code === 'rate_limited' && err.retryAfterMs !== undefined && Number.isFinite(err.retryAfterMs)) headers['retry-after'] = retryAfterSeconds(err.retryAfterMs);
    if (err.code === 'store_error') headers['retry-after'] = DATABASE_RETRY_AFTER;
    return http(ERROR_CODES[err.code].http, err.code, err.message, headers);
  }
  const fe = err as Partial<FastifyError> & { validationContext?: string };
  if (fe && Array.isArray(fe.validation)) return http(400, 'invalid_input', fe.message || 'invalid request');
  const known = typeof fe?.code === 'string' ? FASTIFY_CODES[fe.code] : undefined;
  if (known) return http(known.status, known.code, known.message ?? fe.message ?? known.code);
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status === 413) return http(413, 'payload_too_large', 'request body is larger than the 1 MiB limit');
  if (status === 414) return http(414, 'uri_too_long', 'the request URL is too long');
  if (status === 415) return http(415, 'unsupported_media_type', fe.message || 'unsupported content type');
  if (status === 404) return http(404, 'not_found', fe.message || 'not found');
  if (status === 405) return http(405, 'method_not_allowed', fe.message || 'method not allowed');
  if (status >= 400 && status < 500) {
    // Other client errors of Fastify's (bad encodings, malformed bodies...).
    const message = err instanceof SyntaxError ? 'request body is not valid JSON' : fe.message || 'bad request';
    return http(status, 'invalid_input', message);
  }
  return { status: 500, body: errorBody('internal_error', 'internal error'), internal: true, headers: {} };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body, internal, headers } = toHttpError(err);
  if (internal) request.log.error({ err }, 'request failed');
  else if (status >= 500) request.log.warn({ code: body.error.code, msg: body.error.message }, 'upstream error');
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

/** The raw HTTP/1.1 response for a request Node could not even parse (no Fastify request exists). */
export function rawClientErrorResponse(err: NodeJS.ErrnoException): string {
  const [status, reason, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'request_header_too_large', 'request headers (or URL) are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request_timeout', 'the request took too long to arrive']
        : [400, 'Bad Request', 'invalid_input', 'malformed HTTP request'];
  const body = JSON.stringify(errorBody(code, message));
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
