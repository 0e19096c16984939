import { sql, type CompiledQuery, type Selectable } from 'kysely';
import type { TrackedRefund } from '../domain/events.js';
import type { ListQuery } from '../domain/list-query.js';
import type { CustomerReceives, ProviderId, RefundStatus } from '../domain/refund.js';
import { REFUND_STATUSES } from '../domain/refund.js';
import { RefundHubError } from '../errors.js';
import type { Db, Tx } from './index.js';
import type { RefundHistoryTable, RefundsTable } from './schema.js';
import { boundedText, MAX_MERCHANT_REFERENCE_CHARS, MAX_PAYMENT_ID_CHARS } from './text.js';

/**
 * The refunds repository: current state, history, the poller's due queue. Every function takes a
 * `Db` or a `Tx` so the spine can group writes in one transaction. Portable Kysely only (SQLite
 * and PostgreSQL).
 */

export type RefundRow = Selectable<RefundsTable>;
export type HistoryRow = Selectable<RefundHistoryTable>;

/** Identifies one tracked refund. */
export interface RefundKey {
  provider: ProviderId;
  account: string;
  id: string;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function customerReceivesOf(row: RefundRow): CustomerReceives | null {
  const amount = row.customer_receives_amount ?? null;
  const currency = row.customer_receives_currency ?? null;
  const amountDecimal = row.customer_receives_decimal ?? null;
  if (amount === null && currency === null && amountDecimal === null) return null;
  return { amount: amount === null ? null : Number(amount), currency, amountDecimal };
}

function metadataOf(text: string | null): Record<string, string> | null {
  if (text === null) return null;
  const v = parseJson(text);
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : null;
}

/** A stored row as the API and events show it. */
export function toTrackedRefund(row: RefundRow): TrackedRefund {
  return {
    provider: row.provider as ProviderId,
    account: row.account,
    id: row.refund_id,
    paymentId: row.payment_id,
    status: row.status as RefundStatus,
    providerStatus: row.provider_status,
    amount: row.amount === null ? null : Number(row.amount),
    currency: row.currency,
    amountDecimal: row.amount_decimal,
    reason: row.reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    failure: row.failure_code === null && row.failure_message === null ? null : { code: row.failure_code, message: row.failure_message },
    merchantReference: row.merchant_reference ?? null,
    customerReceives: customerReceivesOf(row),
    metadata: metadataOf(row.metadata ?? null),
    providerReference: row.provider_reference ?? null,
    raw: parseJson(row.raw),
    tracking: {
      trackedAt: iso(Number(row.tracked_at))!,
      lastCheckedAt: iso(row.last_checked_at === null ? null : Number(row.last_checked_at)),
      nextCheckAt: iso(row.next_check_at === null ? null : Number(row.next_check_at)),
      checkCount: Number(row.check_count),
      stuck: Number(row.stuck) === 1,
      finalAt: iso(row.final_at === null ? null : Number(row.final_at)),
      lastError: row.last_error_code === null ? null : { code: row.last_error_code, message: row.last_error_message ?? '' },
    },
  };
}

/** The raw row, or undefined when the refund is not tracked. */
export async function getRefundRow(db: Db | Tx, key: RefundKey): Promise<RefundRow | undefined> {
  // The API's hottest read: building and compiling the query costs more than running it, so it is
  // compiled once per connection object and re-run with this key's parameters (same order).
  let compiled = byKeyQueries.get(db);
  if (!compiled) {
    compiled = db.selectFrom('refunds').selectAll().where('provider', '=', '').where('account', '=', '').where('refund_id', '=', '').compile();
    byKeyQueries.set(db, compiled);
  }
  const { rows } = await db.executeQuery<RefundRow>({ ...compiled, parameters: [key.provider, key.account, key.id] });
  return rows[0];
}

const byKeyQueries = new WeakMap<Db | Tx, CompiledQuery<RefundRow>>();

/**
 * The raw row, locked for the rest of the transaction (`SELECT ... FOR UPDATE`). PostgreSQL only:
 * SQLite has no row locks (its write transactions lock the whole database from `BEGIN IMMEDIATE`).
 */
export async function getRefundRowForUpdate(tx: Db | Tx, key: RefundKey): Promise<RefundRow | undefined> {
  return tx
    .selectFrom('refunds')
    .selectAll()
    .where('provider', '=', key.provider)
    .where('account', '=', key.account)
    .where('refund_id', '=', key.id)
    .forUpdate()
    .executeTakeFirst();
}

/** The tracked refund, or null when it is not tracked. */
export async function getTracked(db: Db | Tx, key: RefundKey): Promise<TrackedRefund | null> {
  const row = await getRefundRow(db, key);
  return row ? toTrackedRefund(row) : null;
}

/**
 * The filters `parseListQuery` produces (the API and the CLI), every one optional here: the store
 * is also called directly (the dashboard, tests), and defaults the page size to 50.
 */
export type ListFilter = Omit<Partial<ListQuery>, 'cursor'> & {
  /** `nextCursor` of the previous page; null or absent for the first. */
  cursor?: string | null;
};

export interface ListPage {
  data: TrackedRefund[];
  nextCursor: string | null;
}

type Cursor = [number, string, string, string];

function encodeCursor(row: RefundRow): string {
  const c: Cursor = [Number(row.tracked_at), row.provider, row.account, row.refund_id];
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(c) && c.length === 4 && Number.isSafeInteger(c[0]) && c.slice(1).every((v) => typeof v === 'string')) return c as Cursor;
  } catch {
    // fall through
  }
  throw new RefundHubError('invalid_input', 'cursor is not a cursor this API returned');
}

