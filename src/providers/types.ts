import type { Clock } from '../clock.js';
import type { ProviderId, Refund } from '../domain/refund.js';
import type { Logger } from '../logger.js';
import type { Transport } from '../transport/http.js';

/**
 * The contract every provider folder fulfils. Adding a provider means one folder exporting a
 * `ProviderModule` and one line in `registry.ts`.
 */

/** What a connector gets from outside: it never creates its own transport, clock or logger. */
export interface ProviderContext {
  transport: Transport;
  clock: Clock;
  logger: Logger;
}

/** A configured account: its name and the provider's validated settings. */
export interface AccountSettings<S> {
  provider: ProviderId;
  /** `default` for the account configured from the environment. */
  name: string;
  settings: S;
}

/** Fetches and normalizes; stateless apart from auth caches (Gr4vy reuses its JWT while valid). */
export interface Connector {
  getRefund(id: string): Promise<Refund>;
  /**
   * The provider's proof of refund as PDF bytes (OneKey's `voucher`), or null when the provider
   * has none for this refund yet. Absent on connectors whose provider issues no such document.
   * Fetched on demand only: never part of a poll, never stored, never logged.
   */
  getVoucher?(id: string): Promise<Buffer | null>;
}

/** Settings every provider has besides its credentials. */
export interface CommonSettings {
  /** The seed document's server URL (may carry a path prefix); the connector appends the seed's path. */
  baseUrl: string;
  /** Secret for verifying inbound notifications, for providers that sign them. */
  webhookSecret?: string;
}

/** Raw settings as read from env or a config file: camelCase keys, unvalidated. */
export type RawSettings = Record<string, unknown>;

export interface ProviderConfigSpec<S extends CommonSettings> {
  /** Settings key -> environment variable name (`{ token: 'REFUNDHUB_ZIINA_TOKEN', baseUrl: ... }`); `emulate` prints `export` lines from it. */
  env: Readonly<Record<string, string>>;
  /** Reads REFUNDHUB_<PROVIDER>_* variables into raw settings (only the ones that are set). */
  fromEnv(env: Record<string, string | undefined>): RawSettings;
  /** True when the raw settings hold everything needed to call the provider. */
  isConfigured(raw: RawSettings): boolean;
  /**
   * Validates raw settings and applies defaults. Throws RefundHubError('not_configured') naming
   * the missing variables or fields, never echoing a value.
   */
  resolve(raw: RawSettings): S;
  /** The base URL these settings point at, default applied (for `refundhub providers`). */
  baseUrl(raw: RawSettings): string;
  /** Settings keys that are secrets, so they are masked wherever config is shown. */
  secretKeys: readonly string[];
}

/** A parsed, verified inbound notification: a hint of which refund to re-fetch. */
export interface ParsedNotification {
  refundId: string;
  /** The provider's event id when it has one (dedup key), else something stable derived from the body. */
  eventId: string | null;
  /** The provider's event name, e.g. `refund.status.updated`, when it has one. */
  eventType: string | null;
  /**
   * The status the (signed) body claims, when it carries one. Never applied: it only lets a repeated
   * notification be recognised as already seen once the stored status matches it.
   */
  claimedStatus?: string | null;
}

export interface NotificationInput<S> {
  rawBody: Buffer;
  /** Lowercased header names. */
  headers: Record<string, string | undefined>;
  settings: S;
  now: number;
  /** Accepted clock skew for timestamped signatures (Gr4vy), default 300 s. */
  toleranceSeconds?: number;
}

/**
 * A verified (or, for unsigned providers, well-formed) notification that is not about a refund,
 * e.g. Ziina `payment_intent.status.updated`: answered with a 2xx so the provider stops retrying.
 */
export interface IgnoredNotification {
  ignored: true;
  /** Why, for the answer and the log; never echoes more than a bounded event name. */
  reason: string;
  eventId: string | null;
  eventType: string | null;
}

/** True for a notification that is not about a refund. */
export function isIgnoredNotification(n: ParsedNotification | IgnoredNotification): n is IgnoredNotification {
  return (n as IgnoredNotification).ignored === true;
}

