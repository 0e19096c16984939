import { randomBytes } from 'node:crypto';
import type { RefundClient } from '../client.js';
import type { Clock } from '../clock.js';
import { DEFAULT_ACCOUNT } from '../config/index.js';
import type { EventType, RefundEvent, TrackedRefund } from '../domain/events.js';
import { moneyFromDecimal } from '../domain/money.js';
import type { ProviderId, Refund, RefundStatus } from '../domain/refund.js';
import { isFinalStatus, isProviderId } from '../domain/refund.js';
import { decideTransition, type TransitionKind } from '../domain/transitions.js';
import { RefundHubError, toRefundHubError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { enqueueDeliveries } from '../notify/outbox.js';
import { formatThreshold, type Scheduler } from '../poller/schedule.js';
import type { Db, Store } from '../store/index.js';
import { getRefundRow, getRefundRowForUpdate, refundKeyString, rescheduleCheck, toTrackedRefund, type RefundKey, type RefundRow } from '../store/refunds.js';
import type { RefundsTable } from '../store/schema.js';
import { boundedText, MAX_MERCHANT_REFERENCE_CHARS, MAX_PAYMENT_ID_CHARS, storableText } from '../store/text.js';
import { pausedUntil, pauseProvider } from '../store/provider-pauses.js';
import type { RefundLock } from '../store/refund-lock.js';
import { DEFAULT_MAX_RETRY_AFTER_MS } from '../transport/http.js';
import { withWriteTransaction } from './write-tx.js';

/** Everything the spine needs, passed in (the composition root builds it once). */
export interface SyncDeps {
  store: Store;
  client: RefundClient;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
  schedule: Scheduler;
  /**
   * One sync of a refund at a time: a KeyedLock (one process; SQLite), or on PostgreSQL a
   * PgRefundLock (src/store/refund-lock.ts), which covers every process on the database.
   */
  locks: RefundLock;
  /** Longest provider pause after a 429, whatever its Retry-After says (default 1 hour). */
  maxRetryAfterMs?: number;
}

/** How long to hold off a provider that rate-limited us without saying for how long. */
export const DEFAULT_RATE_LIMIT_PAUSE_MS = 60_000;

/**
 * Who asked for the sync; recorded on every history row: `poll` (the poller), `notification` (a
 * provider notification), `api` (the HTTP API), `manual` (an operator: the CLI's `track`/`refresh`).
 */
export const SYNC_SOURCES = ['poll', 'notification', 'api', 'manual'] as const;
export type SyncSource = (typeof SYNC_SOURCES)[number];

export const isSyncSource = (v: unknown): v is SyncSource => typeof v === 'string' && (SYNC_SOURCES as readonly string[]).includes(v);

export interface SyncRequest {
  provider: ProviderId;
  /** Account name; `default` when empty. */
  account: string;
  id: string;
  source: SyncSource;
  /** Currency for providers whose refunds carry none (OneKey); kept for later syncs. */
  currency?: string | null;
}

export interface SyncResult {
  refund: TrackedRefund;
  /** True when this sync started tracking the refund. */
  created: boolean;
  /** True when the refund's status changed (first observation, change or reversal); a new provider word alone is kind `provider_status`. */
  changed: boolean;
  kind: TransitionKind;
  /** True when this sync added to the refund's history. */
  recorded: boolean;
  /** Events emitted by this sync, in sequence order. */
  events: RefundEvent[];
}

export const newEventId = (): string => `evt_${randomBytes(12).toString('base64url')}`;

/**
 * Providers without a currency (OneKey) return only a major-unit decimal; with the currency the
 * merchant gave when tracking, we can fill in the ISO minor-unit amount.
 */
export function applyCurrencyHint(refund: Refund, hint: string | null | undefined): Refund {
  if (!hint || refund.currency !== null) return refund;
  if (refund.amountDecimal === null) return { ...refund, currency: hint.toUpperCase() };
  try {
    const money = moneyFromDecimal(refund.amountDecimal, hint);
    if (money.currency === null) return refund;
    return { ...refund, ...money };
  } catch {
    // The decimal does not fit the hinted currency's exponent: a wrong hint; keep what the provider said.
    return refund;
  }
}

function refundColumns(r: Refund): Pick<
  RefundsTable,
  | 'status' | 'provider_status' | 'payment_id' | 'amount' | 'currency' | 'amount_decimal' | 'reason' | 'created_at' | 'updated_at' | 'failure_code' | 'failure_message' | 'raw'
  | 'merchant_reference' | 'customer_receives_amount' | 'customer_receives_currency' | 'customer_receives_decimal' | 'metadata' | 'provider_reference'
> {
  // Provider text goes through storableText so both stores take the same values (no NULs on
  // PostgreSQL); `raw` is JSON, whose escapes already keep NULs out of the text.
  return {
    status: r.status,
    provider_status: storableText(r.providerStatus),
    payment_id: boundedText(r.paymentId, MAX_PAYMENT_ID_CHARS),
    // A BIGINT on PostgreSQL, any number on SQLite: only a safe integer is an amount on both.
    amount: r.amount !== null && Number.isSafeInteger(r.amount) ? r.amount : null,
    currency: storableText(r.currency),
    amount_decimal: storableText(r.amountDecimal),
    reason: storableText(r.reason),
    created_at: storableText(r.createdAt),
    updated_at: storableText(r.updatedAt),
    failure_code: storableText(r.failure?.code ?? null),
    failure_message: storableText(r.failure?.message ?? null),
    raw: JSON.stringify(r.raw ?? null),
    merchant_reference: boundedText(r.merchantReference, MAX_MERCHANT_REFERENCE_CHARS),
    customer_receives_amount: r.customerReceives?.amount != null && Number.isSafeInteger(r.customerReceives.amount) ? r.customerReceives.amount : null,
    customer_receives_currency: storableText(r.customerReceives?.currency ?? null),
    customer_receives_decimal: storableText(r.customerReceives?.amountDecimal ?? null),
    metadata: r.metadata === null ? null : JSON.stringify(r.metadata),
    provider_reference: storableText(r.providerReference),
  };
}

const whereKey = (key: RefundKey) => ({ provider: key.provider, account: key.account, refund_id: key.id });

async function updateRow(tx: Db, key: RefundKey, values: Partial<RefundsTable>): Promise<void> {
  const k = whereKey(key);
  await tx.updateTable('refunds').set(values).where('provider', '=', k.provider).where('account', '=', k.account).where('refund_id', '=', k.refund_id).execute();
}

/**
 * The spine: fetch through the connector, normalize, apply the transition rules, and write the new
 * state, the history row and the outgoing event(s) with their deliveries in ONE transaction. The
 * CLI, the API, the poller and notifications all end here. Syncs of the same refund are serialized
 * by `deps.locks`.
 */
export async function syncRefund(deps: SyncDeps, req: SyncRequest): Promise<SyncResult> {
  let validated: { provider: ProviderId; id: string };
  try {
    validated = deps.client.validate(req.provider, req.id);
  } catch (e) {
    // Bad input from a caller stores nothing. But a TRACKED refund whose id no longer passes the
    // provider's check (the rule changed since it was stored) would be claimed again at every
    // lease expiry with no trace: record the error on it so it backs off and shows why.
    if (isProviderId(req.provider) && typeof req.id === 'string') {
      const key: RefundKey = { provider: req.provider, account: req.account || DEFAULT_ACCOUNT, id: req.id };
      const tracked = await getRefundRow(deps.store.db, key).catch(() => undefined);
      if (tracked) await recordErrorSafely(deps, key, toRefundHubError(e, req.provider), deps.logger);
    }
    throw e;
  }
  const key: RefundKey = { provider: validated.provider, account: req.account || DEFAULT_ACCOUNT, id: validated.id };
  return deps.locks.run(refundKeyString(key), () => syncLocked(deps, key, req));
}

/**
 * A failure of our own database as a `store_error`. The driver's message names the column or the
 * constraint (never a credential), and is what an operator needs to see on the refund.
 */
export function toStoreError(e: unknown, provider?: ProviderId): RefundHubError {
  if (e instanceof RefundHubError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new RefundHubError('store_error', `could not store the refund: ${message}`.slice(0, 500), { provider, retryable: true, cause: e });
}

async function syncLocked(deps: SyncDeps, key: RefundKey, req: SyncRequest): Promise<SyncResult> {
  const { store, client, clock, metrics, schedule } = deps;
  const log = deps.logger.child({ syncId: randomBytes(6).toString('hex'), provider: key.provider, account: key.account, refundId: key.id, source: req.source });
  let before: RefundRow | undefined;
  try {
    before = await getRefundRow(store.db, key);
  } catch (e) {
    const err = toStoreError(e, key.provider);
    metrics?.syncs.inc({ provider: key.provider, outcome: `error:${err.code}` });
    log.error({ code: err.code }, `sync failed: ${err.message}`);
    throw err;
  }
  const hint = req.currency?.trim() ? req.currency.trim().toUpperCase() : (before?.currency_hint ?? null);

  // A provider account paused after a 429 (by any process on this database) gets no call until the
  // pause ends; the caller hears rate_limited with the time left, as if the provider had said it.
  // Nothing is recorded on the refund: no call was made, so nothing failed.
  const pauseEnd = await pausedUntil(store.db, key.provider, key.account, clock.now()).catch((e: Error) => {
    log.warn({ err: e.message }, 'could not read provider pauses; calling the provider');
    return null;
  });
  if (pauseEnd !== null) {
    metrics?.syncs.inc({ provider: key.provider, outcome: 'paused' });
    // A scheduled refund is parked until the pause ends, as a 429 of its own would park it.
    if (before && before.next_check_at !== null && Number(before.next_check_at) < pauseEnd) {
      await rescheduleCheck(store.db, key, pauseEnd).catch((e: Error) => log.warn({ err: e.message }, 'could not park the refund until the pause ends'));
    }
    throw new RefundHubError('rate_limited', `${key.provider} rate-limited us; not called again until ${new Date(pauseEnd).toISOString()}`, {
      provider: key.provider,
      retryAfterMs: Math.max(1, pauseEnd - clock.now()),
    });
  }

  let fetched: Refund;
  try {
    fetched = applyCurrencyHint(await client.getRefund(key.provider, key.id, { account: key.account }), hint);
  } catch (e) {
    const err = toRefundHubError(e, key.provider);
    metrics?.syncs.inc({ provider: key.provider, outcome: `error:${err.code}` });
    if (err.code === 'rate_limited') await pauseSafely(deps, key, err, log);
    if (before) await recordErrorSafely(deps, key, err, log);
    log.warn({ code: err.code, retryAfterMs: err.retryAfterMs, tracked: !!before }, `sync failed: ${err.message}`);
    throw err;
  }

  const now = clock.now();
  // The fetched refund stays valid whatever another process wrote meanwhile: the write transaction
  // holds the write lock from its start (SQLite) or locks the row (PostgreSQL), re-reads the row and
  // applies the observation to what it finds; a residual conflict (e.g. another process inserted
  // the same refund first) just runs this apply step again.
  let result: SyncResult;
  try {
    result = await withWriteTransaction(
      store,
      async (tx) => {
        const row = store.dialect === 'postgres' ? await getRefundRowForUpdate(tx, key) : await getRefundRow(tx, key);
        return applyObservation(deps, tx, key, req, row, fetched, hint, now);
      },
      { onRetry: (e, attempt) => log.info({ attempt, code: (e as { code?: string }).code }, 'write conflict with another writer; applying again') },
    );
  } catch (e) {
    // The fetch worked but our database would not take the result (down, full, a value it
    // refuses). Without a record the poller's lease would expire and the same write fail again,
    // every few minutes, forever and unseen: record it on the refund and back off on its schedule.
    const err = toStoreError(e, key.provider);
    metrics?.syncs.inc({ provider: key.provider, outcome: `error:${err.code}` });
    log.error({ code: err.code, tracked: !!before }, `sync failed: ${err.message}`);
    await recordErrorSafely(deps, key, err, log);
    throw err;
  }
  const outcome = result.kind === 'anomaly' ? 'anomaly' : result.changed ? 'changed' : 'unchanged';
  metrics?.syncs.inc({ provider: key.provider, outcome });
  const alerted = result.events.some((e) => e.type === 'refund.unknown_status');
  if (result.kind === 'anomaly' && alerted) {
    // Not a plain stale read: the provider now reports a status we cannot map. Alert (and the
    // `refund.unknown_status` event went out), but keep the final status.
    log.error({ stored: result.refund.status, providerStatus: fetched.providerStatus }, 'final refund now reads with a status we do not know; kept the final status');
  } else if (result.kind === 'anomaly' && result.recorded) {
    log.warn({ stored: result.refund.status, observed: fetched.status, providerStatus: fetched.providerStatus }, 'stale read: a final refund read back as not final; kept the final status');
  } else if (result.kind === 'anomaly') {
    log.debug({ stored: result.refund.status, providerStatus: fetched.providerStatus }, 'final refund still reads as before the anomaly already recorded');
  } else if (result.kind === 'reversal') {
    log.warn({ to: fetched.status }, 'final refund changed to another final status (reversal)');
  } else if (alerted) {
    log.error({ providerStatus: fetched.providerStatus }, 'refund has a status we do not know');
  } else {
    log.debug({ kind: result.kind, status: result.refund.status }, 'synced');
  }
  return result;
}

async function applyObservation(
  deps: SyncDeps,
  tx: Db,
  key: RefundKey,
  req: SyncRequest,
  row: RefundRow | undefined,
  fetched: Refund,
  hint: string | null,
  now: number,
): Promise<SyncResult> {
  const prev = (row?.status ?? null) as RefundStatus | null;
  const providerStatus = storableText(fetched.providerStatus);
  const decision = decideTransition(
    row ? { status: prev!, providerStatus: row.provider_status, anomalyProviderStatus: row.anomaly_provider_status ?? null } : null,
    { status: fetched.status, providerStatus },
  );
  const trackedAt = row ? Number(row.tracked_at) : now;
  const checkCount = (row ? Number(row.check_count) : 0) + 1;
  const wasFinalAt = row?.final_at === null || row?.final_at === undefined ? null : Number(row.final_at);
  const status: RefundStatus = decision.apply ? fetched.status : prev!;
  // A reversal restarts the late checks; reaching final from not final starts them.
  const finalAt = isFinalStatus(status) ? (decision.apply && (decision.kind === 'reversal' || wasFinalAt === null) ? now : wasFinalAt) : null;
  const wasStuck = row ? Number(row.stuck) === 1 : false;
  const scheduleState = { provider: key.provider, status, trackedAt, checkCount, finalAt };
  const stuck = !isFinalStatus(status) && (wasStuck || deps.schedule.isStuck(scheduleState, now));
  const becameStuck = stuck && !wasStuck;
  const nextCheckAt = deps.schedule.nextCheckAt(scheduleState, now);
  let sequence = row ? Number(row.sequence) : 0;

  const tracking: Partial<RefundsTable> = {
    currency_hint: storableText(hint),
    last_checked_at: now,
    next_check_at: nextCheckAt,
    check_count: checkCount,
    final_at: finalAt,
    stuck: stuck ? 1 : 0,
    error_count: 0,
    last_error_code: null,
    last_error_message: null,
    // Remembered while a final refund keeps reading as something else; any other read ends it.
    anomaly_provider_status: decision.kind === 'anomaly' ? providerStatus : null,
  };
  // An anomaly keeps the stored (final) refund as it was; anything else takes the fresh read.
  const data = decision.kind === 'anomaly' ? {} : refundColumns(fetched);

  const eventTypes: EventType[] = [];
  if (decision.eventType) eventTypes.push(decision.eventType);
  if (becameStuck) eventTypes.push('refund.stuck');
  const nextSequence = sequence + eventTypes.length;

  if (!row) {
    await tx
      .insertInto('refunds')
      .values({ ...whereKey(key), ...refundColumns(fetched), ...tracking, tracked_at: now, sequence: nextSequence } as RefundsTable)
      .execute();
  } else {
    await updateRow(tx, key, { ...data, ...tracking, sequence: nextSequence });
  }

  const history = (kind: string, from: RefundStatus | null, to: RefundStatus, note: string | null) =>
    tx
      .insertInto('refund_history')
      .values({
        ...whereKey(key),
        kind,
        from_status: from,
        to_status: to,
        provider_status: providerStatus,
        source: req.source,
        observed_at: now,
        raw: JSON.stringify(fetched.raw ?? null),
        note,
      })
      .execute();

  if (decision.record) {
    if (decision.kind === 'tracked') await history('tracked', null, fetched.status, null);
    else if (decision.kind === 'change') await history('change', prev, fetched.status, null);
    else if (decision.kind === 'reversal') await history('reversal', prev, fetched.status, `final status ${prev} turned into ${fetched.status}`);
    else if (decision.kind === 'anomaly') {
      const note = fetched.status === 'unknown' ? `unknown provider status ${providerStatus}: kept final status ${prev}` : `stale read: kept final status ${prev}`;
      await history('anomaly', prev, fetched.status, note);
    } else if (decision.kind === 'provider_status') {
      // Kept as kind `change` (from = to) so the history's kinds stay what the API documents.
      await history('change', prev, fetched.status, `provider status ${row!.provider_status} -> ${providerStatus}`);
    }
  }
  if (becameStuck) await history('stuck', status, status, `not final ${formatThreshold(deps.schedule.stuckAfterMs(key.provider))} after tracking started`);

  const after = await getRefundRow(tx, key);
  if (!after) throw new RefundHubError('store_error', 'refund row vanished during sync', { provider: key.provider });
  const refund = toTrackedRefund(after);
  const events: RefundEvent[] = [];
  for (const type of eventTypes) {
    sequence += 1;
    const event: RefundEvent = {
      id: newEventId(),
      type,
      created: Math.floor(now / 1000),
      sequence,
      data: {
        refund,
        previousStatus: type === 'refund.stuck' ? status : prev,
        // The stored refund still shows its final word: say which reading raised the alert.
        ...(decision.kind === 'anomaly' ? { observed: { status: fetched.status, providerStatus } } : {}),
      },
    };
    await tx
      .insertInto('events')
      .values({ id: event.id, type, ...whereKey(key), sequence, created: event.created, payload: JSON.stringify(event) })
      .execute();
    await enqueueDeliveries(tx, event, now);
    events.push(event);
  }

  return {
    refund,
    created: !row,
    changed: decision.kind === 'tracked' || decision.kind === 'change' || decision.kind === 'reversal',
    kind: decision.kind,
    recorded: decision.record || becameStuck,
    events,
  };
}

/**
 * Records a failed sync on a tracked refund: the error, and when to try again (per schedule, or
 * after the provider's Retry-After for a rate limit). A refund never tracked stores nothing. Its
 * own transaction touches only the tracking columns, so it still succeeds when the failure was a
 * value from the provider that the store refused.
 */
async function recordError(deps: SyncDeps, key: RefundKey, err: RefundHubError): Promise<void> {
  const now = deps.clock.now();
  await withWriteTransaction(deps.store, async (tx) => {
    const row = deps.store.dialect === 'postgres' ? await getRefundRowForUpdate(tx, key) : await getRefundRow(tx, key);
    if (!row) return;
    const checkCount = Number(row.check_count) + 1;
    const status = row.status as RefundStatus;
    const finalAt = row.final_at === null ? null : Number(row.final_at);
    let next = deps.schedule.nextCheckAt({ provider: key.provider, status, trackedAt: Number(row.tracked_at), checkCount, finalAt }, now);
    if (err.code === 'rate_limited' && err.retryAfterMs !== undefined) next = now + Math.max(err.retryAfterMs, 1000);
    // A final refund whose late checks are over keeps no schedule, even when the last one failed.
    await updateRow(tx, key, {
      check_count: checkCount,
      next_check_at: next,
      error_count: Number(row.error_count) + 1,
      last_error_code: err.code,
      last_error_message: storableText(err.message).slice(0, 500),
    });
  });
}

/**
 * Records the provider account's pause after a 429 where every process sees it (provider_pauses),
 * capped by maxRetryAfterMs (the transport caps it too; this also covers a custom connector). Only
 * ever extends a pause. A failure is logged: the caller still hears rate_limited.
 */
async function pauseSafely(deps: SyncDeps, key: RefundKey, err: RefundHubError, log: Logger): Promise<void> {
  const pauseMs = Math.min(err.retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS, deps.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS);
  try {
    await pauseProvider(deps.store.db, key.provider, key.account, deps.clock.now() + pauseMs);
  } catch (e) {
    log.error({ err: (e as Error).message }, 'could not record the provider pause');
  }
}

/**
 * `recordError` that never throws: the caller is already failing with `err`, and a second failure
 * (the database is down) must not replace it. The refund then keeps the poller's lease as its next
 * check, which is the most we can do without a database.
 */
async function recordErrorSafely(deps: SyncDeps, key: RefundKey, err: RefundHubError, log: Logger): Promise<void> {
  try {
    await recordError(deps, key, err);
  } catch (e) {
    log.error({ code: err.code, recordError: (e as Error).message }, 'could not record the failed sync on the refund');
  }
}
