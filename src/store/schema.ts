import type { Generated } from 'kysely';

/**
 * The database schema as Kysely sees it. One interface per table; the same tables exist in
 * SQLite and PostgreSQL. Timestamps are stored as integer epoch milliseconds (portable, indexable,
 * no time-zone ambiguity); JSON payloads as text.
 */

/** Current state of each tracked refund (unique on provider + account + refund id). */
export interface RefundsTable {
  provider: string;
  account: string;
  refund_id: string;
  status: string;
  provider_status: string;
  payment_id: string | null;
  amount: number | null;
  currency: string | null;
  amount_decimal: string | null;
  reason: string | null;
  created_at: string | null;
  updated_at: string | null;
  failure_code: string | null;
  failure_message: string | null;
  /** The provider's raw refund object, JSON. */
  raw: string;
  /** Currency supplied when tracking started, for providers that do not return one (OneKey). */
  currency_hint: string | null;
  tracked_at: number;
  last_checked_at: number | null;
  /** When the poller should look next; null once no check is scheduled (final and late checks done). */
  next_check_at: number | null;
  /** Checks made so far (drives the backoff schedule). */
  check_count: number;
  /** When it reached a final status (null while not final). */
  final_at: number | null;
  /** 1 once the provider's stuckAfter (default 30 days) passed without a final status. */
  stuck: number;
  /** Consecutive failed syncs, and the last error (code + message, never secrets). */
  error_count: number;
  last_error_code: string | null;
  last_error_message: string | null;
  /** Sequence number of the last event emitted for this refund. */
  sequence: number;
  /**
   * The provider word of the last anomalous read of this final refund (stale, or a status we do not
   * know), so a repeated read is neither recorded nor alerted again; null once it reads final again.
   * Optional because migration 004 added it: inserts of whole rows written before it need not name it.
   */
  anomaly_provider_status?: string | null;
  /**
   * The contract fields of migration 008 (optional for the same reason). `customer_receives_*`
   * are all null when the provider sends no `customer_receives`; `metadata` is a JSON object of strings.
   */
  merchant_reference?: string | null;
  customer_receives_amount?: number | null;
  customer_receives_currency?: string | null;
  customer_receives_decimal?: string | null;
  metadata?: string | null;
  provider_reference?: string | null;
}

/** Append-only: every observed status change, anomaly, reversal or tracking change. */
export interface RefundHistoryTable {
  id: Generated<number>;
  provider: string;
  account: string;
  refund_id: string;
  /** `tracked` (first observation), `change`, `reversal`, `anomaly` (stale read, not applied), `stuck`. */
  kind: string;
  from_status: string | null;
  to_status: string;
  provider_status: string;
  /** `poll`, `notification`, `api` or `manual`. */
  source: string;
  observed_at: number;
  raw: string;
  note: string | null;
}

/** Outgoing events (the outbox): written in the same transaction as the change they describe. */
export interface EventsTable {
  id: string;
  type: string;
  provider: string;
  account: string;
  refund_id: string;
  sequence: number;
  /** Unix seconds, as in the payload. */
  created: number;
  /** The full event JSON exactly as delivered (signed bytes are this text). */
  payload: string;
}

export interface WebhookEndpointsTable {
  id: string;
  url: string;
  /** JSON array of event types; `["*"]` for all. */
  events: string;
  secret: string;
  created_at: number;
  /** Soft delete: deliveries keep their history. */
  deleted_at: number | null;
}

/** One row per (event, endpoint): the delivery job. */
export interface DeliveriesTable {
  id: string;
  event_id: string;
  endpoint_id: string;
  /** `pending`, `succeeded`, `failed` (gave up). */
  status: string;
  attempts: number;
  next_attempt_at: number | null;
  /** Lease: a worker holding the delivery until then. */
  locked_until: number | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface DeliveryAttemptsTable {
  id: Generated<number>;
  delivery_id: string;
  attempted_at: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

/** Inbound provider notifications, kept for audit and dedup. */
export interface NotificationsTable {
  id: Generated<number>;
  provider: string;
  account: string;
  refund_id: string;
  event_id: string | null;
  event_type: string | null;
  received_at: number;
  body: string;
  /** `pending`, `synced`, `failed`, `duplicate`. */
  outcome: string;
  processed_at: number | null;
  error: string | null;
}

export interface ApiKeysTable {
  id: string;
  /** The first characters of the key, shown in listings to recognise it. */
  prefix: string;
  /** SHA-256 of the full key, hex. The key itself is never stored. */
  hash: string;
  /** JSON array of scopes. */
  scopes: string;
  name: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** A signed-in dashboard browser: the SHA-256 of its session cookie, the API key it signed in with, expiry (epoch ms). */
export interface DashboardSessionsTable {
  id_hash: string;
  key_id: string;
  created_at: number;
  expires_at: number;
}

export interface Database {
  refunds: RefundsTable;
  refund_history: RefundHistoryTable;
  events: EventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  notifications: NotificationsTable;
  api_keys: ApiKeysTable;
  dashboard_sessions: DashboardSessionsTable;
}