export interface NotificationSpec<S> {
  /** False for providers whose notifications carry no signature (Stan, OneKey). */
  signed: boolean;
  /**
   * The status we answer an accepted (or ignored) notification with: what the provider counts as
   * delivered. OneKey retries anything but exactly 200; the page each value comes from is cited
   * beside it.
   */
  ackStatus: 200 | 202;
  /**
   * Largest body accepted on the route (413 beyond it, before it is read whole): tiny for unsigned
   * providers whose documented body is a refund id, larger for signed ones that carry the refund.
   */
  maxBodyBytes: number;
  /** Most bytes of the body kept in the notifications table (a capped excerpt; the rest is dropped with a note). */
  storedBodyBytes: number;
  /**
   * Verifies the signature over the raw bytes (constant-time) first, then parses the body.
   * Returns the refund to re-fetch, or an `IgnoredNotification` for a well-formed event that is
   * not about a refund. Throws RefundHubError 'invalid_signature' for a bad or missing signature
   * (or stale timestamp), 'invalid_input' for a body that is not the provider's notification.
   */
  parse(input: NotificationInput<S>): ParsedNotification | IgnoredNotification;
}

/** Body limits shared by the providers: signed bodies carry the whole refund object. */
export const SIGNED_NOTIFICATION_LIMITS = { maxBodyBytes: 256 * 1024, storedBodyBytes: 64 * 1024 } as const;
/** Unsigned bodies are a refund id and a few fields: anything bigger is not a notification. */
export const UNSIGNED_NOTIFICATION_LIMITS = { maxBodyBytes: 2 * 1024, storedBodyBytes: 2 * 1024 } as const;

/** One request as the emulator saw it. `path` is relative to the provider's prefix, without the query. */
export interface EmulatorRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Lowercased header names. */
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export interface EmulatorResponse {
  status: number;
  headers?: Record<string, string>;
  /** Serialized as JSON, unless it is a string (sent as is). */
  body?: unknown;
}

/** A provider-native refund object as the emulator stores it. */
export type NativeRefund = Record<string, unknown>;

export interface EmulatorProviderContext<S> {
  settings: S;
  now(): number;
  /** Looks up a stored native refund by the provider's id (as it appears in the URL). */
  findRefund(id: string): NativeRefund | undefined;
}

export interface OutgoingNotification {
  headers: Record<string, string>;
  body: string;
}

export interface EmulatorSpec<S> {
  /** Mount point on the shared emulator port: `ziina/api`, `tazapay`, `gr4vy`, `stan`, `onekey/v3`. */
  prefix: string;
  /** A full native refund from partial provider-native fields; anything omitted gets a plausible value. */
  create(input: NativeRefund, now: number): NativeRefund;
  /** The id a stored refund is found by. */
  idOf(refund: NativeRefund): string;
  /** A copy of the refund in a new native status (timestamps and related fields updated as the provider would). */
  withStatus(refund: NativeRefund, status: string, now: number): NativeRefund;
  /** Serves one request to the provider's API: auth check, lookup, native body and errors. */
  handle(req: EmulatorRequest, ctx: EmulatorProviderContext<S>): EmulatorResponse;
  /** The provider's native error response for an HTTP status (faults: 5xx, 429, 401...). */
  errorResponse(status: number): EmulatorResponse;
  /** The natively formatted, signed notification the provider sends when a refund changes, or null if it sends none. */
  notification(refund: NativeRefund, settings: S, now: number): OutgoingNotification | null;
  /**
   * Whether the provider counts the receiver's HTTP status as delivered (else it retries). Default:
   * any 2xx. OneKey retries "until an HTTP 200", so a 202 is retried (docs/providers.md).
   */
  notificationDelivered?(status: number): boolean;
  /** Demo refunds seeded by `refundhub emulate` and `npm start`, with lifecycles that progress. */
  demoRefunds(): Array<{ refund: NativeRefund; lifecycle: Array<{ status: string; afterMs: number }> }>;
}

export interface ProviderModule<S extends CommonSettings = CommonSettings> {
  id: ProviderId;
  displayName: string;
  config: ProviderConfigSpec<S>;
  /** Demo credentials (raw settings without baseUrl) used by the emulator when none are configured. */
  demoSettings(): RawSettings;
  /** Validates a refund id before any request; returns it trimmed. Throws RefundHubError('invalid_input'). */
  validateId(id: string): string;
  createConnector(account: AccountSettings<S>, ctx: ProviderContext): Connector;
  notifications: NotificationSpec<S>;
  emulator: EmulatorSpec<S>;
}
