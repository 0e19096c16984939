import { existsSync, readFileSync } from 'node:fs';
import type { ProviderId } from '../domain/refund.js';
import { isProviderId, PROVIDER_IDS } from '../domain/refund.js';
import { RefundHubError } from '../errors.js';
import { getProvider } from '../providers/registry.js';
import type { RawSettings } from '../providers/types.js';

/**
 * Configuration, validated once. The `default` account of each provider comes from REFUNDHUB_*
 * variables; a JSON config file may add named accounts (and override `default`):
 *
 *   { "accounts": { "ziina": { "acme": { "token": "env:ACME_ZIINA_TOKEN" } } },
 *     "providers": { "stan": { "schedule": ["1m", "10m", "1h", "24h"], "concurrency": 2 } } }
 *
 * A string value `env:NAME` is read from the environment, so secrets need not sit in the file.
 */

export const DEFAULT_ACCOUNT = 'default';

/** Per-provider tracking options a config file may set (used by the poller). */
export interface ProviderTrackingOptions {
  /** Delays after tracking starts ("1m", "5m", "15m", "1h", "6h", "24h"); the last one repeats. */
  schedule?: string[];
  /** Most concurrent provider calls from the poller. */
  concurrency?: number;
  /**
   * Not final this long after tracking started: stuck ("3d"; units s, m, h, d). Default 30 days.
   * Validated at load; `stuckAfterMs` holds the parsed value.
   */
  stuckAfter?: string;
  /** `stuckAfter` in milliseconds, set by loadConfig. */
  stuckAfterMs?: number;
}

/** Longest stuck threshold accepted: ten years, so a typo ("3000d" meant "30d" is fine) cannot overflow the schedule's arithmetic. */
const MAX_STUCK_AFTER_MS = 3650 * 86_400_000;
const STUCK_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a stuck threshold: a whole number and a unit, s, m, h or d ("3d", "36h"). */
export function parseStuckAfter(value: unknown, where: string): number {
  const m = typeof value === 'string' ? /^\s*(\d{1,7})\s*([smhd])\s*$/.exec(value) : null;
  const ms = m ? Number(m[1]) * STUCK_UNITS[m[2]!]! : NaN;
  if (!m || ms <= 0 || ms > MAX_STUCK_AFTER_MS) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 32)) : JSON.stringify(value ?? null)?.slice(0, 32);
    throw new RefundHubError('not_configured', `${where} must be a positive duration up to 3650d with a unit s, m, h or d (e.g. "3d"), got ${shown}`);
  }
  return ms;
}

export interface LoadedConfig {
  /** Raw settings per provider and account name (unvalidated; validated when an account is used). */
  accounts: Map<ProviderId, Map<string, RawSettings>>;
  providers: Partial<Record<ProviderId, ProviderTrackingOptions>>;
  /**
   * Days inbound notifications are kept (never a `pending` one): REFUNDHUB_NOTIFICATION_RETENTION_DAYS,
   * else the file's `notifications.retentionDays`, else 30.
   */
  notificationRetentionDays?: number;
  /** The config file read, if any. */
  file: string | undefined;
  env: Record<string, string | undefined>;
}

export interface LoadConfigOptions {
  env?: Record<string, string | undefined>;
  /** Path of a JSON config file; defaults to REFUNDHUB_CONFIG, then ./refundhub.config.json if it exists. */
  file?: string;
}

function resolveEnvRefs(value: unknown, env: Record<string, string | undefined>, where: string): unknown {
  if (typeof value === 'string' && value.startsWith('env:')) {
    const name = value.slice(4);
    const v = env[name];
    if (v === undefined) throw new RefundHubError('not_configured', `${where} refers to environment variable ${name}, which is not set`);
    return v;
  }
  return value;
}

