import { EVENT_TYPES } from '../domain/events.js';
import { PROVIDER_IDS, REFUND_STATUSES } from '../domain/refund.js';
import { API_SCOPES } from './auth.js';

/**
 * JSON schemas of the API: they validate requests, serialize responses and generate
 * `/openapi.json`. Shared ones are registered with `$id` and become components/schemas.
 */

const nullable = (type: string, extra: Record<string, unknown> = {}) => ({ type: [type, 'null'], ...extra });

export const ErrorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error: a stable code (see docs/errors.md) and a human message.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', examples: ['invalid_input'] }, message: { type: 'string' } },
    },
  },
} as const;

export const TrackingSchema = {
  $id: 'TrackingState',
  type: 'object',
  required: ['trackedAt', 'lastCheckedAt', 'nextCheckAt', 'checkCount', 'stuck', 'finalAt', 'lastError'],
  properties: {
    trackedAt: { type: 'string', format: 'date-time' },
    lastCheckedAt: nullable('string', { format: 'date-time' }),
    nextCheckAt: nullable('string', { format: 'date-time', description: 'null once no further check is scheduled' }),
    checkCount: { type: 'integer' },
    stuck: { type: 'boolean', description: 'true once the provider\'s stuck threshold (`providers.<p>.stuckAfter`, default 30d) passed without a final status' },
    finalAt: nullable('string', { format: 'date-time' }),
    lastError: {
      type: ['object', 'null'],
      description: 'The last failed sync, cleared by the next successful one',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

export const RefundSchema = {
  $id: 'TrackedRefund',
  type: 'object',
  description: 'The normalized refund plus its tracking state.',
  // Every field is always present (null when unknown); listing them all also keeps the serializer's
  // field order the same as the single-refund route's.
  required: ['provider', 'account', 'id', 'paymentId', 'status', 'providerStatus', 'amount', 'currency', 'amountDecimal', 'reason', 'createdAt', 'updatedAt', 'failure', 'merchantReference', 'customerReceives', 'metadata', 'providerReference', 'raw', 'tracking'],
  properties: {
    provider: { type: 'string', enum: [...PROVIDER_IDS] },
    account: { type: 'string' },
    id: { type: 'string', description: "The provider's refund id" },
    paymentId: nullable('string'),
    status: { type: 'string', enum: [...REFUND_STATUSES] },
    providerStatus: { type: 'string', description: "The provider's own status word" },
    amount: nullable('integer', { description: 'ISO 4217 minor units' }),
    currency: nullable('string'),
    amountDecimal: nullable('string'),
    reason: nullable('string'),
    createdAt: nullable('string', { format: 'date-time' }),
    updatedAt: nullable('string', { format: 'date-time' }),
    failure: {
      type: ['object', 'null'],
      properties: { code: nullable('string'), message: nullable('string') },
    },
    merchantReference: nullable('string', { description: "The merchant's own order or invoice reference (OneKey merchant_invoice_id, Gr4vy external_identifier, Tazapay reference_id)" }),
    customerReceives: {
      type: ['object', 'null'],
      description: 'What the customer receives in their currency (Tazapay customer_receives), in the same money rules as amount',
      required: ['amount', 'currency', 'amountDecimal'],
      properties: { amount: nullable('integer', { description: 'ISO 4217 minor units' }), currency: nullable('string'), amountDecimal: nullable('string') },
    },
    metadata: {
      type: ['object', 'null'],
      description: "The provider's key-value metadata (Tazapay metadata)",
      additionalProperties: { type: 'string' },
    },
    providerReference: nullable('string', { description: 'The id the processor or acquirer knows the refund by (Gr4vy payment_service_refund_id, Tazapay balance_transaction)' }),
    raw: { description: "The provider's refund object as received" },
    tracking: { $ref: 'TrackingState#' },
  },
} as const;

export const HistoryEntrySchema = {
  $id: 'HistoryEntry',
  type: 'object',
  required: ['id', 'kind', 'from', 'to', 'providerStatus', 'source', 'observedAt'],
  properties: {
    id: { type: 'integer' },
    kind: { type: 'string', enum: ['tracked', 'change', 'reversal', 'anomaly', 'stuck'], description: '`anomaly`: a stale read of a final refund, recorded but not applied' },
    from: { type: ['string', 'null'], enum: [...REFUND_STATUSES, null] },
    to: { type: 'string', enum: [...REFUND_STATUSES] },
    providerStatus: { type: 'string' },
    source: { type: 'string', enum: ['poll', 'notification', 'api', 'manual'] },
    observedAt: { type: 'string', format: 'date-time' },
    raw: { description: 'The raw provider payload observed' },
    note: nullable('string'),
  },
} as const;

export const WebhookEndpointSchema = {
  $id: 'WebhookEndpoint',
  type: 'object',
  required: ['id', 'url', 'events', 'createdAt'],
  properties: {
    id: { type: 'string' },
    url: { type: 'string', format: 'uri' },
    events: { type: 'array', items: { type: 'string', enum: [...EVENT_TYPES, '*'] } },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const CreatedWebhookEndpointSchema = {
  $id: 'CreatedWebhookEndpoint',
  type: 'object',
  required: ['id', 'url', 'events', 'createdAt', 'secret'],
  properties: {
    ...WebhookEndpointSchema.properties,
    secret: { type: 'string', description: 'Signing secret for RefundHub-Signature. Shown only here.' },
  },
} as const;

export const DeliverySchema = {
  $id: 'Delivery',
  type: 'object',
  required: ['id', 'event', 'status', 'attemptCount', 'attempts'],
  properties: {
    id: { type: 'string' },
    event: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        type: { type: 'string', enum: [...EVENT_TYPES] },
        created: { type: 'integer', description: 'Unix seconds' },
        sequence: { type: 'integer' },
        provider: { type: 'string' },
        account: { type: 'string' },
        refundId: { type: 'string' },
      },
    },
    status: { type: 'string', enum: ['pending', 'succeeded', 'failed'] },
    attemptCount: { type: 'integer' },
    nextAttemptAt: nullable('string', { format: 'date-time' }),
    lastStatusCode: nullable('integer'),
    lastError: nullable('string'),
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    attempts: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          attemptedAt: { type: 'string', format: 'date-time' },
          statusCode: nullable('integer'),
          error: nullable('string'),
          durationMs: { type: 'integer' },
        },
      },
    },
  },
} as const;

