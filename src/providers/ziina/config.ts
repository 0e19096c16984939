import type { CommonSettings, ProviderConfigSpec, RawSettings } from '../types.js';
import { optionalString, readEnv, requireBaseUrl, requireSettings } from '../shared.js';

/** Validated settings of one Ziina account. */
export interface ZiinaSettings extends CommonSettings {
  /** OAuth access token or dashboard API key; opaque, sent as `Authorization: Bearer <token>`. */
  token: string;
}

/** The REFUNDHUB_ZIINA_* variables, by settings key. */
export const ZIINA_ENV = {
  token: 'REFUNDHUB_ZIINA_TOKEN',
  baseUrl: 'REFUNDHUB_ZIINA_BASE_URL',
  webhookSecret: 'REFUNDHUB_ZIINA_WEBHOOK_SECRET',
} as const;

/** One host for live and test: test objects are flagged per call (docs.ziina.com/api-reference/refund/create). */
export const ZIINA_DEFAULT_BASE_URL = 'https://api-v2.ziina.com/api';

/** How Ziina accounts are configured: env variables, defaults and which keys are secrets. */
export const ziinaConfig: ProviderConfigSpec<ZiinaSettings> = {
  env: ZIINA_ENV,
  fromEnv: (env) => readEnv(env, ZIINA_ENV),
  isConfigured: (raw) => optionalString(raw, 'token') !== undefined,
  resolve(raw: RawSettings): ZiinaSettings {
    requireSettings('ziina', raw, { token: ZIINA_ENV.token });
    const settings: ZiinaSettings = {
      token: optionalString(raw, 'token')!,
      baseUrl: requireBaseUrl('ziina', optionalString(raw, 'baseUrl') ?? ZIINA_DEFAULT_BASE_URL, ZIINA_ENV.baseUrl),
    };
    const webhookSecret = optionalString(raw, 'webhookSecret');
    if (webhookSecret !== undefined) settings.webhookSecret = webhookSecret;
    return settings;
  },
  baseUrl: (raw) => requireBaseUrl('ziina', optionalString(raw, 'baseUrl') ?? ZIINA_DEFAULT_BASE_URL, ZIINA_ENV.baseUrl),
  secretKeys: ['token', 'webhookSecret'],
};
