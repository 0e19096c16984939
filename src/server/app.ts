import { randomBytes } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type onRequestHookHandler, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { pino } from 'pino';
import { EVENT_TYPES } from '../domain/events.js';
import { MAX_CURSOR_LENGTH, MAX_LIST_LIMIT, MAX_REFERENCE_LENGTH, parseListQuery, type ListQuery } from '../domain/list-query.js';
import { isProviderId, PROVIDER_IDS, REFUND_STATUSES } from '../domain/refund.js';
import { RefundHubError } from '../errors.js';
import { REDACT_PATHS } from '../logger.js';
import { redactQuery } from '../redact.js';
import { ResponseCache } from './read-cache.js';
import { createEndpoint, deleteEndpoint, listDeliveries, listEndpoints, redeliverEvent, type WebhookUrlPolicy } from '../notify/endpoints.js';
import type { RefundHub } from '../service.js';
import { ApiKeyVerifier, apiKeyCacheMsFor, hasScope, type ApiScope, type VerifiedKey } from './auth.js';
import { renderDocsPage } from './docs-page.js';
import { dashboardRoutes } from './dashboard.js';
import { LiveFeed, liveRoutes } from './live.js';
import { refundActionRoutes } from './refund-actions.js';
import { refundWebhookRoutes } from './refund-webhooks.js';
import { SessionStore, sessionCookie, sessionRoutes } from './sessions.js';
import { statsRoutes } from './stats.js';
import { voucherRoutes } from './voucher.js';
import { sendMetrics } from './metrics-server.js';
import { parseNotificationBody } from './notification-body.js';
import { ApiError, errorBody, retryAfterSeconds, sendError } from './errors.js';
import { notificationRateLimitFromEnv, trustProxyFromEnv, type NotificationRateLimit } from './edge-settings.js';
import { boundedServerOptions, httpTimeoutsFromEnv, isClientAbort, type HttpTimeouts } from './http-timeouts.js';
import {
  ACCOUNT_PARAM,
  errorResponses,
  PROVIDER_PARAM,
  REFUND_ID_PARAM,
  SCOPES_DESCRIPTION,
  SHARED_SCHEMAS,
} from './schemas.js';

/**
 * The HTTP API: every route has a JSON schema (validation, serialization and `/openapi.json`),
 * Bearer API keys with scopes, `{error:{code,message}}` errors with the right 4xx, and the
 * unauthenticated provider notification routes that take the raw body.
 */

export const BODY_LIMIT = 1024 * 1024;

export interface BuildAppOptions {
  /** A pino logger; default a JSON logger on stderr at REFUNDHUB_LOG_LEVEL (or `info`), secrets redacted. */
  logger?: FastifyBaseLogger;
  /** Log level for the default logger (`silent` in tests). */
  logLevel?: string;
  /** Cache of verified API keys, default 5 s (revocation takes effect within it). */
  apiKeyCacheMs?: number;
  /**
   * Let webhook endpoints target loopback, private, link-local, unspecified and multicast
   * addresses (REFUNDHUB_WEBHOOK_ALLOW_PRIVATE=true; the demo and tests whose receivers are on
   * 127.0.0.1). Default false.
   */
  allowPrivateWebhookUrls?: boolean;
  /** Hostname resolution for the webhook URL check (tests); default node:dns lookup. */
  webhookUrlLookup?: WebhookUrlPolicy['lookup'];
  /**
   * Per-client-IP token bucket on the unauthenticated `POST /v1/notifications/*` routes, so they
   * cannot be used to make us call providers at will: `perSecond` refill, `burst` capacity
   * (default REFUNDHUB_NOTIFICATION_RATE_LIMIT, else 20/s, burst 200). `false` turns it off. Over
   * the limit: 429 too_many_requests with Retry-After.
   */
  notificationRateLimit?: NotificationRateLimit | false;
  /**
   * Proxies whose X-Forwarded-For/-Proto are believed (Fastify's `trustProxy` as a list of IPs or
   * CIDRs); default REFUNDHUB_TRUST_PROXY, else none.
   */
  trustProxy?: string;
  /** Monotonic milliseconds for the rate limiter (tests); default performance.now(). */
  rateLimitNow?: () => number;
  /**
   * Serve `GET /metrics` on the API (unauthenticated, as Prometheus expects). False when it is
   * served on a separate port instead (`serve --metrics-port`, see metrics-server.ts). Default true.
   */
  metricsRoute?: boolean;
  /** How long a client may take to send a request and hold a socket; default httpTimeoutsFromEnv(). */
  timeouts?: Partial<HttpTimeouts>;
}

