import type { ProviderId } from '../domain/refund.js';
import { PROVIDER_IDS } from '../domain/refund.js';
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

export function getProvider(id: string): ProviderModule<any> {
  const p = (PROVIDERS as Record<string, ProviderModule<any>>)[id.toLowerCase()];
  if (!p) throw new RefundHubError('invalid_input', `unknown provider "${id}" (expected one of: ${PROVIDER_IDS.join(', ')})`);
  return p;
}

export function allProviders(): ProviderModule<any>[] {
  return PROVIDER_IDS.map((id) => PROVIDERS[id]);
}
