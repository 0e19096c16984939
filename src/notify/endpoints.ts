import { randomBytes } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { EVENT_TYPES, isEventType } from '../domain/events.js';
import { RefundHubError } from '../errors.js';
import type { Db, Tx } from '../store/index.js';
import { matchingEndpointIds, parseSubscribedEvents, pendingDelivery } from './outbox.js';

/**
 * Merchant webhook endpoints and their deliveries: registration (the secret is returned once,
 * at creation), listing, soft deletion, the delivery log and redelivery of an event.
 */

/** An endpoint as listed: never with its secret. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  /** Subscribed event types, or `["*"]` for all. */
  events: string[];
  /** ISO 8601. */
  createdAt: string;
}

/** What `createEndpoint` returns: the only time the signing secret is shown. */
export interface CreatedWebhookEndpoint extends WebhookEndpoint {
  /** `whsec_` + 32 random bytes, base64url. */
  secret: string;
}

export interface CreateEndpointInput {
  url: string;
  /** Event types from EVENT_TYPES, or `*`; default `["*"]`. */
  events?: readonly string[];
}

export interface DeliveryAttemptView {
  /** ISO 8601. */
  attemptedAt: string;
  /** The HTTP status the endpoint answered with; null when no response came. */
  statusCode: number | null;
  /** Why no usable response came (timeout, connection refused); null on an HTTP answer. */
  error: string | null;
  durationMs: number;
}

/** One event sent (or to be sent) to one endpoint, with every attempt made so far. */
export interface DeliveryView {
  id: string;
  event: {
    id: string;
    type: string;
    /** Unix seconds, as in the payload. */
    created: number;
    sequence: number;
    provider: string;
    account: string;
    refundId: string;
  };
  /** `pending`, `succeeded` or `failed` (gave up). */
  status: string;
  /** Attempts in the current retry round (a redelivery starts a new round). */
  attemptCount: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  /** Oldest first. */
  attempts: DeliveryAttemptView[];
}

export interface DeliveryPage {
  data: DeliveryView[];
  nextCursor: string | null;
}

const MAX_URL_LENGTH = 2048;
export const DEFAULT_DELIVERY_PAGE_SIZE = 20;
export const MAX_DELIVERY_PAGE_SIZE = 100;

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(Number(ms)));

export const newEndpointId = (): string => `we_${randomBytes(12).toString('base64url')}`;
export const newEndpointSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

/**
 * Where a webhook endpoint may point. By default RefundHub refuses URLs that would make it call
 * into its own network (SSRF): loopback, private, link-local (cloud metadata), unspecified and
 * multicast addresses, whether written as an IP literal or reached through a hostname. A
 * deployment whose receivers live on such addresses (the demo, tests, an internal network) opts in.
 */