export { DEFAULT_HTTP_TIMEOUTS, httpTimeoutsFromEnv, type HttpTimeouts } from './http-timeouts.js';

export { DEFAULT_NOTIFICATION_RATE_LIMIT } from './edge-settings.js';

/**
 * In-memory token buckets keyed by client IP. Each key holds up to `burst` tokens and refills at
 * `perSecond`; a request takes one. Idle full buckets are forgotten, and the map is bounded.
 */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = 100_000,
  ) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new RangeError('rate limit needs perSecond > 0 and burst >= 1');
  }

  /** Takes a token for `key`: 0 when allowed, else the milliseconds until one is available. */
  take(key: string): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
      b.at = t;
    } else {
      if (this.buckets.size >= this.maxKeys) this.sweep(t);
      b = { tokens: this.burst, at: t };
      this.buckets.set(key, b);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.perSecond) * 1000);
  }

  /** Drops buckets that have refilled completely (they behave like new ones), or all when none have. */
  private sweep(t: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(k);
    if (this.buckets.size >= this.maxKeys) this.buckets.clear();
  }
}

/** The request URL for the access log: path kept, values of secret-looking query parameters redacted (src/redact.ts), bounded length. */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  const out = q >= 0 ? `${url.slice(0, q)}${redactQuery(url.slice(q), '[redacted]')}` : url;
  return out.length > 2048 ? `${out.slice(0, 2048)}...` : out;
}

/** The access log: one line per request, at info, on the request's child logger (so with its reqId). */
/** The key from `Authorization: Bearer <key>`, or the error to answer with. */
function bearerToken(header: string | undefined): string | ApiError {
  if (!header) return new ApiError(401, 'unauthorized', 'missing API key: send Authorization: Bearer <key>');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return new ApiError(401, 'unauthorized', 'Authorization must be "Bearer <key>"');
  return m[1]!;
}

/** Whether a logger would write at `level`; a logger that cannot say is assumed to. */
function levelEnabled(log: FastifyBaseLogger, level: string): boolean {
  const l = log as FastifyBaseLogger & { isLevelEnabled?(level: string): boolean };
  return l.isLevelEnabled ? l.isLevelEnabled(level) : true;
}

/** The access-log line, written through the root logger with the request id (no child needed). */
function logResponse(root: FastifyBaseLogger, request: FastifyRequest, reply: FastifyReply): void {
  root.info(
    { reqId: request.id, method: request.method, url: loggableUrl(request.url), statusCode: reply.statusCode, responseTime: Math.round(reply.elapsedTime * 100) / 100 },
    'request completed',
  );
}

/** A route path pattern (`/v1/refunds/:provider/:id`) as a matcher of request paths. */
function routeMatcher(pattern: string): RegExp {
  const body = pattern
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  // Exact, as Fastify's router is: `/v1/refunds/` is no route at all (404), not another method (405).
  return new RegExp(`^${body}$`);
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs; routes without one are public. */
    scope?: ApiScope;
  }
}

const SECURITY = [{ bearerAuth: [] }];

function headerRecord(req: FastifyRequest): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

// Request ids: a random per-process prefix and a counter. Unique across restarts and instances,
// and cheaper than random bytes on every request of the hot read path.
const REQUEST_ID_PREFIX = `req_${randomBytes(4).toString('hex')}`;
let requestCounter = 0;
const nextRequestId = (): string => `${REQUEST_ID_PREFIX}${(++requestCounter).toString(36).padStart(6, '0')}`;

