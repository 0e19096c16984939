import { isKnownCurrency } from '../../domain/money.js';
import { RefundHubError } from '../../errors.js';
import { optionalString, readEnv, requireBaseUrl, requireSettings } from '../shared.js';
import type { CommonSettings, ProviderConfigSpec, RawSettings } from '../types.js';

/** Validated settings of one Stan account. */
export interface StanSettings extends CommonSettings {
  /** API client id (LIVE or TEST mode is chosen by which client's credentials are used). */
  clientId: string;
  clientSecret: string;
  /** ISO 4217 code the account's amounts are in: Stan's refund object has no currency field. */
  currency: string;
}

/** Seed document's server URL; the connector appends `/v1/refunds/{id}`. */
export const STAN_DEFAULT_BASE_URL = 'https://api.stan-app.fr';
export const STAN_DEFAULT_CURRENCY = 'EUR';

export const STAN_ENV = {
  clientId: 'REFUNDHUB_STAN_CLIENT_ID',
  clientSecret: 'REFUNDHUB_STAN_CLIENT_SECRET',
  baseUrl: 'REFUNDHUB_STAN_BASE_URL',
  currency: 'REFUNDHUB_STAN_CURRENCY',
} as const;

/** Configuration of Stan accounts: REFUNDHUB_STAN_* variables or a config file's `accounts.stan`. */
export const stanConfig: ProviderConfigSpec<StanSettings> = {
  env: STAN_ENV,

  fromEnv: (env) => readEnv(env, STAN_ENV),

  isConfigured: (raw) => optionalString(raw, 'clientId') !== undefined && optionalString(raw, 'clientSecret') !== undefined,

  resolve(raw: RawSettings): StanSettings {
    requireSettings('stan', raw, { clientId: STAN_ENV.clientId, clientSecret: STAN_ENV.clientSecret });
    const clientId = optionalString(raw, 'clientId')!;
    const clientSecret = optionalString(raw, 'clientSecret')!;
    // HTTP Basic (RFC 7617) cannot carry a colon in the user part; it would shift the secret.
    if (clientId.includes(':')) {
      throw new RefundHubError('not_configured', `stan: ${STAN_ENV.clientId} must not contain ":"`, { provider: 'stan', retryable: false });
    }
    const currency = (optionalString(raw, 'currency') ?? STAN_DEFAULT_CURRENCY).toUpperCase();
    if (!isKnownCurrency(currency)) {
      throw new RefundHubError('not_configured', `stan: ${STAN_ENV.currency} must be an ISO 4217 currency code`, { provider: 'stan', retryable: false });
    }
    const baseUrl = requireBaseUrl('stan', optionalString(raw, 'baseUrl') ?? STAN_DEFAULT_BASE_URL, STAN_ENV.baseUrl);
    return { clientId, clientSecret, baseUrl, currency };
  },

  baseUrl: (raw) => (optionalString(raw, 'baseUrl') ?? STAN_DEFAULT_BASE_URL).replace(/\/+$/, ''),

  secretKeys: ['clientSecret'],
};
