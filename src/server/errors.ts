import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, isRefundHubError } from '../errors.js';

/**
 * Every API error is `{ error: { code, message } }` with the right status. RefundHubError codes map
 * through ERROR_CODES; the API adds a few of its own (auth, routing, body size). Bad input of any
 * kind is a 4xx, never a 500.
 */
export const API_ERROR_CODES = {
  unauthorized: 401,
  forbidden: 403,
  route_not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  internal_error: 500,
} as const;
export type ApiErrorCode = keyof typeof API_ERROR_CODES;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
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

/** Maps anything thrown in a request to a status and an error body. */
export function toHttpError(err: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (err instanceof ApiError) return { status: err.statusCode, body: errorBody(err.code, err.message), internal: false };
  if (isRefundHubError(err)) return { status: ERROR_CODES[err.code].http, body: errorBody(err.code, err.message), internal: false };
  const fe = err as Partial<FastifyError> & { validationContext?: string };
  if (fe && Array.isArray(fe.validation)) {
    return { status: 400, body: errorBody('invalid_input', fe.message ?? 'invalid request'), internal: false };
  }
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status === 413) return { status, body: errorBody('payload_too_large', 'request body is larger than the 1 MiB limit'), internal: false };
  if (status === 415) return { status, body: errorBody('unsupported_media_type', fe.message ?? 'unsupported content type'), internal: false };
  if (status === 404) return { status, body: errorBody('not_found', fe.message ?? 'not found'), internal: false };
  if (status >= 400 && status < 500) {
    // Bad JSON, empty JSON bodies, bad encodings...: Fastify's own client errors.
    const message = fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError ? 'request body is not valid JSON' : (fe.message ?? 'bad request');
    return { status, body: errorBody('invalid_input', message), internal: false };
  }
  return { status: 500, body: errorBody('internal_error', 'internal error'), internal: true };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body, internal } = toHttpError(err);
  if (internal) request.log.error({ err }, 'request failed');
  else if (status >= 500) request.log.warn({ code: body.error.code, msg: body.error.message }, 'upstream error');
  return reply.code(status).type('application/json').send(body);
}