export function buildApp(hub: RefundHub, options: BuildAppOptions = {}): FastifyInstance {
  const logger =
    options.logger ??
    pino({
      name: 'refundhub',
      level: options.logLevel ?? process.env.REFUNDHUB_LOG_LEVEL ?? 'info',
      redact: { paths: [...REDACT_PATHS, 'req.headers["x-hmac-signature"]', 'req.headers.signature', 'req.headers["x-gr4vy-webhook-signatures"]'], censor: '[redacted]' },
      base: undefined,
    }, pino.destination({ dest: 2, sync: false }));

  const responses = new ResponseCache();
  const timeouts: HttpTimeouts = { ...httpTimeoutsFromEnv(), ...options.timeouts };
  // Read before the server exists, so a bad value stops the start with its message.
  const rateLimit = options.notificationRateLimit ?? notificationRateLimitFromEnv();
  const trustProxy = options.trustProxy ?? trustProxyFromEnv();
  const app = Fastify({
    ...(trustProxy ? { trustProxy } : {}),
    loggerInstance: logger,
    ...boundedServerOptions(timeouts),
    // A child logger per request carries its request id; when nothing is logged at all there is
    // nothing to carry, and the child (with its redaction setup) is pure cost on every request.
    childLoggerFactory: (parent, bindings, opts) => (parent.level === 'silent' ? parent : parent.child(bindings, opts)),
    bodyLimit: BODY_LIMIT,
    genReqId: nextRequestId,
    routerOptions: { maxParamLength: 512 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false } },
    return503OnClosing: true,
    // One access-log line per request (onResponse below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Errors Fastify raises before routing (bad percent-encoding, over-long params) use our envelope too.
    // No route hooks run on these, so the request id header and the access-log line are added here.
    frameworkErrors: (err, request, reply) => {
      reply.header('x-request-id', request.id);
      sendError(request, reply, err);
      if (levelEnabled(logger, 'info')) logResponse(logger, request, reply);
    },
  });

  const webhookPolicy: WebhookUrlPolicy = { allowPrivateWebhookUrls: options.allowPrivateWebhookUrls ?? false, lookup: options.webhookUrlLookup };
  const notificationLimiter = rateLimit === false ? undefined : new TokenBucketLimiter(rateLimit.perSecond, rateLimit.burst, options.rateLimitNow);

  // Every route's methods and path matcher, so an unrouted method on a known path is a 405.
  const routes: Array<{ methods: string[]; re: RegExp }> = [];
  app.addHook('onRoute', (route) => {
    routes.push({ methods: ([] as string[]).concat(route.method), re: routeMatcher(route.url ?? route.path) });
  });

  // Revocations reach every API node within the TTL: 500 ms on PostgreSQL (shared by nodes), 5 s on SQLite.
  const verifier = new ApiKeyVerifier(hub.db, () => hub.clock.now(), options.apiKeyCacheMs ?? apiKeyCacheMsFor(hub.store.dialect));

  /** Checks the Bearer key for one scope. Callback style: a cached key answers synchronously. */
  const sessions = new SessionStore(hub.db, () => hub.clock.now());
  const liveFeed = new LiveFeed(hub.db, (err) => logger.warn({ err }, 'live feed: poll failed'));

  const authHook = (scope: ApiScope): onRequestHookHandler => (request, _reply, done) => {
    // The dashboard's session cookie stands in for a Bearer key (sessions.ts); a Bearer key wins when both are sent.
    const cookie = request.headers.authorization === undefined ? sessionCookie(request.headers.cookie) : undefined;
    if (cookie) return void sessions.authorize(request, cookie, scope).then((e) => done(e), (e: Error) => done(e));
    const token = bearerToken(request.headers.authorization);
    if (token instanceof ApiError) return done(token);
    const verdict = (key: VerifiedKey | null): ApiError | undefined => {
      if (!key) return new ApiError(401, 'unauthorized', 'unknown or revoked API key');
      if (!hasScope(key.scopes, scope)) return new ApiError(403, 'forbidden', `this API key lacks the ${scope} scope`);
      return undefined;
    };
    const hit = verifier.cached(token);
    if (hit !== undefined) return done(verdict(hit));
    verifier.verify(token).then((key) => done(verdict(key)), (e: Error) => done(e));
  };

  app.setErrorHandler((err, request, reply) => {
    // A client that hangs up mid-request is routine on the internet, not our failure: no error, no stack.
    if (isClientAbort(err, request.raw.destroyed || request.raw.socket?.destroyed !== false)) {
      request.log.info({ code: (err as NodeJS.ErrnoException).code }, 'client closed the connection before its request arrived');
      return reply.code(400).send(errorBody('invalid_input', 'the request was aborted by the client'));
    }
    return sendError(request, reply, err);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = [...new Set(routes.filter((r) => r.re.test(path)).flatMap((r) => r.methods))];
    if (allowed.length > 0) {
      return reply
        .code(405)
        .header('allow', allowed.sort().join(', '))
        .send(errorBody('method_not_allowed', `${request.method} is not allowed on ${path.slice(0, 200)} (allowed: ${allowed.join(', ')})`));
    }
    return reply.code(404).send(errorBody('route_not_found', `no route ${request.method} ${path.slice(0, 200)}`));
  });
  // Hooks cost on every request, so each is added only where it does something: the request id
  // header is set as the request arrives, the access log only when its level is on.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  if (levelEnabled(logger, 'info')) {
    app.addHook('onResponse', (request, reply, done) => {
      logResponse(logger, request, reply);
      done();
    });
  }
  // A JSON API: text/plain bodies are 415, not strings that fail validation (the notification routes take raw bytes of any type).
  app.removeContentTypeParser('text/plain');

  for (const s of SHARED_SCHEMAS) app.addSchema(s);

  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'RefundHub API',
        version: '0.1.0',
        // The package is UNLICENSED (not open source); SPDX spells a non-listed license LicenseRef-*.
        license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
        description: `Tracks refunds at Ziina, Tazapay, Gr4vy, Stan and OneKey until they are final, and signs a webhook for every change. ${SCOPES_DESCRIPTION}`,
      },
      // Relative: each instance serves its own document, wherever it listens.
      servers: [{ url: '/', description: 'The RefundHub instance serving this document' }],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: `An API key (refundhub_...). ${SCOPES_DESCRIPTION}` } },
      },
      tags: [
        { name: 'refunds', description: 'Tracked refunds and their history' },
        { name: 'webhooks', description: 'Outgoing signed webhooks' },
        { name: 'notifications', description: 'Inbound provider notifications (unauthenticated, signature checked)' },
        { name: 'operations', description: 'Health, metrics and this document' },
        { name: 'sessions', description: 'Dashboard sign-in: an API key exchanged for a session cookie' },
      ],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url }) => {
      // Notification routes take raw bytes (no body schema, so nothing parses them); document the body anyway.
      if (url.startsWith('/v1/notifications/')) {
        return {
          schema: { ...schema, body: { type: 'object', description: "The provider's native notification, verified against its raw bytes" } } as typeof schema,
          url,
        };
      }
      return { schema, url };
    },
  });

  app.register(async (api) => {
    // Each route that names a scope gets its own auth hook, built once when the route is added:
    // public routes run no hook, and no request pays for looking its route's config up.
    api.addHook('onRoute', (route) => {
      const scope = route.config?.scope;
      if (!scope) return;
      route.onRequest = [authHook(scope), ...([] as onRequestHookHandler[]).concat(route.onRequest ?? [])];
    });

    // ---- operations ----
    api.get('/healthz', {
      schema: {
        tags: ['operations'],
        summary: 'Liveness and database check',
        operationId: 'getHealth',
        security: [],
        response: {
          200: { type: 'object', properties: { status: { type: 'string' }, database: { type: 'string' } } },
          503: { type: 'object', properties: { status: { type: 'string' }, database: { type: 'string' } } },
          ...errorResponses('4xx'),
        },
      },
    }, async (_request, reply) => {
      try {
        await sql`select 1`.execute(hub.db);
        return { status: 'ok', database: hub.store.dialect };
      } catch {
        return reply.code(503).send({ status: 'unavailable', database: hub.store.dialect });
      }
    });

    if (options.metricsRoute !== false) api.get('/metrics', {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        operationId: 'getMetrics',
        description: 'Syncs by provider and outcome, provider latency, queue depth, deliveries, refunds by status (text exposition format).',
        produces: ['text/plain'],
        security: [],
        response: { 200: { type: 'string', description: 'Prometheus text format' }, ...errorResponses('4xx') },
      },
    }, (_request, reply) => sendMetrics(hub, reply));

    api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    let docsHtml: string | undefined;
    api.get('/docs', { schema: { hide: true } }, async (_request, reply) => {
      docsHtml ??= renderDocsPage(app.swagger() as unknown as Record<string, any>);
      return reply.type('text/html; charset=utf-8').send(docsHtml);
    });

    // ---- refunds ----
    api.post<{ Body: { provider: string; id: string; account?: string; currency?: string } }>('/v1/refunds', {
      config: { scope: 'refunds:write' },
      schema: {
        tags: ['refunds'],
        summary: 'Start tracking a refund',
        operationId: 'trackRefund',
        description: 'Fetches the refund from its provider at once and stores it. 201 when tracking starts, 200 with the stored refund when it is already tracked.',
        security: SECURITY,
        body: {
          type: 'object',
          required: ['provider', 'id'],
          additionalProperties: false,
          properties: {
            provider: PROVIDER_PARAM,
            id: REFUND_ID_PARAM,
            account: ACCOUNT_PARAM,
            currency: { type: 'string', pattern: '^[A-Za-z]{3}$', description: 'ISO 4217 code for providers that do not return one (OneKey)' },
          },
        },
        response: { 200: { $ref: 'TrackedRefund#' }, 201: { $ref: 'TrackedRefund#' }, ...errorResponses(400, 401, 403, 404, 413, 415, 502, 503) },
      },
    }, async (request, reply) => {
      const b = request.body;
      const { refund, created } = await hub.track(b.provider, b.id, { account: b.account, currency: b.currency ?? null });
      return reply.code(created ? 201 : 200).send(refund);
    });

    api.get('/v1/refunds', {
      config: { scope: 'refunds:read' },
      schema: {
        tags: ['refunds'],
        summary: 'List tracked refunds',
        operationId: 'listRefunds',
        description: 'Oldest tracked first, keyset-paginated: pass `nextCursor` back as `cursor`.',
        security: SECURITY,
        querystring: {
          type: 'object',
          properties: {
            provider: { type: 'string', enum: [...PROVIDER_IDS] },
            account: ACCOUNT_PARAM,
            status: { type: 'string', enum: [...REFUND_STATUSES] },
            stuck: { type: 'boolean' },
            createdFrom: { type: 'string', description: "Refund's createdAt on or after: a date (`2026-01-31`, UTC midnight) or an ISO 8601 timestamp", examples: ['2026-01-01', '2026-01-01T12:00:00Z'] },
            createdTo: { type: 'string', description: "Refund's createdAt on or before: a date (the whole day, inclusive) or an ISO 8601 timestamp", examples: ['2026-01-31', '2026-01-31T12:00:00Z'] },
            limit: { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, default: 50 },
            cursor: { type: 'string', maxLength: MAX_CURSOR_LENGTH },
            q: { type: 'string', maxLength: 256, description: 'Only the refunds with this refund id, payment id or merchant reference (exact match)' },
            merchantReference: { type: 'string', minLength: 1, maxLength: MAX_REFERENCE_LENGTH, description: "Only the refunds with this merchant reference (the merchant's own order or invoice number; exact match, indexed)", examples: ['order-1042'] },
            order: { type: 'string', enum: ['asc', 'desc'], default: 'asc', description: 'By time tracked: `asc` oldest first, `desc` newest first' },
          },
        },
        response: {
          200: { type: 'object', required: ['data', 'nextCursor'], properties: { data: { type: 'array', items: { $ref: 'TrackedRefund#' } }, nextCursor: { type: ['string', 'null'] } } },
          ...errorResponses(400, 401, 403),
        },
      },
      // The schema above documents the parameters; the CLI's parser checks them, so `refundhub
      // list` and this route accept the same values and refuse the rest in the same words.
      validatorCompiler: () => (query) => {
        try {
          return { value: parseListQuery(query as Record<string, unknown>, { defaultLimit: 50 }) };
        } catch (e) {
          return { error: e as Error };
        }
      },
    }, async (request) => hub.list(request.query as unknown as ListQuery));

    const refundParams = { type: 'object', required: ['provider', 'id'], properties: { provider: PROVIDER_PARAM, id: REFUND_ID_PARAM } } as const;

    api.get<{ Params: { provider: string; id: string }; Querystring: { account?: string; refresh?: boolean } }>('/v1/refunds/:provider/:id', {
      config: { scope: 'refunds:read' },
      schema: {
        tags: ['refunds'],
        summary: 'Get a tracked refund',
        operationId: 'getRefund',
        description: 'Served from the store; `refresh=true` fetches from the provider first (through the same sync as the poller).',
        security: SECURITY,
        params: refundParams,
        querystring: { type: 'object', properties: { account: ACCOUNT_PARAM, refresh: { type: 'boolean', default: false } } },
        response: { 200: { $ref: 'TrackedRefund#' }, ...errorResponses(400, 401, 403, 404, 502, 503) },
      },
    }, async (request, reply) => {
      const { provider, id } = request.params;
      const account = request.query.account;
      if (request.query.refresh) {
        // Only refunds we track are refreshed here; starting to track is POST /v1/refunds.
        await hub.get(provider, id, { account });
        return (await hub.refresh(provider, id, { account, source: 'api' })).refund;
      }
      // The hot read: answered from the serialized copy while the store reports no write since.
      // PostgreSQL has no change token (null): every read goes to the database, so a write on any
      // node shows on every node at once.
      const cacheKey = `${provider}\u0000${account ?? ''}\u0000${id}`;
      const token = hub.store.changeToken();
      let body = responses.get(cacheKey, token);
      if (body === undefined) {
        // Kept as bytes: sending a Buffer skips re-encoding the text on every hit.
        body = Buffer.from(JSON.stringify(await hub.get(provider, id, { account })));
        responses.set(cacheKey, token, body);
      }
      return reply.type('application/json; charset=utf-8').send(body);
    });

    api.get<{ Params: { provider: string; id: string }; Querystring: { account?: string } }>('/v1/refunds/:provider/:id/events', {
      config: { scope: 'refunds:read' },
      schema: {
        tags: ['refunds'],
        summary: "A tracked refund's history",
        operationId: 'listRefundEvents',
        description: 'Every observed status change (and anomaly, reversal, stuck mark), oldest first.',
        security: SECURITY,
        params: refundParams,
        querystring: { type: 'object', properties: { account: ACCOUNT_PARAM } },
        response: { 200: { type: 'object', required: ['data'], properties: { data: { type: 'array', items: { $ref: 'HistoryEntry#' } } } }, ...errorResponses(400, 401, 403, 404) },
      },
    }, async (request) => {
      const { provider, id } = request.params;
      return { data: await hub.history(provider, id, { account: request.query.account }) };
    });

    // ---- outgoing webhooks ----
    const endpointIdParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,128}$' } } } as const;

    api.post<{ Body: { url: string; events?: string[] } }>('/v1/webhook-endpoints', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags: ['webhooks'],
        summary: 'Register a webhook endpoint',
        operationId: 'createWebhookEndpoint',
        description: 'The signing secret is returned only here. Events: omit or `["*"]` for all.',
        security: SECURITY,
        body: {
          type: 'object',
          required: ['url'],
          additionalProperties: false,
          properties: {
            url: { type: 'string', minLength: 1, maxLength: 2048 },
            events: { type: 'array', minItems: 1, maxItems: 32, items: { type: 'string', enum: [...EVENT_TYPES, '*'] } },
          },
        },
        response: { 201: { $ref: 'CreatedWebhookEndpoint#' }, ...errorResponses(400, 401, 403, 413, 415) },
      },
    }, async (request, reply) => {
      const created = await createEndpoint(hub.db, { url: request.body.url, events: request.body.events }, hub.clock.now(), webhookPolicy);
      return reply.code(201).send(created);
    });

    api.get('/v1/webhook-endpoints', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags: ['webhooks'],
        summary: 'List webhook endpoints (without secrets)',
        operationId: 'listWebhookEndpoints',
        security: SECURITY,
        response: { 200: { type: 'object', required: ['data'], properties: { data: { type: 'array', items: { $ref: 'WebhookEndpoint#' } } } }, ...errorResponses(401, 403) },
      },
    }, async () => ({ data: await listEndpoints(hub.db) }));

    api.delete<{ Params: { id: string } }>('/v1/webhook-endpoints/:id', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags: ['webhooks'],
        summary: 'Delete a webhook endpoint',
        operationId: 'deleteWebhookEndpoint',
        description: 'No further deliveries; its delivery log is kept.',
        security: SECURITY,
        params: endpointIdParams,
        response: { 204: { type: 'null', description: 'Deleted' }, ...errorResponses(400, 401, 403, 404) },
      },
    }, async (request, reply) => {
      if (!(await deleteEndpoint(hub.db, request.params.id, hub.clock.now()))) throw new RefundHubError('not_found', `no webhook endpoint ${request.params.id}`);
      return reply.code(204).send();
    });

    api.get<{ Params: { id: string }; Querystring: { limit?: number; cursor?: string } }>('/v1/webhook-endpoints/:id/deliveries', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags: ['webhooks'],
        summary: "An endpoint's deliveries, each event with its attempts",
        operationId: 'listWebhookDeliveries',
        description: 'Newest first, paginated with `nextCursor`.',
        security: SECURITY,
        params: endpointIdParams,
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 }, cursor: { type: 'string', maxLength: 1024 } } },
        response: {
          200: { type: 'object', required: ['data', 'nextCursor'], properties: { data: { type: 'array', items: { $ref: 'Delivery#' } }, nextCursor: { type: ['string', 'null'] } } },
          ...errorResponses(400, 401, 403, 404),
        },
      },
    }, async (request) => listDeliveries(hub.db, request.params.id, { limit: request.query.limit ?? 20, cursor: request.query.cursor || null }));

    api.post<{ Params: { id: string } }>('/v1/events/:id/redeliver', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags: ['webhooks'],
        summary: 'Send an event again',
        operationId: 'redeliverEvent',
        description: 'Same event id and payload, to every active endpoint subscribed to it.',
        security: SECURITY,
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^evt_[A-Za-z0-9_-]{1,128}$' } } },
        response: { 202: { type: 'object', properties: { eventId: { type: 'string' }, deliveries: { type: 'integer' } } }, ...errorResponses(400, 401, 403, 404) },
      },
    }, async (request, reply) => reply.code(202).send(await redeliverEvent(hub.db, request.params.id, hub.clock.now())));

    // ---- the dashboard (served at /) and the resources it reads besides the above ----
    api.register(sessionRoutes, { sessions, verifyKey: (key) => verifier.verify(key) });
    api.register(statsRoutes, { db: hub.db, now: () => hub.clock.now() });
    api.register(refundWebhookRoutes, { hub });
    api.register(refundActionRoutes, { hub });
    api.register(liveRoutes, { feed: liveFeed });
    api.register(voucherRoutes, { hub });
    api.register(dashboardRoutes);

    // ---- inbound provider notifications: raw bytes, no API key ----
    api.register(async (raw) => {
      raw.removeAllContentTypeParsers();
      // Each provider's own body limit (NotificationSpec.maxBodyBytes), 413 beyond it.
      raw.addContentTypeParser('*', parseNotificationBody);
      if (notificationLimiter) {
        // Before the body is read: a flood costs us neither parsing nor provider calls.
        raw.addHook('onRequest', async (request) => {
          const waitMs = notificationLimiter.take(request.ip ?? 'unknown');
          if (waitMs > 0) {
            // Counted, so an operator sees a provider being refused (a shared proxy address, a budget too small).
            const provider = String((request.params as { provider?: unknown } | undefined)?.provider ?? '').toLowerCase();
            hub.metrics.notifications.inc({ provider: isProviderId(provider) ? provider : 'unknown', outcome: 'rate_limited' });
            throw new ApiError(429, 'too_many_requests', 'too many notifications from this client; slow down', { 'retry-after': retryAfterSeconds(waitMs) });
          }
        });
      }
      const NOTIFICATION_ACK = {
        type: 'object',
        required: ['received'],
        properties: {
          received: { type: 'boolean' },
          duplicate: { type: 'boolean', description: 'An event already processed whose claim matches what we hold: not re-fetched' },
          ignored: { type: 'boolean', description: 'A verified event that is not about a refund: acknowledged so the provider stops retrying' },
          reason: { type: 'string' },
        },
      } as const;
      const notificationSchema = (withAccount: boolean) => ({
        tags: ['notifications'],
        summary: withAccount ? "A provider's notification for a named account" : "A provider's notification (account `default`)",
        description:
          'Ziina, Tazapay and Gr4vy notifications must carry a valid signature (401 otherwise, nothing stored); Stan and OneKey ones are unsigned and must match the documented body exactly. ' +
          'A notification is a hint: it is recorded, answered at once with the status the provider counts as delivered (200 for OneKey and Stan, 202 for Ziina, Tazapay and Gr4vy), and the refund is re-fetched from the provider. ' +
          'An event that is not about a refund gets the same status with `ignored: true`. Bodies are limited per provider (2 KiB unsigned, 256 KiB signed; 413 beyond). See docs/providers.md.',
        security: [],
        operationId: withAccount ? 'receiveAccountNotification' : 'receiveNotification',
        params: {
          type: 'object',
          required: withAccount ? ['provider', 'account'] : ['provider'],
          properties: withAccount ? { provider: PROVIDER_PARAM, account: ACCOUNT_PARAM } : { provider: PROVIDER_PARAM },
        },
        response: {
          200: { description: 'Received (OneKey, Stan: they retry anything but 200)', ...NOTIFICATION_ACK },
          202: { description: 'Received (Ziina, Tazapay, Gr4vy)', ...NOTIFICATION_ACK },
          ...errorResponses(400, 401, 413, 429),
        },
      });
      const handler = async (request: FastifyRequest<{ Params: { provider: string; account?: string } }>, reply: FastifyReply) => {
        const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const r = await hub.ingest({ provider: request.params.provider, account: request.params.account, rawBody, headers: headerRecord(request) });
        return reply.code(r.status).send(r.body);
      };
      raw.post('/v1/notifications/:provider', { schema: notificationSchema(false) }, handler);
      raw.post('/v1/notifications/:provider/:account', { schema: notificationSchema(true) }, handler);
    });
  });

  return app;
}

/** Starts listening; resolves with the base URL (`http://host:port`). */
export async function listen(app: FastifyInstance, port: number, host: string): Promise<string> {
  await app.listen({ port, host });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') return `http://${host}:${port}`;
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${h}:${addr.port}`;
}