export interface WebhookUrlPolicy {
  /** Accept loopback/private/link-local/... targets (REFUNDHUB_WEBHOOK_ALLOW_PRIVATE=true). Default false. */
  allowPrivateWebhookUrls?: boolean;
  /** Resolves a hostname to every address it has (default node:dns lookup with `all: true`). */
  lookup?: (hostname: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;
  /** Give up resolving after this long (default 5 s). */
  lookupTimeoutMs?: number;
}

/** `REFUNDHUB_WEBHOOK_ALLOW_PRIVATE=true` (or `1`) opts a deployment in to private webhook targets. */
export function allowPrivateWebhookUrlsFromEnv(env: Record<string, string | undefined> = process.env): boolean {
  const v = env.REFUNDHUB_WEBHOOK_ALLOW_PRIVATE?.trim().toLowerCase();
  return v === 'true' || v === '1';
}

function subnets(list: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6']>): BlockList {
  const b = new BlockList();
  for (const [net, prefix, type] of list) b.addSubnet(net, prefix, type);
  return b;
}

/** Address ranges a webhook may not target without the opt-in, with the reason given. */
const FORBIDDEN_RANGES: ReadonlyArray<readonly [reason: string, list: BlockList]> = [
  ['unspecified', subnets([['0.0.0.0', 8, 'ipv4'], ['::', 128, 'ipv6']])],
  ['loopback', subnets([['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']])],
  ['private', subnets([['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['100.64.0.0', 10, 'ipv4'], ['fc00::', 7, 'ipv6']])],
  // IPv6 forms that carry an IPv4 address (NAT64, the old IPv4-compatible form, 6to4) can reach
  // any of the ranges above; benchmarking and IETF protocol ranges are never public services.
  ['translated', subnets([['64:ff9b::', 96, 'ipv6'], ['::', 96, 'ipv6'], ['2002::', 16, 'ipv6']])],
  ['special-purpose', subnets([['198.18.0.0', 15, 'ipv4'], ['192.0.0.0', 24, 'ipv4']])],
  ['link-local', subnets([['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']])],
  ['multicast', subnets([['224.0.0.0', 4, 'ipv4'], ['ff00::', 8, 'ipv6']])],
  ['reserved', subnets([['240.0.0.0', 4, 'ipv4']])],
];

/**
 * Why `address` (an IP literal) may not be a webhook target, or null when it may. IPv4-mapped
 * IPv6 addresses (`::ffff:127.0.0.1`) are judged as the IPv4 address they carry.
 */
export function forbiddenAddressReason(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return null;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [reason, list] of FORBIDDEN_RANGES) if (list.check(address, type)) return reason;
  return null;
}

const defaultLookup = (hostname: string) => dnsLookup(hostname, { all: true, verbatim: true });

async function resolveAll(hostname: string, policy: WebhookUrlPolicy): Promise<ReadonlyArray<{ address: string }>> {
  const timeoutMs = policy.lookupTimeoutMs ?? 5_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      (policy.lookup ?? defaultLookup)(hostname),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('lookup timed out'), { code: 'ETIMEOUT' })), timeoutMs);
      }),
    ]);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code;
    const why = code === 'ENOTFOUND' || code === 'ENODATA' ? 'does not resolve' : `could not be resolved (${code ?? 'lookup failed'})`;
    throw new RefundHubError('invalid_input', `url host "${hostname}" ${why}`);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Parses and checks a webhook URL: http(s), no credentials, at most 2048 characters, and (unless
 * the policy allows private targets) neither an IP literal nor a hostname resolving to a
 * loopback, private, link-local, unspecified or multicast address. Returns the normalized URL.
 * Error messages never contain the URL's credentials. Exported so the deliverer can re-check at
 * delivery time (a hostname may resolve differently later).
 */