export const SHARED_SCHEMAS = [ErrorSchema, TrackingSchema, RefundSchema, HistoryEntrySchema, WebhookEndpointSchema, CreatedWebhookEndpointSchema, DeliverySchema];

/** Error responses a route may give, by status (`4xx`: any client error, e.g. a malformed request). */
export function errorResponses(...statuses: Array<number | '4xx'>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of statuses) out[String(s)] = { description: ERROR_DESCRIPTIONS[s] ?? 'Error', $ref: 'Error#' };
  return out;
}

const ERROR_DESCRIPTIONS: Record<number | '4xx', string> = {
  '4xx': 'A malformed request (bad URL encoding, over-long headers, a slow client: request_timeout)',
  400: 'Bad input (invalid_input) or an unconfigured provider/account (not_configured)',
  401: 'Missing or unknown API key (unauthorized), or a bad notification signature (invalid_signature)',
  403: 'The API key lacks the scope (forbidden)',
  404: 'Not tracked / not found',
  405: 'Method not allowed on this path (method_not_allowed); the Allow header lists the methods',
  413: 'Body larger than 1 MiB (payload_too_large)',
  414: 'A path segment is too long (uri_too_long)',
  415: 'Unsupported content type (unsupported_media_type)',
  429: 'Too many requests from this client (too_many_requests); retry after the Retry-After header (seconds)',
  502: 'The provider failed or rejected our credentials',
  503: 'The provider is rate limiting us (rate_limited); Retry-After (seconds) when the provider said how long',
};

export const PROVIDER_PARAM = { type: 'string', minLength: 1, maxLength: 32, description: PROVIDER_IDS.join(', ') } as const;
export const REFUND_ID_PARAM = { type: 'string', minLength: 1, maxLength: 256, description: "The provider's refund id" } as const;
export const ACCOUNT_PARAM = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'Configured account name (default `default`)' } as const;

export const SCOPES_DESCRIPTION = `API keys carry scopes: ${API_SCOPES.join(', ')} (refunds:write implies refunds:read).`;