function normalizeIsoBound(value: string, name: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new RefundHubError('invalid_input', `${name} must be an ISO 8601 date or timestamp`);
  return new Date(t).toISOString();
}

/** Tracked refunds, oldest tracked first, keyset-paginated (stable under concurrent inserts). */
export async function listTracked(db: Db | Tx, filter: ListFilter = {}): Promise<ListPage> {
  const limit = Math.min(Math.max(Math.trunc(filter.limit ?? 50), 1), 500);
  if (filter.status !== undefined && !(REFUND_STATUSES as readonly string[]).includes(filter.status)) {
    throw new RefundHubError('invalid_input', `status must be one of ${REFUND_STATUSES.join(', ')}`);
  }
  let q = db.selectFrom('refunds').selectAll();
  if (filter.provider !== undefined) q = q.where('provider', '=', filter.provider);
  if (filter.account !== undefined) q = q.where('account', '=', filter.account);
  if (filter.status !== undefined) q = q.where('status', '=', filter.status);
  if (filter.stuck !== undefined) q = q.where('stuck', '=', sql.lit(filter.stuck ? 1 : 0)); // a literal: SQLite uses the partial index refunds_stuck_tracked only for a constant
  // createdAt is stored as ISO 8601 UTC with milliseconds, so string order is time order.
  if (filter.createdFrom !== undefined) q = q.where('created_at', '>=', normalizeIsoBound(filter.createdFrom, 'createdFrom'));
  if (filter.createdTo !== undefined) q = q.where('created_at', '<=', normalizeIsoBound(filter.createdTo, 'createdTo'));
  if (filter.q !== undefined) {
    const term = filter.q;
    q = q.where((eb) => eb.or([eb('refund_id', '=', term), eb('payment_id', '=', boundedText(term, MAX_PAYMENT_ID_CHARS)), eb('merchant_reference', '=', boundedText(term, MAX_MERCHANT_REFERENCE_CHARS))]));
  }
  // Cut as stored, so a reference longer than the stored bound still finds its refund.
  if (filter.merchantReference !== undefined) q = q.where('merchant_reference', '=', boundedText(filter.merchantReference, MAX_MERCHANT_REFERENCE_CHARS));
  const dir = filter.order === 'desc' ? 'desc' : 'asc';
  const after = dir === 'desc' ? '<' : '>';
  if (filter.cursor) {
    const [t, p, a, id] = decodeCursor(filter.cursor);
    // The plain range on tracked_at is implied by the OR below; it is there because SQLite walks an
    // index only for such a range: without it a page from the middle of a million rows reads half of them.
    q = q.where('tracked_at', after === '>' ? '>=' : '<=', t);
    q = q.where((eb) =>
      eb.or([
        eb('tracked_at', after, t),
        eb.and([
          eb('tracked_at', '=', t),
          eb.or([
            eb('provider', after, p),
            eb.and([eb('provider', '=', p), eb.or([eb('account', after, a), eb.and([eb('account', '=', a), eb('refund_id', after, id)])])]),
          ]),
        ]),
      ]),
    );
  }
  const rows = await q.orderBy('tracked_at', dir).orderBy('provider', dir).orderBy('account', dir).orderBy('refund_id', dir).limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { data: page.map(toTrackedRefund), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

/** One history entry as the API shows it. */
export interface HistoryEntry {
  id: number;
  /** `tracked`, `change`, `reversal`, `anomaly` (stale read, not applied) or `stuck`. */
  kind: string;
  from: RefundStatus | null;
  to: RefundStatus;
  providerStatus: string;
  source: string;
  /** ISO 8601 UTC. */
  observedAt: string;
  raw: unknown;
  note: string | null;
}

export function toHistoryEntry(row: HistoryRow): HistoryEntry {
  return {
    id: Number(row.id),
    kind: row.kind,
    from: row.from_status as RefundStatus | null,
    to: row.to_status as RefundStatus,
    providerStatus: row.provider_status,
    source: row.source,
    observedAt: new Date(Number(row.observed_at)).toISOString(),
    raw: parseJson(row.raw),
    note: row.note,
  };
}

/** The refund's history, oldest first. */
export async function getHistory(db: Db | Tx, key: RefundKey): Promise<HistoryEntry[]> {
  const rows = await db
    .selectFrom('refund_history')
    .selectAll()
    .where('provider', '=', key.provider)
    .where('account', '=', key.account)
    .where('refund_id', '=', key.id)
    .orderBy('id')
    .execute();
  return rows.map(toHistoryEntry);
}

/** A refund the poller took: its key and the currency hint to pass back to the spine. */
export interface ClaimedRefund extends RefundKey {
  currencyHint: string | null;
}

export interface ClaimOptions {
  /** Only this provider's refunds (each provider's lane claims its own). */
  provider?: ProviderId;
  /** Providers not to take now (their calls are pushed back by a rate limit). */
  excludeProviders?: readonly string[];
}

/**
 * The due query: takes up to `limit` due refunds, most overdue first, and moves their next check
 * to `now + leaseMs` in ONE statement (UPDATE ... WHERE key IN (due subquery) RETURNING, the same
 * on SQLite and PostgreSQL), so no other worker takes them and a crash only delays them by the
 * lease. It decides only WHAT is due; running it under limits is the poller's (or, scaled out, a
 * job queue's). The subquery walks the next_check_at index: the cost does not grow with the table.
 */
export async function claimDue(db: Db | Tx, now: number, limit: number, leaseMs: number, options: ClaimOptions = {}): Promise<ClaimedRefund[]> {
  if (limit <= 0) return [];
  const exclude = options.excludeProviders ?? [];
  const rows = await db
    .updateTable('refunds')
    .set({ next_check_at: now + leaseMs })
    .where((eb) =>
      eb(
        eb.refTuple('provider', 'account', 'refund_id'),
        'in',
        eb
          .selectFrom('refunds as due')
          .select(['due.provider', 'due.account', 'due.refund_id'])
          .where('due.next_check_at', '<=', now)
          .$if(options.provider !== undefined, (q) => q.where('due.provider', '=', options.provider!))
          .$if(exclude.length > 0, (q) => q.where('due.provider', 'not in', exclude))
          .orderBy('due.next_check_at')
          .limit(limit)
          .$asTuple('provider', 'account', 'refund_id'),
      ),
    )
    // Re-checked on the row itself: under PostgreSQL a row another worker leased meanwhile drops out.
    .where('next_check_at', '<=', now)
    .returning(['provider', 'account', 'refund_id', 'currency_hint'])
    .execute();
  return rows.map((r) => ({ provider: r.provider as ProviderId, account: r.account, id: r.refund_id, currencyHint: r.currency_hint }));
}

/**
 * Leases one refund that is due (or has no next check) for `leaseMs`, the way claimDue does, so a
 * re-fetch asked for out of schedule (a notification) and another process's due query never both
 * fetch it. `untracked` when there is no row (nothing to lease: the first fetch creates it);
 * `taken` when another worker holds it or it was checked since it became due.
 */
export async function claimRefund(db: Db | Tx, key: RefundKey, now: number, leaseMs: number): Promise<'claimed' | 'untracked' | 'taken'> {
  const claimed = await db
    .updateTable('refunds')
    .set({ next_check_at: now + leaseMs })
    .where('provider', '=', key.provider)
    .where('account', '=', key.account)
    .where('refund_id', '=', key.id)
    .where((eb) => eb.or([eb('next_check_at', 'is', null), eb('next_check_at', '<=', now)]))
    .returning('refund_id')
    .executeTakeFirst();
  if (claimed) return 'claimed';
  return (await getRefundRow(db, key)) ? 'taken' : 'untracked';
}

/** Moves one refund's next check (e.g. a claimed refund whose provider asked us to wait). */
export async function rescheduleCheck(db: Db | Tx, key: RefundKey, at: number | null): Promise<void> {
  await db
    .updateTable('refunds')
    .set({ next_check_at: at })
    .where('provider', '=', key.provider)
    .where('account', '=', key.account)
    .where('refund_id', '=', key.id)
    .execute();
}

/** How many refunds are due now (the poller's queue depth). */
export async function countDue(db: Db | Tx, now: number): Promise<number> {
  const r = await db.selectFrom('refunds').select((eb) => eb.fn.countAll<number | string | bigint>().as('n')).where('next_check_at', '<=', now).executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** Tracked refunds per unified status (every status present, zero when none). */
export async function countByStatus(db: Db | Tx): Promise<Record<RefundStatus, number>> {
  const rows = await db.selectFrom('refunds').select((eb) => ['status', eb.fn.countAll<number | string | bigint>().as('n')]).groupBy('status').execute();
  const out = Object.fromEntries(REFUND_STATUSES.map((s) => [s, 0])) as Record<RefundStatus, number>;
  for (const r of rows) if ((REFUND_STATUSES as readonly string[]).includes(r.status)) out[r.status as RefundStatus] = Number(r.n);
  return out;
}

/** The lock and log key of a refund. */
export function refundKeyString(key: RefundKey): string {
  return `${key.provider}\u0000${key.account}\u0000${key.id}`;
}
