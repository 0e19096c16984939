import { RefundHubError } from '../errors.js';
import { parseIsoToUtc } from './dates.js';
import { isProviderId, isRefundStatus, PROVIDER_IDS, REFUND_STATUSES, type ProviderId, type RefundStatus } from './refund.js';

/**
 * The one parser of list filters, used by `GET /v1/refunds` and `refundhub list`, so both accept
 * the same values and refuse the rest with the same words (only the parameter's name differs:
 * `createdFrom` in the API, `--created-from` in the CLI).
 */

/** The store's page size limit. */
export const MAX_LIST_LIMIT = 500;
export const MAX_CURSOR_LENGTH = 1024;
/** Longest merchant reference searched for (the store keeps at most 512 characters of one). */
export const MAX_REFERENCE_LENGTH = 1024;
const ACCOUNT_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A page of tracked refunds to list; the store's `ListFilter` is this with every field optional. */
export interface ListQuery {
  /** Page size, 1..MAX_LIST_LIMIT. */
  limit: number;
  provider?: ProviderId;
  account?: string;
  status?: RefundStatus;
  stuck?: boolean;
  /** Inclusive bound on the refund's `createdAt`: ISO 8601 UTC with milliseconds. */
  createdFrom?: string;
  /** Inclusive bound on the refund's `createdAt`: ISO 8601 UTC with milliseconds. */
  createdTo?: string;
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /** Exactly this refund id, payment id or merchant reference (the dashboard's Search; all three columns are indexed). */
  q?: string;
  /** The merchant's own reference (`merchantReference`), matched exactly (indexed). */
  merchantReference?: string;
  /** `asc` (oldest tracked first, the default) or `desc`: the same keyset, walked either way. */
  order?: 'asc' | 'desc';
}

export type ListQueryField = keyof ListQuery;

/** What each field is called where the value came from (the API's query names by default). */
export type ListQueryNames = Record<ListQueryField, string>;

export const API_LIST_NAMES: ListQueryNames = {
  limit: 'limit',
  provider: 'provider',
  account: 'account',
  status: 'status',
  stuck: 'stuck',
  createdFrom: 'createdFrom',
  createdTo: 'createdTo',
  cursor: 'cursor',
  q: 'q',
  merchantReference: 'merchantReference',
  order: 'order',
};

const shown = (v: unknown): string => JSON.stringify(String(v).slice(0, 64));

/**
 * A date (`2026-01-01`, UTC) or an ISO 8601 timestamp (a missing zone is UTC) as an inclusive
 * bound: a date-only upper bound covers that whole day, so `createdTo=2026-01-31` includes
 * refunds created at 23:59 on the 31st.
 */
export function parseCreatedBound(value: unknown, name: string, end: 'from' | 'to'): string {
  const invalid = (): RefundHubError =>
    new RefundHubError('invalid_input', `${name} must be a date (2026-01-31) or an ISO 8601 timestamp (2026-01-31T12:00:00Z), got ${shown(value)}`);
  if (typeof value !== 'string') throw invalid();
  const v = value.trim();
  if (DATE_RE.test(v)) {
    const start = parseIsoToUtc(`${v}T00:00:00Z`);
    if (start === null) throw invalid();
    return end === 'from' ? start : new Date(Date.parse(start) + 86_400_000 - 1).toISOString();
  }
  const t = parseIsoToUtc(v);
  if (t === null) throw invalid();
  return t;
}

function single(value: unknown, name: string): unknown {
  if (Array.isArray(value)) throw new RefundHubError('invalid_input', `${name} may be given only once`);
  return value;
}

/**
 * Parses raw list parameters (strings from a query string or CLI flags; numbers and booleans as
 * well). Absent or empty values are no filter. Throws `invalid_input` naming the parameter.
 */
export function parseListQuery(raw: Record<string, unknown>, options: { defaultLimit: number; names?: Partial<ListQueryNames> }): ListQuery {
  const names = { ...API_LIST_NAMES, ...options.names };
  const get = (field: ListQueryField): unknown => {
    const v = single(raw[field], names[field]);
    return v === undefined || v === null || v === '' ? undefined : v;
  };
  const out: ListQuery = { limit: options.defaultLimit };

  const limit = get('limit');
  if (limit !== undefined) {
    const n = typeof limit === 'number' ? limit : typeof limit === 'string' && /^\d{1,4}$/.test(limit.trim()) ? Number(limit) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_LIST_LIMIT) throw new RefundHubError('invalid_input', `${names.limit} must be an integer from 1 to ${MAX_LIST_LIMIT}, got ${shown(limit)}`);
    out.limit = n;
  }
  const provider = get('provider');
  if (provider !== undefined) {
    if (!isProviderId(provider)) throw new RefundHubError('invalid_input', `unknown provider ${shown(provider)} (expected one of: ${PROVIDER_IDS.join(', ')})`);
    out.provider = provider;
  }
  const account = get('account');
  if (account !== undefined) {
    if (typeof account !== 'string' || !ACCOUNT_RE.test(account)) throw new RefundHubError('invalid_input', `${names.account} must be 1-64 letters, digits, "_", "." or "-"`);
    out.account = account;
  }
  const status = get('status');
  if (status !== undefined) {
    if (!isRefundStatus(status)) throw new RefundHubError('invalid_input', `unknown status ${shown(status)} (expected one of: ${REFUND_STATUSES.join(', ')})`);
    out.status = status;
  }
  const stuck = get('stuck');
  if (stuck !== undefined) {
    if (stuck === true || stuck === 'true' || stuck === '1') out.stuck = true;
    else if (stuck === false || stuck === 'false' || stuck === '0') out.stuck = false;
    else throw new RefundHubError('invalid_input', `${names.stuck} must be true or false, got ${shown(stuck)}`);
  }
  const from = get('createdFrom');
  if (from !== undefined) out.createdFrom = parseCreatedBound(from, names.createdFrom, 'from');
  const to = get('createdTo');
  if (to !== undefined) out.createdTo = parseCreatedBound(to, names.createdTo, 'to');
  const cursor = get('cursor');
  // Decoded by the store, whose message for a bad cursor this repeats.
  if (cursor !== undefined) {
    if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR_LENGTH) throw new RefundHubError('invalid_input', 'cursor is not a cursor this API returned');
    out.cursor = cursor;
  }
  const q = get('q');
  if (q !== undefined) {
    if (typeof q !== 'string' || q.trim() === '' || q.length > 256) throw new RefundHubError('invalid_input', `${names.q} must be a refund id, payment id or merchant reference of 1-256 characters`);
    out.q = q.trim();
  }
  const reference = get('merchantReference');
  if (reference !== undefined) {
    // Exact, untrimmed: a reference is the merchant's own string, spaces included.
    if (typeof reference !== 'string' || reference.length > MAX_REFERENCE_LENGTH) {
      throw new RefundHubError('invalid_input', `${names.merchantReference} must be a merchant reference of 1-${MAX_REFERENCE_LENGTH} characters`);
    }
    out.merchantReference = reference;
  }
  const order = get('order');
  if (order !== undefined) {
    if (order !== 'asc' && order !== 'desc') throw new RefundHubError('invalid_input', `${names.order} must be asc or desc, got ${shown(order)}`);
    out.order = order;
  }
  return out;
}
