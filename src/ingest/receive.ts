import type { LoadedConfig } from '../config/index.js';
import { accountSettings, DEFAULT_ACCOUNT } from '../config/index.js';
import { isProviderId, PROVIDER_IDS, type ProviderId } from '../domain/refund.js';
import { isRefundHubError, RefundHubError, toRefundHubError } from '../errors.js';
import { getProvider } from '../providers/registry.js';
import { isIgnoredNotification, SIGNED_NOTIFICATION_LIMITS, type IgnoredNotification, type ParsedNotification, type ProviderModule } from '../providers/types.js';
import { getRefundRow, refundKeyString, rescheduleCheck, type RefundKey } from '../store/refunds.js';
import { boundedText, MAX_EVENT_ID_CHARS, MAX_EVENT_TYPE_CHARS } from '../store/text.js';
import { syncRefund, type SyncDeps, type SyncSource } from '../sync/sync-refund.js';
import { withWriteTransaction } from '../sync/write-tx.js';

/** The spine's dependencies plus config (notification secrets) and a tracker for background work. */
export type IngestDeps = SyncDeps & {
  config: LoadedConfig;
  /** Receives the re-fetch started after answering, so shutdown and tests can await it. */
  background: (p: Promise<unknown>) => void;
  /**
   * Queues the re-fetch in the provider's lane (the poller's `requestSync`: its concurrency limit,
   * its rate-limit pause, one sync per refund at a time, a bounded queue). Without it (tests of
   * intake alone) the re-fetch calls the spine directly.
   */
  requestSync?: RequestSync;
  /** Accepted clock skew for timestamped signatures (Gr4vy), default 300 s. */
  toleranceSeconds?: number;
};

/** How a requested sync ended; `skipped` leaves the notification `pending` for recovery. */
export type RequestedSync = { outcome: 'synced' } | { outcome: 'failed'; error: RefundHubError } | { outcome: 'skipped'; reason: string };

/** Queues one sync of a refund; undefined when it cannot be queued now (queue full, stopping). */
export type RequestSync = (key: RefundKey, options?: { source?: SyncSource; force?: boolean }) => Promise<RequestedSync> | undefined;

export interface NotificationRequest {
  provider: string;
  account?: string;
  rawBody: Buffer;
  /** Header names in any case; they are lowercased before verification. */
  headers: Record<string, string | undefined>;
}

export interface NotificationResponse {
  status: number;
  body: unknown;
}

const errorBody = (code: string, message: string) => ({ error: { code, message } });

/** Tracks background promises so they can be awaited (`drain`) at shutdown or in tests. */
export interface BackgroundTracker {
  track: (p: Promise<unknown>) => void;
  /** Resolves once everything tracked so far (and anything it started meanwhile) has settled. */
  drain(): Promise<void>;
  readonly pending: number;
}

export function createBackgroundTracker(): BackgroundTracker {
  const pending = new Set<Promise<unknown>>();
  return {
    track(p) {
      const settled = p.then(
        () => undefined,
        () => undefined,
      );
      pending.add(settled);
      void settled.then(() => pending.delete(settled));
    },
    async drain() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    get pending() {
      return pending.size;
    },
  };
}

function resolveSettings(module: ProviderModule<any>, raw: Record<string, unknown>): unknown {
  try {
    return module.config.resolve(raw);
  } catch {
    // Verification needs only the webhook secret; an account whose API credentials are incomplete
    // still gets its signature checked (the re-fetch will then fail and be recorded).
    return raw;
  }
}

/**
 * Handles one inbound provider notification: verify over the raw bytes, record it, answer with the
 * provider's `ackStatus`, then re-fetch the refund through the spine in the background. The body's
 * status is never trusted: a notification is only a hint of which refund to look at. A verified
 * (or, unsigned, well-formed) event that is not about a refund is answered the same 2xx with
 * `ignored: true`: a 4xx would make the provider retry it for hours or days.
 */
