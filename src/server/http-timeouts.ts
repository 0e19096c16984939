import type { Socket } from 'node:net';
import { secondsSetting } from '../config/settings.js';
import { rawClientErrorResponse } from './errors.js';

/**
 * Bounds on what a client can make the server wait for. Without them a client that announces
 * `Content-Length: 100` and sends 6 bytes holds its socket (and the unauthenticated notification
 * route's parser) for good.
 */
export interface HttpTimeouts {
  /** The whole request, headers and body, must arrive within this (Node `requestTimeout`), else 408 and close. */
  requestMs: number;
  /** The headers must arrive within this (Node `headersTimeout`; at most `requestMs`). */
  headersMs: number;
  /**
   * A socket with no traffic either way is closed after this (Fastify `connectionTimeout`). It must
   * outlive the slowest handler: `POST /v1/refunds` waits for a provider, up to 3 attempts of 10 s.
   */
  idleMs: number;
  /** An idle keep-alive connection is closed after this (behind a load balancer: above its idle timeout). */
  keepAliveMs: number;
  /** How often Node checks the request and headers deadlines (they are enforced to within this). */
  checkIntervalMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { requestMs: 10_000, headersMs: 5_000, idleMs: 60_000, keepAliveMs: 10_000, checkIntervalMs: 1_000 };

/** REFUNDHUB_HTTP_REQUEST_TIMEOUT and REFUNDHUB_HTTP_KEEP_ALIVE_TIMEOUT (seconds) over the defaults. */
export function httpTimeoutsFromEnv(env: Record<string, string | undefined> = process.env): HttpTimeouts {
  const out = { ...DEFAULT_HTTP_TIMEOUTS };
  out.requestMs = secondsSetting(env, 'REFUNDHUB_HTTP_REQUEST_TIMEOUT') ?? out.requestMs;
  out.keepAliveMs = secondsSetting(env, 'REFUNDHUB_HTTP_KEEP_ALIVE_TIMEOUT') ?? out.keepAliveMs;
  return out;
}

export interface BoundedServerOptions {
  connectionTimeout: number;
  keepAliveTimeout: number;
  requestTimeout: number;
  http: { headersTimeout: number; connectionsCheckingInterval: number };
  clientErrorHandler: (err: Error, socket: Socket) => void;
}

/**
 * The Fastify options every server of ours shares (the API and the metrics-only server): the
 * slow-client bounds, and one answer in our error envelope for requests Node cannot parse at all.
 */
export function boundedServerOptions(t: HttpTimeouts): BoundedServerOptions {
  return {
    connectionTimeout: t.idleMs,
    keepAliveTimeout: t.keepAliveMs,
    requestTimeout: t.requestMs,
    // Node refuses a headers deadline later than the request deadline.
    http: { headersTimeout: Math.min(t.headersMs, t.requestMs), connectionsCheckingInterval: t.checkIntervalMs },
    // No Fastify request exists for these (oversized headers, garbage): answer in the envelope and close.
    clientErrorHandler: (err, socket) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.write(rawClientErrorResponse(err as NodeJS.ErrnoException));
      socket.destroy(err);
    },
  };
}

/**
 * True when the client went away before its request had fully arrived (it closed or reset the
 * connection mid-body): the request stream fails with `aborted` / ECONNRESET. That is the
 * client's doing, not a failure of ours, and there is nobody left to answer.
 */
export function isClientAbort(err: unknown, socketGone: boolean): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return socketGone && (e?.code === 'ECONNRESET' || e?.code === 'ECONNABORTED' || e?.message === 'aborted');
}
