import type { FastifyRequest } from 'fastify';
import { isProviderId, PROVIDER_IDS } from '../domain/refund.js';
import { getProvider } from '../providers/registry.js';
import { ApiError } from './errors.js';

/**
 * Reading a provider notification's raw body with that provider's own size limit
 * (`NotificationSpec.maxBodyBytes`): a few KiB for the unsigned providers, whose documented body
 * is a refund id, more for the signed ones that carry the whole refund. The limit depends on the
 * `:provider` path parameter, so it cannot be a route option; the router has run by the time the
 * body is read, so the parser knows it.
 */

/** Unknown providers get the smallest limit: their request is refused (400) anyway. */
const SMALLEST = Math.min(...PROVIDER_IDS.map((p) => getProvider(p).notifications.maxBodyBytes));

export function notificationBodyLimit(providerParam: unknown): number {
  const name = typeof providerParam === 'string' ? providerParam.toLowerCase() : '';
  return isProviderId(name) ? getProvider(name).notifications.maxBodyBytes : SMALLEST;
}

type Done = (err: Error | null, body?: Buffer) => void;

/** A Fastify content-type parser (`parseAs` unset): the raw bytes, or 413 as soon as the limit is passed. */
export function parseNotificationBody(request: FastifyRequest, payload: NodeJS.ReadableStream, done: Done): void {
  const provider = (request.params as { provider?: unknown } | undefined)?.provider;
  const limit = notificationBodyLimit(provider);
  const tooLarge = () => new ApiError(413, 'payload_too_large', `notifications from ${isProviderId(String(provider).toLowerCase()) ? String(provider).toLowerCase() : 'this provider'} are at most ${limit} bytes`);
  const declaredHeader = request.headers['content-length'];
  const declared = declaredHeader === undefined ? undefined : Number(declaredHeader);
  // Refused before a byte is read: an announced oversize body costs nothing.
  if (declared !== undefined && declared > limit) return done(tooLarge());

  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const finish = (err: Error | null, body?: Buffer) => {
    if (settled) return;
    settled = true;
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onError);
    done(err, body);
  };
  const onData = (chunk: Buffer | string) => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > limit) return finish(tooLarge());
    chunks.push(b);
  };
  const onEnd = () => {
    if (declared !== undefined && Number.isFinite(declared) && size !== declared) return finish(new ApiError(400, 'invalid_input', 'Content-Length does not match the body'));
    finish(null, Buffer.concat(chunks, size));
  };
  const onError = (err: Error) => finish(err);
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);
}
