import type { ProviderId } from '../domain/refund.js';
import { isProviderId, PROVIDER_IDS } from '../domain/refund.js';
import { RefundHubError } from '../errors.js';
import { gr4vy } from './gr4vy/index.js';
import { onekey } from './onekey/index.js';
import { stan } from './stan/index.js';
import { tazapay } from './tazapay/index.js';
import type { ProviderModule } from './types.js';
import { ziina } from './ziina/index.js';

/** Every provider, by id. The one place a new provider is registered. */
export const PROVIDERS = {
  ziina,
  tazapay,
  gr4vy,
  stan,
  onekey,
} satisfies Record<ProviderId, ProviderModule<any>>;

/**
 * The provider module for a name, case-insensitive. Checked against PROVIDER_IDS before indexing:
 * PROVIDERS is a plain object, so `__proto__` or `constructor` would otherwise find Object's own
 * members and fail later as a bug instead of as bad input.
 */
export function getProvider(id: string): ProviderModule<any> {
  const name = typeof id === 'string' ? id.toLowerCase() : '';
  if (!isProviderId(name)) throw new RefundHubError('invalid_input', `unknown provider "${String(id).slice(0, 64)}" (expected one of: ${PROVIDER_IDS.join(', ')})`);
  return PROVIDERS[name];
}

export function allProviders(): ProviderModule<any>[] {
  return PROVIDER_IDS.map((id) => PROVIDERS[id]);
}