export async function checkWebhookUrl(url: unknown, policy: WebhookUrlPolicy = {}): Promise<string> {
  if (typeof url !== 'string' || url.length === 0) throw new RefundHubError('invalid_input', 'url is required');
  if (url.length > MAX_URL_LENGTH) throw new RefundHubError('invalid_input', `url is longer than ${MAX_URL_LENGTH} characters`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RefundHubError('invalid_input', 'url is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new RefundHubError('invalid_input', 'url must use http or https');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    // Never echo the URL back: it carries a credential.
    throw new RefundHubError('invalid_input', 'url must not contain a user name or password; authenticate receivers with the RefundHub-Signature header');
  }
  if (!parsed.hostname) throw new RefundHubError('invalid_input', 'url needs a host');
  if (!policy.allowPrivateWebhookUrls) {
    const host = parsed.hostname.startsWith('[') && parsed.hostname.endsWith(']') ? parsed.hostname.slice(1, -1) : parsed.hostname;
    const addresses = isIP(host) !== 0 ? [{ address: host }] : await resolveAll(host.endsWith('.') ? host.slice(0, -1) : host, policy);
    if (addresses.length === 0) throw new RefundHubError('invalid_input', `url host "${host}" does not resolve`);
    for (const { address } of addresses) {
      const reason = forbiddenAddressReason(address);
      if (reason) {
        const via = address === host ? '' : ` (${host} resolves to ${address})`;
        throw new RefundHubError(
          'invalid_input',
          `url must not point at a ${reason} address${via}; set REFUNDHUB_WEBHOOK_ALLOW_PRIVATE=true to allow private webhook targets`,
        );
      }
    }
  }
  return parsed.toString();
}

function validateEvents(events: unknown): string[] {
  if (events === undefined || events === null) return ['*'];
  if (!Array.isArray(events)) throw new RefundHubError('invalid_input', 'events must be an array of event types');
  if (events.length === 0) throw new RefundHubError('invalid_input', `events must list at least one of ${EVENT_TYPES.join(', ')} or "*"`);
  const out: string[] = [];
  for (const e of events) {
    if (e !== '*' && !isEventType(e)) {
      throw new RefundHubError('invalid_input', `unknown event type ${JSON.stringify(e)}; expected one of ${EVENT_TYPES.join(', ')} or "*"`);
    }
    if (!out.includes(e)) out.push(e);
  }
  return out.includes('*') ? ['*'] : out;
}

/**
 * Registers an endpoint. Throws `invalid_input` on a bad url (see `checkWebhookUrl`: private
 * targets need `policy.allowPrivateWebhookUrls`) or an unknown event type.
 */
export async function createEndpoint(db: Db | Tx, input: CreateEndpointInput, now: number = Date.now(), policy: WebhookUrlPolicy = {}): Promise<CreatedWebhookEndpoint> {
  const events = validateEvents(input?.events);
  const url = await checkWebhookUrl(input?.url, policy);
  const endpoint = { id: newEndpointId(), url, events, secret: newEndpointSecret(), createdAt: iso(now) };
  await db
    .insertInto('webhook_endpoints')
    .values({ id: endpoint.id, url, events: JSON.stringify(events), secret: endpoint.secret, created_at: now, deleted_at: null })
    .execute();
  return endpoint;
}

/** Active endpoints, oldest first, without secrets. */
export async function listEndpoints(db: Db | Tx): Promise<WebhookEndpoint[]> {
  const rows = await db
    .selectFrom('webhook_endpoints')
    .select(['id', 'url', 'events', 'created_at'])
    .where('deleted_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ id: r.id, url: r.url, events: parseSubscribedEvents(r.events), createdAt: iso(Number(r.created_at)) }));
}

/** One active endpoint without its secret, or null. */
export async function getEndpoint(db: Db | Tx, id: string): Promise<WebhookEndpoint | null> {
  const r = await db
    .selectFrom('webhook_endpoints')
    .select(['id', 'url', 'events', 'created_at'])
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return r ? { id: r.id, url: r.url, events: parseSubscribedEvents(r.events), createdAt: iso(Number(r.created_at)) } : null;
}

/**
 * Soft-deletes an endpoint (its delivery log stays readable) and stops its pending deliveries.
 * Returns false when there is no such active endpoint.
 */
export async function deleteEndpoint(db: Db | Tx, id: string, now: number = Date.now()): Promise<boolean> {
  const res = await db
    .updateTable('webhook_endpoints')
    .set({ deleted_at: now })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) return false;
  await db
    .updateTable('deliveries')
    .set({ status: 'failed', next_attempt_at: null, locked_until: null, last_error: 'endpoint deleted', updated_at: now })
    .where('endpoint_id', '=', id)
    .where('status', '=', 'pending')
    .execute();
  return true;
}

function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') {
      return { createdAt: v[0] as number, id: v[1] };
    }
  } catch {
    // fall through
  }
  throw new RefundHubError('invalid_input', 'cursor is not valid');
}

/**
 * An endpoint's deliveries, newest first, each with its event and every attempt (oldest first).
 * Works for deleted endpoints too (their log is kept); `not_found` when the id was never an endpoint.
 */
