import type { LoadedConfig } from '../config/index.js';
import { accountSettings, DEFAULT_ACCOUNT } from '../config/index.js';
import { isProviderId, type ProviderId } from '../domain/refund.js';
import { isRefundHubError, RefundHubError, toRefundHubError } from '../errors.js';
import { getProvider } from '../providers/registry.js';
import type { ParsedNotification, ProviderModule } from '../providers/types.js';
import { syncRefund, type SyncDeps } from '../sync/sync-refund.js';

/** The spine's dependencies plus config (notification secrets) and a tracker for background work. */
export type IngestDeps = SyncDeps & {
  config: LoadedConfig;
  /** Receives the re-fetch started after answering, so shutdown and tests can await it. */
  background: (p: Promise<unknown>) => void;
  /** Accepted clock skew for timestamped signatures (Gr4vy), default 300 s. */
  toleranceSeconds?: number;
};

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
 * Handles one inbound provider notification: verify over the raw bytes, record it, answer 202,
 * then re-fetch the refund through the spine in the background. The body's status is never
 * trusted: a notification is only a hint of which refund to look at.
 */
export async function receiveNotification(deps: IngestDeps, input: NotificationRequest): Promise<NotificationResponse> {
  const providerName = String(input.provider ?? '').toLowerCase();
  if (!isProviderId(providerName)) return { status: 404, body: errorBody('not_found', `unknown provider "${String(input.provider).slice(0, 32)}"`) };
  const provider: ProviderId = providerName;
  const account = input.account || DEFAULT_ACCOUNT;
  let raw: Record<string, unknown>;
  try {
    raw = accountSettings(deps.config, provider, account);
  } catch {
    return { status: 404, body: errorBody('not_found', `${provider} has no account named "${account.slice(0, 64)}"`) };
  }
  const module = getProvider(provider);
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  const now = deps.clock.now();

  let parsed: ParsedNotification;
  let refundId: string;
  try {
    parsed = module.notifications.parse({ rawBody: input.rawBody, headers, settings: resolveSettings(module, raw), now, toleranceSeconds: deps.toleranceSeconds });
    refundId = module.validateId(parsed.refundId);
  } catch (e) {
    const err = isRefundHubError(e) ? e : toRefundHubError(e, provider);
    const status = err.code === 'invalid_signature' ? 401 : 400;
    const code = err.code === 'invalid_signature' ? 'invalid_signature' : 'invalid_input';
    deps.metrics?.notifications.inc({ provider, outcome: code });
    deps.logger.warn({ provider, account, code }, `notification rejected: ${err.message}`);
    return { status, body: errorBody(code, err.message) };
  }

  const { db } = deps.store;
  let duplicate = false;
  if (parsed.eventId !== null) {
    // A provider redelivering the same event: harmless. One whose earlier processing failed is retried.
    const earlier = await db
      .selectFrom('notifications')
      .select('id')
      .where('provider', '=', provider)
      .where('account', '=', account)
      .where('event_id', '=', parsed.eventId)
      .where('outcome', '!=', 'failed')
      .executeTakeFirst();
    duplicate = earlier !== undefined;
  }
  const inserted = await db
    .insertInto('notifications')
    .values({
      provider,
      account,
      refund_id: refundId,
      event_id: parsed.eventId,
      event_type: parsed.eventType,
      received_at: now,
      body: input.rawBody.toString('utf8'),
      outcome: duplicate ? 'duplicate' : 'pending',
      processed_at: duplicate ? now : null,
      error: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const notificationId = Number(inserted.id);
  deps.metrics?.notifications.inc({ provider, outcome: duplicate ? 'duplicate' : 'accepted' });
  if (duplicate) return { status: 202, body: { received: true, duplicate: true } };

  deps.background(refetch(deps, notificationId, { provider, account, id: refundId }));
  return { status: 202, body: { received: true, duplicate: false } };
}

async function refetch(deps: IngestDeps, notificationId: number, key: { provider: ProviderId; account: string; id: string }): Promise<void> {
  let outcome = 'synced';
  let error: string | null = null;
  try {
    await syncRefund(deps, { ...key, source: 'notification' });
  } catch (e) {
    outcome = 'failed';
    const err = e instanceof RefundHubError ? e : toRefundHubError(e, key.provider);
    error = `${err.code}: ${err.message}`.slice(0, 500);
    deps.logger.warn({ provider: key.provider, account: key.account, refundId: key.id, code: err.code }, 'notification re-fetch failed');
  }
  try {
    await deps.store.db
      .updateTable('notifications')
      .set({ outcome, processed_at: deps.clock.now(), error })
      .where('id', '=', notificationId)
      .execute();
  } catch (e) {
    deps.logger.error({ err: (e as Error).message, notificationId }, 'could not record notification outcome');
  }
}
