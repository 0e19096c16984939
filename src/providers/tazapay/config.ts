import type { CommonSettings, ProviderConfigSpec, RawSettings } from '../types.js';
import { optionalString, readEnv, requireBaseUrl, requireSettings } from '../shared.js';

/** Validated settings of one Tazapay account. */
export interface TazapaySettings extends CommonSettings {
  /** The API key, the user part of HTTP Basic auth. */
  apiKey: string;
  /** The API secret, the password part of HTTP Basic auth. */
  apiSecret: string;
  /** Server URL without `/v3` (the connector appends `/v3/refund/{id}`), e.g. the sandbox host. */
  baseUrl: string;
  /** The dashboard's webhook "secret token", used to verify the `signature` header. */
  webhookSecret?: string;
}

/** Sandbox host; the seed document's server URL (providers.md: production is service.tazapay.com). */
export const TAZAPAY_DEFAULT_BASE_URL = 'https://service-sandbox.tazapay.com';

/** Settings key -> environment variable (issue 2, and issue 3 for the webhook secret). */
export const TAZAPAY_ENV = {
  apiKey: 'REFUNDHUB_TAZAPAY_API_KEY',
  apiSecret: 'REFUNDHUB_TAZAPAY_API_SECRET',
  baseUrl: 'REFUNDHUB_TAZAPAY_BASE_URL',
  webhookSecret: 'REFUNDHUB_TAZAPAY_WEBHOOK_SECRET',
} as const;

const REQUIRED = { apiKey: TAZAPAY_ENV.apiKey, apiSecret: TAZAPAY_ENV.apiSecret };

/** How a Tazapay account is read from the environment or a config file and validated. */
export const tazapayConfig: ProviderConfigSpec<TazapaySettings> = {
  env: TAZAPAY_ENV,
  fromEnv: (env) => readEnv(env, TAZAPAY_ENV),
  isConfigured: (raw: RawSettings) => optionalString(raw, 'apiKey') !== undefined && optionalString(raw, 'apiSecret') !== undefined,
  resolve(raw) {
    requireSettings('tazapay', raw, REQUIRED);
    const settings: TazapaySettings = {
      apiKey: optionalString(raw, 'apiKey')!,
      apiSecret: optionalString(raw, 'apiSecret')!,
      baseUrl: requireBaseUrl('tazapay', optionalString(raw, 'baseUrl') ?? TAZAPAY_DEFAULT_BASE_URL, TAZAPAY_ENV.baseUrl),
    };
    const webhookSecret = optionalString(raw, 'webhookSecret');
    if (webhookSecret !== undefined) settings.webhookSecret = webhookSecret;
    return settings;
  },
  baseUrl: (raw) => requireBaseUrl('tazapay', optionalString(raw, 'baseUrl') ?? TAZAPAY_DEFAULT_BASE_URL, TAZAPAY_ENV.baseUrl),
  // The key alone cannot authenticate, but it identifies the merchant: mask it too.
  secretKeys: ['apiKey', 'apiSecret', 'webhookSecret'],
};
