import { isKnownCurrency } from '../../domain/money.js';
import { RefundHubError } from '../../errors.js';
import { optionalString, readEnv, requireBaseUrl, requireSettings } from '../shared.js';
import type { CommonSettings, ProviderConfigSpec, RawSettings } from '../types.js';

/** Validated settings of one OneKey account. */
export interface OnekeySettings extends CommonSettings {
  /** The deposits API key, sent as `X-Login` and signed into every request. */
  login: string;
  /** The "API Signature" (deposit secret key) that keys the request HMAC. */
  secretKey: string;
  /** Ends in `/v3` by default; the connector appends `/refunds/{id}`. */
  baseUrl: string;
  /**
   * ISO 4217 code of the account's refunds. OneKey's status response carries no currency, so
   * without this the normalized amount stays a bare decimal (amount and currency null).
   */
  currency?: string;
  /** The word before the signature in `Authorization` (`D24`; some OneKey pages say `OKP`). */
  authPrefix: string;
}

/** The seed document's staging server; production is handed out after testing (providers.md). */
export const ONEKEY_DEFAULT_BASE_URL = 'https://api-stg.onekeypayments.com/v3';
/** D24's SDK and docs, and OneKey's own signature page, use `D24 `; the newer api-reference says `OKP `. */
export const ONEKEY_DEFAULT_AUTH_PREFIX = 'D24';

/** The environment variables of the `default` account, by settings key. */
export const ONEKEY_ENV = {
  login: 'REFUNDHUB_ONEKEY_LOGIN',
  secretKey: 'REFUNDHUB_ONEKEY_SECRET_KEY',
  baseUrl: 'REFUNDHUB_ONEKEY_BASE_URL',
  currency: 'REFUNDHUB_ONEKEY_CURRENCY',
  authPrefix: 'REFUNDHUB_ONEKEY_AUTH_PREFIX',
} as const;

// A prefix is one header token: a space or a colon in it would change what the server parses.
const PREFIX_RE = /^[A-Za-z0-9_-]{1,32}$/;

/** Reads, validates and defaults OneKey settings. */
export const onekeyConfig: ProviderConfigSpec<OnekeySettings> = {
  env: ONEKEY_ENV,
  fromEnv(env) {
    return readEnv(env, ONEKEY_ENV);
  },
  isConfigured(raw) {
    return optionalString(raw, 'login') !== undefined && optionalString(raw, 'secretKey') !== undefined;
  },
  resolve(raw: RawSettings): OnekeySettings {
    requireSettings('onekey', raw, { login: ONEKEY_ENV.login, secretKey: ONEKEY_ENV.secretKey });
    const baseUrl = requireBaseUrl('onekey', optionalString(raw, 'baseUrl') ?? ONEKEY_DEFAULT_BASE_URL, ONEKEY_ENV.baseUrl);
    const settings: OnekeySettings = {
      login: optionalString(raw, 'login')!,
      secretKey: optionalString(raw, 'secretKey')!,
      baseUrl,
      authPrefix: ONEKEY_DEFAULT_AUTH_PREFIX,
    };
    const currency = optionalString(raw, 'currency');
    if (currency !== undefined) {
      if (!isKnownCurrency(currency)) {
        throw new RefundHubError('not_configured', `onekey: ${ONEKEY_ENV.currency} must be an ISO 4217 currency code`, { provider: 'onekey', retryable: false });
      }
      settings.currency = currency.toUpperCase();
    }
    const prefix = optionalString(raw, 'authPrefix');
    if (prefix !== undefined) {
      if (!PREFIX_RE.test(prefix)) {
        throw new RefundHubError('not_configured', `onekey: ${ONEKEY_ENV.authPrefix} must be a single word such as D24 or OKP`, { provider: 'onekey', retryable: false });
      }
      settings.authPrefix = prefix;
    }
    const webhookSecret = optionalString(raw, 'webhookSecret');
    if (webhookSecret !== undefined) settings.webhookSecret = webhookSecret;
    return settings;
  },
  baseUrl(raw) {
    return requireBaseUrl('onekey', optionalString(raw, 'baseUrl') ?? ONEKEY_DEFAULT_BASE_URL, ONEKEY_ENV.baseUrl);
  },
  secretKeys: ['secretKey', 'login'],
};