export async function receiveNotification(deps: IngestDeps, input: NotificationRequest): Promise<NotificationResponse> {
  const providerName = String(input.provider ?? '').toLowerCase();
  // Same rule as the refunds routes and the CLI: an unknown provider is bad input (400), not a missing resource.
  if (!isProviderId(providerName)) return { status: 400, body: errorBody('invalid_input', `unknown provider "${String(input.provider).slice(0, 32)}" (expected one of: ${PROVIDER_IDS.join(', ')})`) };
  const provider: ProviderId = providerName;
  const account = input.account || DEFAULT_ACCOUNT;
  let raw: Record<string, unknown>;
  try {
    raw = accountSettings(deps.config, provider, account);
  } catch {
    // As on the refunds routes: an account that is not configured is not_configured (400).
    return { status: 400, body: errorBody('not_configured', `${provider} has no account named "${account.slice(0, 64)}"`) };
  }
  const module = getProvider(provider);
  const spec = module.notifications;
  // The route refuses these before reading them; this guards every other caller.
  if (input.rawBody.length > spec.maxBodyBytes) {
    deps.metrics?.notifications.inc({ provider, outcome: 'payload_too_large' });
    return { status: 413, body: errorBody('payload_too_large', `${provider} notifications are at most ${spec.maxBodyBytes} bytes`) };
  }
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  const now = deps.clock.now();

  let parsed: ParsedNotification | IgnoredNotification;
  let refundId = '';
  try {
    parsed = spec.parse({ rawBody: input.rawBody, headers, settings: resolveSettings(module, raw), now, toleranceSeconds: deps.toleranceSeconds });
    if (!isIgnoredNotification(parsed)) refundId = module.validateId(parsed.refundId);
  } catch (e) {
    const err = isRefundHubError(e) ? e : toRefundHubError(e, provider);
    const status = err.code === 'invalid_signature' ? 401 : 400;
    const code = err.code === 'invalid_signature' ? 'invalid_signature' : 'invalid_input';
    deps.metrics?.notifications.inc({ provider, outcome: code });
    deps.logger.warn({ provider, account, code }, `notification rejected: ${err.message}`);
    return { status, body: errorBody(code, err.message) };
  }

  // The provider's event id and type are unbounded and may hold NULs; the notifications index
  // (and PostgreSQL's text) need the same bound on both stores (src/store/text.ts).
  parsed = { ...parsed, eventId: boundedText(parsed.eventId, MAX_EVENT_ID_CHARS), eventType: boundedText(parsed.eventType, MAX_EVENT_TYPE_CHARS) };
  if (isIgnoredNotification(parsed)) return ignore(deps, spec, { provider, account, now, rawBody: input.rawBody }, parsed);

  const key = { provider, account, id: refundId };
  const signed = spec.signed;
  // Only a signed body can be believed about the status it claims; an unsigned one (Stan, OneKey)
  // is never de-duplicated on its content: anyone could replay it, and re-fetching is harmless.
  const claimed = signed ? claimedStatus(parsed) : null;
  const { text: body, truncated } = capBody(input.rawBody, spec.storedBodyBytes);
  if (truncated) deps.logger.warn({ provider, account, refundId, bytes: input.rawBody.length }, `notification body over ${spec.storedBodyBytes} bytes: stored truncated`);

  // One transaction: the notification row and, for a tracked refund, "check it now". Once we
  // answer 202 the provider will not resend, so the work must survive a crash right after: the
  // poller takes the refund (due now), and recoverPendingNotifications() re-runs a `pending` row
  // (the only trace of a refund not yet tracked).
  const { notificationId, duplicate } = await withWriteTransaction(deps.store, async (tx) => {
    const row = await getRefundRow(tx, key);
    let duplicate = false;
    if (signed && parsed.eventId !== null && claimed !== null && row !== undefined && row.provider_status === claimed) {
      // A redelivery of an event already processed, and what it claims is what we hold: skip the
      // re-fetch. Anything else (never processed, failed, or the stored status differs) re-fetches.
      const earlier = await tx
        .selectFrom('notifications')
        .select('id')
        .where('provider', '=', provider)
        .where('account', '=', account)
        .where('event_id', '=', parsed.eventId)
        .where('outcome', '=', 'synced')
        .limit(1)
        .executeTakeFirst();
      duplicate = earlier !== undefined;
    }
    const inserted = await tx
      .insertInto('notifications')
      .values({
        provider,
        account,
        refund_id: refundId,
        event_id: parsed.eventId,
        event_type: parsed.eventType,
        received_at: now,
        body,
        outcome: duplicate ? 'duplicate' : 'pending',
        processed_at: duplicate ? now : null,
        error: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (!duplicate && row !== undefined && (row.next_check_at === null || Number(row.next_check_at) > now)) {
      await rescheduleCheck(tx, key, now);
    }
    return { notificationId: Number(inserted.id), duplicate };
  });
  deps.metrics?.notifications.inc({ provider, outcome: duplicate ? 'duplicate' : 'accepted' });
  if (duplicate) return { status: spec.ackStatus, body: { received: true, duplicate: true } };

  deps.background(refetch(deps, [notificationId], key, now));
  return { status: spec.ackStatus, body: { received: true, duplicate: false } };
}

/** An ignored notification keeps this much of its body: enough to see what the provider sent. */
export const IGNORED_STORED_BODY_BYTES = 2 * 1024;

/**
 * Answers a notification that is not about a refund. A signed one is recorded (outcome `ignored`,
 * no refund id, a 2 KiB excerpt, purged with the rest by retention): it shows the operator what
 * the provider sends to the one URL. An unsigned one is not: anyone can send it, so it costs a
 * log line and a metric, never a row.
 */
async function ignore(
  deps: IngestDeps,
  spec: ProviderModule['notifications'],
  n: { provider: ProviderId; account: string; now: number; rawBody: Buffer },
  parsed: IgnoredNotification,
): Promise<NotificationResponse> {
  if (spec.signed) {
    await deps.store.db
      .insertInto('notifications')
      .values({
        provider: n.provider,
        account: n.account,
        refund_id: '',
        event_id: parsed.eventId,
        event_type: parsed.eventType,
        received_at: n.now,
        body: capBody(n.rawBody, IGNORED_STORED_BODY_BYTES).text,
        outcome: 'ignored',
        processed_at: n.now,
        error: null,
      })
      .execute();
  }
  deps.metrics?.notifications.inc({ provider: n.provider, outcome: 'ignored' });
  deps.logger.info({ provider: n.provider, account: n.account, eventType: parsed.eventType }, `notification ignored: ${parsed.reason}`);
  return { status: spec.ackStatus, body: { received: true, ignored: true, reason: parsed.reason } };
}

/** Stored bodies of signed notifications are capped (the route's body limit is larger); the rest is dropped, with a note. */
export const MAX_STORED_BODY_BYTES = SIGNED_NOTIFICATION_LIMITS.storedBodyBytes;

function capBody(raw: Buffer, max: number): { text: string; truncated: boolean } {
  if (raw.length <= max) return { text: raw.toString('utf8'), truncated: false };
  const note = `\n[truncated by RefundHub: ${raw.length} bytes received, only the first bytes are kept]`;
  const keep = max - Buffer.byteLength(note, 'utf8');
  // A multi-byte character cut in half decodes as U+FFFD: drop it.
  const head = raw.subarray(0, keep).toString('utf8').replace(/\uFFFD+$/, '');
  return { text: head + note, truncated: true };
}

/** The provider status a signed notification claims (`claimedStatus` from the provider's parser), if any. */
function claimedStatus(parsed: ParsedNotification): string | null {
  const v = parsed.claimedStatus;
  return typeof v === 'string' && v !== '' ? v : null;
}

/** A refund not yet tracked whose re-fetch failed for a passing reason is retried by recovery this long. */
const RETRY_UNTRACKED_FOR_MS = 24 * 60 * 60_000;

type RefetchDeps = SyncDeps & Pick<IngestDeps, 'requestSync'>;

/**
 * The one re-fetch for notifications `notificationIds` about `key`, then their outcome. Through the
 * provider's lane when there is one; a request the lane cannot take or skips leaves the rows
 * `pending`, so recovery (or the due query, for a tracked refund) picks them up later.
 */
async function refetch(deps: RefetchDeps, notificationIds: number[], key: RefundKey, receivedAt: number, force = false): Promise<void> {
  let result: RequestedSync;
  if (deps.requestSync) {
    const queued = deps.requestSync(key, { source: 'notification', force });
    if (!queued) {
      deps.logger.info({ provider: key.provider, account: key.account, refundId: key.id }, 'provider lane full: notification left pending for later');
      return;
    }
    result = await queued;
  } else {
    try {
      await syncRefund(deps, { ...key, source: 'notification' });
      result = { outcome: 'synced' };
    } catch (e) {
      result = { outcome: 'failed', error: e instanceof RefundHubError ? e : toRefundHubError(e, key.provider) };
    }
  }
  if (result.outcome === 'skipped') {
    deps.logger.debug({ provider: key.provider, refundId: key.id, reason: result.reason }, 'notification re-fetch not run now; left pending');
    return;
  }
  let outcome = 'synced';
  let error: string | null = null;
  if (result.outcome === 'failed') {
    const err = result.error;
    outcome = 'failed';
    error = `${err.code}: ${err.message}`.slice(0, 500);
    deps.logger.warn({ provider: key.provider, account: key.account, refundId: key.id, code: err.code }, 'notification re-fetch failed');
    // A tracked refund is retried by the poller. One not tracked has only this row: keep it
    // pending for recoverPendingNotifications() when the failure may pass (network, 5xx, 429).
    if (err.retryable && deps.clock.now() - receivedAt < RETRY_UNTRACKED_FOR_MS) {
      const tracked = await getRefundRow(deps.store.db, key).catch(() => undefined);
      if (!tracked) outcome = 'pending';
    }
  }
  try {
    await deps.store.db
      .updateTable('notifications')
      .set({ outcome, processed_at: outcome === 'pending' ? null : deps.clock.now(), error })
      .where('id', 'in', notificationIds)
      .where('outcome', '=', 'pending')
      .execute();
  } catch (e) {
    deps.logger.error({ err: (e as Error).message, notificationIds }, 'could not record notification outcome');
  }
}

/**
 * Records how a worker's re-fetch (a sync job with source `notification`, PostgreSQL) ended on the
 * notifications it answers: every `pending` one about `key` received up to `fetchStartedAt` (the
 * fetch read the provider after them, so it saw what they announce). A later one stays pending for
 * its own job. As in `refetch`, a retryable failure on a refund that is not tracked keeps them
 * pending for recovery, for RETRY_UNTRACKED_FOR_MS after they arrived.
 */
export async function settleNotifications(deps: SyncDeps, key: RefundKey, result: Exclude<RequestedSync, { outcome: 'skipped' }>, fetchStartedAt: number): Promise<void> {
  let outcome = 'synced';
  let error: string | null = null;
  let receivedBefore = fetchStartedAt;
  if (result.outcome === 'failed') {
    const err = result.error;
    outcome = 'failed';
    error = `${err.code}: ${err.message}`.slice(0, 500);
    if (err.retryable) {
      const tracked = await getRefundRow(deps.store.db, key).catch(() => undefined);
      if (!tracked) receivedBefore = Math.min(fetchStartedAt, deps.clock.now() - RETRY_UNTRACKED_FOR_MS);
    }
  }
  try {
    await deps.store.db
      .updateTable('notifications')
      .set({ outcome, processed_at: deps.clock.now(), error })
      .where('provider', '=', key.provider)
      .where('account', '=', key.account)
      .where('refund_id', '=', key.id)
      .where('outcome', '=', 'pending')
      .where('received_at', '<=', receivedBefore)
      .execute();
  } catch (e) {
    deps.logger.error({ err: (e as Error).message, provider: key.provider, refundId: key.id }, 'could not record notification outcome');
  }
}

export interface RecoverOptions {
  /** Only notifications received at least this long ago (default 5 s: younger ones are still being handled). */
  olderThanMs?: number;
  /** Most notifications taken per run (default 200). */
  limit?: number;
}

const recovering = new WeakSet<object>();

/**
 * Re-runs notifications still `pending` (the process died between answering 202 and finishing the
 * re-fetch, or a re-fetch of an untracked refund failed for a passing reason, or its lane was
 * full): each refund is re-fetched once through the spine (in its provider's lane when there is
 * one) with source `notification`, and its rows get the outcome.
 * Never rejects. Run it at start and periodically (e.g. every 30 s); overlapping runs on one store
 * are skipped. Resolves with the number of notifications handled.
 */
export async function recoverPendingNotifications(deps: RefetchDeps, options: RecoverOptions = {}): Promise<number> {
  if (recovering.has(deps.store)) return 0;
  recovering.add(deps.store);
  try {
    const now = deps.clock.now();
    const rows = await deps.store.db
      .selectFrom('notifications')
      .select(['id', 'provider', 'account', 'refund_id', 'received_at'])
      .where('outcome', '=', 'pending')
      .where('received_at', '<=', now - (options.olderThanMs ?? 5_000))
      .orderBy('id')
      .limit(options.limit ?? 200)
      .execute();
    const groups = new Map<string, { key: RefundKey; ids: number[]; receivedAt: number }>();
    for (const r of rows) {
      if (!isProviderId(r.provider)) continue;
      const key: RefundKey = { provider: r.provider, account: r.account, id: r.refund_id };
      const k = refundKeyString(key);
      const g = groups.get(k) ?? { key, ids: [], receivedAt: Number(r.received_at) };
      g.ids.push(Number(r.id));
      groups.set(k, g);
    }
    if (groups.size > 0) deps.logger.info({ notifications: rows.length, refunds: groups.size }, 'recovering pending notifications');
    // Forced: whoever had these is gone or finished without answering them. With lanes they run
    // side by side under each provider's limits; without, one at a time.
    if (deps.requestSync) await Promise.all([...groups.values()].map((g) => refetch(deps, g.ids, g.key, g.receivedAt, true)));
    else for (const g of groups.values()) await refetch(deps, g.ids, g.key, g.receivedAt);
    return rows.length;
  } catch (e) {
    deps.logger.error({ err: (e as Error).message }, 'notification recovery failed');
    return 0;
  } finally {
    recovering.delete(deps.store);
  }
}