export async function listDeliveries(
  db: Db | Tx,
  endpointId: string,
  options: { limit?: number; cursor?: string | null } = {},
): Promise<DeliveryPage> {
  const limit = options.limit ?? DEFAULT_DELIVERY_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DELIVERY_PAGE_SIZE) {
    throw new RefundHubError('invalid_input', `limit must be an integer from 1 to ${MAX_DELIVERY_PAGE_SIZE}`);
  }
  const endpoint = await db.selectFrom('webhook_endpoints').select('id').where('id', '=', endpointId).executeTakeFirst();
  if (!endpoint) throw new RefundHubError('not_found', `no webhook endpoint ${endpointId}`);

  let q = db
    .selectFrom('deliveries as d')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .select([
      'd.id', 'd.event_id', 'd.status', 'd.attempts', 'd.next_attempt_at', 'd.last_status_code', 'd.last_error',
      'd.created_at', 'd.updated_at', 'e.type', 'e.created', 'e.sequence', 'e.provider', 'e.account', 'e.refund_id',
    ])
    .where('d.endpoint_id', '=', endpointId);
  if (options.cursor) {
    const c = decodeCursor(options.cursor);
    q = q.where((eb) => eb.or([eb('d.created_at', '<', c.createdAt), eb.and([eb('d.created_at', '=', c.createdAt), eb('d.id', '<', c.id)])]));
  }
  const rows = await q.orderBy('d.created_at', 'desc').orderBy('d.id', 'desc').limit(limit + 1).execute();
  const page = rows.slice(0, limit);

  const attemptsByDelivery = new Map<string, DeliveryAttemptView[]>();
  if (page.length > 0) {
    const attempts = await db
      .selectFrom('delivery_attempts')
      .select(['delivery_id', 'attempted_at', 'status_code', 'error', 'duration_ms'])
      .where('delivery_id', 'in', page.map((r) => r.id))
      .orderBy('id')
      .execute();
    for (const a of attempts) {
      const list = attemptsByDelivery.get(a.delivery_id) ?? [];
      list.push({ attemptedAt: iso(Number(a.attempted_at)), statusCode: a.status_code, error: a.error, durationMs: Number(a.duration_ms) });
      attemptsByDelivery.set(a.delivery_id, list);
    }
  }

  const last = page[page.length - 1];
  return {
    data: page.map((r) => ({
      id: r.id,
      event: {
        id: r.event_id,
        type: r.type,
        created: Number(r.created),
        sequence: Number(r.sequence),
        provider: r.provider,
        account: r.account,
        refundId: r.refund_id,
      },
      status: r.status,
      attemptCount: Number(r.attempts),
      nextAttemptAt: isoOrNull(r.next_attempt_at),
      lastStatusCode: r.last_status_code,
      lastError: r.last_error,
      createdAt: iso(Number(r.created_at)),
      updatedAt: iso(Number(r.updated_at)),
      attempts: attemptsByDelivery.get(r.id) ?? [],
    })),
    nextCursor: rows.length > limit && last ? encodeCursor(Number(last.created_at), last.id) : null,
  };
}

/**
 * Sends an event again, with the same event id and payload: every existing delivery of it to an
 * active endpoint is re-armed (pending, due now, a fresh retry round), and active endpoints
 * subscribed to its type that never had it get a new delivery. `not_found` for an unknown event.
 */
export async function redeliverEvent(db: Db | Tx, eventId: string, now: number = Date.now()): Promise<{ eventId: string; deliveries: number }> {
  const event = await db.selectFrom('events').select(['id', 'type']).where('id', '=', eventId).executeTakeFirst();
  if (!event) throw new RefundHubError('not_found', `no event ${eventId}`);

  const existing = await db
    .selectFrom('deliveries as d')
    .innerJoin('webhook_endpoints as w', 'w.id', 'd.endpoint_id')
    .select(['d.id', 'd.endpoint_id'])
    .where('d.event_id', '=', eventId)
    .where('w.deleted_at', 'is', null)
    .execute();
  if (existing.length > 0) {
    await db
      .updateTable('deliveries')
      .set({ status: 'pending', attempts: 0, next_attempt_at: now, locked_until: null, updated_at: now })
      .where('id', 'in', existing.map((d) => d.id))
      .execute();
  }

  const have = new Set(existing.map((d) => d.endpoint_id));
  const missing = (await matchingEndpointIds(db, event.type)).filter((id) => !have.has(id));
  if (missing.length > 0) {
    await db
      .insertInto('deliveries')
      .values(missing.map((endpointId) => pendingDelivery(eventId, endpointId, now)))
      .execute();
  }
  return { eventId, deliveries: existing.length + missing.length };
}