export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const accounts = new Map<ProviderId, Map<string, RawSettings>>();
  for (const id of PROVIDER_IDS) {
    const raw = getProvider(id).config.fromEnv(env);
    accounts.set(id, new Map([[DEFAULT_ACCOUNT, raw]]));
  }
  const providers: LoadedConfig['providers'] = {};
  let notificationRetentionDays: number | undefined;

  let file = options.file ?? env.REFUNDHUB_CONFIG;
  if (!file && existsSync('refundhub.config.json')) file = 'refundhub.config.json';
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (e as Error) instanceof SyntaxError ? 'is not valid JSON' : 'cannot be read';
      throw new RefundHubError('not_configured', `config file ${file} ${why}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new RefundHubError('not_configured', `config file ${file} must hold a JSON object`);
    const { accounts: fileAccounts, providers: fileProviders, notifications: fileNotifications } = parsed as { accounts?: unknown; providers?: unknown; notifications?: unknown };
    if (fileNotifications !== undefined) {
      if (!fileNotifications || typeof fileNotifications !== 'object') throw new RefundHubError('not_configured', `config file ${file}: "notifications" must be an object`);
      const days = (fileNotifications as { retentionDays?: unknown }).retentionDays;
      if (days !== undefined) notificationRetentionDays = retentionDays(days, `config file ${file}: notifications.retentionDays`);
    }
    if (fileAccounts !== undefined) {
      if (!fileAccounts || typeof fileAccounts !== 'object') throw new RefundHubError('not_configured', `config file ${file}: "accounts" must be an object`);
      for (const [provider, named] of Object.entries(fileAccounts)) {
        if (!isProviderId(provider)) throw new RefundHubError('not_configured', `config file ${file}: unknown provider "${provider}" in accounts`);
        if (!named || typeof named !== 'object') throw new RefundHubError('not_configured', `config file ${file}: accounts.${provider} must be an object of named accounts`);
        for (const [name, settings] of Object.entries(named as Record<string, unknown>)) {
          if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new RefundHubError('not_configured', `config file ${file}: account name "${name}" must be 1-64 letters, digits, "_", "." or "-"`);
          if (!settings || typeof settings !== 'object' || Array.isArray(settings)) throw new RefundHubError('not_configured', `config file ${file}: accounts.${provider}.${name} must be an object`);
          const raw: RawSettings = {};
          for (const [k, v] of Object.entries(settings)) raw[k] = resolveEnvRefs(v, env, `accounts.${provider}.${name}.${k}`);
          const merged = name === DEFAULT_ACCOUNT ? { ...accounts.get(provider)!.get(DEFAULT_ACCOUNT), ...raw } : raw;
          accounts.get(provider)!.set(name, merged);
        }
      }
    }
    if (fileProviders !== undefined) {
      if (!fileProviders || typeof fileProviders !== 'object') throw new RefundHubError('not_configured', `config file ${file}: "providers" must be an object`);
      for (const [provider, opts] of Object.entries(fileProviders)) {
        if (!isProviderId(provider)) throw new RefundHubError('not_configured', `config file ${file}: unknown provider "${provider}" in providers`);
        if (!opts || typeof opts !== 'object' || Array.isArray(opts)) throw new RefundHubError('not_configured', `config file ${file}: providers.${provider} must be an object`);
        const tracking = { ...(opts as ProviderTrackingOptions) };
        if (tracking.stuckAfter !== undefined) tracking.stuckAfterMs = parseStuckAfter(tracking.stuckAfter, `config file ${file}: providers.${provider}.stuckAfter`);
        providers[provider] = tracking;
      }
    }
  }
  if (env.REFUNDHUB_NOTIFICATION_RETENTION_DAYS !== undefined && env.REFUNDHUB_NOTIFICATION_RETENTION_DAYS !== '') {
    notificationRetentionDays = retentionDays(env.REFUNDHUB_NOTIFICATION_RETENTION_DAYS, 'REFUNDHUB_NOTIFICATION_RETENTION_DAYS', true);
  }
  return { accounts, providers, notificationRetentionDays, file, env };
}

/** A whole number of days, 1 to 3650 (a number in the file, digits in the environment). */
function retentionDays(value: unknown, where: string, fromEnv = false): number {
  const n = fromEnv && typeof value === 'string' && /^\d{1,4}$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 3650) throw new RefundHubError('not_configured', `${where} must be a whole number of days from 1 to 3650`);
  return n;
}

/** Raw settings for one account; throws not_configured for an unknown account name. */
export function accountSettings(config: LoadedConfig, provider: ProviderId, account: string = DEFAULT_ACCOUNT): RawSettings {
  const raw = config.accounts.get(provider)?.get(account);
  if (!raw) {
    const known = [...(config.accounts.get(provider)?.keys() ?? [])].join(', ');
    throw new RefundHubError('not_configured', `${provider} has no account named "${account}" (configured: ${known})`, { provider });
  }
  return raw;
}
